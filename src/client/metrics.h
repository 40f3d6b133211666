#ifndef PN_CLIENT_METRICS_H
#define PN_CLIENT_METRICS_H
/*
 * The client's metrics (postern_client_*, core/metrics.h): tunnels by
 * path, flows, proxy outcomes, tunnel bytes each way, tunnel failures by
 * cause, the access list version; read at scrape time on the loop thread
 * from the tunnels' and the proxy's own counters.  The daemon adds the
 * credential metrics (node/metrics.h).
 */
#include <stdint.h>

#include "client/proxy.h"
#include "client/tunnels.h"
#include "core/metrics.h"

/* 0 or the registry's error (-ENOMEM also when the proxy's status is). */
int pn_client_metrics(struct pn_metrics *m, const struct pn_ctuns *t, const struct pn_proxy *p,
		      uint64_t acl_version);
#endif
