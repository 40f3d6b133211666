#ifndef PN_CONNECTOR_CONNECTOR_H
#define PN_CONNECTOR_CONNECTOR_H
/*
 * The connector: accepts tunnels from clients (tunnel/endpoint.h), checks
 * every client and every flow, and proxies allowed flows to resources.
 *
 * Per tunnel: the client credential was verified against the pinned CA in
 * the handshake (tunnel library); here it must also not be revoked.  The
 * client's access list (first message on the control stream) must verify
 * under the CA, be unexpired, bound to that credential's id and key, not
 * older than one already seen for that client (version gate), and name
 * this connector.
 * Per flow: pn_policy_check(client cred, client list, connector list,
 * proto, destination, port) — destination in client list ∩ connector
 * list.  Then asynchronous DNS (uv_getaddrinfo, on the connector's own
 * network) and a TCP connect / UDP socket to the resource, proxied with
 * backpressure both ways; DNS flows are answered with the addresses.
 * Denials return the reason to the client and are logged with the flow id.
 *
 * Policy updates (new connector list, newer client lists pushed by the
 * controller, revocations) re-evaluate every open flow and close those no
 * longer allowed (code PN_FLOW_REVOKED), and close tunnels of revoked
 * credentials.  A client that renews re-presents its new credential in
 * the tunnel (PN_CTL_CRED): adopted if the tunnel's checks pass (pinned
 * CA, the handshake's id and key, newer) and it is not revoked.  A tunnel
 * whose client credential has expired (past not_after +
 * PN_TRUST_DEFAULT_SKEW) is closed with PN_FLOW_CRED, so a client that
 * could not re-present reconnects with its current one.
 *
 * Flow events (start/deny/end with bytes each way, path, verdict, reason,
 * flow id) are logged and handed to an optional report hook (ctlapi).
 */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "trust/acl.h"
#include "trust/cred.h"
#include "tunnel/endpoint.h"

#define PN_CONNECTOR_CONNECT_MS 10000 /* resource connect timeout */
#define PN_CONNECTOR_UDP_IDLE_MS 120000
#define PN_CONNECTOR_MAX_REVOKED 65536
#define PN_CONNECTOR_GATE_SIZE 65536 /* clients tracked by the version gate */
/* Open flows are re-checked this often, so expiring credentials and lists
 * end access even with no update from the controller. */
#define PN_CONNECTOR_RECHECK_MS 1000

struct pn_connector;

/* One flow event, for the audit log / controller. */
struct pn_connector_event {
	const char *event;  /* "start" | "deny" | "end" */
	uint64_t flow_id;
	const uint8_t *client_id;
	const char *user;
	const uint8_t *resource_id;
	const char *dest;
	uint16_t port;
	const char *proto;  /* "tcp" | "udp" | "icmp" | "dns" */
	const char *path;   /* pn_path_kind_name */
	const char *verdict; /* "allow" | "deny" */
	const char *reason;  /* deny / end reason, or "" */
	uint64_t bytes_up, bytes_down; /* client->resource, resource->client */
	int64_t ts_ms;
};

struct pn_connector_config {
	uv_loop_t *loop;
	const struct pn_anchor *anchor; /* borrowed */
	const struct pn_key *key;       /* borrowed */
	const char *cert_pem;           /* own connector credential (copied) */
	const uint8_t *acl;             /* own signed connector list */
	size_t acl_len;
	const struct sockaddr *listen_udp; /* direct UDP socket, or NULL */
	void (*report)(const struct pn_connector_event *ev, void *user); /* optional */
	void *report_user;
	struct pn_tep_config tunables; /* only the tunables are used */
};

/*
 * Create and start.  Verifies the own credential (CONNECTOR, pinned CA, and
 * certifying cfg->key: PN_E_CONN_KEY_MISMATCH otherwise) and the connector
 * list (signature, kind, bound to the credential).
 * 0, PN_E_* from trust, PN_E_CONN_KEY_MISMATCH, PN_E_INVAL, -errno
 * (socket), -ENOMEM.
 */
int pn_connector_new(const struct pn_connector_config *cfg, struct pn_connector **out);

/* Replace the connector's own access list (verified as at start) and
 * re-evaluate every open flow.  0 or the verification error (old list kept). */
int pn_connector_set_acl(struct pn_connector *c, const uint8_t *acl, size_t len);

/*
 * Apply client access lists pushed by the controller: each must verify and
 * pass the version gate; it replaces the list the client presented.  If
 * `complete` is set, the set is every client list at policy `version`:
 * clients without a list in it lose every grant (their flows close) unless
 * their tunnel holds a list newer than `version`, and from now on no list
 * of theirs at `version` or older is accepted, from anyone (the version
 * gate records "no list at `version`"; holders never seen are covered too).
 * Then every open flow is re-evaluated.  `version` is ignored if !complete.
 * Returns the number of lists refused (0 = all applied), or -ENOMEM
 * (nothing applied).
 */
int pn_connector_set_client_acls(struct pn_connector *c, const uint8_t *const *acls,
				 const size_t *lens, size_t n, int complete, uint64_t version);

/* Replace the revocation set (credential holder ids and/or serials, hex).
 * Tunnels of revoked credentials are closed at once. */
int pn_connector_set_revoked(struct pn_connector *c, const char *const *holder_ids,
			     size_t n_ids, const char *const *serials, size_t n_serials);

/* The same from the text of a revocation file (`connector run --revoked
 * FILE`): one entry a line, a holder id (32 hex) or serial:HEX; leading
 * blanks, empty lines and # comments skipped; at most
 * PN_CONNECTOR_MAX_REVOKED of each kind (more are ignored).  text is
 * modified.  *n_ids / *n_serials (may be NULL): lines taken as each. */
int pn_connector_set_revoked_text(struct pn_connector *c, char *text, size_t *n_ids,
				  size_t *n_serials);

/* The endpoint (e.g. to feed relay sessions to it). */
struct pn_tep *pn_connector_tep(struct pn_connector *c);

struct pn_connector_stats {
	unsigned tunnels, flows;
	unsigned paths_direct, paths_relay; /* open tunnels by current path */
	uint64_t flows_allowed, flows_denied, flows_revoked;
};
void pn_connector_stats(const struct pn_connector *c, struct pn_connector_stats *st);

/* The connector's metrics (postern_connector_*: tunnels by path, flows,
 * denials by reason, bytes each way, handshake failures by cause; see
 * docs/operations.md) into m (connector/metrics.c).  0 or the registry's
 * error. */
struct pn_metrics;
int pn_connector_metrics(struct pn_connector *c, struct pn_metrics *m);

/* Close everything; cb(arg) once all handles are closed. */
void pn_connector_close(struct pn_connector *c, void (*cb)(void *arg), void *arg);
#endif
