#ifndef PN_CONTROLLER_METRICS_H
#define PN_CONTROLLER_METRICS_H
/*
 * The controller's metrics (postern_controller_*, core/metrics.h): push
 * subscribers and lag, store latency, API refusals by reason, credentials
 * issued, the policy version.  Served two ways:
 *   - GET /v1/metrics under the API (READ access: an admin or read-only
 *     admin key), metrics.c;
 *   - `--metrics-listen ADDR:PORT`: a plain-HTTP listener of its own
 *     (libmicrohttpd, GET /metrics only, few connections, short idle
 *     timeout, small request memory), metrics_listen.c; off by default.
 * The counters are atomics bumped where things happen (router, enroll,
 * push, store); a scrape reads them from whichever thread serves it.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct pn_ctl;
struct pn_metrics;

/* Counters of the API (embedded in struct pn_ctl). */
struct pn_ctl_stats {
	atomic_uint_least64_t unauthenticated, forbidden, store_down; /* refusals */
	atomic_uint_least64_t creds_issued;
};

/* Fill m.  0 or the registry's error. */
int pn_controller_metrics(struct pn_ctl *ctl, struct pn_metrics *m);
/* The exposition text (heap, *len bytes; free()).  0 or an error. */
int pn_controller_metrics_text(struct pn_ctl *ctl, char **text, size_t *len);

struct pn_ctl_mlisten;
/* Listen on addr ("ip:port", "[v6]:port"; port 0: any).  0, PN_E_CONFIG,
 * PN_E_IO (cannot listen), -ENOMEM. */
int pn_ctl_mlisten_start(struct pn_ctl *ctl, const char *addr, struct pn_ctl_mlisten **out);
uint16_t pn_ctl_mlisten_port(const struct pn_ctl_mlisten *l);
/* NULL-safe. */
void pn_ctl_mlisten_stop(struct pn_ctl_mlisten *l);
#endif
