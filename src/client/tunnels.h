#ifndef PN_CLIENT_TUNNELS_H
#define PN_CLIENT_TUNNELS_H
/*
 * The client's tunnels: one QUIC tunnel per connector, reused by every
 * flow to that connector, reached through a relay session (relay/rclient.h)
 * and driven by the tunnel endpoint (tunnel/endpoint.h).
 *
 * A flow request names a protocol, a destination (name or address, as the
 * application gave it) and a port.  pn_ctuns_request():
 *   1. looks the destination up in the client's access list: not granted
 *      -> PN_E_NOT_GRANTED, refused locally (the connector checks again);
 *   2. takes the remote network of the matching resource and the connector
 *      ids the list names for it, and picks one (client/pick.h);
 *   3. opens the flow on that connector's tunnel, starting the relay
 *      session and the tunnel first if there is none (the request waits).
 *      A tunnel that carries as many flows as it may (its max_flows, or
 *      the connector's lower limit) is full: the flow goes to another
 *      connector of the network, and is refused (PN_E_TUN_LIMIT) only
 *      when every one is full.
 * When a tunnel is lost (relay session closed because the connector died,
 * handshake failure, idle timeout), its open flows end with PN_FLOW_RESET
 * through their ops.closed, the connector goes into backoff, and requests
 * that were waiting for it are re-dispatched to another connector of the
 * network (failover), or fail with PN_E_NO_CONNECTOR.
 *
 * Everything runs on the loop thread.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "ctlapi/relays.h"
#include "trust/acl.h"
#include "tunnel/endpoint.h"

struct pn_ctuns;
struct pn_anchor;
struct pn_key;
struct pn_rrelay;

/*
 * A flow request; caller-owned memory (embed it).  Fill proto, host, port,
 * kind, ops, user and the two callbacks; the rest is private.
 */
struct pn_creq {
	/* PN_PROTO_TCP, PN_PROTO_UDP or PN_PROTO_ICMP (trust/acl.h; ICMP: port
	 * 0); 0: a DNS_MSG flow (records of a name: granted when any entry of
	 * the list matches the name, whatever its protocols and ports). */
	unsigned proto;
	char host[256]; /* name or address literal, NUL-terminated */
	uint16_t port;
	const struct pn_flow_ops *ops; /* given to pn_flow_open */
	void *user;
	/* Called later (never from inside pn_ctuns_request) for a request that
	 * had to wait for a tunnel: either the flow was opened (its status
	 * arrives through ops.status) or it could not be (err). */
	void (*on_flow)(struct pn_creq *r, struct pn_flow *f);
	void (*on_fail)(struct pn_creq *r, int err);
	/* private */
	struct pn_creq *next;
	void *waiting_on;
	uint8_t connector_id[PN_ID_LEN]; /* chosen connector (for logs) */
};

struct pn_ctuns_config {
	uv_loop_t *loop;
	const struct pn_anchor *anchor;		 /* pinned CA; borrowed, must outlive */
	const struct pn_key *key;		 /* own key; borrowed, must outlive */
	const char *ca_pem, *cert_pem, *key_pem; /* copied */
	unsigned transports;			 /* relay transports allowed (PN_RT_*), 0 = all */
	uint32_t salt;				 /* spreads clients over connectors */
	uint32_t idle_ms;			 /* QUIC idle timeout (0: the endpoint's default) */
	unsigned max_flows; /* concurrent flows per tunnel (0: PN_TEP_MAX_FLOWS_DEFAULT) */
	const char *wss_ca_file;		 /* wss:// proxies' CAs (NULL: system store) */
};

/* 0, PN_E_INVAL, -ENOMEM, or the errors of pn_tep_new / pn_rclient_new. */
int pn_ctuns_new(const struct pn_ctuns_config *cfg, struct pn_ctuns **out);

/* Close every tunnel, session and the endpoint; cb(arg) runs from the loop
 * when all handles are released.  Open flows get ops.closed(PN_FLOW_RESET). */
void pn_ctuns_close(struct pn_ctuns *t, void (*cb)(void *arg), void *arg);

/*
 * The relays to use: e[0..n) (a parsed relay list, ctlapi/relays.h).  At
 * start and whenever the controller pushes a list: relays no longer in it
 * are removed (tunnels on them move to another relay, or end if there is
 * none; a tunnel on a direct path keeps going), new ones added; relays
 * unchanged keep their sessions.  0, or the first error of an entry that
 * could not be added (logged as relay_invalid, and given to skipped with
 * the entry's index; the others are applied).
 */
int pn_ctuns_set_relays(struct pn_ctuns *t, const struct pn_relay_entry *e, size_t n,
			void (*skipped)(size_t index, const char *name, int err, const char *why,
					void *arg));
/* How many relays are in use. */
unsigned pn_ctuns_nrelays(const struct pn_ctuns *t);

/*
 * A known direct UDP address for a connector (its --listen-udp socket),
 * e.g. on the same network.  Tunnels to that connector then use a direct
 * UDP path instead of a relay session.  0, PN_E_INVAL, -ENOMEM.
 */
int pn_ctuns_add_direct(struct pn_ctuns *t, const uint8_t connector_id[PN_ID_LEN],
			const struct sockaddr *addr);

/*
 * Install a verified access list: `acl` is moved in (left empty), `bytes`
 * (the signed document, sent to connectors) copied.  Open tunnels get the
 * new list on their control stream.  0 or -ENOMEM.
 */
int pn_ctuns_set_acl(struct pn_ctuns *t, struct pn_acl *acl, const uint8_t *bytes, size_t len);

/* A renewed credential for tunnels and relay connections made from now on;
 * open tunnels re-present it to their connector (pn_tunnel_update_cred). */
int pn_ctuns_set_credential(struct pn_ctuns *t, const char *cert_pem, const char *key_pem);

/*
 * Is (proto, host, port) granted by the access list (proto 0: any entry
 * for the name, as for DNS_MSG flows)?  0, PN_E_NOT_GRANTED,
 * PN_E_MALFORMED (not a valid name or address).
 */
int pn_ctuns_check(const struct pn_ctuns *t, unsigned proto, const char *host, uint16_t port);

/* The access list in use (borrowed: valid until the next pn_ctuns_set_acl
 * on the loop thread).  Transparent mode reads its resources from it. */
const struct pn_acl *pn_ctuns_acl(const struct pn_ctuns *t);

/*
 * Open a flow for r (see top).  Returns
 *   0  the flow is open: *out (its status comes through r->ops.status);
 *   1  waiting for a tunnel: r->on_flow or r->on_fail follows;
 *   PN_E_NOT_GRANTED, PN_E_MALFORMED, PN_E_NO_CONNECTOR (all connectors of
 *   the network in backoff / none named), PN_E_TUN_LIMIT (every tunnel of
 *   the network is full), or an error of pn_flow_open.
 */
int pn_ctuns_request(struct pn_ctuns *t, struct pn_creq *r, struct pn_flow **out);

/* Withdraw a waiting request (return 1 above); no callback follows.
 * Harmless for a request that is not waiting. */
void pn_ctuns_cancel(struct pn_ctuns *t, struct pn_creq *r);

/* Status for `postern client status`: a JSON array, one object per
 * connector known (id, state, path, relay, rtt_us, bytes_tx/rx, flows,
 * flows_total, failures).  New reference, or NULL on -ENOMEM. */
json_t *pn_ctuns_status(const struct pn_ctuns *t);

/* Counters for the metrics (client/metrics.c). */
struct pn_metrics_reasons;
struct pn_ctuns_stats {
	unsigned up;			     /* tunnels up */
	unsigned paths[PN_PATH_RELAY_WS + 1]; /* tunnels up by current path kind */
	unsigned flows_open;
	uint64_t flows_total;	    /* flows opened on any tunnel */
	uint64_t bytes_tx, bytes_rx; /* QUIC bytes, tunnels gone included */
	const struct pn_metrics_reasons *failures; /* tunnel failures by error name */
};
void pn_ctuns_stats(const struct pn_ctuns *t, struct pn_ctuns_stats *st);
#endif
