#ifndef PN_TUNNEL_SESSION_H
#define PN_TUNNEL_SESSION_H
/*
 * The flow layer over one QUIC connection (struct pn_tunnel), sans-I/O:
 * the control stream (client access list first), flow open headers and
 * status replies, early-data holding, DATAGRAM demux by flow id, and the
 * pn_flow_* / pn_tunnel_* calls of tunnel/endpoint.h.  A driver (the libuv
 * endpoint, or a unit test with a virtual clock) moves packets:
 *
 *   pn_tunnel_input()  — a datagram arrived on a path
 *   pn_tunnel_output() — next batch to send (loop until tx.len == 0)
 *   pn_tunnel_expiry() / pn_tunnel_timeout() — timers
 *
 * and implements the driver hooks.  When the tunnel ends (either side, any
 * reason) the driver's `dead` hook is called once; the driver then sends
 * what pn_tunnel_output() still returns (the CONNECTION_CLOSE) and frees
 * the tunnel with pn_tunnel_free() from its own context (never from inside
 * a callback).
 */
#include <stdint.h>

#include "tunnel/conn.h"
#include "tunnel/endpoint.h"

struct pn_tunnel_driver {
	/* Something is queued: call pn_tunnel_output() soon (e.g. before the
	 * loop next polls).  Must not call back into the tunnel. */
	void (*want_write)(struct pn_tunnel *t, void *drv);
	/* The tunnel ended; flush its final packet and free it later. */
	void (*dead)(struct pn_tunnel *t, void *drv);
	/* Optional: a control message for the driver (PN_CTL_CANDIDATES)
	 * arrived; body valid during the call.  May call pn_tunnel_send_ctl. */
	void (*ctl)(struct pn_tunnel *t, void *drv, uint8_t type, const uint8_t *body, size_t len);
};

struct pn_tunnel_params {
	struct pn_tconn_config conn; /* role, credentials, windows; cbs/user are set here */
	const struct pn_tunnel_driver *drv;
	void *drv_ctx;
	/* client */
	const struct pn_tunnel_ops *ops;
	void *user;
	const uint8_t *acl;
	size_t acl_len;
	/* server */
	const struct pn_tep_server_ops *server_ops;
	void *server_user;
	unsigned max_flows;
	enum pn_path_kind path_kind;
};

int pn_tunnel_new_client(const struct pn_tunnel_params *p, struct pn_path *path, uint64_t now,
			 struct pn_tunnel **out);
int pn_tunnel_new_server(const struct pn_tunnel_params *p, struct pn_path *path,
			 const uint8_t *pkt, size_t len, uint64_t now, struct pn_tunnel **out);
/* Free (no callbacks).  NULL-safe. */
void pn_tunnel_free(struct pn_tunnel *t);

int pn_tunnel_input(struct pn_tunnel *t, struct pn_path *path, const uint8_t *pkt, size_t len,
		    uint64_t now);
int pn_tunnel_output(struct pn_tunnel *t, uint64_t now, struct pn_tconn_tx *tx);
uint64_t pn_tunnel_expiry(const struct pn_tunnel *t);
void pn_tunnel_timeout(struct pn_tunnel *t, uint64_t now);

/* The path the tunnel runs on is gone and it has no other: end it as if
 * the peer had gone (reason PN_E_TUN_NO_PATH; flows get ops.closed with
 * PN_FLOW_RESET, then the glue's tunnel_closed / state callback). */
void pn_tunnel_path_lost(struct pn_tunnel *t);
/* Send a control message of the driver's (PN_CTL_CANDIDATES) on the
 * control stream, either side, once the tunnel is up.  0, PN_E_INVAL (not
 * up yet), PN_E_CLOSED, -EAGAIN (control stream full). */
int pn_tunnel_send_ctl(struct pn_tunnel *t, uint8_t type, const uint8_t *body, size_t len);
struct pn_tconn *pn_tunnel_conn(const struct pn_tunnel *t);
int pn_tunnel_is_dead(const struct pn_tunnel *t);
/* The current "now" the driver last gave (monotonic ns). */
void pn_tunnel_set_now(struct pn_tunnel *t, uint64_t now);
void pn_tunnel_set_path_kind(struct pn_tunnel *t, enum pn_path_kind k);
/* The ids of the tunnel's open flows (for logs): up to max into ids; the
 * number of flows is returned. */
size_t pn_tunnel_flow_ids(const struct pn_tunnel *t, uint64_t *ids, size_t max);
void *pn_tunnel_drv_ctx(const struct pn_tunnel *t);

/* Test hook (negative tests): open a flow whose header bytes are sent
 * verbatim instead of encoded.  Only valid before the tunnel is up (the
 * flow must still be queued).  Status/closed as for pn_flow_open. */
int pn_flow_open_raw(struct pn_tunnel *t, const uint8_t *hdr, size_t len, uint64_t flow_id,
		     const struct pn_flow_ops *ops, void *user, struct pn_flow **out);
#endif
