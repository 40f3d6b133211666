#ifndef PN_TUNNEL_SESSION_INT_H
#define PN_TUNNEL_SESSION_INT_H
/* Internals shared by session.c (tunnel, control stream, QUIC callbacks)
 * and flow.c (flow state machine and the pn_flow_* calls). */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "tunnel/session.h"

#define CTL_SID 0 /* the client's first bidirectional stream */
/* Server: the client's access list must arrive this soon after the handshake. */
#define ACL_DEADLINE_NS (10ull * 1000000000ull)

enum flow_state {
	F_CL_QUEUED = 1, /* client: waiting for a stream */
	F_CL_STATUS,     /* client: header sent, waiting for the status */
	F_OPEN,          /* both: bytes flow */
	F_SV_HDR,        /* server: reading the open header */
	F_SV_WAIT_ACL,   /* server: header read, ACL not accepted yet */
	F_SV_REQUESTED,  /* server: glue is deciding */
	F_DONE,          /* answered/closed locally; waiting for the stream to go */
};

struct pn_flow {
	struct pn_tunnel *t;
	int64_t sid;
	enum flow_state st;
	struct pn_flow_hdr hdr;
	const struct pn_flow_ops *ops;
	void *user;
	int glue_gone;       /* no more callbacks */
	int raw;             /* test hook: header bytes given verbatim */
	uint8_t *raw_hdr;
	size_t raw_len;
	int want_writable;
	int fin_rx, shut_wr;
	uint8_t msg[PN_FLOW_HDR_MAX]; /* header (server) / status (client) bytes */
	size_t msg_len;
	struct pn_buf early; /* server: bytes after the header, before OK */
	int early_init, early_fin;
	uint64_t tx, rx, rx_unconsumed;
	struct pn_flow *next, **pprev;
	struct pn_flow *next_q; /* client open queue */
};

struct pn_tunnel {
	struct pn_tunnel_params p;
	struct pn_tconn *c;
	uint64_t now;
	enum pn_tunnel_state state;
	int dead, end_reason, peer_code, acl_ok, ctl_open, glue_closed;
	void *tuser; /* server: per-tunnel glue pointer */
	char end_text[PN_FLOW_TEXT_MAX + 1];
	uint8_t *acl; /* client: copy to send */
	size_t acl_len;
	struct pn_buf ctl_rx;
	int ctl_rx_init;
	struct pn_flow *flows;
	struct pn_flow *q_head, *q_tail; /* client: flows waiting for a stream */
	unsigned nflows;
	uint64_t dgram_unknown;
	uint8_t close_pkt[PN_PATH_MAX_UDP_PAYLOAD];
	struct pn_tconn_tx close_tx;
	int close_pending;
	/* Inside a pn_tconn call (its callbacks run in ngtcp2): a close is
	 * only noted there and written once the call has returned, since
	 * ngtcp2 cannot write a CONNECTION_CLOSE from inside read_pkt (it
	 * asserts in the handshake_completed callback). */
	int in_conn, close_deferred;
	int in_hs_cb; /* inside the handshake-completed callback */
	uint64_t close_app_err;
	char close_text[PN_FLOW_TEXT_MAX + 1];
	enum pn_path_kind path_kind;
	uint64_t acl_deadline; /* server: 0 = none */
	/* Credential re-presentation (session_cred.c).  Server: the client
	 * credential the tunnel lives under (handshake's or last adopted) and
	 * the monotonic time of its next expiry check (0: none).  Client: the
	 * renewed credential (DER) to present once the control stream opens. */
	struct pn_cred_info cred;
	uint64_t cred_check_at;
	uint8_t *cred_der;
	size_t cred_der_len;
	int cred_unsent;
	/* Client: answers owed on the control stream, oldest first (bit i of
	 * ctl_q: 1 = a CRED, 0 = an ACL); the connector answers in order. */
	uint64_t ctl_q;
	unsigned ctl_qn;
};

#define CTL_Q_MAX 64 /* requests in flight on the control stream */

/* flow.c */
void pn_tsess_want_write(struct pn_tunnel *t);
int pn_tsess_app_code(uint64_t app_err);
void pn_tsess_flow_link(struct pn_tunnel *t, struct pn_flow *f);
void pn_tsess_flow_release(struct pn_flow *f);
struct pn_flow *pn_tsess_flow_by_id(struct pn_tunnel *t, uint64_t id);
void pn_tsess_flow_notify_closed(struct pn_flow *f, int code);
void pn_tsess_client_open_queued(struct pn_tunnel *t);
unsigned pn_tsess_max_flows(const struct pn_tunnel *t);
int pn_tsess_client_flow_data(struct pn_flow *f, const uint8_t *p, size_t n, int fin);
int pn_tsess_server_flow_data(struct pn_flow *f, const uint8_t *p, size_t n, int fin);
void pn_tsess_server_dispatch(struct pn_flow *f);
/* session_cred.c */
void pn_tsess_cred_start(struct pn_tunnel *t, const struct pn_cred_info *peer);
int pn_tsess_cred_due(struct pn_tunnel *t, uint64_t now);
void pn_tsess_server_cred(struct pn_tunnel *t, const uint8_t *body, size_t len);
int pn_tsess_ctl_push(struct pn_tunnel *t, int is_cred);
int pn_tsess_ctl_pop(struct pn_tunnel *t);
int pn_tsess_client_write_cred(struct pn_tunnel *t);
void pn_tsess_cred_free(struct pn_tunnel *t);
#endif
