#ifndef PN_RELAY_RCLIENT_INT_H
#define PN_RELAY_RCLIENT_INT_H
/* Internals of the relay client (relay/rclient.h), shared by its files:
 * rclient.c (credential, relay connections and control streams, timers,
 * close), rsession.c (the session table), rclient_udp.c (the UDP data
 * socket), rpath.c (sessions as paths).  Not for use outside src/relay. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include <gnutls/gnutls.h>

#include "core/udp.h"
#include "ctlapi/relays.h"
#include "relay/idmap.h"
#include "relay/rclient.h"
#include "relay/resolve.h"
#include "relay/stream.h"
#include "trust/cred.h"
#include "trust/key.h"

#define TICK_MS		250
#define BIND_RETRY_MS	300
#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	15000
#define OPEN_TIMEOUT_MS (2 * PN_RELAY_HANDSHAKE_MS)
#define UDP_BATCH	16
#define TXQ		64	    /* queued UDP datagrams per relay */
#define RX_SLOT		(64 * 1024) /* one receive slot (UDP GRO may fill it) */

enum sess_state { SS_PENDING, SS_OPENING, SS_READY, SS_DEAD /* inside its last callback */ };

struct pn_rsession {
	uint8_t sid[PN_RELAY_SID_LEN]; /* idmap key */
	struct pn_rrelay *r;
	struct pn_rsession *next, *prev; /* r->pending (before OPENED) */
	enum sess_state st;
	uint32_t tag;
	uint8_t peer_id[PN_RELAY_ID_LEN];
	uint8_t secret[PN_RELAY_SECRET_LEN];
	uint8_t *acl;
	size_t acl_len;
	uint64_t deadline;     /* OPEN timeout */
	uint64_t bind_counter; /* last BIND sent */
	uint64_t next_bind;    /* when to send the next BIND */
	uint64_t last_bind_ok; /* 0: never */
	uint32_t bind_tries;
	int udp; /* datagrams go over UDP */
	void *user;
	struct pn_rpath *path; /* relay/rpath.h, once asked for */
};

struct pn_rrelay {
	struct pn_rclient *rc;
	struct pn_rrelay *next;
	char name[64];
	unsigned allowed;
	int has_tls, has_udp, has_ws;
	struct sockaddr_storage tls_ss, udp_ss, ws_ss; /* numeric endpoints */
	struct pn_relay_endpoint tls_ep, udp_ep, ws_ep;
	/* Names are resolved per connection attempt (control) or once (UDP);
	 * the control stream tries each address of the answer in turn. */
	struct pn_resolve res, ures;
	struct sockaddr_storage cand[PN_RESOLVE_MAX];
	size_t ncand, icand;
	int ws_secure; /* wss://: TLS to the proxy, ws_name its verified host */
	char ws_host[PN_RELAY_ADDR_MAX + 1], ws_path[PN_RELAY_PATH_MAX + 1];
	char ws_name[PN_RELAY_HOST_MAX + 1];
	enum pn_rrelay_state st;
	struct pn_rstream *s;
	gnutls_certificate_credentials_t s_cred; /* the credential s connected with */
	uint8_t s_fpr[PN_FPR_LEN];		 /* and its key */
	int s_is_ws;
	int attempt; /* 0: direct TLS, 1: WebSocket */
	uint64_t retry_at, backoff;
	uint64_t last_ping, ping_sent;
	unsigned rtt;
	int udp_fd;
	uv_poll_t poll;
	uv_timer_t timer;
	struct pn_idmap sessions; /* sid -> session, opened ones */
	struct pn_rsession *pending;
	uint32_t next_tag;
	int registered;
	int refused; /* the relay refused our credential: back off, report it */
	/* UDP send queue, flushed once per loop iteration with sendmmsg + GSO. */
	uv_idle_t prep; /* idle, not prepare: see stream.c flush_cb */
	unsigned ntx;
	uint16_t txlen[TXQ];
	uint8_t txbuf[TXQ][PN_RELAY_MAX_DATAGRAM];
	int gso, gro;
	/* As configured, to tell a relay list's entries apart (rclient_list.c). */
	char udp_spec[PN_RELAY_ADDR_MAX + 1], tls_spec[PN_RELAY_ADDR_MAX + 1];
	char ws_spec[PN_RELAY_URL_MAX + 1];
	/* Removed (pn_rclient_remove_relay): on rc->gone, freed when `busy`
	 * (its handles, resolutions and stream still closing) reaches 0. */
	int retiring;
	unsigned busy;
};

struct pn_rclient {
	uv_loop_t *loop;
	enum pn_rclient_mode mode;
	const struct pn_rclient_ops *ops;
	void *user;
	struct pn_anchor *anchor;
	struct pn_key *key;
	char *cert_pem;
	uint8_t key_fpr[PN_FPR_LEN]; /* of cert_pem's key */
	uint8_t *cert_der;	     /* cert_pem as DER, for RENEW */
	size_t cert_der_len;
	gnutls_certificate_credentials_t cred;
	char *wss_ca_file;				   /* NULL: the system's trust store */
	gnutls_certificate_credentials_t wss_cred; /* made for the first wss:// relay */
	struct pn_rrelay *relays;
	struct pn_rrelay *gone; /* removed relays still closing */
	struct pn_rclient_stats st;
	int closing, handles;
	struct retired {
		struct retired *next;
		gnutls_certificate_credentials_t cred;
	} * retired;
	void (*close_cb)(void *);
	void *close_arg;
	uint8_t rxbuf[PN_RSTREAM_RXBUF], plainbuf[PN_RSTREAM_RXBUF];
	struct pn_udp_rx urx; /* UDP receive batch, shared by the relays */
};

struct pn_rpath;

/* rclient.c */
void rc_maybe_finish_close(struct pn_rclient *rc);
/* A name resolution of r ended: 1 if rc is closing or r removed (the
 * caller returns: r may be gone). */
int rc_resolve_done(struct pn_rrelay *r);

/* rclient_list.c: one of a removed relay's handles, resolutions or its
 * stream has finished closing; frees r after the last. */
void rc_retire_put(struct pn_rrelay *r);
void rc_send_msg(struct pn_rrelay *r, const struct pn_relay_msg *m);

/* rsession.c */
void rc_deliver(struct pn_rsession *s, const uint8_t *p, size_t n);
enum pn_relay_side rc_my_side(const struct pn_rclient *rc);
int rc_on_opened(struct pn_rrelay *r, struct pn_relay_msg *m, uint64_t now);
int rc_on_session(struct pn_rrelay *r, struct pn_relay_msg *m, uint64_t now);
void rc_open_fail(struct pn_rsession *s, int reason);
struct pn_rsession *rc_pending_by_tag(struct pn_rrelay *r, uint32_t tag);
void rc_send_bind(struct pn_rsession *s, uint64_t now);
void rc_send_open(struct pn_rsession *s);
void rc_session_end(struct pn_rsession *s, int reason, int notify);
void rc_session_free(struct pn_rsession *s);
void rc_session_ready(struct pn_rsession *s, uint64_t now);

/* rclient_udp.c */
void rc_on_flush_idle(uv_idle_t *h);
void rc_on_udp_resolved(struct pn_resolve *rs, int status, void *arg);
void rc_udp_flush(struct pn_rrelay *r);
void rc_udp_start(struct pn_rrelay *r);


/* 1 if s is ready (opened and not ending). */
int pn_rsession_ready(const struct pn_rsession *s);

/* rpath.c: a datagram for s->path (returns 0 if no user is attached: the
 * rclient's ops.datagram gets it), and the session's end. */
int pn_rpath_input(struct pn_rpath *rp, const uint8_t *p, size_t n);
void pn_rpath_gone(struct pn_rpath *rp, int err);
#endif
