#ifndef PN_CONNECTOR_REPORT_H
#define PN_CONNECTOR_REPORT_H
/*
 * Flow reports to the controller, sans I/O: a bounded queue of encoded flow
 * events and the batcher that turns it into POST /v1/ctl/flows bodies.
 * The caller owns the clock, the timer and the HTTPS request
 * (connector/reporter.h is the libuv + ctlapi glue).
 *
 *   pn_report_push(ev, now)        queue one event (encoded at once)
 *   pn_report_due()                when to call pn_report_take next
 *   pn_report_take(now) -> body    one request body, or nothing due
 *   pn_report_done(err, now)       its outcome
 *
 * Audit data is not lost silently:
 *  - a body never exceeds the controller's limits (PN_CTLAPI_BODY_MAX bytes,
 *    PN_CTLAPI_FLOW_BATCH_MAX events; ctlapi/limits.h): batches are cut by
 *    encoded size;
 *  - a failed request (controller unreachable, 5xx, 401/403) is retried
 *    with exponential backoff (jittered), its events kept;
 *  - a batch the controller refuses (other 4xx) is retried in halves, so
 *    one bad event cannot hold up the others; an event refused on its own
 *    is dropped and counted (dropped_refused);
 *  - the queue is bounded (events and bytes); an event that does not fit
 *    is dropped and counted (dropped_full); pn_report_take_dropped gives
 *    the count since the last call, for one log line per burst.
 * Events are sent in the order they were queued.
 */
#include <stddef.h>
#include <stdint.h>

#include "connector/connector.h"

#define PN_REPORT_QUEUE_EVENTS	 65536	     /* default queue bound, events */
#define PN_REPORT_QUEUE_BYTES	 (32u << 20) /* default queue bound, encoded bytes */
#define PN_REPORT_FLUSH_MS	 1000	     /* a partial batch waits at most this long */
#define PN_REPORT_BACKOFF_MIN_MS 250
#define PN_REPORT_BACKOFF_MAX_MS 30000

struct pn_report_config {
	size_t max_events; /* queue bound (0: PN_REPORT_QUEUE_EVENTS) */
	size_t max_bytes;  /* queue bound (0: PN_REPORT_QUEUE_BYTES) */
	size_t body_max;   /* request body bound (0: PN_CTLAPI_BODY_MAX) */
	size_t batch_max;  /* events per request (0: PN_CTLAPI_FLOW_BATCH_MAX) */
	uint32_t flush_ms; /* 0: PN_REPORT_FLUSH_MS */
	uint32_t backoff_min_ms, backoff_max_ms; /* 0: defaults */
	uint64_t seed;				 /* backoff jitter */
};

struct pn_report;

/* 0, PN_E_INVAL (body_max too small for one event), -ENOMEM. */
int pn_report_new(const struct pn_report_config *cfg, struct pn_report **out);
void pn_report_free(struct pn_report *r); /* NULL-safe */

/*
 * Queue one event (its strings are copied, cut to the controller's field
 * limits).  0; PN_E_NOSPACE (queue full) or -ENOMEM: the event is dropped
 * and counted.
 */
int pn_report_push(struct pn_report *r, const struct pn_connector_event *ev, uint64_t now_ms);

/*
 * When a request is next due (ms, same clock as now_ms): at once if a full
 * batch is waiting, else when the oldest event has waited flush_ms, not
 * before a retry's backoff ends.  UINT64_MAX: nothing to send, or a request
 * is out (call again after pn_report_done).
 */
uint64_t pn_report_due(const struct pn_report *r);

/*
 * If a request is due at now_ms (or `flush` is set and events wait, the
 * backoff still applying): 1, *body, *len (valid until pn_report_done; a
 * JSON object with an "events" array) and *n events in it.  Else 0.  One request
 * at a time: after a 1, call pn_report_done before the next take.
 */
int pn_report_take(struct pn_report *r, uint64_t now_ms, int flush, const char **body, size_t *len,
		   size_t *n);

/*
 * Outcome of the request from the last take: 0 (stored: its events leave
 * the queue), PN_E_CTL_REJECTED (refused as a request: halved, or the one
 * event dropped), anything else (kept, retried after backoff).
 */
void pn_report_done(struct pn_report *r, int err, uint64_t now_ms);

struct pn_report_stats {
	uint64_t queued, stored; /* events accepted / confirmed stored */
	uint64_t dropped_full, dropped_refused;
	uint64_t requests, failures;   /* requests sent / failed (retried) */
	size_t pending, pending_bytes; /* in the queue now */
	uint32_t backoff_ms;	       /* current backoff, 0 if none */
};
void pn_report_stats(const struct pn_report *r, struct pn_report_stats *st);

/* Events dropped (either way) since the last call. */
uint64_t pn_report_take_dropped(struct pn_report *r);
#endif
