#ifndef PN_NODE_CTL_H
#define PN_NODE_CTL_H
/*
 * The controller as a component sees it: a small vtable, so that the
 * runtime (node/node.h) and the flow reporter run against the real
 * controller (ctlapi) in the daemons and against a fake one in tests.
 *
 * renew, post_flows and post_status block (HTTPS): renew runs on the
 * runtime's own thread, post_flows (connector/reporter.h) and post_status
 * (node.c) on the thread pool; never on
 * the loop, and never two at a time on one handle.
 * subscribe/unsubscribe run on the loop's thread.
 */
#include <stddef.h>

#include <uv.h>

#include "ctlapi/ctlapi.h"

struct pn_node_ctl_ops {
	/* Renew the credential: on success the state directory holds the new
	 * cert.pem (and acl.bin, relays.json).  0 or an error. */
	int (*renew)(void *ctl);
	/* POST an encoded flow-report body (ctlapi/ctlapi.h). */
	int (*post_flows)(void *ctl, const char *body, size_t len);
	/* Optional: POST an encoded status report (thread pool, like post_flows). */
	int (*post_status)(void *ctl, const char *body, size_t len);
	/* Open the push channel: cb(ev, arg) runs on loop's thread. */
	int (*subscribe)(void *ctl, uv_loop_t *loop, pn_ctlapi_event_cb cb, void *arg, void **sub);
	/* Close it; closed(arg) (may be NULL) runs once nothing refers to arg. */
	void (*unsubscribe)(void *sub, void (*closed)(void *arg));
};

struct pn_node_ctl {
	const struct pn_node_ctl_ops *ops; /* NULL: no controller */
	void *ctl;
};

/* The real controller: ctl is a struct pn_ctlapi *. */
extern const struct pn_node_ctl_ops pn_node_ctlapi_ops;

/* Open the real controller for an enrolled state directory (process-wide
 * ctlapi init included): 0, -ENOENT (not enrolled: no controller.json), or
 * the ctlapi error.  pn_node_ctl_free: NULL-safe, for handles from here. */
int pn_node_ctl_open(const char *state_dir, struct pn_node_ctl *out);
void pn_node_ctl_free(struct pn_node_ctl *c);
#endif
