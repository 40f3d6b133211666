/* Credential metrics of a component.  See metrics.h. */
#include "node/metrics.h"

#include <stdio.h>
#include <string.h>

const char *pn_node_metric_name(char *buf, const char *role, const char *suffix)
{
	snprintf(buf, PN_METRICS_NAME_MAX + 1, "postern_%s_%s", role, suffix);
	return buf;
}

int pn_node_metrics(struct pn_metrics *m, const char *role, const struct pn_node_ident *id,
		    const struct pn_node *n)
{
	static const struct {
		const char *suffix;
		enum pn_metric_type type;
		const char *help;
	} defs[] = {
	    {"credential_expiry_timestamp_seconds", PN_METRIC_GAUGE,
	     "Unix time the credential in use expires (not_after)."},
	    {"credential_last_renewal_timestamp_seconds", PN_METRIC_GAUGE,
	     "Unix time of the last renewal adopted (0: none since start)."},
	    {"credential_renewals_total", PN_METRIC_COUNTER, "Credential renewals adopted."},
	    {"credential_renew_failures_total", PN_METRIC_COUNTER,
	     "Credential renewal attempts that failed."},
	};
	struct pn_node_stats st = {0};
	char name[PN_METRICS_NAME_MAX + 1];
	double v[4];
	int r;

	if (n)
		pn_node_stats(n, &st);
	v[0] = id && id->ci_valid ? (double)id->ci.not_after : 0;
	v[1] = (double)st.last_renew_s;
	v[2] = st.renewals;
	v[3] = st.renew_failures;
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		pn_node_metric_name(name, role, defs[i].suffix);
		if ((r = pn_metrics_family(m, name, defs[i].type, defs[i].help, NULL, 0)) != 0 ||
		    (r = pn_metrics_set(m, name, NULL, v[i])) != 0)
			return r;
	}
	return 0;
}
