#ifndef PN_CONNECTOR_DAEMON_H
#define PN_CONNECTOR_DAEMON_H
/*
 * The connector daemon: a connector (connector.h) with its identity and
 * controller side from the component runtime (node/node.h): renewal,
 * pushed access lists, client lists and revocations (REVOKED stops it),
 * flow reports (reporter.h), relays (--relay specs or relays.json), and
 * the offline inputs (client list directory, revocation file) reloaded
 * by pn_connector_daemon_reload.
 */
#include <stddef.h>

#include <uv.h>

#include "connector/connector.h"
#include "node/ctl.h"
#include "relay/rclient.h"

#define PN_CONNECTOR_RELAYS_MAX 16

struct pn_connector_daemon_config {
	const char *state; /* enrolled state directory, or NULL */
	/* files (each NULL: from state) */
	const char *ca, *cert, *key, *acl;
	const struct sockaddr *listen_udp; /* or NULL */
	struct pn_tep_config tunables;
	const char *client_acl_dir;	/* *.bin signed client lists, or NULL */
	const char *revoked_path;	/* revocation file, or NULL */
	const char *const *relay_specs; /* --relay; none: state/relays.json */
	size_t nrelay_specs;
	const char *wss_ca;
	const char *metrics_listen; /* "ip:port": GET /metrics there; NULL: off */
	/* The relay-session bridge into the endpoint (the app's, for now). */
	const struct pn_rclient_ops *relay_ops;
	void *relay_user;
	/* The controller; ops NULL: opened from state when it is enrolled
	 * (controller.json), else none.  Tests pass a fake one. */
	struct pn_node_ctl ctl;
	/* The daemon stops on its own (credential revoked): called first. */
	void (*stopping)(void *arg);
	void *arg;
};

struct pn_connector_daemon;

/*
 * Load, verify and start.  0; or an error with a message in err (naming
 * the file) and *cfg_error set when the configuration or the files are
 * at fault (exit status 2) rather than the start.  On error the caller
 * runs the loop once more (handles already opened close there).
 */
int pn_connector_daemon_new(uv_loop_t *loop, const struct pn_connector_daemon_config *cfg,
			    struct pn_connector_daemon **out, char *err, size_t errsz,
			    int *cfg_error);

/* Reload the own list file, the client list directory and the revocation
 * file (SIGHUP). */
void pn_connector_daemon_reload(struct pn_connector_daemon *d);

/* Stop: tunnels first, then relays and the flow reporter (queued reports
 * get PN_CONNECTOR_REPORT_STOP_MS), then the runtime; cb(arg) after. */
#define PN_CONNECTOR_REPORT_STOP_MS 2000
void pn_connector_daemon_close(struct pn_connector_daemon *d, void (*cb)(void *arg), void *arg);

struct pn_connector *pn_connector_daemon_connector(struct pn_connector_daemon *d);
/* The metrics listener's port (0: none). */
int pn_connector_daemon_metrics_port(const struct pn_connector_daemon *d);
/* The direct UDP port, or 0. */
int pn_connector_daemon_udp_port(struct pn_connector_daemon *d);
#endif
