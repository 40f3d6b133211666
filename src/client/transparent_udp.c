/* Intercepted UDP for transparent mode; see transparent_udp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/tproxy.h"
#include "client/transparent_udp.h"
#include "client/tunnels.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"
#include "tunnel/flowproto.h"

struct tflow {
	struct pn_tudp *u;
	struct sockaddr_storage src, dst;
	uv_udp_t reply; /* bound to dst, connected to src */
	int reply_open;
	struct pn_creq req;
	struct pn_flow *flow;
	int open, dead, refused;
	uint64_t last_ms;
	unsigned npending;
	uint16_t plen[PN_TUDP_PENDING];
	uint8_t pending[PN_TUDP_PENDING][PN_FLOW_DGRAM_PAYLOAD_MAX];
};

struct pn_tudp {
	uv_loop_t *loop;
	struct pn_ctuns *tuns;
	pn_proxy_map_fn map;
	void *map_user;
	int fd[2];
	uv_poll_t poll[2];
	int poll_on[2];
	uv_timer_t sweep;
	unsigned handles;
	int closing;
	unsigned nflows;
	struct tflow *flows[PN_TUDP_MAX_FLOWS];
	uint64_t dropped;
	void (*close_cb)(void *);
	void *close_arg;
};

static socklen_t sslen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return a->ss_family == b->ss_family && memcmp(a, b, sslen(a)) == 0;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

static void tudp_free_if_done(struct pn_tudp *u)
{
	if (!u->closing || u->handles)
		return;
	if (u->close_cb)
		u->close_cb(u->close_arg);
	free(u);
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_tudp *u = h->data;
	u->handles--;
	tudp_free_if_done(u);
}

static void reply_closed(uv_handle_t *h)
{
	struct tflow *f = h->data;
	struct pn_tudp *u = f->u;
	free(f);
	u->handles--;
	tudp_free_if_done(u);
}

static void tflow_free(struct tflow *f)
{
	struct pn_tudp *u = f->u;

	pn_ctuns_cancel(u->tuns, &f->req);
	if (f->flow) {
		struct pn_flow *fl = f->flow;
		f->flow = NULL;
		pn_flow_close(fl, PN_FLOW_OK);
	}
	if (f->reply_open) {
		f->reply_open = 0;
		uv_close((uv_handle_t *)&f->reply, reply_closed);
	} else {
		free(f);
		u->handles--;
		tudp_free_if_done(u);
	}
}

static void send_up(struct tflow *f, const uint8_t *p, size_t n)
{
	f->last_ms = uv_now(f->u->loop);
	if (f->dead || n > PN_FLOW_DGRAM_PAYLOAD_MAX) {
		f->u->dropped++;
		return;
	}
	if (f->open && f->flow) {
		if (pn_flow_send_datagram(f->flow, p, n) != 0)
			f->u->dropped++;
		return;
	}
	if (f->npending >= PN_TUDP_PENDING) {
		f->u->dropped++;
		return;
	}
	memcpy(f->pending[f->npending], p, n);
	f->plen[f->npending++] = (uint16_t)n;
}

/* ------------------------------------------------------- flow events -- */

static void tf_status(struct pn_flow *fl, const struct pn_flow_status *st, void *user)
{
	struct tflow *f = user;

	f->flow = fl;
	if (st->code != PN_FLOW_OK) {
		PN_LOG_WARN("client", "flow_denied",
			    "flow=%016llx via=transparent-udp dest=%s:%u code=%s",
			    (unsigned long long)pn_flow_id(fl), f->req.host, f->req.port,
			    pn_flow_code_name(st->code));
		f->dead = 1;
		return;
	}
	f->open = 1;
	PN_LOG_INFO("client", "flow_start", "flow=%016llx via=transparent-udp dest=%s:%u",
		    (unsigned long long)pn_flow_id(fl), f->req.host, f->req.port);
	for (unsigned i = 0; i < f->npending; i++)
		if (pn_flow_send_datagram(fl, f->pending[i], f->plen[i]) != 0)
			f->u->dropped++;
	f->npending = 0;
}

static void tf_datagram(struct pn_flow *fl, const uint8_t *p, size_t n, void *user)
{
	struct tflow *f = user;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);

	(void)fl;
	f->last_ms = uv_now(f->u->loop);
	if (!f->reply_open || uv_udp_try_send(&f->reply, &b, 1, NULL) < 0)
		f->u->dropped++;
}

static void tf_closed(struct pn_flow *fl, int code, void *user)
{
	struct tflow *f = user;

	(void)fl;
	f->flow = NULL;
	f->open = 0;
	f->dead = 1;
	PN_LOG_INFO("client", "flow_end", "via=transparent-udp dest=%s:%u code=%s", f->req.host,
		    f->req.port, pn_flow_code_name(code));
}

static const struct pn_flow_ops tflow_ops = {
    .status = tf_status,
    .datagram = tf_datagram,
    .closed = tf_closed,
};

static void tf_on_flow(struct pn_creq *r, struct pn_flow *fl)
{
	struct tflow *f = r->user;
	f->flow = fl;
}

static void tf_on_fail(struct pn_creq *r, int err)
{
	struct tflow *f = r->user;
	f->dead = 1;
	PN_LOG_WARN("client", "flow_refused", "via=transparent-udp dest=%s:%u reason=%s", r->host,
		    r->port, pn_errname(err));
}

/* ------------------------------------------------------------ replies -- */

static void reply_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static uint8_t rx[2048]; /* loop thread only */
	(void)h;
	(void)hint;
	*buf = uv_buf_init((char *)rx, sizeof(rx));
}

/* Later datagrams of the pair: the kernel finds the connected socket. */
static void reply_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		       unsigned flags)
{
	struct tflow *f = h->data;
	(void)from;
	if (n <= 0 || (flags & UV_UDP_PARTIAL))
		return;
	send_up(f, (uint8_t *)buf->base, (size_t)n);
}

static int open_reply(struct tflow *f)
{
	int one = 1, fd, r, mark = PN_TPROXY_MARK;
	int fam = f->dst.ss_family;

	fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((fam == AF_INET6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))
			     : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one))) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0 ||
	    bind(fd, (struct sockaddr *)&f->dst, sslen(&f->dst)) != 0 ||
	    connect(fd, (struct sockaddr *)&f->src, sslen(&f->src)) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = uv_udp_init(f->u->loop, &f->reply)) != 0) {
		close(fd);
		return r;
	}
	f->reply.data = f;
	f->reply_open = 1;
	if ((r = uv_udp_open(&f->reply, fd)) != 0) {
		close(fd);
		return r;
	}
	/* uv_udp_open does not know the socket is connected: libuv >= 1.27
	 * finds out by itself (getpeername) and send(NULL addr) works. */
	return uv_udp_recv_start(&f->reply, reply_alloc, reply_recv);
}

/* ------------------------------------------------------------ intake -- */

static struct tflow *tflow_new(struct pn_tudp *u, const struct sockaddr_storage *src,
			       const struct sockaddr_storage *dst)
{
	struct tflow *f;
	struct pn_flow *fl = NULL;
	int r;

	if (u->nflows >= PN_TUDP_MAX_FLOWS) {
		/* Drop the longest idle one. */
		unsigned old = 0;
		for (unsigned i = 1; i < u->nflows; i++)
			if (u->flows[i]->last_ms < u->flows[old]->last_ms)
				old = i;
		tflow_free(u->flows[old]);
		u->flows[old] = u->flows[--u->nflows];
	}
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	f->u = u;
	f->src = *src;
	f->dst = *dst;
	f->last_ms = uv_now(u->loop);
	u->handles++;
	u->flows[u->nflows++] = f;
	if ((r = open_reply(f)) != 0) {
		PN_LOG_WARN("client", "udp_reply_socket_failed", "err=%s", pn_errname(r));
		f->dead = 1;
		return f;
	}
	if (u->map(u->map_user, (const struct sockaddr *)dst, f->req.host, sizeof(f->req.host)) !=
	    0) {
		f->dead = f->refused = 1;
		PN_LOG_INFO("client", "flow_refused", "via=transparent-udp reason=unmapped");
		return f;
	}
	f->req.proto = PN_PROTO_UDP;
	f->req.port = port_of(dst);
	f->req.ops = &tflow_ops;
	f->req.user = f;
	f->req.on_flow = tf_on_flow;
	f->req.on_fail = tf_on_fail;
	r = pn_ctuns_request(u->tuns, &f->req, &fl);
	if (r == 0) {
		f->flow = fl;
	} else if (r < 0) {
		f->dead = f->refused = 1;
		PN_LOG_WARN("client", "flow_refused", "via=transparent-udp dest=%s:%u reason=%s",
			    f->req.host, f->req.port, pn_errname(r));
	}
	return f;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct pn_tudp *u = p->data;
	int fd = (p == &u->poll[0]) ? u->fd[0] : u->fd[1];

	(void)events;
	if (status < 0 || u->closing)
		return;
	for (int k = 0; k < 64; k++) {
		uint8_t data[2048];
		char cbuf[256];
		struct sockaddr_storage src, dst;
		struct iovec iov = {data, sizeof(data)};
		struct msghdr mh = {.msg_name = &src,
				    .msg_namelen = sizeof(src),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct tflow *f = NULL;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		int have_dst = 0;

		if (n < 0)
			break;
		memset(&dst, 0, sizeof(dst));
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR &&
			    c->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in))) {
				memcpy(&dst, CMSG_DATA(c), sizeof(struct sockaddr_in));
				have_dst = 1;
			} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR &&
				   c->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in6))) {
				memcpy(&dst, CMSG_DATA(c), sizeof(struct sockaddr_in6));
				have_dst = 1;
			}
		}
		if (!have_dst || (mh.msg_flags & MSG_TRUNC)) {
			u->dropped++;
			continue;
		}
		for (unsigned i = 0; i < u->nflows; i++)
			if (same(&u->flows[i]->src, &src) && same(&u->flows[i]->dst, &dst)) {
				f = u->flows[i];
				break;
			}
		if (f && f->dead && !f->refused) {
			/* The flow ended (connector, tunnel): a new one. */
			for (unsigned i = 0; i < u->nflows; i++)
				if (u->flows[i] == f) {
					u->flows[i] = u->flows[--u->nflows];
					break;
				}
			tflow_free(f);
			f = NULL;
		}
		if (!f && !(f = tflow_new(u, &src, &dst))) {
			u->dropped++;
			continue;
		}
		send_up(f, data, (size_t)n);
	}
}

static void on_sweep(uv_timer_t *t)
{
	struct pn_tudp *u = t->data;
	uint64_t now = uv_now(u->loop);

	for (unsigned i = 0; i < u->nflows;) {
		if (now - u->flows[i]->last_ms >= PN_TUDP_IDLE_MS) {
			tflow_free(u->flows[i]);
			u->flows[i] = u->flows[--u->nflows];
			continue;
		}
		i++;
	}
}

static int open_intake(struct pn_tudp *u, int i, int fam, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1, fd, r;

	*port = 0;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)fam;
	if (fam == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((fam == AF_INET6 ? (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) ||
				setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one)) ||
				setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
			     : (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) ||
				setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)))) ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = uv_poll_init_socket(u->loop, &u->poll[i], fd)) != 0) {
		close(fd);
		return r;
	}
	u->fd[i] = fd;
	u->poll[i].data = u;
	u->poll_on[i] = 1;
	u->handles++;
	uv_poll_start(&u->poll[i], UV_READABLE, on_readable);
	*port = port_of(&ss);
	return 0;
}

int pn_tudp_new(uv_loop_t *loop, struct pn_ctuns *tuns, pn_proxy_map_fn map, void *map_user,
		struct pn_tudp **out, uint16_t *port4, uint16_t *port6)
{
	struct pn_tudp *u = calloc(1, sizeof(*u));
	int r;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	u->loop = loop;
	u->tuns = tuns;
	u->map = map;
	u->map_user = map_user;
	u->fd[0] = u->fd[1] = -1;
	uv_timer_init(loop, &u->sweep);
	u->sweep.data = u;
	u->handles = 1;
	uv_timer_start(&u->sweep, on_sweep, 5000, 5000);
	if ((r = open_intake(u, 0, AF_INET, port4)) != 0) {
		pn_tudp_close(u, NULL, NULL);
		return r;
	}
	if (open_intake(u, 1, AF_INET6, port6) != 0)
		*port6 = 0;
	*out = u;
	return 0;
}

static void poll_closed(uv_handle_t *h)
{
	struct pn_tudp *u = h->data;
	int i = (uv_poll_t *)h == &u->poll[0] ? 0 : 1;
	close(u->fd[i]);
	u->fd[i] = -1;
	handle_closed(h);
}

void pn_tudp_close(struct pn_tudp *u, void (*cb)(void *arg), void *arg)
{
	if (!u)
		return;
	u->closing = 1;
	u->close_cb = cb;
	u->close_arg = arg;
	while (u->nflows)
		tflow_free(u->flows[--u->nflows]);
	for (int i = 0; i < 2; i++)
		if (u->poll_on[i]) {
			u->poll_on[i] = 0;
			uv_close((uv_handle_t *)&u->poll[i], poll_closed);
		}
	uv_close((uv_handle_t *)&u->sweep, handle_closed);
}
