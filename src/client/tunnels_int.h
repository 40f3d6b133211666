#ifndef PN_CLIENT_TUNNELS_INT_H
#define PN_CLIENT_TUNNELS_INT_H
/* Inside the client's tunnels (tunnels.h): the per-connector state shared
 * by tunnels.c (requests, tunnels, failover) and tunnels_relay.c (relay
 * sessions the tunnels run on).  Loop thread only. */
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "client/pick.h"
#include "client/tunnels.h"
#include "core/metrics.h"
#include "relay/rclient.h"
#include "trust/cred.h"

#define MAX_RELAYS 16

/* One connector: its relay session and tunnel (at most one each). */
struct ctun {
	struct pn_ctuns *owner;
	uint8_t id[PN_ID_LEN];
	char idhex[PN_ID_HEX_LEN + 1];
	enum pn_pick_state state;
	unsigned nfail;
	uint64_t retry_at_ms;
	struct pn_rsession *sess;
	struct pn_tunnel *tun;
	struct sockaddr_storage direct; /* ss_family 0: none, use a relay */
	struct pn_creq *waiting;	/* FIFO of requests waiting for the tunnel */
	unsigned nwaiting;
	uint64_t flows_total;
	uint64_t bytes_tx_gone, bytes_rx_gone; /* of this connector's earlier tunnels */
	int last_err;
	struct ctun *next;
};

struct pn_ctuns {
	uv_loop_t *loop;
	const struct pn_key *key;
	struct pn_tep *tep;
	struct pn_rclient *rc;
	struct pn_rrelay *relays[MAX_RELAYS];
	unsigned nrelays, transports;
	unsigned max_flows; /* per tunnel (the endpoint's) */
	uint32_t salt;
	struct pn_acl acl;
	uint8_t *acl_bytes;
	size_t acl_len;
	struct ctun *tuns;
	struct pn_metrics_reasons failures; /* tunnel failures by error name */
	uv_timer_t wake; /* retries requests waiting out a backoff */
	/* close */
	int closing, pending_closes;
	void (*close_cb)(void *);
	void *close_arg;
};

/* tunnels.c */
void ctun_bank(struct ctun *c, const struct pn_tunnel *tun);
void ctun_mark_failed(struct ctun *c, int err);
void ctun_redispatch(struct ctun *c);
void ctun_fail(struct ctun *c, int err);
void ctun_tunnel_start(struct ctun *c, struct pn_rsession *s);

/* tunnels_relay.c */
struct pn_rrelay *ctun_relay_choose(struct pn_ctuns *t);
extern const struct pn_rclient_ops ctun_rclient_ops;
#endif
