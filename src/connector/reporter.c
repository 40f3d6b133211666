/* Flow reporter: libuv + controller glue around report.c.  See reporter.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "connector/reporter.h"
#include "core/err.h"
#include "core/log.h"

#define BUSY_RETRY_MS 50 /* the ctlapi handle is in use (renewal) */
#define DROP_LOG_MS   1000

struct pn_reporter {
	struct pn_reporter_config cfg;
	struct pn_report *core;
	uv_timer_t send, tick;
	uv_work_t work;
	const char *body;
	size_t len, n;
	int rc, in_flight;
	int closing, closed_handles;
	uint64_t stop_at;
	void (*close_cb)(void *);
	void *close_arg;
};

static void schedule(struct pn_reporter *r);

static void handle_closed(uv_handle_t *h)
{
	struct pn_reporter *r = h->data;
	void (*cb)(void *) = r->close_cb;
	void *arg = r->close_arg;

	if (++r->closed_handles < 2)
		return;
	pn_report_free(r->core);
	free(r);
	if (cb)
		cb(arg);
}

static void log_dropped(struct pn_reporter *r)
{
	uint64_t n = pn_report_take_dropped(r->core);
	struct pn_report_stats st;

	if (!n)
		return;
	pn_report_stats(r->core, &st);
	PN_LOG_WARN("connector", "flow_reports_dropped",
		    "count=%" PRIu64 " total_queue_full=%" PRIu64 " total_refused=%" PRIu64
		    " pending=%zu",
		    n, st.dropped_full, st.dropped_refused, st.pending);
}

static void finish(struct pn_reporter *r)
{
	struct pn_report_stats st;

	if (r->closed_handles || uv_is_closing((uv_handle_t *)&r->send))
		return;
	log_dropped(r);
	pn_report_stats(r->core, &st);
	if (st.pending)
		PN_LOG_WARN("connector", "report_unsent",
			    "count=%zu stored=%" PRIu64 " (controller unreachable at stop)",
			    st.pending, st.stored);
	uv_close((uv_handle_t *)&r->send, handle_closed);
	uv_close((uv_handle_t *)&r->tick, handle_closed);
}

static void post_work(uv_work_t *w)
{
	struct pn_reporter *r = w->data;

	/* Blocking HTTPS: on the thread pool, never on the loop. */
	r->rc = r->cfg.ctl.ops->post_flows(r->cfg.ctl.ctl, r->body, r->len);
}

static void post_done(uv_work_t *w, int status)
{
	struct pn_reporter *r = w->data;
	uint64_t now = uv_now(r->cfg.loop);
	int err = status ? status : r->rc;
	struct pn_report_stats st;

	r->in_flight = 0;
	*r->cfg.api_busy = 0;
	pn_report_done(r->core, err, now);
	pn_report_stats(r->core, &st);
	if (err == PN_E_CTL_REJECTED)
		PN_LOG_WARN("connector", "report_refused", "events=%zu bytes=%zu%s", r->n, r->len,
			    r->n > 1 ? " (retrying in halves)" : " (event dropped)");
	else if (err)
		PN_LOG_WARN("connector", "report_failed",
			    "events=%zu err=%s retry_ms=%" PRIu32 " pending=%zu", r->n,
			    pn_errname(err), st.backoff_ms, st.pending);
	schedule(r);
}

static void on_send(uv_timer_t *t)
{
	schedule(t->data);
}

static void on_tick(uv_timer_t *t)
{
	log_dropped(t->data);
}

/* Send a batch if one is due, else arm the timer for when one will be. */
static void schedule(struct pn_reporter *r)
{
	uint64_t now, due;
	int flush = r->closing;

	if (r->in_flight || r->closed_handles)
		return;
	uv_update_time(r->cfg.loop);
	now = uv_now(r->cfg.loop);
	if (r->closing) {
		struct pn_report_stats st;
		pn_report_stats(r->core, &st);
		if (!st.pending || now >= r->stop_at) {
			finish(r);
			return;
		}
	}
	if (*r->cfg.api_busy || (r->cfg.api_wanted && *r->cfg.api_wanted)) {
		uv_timer_start(&r->send, on_send, BUSY_RETRY_MS, 0);
		return;
	}
	if (pn_report_take(r->core, now, flush, &r->body, &r->len, &r->n)) {
		r->work.data = r;
		if (uv_queue_work(r->cfg.loop, &r->work, post_work, post_done) == 0) {
			r->in_flight = *r->cfg.api_busy = 1;
			uv_timer_stop(&r->send);
			return;
		}
		pn_report_done(r->core, PN_E_INTERNAL, now); /* keep; retry later */
	}
	due = pn_report_due(r->core);
	if (r->closing && due > r->stop_at)
		due = r->stop_at;
	if (due == UINT64_MAX)
		uv_timer_stop(&r->send);
	else
		uv_timer_start(&r->send, on_send, due > now ? due - now : 0, 0);
}

int pn_reporter_new(const struct pn_reporter_config *cfg, struct pn_reporter **out)
{
	struct pn_reporter *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	if (!r->cfg.core.seed)
		r->cfg.core.seed = (uint64_t)uv_hrtime() | 1;
	if ((rc = pn_report_new(&r->cfg.core, &r->core)) != 0) {
		free(r);
		return rc;
	}
	uv_timer_init(cfg->loop, &r->send);
	uv_timer_init(cfg->loop, &r->tick);
	r->send.data = r->tick.data = r;
	uv_timer_start(&r->tick, on_tick, DROP_LOG_MS, DROP_LOG_MS);
	uv_unref((uv_handle_t *)&r->tick); /* housekeeping keeps no loop alive */
	*out = r;
	return 0;
}

void pn_reporter_event(const struct pn_connector_event *ev, void *reporter)
{
	struct pn_reporter *r = reporter;
	uint64_t now, due;

	if (!r || r->closed_handles || uv_is_closing((uv_handle_t *)&r->send))
		return;
	now = uv_now(r->cfg.loop);
	pn_report_push(r->core, ev, now); /* a drop is counted and logged by the tick */
	if (r->in_flight)
		return;
	/* Re-arm only if this event makes a batch due sooner than planned. */
	due = pn_report_due(r->core);
	if (!uv_is_active((uv_handle_t *)&r->send) || due < now + uv_timer_get_due_in(&r->send))
		schedule(r);
}

void pn_reporter_close(struct pn_reporter *r, uint32_t deadline_ms, void (*cb)(void *arg),
		       void *arg)
{
	r->close_cb = cb;
	r->close_arg = arg;
	r->closing = 1;
	uv_update_time(r->cfg.loop);
	r->stop_at = uv_now(r->cfg.loop) + deadline_ms;
	schedule(r);
}

void pn_reporter_stats(const struct pn_reporter *r, struct pn_report_stats *st)
{
	pn_report_stats(r->core, st);
}
