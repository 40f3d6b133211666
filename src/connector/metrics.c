/*
 * The connector's metrics (core/metrics.h), read at scrape time on the
 * loop thread from the connector's own counters and its open tunnels and
 * flows.
 */
#include <string.h>

#include "connector/connector_int.h"
#include "core/metrics.h"

#define G PN_METRIC_GAUGE
#define C PN_METRIC_COUNTER
static const struct pn_metric_def defs[] = {
    {"postern_connector_tunnels", G, NULL, 0, "Client tunnels open now."},
    {"postern_connector_tunnel_paths", G, "path", 8,
     "Open tunnels by the path they use now (direct, relay_udp, relay_tls, relay_ws)."},
    {"postern_connector_flows_open", G, NULL, 0, "Flows open now."},
    {"postern_connector_flows_total", C, NULL, 0, "Flows allowed by policy."},
    {"postern_connector_flows_denied_total", C, "reason", PN_METRICS_REASONS_MAX + 1,
     "Flows denied or failed before opening, by reason (policy reason or flow code)."},
    {"postern_connector_flows_revoked_total", C, NULL, 0,
     "Open flows closed because a policy change or revocation ended their grant."},
    {"postern_connector_flow_bytes_total", C, "direction", 2,
     "Flow payload bytes: up (client to resource) and down (resource to client)."},
    {"postern_connector_handshake_failures_total", C, "cause", PN_METRICS_REASONS_MAX + 1,
     "Tunnel handshakes that failed before the client was accepted, by cause."},
    {"postern_connector_quic_retries_total", C, NULL, 0,
     "QUIC Retry packets sent (address validation)."},
    {"postern_connector_quic_dropped_datagrams_total", C, NULL, 0,
     "Datagrams dropped before any connection state (not an acceptable Initial, bad "
     "token, caps reached)."},
};
#undef G
#undef C

static const char *const path_label[] = {"direct", "relay_udp", "relay_tls", "relay_ws"};

int pn_connector_metrics(struct pn_connector *c, struct pn_metrics *m)
{
	struct pn_tep_stats ts;
	uint64_t up = c->ended_up, down = c->ended_down;
	unsigned ntun = 0;
	int r;

	if ((r = pn_metrics_declare(m, defs, sizeof(defs) / sizeof(defs[0]))) != 0)
		return r;
	for (size_t i = 0; i < sizeof(path_label) / sizeof(path_label[0]); i++)
		if ((r = pn_metrics_set1(m, "postern_connector_tunnel_paths", path_label[i], 0)))
			return r;
	for (const struct ctun *ct = c->tuns; ct; ct = ct->next) {
		struct pn_tunnel_info ti;

		ntun++;
		for (const struct cflow *cf = ct->flows; cf; cf = cf->next)
			if (!cf->ended) {
				up += cf->up;
				down += cf->down;
			}
		if (!ct->t)
			continue;
		pn_tunnel_info(ct->t, &ti);
		if (ti.path >= PN_PATH_DIRECT && ti.path <= PN_PATH_RELAY_WS &&
		    (r = pn_metrics_add1(m, "postern_connector_tunnel_paths",
					 path_label[ti.path - PN_PATH_DIRECT], 1)))
			return r;
	}
	pn_tep_stats(c->tep, &ts);
	if ((r = pn_metrics_set(m, "postern_connector_tunnels", NULL, ntun)) ||
	    (r = pn_metrics_set(m, "postern_connector_flows_open", NULL, c->stats.flows)) ||
	    (r = pn_metrics_set(m, "postern_connector_flows_total", NULL,
				(double)c->stats.flows_allowed)) ||
	    (r = pn_metrics_set(m, "postern_connector_flows_revoked_total", NULL,
				(double)c->stats.flows_revoked)) ||
	    (r = pn_metrics_set1(m, "postern_connector_flow_bytes_total", "up", (double)up)) ||
	    (r = pn_metrics_set1(m, "postern_connector_flow_bytes_total", "down", (double)down)) ||
	    (r = pn_metrics_set(m, "postern_connector_quic_retries_total", NULL,
				(double)ts.retries)) ||
	    (r = pn_metrics_set(m, "postern_connector_quic_dropped_datagrams_total", NULL,
				(double)ts.drops_unknown)) ||
	    (r = pn_metrics_set_reasons(m, "postern_connector_flows_denied_total", &c->denials)))
		return r;
	return pn_metrics_set_reasons(m, "postern_connector_handshake_failures_total",
				      &c->handshake_failures);
}
