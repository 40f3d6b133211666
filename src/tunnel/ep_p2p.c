/*
 * Tunnel endpoint: direct paths by NAT traversal (docs/tunnel.md, "Direct
 * paths").  Drives the sans-I/O cores of tunnel/p2p.h on the endpoint's
 * direct UDP socket:
 *
 *   endpoint  host candidates (getifaddrs, every 10 s), STUN discovery
 *             from the relays (at start and every 120 s), the NAT kind;
 *             a 50 ms timer while NAT traversal is on.
 *   tunnel    once up: candidates out on the control stream (again when
 *             they change), the peer's in; probing both at once; the
 *             client migrates (QUIC, validated by PATH_CHALLENGE) to the
 *             first address a valid probe or answer came from; on the
 *             direct path, keyed probes keep the NAT mappings (25 s idle,
 *             1 s with flows) and 2.5 s of silence with a probe
 *             unanswered moves the tunnel back to its relay path; new
 *             probing after 5 s, doubling to 60 s.  With one side
 *             behind a symmetric NAT, a birthday game beside the probing
 *             (ep_spray.c, tunnel/spray.h).
 * The connector never migrates: it answers, probes, and follows the
 * client (ngtcp2 validates the client's new address itself).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "tunnel/cand.h"
#include "tunnel/candmsg.h"
#include "tunnel/endpoint_int.h"
#include "tunnel/natdisc.h"
#include "tunnel/natka.h"
#include "tunnel/probe.h"
#include "tunnel/probesched.h"
#include "tunnel/spray.h"

#define MS		  1000000ull
#define GATHER_EVERY_MS	  2000 /* interfaces: a roaming client's new address */
#define DISCOVER_EVERY_MS 120000
#define MIGRATE_WAIT_MS	  3000  /* a migration not validated by then failed */
#define RELAY_KA_MS	  60000 /* keep the relay session (fallback) alive */
#define UNANSWERED_MS	  1500  /* a probe unanswered this long ... */
#define LOG_FLOW_IDS	  8     /* flow ids named in a path change line */

struct ep_p2p_ep {
	struct pn_tep *ep;
	uv_timer_t timer;
	struct sockaddr_storage stun[PN_NATDISC_MAX_SERVERS];
	size_t nstun;
	struct pn_natdisc disc;
	struct pn_cand host[PN_P2P_MAX_CANDS], local[PN_P2P_MAX_CANDS];
	size_t nhost, nlocal;
	int nat;
	uint32_t gen;
	uint64_t gather_at, discover_at;
};

struct ep_p2p {
	uint64_t token, peer_token, txid;
	uint8_t key[PN_PROBE_KEY_LEN], peer_key[PN_PROBE_KEY_LEN];
	uint32_t sent_gen, peer_gen, sched_gen;
	int sent, have_peer, peer_nat;
	struct pn_cand remote[PN_P2P_MAX_CANDS];
	size_t nremote;
	struct pn_probesched sched;
	struct ep_spray *spray; /* one side symmetric (ep_spray.c), or NULL */
	uint64_t created, retry_at, retry_ms;
	/* path accounting */
	struct pn_path *cur;
	struct pn_path *relay; /* client: the path to fall back to */
	uint64_t since, ttd;   /* on this path since; time to the first direct path */
	unsigned switches;
	/* client: migration and liveness */
	int migrating;
	uint64_t migrate_at, last_rx, unanswered_since, last_probe, relay_ka;
	/* answers sent (bounded per second) */
	uint64_t ans_window;
	unsigned ans_count;
	/* replay guards: the highest txid taken from the peer's probes, and
	   from answers to ours (answers name one of our txids) */
	uint64_t peer_txid, ans_txid;
	/* client: NAT keepalive on the direct path (natka.h) */
	struct pn_natka ka;
	unsigned keepalives; /* keepalive probes sent on direct paths */
};

static int is_client(const struct pn_tep *ep)
{
	return ep->cfg.role == PN_TEP_CLIENT;
}

/* ------------------------------------------------------ local side ---- */

static void local_rebuild(struct ep_p2p_ep *pe)
{
	struct pn_cand old[PN_P2P_MAX_CANDS];
	struct sockaddr_storage mapped[PN_NATDISC_MAX_SERVERS];
	size_t nold = pe->nlocal, nm = 0;
	int nat;

	memcpy(old, pe->local, sizeof(old));
	nat = pn_natdisc_result(&pe->disc, pe->host, pe->nhost, mapped, PN_NATDISC_MAX_SERVERS, &nm);
	pe->nlocal = 0;
	for (size_t i = 0; i < pe->nhost; i++)
		pn_cand_add(pe->local, &pe->nlocal, PN_P2P_MAX_CANDS, PN_CAND_HOST,
			    (struct sockaddr *)&pe->host[i].addr);
	for (size_t i = 0; i < nm; i++)
		if (pn_cand_addr_ok((struct sockaddr *)&mapped[i]))
			pn_cand_add(pe->local, &pe->nlocal, PN_P2P_MAX_CANDS, PN_CAND_SRFLX,
				    (struct sockaddr *)&mapped[i]);
	if (nat != pe->nat || nold != pe->nlocal || memcmp(old, pe->local, sizeof(old))) {
		char a[64] = "-";
		if (nm)
			pn_sa_str((struct sockaddr *)&mapped[0], a, sizeof(a));
		pe->nat = nat;
		pe->gen++;
		PN_LOG_INFO("tunnel", "p2p_local", "nat=%s candidates=%zu mapped=%s gen=%u",
			    pn_nat_kind_name(nat), pe->nlocal, a, pe->gen);
	}
}

static void gather(struct ep_p2p_ep *pe)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct ifaddrs *ifa = NULL;
	struct pn_cand old[PN_P2P_MAX_CANDS];
	size_t nold = pe->nhost;
	uint16_t port;

	memcpy(old, pe->host, sizeof(old));
	memset(pe->host, 0, sizeof(pe->host));
	pn_udp_local(pe->ep->sock, &ss, &len);
	port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	pe->nhost = 0;
	if (ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_addr.s_addr != 0
				    : !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		/* bound to one address: that is the only host candidate */
		if (pn_cand_addr_ok((struct sockaddr *)&ss))
			pn_cand_add(pe->host, &pe->nhost, PN_P2P_MAX_CANDS, PN_CAND_HOST,
				    (struct sockaddr *)&ss);
	} else if (getifaddrs(&ifa) == 0) {
		/* the socket is of one family (IPv4 unless bound to [::]) */
		pe->nhost = pn_cand_gather(ifa, ss.ss_family, port, pe->host, PN_P2P_MAX_CANDS / 2);
		freeifaddrs(ifa);
	}
	if (pe->nhost != nold || memcmp(old, pe->host, sizeof(old))) {
		/* our addresses changed (a roaming client): the mappings the
		   relays saw are stale, ask again at the next tick */
		if (pe->gather_at)
			PN_LOG_INFO("tunnel", "p2p_interfaces", "host_candidates=%zu was=%zu",
				    pe->nhost, nold);
		pe->discover_at = 0;
	}
	local_rebuild(pe);
}

static void disc_send(struct ep_p2p_ep *pe, uint64_t now)
{
	struct sockaddr_storage to;
	uint8_t req[PN_STUN_REQUEST_LEN];

	while (pn_natdisc_next(&pe->disc, now, &to, req))
		pn_udp_send(pe->ep->sock, (struct sockaddr *)&to, pn_sa_len((struct sockaddr *)&to),
			    req, sizeof(req), sizeof(req));
}

/* ------------------------------------------------------- per tunnel ---- */

static void send_candidates(struct ep_tunnel *et, struct ep_p2p *a)
{
	struct ep_p2p_ep *pe = et->ep->p2p;
	struct pn_candmsg m;
	uint8_t buf[PN_CANDMSG_MAX];
	struct pn_buf w;

	memset(&m, 0, sizeof(m));
	m.nat = (uint8_t)pe->nat;
	m.gen = pe->gen;
	m.token = a->token;
	memcpy(m.key, a->key, sizeof(m.key));
	for (size_t i = 0; i < pe->nlocal; i++)
		m.c[m.n++] = pe->local[i];
	pn_buf_init_wr(&w, buf, sizeof(buf));
	if (pn_candmsg_encode(&w, &m) == 0 &&
	    pn_tunnel_send_ctl(et->t, PN_CTL_CANDIDATES, buf, pn_buf_len(&w)) == 0) {
		a->sent = 1;
		a->sent_gen = pe->gen;
	}
	pn_wipe(&m, sizeof(m));
	pn_wipe(buf, sizeof(buf));
}

static struct ep_p2p *agent_new(struct ep_tunnel *et, uint64_t now)
{
	struct ep_p2p *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (pn_random(&a->token, sizeof(a->token)) || pn_random(a->key, sizeof(a->key)) ||
	    pn_random(&a->txid, sizeof(a->txid))) {
		free(a);
		return NULL;
	}
	a->created = a->since = now;
	a->retry_ms = PN_P2P_RETRY_MIN_MS;
	pn_natka_init(&a->ka);
	a->cur = pn_tconn_path(pn_tunnel_conn(et->t));
	if (is_client(et->ep) && a->cur && a->cur->kind != PN_PATH_DIRECT)
		a->relay = a->cur;
	return a;
}

void ep_p2p_tunnel_free(struct ep_tunnel *et)
{
	if (et->p2p) {
		ep_spray_free(et, &et->p2p->spray);
		pn_wipe(et->p2p, sizeof(*et->p2p));
	}
	free(et->p2p);
	et->p2p = NULL;
}

static void send_probe(struct ep_tunnel *et, struct ep_p2p *a, const struct sockaddr *to)
{
	uint8_t p[PN_PROBE_LEN];
	struct pn_udp *sock = et->ep->sock;

	/* to the current path's peer: from that path's socket (it may be one
	   of the sockets opened for a symmetric NAT) */
	if (a->cur && ep_path_sock(a->cur) && pn_sa_equal(to, (struct sockaddr *)&a->cur->remote))
		sock = ep_path_sock(a->cur);
	pn_probe_build(p, PN_PROBE_REQ, a->peer_token, ++a->txid, a->peer_key);
	pn_udp_send(sock, to, pn_sa_len(to), p, sizeof(p), sizeof(p));
}

static void start_probing(struct ep_tunnel *et, struct ep_p2p *a, uint64_t now)
{
	a->sched_gen = a->peer_gen;
	if (a->nremote == 0)
		return;
	pn_probesched_start(&a->sched, a->nremote, now);
	/* one side behind a symmetric NAT: many ports at once (spray.h) */
	ep_spray_start(et, &a->spray, pn_spray_role(et->ep->p2p->nat, a->peer_nat), a->remote,
		       a->nremote, now);
	PN_LOG_DEBUG("tunnel", "p2p_probing", "remote=%zu", a->nremote);
	if (is_client(et->ep) && a->relay && a->have_peer && !ep_path_lost(et->ep, a->relay)) {
		/* tell the connector over the relay: it probes back at once
		   (after a NAT forgot the pair, our probes alone are dropped
		   by its NAT) */
		uint8_t p[PN_PROBE_LEN];
		pn_probe_build(p, PN_PROBE_REQ, a->peer_token, ++a->txid, a->peer_key);
		a->relay->ops->send(a->relay, p, sizeof(p), sizeof(p));
	}
}

void ep_p2p_ctl(struct pn_tunnel *t, void *drv, uint8_t type, const uint8_t *body, size_t len)
{
	struct ep_tunnel *et = drv;
	struct pn_tep *ep = et->ep;
	struct ep_p2p_ep *pe = ep->p2p;
	struct pn_candmsg m;
	struct ep_p2p *a;
	struct sockaddr_storage own;
	size_t ignored = 0;

	(void)t;
	if (type != PN_CTL_CANDIDATES || !pe || !ep->sock)
		return; /* not traversing: the message is ignored */
	if (pn_candmsg_decode(body, len, &m) != 0) {
		PN_LOG_WARN("tunnel", "p2p_bad_candidates", "len=%zu", len);
		return;
	}
	if (!et->p2p && !(et->p2p = agent_new(et, ep_now_ns())))
		return;
	a = et->p2p;
	if (a->have_peer && m.gen == a->peer_gen)
		goto out;
	a->have_peer = 1;
	a->peer_gen = m.gen;
	a->peer_nat = m.nat;
	a->peer_token = m.token;
	memcpy(a->peer_key, m.key, sizeof(a->peer_key));
	a->nremote = 0;
	pn_tep_udp_addr(ep, &own);
	for (size_t i = 0; i < m.n; i++) {
		const struct sockaddr *c = (const struct sockaddr *)&m.c[i].addr;
		/* never loopback, multicast, link-local, a relay, or another
		   family than our socket's */
		if (c->sa_family != own.ss_family || !pn_cand_remote_ok(c, pe->stun, pe->nstun)) {
			ignored++;
			continue;
		}
		pn_cand_add(a->remote, &a->nremote, PN_P2P_MAX_CANDS, m.c[i].type, c);
	}
	PN_LOG_INFO("tunnel", "p2p_candidates", "peer_nat=%s candidates=%zu ignored=%zu gen=%u",
		    pn_nat_kind_name(m.nat), a->nremote, ignored, m.gen);
	/* also on a direct path: new candidates from a peer that moved (a
	   roaming client) need our probes to open our NAT toward them */
	start_probing(et, a, ep_now_ns());
out:
	pn_wipe(&m, sizeof(m));
}

/* The path the connection uses changed (observed, never per packet). */
/* "id,id,..." of the tunnel's open flows (at most LOG_FLOW_IDS, then
 * "+N"), "-" for none. */
static void flow_ids_str(const struct pn_tunnel *t, char *out, size_t outsz)
{
	uint64_t ids[LOG_FLOW_IDS];
	size_t n = pn_tunnel_flow_ids(t, ids, LOG_FLOW_IDS), k = 0;
	int w;

	snprintf(out, outsz, "-");
	for (size_t i = 0; i < n && i < LOG_FLOW_IDS && k < outsz; i++, k += (size_t)w)
		if ((w = snprintf(out + k, outsz - k, "%s%016llx", i ? "," : "",
				  (unsigned long long)ids[i])) < 0)
			return;
	if (n > LOG_FLOW_IDS && k < outsz)
		snprintf(out + k, outsz - k, ",+%zu", n - LOG_FLOW_IDS);
}

/* The QUIC keep-alive (a PING after silence) for the path in use.  On a
 * direct path the client's keyed probes (natka.h interval) hold the NAT
 * mappings; the client's QUIC PING only has to come before the idle
 * timeout, every PN_P2P_KEEPALIVE_MS, and the connector sends none: the
 * client's traffic keeps both idle timers.  (A connector PING at the same
 * moment as the client's would punch the pair open again from both sides
 * after the NATs forgot it, by chance of timing, hiding the expiry the
 * client must see to adapt.)  Elsewhere the tunnel's default (relays). */
static void set_keepalive(struct ep_tunnel *et, struct ep_p2p *a)
{
	uint64_t ms = PN_TCONN_KEEPALIVE_MS;

	if (a->cur && a->cur->kind == PN_PATH_DIRECT)
		ms = is_client(et->ep) ? PN_P2P_KEEPALIVE_MS : 0;
	pn_tconn_set_keepalive(pn_tunnel_conn(et->t), ms);
	ep_mark_dirty(et);
}

static void path_changed(struct ep_tunnel *et, struct ep_p2p *a, struct pn_path *p, uint64_t now)
{
	struct pn_tunnel_info ti;
	char id[PN_ID_HEX_LEN + 1], ra[64] = "-", fl[LOG_FLOW_IDS * 17 + 16];

	a->switches++;
	a->since = now;
	a->cur = p;
	pn_tunnel_set_path_kind(et->t, p->kind);
	pn_tunnel_info(et->t, &ti);
	pn_id_hex(ti.peer_id, id);
	if (p->kind == PN_PATH_DIRECT) {
		a->migrating = 0;
		a->last_rx = now;
		a->unanswered_since = 0;
		a->retry_ms = PN_P2P_RETRY_MIN_MS;
		pn_probesched_stop(&a->sched);
		if (!a->ttd)
			a->ttd = now - a->created;
		pn_sa_str((struct sockaddr *)&p->remote, ra, sizeof(ra));
		if (is_client(et->ep) && pn_natka_direct(&a->ka, now / MS))
			PN_LOG_WARN("tunnel", "p2p_mapping_expired",
				    "peer=%s gap_ms=%llu keepalive_ms=%llu expiries=%u", id,
				    (unsigned long long)a->ka.lost_gap_ms,
				    (unsigned long long)a->ka.interval_ms, a->ka.expiries);
	} else if (is_client(et->ep)) {
		a->retry_at = now + a->retry_ms * MS;
		a->retry_ms = a->retry_ms * 2 > PN_P2P_RETRY_MAX_MS ? PN_P2P_RETRY_MAX_MS : a->retry_ms * 2;
	}
	set_keepalive(et, a);
	flow_ids_str(et->t, fl, sizeof(fl));
	PN_LOG_INFO("tunnel", "p2p_path", "peer=%s path=%s remote=%s flows=%u flow_ids=%s "
		    "switches=%u time_to_direct_ms=%llu keepalive_ms=%llu", id,
		    pn_path_kind_name(p->kind), ra, ti.flows, fl, a->switches,
		    (unsigned long long)(a->ttd / MS),
		    (unsigned long long)(is_client(et->ep) ? a->ka.interval_ms : PN_P2P_KEEPALIVE_MS));
}

void ep_p2p_path_seen(struct ep_tunnel *et, uint64_t now)
{
	struct ep_p2p *a = et->p2p;
	struct pn_path *p;

	if (!a || et->dead || et->freeing || !et->t || pn_tunnel_is_dead(et->t))
		return;
	p = pn_tconn_path(pn_tunnel_conn(et->t));
	if (p && p != a->cur)
		path_changed(et, a, p, now);
}

static void client_liveness(struct ep_tunnel *et, struct ep_p2p *a, uint64_t now)
{
	struct pn_tunnel_info ti;
	uint64_t last = a->last_rx > et->direct_rx ? a->last_rx : et->direct_rx;
	uint64_t interval;

	pn_tunnel_info(et->t, &ti);
	interval = (ti.flows ? PN_P2P_LIVENESS_MS : a->ka.interval_ms) * MS;
	if (now - last >= interval && now - a->last_probe >= PN_P2P_LIVENESS_MS * MS &&
	    a->have_peer) {
		send_probe(et, a, (struct sockaddr *)&a->cur->remote);
		if (!ti.flows)
			a->keepalives++;
		a->last_probe = now;
		if (!a->unanswered_since || a->unanswered_since < last)
			a->unanswered_since = now;
	}
	/* With the relay to move to, a false alarm costs a switch; with no
	   other path it ends the tunnel, and on a lossy, slow path (20% loss,
	   RTT up to 800 ms: security case 15) both ends' loss recovery can be
	   silent for longer than PN_P2P_DEAD_MS: wait longer before that. */
	if (a->unanswered_since > last && now - a->unanswered_since >= UNANSWERED_MS * MS &&
	    now - last >= (a->relay ? PN_P2P_DEAD_MS : PN_P2P_LAST_DEAD_MS) * MS && !a->migrating) {
		char id[PN_ID_HEX_LEN + 1], fl[LOG_FLOW_IDS * 17 + 16];
		uint64_t gap = (a->unanswered_since - last) / MS;
		int r = PN_E_TUN_NO_PATH;
		pn_id_hex(ti.peer_id, id);
		flow_ids_str(et->t, fl, sizeof(fl));
		pn_natka_lost(&a->ka, gap, now / MS);
		/* the relay path is still attached to this tunnel and known to
		   reach the peer (the tunnel started there): move at once, QUIC
		   validates it afterwards */
		if (a->relay)
			r = pn_tconn_migrate_now(pn_tunnel_conn(et->t), a->relay, now);
		PN_LOG_WARN("tunnel", "p2p_direct_lost",
			    "peer=%s silent_ms=%llu gap_ms=%llu flows=%u flow_ids=%s relay=%s err=%s",
			    id, (unsigned long long)((now - last) / MS), (unsigned long long)gap,
			    ti.flows, fl, a->relay ? "yes" : "gone", pn_errname(r));
		if (!a->relay) {
			/* its relay session ended while the tunnel was direct: no
			   path left; flows end with a reset now, not at the idle
			   timeout */
			pn_tunnel_path_lost(et->t);
			ep_mark_dirty(et);
			return;
		}
		a->migrating = 1;
		a->migrate_at = now;
		ep_mark_dirty(et);
	}
	/* the relay session is the fallback: keep it from idling out */
	if (a->relay && a->have_peer && now - a->relay_ka >= RELAY_KA_MS * MS) {
		uint8_t p[PN_PROBE_LEN];
		if (a->relay_ka) {
			pn_probe_build(p, PN_PROBE_REQ, a->peer_token, ++a->txid, a->peer_key);
			a->relay->ops->send(a->relay, p, sizeof(p), sizeof(p));
		}
		a->relay_ka = now;
	}
}

static void tick_tunnel(struct ep_tunnel *et, uint64_t now)
{
	struct pn_tep *ep = et->ep;
	struct ep_p2p *a;
	struct pn_tunnel_info ti;
	struct pn_path *p;
	int i;

	if (et->dead || et->freeing || !et->t || pn_tunnel_is_dead(et->t))
		return;
	if (!(a = et->p2p)) {
		pn_tunnel_info(et->t, &ti);
		if (ti.state != PN_TUNNEL_UP)
			return;
		/* a tunnel opened on a direct address (--direct) stays there */
		p = pn_tconn_path(pn_tunnel_conn(et->t));
		if (is_client(ep) && p && p->kind == PN_PATH_DIRECT)
			return;
		if (!(a = et->p2p = agent_new(et, now)))
			return;
	}
	if (a->relay && ep_path_lost(ep, a->relay)) {
		char id[PN_ID_HEX_LEN + 1];
		pn_tunnel_info(et->t, &ti);
		pn_id_hex(ti.peer_id, id);
		PN_LOG_WARN("tunnel", "p2p_relay_gone", "peer=%s path=%s flows=%u", id,
			    a->cur ? pn_path_kind_name(a->cur->kind) : "-", ti.flows);
		a->relay = NULL; /* no fallback any more */
	}
	if (!a->sent || a->sent_gen != ep->p2p->gen) {
		int again = a->sent;
		send_candidates(et, a);
		/* we moved (new host address or mapping) while direct: probe
		   the peer from here, the peer probes back to our new
		   candidates */
		if (again && is_client(ep) && a->have_peer && a->cur &&
		    a->cur->kind == PN_PATH_DIRECT)
			start_probing(et, a, now);
	}
	p = pn_tconn_path(pn_tunnel_conn(et->t));
	if (p && p != a->cur)
		path_changed(et, a, p, now);
	if (a->have_peer && a->sched_gen != a->peer_gen && (!a->cur || a->cur->kind != PN_PATH_DIRECT))
		start_probing(et, a, now);
	if (a->have_peer && (!a->cur || a->cur->kind != PN_PATH_DIRECT) &&
	    pn_spray_role(ep->p2p->nat, a->peer_nat) != ep_spray_role(a->spray))
		start_probing(et, a, now); /* our NAT kind is known now */
	while ((i = pn_probesched_next(&a->sched, now)) >= 0)
		send_probe(et, a, (struct sockaddr *)&a->remote[i].addr);
	if (a->spray) {
		uint8_t pr[PN_PROBE_LEN];
		pn_probe_build(pr, PN_PROBE_REQ, a->peer_token, ++a->txid, a->peer_key);
		ep_spray_tick(et, a->spray, a->cur && a->cur->kind == PN_PATH_DIRECT, pr, now);
	}
	if (!is_client(ep))
		return;
	if (a->migrating && now - a->migrate_at >= MIGRATE_WAIT_MS * MS)
		a->migrating = 0; /* not validated: stay where we are */
	if (a->cur && a->cur->kind == PN_PATH_DIRECT) {
		client_liveness(et, a, now);
	} else if (a->have_peer && !a->sched.active && !a->migrating && a->retry_at &&
		   now >= a->retry_at) {
		a->retry_at = now + a->retry_ms * MS;
		a->retry_ms = a->retry_ms * 2 > PN_P2P_RETRY_MAX_MS ? PN_P2P_RETRY_MAX_MS
								   : a->retry_ms * 2;
		start_probing(et, a, now);
		if (a->relay) {
			/* the peer probes again too: a keyed probe over the relay
			   (a symmetric NAT may let none of ours in directly) */
			uint8_t pr[PN_PROBE_LEN];
			pn_probe_build(pr, PN_PROBE_REQ, a->peer_token, ++a->txid, a->peer_key);
			a->relay->ops->send(a->relay, pr, sizeof(pr), sizeof(pr));
		}
	} else if (a->have_peer && !a->sched.active && !a->retry_at) {
		a->retry_at = now + a->retry_ms * MS; /* first window over: back off */
	}
}

static void on_tick(uv_timer_t *h)
{
	struct ep_p2p_ep *pe = h->data;
	struct pn_tep *ep = pe->ep;
	uint64_t now = ep_now_ns();

	if (ep->closing || !ep->sock)
		return;
	if (now >= pe->gather_at) {
		pe->gather_at = now + GATHER_EVERY_MS * MS;
		gather(pe);
	}
	if (now >= pe->discover_at && pe->nstun) {
		pe->discover_at = now + DISCOVER_EVERY_MS * MS;
		pn_natdisc_start(&pe->disc, pe->stun, pe->nstun, now);
	}
	if (pe->disc.running) {
		disc_send(pe, now);
		if (pn_natdisc_done(&pe->disc) || !pe->disc.running)
			local_rebuild(pe);
	}
	for (struct ep_tunnel *et = ep->all; et; et = et->next)
		tick_tunnel(et, now);
}

/* ----------------------------------------------------------- input ---- */

static struct ep_tunnel *by_token(struct pn_tep *ep, uint64_t token)
{
	/* linear: checked only after the cheap layout test; the MAC follows */
	for (struct ep_tunnel *et = ep->all; et; et = et->next)
		if (et->p2p && et->p2p->token == token && !et->dead && !et->freeing)
			return et;
	return NULL;
}

/* A valid probe or answer from `from` (on the direct socket `sock` when
 * path is NULL, else over that path). */
static void probe_input(struct pn_tep *ep, struct pn_udp *sock, struct pn_path *path,
			const struct sockaddr *from, const uint8_t *p, size_t n)
{
	struct ep_tunnel *et;
	struct ep_p2p *a;
	uint64_t token, txid, now = ep_now_ns();
	int type;

	if (pn_probe_parse(p, n, &type, &token, &txid) != 0 || !(et = by_token(ep, token)))
		return;
	a = et->p2p;
	if (pn_probe_verify(p, n, a->key) != 0)
		return; /* not from our peer: no answer, no state */
	/* A copy of a genuine packet (replayed, maybe from another address)
	   is stale: the peer numbers its probes upwards, and an answer names
	   a probe of ours not answered before.  Reordering costs at most a
	   probe. */
	if (type == PN_PROBE_REQ) {
		if (a->peer_txid && txid <= a->peer_txid)
			return;
		a->peer_txid = txid;
	} else {
		if (txid <= a->ans_txid || txid > a->txid)
			return;
		a->ans_txid = txid;
	}
	if (type == PN_PROBE_REQ && a->have_peer) {
		uint8_t ans[PN_PROBE_LEN];
		if (now - a->ans_window >= 1000 * MS) {
			a->ans_window = now;
			a->ans_count = 0;
		}
		if (a->ans_count++ < PN_P2P_ANSWERS_PER_SEC) {
			/* same size as the probe: never an amplifier */
			pn_probe_build(ans, PN_PROBE_ANS, a->peer_token, txid, a->peer_key);
			if (path)
				path->ops->send(path, ans, sizeof(ans), sizeof(ans));
			else
				pn_udp_send(sock, from, pn_sa_len(from), ans, sizeof(ans), sizeof(ans));
		}
	}
	if (path) {
		/* the client starts a probing round with a probe over the relay
		   (its direct probes may not get through our NAT yet): probe
		   back from our side, so both NATs open */
		if (!is_client(ep) && type == PN_PROBE_REQ && !a->sched.active && a->have_peer &&
		    (!a->cur || a->cur->kind != PN_PATH_DIRECT))
			start_probing(et, a, now);
		return;
	}
	ep_spray_hit(a->spray, sock, now);
	if (!is_client(ep)) {
		/* the client probes again (after a fallback, with backoff): so
		   do we, or our NAT may not let its probes in */
		if (type == PN_PROBE_REQ && !a->sched.active && a->have_peer &&
		    (!a->cur || a->cur->kind != PN_PATH_DIRECT))
			start_probing(et, a, now);
		return;
	}
	if (a->cur && a->cur->kind == PN_PATH_DIRECT) {
		if (pn_sa_equal(from, (struct sockaddr *)&a->cur->remote))
			a->last_rx = now;
		return;
	}
	if (a->migrating)
		return;
	/* the peer is reachable at `from` both ways: let QUIC validate it */
	{
		char s[64];
		int r = ep_migrate_sock(et, sock, from);
		pn_sa_str(from, s, sizeof(s));
		PN_LOG_DEBUG("tunnel", "p2p_migrate", "remote=%s type=%d err=%s", s, type,
			     pn_errname(r));
		if (r == 0) {
			a->migrating = 1;
			a->migrate_at = now;
		}
	}
}

int ep_p2p_raw(struct pn_tep *ep, struct pn_udp *sock, const struct sockaddr *from,
	       const uint8_t *p, size_t n)
{
	struct ep_p2p_ep *pe = ep->p2p;

	/* By content, not by the first byte alone: ngtcp2 greases the QUIC
	   bit (RFC 9287), so a short-header packet may start with 0x00..0x3f
	   too.  A keyed probe is exactly 40 bytes with its magic; a STUN
	   answer must carry the cookie and one of our transaction ids;
	   everything else is QUIC's. */
	if (!pe || n == 0)
		return 0;
	if (pn_probe_is(p, n)) {
		probe_input(ep, sock, NULL, from, p, n);
		return 1;
	}
	if (sock == ep->sock && (p[0] & 0xc0) == 0 && n >= PN_STUN_HDR &&
	    pn_load_be32(p + 4) == PN_STUN_MAGIC && pn_natdisc_input(&pe->disc, from, p, n, ep_now_ns())) {
		if (pn_natdisc_done(&pe->disc))
			local_rebuild(pe);
		return 1;
	}
	return 0;
}

int ep_p2p_path_raw(struct pn_tep *ep, struct pn_path *path, const uint8_t *p, size_t n)
{
	if (!ep->p2p || !pn_probe_is(p, n))
		return 0;
	probe_input(ep, NULL, path, (const struct sockaddr *)&path->remote, p, n);
	return 1;
}

/* ------------------------------------------------------------- API ---- */

int pn_tep_p2p(struct pn_tep *ep, const struct sockaddr_storage *stun, size_t n)
{
	struct ep_p2p_ep *pe = ep->p2p;
	int r;

	if (ep->closing)
		return PN_E_CLOSED;
	if (!ep->sock) {
		struct sockaddr_in any = {.sin_family = AF_INET};
		if (!is_client(ep))
			return PN_E_INVAL; /* the connector listens first */
		if ((r = pn_tep_listen_udp(ep, (struct sockaddr *)&any)) != 0)
			return r;
	}
	if (!pe) {
		if (!(pe = calloc(1, sizeof(*pe))))
			return -ENOMEM;
		pe->ep = ep;
		uv_timer_init(ep->cfg.loop, &pe->timer);
		pe->timer.data = pe;
		ep->p2p = pe;
		gather(pe);
		uv_timer_start(&pe->timer, on_tick, PN_P2P_TICK_MS, PN_P2P_TICK_MS);
	}
	pe->nstun = 0;
	for (size_t i = 0; i < n && pe->nstun < PN_NATDISC_MAX_SERVERS; i++)
		if (stun[i].ss_family == AF_INET || stun[i].ss_family == AF_INET6)
			pe->stun[pe->nstun++] = stun[i];
	pe->discover_at = 0; /* at the next tick */
	return 0;
}

static void p2p_closed(uv_handle_t *h)
{
	struct ep_p2p_ep *pe = h->data;
	struct pn_tep *ep = pe->ep;

	free(pe);
	ep_close_done(ep);
}

void ep_p2p_close(struct pn_tep *ep)
{
	if (!ep->p2p)
		return;
	uv_timer_stop(&ep->p2p->timer);
	ep->pending_closes++;
	uv_close((uv_handle_t *)&ep->p2p->timer, p2p_closed);
	ep->p2p = NULL;
}

int pn_tunnel_p2p_info(const struct pn_tunnel *t, struct pn_tunnel_p2p *info)
{
	const struct ep_tunnel *et = pn_tunnel_drv_ctx(t);
	const struct ep_p2p *a = et->p2p;
	uint64_t now = ep_now_ns();

	memset(info, 0, sizeof(*info));
	info->nat = et->ep->p2p ? et->ep->p2p->nat : PN_NAT_UNKNOWN;
	if (!et->ep->p2p || !a) {
		info->state = "off";
		return 0;
	}
	info->peer_nat = a->peer_nat;
	info->switches = a->switches;
	info->keepalive_ms = is_client(et->ep) ? a->ka.interval_ms : PN_P2P_KEEPALIVE_MS;
	info->keepalives = a->keepalives;
	info->expiries = a->ka.expiries;
	info->relay_fallback = a->relay != NULL;
	info->on_path_ms = (now - a->since) / MS;
	info->time_to_direct_ms = a->ttd / MS;
	if (a->cur && a->cur->kind == PN_PATH_DIRECT) {
		const struct ep_p2p_ep *pe = et->ep->p2p;
		info->state = "direct";
		/* our side of the pair as the peer sees it: the mapping, else the
		   host address (the socket itself is bound to the wildcard) */
		for (size_t i = 0; i < pe->nlocal; i++)
			if (!info->local.ss_family || pe->local[i].type == PN_CAND_SRFLX)
				info->local = pe->local[i].addr;
		memcpy(&info->remote, &a->cur->remote, sizeof(info->remote));
	} else if (a->sched.active || a->migrating || ep_spray_sending(a->spray, now)) {
		info->state = "probing";
	} else {
		info->state = "relay";
	}
	return 0;
}
