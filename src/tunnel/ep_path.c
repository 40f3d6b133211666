/*
 * Tunnel endpoint: its paths.  Direct UDP paths (one per (socket, remote
 * address) per tunnel, a few remembered for migration) and paths from
 * elsewhere (core/path.h, e.g. relay sessions), attached to the endpoint
 * until lost and unused.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/cred.h"
#include "tunnel/cand.h"
#include "tunnel/endpoint_int.h"

static const struct pn_path_sink ep_xpath_sink;

/* ---------------------------------------------------------------- paths -- */

static int udp_path_send(struct pn_path *p, const uint8_t *data, size_t len, size_t seg)
{
	struct ep_path *ps = p->ctx;

	return pn_udp_send(ps->sock, (struct sockaddr *)&p->remote, p->remote_len, data, len, seg);
}

static const struct pn_path_ops udp_path_ops = {.send = udp_path_send};

/* The path for (sock, remote) in this tunnel, created if new (replacing
 * the least recently used one when all slots are taken). */
struct ep_path *ep_get_path(struct ep_tunnel *et, struct pn_udp *sock, const struct sockaddr *from,
			    socklen_t fromlen)
{
	struct ep_path *lru = &et->paths[0];

	for (int i = 0; i < PN_TEP_PATHS; i++) {
		struct ep_path *p = &et->paths[i];
		if (p->sock == sock && pn_addr_equal((const struct sockaddr *)&p->path.remote, from)) {
			p->last_used = ep_now_ns();
			return p;
		}
		if (!p->sock) {
			lru = p;
			break;
		}
		if (p->last_used < lru->last_used)
			lru = p;
	}
	/* Never recycle the path the connection currently uses. */
	if (lru->sock && et->t && pn_tconn_path(pn_tunnel_conn(et->t)) == &lru->path)
		lru = lru == &et->paths[0] ? &et->paths[1] : &et->paths[0];
	if (et->held_path == &lru->path)
		et->held_len = 0; /* its destination is being replaced */
	memset(lru, 0, sizeof(*lru));
	lru->sock = sock;
	lru->et = et;
	lru->last_used = ep_now_ns();
	lru->path.ops = &udp_path_ops;
	lru->path.kind = PN_PATH_DIRECT;
	lru->path.max_segments = PN_PATH_MAX_SEGMENTS;
	/* Path MTU ceiling: a 1,500-byte link minus IP and UDP headers */
	lru->path.max_udp_payload =
	    PN_PATH_ETH_MTU - (from->sa_family == AF_INET6 ? PN_PATH_IPV6_UDP_HDR : 20 + 8);
	lru->path.ctx = lru;
	pn_udp_local(sock, &lru->path.local, &lru->path.local_len);
	memcpy(&lru->path.remote, from, fromlen);
	lru->path.remote_len = fromlen;
	return lru;
}

/* The socket of one of our UDP paths, or NULL (a path from elsewhere). */
struct pn_udp *ep_path_sock(const struct pn_path *p)
{
	return p && p->ops == &udp_path_ops ? ((const struct ep_path *)p->ctx)->sock : NULL;
}

/* A socket is closing: the tunnel's paths that name it send from `to`
 * instead (ngtcp2 may still name a path it left). */
void ep_paths_retarget_sock(struct ep_tunnel *et, struct pn_udp *from, struct pn_udp *to)
{
	for (int i = 0; i < PN_TEP_PATHS; i++)
		if (et->paths[i].sock == from) {
			et->paths[i].sock = to;
			if (to)
				pn_udp_local(to, &et->paths[i].path.local, &et->paths[i].path.local_len);
		}
}

/* Migrate the tunnel to (sock, peer): QUIC validates the new path. */
int ep_migrate_sock(struct ep_tunnel *et, struct pn_udp *sock, const struct sockaddr *peer)
{
	struct ep_path *path;
	int r;

	if (pn_tunnel_is_dead(et->t))
		return PN_E_CLOSED;
	path = ep_get_path(et, sock, peer, pn_sa_len(peer));
	r = pn_tconn_migrate(pn_tunnel_conn(et->t), &path->path, ep_now_ns());
	if (r == 0) {
		pn_tunnel_set_path_kind(et->t, PN_PATH_DIRECT);
		ep_mark_dirty(et);
	}
	return r;
}

struct ep_xpath *ep_xpath_new(struct pn_tep *ep, struct pn_path *p)
{
	struct ep_xpath *xp = calloc(1, sizeof(*xp));

	if (!xp)
		return NULL;
	xp->ep = ep;
	xp->p = p;
	xp->next = ep->xpaths;
	ep->xpaths = xp;
	pn_path_attach(p, &ep_xpath_sink, xp);
	return xp;
}

void ep_xpath_unlink_free(struct pn_tep *ep, struct ep_xpath *xp)
{
	for (struct ep_xpath **pp = &ep->xpaths; *pp; pp = &(*pp)->next)
		if (*pp == xp) {
			*pp = xp->next;
			break;
		}
	pn_path_release(xp->p);
	free(xp);
}

/* Undo xpath_new for a path the caller keeps (an error return). */
void ep_xpath_forget(struct pn_tep *ep, struct ep_xpath *xp)
{
	for (struct ep_xpath **pp = &ep->xpaths; *pp; pp = &(*pp)->next)
		if (*pp == xp) {
			*pp = xp->next;
			break;
		}
	pn_path_attach(xp->p, NULL, NULL);
	free(xp);
}

/* A tunnel is going away: forget it in its paths. */
void ep_xpaths_drop_tunnel(struct pn_tep *ep, struct ep_tunnel *et)
{
	for (struct ep_xpath *xp = ep->xpaths, *nx; xp; xp = nx) {
		nx = xp->next;
		if (xp->et != et)
			continue;
		xp->et = NULL;
		if (xp->lost)
			ep_xpath_unlink_free(ep, xp);
	}
}

int ep_path_lost(const struct pn_tep *ep, const struct pn_path *p)
{
	for (const struct ep_xpath *xp = ep->xpaths; xp; xp = xp->next)
		if (xp->p == p)
			return xp->lost;
	return 1;
}

int pn_tunnel_migrate_path(struct pn_tunnel *t, struct pn_path *p)
{
	struct ep_tunnel *et = pn_tunnel_drv_ctx(t);
	struct ep_xpath *xp;
	int r;

	if (pn_tunnel_is_dead(t))
		return PN_E_CLOSED;
	if (!p)
		return PN_E_INVAL;
	if (!(xp = ep_xpath_new(et->ep, p)))
		return -ENOMEM;
	xp->et = et;
	r = pn_tconn_migrate(pn_tunnel_conn(t), p, ep_now_ns());
	if (r != 0) {
		ep_xpath_forget(et->ep, xp); /* not taken */
		return r;
	}
	ep_mark_dirty(et);
	return 0;
}

int pn_tep_accept_path(struct pn_tep *ep, struct pn_path *p)
{
	if (ep->closing)
		return PN_E_CLOSED;
	if (ep->cfg.role != PN_TEP_CONNECTOR || !p)
		return PN_E_INVAL;
	return ep_xpath_new(ep, p) ? 0 : -ENOMEM;
}

static void xpath_lost(struct pn_path *p, int err, void *user)
{
	struct ep_xpath *xp = user;
	struct pn_tep *ep = xp->ep;

	(void)err;
	xp->lost = 1;
	if (!xp->et) {
		ep_xpath_unlink_free(ep, xp);
		return;
	}
	/* else released with the tunnel.  A client migrates the tunnel or ends
	   it (its glue decides).  A connector cannot migrate: when this path
	   was the tunnel's, the tunnel ends now (its flows reset) rather than
	   at the idle timeout, since the client has lost it too. */
	if (ep->cfg.role == PN_TEP_CONNECTOR && !xp->et->dead && !xp->et->freeing &&
	    pn_tconn_path(pn_tunnel_conn(xp->et->t)) == p)
		pn_tunnel_path_lost(xp->et->t);
}

static const struct pn_path_sink ep_xpath_sink = {.recv = ep_xpath_recv, .lost = xpath_lost};
