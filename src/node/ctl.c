/* The controller vtable over ctlapi.  See ctl.h. */
#include "node/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

static int c_renew(void *ctl)
{
	return pn_ctlapi_renew(ctl);
}

static int c_post(void *ctl, const char *body, size_t len)
{
	return pn_ctlapi_post_flows(ctl, body, len);
}

static int c_status(void *ctl, const char *body, size_t len)
{
	return pn_ctlapi_post_status(ctl, body, len);
}

static int c_subscribe(void *ctl, uv_loop_t *loop, pn_ctlapi_event_cb cb, void *arg, void **sub)
{
	struct pn_ctlapi_sub *s = NULL;
	int r = pn_ctlapi_subscribe(ctl, loop, cb, arg, &s);

	*sub = s;
	return r;
}

static void c_unsubscribe(void *sub, void (*closed)(void *arg))
{
	pn_ctlapi_sub_stop(sub, closed);
}

const struct pn_node_ctl_ops pn_node_ctlapi_ops = {
    .renew = c_renew,
    .post_flows = c_post,
    .post_status = c_status,
    .subscribe = c_subscribe,
    .unsubscribe = c_unsubscribe,
};

int pn_node_ctl_open(const char *state_dir, struct pn_node_ctl *out)
{
	char path[1100];
	struct stat st;
	struct pn_ctlapi *api = NULL;
	int r;

	out->ops = NULL;
	out->ctl = NULL;
	snprintf(path, sizeof(path), "%s/controller.json", state_dir);
	if (stat(path, &st) != 0)
		return -ENOENT;
	/* libcurl is loaded by the first request (ctlapi/curl_dl.h), on the
	 * request's thread, not here at start. */
	if ((r = pn_ctlapi_open(state_dir, &api)) != 0)
		return r;
	out->ops = &pn_node_ctlapi_ops;
	out->ctl = api;
	return 0;
}

void pn_node_ctl_free(struct pn_node_ctl *c)
{
	if (c && c->ops == &pn_node_ctlapi_ops)
		pn_ctlapi_free(c->ctl);
	if (c) {
		c->ops = NULL;
		c->ctl = NULL;
	}
}
