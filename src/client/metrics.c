/* The client's metrics.  See metrics.h. */
#include "client/metrics.h"

#include <errno.h>

#include <jansson.h>

#define G PN_METRIC_GAUGE
#define C PN_METRIC_COUNTER
static const struct pn_metric_def defs[] = {
    {"postern_client_tunnels", G, NULL, 0, "Tunnels to connectors that are up."},
    {"postern_client_tunnel_paths", G, "path", 8,
     "Tunnels up by the path they use now (direct, relay_udp, relay_tls, relay_ws)."},
    {"postern_client_flows_open", G, NULL, 0, "Flows open now on the tunnels."},
    {"postern_client_flows_total", C, NULL, 0, "Flows opened on the tunnels."},
    {"postern_client_proxy_flows_total", C, "result", 4,
     "SOCKS5 and port-forward connections by outcome: ok, refused (by the connector or "
     "the access list), failed."},
    {"postern_client_proxy_connections_open", G, NULL, 0,
     "SOCKS5 and port-forward connections open now."},
    {"postern_client_tunnel_bytes_total", C, "direction", 2,
     "QUIC bytes of the tunnels, sent (tx) and received (rx)."},
    {"postern_client_tunnel_failures_total", C, "cause", PN_METRICS_REASONS_MAX + 1,
     "Tunnels that failed to come up or were lost, by error (handshake refusals included)."},
    {"postern_client_acl_version", G, NULL, 0, "Policy version of the access list in use."},
};
#undef G
#undef C

static const char *const path_label[] = {"direct", "relay_udp", "relay_tls", "relay_ws"};

static double counter(const json_t *o, const char *key)
{
	return (double)json_integer_value(json_object_get(o, key));
}

int pn_client_metrics(struct pn_metrics *m, const struct pn_ctuns *t, const struct pn_proxy *p,
		      uint64_t acl_version)
{
	struct pn_ctuns_stats st;
	json_t *px = NULL;
	int r;

	if ((r = pn_metrics_declare(m, defs, sizeof(defs) / sizeof(defs[0]))) != 0)
		return r;
	pn_ctuns_stats(t, &st);
	for (unsigned k = PN_PATH_DIRECT; k <= PN_PATH_RELAY_WS; k++)
		if ((r = pn_metrics_set1(m, "postern_client_tunnel_paths",
					 path_label[k - PN_PATH_DIRECT], st.paths[k])))
			return r;
	/* the proxy's counters, as `client status` shows them */
	if (!(px = pn_proxy_status(p)))
		return -ENOMEM;
	if ((r = pn_metrics_set(m, "postern_client_tunnels", NULL, st.up)) ||
	    (r = pn_metrics_set(m, "postern_client_flows_open", NULL, st.flows_open)) ||
	    (r = pn_metrics_set(m, "postern_client_flows_total", NULL, (double)st.flows_total)) ||
	    (r = pn_metrics_set1(m, "postern_client_tunnel_bytes_total", "tx",
				 (double)st.bytes_tx)) ||
	    (r = pn_metrics_set1(m, "postern_client_tunnel_bytes_total", "rx",
				 (double)st.bytes_rx)) ||
	    (r = pn_metrics_set_reasons(m, "postern_client_tunnel_failures_total", st.failures)) ||
	    (r = pn_metrics_set(m, "postern_client_acl_version", NULL, (double)acl_version)) ||
	    (r = pn_metrics_set1(m, "postern_client_proxy_flows_total", "ok",
				 counter(px, "flows_ok"))) ||
	    (r = pn_metrics_set1(m, "postern_client_proxy_flows_total", "refused",
				 counter(px, "flows_refused"))) ||
	    (r = pn_metrics_set1(m, "postern_client_proxy_flows_total", "failed",
				 counter(px, "flows_failed"))) ||
	    (r = pn_metrics_set(m, "postern_client_proxy_connections_open", NULL,
				counter(px, "connections_open"))))
		goto out;
out:
	json_decref(px);
	return r;
}
