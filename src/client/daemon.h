#ifndef PN_CLIENT_DAEMON_H
#define PN_CLIENT_DAEMON_H
/*
 * The client daemon (`postern client run`): loads the state directory
 * written by login (ca.crt, key.pem, cert.pem, acl.bin, relays.json, and
 * user.json after a person's login; see ctlapi/ctlapi.h), verifies the
 * credential and the access list against the pinned CA, serves the SOCKS5
 * and port-forward listeners over tunnels to connectors (tunnels.h,
 * proxy.h), and answers `postern client status` on DIR/client.sock
 * (status.h).  Its controller side runs on the component runtime
 * (node/node.h): the one renewal policy (a renewed credential goes to the
 * tunnels and relay connections: pn_ctuns_set_credential), pushed access
 * lists, and REVOKED, which stops the client.
 *
 * Everything runs on the loop's thread.
 */
#include "client/transparent.h"
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "node/ctl.h"
#include "node/renew.h"

#define PN_CLIENT_MAX_LISTEN	16
#define PN_CLIENT_MAX_FLOWS_MAX (1u << 24) /* largest --max-flows */

struct pn_client_config {
	const char *state_dir;
	const char *socks[PN_CLIENT_MAX_LISTEN];
	unsigned nsocks;
	const char *forwards[PN_CLIENT_MAX_LISTEN]; /* "ip:port=host:port" */
	unsigned nforwards;
	/* "CONNECTOR_ID=IP:PORT": a connector's direct UDP address (its
	 * --listen-udp), used instead of a relay session. */
	const char *directs[PN_CLIENT_MAX_LISTEN];
	unsigned ndirects;
	unsigned transports; /* relay transports (PN_RT_* bits), 0 = all */
	int offline;	     /* no controller: no renewal, no push updates */
	uint32_t idle_ms;    /* tunnel idle timeout, 0 = default */
	unsigned max_flows;  /* concurrent flows per tunnel, 0 = default */
	const char *wss_ca;  /* CA file for wss:// proxies (NULL: system store) */
	const char *metrics_listen; /* "ip:port": GET /metrics there; NULL: off */
	int transparent;     /* transparent mode (client/transparent.h; root) */
	struct pn_transparent_opts topts; /* its options (state_dir set by the daemon) */
	/* Renewal (node/renew.h): cap_ms = --renew-interval (0: at two
	 * thirds of the lifetime); first_ms and retry_min_ms for tests. */
	struct pn_renew_policy renew;
	/* The controller; ops NULL: opened from state_dir when enrolled
	 * (controller.json) and not offline.  Tests pass a fake one. */
	struct pn_node_ctl ctl;
	/* The client stopped on its own (err: PN_E_NODE_REVOKED, our
	 * credential was revoked): called once, then it closes; the caller
	 * lets go of its own handles so that the loop can end. */
	void (*stopped)(void *arg, int err);
	void *arg;
};

struct pn_client;

/*
 * Load, verify and start.  0; or the error, logged (state_invalid file=
 * err=, start_failed what= err=, bad_option): PN_E_CONFIG / trust errors
 * for the state directory or the options, -errno / libuv errors for the
 * listeners.  On error the caller runs the loop once more (handles
 * already opened close there).
 */
int pn_client_new(uv_loop_t *loop, const struct pn_client_config *cfg, struct pn_client **out);

/* Stop: the runtime (renewal, push), the status socket, the listeners and
 * their flows, the tunnels; cb(arg) once all is released, then c is
 * freed.  NULL-safe; a second call does nothing. */
void pn_client_close(struct pn_client *c, void (*cb)(void *arg), void *arg);

/* The status document `postern client status --json` prints (status.h
 * lists its fields).  New reference, or NULL on -ENOMEM. */
json_t *pn_client_status(const struct pn_client *c);
#endif
