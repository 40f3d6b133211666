/*
 * Tunnel endpoint: probing through one symmetric NAT (tunnel/spray.h),
 * per tunnel, driven by ep_p2p.c.  The hard side's extra sockets are
 * ordinary endpoint sockets (ep_udp_recv): a probe on one is answered
 * from it, and QUIC packets on it reach the tunnel on the path (that
 * socket, source), so the tunnel can live on it.  Sockets that carry no
 * path are closed PN_SPRAY_LINGER_MS after the window; the one the
 * tunnel uses stays until the tunnel ends.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "tunnel/cand.h"
#include "tunnel/endpoint_int.h"
#include "tunnel/probe.h"
#include "tunnel/spray.h"

#define MS 1000000ull
#define HARD_TARGETS 2 /* the peer's mappings a hard side sends to */

struct ep_spray {
	int role;
	uint64_t end, linger_until;
	/* easy side */
	struct pn_spray plan;
	struct sockaddr_storage target;
	/* hard side */
	struct sockaddr_storage dst[HARD_TARGETS];
	size_t ndst;
	unsigned rounds;
	uint64_t next_round;
	struct pn_udp *sock[PN_SPRAY_SOCKETS];
	uint64_t hit[PN_SPRAY_SOCKETS];
	size_t nsock;
	int open_failed;
};

static int cur_sock_is(struct ep_tunnel *et, struct pn_udp *s)
{
	struct pn_path *p = et->t ? pn_tconn_path(pn_tunnel_conn(et->t)) : NULL;

	return p && ep_path_sock(p) == s;
}

static void close_sock(struct ep_tunnel *et, struct ep_spray *sp, size_t i)
{
	/* paths of this tunnel naming the socket (none in use) go to the
	   endpoint's socket: nothing keeps a pointer to a closed socket */
	ep_paths_retarget_sock(et, sp->sock[i], et->ep->sock);
	pn_udp_close(sp->sock[i]);
	et->ep->spray_socks--;
	sp->sock[i] = sp->sock[--sp->nsock];
	sp->hit[i] = sp->hit[sp->nsock];
}

/* Close the hard side's sockets that carry nothing (all: `all`). */
static void sweep(struct ep_tunnel *et, struct ep_spray *sp, uint64_t now, int all)
{
	for (size_t i = 0; i < sp->nsock;) {
		if (!all && (cur_sock_is(et, sp->sock[i]) ||
			     (sp->hit[i] && now - sp->hit[i] < PN_SPRAY_LINGER_MS * MS))) {
			i++;
			continue;
		}
		close_sock(et, sp, i);
	}
}

int ep_spray_role(const struct ep_spray *sp)
{
	return sp ? sp->role : PN_SPRAY_NONE;
}

void ep_spray_start(struct ep_tunnel *et, struct ep_spray **spp, int role, const struct pn_cand *remote,
		    size_t n, uint64_t now)
{
	struct ep_spray *sp = *spp;
	uint16_t seen[PN_P2P_MAX_CANDS];
	size_t nseen = 0;

	if (role == PN_SPRAY_NONE) {
		if (sp)
			sp->role = PN_SPRAY_NONE, sp->end = now;
		return;
	}
	if (!sp && !(sp = *spp = calloc(1, sizeof(*sp))))
		return;
	sweep(et, sp, now, 0); /* a previous window's sockets, unless in use */
	sp->role = role;
	sp->end = now + PN_P2P_PROBE_WINDOW_MS * MS;
	sp->linger_until = sp->end + PN_SPRAY_LINGER_MS * MS;
	sp->ndst = 0;
	sp->plan.n = sp->plan.next = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr *a = (const struct sockaddr *)&remote[i].addr;
		if (remote[i].type != PN_CAND_SRFLX || a->sa_family != AF_INET)
			continue;
		if (role == PN_SPRAY_EASY) {
			/* the hard side's public address; its mapped ports seen
			   by the relays feed the prediction */
			if (!sp->target.ss_family)
				memcpy(&sp->target, a, sizeof(struct sockaddr_in));
			if (pn_sa_same_ip(a, (struct sockaddr *)&sp->target))
				seen[nseen++] = ntohs(((const struct sockaddr_in *)a)->sin_port);
		} else if (sp->ndst < HARD_TARGETS) {
			memcpy(&sp->dst[sp->ndst++], a, sizeof(struct sockaddr_in));
		}
	}
	if (role == PN_SPRAY_EASY && (!sp->target.ss_family ||
				      pn_spray_plan(&sp->plan, seen, nseen, now) != 0)) {
		sp->plan.n = 0;
		return;
	}
	if (role == PN_SPRAY_HARD) {
		sp->rounds = 0;
		sp->next_round = now;
		sp->open_failed = 0;
	}
	PN_LOG_DEBUG("tunnel", "p2p_spray", "role=%s ports=%zu targets=%zu",
		     role == PN_SPRAY_EASY ? "easy" : "hard", sp->plan.n, sp->ndst);
}

/* Hard side: one round of probes from every socket (opened on the first). */
static void hard_round(struct ep_tunnel *et, struct ep_spray *sp, const uint8_t *probe)
{
	struct pn_tep *ep = et->ep;
	struct sockaddr_in any = {.sin_family = AF_INET};

	while (sp->rounds == 0 && sp->nsock < PN_SPRAY_SOCKETS) {
		int r = ep->spray_socks >= PN_SPRAY_EP_SOCKETS
			    ? -EMFILE /* the endpoint's bound: other tunnels play now */
			    : pn_udp_open(ep->cfg.loop, (struct sockaddr *)&any, ep_udp_recv,
					  ep_udp_writable, ep_udp_burst, ep, &sp->sock[sp->nsock]);
		if (r != 0) {
			/* out of descriptors or memory: fewer mappings */
			if (!sp->open_failed)
				PN_LOG_WARN("tunnel", "p2p_spray_sockets", "opened=%zu err=%s",
					    sp->nsock, pn_errname(r));
			sp->open_failed = 1;
			break;
		}
		ep->spray_socks++;
		sp->hit[sp->nsock++] = 0;
	}
	for (size_t i = 0; i < sp->nsock; i++)
		for (size_t d = 0; d < sp->ndst; d++)
			pn_udp_send(sp->sock[i], (struct sockaddr *)&sp->dst[d],
				    sizeof(struct sockaddr_in), probe, PN_PROBE_LEN, PN_PROBE_LEN);
}

void ep_spray_tick(struct ep_tunnel *et, struct ep_spray *sp, int direct, const uint8_t *probe,
		   uint64_t now)
{
	int port;

	if (!sp)
		return;
	if (now >= sp->linger_until || direct) {
		if (sp->nsock && now >= sp->linger_until)
			sweep(et, sp, now, 0);
		if (direct)
			sp->end = now; /* found: stop sending */
	}
	if (now >= sp->end)
		return;
	if (sp->role == PN_SPRAY_EASY) {
		while ((port = pn_spray_next(&sp->plan, now)) >= 0) {
			((struct sockaddr_in *)&sp->target)->sin_port = htons((uint16_t)port);
			pn_udp_send(et->ep->sock, (struct sockaddr *)&sp->target,
				    sizeof(struct sockaddr_in), probe, PN_PROBE_LEN, PN_PROBE_LEN);
		}
	} else if (sp->role == PN_SPRAY_HARD && sp->rounds < PN_SPRAY_HARD_ROUNDS &&
		   now >= sp->next_round && sp->ndst) {
		hard_round(et, sp, probe);
		sp->rounds++;
		sp->next_round = now + PN_SPRAY_HARD_GAP_MS * MS;
	}
}

void ep_spray_hit(struct ep_spray *sp, struct pn_udp *sock, uint64_t now)
{
	if (!sp)
		return;
	for (size_t i = 0; i < sp->nsock; i++)
		if (sp->sock[i] == sock) {
			sp->hit[i] = now;
			if (sp->linger_until < now + PN_SPRAY_LINGER_MS * MS)
				sp->linger_until = now + PN_SPRAY_LINGER_MS * MS;
		}
}

int ep_spray_sending(const struct ep_spray *sp, uint64_t now)
{
	return sp && sp->role != PN_SPRAY_NONE && now < sp->end;
}

void ep_spray_free(struct ep_tunnel *et, struct ep_spray **spp)
{
	struct ep_spray *sp = *spp;

	if (!sp)
		return;
	sweep(et, sp, 0, 1);
	pn_wipe(sp, sizeof(*sp));
	free(sp);
	*spp = NULL;
}
