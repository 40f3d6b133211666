/*
 * Tunnel endpoint: demux of received datagrams to tunnels, and the
 * unauthenticated intake: O(1) checks first, bounded state (global and
 * per-source caps), Retry address validation on UDP, nothing created for
 * anything but a valid Initial.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/cred.h"
#include "tunnel/endpoint_int.h"

static unsigned pending_from(struct pn_tep *ep, const struct sockaddr *from)
{
	unsigned n = 0;

	for (struct ep_tunnel *e = ep->all; e; e = e->next)
		if (!pn_tconn_handshake_done(pn_tunnel_conn(e->t)) &&
		    pn_addr_equal((const struct sockaddr *)&e->src, from))
			n++;
	return n;
}

/* A datagram for a known tunnel, arrived on `path`. */
static void input(struct ep_tunnel *et, struct pn_path *path, const uint8_t *p, size_t n)
{
	uint64_t now = ep_now_ns();

	pn_tunnel_input(et->t, path, p, n, now);
	if (et->p2p)
		ep_p2p_path_seen(et, now); /* a validated migration: noted now */
	if (++et->rx_since_flush >= PN_TEP_FLUSH_EVERY) {
		ep_flush(et); /* ACKs and credit out promptly [spike P7] */
		return;
	}
	ep_mark_dirty(et);
}

/* Unauthenticated: O(1) checks first, bounded state (global and per
   source caps), nothing created for anything but a valid Initial. */
int ep_may_accept(struct pn_tep *ep, const struct sockaddr *from, const uint8_t *p, size_t n)
{
	if (ep->cfg.role != PN_TEP_CONNECTOR || ep->closing || pn_tconn_accept_check(p, n) != 0 ||
	    ep->ntunnels >= ep->cfg.max_tunnels ||
	    (from && pending_from(ep, from) >= PN_TEP_PENDING_PER_SRC)) {
		ep->drops_unknown++;
		return 0;
	}
	return 1;
}

/* New server tunnel for an Initial that arrived on `path` (a UDP path of
 * et, or a relay path). */
void ep_accept_on(struct pn_tep *ep, struct ep_tunnel *et, struct pn_path *path, const uint8_t *p,
		  size_t n, const uint8_t *dkey, const struct pn_tconn_config *retry)
{
	struct pn_tunnel_params tp;

	memcpy(et->key2, dkey, PN_TCONN_CID_KEY_LEN);
	et->has_key2 = 1;
	ep_tunnel_params(ep, et, &tp);
	if (retry) {
		memcpy(tp.conn.retry_odcid, retry->retry_odcid, sizeof(tp.conn.retry_odcid));
		tp.conn.retry_odcid_len = retry->retry_odcid_len;
	}
	tp.server_ops = ep->cfg.server_ops;
	tp.server_user = ep->cfg.user;
	tp.path_kind = path->kind;
	if (pn_tunnel_new_server(&tp, path, p, n, ep_now_ns(), &et->t) != 0) {
		ep_xpaths_drop_tunnel(ep, et);
		ep_et_discard(et);
		return;
	}
	ep_et_link(ep, et);
	pn_tunnel_input(et->t, path, p, n, ep_now_ns());
	ep_mark_dirty(et);
}

/* A source's budget of Retries: PN_TEP_RETRIES_PER_S a second per bucket
 * of source addresses (an IPv4 address, an IPv6 /64; the bucket by a
 * keyed hash).  Past it a token-less Initial gets no answer: a flood from
 * one source costs no crypto and no send, and other sources' buckets are
 * untouched.  A legitimate client retransmits its Initial; one that holds
 * a token is never counted. */
static int retry_budget(struct pn_tep *ep, const struct sockaddr *from)
{
	const uint8_t *a;
	size_t alen;
	uint32_t h, sec = (uint32_t)(ep_now_ns() / 1000000000u);

	if (from->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
		alen = 4;
	} else if (from->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)from)->sin6_addr;
		alen = 8;
	} else {
		return 0;
	}
	if (!ep->retry_seed && pn_random(&ep->retry_seed, sizeof(ep->retry_seed)) != 0)
		return 0;
	h = ep->retry_seed | 1u;
	for (size_t i = 0; i < alen; i++)
		h = (h ^ a[i]) * 16777619u; /* FNV-1a from a random basis */
	h = (h ^ (h >> 15)) % PN_TEP_RETRY_BUCKETS;
	if (ep->retry_budget[h].sec != sec) {
		ep->retry_budget[h].sec = sec;
		ep->retry_budget[h].n = 0;
	}
	return ep->retry_budget[h].n++ < PN_TEP_RETRIES_PER_S;
}

/* Whether an Initial (ngtcp2_accept took it) carries a token: RFC 9000
 * 17.2.2, flags and version, DCID and SCID (each u8-prefixed), then the
 * token's length as a variable-length integer.  0 when it has none or does
 * not parse. */
static int initial_has_token(const uint8_t *p, size_t n)
{
	struct pn_buf b;
	const uint8_t *cid;
	size_t cl;
	uint8_t v;
	uint64_t len;

	pn_buf_init_ro(&b, p, n);
	if (pn_buf_skip(&b, 5) != 0 || pn_buf_get_lv8(&b, 20, &cid, &cl) != 0 ||
	    pn_buf_get_lv8(&b, 20, &cid, &cl) != 0 || pn_buf_get_u8(&b, &v) != 0)
		return 0;
	len = v & 0x3f;
	for (unsigned k = 1; k < (1u << (v >> 6)); k++) {
		if (pn_buf_get_u8(&b, &v) != 0)
			return 0;
		len = len << 8 | v;
	}
	return len != 0;
}

static void accept_tunnel(struct pn_tep *ep, struct pn_udp *sock, const struct sockaddr *from,
			  socklen_t fromlen, const uint8_t *p, size_t n, const uint8_t *dkey)
{
	struct ep_tunnel *et;
	struct ep_path *path;
	struct pn_tconn_config rc;
	uint8_t retry[PN_PATH_MAX_UDP_PAYLOAD];
	size_t rlen;
	int r;

	if (!ep_may_accept(ep, from, p, n))
		return;
	/* a Retry to be made: within the source's budget, before any crypto */
	if (!initial_has_token(p, n) && !retry_budget(ep, from)) {
		ep->drops_unknown++;
		return;
	}
	/* the source address must be proven (Retry) before any state exists */
	memset(&rc, 0, sizeof(rc));
	r = pn_tconn_retry_check(ep->retry_secret, from, fromlen, p, n, ep_now_ns(), retry,
				 sizeof(retry), &rlen, &rc);
	if (r == 1) {
		ep->retries++;
		pn_udp_send(sock, from, fromlen, retry, rlen, rlen);
		return;
	}
	if (r != 0 || !(et = ep_et_new(ep))) {
		ep->drops_unknown++;
		return;
	}
	memcpy(&et->src, from, fromlen);
	path = ep_get_path(et, sock, from, fromlen);
	ep_accept_on(ep, et, &path->path, p, n, dkey, &rc);
}

void ep_udp_recv(struct pn_udp *sock, const struct sockaddr *from, socklen_t fromlen,
		 const uint8_t *p, size_t n, void *user)
{
	struct pn_tep *ep = user;
	uint8_t key[PN_TCONN_CID_KEY_LEN];
	struct ep_tunnel *et;
	struct ep_path *path;
	int is_long;

	if (ep->p2p && ep_p2p_raw(ep, sock, from, p, n))
		return;
	if (pn_tconn_dcid_key(p, n, key, &is_long) != 0) {
		ep->drops_unknown++;
		return;
	}
	et = ep_lookup(ep, key);
	if (!et) {
		if (is_long)
			accept_tunnel(ep, sock, from, fromlen, p, n, key);
		else
			ep->drops_unknown++;
		return;
	}
	if (et->dead || et->freeing)
		return;
	path = ep_get_path(et, sock, from, fromlen);
	input(et, &path->path, p, n);
	/* liveness of a direct path (ep_p2p.c): only packets QUIC
	   authenticated count, never whatever arrives from the peer's
	   address (a forged source) or carries its CID (a replay) */
	if (!et->freeing) {
		const struct pn_path *ap = NULL;
		uint64_t at = pn_tconn_auth_rx(pn_tunnel_conn(et->t), &ap);
		if (at && ap == &path->path && at > et->direct_rx)
			et->direct_rx = at;
	}
}

void ep_udp_writable(struct pn_udp *sock, void *user)
{
	struct pn_tep *ep = user;

	for (struct ep_tunnel *e = ep->all; e; e = e->next)
		if (e->blocked) {
			e->blocked = 0;
			ep_mark_dirty(e);
		}
	(void)sock;
}

void ep_udp_burst(struct pn_udp *sock, void *user)
{
	(void)sock, (void)user; /* dirty tunnels flush in the prepare handle */
}

void ep_xpath_recv(struct pn_path *p, const uint8_t *d, size_t n, void *user)
{
	struct ep_xpath *xp = user;
	struct pn_tep *ep = xp->ep;
	uint8_t key[PN_TCONN_CID_KEY_LEN];
	struct ep_tunnel *et;
	int is_long;

	if (ep->closing || (ep->p2p && ep_p2p_path_raw(ep, p, d, n)))
		return;
	if (pn_tconn_dcid_key(d, n, key, &is_long) != 0) {
		ep->drops_unknown++;
		return;
	}
	et = ep_lookup(ep, key);
	if (!et) {
		/* a path from elsewhere (a relay session) was authenticated by
		   its provider; the per-source cap does not apply, the global
		   one does, and no Retry is needed */
		if (is_long && ep_may_accept(ep, NULL, d, n) && (et = ep_et_new(ep))) {
			xp->et = et;
			ep_accept_on(ep, et, p, d, n, key, NULL);
		} else {
			ep->drops_unknown++;
		}
		return;
	}
	if (et->dead || et->freeing)
		return;
	xp->et = et;
	input(et, p, d, n);
}
