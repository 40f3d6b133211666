/* The controller's metrics and GET /v1/metrics.  See metrics.h. */
#include "controller/metrics.h"

#include <stdlib.h>

#include "controller/api.h"
#include "controller/push.h"
#include "core/err.h"
#include "core/metrics.h"

#define G PN_METRIC_GAUGE
#define C PN_METRIC_COUNTER
static const struct pn_metric_def defs[] = {
    {"postern_controller_push_subscribers", G, NULL, 0,
     "Push streams open now (connectors, relays, clients)."},
    {"postern_controller_push_events_total", C, NULL, 0,
     "Policy events sent to subscribers for a new policy version."},
    {"postern_controller_push_lag_seconds_total", C, NULL, 0,
     "Sum of push lag: from this controller learning of a new policy version to its event "
     "being queued for a subscriber (divide by push_events_total for the mean)."},
    {"postern_controller_push_last_lag_seconds", G, NULL, 0,
     "Push lag of the last event sent."},
    {"postern_controller_policy_version", G, NULL, 0, "The stored policy version."},
    {"postern_controller_store_transactions_total", C, "mode", 2,
     "Store transactions begun, read or write."},
    {"postern_controller_store_begin_seconds_total", C, "mode", 2,
     "Time spent beginning store transactions (waiting for the lock or a pooled "
     "connection, BEGIN)."},
    {"postern_controller_store_commits_total", C, NULL, 0, "Store commits."},
    {"postern_controller_store_commit_seconds_total", C, NULL, 0,
     "Time spent in store commits (with SQLite: the durable write)."},
    {"postern_controller_store_commit_failures_total", C, NULL, 0,
     "Store commits that failed (rolled back)."},
    {"postern_controller_store_last_commit_seconds", G, NULL, 0, "Duration of the last commit."},
    {"postern_controller_api_denied_total", C, "reason", 4,
     "API requests refused before their handler: unauthenticated (401), forbidden (403), "
     "store_down (503)."},
    {"postern_controller_credentials_issued_total", C, NULL, 0,
     "Credentials issued (enrollments, renewals, logins)."},
};
#undef G
#undef C

int pn_controller_metrics(struct pn_ctl *ctl, struct pn_metrics *m)
{
	struct pn_push_stats ps;
	struct pn_store_stats ss;
	uint64_t version = 0;
	int r;

	if ((r = pn_metrics_declare(m, defs, sizeof(defs) / sizeof(defs[0]))) != 0)
		return r;
	pn_push_stats(ctl->push, &ps);
	pn_store_stats(ctl->store, &ss);
	/* a read like any request's; no value (0) while the store is away */
	if (pn_store_read(ctl->store) == 0) {
		if (ctl->store->ops->version_get(ctl->store->be, &version))
			version = 0;
		pn_store_rollback(ctl->store);
	}
	if ((r = pn_metrics_set(m, "postern_controller_push_subscribers", NULL,
				(double)ps.subscribers)) ||
	    (r = pn_metrics_set(m, "postern_controller_push_events_total", NULL,
				(double)ps.events)) ||
	    (r = pn_metrics_set(m, "postern_controller_push_lag_seconds_total", NULL,
				(double)ps.lag_ms_sum / 1e3)) ||
	    (r = pn_metrics_set(m, "postern_controller_push_last_lag_seconds", NULL,
				(double)ps.last_lag_ms / 1e3)) ||
	    (r = pn_metrics_set(m, "postern_controller_policy_version", NULL, (double)version)) ||
	    (r = pn_metrics_set1(m, "postern_controller_store_transactions_total", "read",
				 (double)ss.begins[0])) ||
	    (r = pn_metrics_set1(m, "postern_controller_store_transactions_total", "write",
				 (double)ss.begins[1])) ||
	    (r = pn_metrics_set1(m, "postern_controller_store_begin_seconds_total", "read",
				 (double)ss.begin_ns[0] / 1e9)) ||
	    (r = pn_metrics_set1(m, "postern_controller_store_begin_seconds_total", "write",
				 (double)ss.begin_ns[1] / 1e9)) ||
	    (r = pn_metrics_set(m, "postern_controller_store_commits_total", NULL,
				(double)ss.commits)) ||
	    (r = pn_metrics_set(m, "postern_controller_store_commit_seconds_total", NULL,
				(double)ss.commit_ns / 1e9)) ||
	    (r = pn_metrics_set(m, "postern_controller_store_commit_failures_total", NULL,
				(double)ss.commit_failures)) ||
	    (r = pn_metrics_set(m, "postern_controller_store_last_commit_seconds", NULL,
				(double)ss.last_commit_ns / 1e9)) ||
	    (r = pn_metrics_set1(m, "postern_controller_api_denied_total", "unauthenticated",
				 (double)atomic_load(&ctl->stats.unauthenticated))) ||
	    (r = pn_metrics_set1(m, "postern_controller_api_denied_total", "forbidden",
				 (double)atomic_load(&ctl->stats.forbidden))) ||
	    (r = pn_metrics_set1(m, "postern_controller_api_denied_total", "store_down",
				 (double)atomic_load(&ctl->stats.store_down))))
		return r;
	return pn_metrics_set(m, "postern_controller_credentials_issued_total", NULL,
			      (double)atomic_load(&ctl->stats.creds_issued));
}

int pn_controller_metrics_text(struct pn_ctl *ctl, char **text, size_t *len)
{
	struct pn_metrics *m = NULL;
	int r;

	*text = NULL;
	if ((r = pn_metrics_new(&m)) == 0 && (r = pn_controller_metrics(ctl, m)) == 0)
		r = pn_metrics_render(m, text, len);
	pn_metrics_free(m);
	return r;
}

/* GET /v1/metrics (READ): the same text as the metrics listener's. */
static int h_metrics(struct pn_req *r)
{
	size_t len;
	int rc;

	/* the HTTP layer sends r->raw up to its NUL and frees it */
	if ((rc = pn_controller_metrics_text(r->ctl, &r->raw, &len)) != 0)
		return pn_api_error(r, 500, "internal", "metrics: %s", pn_strerror(rc));
	r->raw_type = PN_METRICS_CONTENT_TYPE;
	r->status = 200;
	return 0;
}

const struct pn_route pn_metrics_routes[] = {
    {"GET", "metrics", PN_A_READ, h_metrics, NULL},
    {NULL, NULL, 0, NULL, NULL},
};
