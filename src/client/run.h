#ifndef PN_CLIENT_RUN_H
#define PN_CLIENT_RUN_H
/*
 * The headless client runtime (`postern client run`): loads the state
 * directory written by login (ca.crt, key.pem, cert.pem, acl.bin,
 * relays.json; see ctlapi/ctlapi.h), verifies the credential and the
 * access list against the pinned CA, connects to the relays, serves the
 * SOCKS5 and port-forward listeners, renews the credential before it
 * expires, applies access-list updates pushed by the controller, and
 * answers `postern client status` on a unix socket in the state directory
 * (client.sock, mode 0600).  Runs until SIGINT or SIGTERM.
 */
#include <stdint.h>
#include <stdio.h>

#include "client/transparent.h"

#define PN_CLIENT_MAX_LISTEN 16
#define PN_CLIENT_SOCK_NAME  "client.sock"
#define PN_CLIENT_STATUS_MAX (1u << 20) /* largest status document read */
#define PN_CLIENT_MAX_FLOWS_MAX (1u << 24) /* largest --max-flows */

struct pn_client_opts {
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
	uint32_t renew_s;    /* renew at least this often (0: at 2/3 of the lifetime) */
	const char *wss_ca;  /* CA file for wss:// proxies (NULL: system store) */
	int transparent;     /* transparent mode (client/transparent.h; root) */
	struct pn_transparent_opts topts; /* its options (state_dir set by run) */
};

/*
 * Run until a signal.  Returns 0 after a clean stop, PN_E_CONFIG /
 * PN_E_* from loading the state (logged), or -errno from the listeners.
 */
int pn_client_run(const struct pn_client_opts *o);

/*
 * Ask a running client for its status (blocking; for the CLI).  *json is
 * a heap NUL-terminated JSON document (free()).  0, -ENOENT / -ECONNREFUSED
 * (no client running for this state dir), PN_E_TOOBIG, -ENOMEM, -errno.
 */
int pn_client_status_query(const char *state_dir, char **json);

/* Print a status document as a human-readable table.  0 or PN_E_MALFORMED. */
int pn_client_status_print(const char *json, FILE *out);
#endif
