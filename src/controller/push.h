#ifndef PN_CONTROLLER_PUSH_H
#define PN_CONTROLLER_PUSH_H
/*
 * Push channel: server-sent events over the API's HTTPS with mutual TLS,
 * event-driven: a subscriber holds a suspended connection in the HTTP
 * server's poll loops, not a thread (push.c).
 * GET /v1/ctl/stream?since=V opens a stream; the controller immediately
 * sends the subscriber's current state (policy version >= V), then
 * one event per new policy version (changes are coalesced: a subscriber
 * always receives the latest state), and a comment line every
 * PN_PUSH_KEEPALIVE_S seconds.  Committed changes wake subscribers through
 * pn_push_notify, which the store's watcher (PostgreSQL LISTEN/NOTIFY) also
 * calls for changes committed by other controllers; a 1 s poll of the
 * stored version is the fallback (and the only cross-process path with
 * SQLite).
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct pn_ctl;
struct pn_req;
struct pn_push;
struct MHD_Response;

#define PN_PUSH_KEEPALIVE_S    10
#define PN_PUSH_IDLE_TIMEOUT_S 45
#define PN_PUSH_STREAM_MAX_S   600 /* = PN_CTLAPI_STREAM_MAX_S */

int pn_push_new(struct pn_ctl *ctl, struct pn_push **out);
/* End every stream (resumes suspended ones, which then end) and stop the
 * ticker thread; call before stopping the HTTP server.  NULL-safe. */
void pn_push_shutdown(struct pn_push *p);
void pn_push_free(struct pn_push *p);
/* Open push streams now (for logs and benchmarks); 0 for NULL. */
size_t pn_push_subscribers(struct pn_push *p);
/* For the metrics: events sent for a new policy version (a subscriber's
 * first state and re-signings not counted) and their lag, from when this
 * controller learnt of the version (its commit, the store's notification
 * or the 1 s poll) to the event being queued on the stream. */
struct pn_push_stats {
	size_t subscribers;
	uint64_t events, lag_ms_sum, last_lag_ms;
};
void pn_push_stats(struct pn_push *p, struct pn_push_stats *st);
/* A change with this policy version was committed. */
void pn_push_notify(struct pn_push *p, uint64_t version);
/* The streaming response for a request the stream handler accepted. */
struct MHD_Response *pn_push_response(struct pn_req *r);
/* Handler for GET /v1/ctl/stream (component). */
int pn_push_handle_stream(struct pn_req *r);
#endif
