/* The fake controller.  See fakectl.h. */
#include "fakectl.h"

#include <uv.h>

#include "core/err.h"

static int f_renew(void *ctl)
{
	struct tctl *f = ctl;
	int n = f->renewals++;

	if (n < 16)
		f->renew_ms[n] = uv_hrtime() / 1000000;
	return f->renew ? f->renew(f, n) : PN_E_CTL_CONNECT;
}

static int f_post(void *ctl, const char *body, size_t len)
{
	(void)body;
	(void)len;
	((struct tctl *)ctl)->posts++;
	return 0;
}

static int f_subscribe(void *ctl, uv_loop_t *loop, pn_ctlapi_event_cb cb, void *arg, void **sub)
{
	struct tctl *f = ctl;

	(void)loop;
	f->cb = cb;
	f->cb_arg = arg;
	f->subscribed = 1;
	*sub = f;
	return 0;
}

static void f_unsubscribe(void *sub, void (*closed)(void *arg))
{
	struct tctl *f = sub;

	f->unsubscribed = 1;
	if (closed)
		closed(f->cb_arg);
}

const struct pn_node_ctl_ops tctl_ops = {
    .renew = f_renew,
    .post_flows = f_post,
    .subscribe = f_subscribe,
    .unsubscribe = f_unsubscribe,
};

struct pn_node_ctl tctl_handle(struct tctl *f)
{
	struct pn_node_ctl c = {&tctl_ops, f};

	return c;
}

void tctl_push(struct tctl *f, const struct pn_ctlapi_event *ev)
{
	f->cb(ev, f->cb_arg);
}
