/* Relay sessions as paths (relay/rpath.h). */
#include <errno.h>
#include <stdlib.h>

#include "core/err.h"
#include "relay/rclient_int.h"
#include "relay/rpath.h"

struct pn_rpath {
	struct pn_path path; /* first: a pn_path * is a pn_rpath * */
	struct pn_rsession *s; /* NULL once the session is gone */
};

static enum pn_path_kind kind_of(const struct pn_rsession *s)
{
	switch (pn_rsession_transport(s)) {
	case PN_RT_TLS:
		return PN_PATH_RELAY_TLS;
	case PN_RT_WS:
		return PN_PATH_RELAY_WS;
	default:
		return PN_PATH_RELAY_UDP;
	}
}

static int rpath_send(struct pn_path *p, const uint8_t *data, size_t len, size_t seg)
{
	struct pn_rpath *rp = p->ctx;

	if (!rp->s)
		return -EPIPE;
	p->kind = kind_of(rp->s); /* the transport may change under the session */
	for (size_t off = 0; off < len; off += seg) {
		size_t n = len - off < seg ? len - off : seg;
		/* -EAGAIN: dropped like UDP; QUIC loss recovery repairs it */
		if (pn_rsession_send(rp->s, data + off, n) == PN_E_CLOSED)
			return -EPIPE;
	}
	return 0;
}

static void rpath_release(struct pn_path *p)
{
	struct pn_rpath *rp = p->ctx;

	if (rp->s) /* the session lives on without a path */
		rp->s->path = NULL;
	free(rp);
}

static const struct pn_path_ops rpath_ops = {.send = rpath_send, .release = rpath_release};

int pn_rsession_path(struct pn_rsession *s, struct pn_path **out)
{
	struct pn_rpath *rp;

	if (s->path) {
		*out = &s->path->path;
		return 0;
	}
	if (!pn_rsession_ready(s))
		return PN_E_CLOSED;
	if (!(rp = calloc(1, sizeof(*rp))))
		return -ENOMEM;
	rp->s = s;
	rp->path.ops = &rpath_ops;
	rp->path.kind = kind_of(s);
	/* relay datagrams go out one by one; batches of 8 keep the tunnel's
	   write loop efficient without GSO */
	rp->path.max_segments = 8;
	/* Path MTU ceiling: the relay forwards each packet as one DATA
	   datagram (9-byte header) on a UDP leg, and either leg may be UDP
	   over IPv6, whatever this side's transport: 1500 - 48 - 9 = 1443 */
	rp->path.max_udp_payload = PN_PATH_ETH_MTU - PN_PATH_IPV6_UDP_HDR - PN_RELAY_DATA_HDR;
	rp->path.ctx = rp;
	pn_path_synth_addrs(&rp->path);
	s->path = rp;
	*out = &rp->path;
	return 0;
}

int pn_rpath_input(struct pn_rpath *rp, const uint8_t *p, size_t n)
{
	if (!rp->path.sink)
		return 0;
	pn_path_input(&rp->path, p, n);
	return 1;
}

void pn_rpath_gone(struct pn_rpath *rp, int err)
{
	struct pn_rsession *s = rp->s;

	rp->s = NULL;
	s->path = NULL;
	if (!rp->path.sink) { /* nobody holds it */
		free(rp);
		return;
	}
	pn_path_lost(&rp->path, err); /* freed when the user releases it */
}
