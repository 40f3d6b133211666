/* Intercepted ICMP echo for transparent mode; see transparent_icmp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "client/icmp_pkt.h"
#include "client/tproxy.h"
#include "client/transparent_icmp.h"
#include "client/tunnels.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"
#include "tunnel/flowproto.h"

struct iflow {
	struct pn_ticmp *x;
	struct pn_icmp_echo key; /* family, src, dst, id (data unused) */
	struct pn_creq req;
	struct pn_flow *flow;
	int open, dead, refused;
	uint64_t last_ms;
	unsigned npending;
	uint16_t plen[PN_TICMP_PENDING];
	uint8_t pending[PN_TICMP_PENDING][PN_FLOW_DGRAM_PAYLOAD_MAX];
};

struct pn_ticmp {
	uv_loop_t *loop;
	struct pn_ctuns *tuns;
	pn_proxy_map_fn map;
	void *map_user;
	struct mnl_socket *nl;
	int raw4, raw6;
	uv_poll_t poll;
	int poll_on;
	uv_timer_t sweep;
	unsigned handles;
	int closing;
	unsigned nflows;
	struct iflow *flows[PN_TICMP_MAX_FLOWS];
	uint64_t requests, replies, prohibited, dropped;
	void (*close_cb)(void *);
	void *close_arg;
};

/* ------------------------------------------------------------ inject -- */

static void inject(struct pn_ticmp *x, int family, const uint8_t *pkt, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, pkt + 16, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, pkt + 24, 16);
		sl = sizeof(*s6);
	}
	if (sendto(family == 4 ? x->raw4 : x->raw6, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&ss,
		   sl) < 0)
		x->dropped++;
}

static void prohibit(struct pn_ticmp *x, const struct pn_icmp_echo *e, const uint8_t *pkt,
		     size_t len)
{
	uint8_t out[PN_ICMP_PKT_MAX];
	size_t n;

	if (pn_icmp_build_prohibited(e, pkt, len, out, sizeof(out), &n) == 0) {
		x->prohibited++;
		inject(x, e->family, out, n);
	}
}

/* -------------------------------------------------------------- flows -- */

static void iflow_free(struct iflow *f)
{
	pn_ctuns_cancel(f->x->tuns, &f->req);
	if (f->flow) {
		struct pn_flow *fl = f->flow;
		f->flow = NULL;
		pn_flow_close(fl, PN_FLOW_OK);
	}
	free(f);
}

static void if_status(struct pn_flow *fl, const struct pn_flow_status *st, void *user)
{
	struct iflow *f = user;

	f->flow = fl;
	if (st->code != PN_FLOW_OK) {
		PN_LOG_WARN("client", "flow_denied", "flow=%016llx via=transparent-icmp dest=%s code=%s",
			    (unsigned long long)pn_flow_id(fl), f->req.host,
			    pn_flow_code_name(st->code));
		f->dead = f->refused = 1;
		return;
	}
	f->open = 1;
	PN_LOG_INFO("client", "flow_start", "flow=%016llx via=transparent-icmp dest=%s",
		    (unsigned long long)pn_flow_id(fl), f->req.host);
	for (unsigned i = 0; i < f->npending; i++)
		if (pn_flow_send_datagram(fl, f->pending[i], f->plen[i]) != 0)
			f->x->dropped++;
	f->npending = 0;
}

static void if_datagram(struct pn_flow *fl, const uint8_t *p, size_t n, void *user)
{
	struct iflow *f = user;
	uint8_t out[PN_ICMP_PKT_MAX];
	size_t len;

	(void)fl;
	f->last_ms = uv_now(f->x->loop);
	/* sequence + data, as the connector got them back from the resource */
	if (n < PN_FLOW_ICMP_SEQ_LEN ||
	    pn_icmp_build_reply(&f->key, pn_load_be16(p), p + PN_FLOW_ICMP_SEQ_LEN,
				n - PN_FLOW_ICMP_SEQ_LEN, out, sizeof(out), &len) != 0) {
		f->x->dropped++;
		return;
	}
	f->x->replies++;
	inject(f->x, f->key.family, out, len);
}

static void if_closed(struct pn_flow *fl, int code, void *user)
{
	struct iflow *f = user;

	(void)fl;
	f->flow = NULL;
	f->open = 0;
	f->dead = 1;
	if (code != PN_FLOW_OK && code != PN_FLOW_RESET && !f->refused) {
		f->refused = 1; /* denied by the connector: prohibited from now on */
	}
	PN_LOG_INFO("client", "flow_end", "via=transparent-icmp dest=%s code=%s", f->req.host,
		    pn_flow_code_name(code));
}

static const struct pn_flow_ops iflow_ops = {
	.status = if_status,
	.datagram = if_datagram,
	.closed = if_closed,
};

static void if_on_flow(struct pn_creq *r, struct pn_flow *fl)
{
	struct iflow *f = r->user;
	f->flow = fl;
}

static void if_on_fail(struct pn_creq *r, int err)
{
	struct iflow *f = r->user;
	f->dead = 1;
	PN_LOG_WARN("client", "flow_refused", "via=transparent-icmp dest=%s reason=%s", r->host,
		    pn_errname(err));
}

static struct iflow *iflow_new(struct pn_ticmp *x, const struct pn_icmp_echo *e)
{
	struct sockaddr_storage dst;
	struct pn_flow *fl = NULL;
	struct iflow *f;
	int r;

	if (x->nflows >= PN_TICMP_MAX_FLOWS) {
		/* the one idle longest makes room */
		unsigned old = 0;
		for (unsigned i = 1; i < x->nflows; i++)
			if (x->flows[i]->last_ms < x->flows[old]->last_ms)
				old = i;
		iflow_free(x->flows[old]);
		x->flows[old] = x->flows[--x->nflows];
	}
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	f->x = x;
	f->key = *e;
	f->key.data = NULL;
	f->key.dlen = 0;
	f->last_ms = uv_now(x->loop);
	x->flows[x->nflows++] = f;
	memset(&dst, 0, sizeof(dst));
	if (e->family == 4) {
		dst.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&dst)->sin_addr, e->dst, 4);
	} else {
		dst.ss_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&dst)->sin6_addr, e->dst, 16);
	}
	if (x->map(x->map_user, (struct sockaddr *)&dst, f->req.host, sizeof(f->req.host)) != 0) {
		f->dead = f->refused = 1;
		PN_LOG_INFO("client", "flow_refused", "via=transparent-icmp reason=unmapped");
		return f;
	}
	f->req.proto = PN_PROTO_ICMP;
	f->req.port = 0;
	f->req.ops = &iflow_ops;
	f->req.user = f;
	f->req.on_flow = if_on_flow;
	f->req.on_fail = if_on_fail;
	r = pn_ctuns_request(x->tuns, &f->req, &fl);
	if (r < 0) {
		f->dead = f->refused = 1;
		PN_LOG_WARN("client", "flow_refused", "via=transparent-icmp dest=%s reason=%s",
			    f->req.host, pn_errname(r));
	} else if (r == 0) {
		f->flow = fl;
	}
	return f;
}

static int same_key(const struct pn_icmp_echo *a, const struct pn_icmp_echo *b)
{
	size_t n = a->family == 4 ? 4 : 16;
	return a->family == b->family && a->id == b->id && !memcmp(a->src, b->src, n) &&
	       !memcmp(a->dst, b->dst, n);
}

/* One intercepted echo request. */
static void on_request(struct pn_ticmp *x, const uint8_t *pkt, size_t len)
{
	struct pn_icmp_echo e;
	struct iflow *f = NULL;
	uint8_t dg[PN_FLOW_DGRAM_PAYLOAD_MAX];

	x->requests++;
	if (pn_icmp_parse_request(pkt, len, &e) != 0 ||
	    e.dlen > sizeof(dg) - PN_FLOW_ICMP_SEQ_LEN) {
		x->dropped++;
		return;
	}
	for (unsigned i = 0; i < x->nflows; i++)
		if (same_key(&x->flows[i]->key, &e)) {
			f = x->flows[i];
			break;
		}
	if (f && f->dead && !f->refused) {
		/* ended (tunnel lost, idle at the connector): a new one */
		for (unsigned i = 0; i < x->nflows; i++)
			if (x->flows[i] == f) {
				x->flows[i] = x->flows[--x->nflows];
				break;
			}
		iflow_free(f);
		f = NULL;
	}
	if (!f && !(f = iflow_new(x, &e))) {
		x->dropped++;
		return;
	}
	f->last_ms = uv_now(x->loop);
	if (f->refused) {
		prohibit(x, &e, pkt, len);
		return;
	}
	pn_store_be16(dg, e.seq);
	memcpy(dg + PN_FLOW_ICMP_SEQ_LEN, e.data, e.dlen);
	if (f->open && f->flow) {
		if (pn_flow_send_datagram(f->flow, dg, PN_FLOW_ICMP_SEQ_LEN + e.dlen) != 0)
			x->dropped++;
		return;
	}
	if (f->npending >= PN_TICMP_PENDING) {
		x->dropped++;
		return;
	}
	memcpy(f->pending[f->npending], dg, PN_FLOW_ICMP_SEQ_LEN + e.dlen);
	f->plen[f->npending++] = (uint16_t)(PN_FLOW_ICMP_SEQ_LEN + e.dlen);
}

/* ------------------------------------------------------------- NFLOG -- */

static struct nlmsghdr *nful_hdr(char *buf, int type, uint16_t group)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_ULOG << 8) | type);
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(group);
	return nlh;
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFULA_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int pkt_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pn_ticmp *x = data;
	const struct nlattr *tb[NFULA_MAX + 1];

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return MNL_CB_OK;
	memset(tb, 0, sizeof(tb));
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0)
		return MNL_CB_OK;
	if (tb[NFULA_PAYLOAD])
		on_request(x, mnl_attr_get_payload(tb[NFULA_PAYLOAD]),
			   mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]));
	return MNL_CB_OK;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct pn_ticmp *x = p->data;
	char buf[MNL_SOCKET_BUFFER_SIZE + 0xffff];

	(void)events;
	if (status < 0 || x->closing)
		return;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(mnl_socket_get_fd(x->nl), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS) { /* the kernel dropped some: go on */
				x->dropped++;
				continue;
			}
			break;
		}
		(void)mnl_cb_run(buf, (size_t)n, 0, 0, pkt_cb, x);
	}
}

static int nful_config(struct mnl_socket *nl, uint16_t type, const void *attr, size_t len,
		       uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nful_hdr(buf, NFULNL_MSG_CONFIG, PN_TPROXY_LOG_GROUP);
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	mnl_attr_put(nlh, type, len, attr);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}

/* ----------------------------------------------------------- lifecycle -- */

static void on_sweep(uv_timer_t *t)
{
	struct pn_ticmp *x = t->data;
	uint64_t now = uv_now(x->loop);

	for (unsigned i = 0; i < x->nflows;) {
		if (now - x->flows[i]->last_ms >= PN_TICMP_IDLE_MS) {
			iflow_free(x->flows[i]);
			x->flows[i] = x->flows[--x->nflows];
			continue;
		}
		i++;
	}
}

static void free_if_done(struct pn_ticmp *x)
{
	if (!x->closing || x->handles)
		return;
	if (x->nl)
		mnl_socket_close(x->nl);
	if (x->raw4 >= 0)
		close(x->raw4);
	if (x->raw6 >= 0)
		close(x->raw6);
	if (x->close_cb)
		x->close_cb(x->close_arg);
	free(x);
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_ticmp *x = h->data;
	x->handles--;
	free_if_done(x);
}

static int raw_socket(int fam, int *out)
{
	int mark = PN_TPROXY_MARK;
	int fd = socket(fam, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); /* header included */

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

int pn_ticmp_new(uv_loop_t *loop, struct pn_ctuns *tuns, pn_proxy_map_fn map, void *map_user,
		 struct pn_ticmp **out)
{
	struct pn_ticmp *x = calloc(1, sizeof(*x));
	struct nfulnl_msg_config_cmd cmd = {.command = NFULNL_CFG_CMD_BIND};
	struct nfulnl_msg_config_mode mode = {.copy_range = htonl(0xffff),
					      .copy_mode = NFULNL_COPY_PACKET};
	uint32_t one = htonl(1), zero = 0;
	int r;

	*out = NULL;
	if (!x)
		return -ENOMEM;
	x->loop = loop;
	x->tuns = tuns;
	x->map = map;
	x->map_user = map_user;
	x->raw4 = x->raw6 = -1;
	uv_timer_init(loop, &x->sweep);
	x->sweep.data = x;
	x->handles = 1;
	uv_timer_start(&x->sweep, on_sweep, 5000, 5000);
	if ((r = raw_socket(AF_INET, &x->raw4)) != 0)
		goto fail;
	if (raw_socket(AF_INET6, &x->raw6) != 0)
		x->raw6 = -1; /* no IPv6: IPv4 echo still works */
	if (!(x->nl = mnl_socket_open(NETLINK_NETFILTER))) {
		r = -errno;
		goto fail;
	}
	if (mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	/* bind the group; whole packets; each sent at once (no batching) */
	if ((r = nful_config(x->nl, NFULA_CFG_CMD, &cmd, sizeof(cmd), 1)) != 0 ||
	    (r = nful_config(x->nl, NFULA_CFG_MODE, &mode, sizeof(mode), 2)) != 0 ||
	    (r = nful_config(x->nl, NFULA_CFG_QTHRESH, &one, sizeof(one), 3)) != 0 ||
	    (r = nful_config(x->nl, NFULA_CFG_TIMEOUT, &zero, sizeof(zero), 4)) != 0)
		goto fail;
	if ((r = uv_poll_init_socket(loop, &x->poll, mnl_socket_get_fd(x->nl))) != 0)
		goto fail;
	x->poll.data = x;
	x->poll_on = 1;
	x->handles++;
	uv_poll_start(&x->poll, UV_READABLE, on_readable);
	*out = x;
	return 0;
fail:
	PN_LOG_ERROR("client", "icmp_intercept_failed", "err=%s", pn_errname(r));
	pn_ticmp_close(x, NULL, NULL);
	return r;
}

void pn_ticmp_close(struct pn_ticmp *x, void (*cb)(void *arg), void *arg)
{
	if (!x)
		return;
	x->closing = 1;
	x->close_cb = cb;
	x->close_arg = arg;
	while (x->nflows)
		iflow_free(x->flows[--x->nflows]);
	if (x->poll_on) {
		x->poll_on = 0;
		uv_close((uv_handle_t *)&x->poll, handle_closed);
	}
	uv_close((uv_handle_t *)&x->sweep, handle_closed);
}
