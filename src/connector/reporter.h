#ifndef PN_CONNECTOR_REPORTER_H
#define PN_CONNECTOR_REPORTER_H
/*
 * The flow reporter: connector/report.h (queue, batches, retries) driven by
 * a libuv timer, each request sent from the thread pool through the
 * controller vtable (node/ctl.h: ctlapi, or a fake one in tests; blocking
 * HTTPS never runs on the loop).  One request at a time, shared
 * with the other users of the ctlapi handle through *api_busy.
 *
 * Logs: report_failed (each failed request, with the backoff),
 * report_refused (a batch the controller refused), flow_reports_dropped
 * (once a second at most while events are dropped, with the count),
 * report_unsent (events still queued when the reporter closed).
 */
#include <uv.h>

#include "connector/report.h"
#include "node/ctl.h"

struct pn_reporter_config {
	uv_loop_t *loop;
	struct pn_node_ctl ctl; /* borrowed; must outlive the reporter (post_flows) */
	int *api_busy;	       /* 1 while any thread-pool call uses api */
	const int *api_wanted; /* optional: another user waits for api; no new request */
	struct pn_report_config core;
};

struct pn_reporter;

/* 0, or the error of pn_report_new. */
int pn_reporter_new(const struct pn_reporter_config *cfg, struct pn_reporter **out);

/* pn_connector_config.report: queue one flow event. */
void pn_reporter_event(const struct pn_connector_event *ev, void *reporter);

/*
 * Send what is queued (partial batches at once) for at most deadline_ms,
 * then close: cb(arg) runs once no request is out and the handles are
 * closed; the reporter is freed after it.  Events still queued are counted
 * in a report_unsent log line.
 */
void pn_reporter_close(struct pn_reporter *r, uint32_t deadline_ms, void (*cb)(void *arg),
		       void *arg);

void pn_reporter_stats(const struct pn_reporter *r, struct pn_report_stats *st);
#endif
