/*
 * The relay's metrics (core/metrics.h) from the counters the server
 * already keeps (relay/core.h stats, admission, glue counters): read on
 * the loop thread at scrape time, nothing counted twice.
 */
#include "core/metrics.h"
#include "relay/server.h"
#include "relay/server_int.h"

#define G PN_METRIC_GAUGE
#define C PN_METRIC_COUNTER
static const struct pn_metric_def defs[] = {
    {"postern_relay_sessions", G, NULL, 0, "Relay sessions open now."},
    {"postern_relay_peers", G, NULL, 0, "Authenticated stream connections (clients and connectors)."},
    {"postern_relay_connectors", G, NULL, 0, "Connectors registered now."},
    {"postern_relay_pending_connections", G, NULL, 0,
     "Stream connections not yet authenticated."},
    {"postern_relay_sessions_opened_total", C, NULL, 0, "Relay sessions opened."},
    {"postern_relay_sessions_closed_total", C, NULL, 0, "Relay sessions closed."},
    {"postern_relay_session_opens_denied_total", C, NULL, 0,
     "Session requests refused (not authorized, no such connector, limits)."},
    {"postern_relay_udp_received_packets_total", C, NULL, 0, "UDP datagrams received."},
    {"postern_relay_udp_received_bytes_total", C, NULL, 0, "UDP bytes received."},
    {"postern_relay_udp_sent_packets_total", C, NULL, 0, "UDP datagrams sent."},
    {"postern_relay_udp_sent_bytes_total", C, NULL, 0, "UDP bytes sent."},
    {"postern_relay_forwarded_packets_total", C, NULL, 0,
     "Tunnel packets forwarded between the sides of a session (any carrier)."},
    {"postern_relay_forwarded_bytes_total", C, NULL, 0, "Tunnel bytes forwarded."},
    {"postern_relay_stun_requests_total", C, NULL, 0, "STUN Binding requests answered."},
    {"postern_relay_binds_total", C, "result", 4,
     "UDP BIND requests by result (ok, bad, challenged)."},
    {"postern_relay_drops_total", C, "reason", 8,
     "Datagrams dropped, by reason (peer_filter: from a denied peer address, never "
     "answered)."},
    {"postern_relay_refused_connections_total", C, "reason", 4,
     "Stream connections refused: pending_full (pending table full, oldest evicted), "
     "per_source (the source address's pending cap), auth (failed authentication or "
     "capacity)."},
};
#undef G
#undef C

int pn_relay_server_metrics(struct pn_relay_server *srv, struct pn_metrics *m)
{
	const struct pn_relay_stats *st = pn_relay_core_stats(srv->core);
	const struct {
		const char *name;
		double v;
	} one[] = {
	    {"postern_relay_sessions", (double)st->sessions},
	    {"postern_relay_peers", (double)st->peers},
	    {"postern_relay_connectors", (double)st->connectors},
	    {"postern_relay_pending_connections", srv->adm.npending},
	    {"postern_relay_sessions_opened_total", (double)st->sessions_opened},
	    {"postern_relay_sessions_closed_total", (double)st->sessions_closed},
	    {"postern_relay_session_opens_denied_total", (double)st->opens_denied},
	    {"postern_relay_udp_received_packets_total", (double)st->udp_rx_pkts},
	    {"postern_relay_udp_received_bytes_total", (double)st->udp_rx_bytes},
	    {"postern_relay_udp_sent_packets_total", (double)srv->tx_pkts},
	    {"postern_relay_udp_sent_bytes_total", (double)srv->tx_bytes},
	    {"postern_relay_forwarded_packets_total", (double)st->fwd_pkts},
	    {"postern_relay_forwarded_bytes_total", (double)st->fwd_bytes},
	    {"postern_relay_stun_requests_total", (double)st->stun},
	};
	const struct {
		const char *name, *label;
		double v;
	} lab[] = {
	    {"postern_relay_binds_total", "ok", (double)st->binds_ok},
	    {"postern_relay_binds_total", "bad", (double)st->binds_bad},
	    {"postern_relay_binds_total", "challenged", (double)st->binds_challenged},
	    {"postern_relay_drops_total", "malformed", (double)st->drop_malformed},
	    {"postern_relay_drops_total", "no_session", (double)st->drop_no_session},
	    {"postern_relay_drops_total", "unbound_source", (double)st->drop_addr},
	    {"postern_relay_drops_total", "queue_full", (double)st->drop_queue},
	    {"postern_relay_drops_total", "amplification", (double)st->drop_amplification},
	    {"postern_relay_drops_total", "peer_filter", (double)st->drop_denied},
	    {"postern_relay_drops_total", "send_failed", (double)srv->tx_drops},
	    {"postern_relay_refused_connections_total", "pending_full",
	     (double)(srv->adm.refused_pending - srv->adm.refused_per_ip)},
	    {"postern_relay_refused_connections_total", "per_source",
	     (double)srv->adm.refused_per_ip},
	    {"postern_relay_refused_connections_total", "auth", (double)srv->refused_auth},
	};
	int r;

	if ((r = pn_metrics_declare(m, defs, sizeof(defs) / sizeof(defs[0]))) != 0)
		return r;
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		if ((r = pn_metrics_set(m, one[i].name, NULL, one[i].v)) != 0)
			return r;
	for (size_t i = 0; i < sizeof(lab) / sizeof(lab[0]); i++)
		if ((r = pn_metrics_set1(m, lab[i].name, lab[i].label, lab[i].v)) != 0)
			return r;
	return 0;
}
