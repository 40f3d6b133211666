#ifndef PN_NODE_METRICS_H
#define PN_NODE_METRICS_H
/*
 * The credential metrics every component shares (core/metrics.h), from
 * its identity and runtime: postern_<role>_credential_expiry_timestamp_seconds,
 * _credential_last_renewal_timestamp_seconds, _credential_renewals_total,
 * _credential_renew_failures_total.  role: "relay", "connector", "client".
 */
#include "core/metrics.h"
#include "node/ident.h"
#include "node/node.h"

/* n may be NULL (no controller: nothing renews).  0 or the registry's error. */
int pn_node_metrics(struct pn_metrics *m, const char *role, const struct pn_node_ident *id,
		    const struct pn_node *n);

/* "postern_<role>_<suffix>" into buf (PN_METRICS_NAME_MAX + 1 bytes). */
const char *pn_node_metric_name(char *buf, const char *role, const char *suffix);
#endif
