/* SOCKS5 UDP ASSOCIATE relay over UDP flows; see udpassoc.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/socks5.h"
#include "client/tunnels.h"
#include "client/udpassoc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"

/* Datagrams held per destination while its flow is being opened. */
#define PENDING_MAX 8

struct uflow {
	struct pn_udpassoc *ua;
	struct pn_creq req;
	struct pn_flow *flow;
	struct pn_socks5_addr dst; /* as the client named it: the source of replies */
	int open, dead, denied_logged;
	unsigned npending;
	uint16_t plen[PENDING_MAX];
	uint8_t pending[PENDING_MAX][PN_FLOW_DGRAM_PAYLOAD_MAX];
};

struct pn_udpassoc {
	uv_loop_t *loop;
	struct pn_ctuns *tuns;
	uv_udp_t udp;
	struct sockaddr_storage client_ip;
	struct sockaddr_storage client_addr; /* learnt from the first datagram */
	int have_client, closing;
	char label[64];
	unsigned nflows;
	struct uflow *flows[PN_UDPASSOC_MAX_FLOWS];
	uint64_t dropped;
	char rbuf[2048]; /* largest datagram accepted: header + one flow payload */
};

static int same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			       &((const struct sockaddr_in *)b)->sin_addr, 4);
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static int same_addr(const struct pn_socks5_addr *a, const struct pn_socks5_addr *b)
{
	if (a->atyp != b->atyp || a->port != b->port)
		return 0;
	if (a->atyp == PN_SOCKS5_ATYP_IPV4)
		return !memcmp(a->u.v4, b->u.v4, 4);
	if (a->atyp == PN_SOCKS5_ATYP_IPV6)
		return !memcmp(a->u.v6, b->u.v6, 16);
	return !strcmp(a->u.name, b->u.name);
}

static void to_client(struct uflow *u, const uint8_t *p, size_t n)
{
	struct pn_udpassoc *ua = u->ua;
	uint8_t st[PN_SOCKS5_MAX_UDP_HEADER + PN_FLOW_DGRAM_PAYLOAD_MAX];
	struct pn_buf out;
	uv_buf_t b;

	if (!ua->have_client || ua->closing)
		return;
	pn_buf_init_wr(&out, st, sizeof(st));
	if (pn_socks5_udp_build(&out, &u->dst, p, n) != 0) {
		ua->dropped++;
		return;
	}
	b = uv_buf_init((char *)pn_buf_ptr(&out), (unsigned)pn_buf_len(&out));
	/* UDP semantics: a full socket buffer drops the datagram. */
	if (uv_udp_try_send(&ua->udp, &b, 1, (struct sockaddr *)&ua->client_addr) < 0)
		ua->dropped++;
}

static void uf_status(struct pn_flow *f, const struct pn_flow_status *st, void *user)
{
	struct uflow *u = user;
	char host[PN_SOCKS5_MAX_NAME + 1];

	u->flow = f;
	pn_socks5_addr_host(&u->dst, host, sizeof(host));
	if (st->code != PN_FLOW_OK) {
		PN_LOG_WARN("client", "flow_denied",
			    "flow=%016llx via=socks-udp dest=%s:%u code=%s",
			    (unsigned long long)pn_flow_id(f), host, u->dst.port,
			    pn_flow_code_name(st->code));
		u->dead = 1;
		return;
	}
	u->open = 1;
	PN_LOG_INFO("client", "flow_start", "flow=%016llx via=socks-udp src=%s dest=%s:%u",
		    (unsigned long long)pn_flow_id(f), u->ua->label, host, u->dst.port);
	for (unsigned i = 0; i < u->npending; i++)
		if (pn_flow_send_datagram(f, u->pending[i], u->plen[i]) != 0)
			u->ua->dropped++;
	u->npending = 0;
}

static void uf_datagram(struct pn_flow *f, const uint8_t *p, size_t n, void *user)
{
	(void)f;
	to_client(user, p, n);
}

static void uf_closed(struct pn_flow *f, int code, void *user)
{
	struct uflow *u = user;

	(void)f;
	u->flow = NULL;
	u->open = 0;
	u->dead = 1;
	if (code != PN_FLOW_OK)
		PN_LOG_INFO("client", "flow_end", "via=socks-udp src=%s code=%s", u->ua->label,
			    pn_flow_code_name(code));
}

static const struct pn_flow_ops uflow_ops = {
    .status = uf_status,
    .datagram = uf_datagram,
    .closed = uf_closed,
};

static void uf_on_flow(struct pn_creq *r, struct pn_flow *f)
{
	struct uflow *u = r->user;

	u->flow = f;
}

static void uf_on_fail(struct pn_creq *r, int err)
{
	struct uflow *u = r->user;

	u->dead = 1;
	PN_LOG_WARN("client", "flow_refused", "via=socks-udp src=%s dest=%s:%u reason=%s",
		    u->ua->label, r->host, r->port, pn_errname(err));
}

static void uflow_free(struct pn_udpassoc *ua, struct uflow *u)
{
	pn_ctuns_cancel(ua->tuns, &u->req);
	if (u->flow)
		pn_flow_close(u->flow, PN_FLOW_OK);
	free(u);
}

/* The flow for dst: existing, or a new one (replacing a dead one). */
static struct uflow *uflow_get(struct pn_udpassoc *ua, const struct pn_socks5_addr *dst)
{
	struct uflow *u = NULL;
	struct pn_flow *f = NULL;
	unsigned slot = ua->nflows;
	int r;

	for (unsigned i = 0; i < ua->nflows; i++) {
		if (!same_addr(&ua->flows[i]->dst, dst))
			continue;
		if (!ua->flows[i]->dead || ua->flows[i]->denied_logged)
			return ua->flows[i]; /* live, or refused (kept to drop quietly) */
		slot = i;
		break;
	}
	if (slot == ua->nflows && ua->nflows >= PN_UDPASSOC_MAX_FLOWS)
		return NULL;
	if (!(u = calloc(1, sizeof(*u))))
		return NULL;
	u->ua = ua;
	u->dst = *dst;
	pn_socks5_addr_host(dst, u->req.host, sizeof(u->req.host));
	u->req.proto = PN_PROTO_UDP;
	u->req.port = dst->port;
	u->req.ops = &uflow_ops;
	u->req.user = u;
	u->req.on_flow = uf_on_flow;
	u->req.on_fail = uf_on_fail;
	if (slot < ua->nflows)
		uflow_free(ua, ua->flows[slot]);
	else
		ua->nflows++;
	ua->flows[slot] = u;
	r = pn_ctuns_request(ua->tuns, &u->req, &f);
	if (r == 0) {
		u->flow = f;
	} else if (r < 0) {
		/* Refused locally (not granted): logged once, later datagrams
		 * to it are dropped without a new attempt. */
		u->dead = 1;
		u->denied_logged = 1;
		PN_LOG_WARN("client", "flow_refused", "via=socks-udp src=%s dest=%s:%u reason=%s",
			    ua->label, u->req.host, u->req.port, pn_errname(r));
	}
	return u;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct pn_udpassoc *ua = h->data;

	(void)hint;
	*buf = uv_buf_init(ua->rbuf, sizeof(ua->rbuf));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
		    unsigned flags)
{
	struct pn_udpassoc *ua = h->data;
	struct pn_socks5_addr dst;
	const uint8_t *payload;
	size_t plen;
	struct uflow *u;

	if (nread <= 0 || !from || ua->closing)
		return;
	if (flags & UV_UDP_PARTIAL) { /* larger than any datagram we relay */
		ua->dropped++;
		return;
	}
	/* Only the host that holds the control connection may use it. */
	if (!same_ip(from, (struct sockaddr *)&ua->client_ip)) {
		ua->dropped++;
		return;
	}
	if (pn_socks5_udp_parse((const uint8_t *)buf->base, (size_t)nread, &dst, &payload, &plen) !=
	    0) {
		ua->dropped++;
		return;
	}
	if (dst.port == 0 || plen > PN_FLOW_DGRAM_PAYLOAD_MAX) {
		ua->dropped++;
		return;
	}
	memcpy(&ua->client_addr, from,
	       from->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
	ua->have_client = 1;
	if (!(u = uflow_get(ua, &dst)) || u->dead) {
		ua->dropped++;
		return;
	}
	if (u->open) {
		if (pn_flow_send_datagram(u->flow, payload, plen) != 0)
			ua->dropped++;
		return;
	}
	if (u->npending < PENDING_MAX) {
		memcpy(u->pending[u->npending], payload, plen);
		u->plen[u->npending++] = (uint16_t)plen;
	} else {
		ua->dropped++;
	}
}

static void udp_closed(uv_handle_t *h)
{
	free(h->data);
}

int pn_udpassoc_new(uv_loop_t *loop, struct pn_ctuns *t, const struct sockaddr *local_ip,
		    const struct sockaddr *client_ip, const char *label, struct pn_udpassoc **out,
		    struct sockaddr_storage *bound)
{
	struct pn_udpassoc *ua;
	struct sockaddr_storage bind_to;
	int len = sizeof(*bound), r;

	*out = NULL;
	if (!(ua = calloc(1, sizeof(*ua))))
		return -ENOMEM;
	ua->loop = loop;
	ua->tuns = t;
	snprintf(ua->label, sizeof(ua->label), "%s", label);
	memcpy(&ua->client_ip, client_ip,
	       client_ip->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					       : sizeof(struct sockaddr_in6));
	memset(&bind_to, 0, sizeof(bind_to));
	memcpy(&bind_to, local_ip,
	       local_ip->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6));
	if (bind_to.ss_family == AF_INET)
		((struct sockaddr_in *)&bind_to)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&bind_to)->sin6_port = 0;
	if ((r = uv_udp_init(loop, &ua->udp)) != 0) {
		free(ua);
		return r;
	}
	ua->udp.data = ua;
	if ((r = uv_udp_bind(&ua->udp, (struct sockaddr *)&bind_to, 0)) != 0 ||
	    (r = uv_udp_getsockname(&ua->udp, (struct sockaddr *)bound, &len)) != 0 ||
	    (r = uv_udp_recv_start(&ua->udp, on_alloc, on_recv)) != 0) {
		uv_close((uv_handle_t *)&ua->udp, udp_closed);
		return r;
	}
	*out = ua;
	return 0;
}

void pn_udpassoc_close(struct pn_udpassoc *ua)
{
	if (!ua)
		return;
	ua->closing = 1;
	for (unsigned i = 0; i < ua->nflows; i++)
		uflow_free(ua, ua->flows[i]);
	ua->nflows = 0;
	if (ua->dropped)
		PN_LOG_INFO("client", "udp_associate_end", "src=%s dropped=%llu", ua->label,
			    (unsigned long long)ua->dropped);
	uv_close((uv_handle_t *)&ua->udp, udp_closed);
}
