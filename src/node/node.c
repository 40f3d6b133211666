/* The component runtime: renewal and push.  See node.h. */
#include "node/node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"

#define BUSY_RETRY_MS 50 /* the controller handle is in use (flow reports) */

struct pn_node {
	struct pn_node_config cfg;
	struct pn_renew sched;
	uv_timer_t timer;
	uv_thread_t thread; /* the blocking renewal call */
	uv_async_t done;    /* open while a renewal runs */
	void *sub;
	int busy, wanted, renewing, renew_rc;
	int closing, timer_closed, sub_open, expired_logged;
	/* status reports: a polling timer, one request at a time */
	uv_timer_t stimer;
	uv_work_t swork;
	int status_on, stimer_closed, status_inflight, status_rc, status_ok, status_failing;
	uint64_t status_last_ms; /* uv_now of the last attempt; 0: none yet */
	struct pn_node_status status_sent, status_pending;
	char status_body[192];
	size_t status_len;
	struct pn_node_stats st;
	void (*close_cb)(void *);
	void *close_arg;
};

static void on_timer(uv_timer_t *t);

static void arm(struct pn_node *n, uint64_t ms)
{
	n->st.next_renew_ms = ms;
	uv_timer_start(&n->timer, on_timer, ms, 0);
}

static void plan(struct pn_node *n)
{
	uint64_t now = (uint64_t)pn_wall_ms();
	const struct pn_node_ident *id = n->cfg.ident;

	if (n->closing || n->st.revoked)
		return;
	if (id->ci_valid && now / 1000 > id->ci.not_after && !n->expired_logged) {
		n->expired_logged = 1;
		PN_LOG_ERROR(n->cfg.module, "cred_expired",
			     "not_after=%" PRIu64 " err=%s (renewal failing; retrying)",
			     id->ci.not_after, pn_errname(PN_E_EXPIRED));
	}
	arm(n, pn_renew_delay_ms(&n->sched, now));
}

static void maybe_finish(struct pn_node *n)
{
	void (*cb)(void *);
	void *arg;

	if (!n->closing || n->renewing || n->sub_open || !n->timer_closed)
		return;
	if (n->status_inflight || (n->status_on && !n->stimer_closed))
		return;
	cb = n->close_cb;
	arg = n->close_arg;
	free(n);
	if (cb)
		cb(arg);
}

/* Read cert.pem again and adopt it if it may replace ours.  0 adopted, or
 * why not (PN_E_NODE_NOT_NEWER: nothing newer there). */
static int adopt(struct pn_node *n)
{
	struct pn_node_ident *id = n->cfg.ident;
	struct pn_cred_info ci;
	char *pem = NULL;
	size_t len;
	int r;

	if ((r = pn_file_read(id->cert_path, PN_CRED_PEM_MAX, &pem, &len)) != 0)
		goto out;
	if ((r = pn_node_ident_check_new(id, pem, (uint64_t)pn_wall_s(), &ci)) != 0)
		goto out;
	if (n->cfg.hooks.credential && (r = n->cfg.hooks.credential(n->cfg.user, pem, &ci)) != 0)
		goto out;
	pn_node_ident_adopt(id, pem, &ci);
	pem = NULL;
	pn_renew_adopted(&n->sched, pn_cred_issued_at(&ci), ci.not_after);
	n->expired_logged = 0;
	n->st.renewals++;
	n->st.last_renew_s = (uint64_t)pn_wall_s();
	PN_LOG_INFO(n->cfg.module, "cred_renewed", "not_after=%" PRIu64 " renewals=%u",
		    ci.not_after, n->st.renewals);
	if (n->cfg.hooks.adopted)
		n->cfg.hooks.adopted(n->cfg.user);
out:
	free(pem);
	if (r && r != PN_E_NODE_NOT_NEWER && r != -ENOENT && r != -EIO)
		n->st.refused++;
	return r;
}

/* Blocking HTTPS on a thread of its own: never on the loop, and not on
 * libuv's thread pool, which the connector's DNS lookups may keep busy
 * for seconds. */
static void renew_thread(void *arg)
{
	struct pn_node *n = arg;

	n->renew_rc = n->cfg.ctl.ops->renew(n->cfg.ctl.ctl);
	uv_async_send(&n->done);
}

/* The attempt is over (the async handle closed): r is its result. */
static void renew_over(struct pn_node *n, int r)
{
	n->renewing = 0;
	n->busy = 0;
	n->wanted = 0;
	if (n->closing || n->st.revoked) {
		maybe_finish(n);
		return;
	}
	if (r == 0)
		r = adopt(n);
	if (r != 0) {
		pn_renew_failed(&n->sched);
		n->st.renew_failures++;
		PN_LOG_WARN(n->cfg.module, "renew_failed", "err=%s retry_ms=%" PRIu64,
			    pn_errname(r), pn_renew_backoff_ms(&n->sched, n->sched.failures));
	}
	plan(n);
}

static void renew_finished(uv_handle_t *h)
{
	struct pn_node *n = h->data;

	uv_thread_join(&n->thread);
	renew_over(n, n->renew_rc);
}

/* The thread could not be started: a failed attempt. */
static void renew_not_started(uv_handle_t *h)
{
	renew_over(h->data, -EAGAIN);
}

static void renew_done(uv_async_t *a)
{
	uv_close((uv_handle_t *)a, renew_finished);
}

static void on_timer(uv_timer_t *t)
{
	struct pn_node *n = t->data;

	if (n->closing || n->renewing || n->st.revoked)
		return;
	if (n->busy) {
		/* the flow reporter has the handle: it starts nothing new while
		 * `wanted` is set, so this gets it next */
		n->wanted = 1;
		arm(n, BUSY_RETRY_MS);
		return;
	}
	if (uv_async_init(n->cfg.loop, &n->done, renew_done) != 0) {
		pn_renew_failed(&n->sched);
		plan(n);
		return;
	}
	n->done.data = n;
	n->renewing = n->busy = 1;
	if (uv_thread_create(&n->thread, renew_thread, n) != 0)
		uv_close((uv_handle_t *)&n->done, renew_not_started);
}

static void on_event(const struct pn_ctlapi_event *ev, void *arg)
{
	struct pn_node *n = arg;

	if (n->closing || n->st.revoked)
		return;
	switch (ev->kind) {
	case PN_CTLAPI_EV_CONNECTED:
		PN_LOG_INFO(n->cfg.module, "controller_connected", "%s", "");
		break;
	case PN_CTLAPI_EV_DISCONNECTED:
		PN_LOG_WARN(n->cfg.module, "controller_disconnected", "%s", "");
		break;
	case PN_CTLAPI_EV_POLICY:
		if (n->cfg.hooks.policy)
			n->cfg.hooks.policy(n->cfg.user, ev);
		break;
	case PN_CTLAPI_EV_REVOKED:
		/* Nothing may be carried with a revoked credential, and it
		 * cannot be renewed: stop renewing and let the role stop. */
		n->st.revoked = 1;
		uv_timer_stop(&n->timer);
		PN_LOG_ERROR(n->cfg.module, "credential_revoked", "err=%s (stopping; re-enroll)",
			     pn_errname(PN_E_NODE_REVOKED));
		if (n->cfg.hooks.revoked)
			n->cfg.hooks.revoked(n->cfg.user);
		break;
	default: break;
	}
}

/* ---- status reports ---- */

static void status_work(uv_work_t *w)
{
	struct pn_node *n = w->data;

	/* Blocking HTTPS: on the thread pool, never on the loop. */
	n->status_rc = n->cfg.ctl.ops->post_status(n->cfg.ctl.ctl, n->status_body, n->status_len);
}

static void status_done(uv_work_t *w, int status)
{
	struct pn_node *n = w->data;
	int r = status ? status : n->status_rc;

	n->status_inflight = 0;
	n->busy = 0;
	if (r == 0) {
		n->status_ok = 1;
		n->status_sent = n->status_pending;
		n->status_failing = 0;
		n->st.status_reports++;
	} else {
		n->status_ok = 0;
		n->st.status_failures++;
		if (!n->status_failing++)
			PN_LOG_WARN(n->cfg.module, "status_report_failed", "err=%s retry_ms=%d",
				    pn_errname(r), PN_NODE_STATUS_MIN_MS);
	}
	maybe_finish(n);
}

static void on_status_tick(uv_timer_t *t)
{
	struct pn_node *n = t->data;
	struct pn_node_status st = {0};
	uint64_t now = uv_now(n->cfg.loop), since = now - n->status_last_ms;
	int changed, due, len;

	if (n->closing || n->st.revoked || n->status_inflight)
		return;
	if (n->cfg.hooks.status)
		n->cfg.hooks.status(n->cfg.user, &st);
	changed = st.has_paths != n->status_sent.has_paths ||
		  st.paths_direct != n->status_sent.paths_direct ||
		  st.paths_relay != n->status_sent.paths_relay;
	due = !n->status_last_ms || since >= PN_NODE_STATUS_EVERY_MS ||
	      ((changed || !n->status_ok) && since >= PN_NODE_STATUS_MIN_MS);
	/* the handle is in use (renewal, flow reports): try at the next tick */
	if (!due || n->busy || n->wanted)
		return;
	len = st.has_paths ? snprintf(n->status_body, sizeof(n->status_body),
				      "{\"version\":\"%s\",\"paths\":{\"direct\":%u,\"relay\":%u}}",
				      PN_VERSION, st.paths_direct, st.paths_relay)
			   : snprintf(n->status_body, sizeof(n->status_body),
				      "{\"version\":\"%s\"}", PN_VERSION);
	if (len <= 0 || (size_t)len >= sizeof(n->status_body))
		return;
	n->status_len = (size_t)len;
	n->status_pending = st;
	n->status_last_ms = now ? now : 1;
	n->swork.data = n;
	if (uv_queue_work(n->cfg.loop, &n->swork, status_work, status_done) != 0)
		return;
	n->status_inflight = n->busy = 1;
}

static void stimer_closed(uv_handle_t *h)
{
	struct pn_node *n = h->data;

	n->stimer_closed = 1;
	maybe_finish(n);
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

int pn_node_new(const struct pn_node_config *cfg, struct pn_node **out)
{
	struct pn_node *n = calloc(1, sizeof(*n));
	const struct pn_node_ident *id = cfg->ident;
	int r;

	*out = NULL;
	if (!n)
		return -ENOMEM;
	n->cfg = *cfg;
	if (!n->cfg.module)
		n->cfg.module = "node";
	pn_renew_init(&n->sched, &cfg->renew, id->ci_valid ? pn_cred_issued_at(&id->ci) : 0,
		      id->ci_valid ? id->ci.not_after : 0);
	uv_timer_init(cfg->loop, &n->timer);
	n->timer.data = n;
	if (cfg->ctl.ops && cfg->subscribe) {
		if ((r = cfg->ctl.ops->subscribe(cfg->ctl.ctl, cfg->loop, on_event, n, &n->sub)) !=
		    0) {
			/* freed once the loop has closed the timer */
			uv_close((uv_handle_t *)&n->timer, free_on_close);
			return r;
		}
		n->sub_open = 1;
	}
	if (cfg->ctl.ops && cfg->ctl.ops->renew)
		plan(n);
	if (cfg->ctl.ops && cfg->ctl.ops->post_status && cfg->report_status) {
		uv_timer_init(cfg->loop, &n->stimer);
		n->stimer.data = n;
		n->status_on = 1;
		uv_timer_start(&n->stimer, on_status_tick, 0, PN_NODE_STATUS_CHECK_MS);
		uv_unref((uv_handle_t *)&n->stimer); /* housekeeping keeps no loop alive */
	}
	*out = n;
	return 0;
}

static void timer_closed(uv_handle_t *h)
{
	struct pn_node *n = h->data;

	n->timer_closed = 1;
	maybe_finish(n);
}

static void sub_closed(void *arg)
{
	struct pn_node *n = arg;

	n->sub_open = 0;
	maybe_finish(n);
}

void pn_node_close(struct pn_node *n, void (*cb)(void *arg), void *arg)
{
	if (!n)
		return;
	n->closing = 1;
	n->close_cb = cb;
	n->close_arg = arg;
	if (n->sub_open) {
		void *s = n->sub;
		n->sub = NULL;
		n->cfg.ctl.ops->unsubscribe(s, sub_closed);
	}
	if (n->status_on)
		uv_close((uv_handle_t *)&n->stimer, stimer_closed);
	uv_close((uv_handle_t *)&n->timer, timer_closed);
}

int *pn_node_ctl_busy(struct pn_node *n)
{
	return &n->busy;
}

const int *pn_node_ctl_wanted(const struct pn_node *n)
{
	return &n->wanted;
}

void pn_node_stats(const struct pn_node *n, struct pn_node_stats *st)
{
	*st = n->st;
}
