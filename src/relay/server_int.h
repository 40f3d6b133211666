#ifndef PN_RELAY_SERVER_INT_H
#define PN_RELAY_SERVER_INT_H
/* Internals of the relay daemon (relay/server.h), shared by server.c
 * (streams, admission, lifecycle) and server_udp.c (the UDP data path). */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include <gnutls/gnutls.h>

#include "core/udp.h"
#include "relay/admit.h"
#include "relay/core.h"
#include "relay/server.h"
#include "relay/stream.h"
#include "trust/cred.h"

#define CONN_OF(e) ((struct conn *)((char *)(e)-offsetof(struct conn, adm)))
#define SWEEP_MS   2000
#define OWN_REFRESH_SWEEPS 15 /* own addresses re-read every 30 s */
#define SLOT_SMALL 2048 /* receive slot without GRO */
#define MAX_SEND   (PN_RELAY_BATCH * 4)

struct conn {
	struct pn_relay_server *srv;
	struct pn_rstream *s;
	struct pn_relay_peer *peer; /* after authentication */
	struct pn_admit_entry adm;  /* admission: pending list */
	struct conn *next, *prev;
	struct pn_cred_info info;
};

/* One outgoing UDP message: several equal segments to one address with GSO. */
/*
 * One outgoing UDP message: equal-size datagrams to one address, sent as
 * one GSO message (segments gathered from several receive slots).
 */
/* Distinct buffers per message; contiguous ones share one.  A stream's
 * DATA takes two (the type byte, then sid and payload in the plaintext). */
#define OUT_IOV 64
struct out {
	struct pn_relay_addr dst;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct iovec iov[OUT_IOV];
	unsigned niov, nseg;
	size_t len, seg;
	int closed; /* a short segment (or a reply) ended it */
};
#define GSO_LOOKBACK 8

struct pn_relay_server {
	uv_loop_t *loop;
	struct pn_relay_server_config cfg;
	struct pn_relay_core *core;
	struct pn_relay_peerfilter filter; /* denied peer addresses (the core reads it) */
	unsigned sweeps;
	gnutls_certificate_credentials_t cred;
	uv_tcp_t tcp;
	uv_poll_t poll;
	int udp_fd, gro, gso, handles;
	uv_timer_t sweep, stats;
	uv_signal_t sigusr1;
	struct conn *conns;
	struct pn_admit adm; /* admission caps */
	uint8_t rxbuf[PN_RSTREAM_RXBUF], plainbuf[PN_RSTREAM_RXBUF];
	struct pn_rstream_config scfg;
	struct pn_rstream_stats sst; /* all streams: TLS records, writes */
	uint64_t now_ms;
	/* UDP batch state */
	struct pn_udp_rx rx;
	struct out out[MAX_SEND];
	unsigned nout;
	uint8_t replies[MAX_SEND][PN_RELAY_REPLY_MAX];
	unsigned nreplies;
	struct mmsghdr smsg[MAX_SEND];
	uint8_t sctl[MAX_SEND][PN_UDP_SEG_CTL];
	/* glue counters */
	uint64_t tx_pkts, tx_bytes, tx_drops, refused_auth, gso_sends;
	void (*close_cb)(void *);
	void *close_arg;
	int closing;
	/* Credentials replaced by a renewal: live TLS sessions still use them. */
	struct retired {
		struct retired *next;
		gnutls_certificate_credentials_t cred;
	} * retired;
};

/* server.c */
int srv_op_send_data(void *c, const uint8_t *hdr, size_t hn, const uint8_t *p, size_t n,
			void *user);

/* server_udp.c */
void srv_on_udp(uv_poll_t *h, int status, int events);
int srv_queue_udp(struct pn_relay_server *srv, const struct pn_relay_addr *to,
		  const struct iovec *iov, unsigned niov);
void srv_udp_flush(struct pn_relay_server *srv);
int srv_udp_open(struct pn_relay_server *srv, const struct sockaddr_storage *ss);

#endif
