#ifndef PN_RELAY_DAEMON_H
#define PN_RELAY_DAEMON_H
/*
 * The relay daemon: the relay server (server.h) with its identity and
 * credential renewal from the component runtime (node/node.h).  Enrolled
 * (state directory with controller.json): the credential is renewed on the
 * runtime's schedule and presented to new connections.
 */
#include <stdint.h>

#include <uv.h>

#include "node/ctl.h"
#include "relay/server.h"

struct pn_relay_daemon_config {
	const char *state;		      /* enrolled state directory, or NULL */
	const char *ca, *cert, *key;	      /* files (each NULL: from state) */
	struct pn_relay_server_config server; /* anchor, key, cert_pem set here */
	uint32_t renew_after_s;		      /* > 0: first renewal after this long */
	const char *metrics_listen;	      /* "ip:port": GET /metrics there; NULL: off */
	struct pn_node_ctl ctl;		      /* ops NULL: opened from state if enrolled */
};

struct pn_relay_daemon;

/* 0, or an error with a message in err naming the file.  On error the
 * caller runs the loop once more (handles already opened close there). */
int pn_relay_daemon_new(uv_loop_t *loop, const struct pn_relay_daemon_config *cfg,
			struct pn_relay_daemon **out, char *err, size_t errsz);
void pn_relay_daemon_close(struct pn_relay_daemon *d, void (*cb)(void *arg), void *arg);
struct pn_relay_server *pn_relay_daemon_server(struct pn_relay_daemon *d);
/* The metrics listener's port (0: none). */
int pn_relay_daemon_metrics_port(const struct pn_relay_daemon *d);
#endif
