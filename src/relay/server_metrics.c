/*
 * The relay's metrics (core/metrics.h) from the counters the server
 * already keeps (relay/core.h stats, admission, glue counters): read on
 * the loop thread at scrape time, nothing counted twice.
 */
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "relay/server.h"
#include "relay/server_int.h"

/* Counters summed over the workers; the shared ones read under the lock. */
struct totals {
	struct pn_relay_stats st;
	uint32_t npending;
	uint64_t refused_pending, refused_per_ip, refused_auth;
	uint64_t tx_pkts, tx_bytes, tx_drops, gso_sends, records, writes, handoffs, handoff_drops;
};

static void totals(const struct pn_relay_server *srv, struct totals *t)
{
	struct pn_relay_server *s = (struct pn_relay_server *)srv; /* the lock */

	memset(t, 0, sizeof(*t));
	if (s->mt)
		uv_mutex_lock(&s->mu);
	t->st = *pn_relay_core_stats(srv->core);
	t->npending = srv->adm.npending;
	t->refused_pending = srv->adm.refused_pending;
	t->refused_per_ip = srv->adm.refused_per_ip;
	t->refused_auth = srv->refused_auth;
	if (s->mt)
		uv_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = srv->w[i];
		t->tx_pkts += W_GET(w->tx_pkts);
		t->tx_bytes += W_GET(w->tx_bytes);
		t->tx_drops += W_GET(w->tx_drops);
		t->gso_sends += W_GET(w->gso_sends);
		t->st.drop_queue += W_GET(w->drop_queue) + W_GET(w->xq_drops);
		t->records += W_GET(w->sst.records);
		t->writes += W_GET(w->sst.writes);
		t->handoffs += W_GET(w->xq_sent);
		t->handoff_drops += W_GET(w->xq_drops);
	}
}

/* "a,b,c": one counter of every worker. */
static size_t per_worker(const struct pn_relay_server *srv, size_t field, char *buf, size_t n)
{
	size_t off = 0;

	for (unsigned i = 0; i < srv->nworkers && off < n; i++) {
		const uint64_t *v = (const uint64_t *)((const char *)srv->w[i] + field);
		off += (size_t)snprintf(buf + off, n - off, "%s%llu", i ? "," : "",
					(unsigned long long)__atomic_load_n(v, __ATOMIC_RELAXED));
	}
	return off;
}

void pn_relay_server_stats_line(const struct pn_relay_server *srv, char *buf, size_t n)
{
	struct totals t;
	const struct pn_relay_stats *st = &t.st;
	char rx[256], str[256], ho[256];
	size_t off;

	totals(srv, &t);
	per_worker(srv, offsetof(struct worker, rx_pkts), rx, sizeof(rx));
	per_worker(srv, offsetof(struct worker, streams), str, sizeof(str));
	per_worker(srv, offsetof(struct worker, xq_sent), ho, sizeof(ho));
	off = (size_t)snprintf(
	    buf, n,
	    "sessions=%llu peers=%llu connectors=%llu pending=%u opened=%llu closed=%llu "
	    "denied=%llu "
	    "udp_rx_pkts=%llu udp_rx_bytes=%llu fwd_pkts=%llu fwd_bytes=%llu tx_pkts=%llu "
	    "tx_bytes=%llu "
	    "gso_sends=%llu stun=%llu binds_ok=%llu binds_bad=%llu binds_challenged=%llu "
	    "drop_malformed=%llu "
	    "drop_no_session=%llu "
	    "drop_addr=%llu drop_queue=%llu drop_amplification=%llu drop_denied=%llu "
	    "tx_drops=%llu "
	    "refused_pending=%llu "
	    "refused_auth=%llu gro=%d gso=%d st_records=%llu st_writes=%llu",
	    (unsigned long long)st->sessions, (unsigned long long)st->peers,
	    (unsigned long long)st->connectors, t.npending, (unsigned long long)st->sessions_opened,
	    (unsigned long long)st->sessions_closed, (unsigned long long)st->opens_denied,
	    (unsigned long long)st->udp_rx_pkts, (unsigned long long)st->udp_rx_bytes,
	    (unsigned long long)st->fwd_pkts, (unsigned long long)st->fwd_bytes,
	    (unsigned long long)t.tx_pkts, (unsigned long long)t.tx_bytes,
	    (unsigned long long)t.gso_sends, (unsigned long long)st->stun,
	    (unsigned long long)st->binds_ok, (unsigned long long)st->binds_bad,
	    (unsigned long long)st->binds_challenged, (unsigned long long)st->drop_malformed,
	    (unsigned long long)st->drop_no_session, (unsigned long long)st->drop_addr,
	    (unsigned long long)st->drop_queue, (unsigned long long)st->drop_amplification,
	    (unsigned long long)st->drop_denied, (unsigned long long)t.tx_drops,
	    (unsigned long long)t.refused_pending, (unsigned long long)t.refused_auth, srv->gro,
	    srv->gso, (unsigned long long)t.records, (unsigned long long)t.writes);
	if (off < n)
		snprintf(buf + off, n - off,
			 " workers=%u handoffs=%llu handoff_drops=%llu worker_udp_rx=%s "
			 "worker_streams=%s worker_handoffs=%s",
			 srv->nworkers, (unsigned long long)t.handoffs,
			 (unsigned long long)t.handoff_drops, rx, str, ho);
}

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
    {"postern_relay_workers", G, NULL, 0, "Worker loops (threads) of the relay."},
    {"postern_relay_worker_udp_received_packets_total", C, "worker", PN_RELAY_MAX_WORKERS,
     "UDP datagrams received, by worker (the kernel spreads sources over the workers)."},
    {"postern_relay_worker_streams_total", C, "worker", PN_RELAY_MAX_WORKERS,
     "Stream connections accepted, by worker."},
    {"postern_relay_worker_handoffs_total", C, "worker", PN_RELAY_MAX_WORKERS,
     "Messages a worker handed to a stream owned by another worker."},
};
#undef G
#undef C

int pn_relay_server_metrics(struct pn_relay_server *srv, struct pn_metrics *m)
{
	struct totals t;
	const struct pn_relay_stats *st = &t.st;
	int r;

	totals(srv, &t);
	const struct {
		const char *name;
		double v;
	} one[] = {
	    {"postern_relay_sessions", (double)st->sessions},
	    {"postern_relay_peers", (double)st->peers},
	    {"postern_relay_connectors", (double)st->connectors},
	    {"postern_relay_pending_connections", t.npending},
	    {"postern_relay_sessions_opened_total", (double)st->sessions_opened},
	    {"postern_relay_sessions_closed_total", (double)st->sessions_closed},
	    {"postern_relay_session_opens_denied_total", (double)st->opens_denied},
	    {"postern_relay_udp_received_packets_total", (double)st->udp_rx_pkts},
	    {"postern_relay_udp_received_bytes_total", (double)st->udp_rx_bytes},
	    {"postern_relay_udp_sent_packets_total", (double)t.tx_pkts},
	    {"postern_relay_udp_sent_bytes_total", (double)t.tx_bytes},
	    {"postern_relay_forwarded_packets_total", (double)st->fwd_pkts},
	    {"postern_relay_forwarded_bytes_total", (double)st->fwd_bytes},
	    {"postern_relay_stun_requests_total", (double)st->stun},
	    {"postern_relay_workers", (double)srv->nworkers},
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
	    {"postern_relay_drops_total", "send_failed", (double)t.tx_drops},
	    {"postern_relay_refused_connections_total", "pending_full",
	     (double)(t.refused_pending - t.refused_per_ip)},
	    {"postern_relay_refused_connections_total", "per_source", (double)t.refused_per_ip},
	    {"postern_relay_refused_connections_total", "auth", (double)t.refused_auth},
	};

	if ((r = pn_metrics_declare(m, defs, sizeof(defs) / sizeof(defs[0]))) != 0)
		return r;
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		if ((r = pn_metrics_set(m, one[i].name, NULL, one[i].v)) != 0)
			return r;
	for (size_t i = 0; i < sizeof(lab) / sizeof(lab[0]); i++)
		if ((r = pn_metrics_set1(m, lab[i].name, lab[i].label, lab[i].v)) != 0)
			return r;
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = srv->w[i];
		char idx[16];
		snprintf(idx, sizeof(idx), "%u", i);
		if ((r = pn_metrics_set1(m, "postern_relay_worker_udp_received_packets_total", idx,
					 (double)W_GET(w->rx_pkts))) != 0 ||
		    (r = pn_metrics_set1(m, "postern_relay_worker_streams_total", idx,
					 (double)W_GET(w->streams))) != 0 ||
		    (r = pn_metrics_set1(m, "postern_relay_worker_handoffs_total", idx,
					 (double)W_GET(w->xq_sent))) != 0)
			return r;
	}
	return 0;
}
