#ifndef PN_NODE_NODE_H
#define PN_NODE_NODE_H
/*
 * The component runtime every daemon role (connector, relay, client) runs
 * its controller side through:
 *
 *   - renewal: one schedule and one retry/backoff (node/renew.h); the
 *     blocking call runs on a thread of its own; the new cert.pem is adopted
 *     only if it is valid, for our own id and key, and newer
 *     (node/ident.h), then handed to the role (hooks.credential);
 *   - the push channel: POLICY events go to hooks.policy (access lists,
 *     client lists, revocations, relays); REVOKED stops renewal and calls
 *     hooks.revoked, where the role stops;
 *   - status reports (cfg.report_status: connectors and relays): the
 *     version and, through hooks.status, a connector's tunnels by path,
 *     POSTed to /v1/ctl/status from the thread pool at least every
 *     PN_NODE_STATUS_EVERY_MS and within PN_NODE_STATUS_MIN_MS of a change
 *     (the console's overview shows them);
 *   - the controller handle is shared with the flow reporter through
 *     pn_node_ctl_busy / pn_node_ctl_wanted (one request at a time).
 *
 * Logs (module = cfg.module): cred_renewed, renew_failed (err=, retry_ms=),
 * cred_expired (once per expiry), controller_connected,
 * controller_disconnected, credential_revoked, status_report_failed (first
 * failure of a run of them).
 */
#include <stdint.h>

#include <uv.h>

#include "ctlapi/ctlapi.h"
#include "node/ctl.h"
#include "node/ident.h"
#include "node/renew.h"

#define PN_NODE_STATUS_EVERY_MS 30000 /* a status report at least this often */
#define PN_NODE_STATUS_MIN_MS	5000  /* and no more often (a change waits) */
#define PN_NODE_STATUS_CHECK_MS 1000  /* hooks.status is polled this often */

/* What a component reports about itself besides its version. */
struct pn_node_status {
	int has_paths; /* connectors: open tunnels by path */
	unsigned paths_direct, paths_relay;
};

struct pn_node_hooks {
	/* A newer credential is about to be adopted: present it to new
	 * handshakes.  0 adopts it; an error refuses it (logged, retried). */
	int (*credential)(void *user, const char *cert_pem, const struct pn_cred_info *ci);
	/* Optional: the credential was adopted (ident updated). */
	void (*adopted)(void *user);
	/* A POLICY push. */
	void (*policy)(void *user, const struct pn_ctlapi_event *ev);
	/* Our credential was revoked: the role must stop carrying traffic. */
	void (*revoked)(void *user);
	/* Optional: fill the status to report (on the loop's thread). */
	void (*status)(void *user, struct pn_node_status *st);
};

struct pn_node_config {
	uv_loop_t *loop;
	const char *module;	     /* log module: "connector", "relay", "client" */
	struct pn_node_ident *ident; /* borrowed; cert_pem/ci updated on adoption */
	struct pn_node_ctl ctl;	     /* borrowed; ops NULL: no controller (no renewal) */
	int subscribe;		     /* open the push channel */
	int report_status;	     /* send status reports (needs ctl.ops->post_status) */
	struct pn_renew_policy renew;
	struct pn_node_hooks hooks;
	void *user;
};

struct pn_node;

/* 0, -ENOMEM, or the subscription error (then nothing was started). */
int pn_node_new(const struct pn_node_config *cfg, struct pn_node **out);
/* Stop renewal and the push channel; cb(arg) once nothing runs any more
 * (an in-flight renewal finishes first), after which n is freed. */
void pn_node_close(struct pn_node *n, void (*cb)(void *arg), void *arg);

/* Shared with the flow reporter (connector/reporter.h). */
int *pn_node_ctl_busy(struct pn_node *n);
const int *pn_node_ctl_wanted(const struct pn_node *n);

struct pn_node_stats {
	unsigned renewals, renew_failures, refused; /* refused: not adoptable */
	unsigned status_reports, status_failures;
	int revoked;
	uint64_t next_renew_ms; /* planned delay of the armed attempt */
	uint64_t last_renew_s;	/* unix time of the last adopted renewal (0: none) */
};
void pn_node_stats(const struct pn_node *n, struct pn_node_stats *st);
#endif
