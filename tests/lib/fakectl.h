#ifndef PN_TEST_LIB_FAKECTL_H
#define PN_TEST_LIB_FAKECTL_H
/*
 * The one fake controller (node/ctl.h) for cmocka tests of the component
 * runtime and the daemons built on it (linked as pn_testctl): renewal, flow
 * reports and the push channel without a network.
 *
 * renew runs on the runtime's renewal thread: the test's hook may write
 * the state directory as ctlapi would (cert.pem, acl.bin); the counters
 * are read by the test after the loop or from the loop's thread.
 */
#include <stdint.h>

#include "node/ctl.h"

struct tctl {
	/* The test's renewal (NULL: every renewal fails, PN_E_CTL_CONNECT);
	 * n counts from 0. */
	int (*renew)(struct tctl *f, int n);
	void *user;
	/* What the runtime did. */
	int renewals, posts, subscribed, unsubscribed;
	uint64_t renew_ms[16]; /* uv_hrtime() of the first calls, in ms */
	pn_ctlapi_event_cb cb; /* the push channel, once subscribed */
	void *cb_arg;
};

extern const struct pn_node_ctl_ops tctl_ops;

/* f as a controller handle for a config's ctl field. */
struct pn_node_ctl tctl_handle(struct tctl *f);

/* Deliver a push event, as the channel does on the loop's thread. */
void tctl_push(struct tctl *f, const struct pn_ctlapi_event *ev);
#endif
