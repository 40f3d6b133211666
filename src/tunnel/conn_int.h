#ifndef PN_TUNNEL_CONN_INT_H
#define PN_TUNNEL_CONN_INT_H
/* Internals shared by conn.c (QUIC/TLS, I/O) and conn_stream.c (stream
 * buffers, datagram queue). */
#include <stddef.h>
#include <stdint.h>

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "core/bufq.h"
#include "tunnel/conn.h"
#include "tunnel/flowproto.h"
#include "tunnel/pmtu.h"

#define DEF_SNDBUF (4u << 20)
#define DEF_WINDOW (4u << 20)
#define DEF_CONN_WINDOW (16u << 20)
#define DEF_MAX_STREAMS (65536 + 1) /* PN_TEP_MAX_FLOWS_DEFAULT + the control stream */
#define DEF_IDLE_MS 30000
#define MAX_PKTS_PER_WRITE 64 /* packets per pn_tconn_write before yielding */
#define PENDING_MAX PN_PATH_MAX_UDP_PAYLOAD
#define STREAM_UNSENT_MAX PN_TCONN_STREAM_UNSENT_MAX
#define CONN_UNSENT_MAX PN_TCONN_UNSENT_MAX
#define WAKE_QUANTUM (64u << 10) /* room counted per writer woken */
#define PACING_EARLY_NS 1000000ull /* ngtcp2 0.12 sends this early (NGTCP2_PKT_PACING_OVERHEAD) */

/* A stream this side knows: send buffer + scheduling links. */
struct tstream {
	int64_t sid;
	void *user;
	/* bytes from `acked` to `written`, in chunks allocated as written and
	   freed as acknowledged (ngtcp2 points into it until then) */
	struct pn_bufq q;
	size_t cap; /* unacknowledged bytes at most */
	uint64_t acked, sent, written; /* stream offsets */
	int fin_wanted, fin_sent, blocked, in_queue, was_full, in_wait;
	struct tstream *next_q; /* send queue */
	struct tstream *next_all, **pprev_all;
	struct tstream *hnext;		      /* sid hash chain */
	struct tstream *next_wait, *prev_wait; /* waiting for unsent room */
};

struct dgram {
	uint16_t len;
	uint8_t data[PN_FLOW_DGRAM_HDR_LEN + PN_FLOW_DGRAM_PAYLOAD_MAX];
};

struct pn_tconn {
	struct pn_tconn_config cfg;
	ngtcp2_crypto_conn_ref ref;
	ngtcp2_conn *q;
	gnutls_session_t tls;
	struct pn_path *path0;
	ngtcp2_connection_close_error lasterr;
	int closed, hs_done, verify_err, close_reason;
	struct pn_cred_info peer;
	/* our refusal of the peer's credential, for logs and the close */
	uint64_t verify_now;	  /* our unix clock at the check */
	int have_seen;		  /* `seen` is set (signed by our CA, time/type wrong) */
	struct pn_cred_info seen; /* what the refused certificate says */
	char close_text[64];	  /* reason phrase of our transport close */
	/* send scheduling */
	struct tstream *q_head, *q_tail, *all;
	/* streams by sid (chained hash, power-of-two buckets) */
	struct tstream **stab;
	size_t stab_size, nstreams;
	/* bytes written but not yet sent, all streams: bounded (backpressure
	   to the writers instead of queueing); writers refused for it wait
	   here, first come first woken */
	size_t unsent;
	struct tstream *wait_head, *wait_tail;
	/* datagram queue (ring) */
	struct dgram *dq;
	size_t dq_head, dq_count;
	uint64_t dgram_drops;
	/* a packet that did not fit the last GSO batch */
	uint8_t pending[PENDING_MAX];
	size_t pending_len;
	struct pn_path *pending_path;
	uint64_t pkts_tx, pkts_rx, bytes_tx, bytes_rx;
	uint64_t auth_rx;		  /* last authenticated packet (pn_tconn_auth_rx) */
	const struct pn_path *auth_rx_path; /* ... and the path it came on */
	uint64_t now;			    /* the clock of the call being handled */
	/* Path MTU (conn_pmtu.c): the current path's, searched on each new path */
	struct pn_pmtu pmtu;
	const struct pn_path *pmtu_path;
	uint64_t pmtu_recovery; /* ngtcp2's last congestion event seen */
	size_t pmtu_pto;	/* ... and PTO count */
	unsigned pmtu_miss;
};

/* TLS alerts (RFC 8446 6.2) about the peer's certificate. */
#define PN_TLS_ALERT_BAD_CERT 42
#define PN_TLS_ALERT_UNSUPPORTED_CERT 43
#define PN_TLS_ALERT_CERT_REVOKED 44
#define PN_TLS_ALERT_CERT_EXPIRED 45 /* "expired or not currently valid" */
#define PN_TLS_ALERT_CERT_UNKNOWN 46
#define PN_TLS_ALERT_UNKNOWN_CA 48
#define PN_TLS_ALERT_CERT_REQUIRED 116

/* conn.c */
int pn_tconn_i_map_liberr(int rv);
/* conn_refuse.c: our refusal's alert (fills c->close_text); is this a
 * certificate alert (the peer refused our credential)? */
uint8_t pn_tconn_i_refusal_alert(struct pn_tconn *c, int err);
int pn_tconn_i_is_cert_alert(uint8_t alert);
/* conn_stream.c */
struct tstream *pn_tconn_i_stream_get(struct pn_tconn *c, int64_t sid);
struct tstream *pn_tconn_i_stream_new(struct pn_tconn *c, int64_t sid, void *user);
void pn_tconn_i_queue_remove(struct pn_tconn *c, struct tstream *s);
void pn_tconn_i_queue_add(struct pn_tconn *c, struct tstream *s);
void pn_tconn_i_stream_free(struct pn_tconn *c, struct tstream *s);
int pn_tconn_i_stream_has_work(const struct tstream *s);
/* after transmission: bytes left the queue (sent), wake waiting writers */
void pn_tconn_i_sent(struct pn_tconn *c, struct tstream *s, size_t n);
void pn_tconn_i_wake_writers(struct pn_tconn *c);
/* the stream's bytes up to off were acknowledged */
void pn_tconn_i_acked(struct pn_tconn *c, struct tstream *s, uint64_t off);
/* conn.c */
int pn_tconn_i_fail(struct pn_tconn *c, int rv);
ngtcp2_conn *pn_tconn_i_get_conn(ngtcp2_crypto_conn_ref *ref);

/* conn_pmtu.c: the packet size for this write (and loss signals read);
 * write a probe if one is due (0: none/limited, else as ngtcp2's write) */
size_t pn_tconn_i_pmtu_begin(struct pn_tconn *c, uint64_t now);
ngtcp2_ssize pn_tconn_i_pmtu_probe(struct pn_tconn *c, ngtcp2_path *path, uint8_t *dst,
				   uint64_t now);
int pn_tconn_i_ack_dgram_cb(ngtcp2_conn *q, uint64_t id, void *ud);
int pn_tconn_i_lost_dgram_cb(ngtcp2_conn *q, uint64_t id, void *ud);
int pn_tconn_i_is_probe(const uint8_t *data, size_t len);
uint64_t pn_tconn_i_pmtu_expiry(const struct pn_tconn *c);
void pn_tconn_i_pmtu_timeout(struct pn_tconn *c, uint64_t now);

/* conn_tls.c */
int pn_tconn_i_tls_setup(struct pn_tconn *c);

#endif
