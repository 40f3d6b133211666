/* SOCKS5 and port-forward front ends over the client's tunnels; see proxy.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/proxy.h"
#include "client/socks5.h"
#include "client/tunnels.h"
#include "client/udpassoc.h"
#include "core/accept.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"

#define RBUF_SIZE (64u * 1024)
/* Flows reset by a dying tunnel before the connector answered are retried
 * this many times (on another connector: failover). */
#define MAX_ATTEMPTS 3
/* Connections the kernel queues for us (it caps this at net.core.somaxconn):
 * bursts of new flows, and the pause after running out of descriptors. */
#define LISTEN_BACKLOG 4096

struct listener {
	struct pn_proxy *px;
	struct pn_acceptor *acc;
	int socks;
	char label[300];
	char target_host[256];
	uint16_t target_port;
	uint64_t accepted;
	struct listener *next;
};

struct conn {
	struct pn_proxy *px;
	struct listener *ln;
	uv_tcp_t tcp;
	uv_timer_t retry;
	int handles; /* libuv handles still to be closed before free */
	struct conn *prev, *next;
	char peer[64];

	struct pn_socks5_srv socks;
	int socks_open; /* SOCKS handshake done (or not SOCKS) */

	struct pn_creq req;
	struct pn_flow *flow;
	uint64_t flow_id;
	unsigned attempts;
	int status_seen, closing, close_when_drained, tcp_eof, flow_eof;
	unsigned writes_pending;

	uint8_t *rbuf;
	size_t pend_off, pend_len; /* bytes in rbuf the flow has not taken */
	struct pn_udpassoc *ua;
};

struct wreq {
	uv_write_t w;
	struct conn *c;
	size_t n;
	int consume; /* pn_flow_consumed(n) when written */
	uint8_t data[];
};

struct pn_proxy {
	uv_loop_t *loop;
	struct pn_ctuns *tuns;
	struct listener *listeners;
	struct conn *conns;
	uint64_t flows_ok, flows_refused, flows_failed, socks_errors;
	int closing;
	unsigned handles;
	void (*close_cb)(void *);
	void *close_arg;
};

static void conn_close(struct conn *c, int reset);
static void start_flow(struct conn *c);

static const char *sa_str(const struct sockaddr *sa, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(out, outsz, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(out, outsz, "[%s]:%u", ip, port);
	} else {
		snprintf(out, outsz, "?");
	}
	return out;
}

/* "ip:port" or "[v6]:port" (numeric only) into a sockaddr. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	struct pn_socks5_addr a;

	memset(ss, 0, sizeof(*ss));
	if (pn_socks5_addr_parse(&a, s) != 0)
		return PN_E_CONFIG;
	if (a.atyp == PN_SOCKS5_ATYP_IPV4) {
		struct sockaddr_in *in = (void *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a.u.v4, 4);
		in->sin_port = htons(a.port);
	} else if (a.atyp == PN_SOCKS5_ATYP_IPV6) {
		struct sockaddr_in6 *in6 = (void *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a.u.v6, 16);
		in6->sin6_port = htons(a.port);
	} else {
		return PN_E_CONFIG; /* listening needs an address, not a name */
	}
	return 0;
}

/* ------------------------------------------------------------ writing -- */

static void on_write(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct conn *c = wr->c;

	c->writes_pending--;
	if (wr->consume && c->flow)
		pn_flow_consumed(c->flow, wr->n);
	free(wr);
	if (status < 0 && status != UV_ECANCELED && !c->closing) {
		/* The application went away: reset the flow towards the resource. */
		conn_close(c, 1);
		return;
	}
	if (c->writes_pending == 0 && c->close_when_drained && !c->closing)
		conn_close(c, 0);
}

static int tcp_send(struct conn *c, const uint8_t *p, size_t n, int consume)
{
	struct wreq *wr = malloc(sizeof(*wr) + n);
	uv_buf_t b;
	int r;

	if (!wr)
		return -ENOMEM;
	wr->c = c;
	wr->n = n;
	wr->consume = consume;
	memcpy(wr->data, p, n);
	b = uv_buf_init((char *)wr->data, (unsigned)n);
	if ((r = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write)) != 0) {
		free(wr);
		return r;
	}
	c->writes_pending++;
	return 0;
}

/* Send a buffer's content, then close once written. */
static void send_and_close(struct conn *c, struct pn_buf *out)
{
	if (pn_buf_len(out) == 0 || tcp_send(c, pn_buf_ptr(out), pn_buf_len(out), 0) != 0) {
		conn_close(c, 0);
		return;
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->close_when_drained = 1;
}

/* ------------------------------------------------------------ closing -- */

static void proxy_free_if_done(struct pn_proxy *p);

static void conn_free_step(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct pn_proxy *px = c->px;

	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->rbuf);
	free(c);
	if (px->closing)
		proxy_free_if_done(px);
}

static void conn_close(struct conn *c, int reset)
{
	if (c->closing)
		return;
	c->closing = 1;
	pn_ctuns_cancel(c->px->tuns, &c->req);
	if (c->flow) {
		struct pn_flow *f = c->flow;
		c->flow = NULL;
		pn_flow_close(f, PN_FLOW_RESET);
	}
	if (c->ua) {
		pn_udpassoc_close(c->ua);
		c->ua = NULL;
	}
	uv_timer_stop(&c->retry);
	uv_close((uv_handle_t *)&c->retry, conn_free_step);
	/* An error ends the application's connection with a reset, never a
	 * FIN it could take for a complete transfer. */
	if (reset && uv_tcp_close_reset(&c->tcp, conn_free_step) == 0)
		return;
	if (reset) {
		/* uv_tcp_close_reset refuses while a shutdown is queued (behind
		 * writes the application has not taken yet): reset anyway */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		uv_os_fd_t fd;
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	uv_close((uv_handle_t *)&c->tcp, conn_free_step);
}

/* ------------------------------------------------------------ reading -- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	/* Reading is stopped while pend_len > 0, so rbuf is free here. */
	*buf = uv_buf_init((char *)c->rbuf, RBUF_SIZE);
}

/* Push pending bytes into the flow; 1 if all were taken. */
static int push_pending(struct conn *c)
{
	while (c->pend_len > 0) {
		ssize_t n = pn_flow_write(c->flow, c->rbuf + c->pend_off, c->pend_len);
		if (n < 0) {
			conn_close(c, 1);
			return 0;
		}
		if (n == 0)
			return 0; /* full: ops.writable resumes */
		c->pend_off += (size_t)n;
		c->pend_len -= (size_t)n;
	}
	c->pend_off = 0;
	return 1;
}

static void socks_input(struct conn *c, const uint8_t *p, size_t n);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (c->closing)
		return;
	if (nread == UV_EOF) {
		c->tcp_eof = 1;
		uv_read_stop(s);
		if (c->flow && c->status_seen) {
			pn_flow_shutdown(c->flow);
			return;
		}
		conn_close(c, 0);
		return;
	}
	if (nread < 0) {
		conn_close(c, 1);
		return;
	}
	if (nread == 0)
		return;
	if (!c->socks_open) {
		socks_input(c, (const uint8_t *)buf->base, (size_t)nread);
		return;
	}
	if (c->ua)
		return; /* UDP association: the control connection carries nothing */
	if (!c->flow)
		return;
	c->pend_off = 0;
	c->pend_len = (size_t)nread;
	if (!push_pending(c) && !c->closing)
		uv_read_stop(s);
}

/* --------------------------------------------------------- flow events -- */

static uint8_t rep_from_flow_code(int code)
{
	switch (code) {
	case PN_FLOW_OK: return PN_SOCKS5_REP_OK;
	case PN_FLOW_DENIED:
	case PN_FLOW_NO_ACL:
	case PN_FLOW_BAD_ACL:
	case PN_FLOW_REVOKED:
	case PN_FLOW_CRED: return PN_SOCKS5_REP_NOT_ALLOWED;
	case PN_FLOW_RESOLVE_FAILED:
	case PN_FLOW_UNREACHABLE:
	case PN_FLOW_TIMEOUT: return PN_SOCKS5_REP_HOST_UNREACHABLE;
	case PN_FLOW_REFUSED: return PN_SOCKS5_REP_REFUSED;
	default: return PN_SOCKS5_REP_GENERAL_FAILURE;
	}
}

/* The flow could not be opened: SOCKS gets the reply code, a forward a reset. */
static void refuse(struct conn *c, uint8_t rep, const char *why)
{
	uint8_t st[PN_SOCKS5_MAX_REPLY];
	struct pn_buf out;

	PN_LOG_WARN("client", "flow_refused", "via=%s src=%s dest=%s:%u reason=%s socks_rep=0x%02x",
		    c->ln->label, c->peer, c->req.host, c->req.port, why, rep);
	c->px->flows_refused++;
	if (!c->ln->socks) {
		conn_close(c, 1);
		return;
	}
	pn_buf_init_wr(&out, st, sizeof(st));
	if (pn_socks5_srv_reply(&c->socks, &out, rep, NULL) != 0) {
		conn_close(c, 1);
		return;
	}
	send_and_close(c, &out);
}

static void flow_status(struct pn_flow *f, const struct pn_flow_status *st, void *user)
{
	struct conn *c = user;
	char cid[PN_ID_HEX_LEN + 1];

	c->flow = f;
	c->status_seen = 1;
	c->flow_id = pn_flow_id(f);
	pn_id_hex(c->req.connector_id, cid);
	if (st->code != PN_FLOW_OK) {
		char why[200];
		snprintf(why, sizeof(why), "connector:%s", pn_flow_code_name(st->code));
		PN_LOG_WARN("client", "flow_denied", "flow=%016llx connector=%s text=\"%s\"",
			    (unsigned long long)c->flow_id, cid, st->text);
		/* ops.closed follows; the flow is released then. */
		refuse(c, rep_from_flow_code(st->code), why);
		return;
	}
	c->px->flows_ok++;
	PN_LOG_INFO("client", "flow_start", "flow=%016llx via=%s src=%s dest=%s:%u connector=%s",
		    (unsigned long long)c->flow_id, c->ln->label, c->peer, c->req.host, c->req.port,
		    cid);
	if (c->ln->socks) {
		uint8_t buf[PN_SOCKS5_MAX_REPLY];
		struct pn_buf out;

		pn_buf_init_wr(&out, buf, sizeof(buf));
		if (pn_socks5_srv_reply(&c->socks, &out, PN_SOCKS5_REP_OK, NULL) != 0 ||
		    tcp_send(c, pn_buf_ptr(&out), pn_buf_len(&out), 0) != 0) {
			conn_close(c, 1);
			return;
		}
	}
	c->socks_open = 1;
	/* Bytes the application sent ahead of the reply go first. */
	if (!push_pending(c))
		return;
	if (c->tcp_eof)
		pn_flow_shutdown(c->flow);
	else
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void flow_data(struct pn_flow *f, const uint8_t *p, size_t n, void *user)
{
	struct conn *c = user;

	(void)f;
	if (c->closing)
		return;
	if (tcp_send(c, p, n, 1) != 0)
		conn_close(c, 1);
}

static void on_shutdown(uv_shutdown_t *sh, int status)
{
	(void)status;
	free(sh);
}

static void flow_eof(struct pn_flow *f, void *user)
{
	struct conn *c = user;
	uv_shutdown_t *sh;

	(void)f;
	c->flow_eof = 1;
	if (c->closing || !(sh = malloc(sizeof(*sh))))
		return;
	/* Queued behind the pending writes; the half-close reaches the app
	 * after every byte. */
	if (uv_shutdown(sh, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		free(sh);
}

static void flow_writable(struct pn_flow *f, void *user)
{
	struct conn *c = user;

	(void)f;
	if (c->closing || !push_pending(c))
		return;
	if (c->tcp_eof)
		pn_flow_shutdown(c->flow);
	else
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void retry_cb(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (!c->closing)
		start_flow(c);
}

static void flow_closed(struct pn_flow *f, int code, void *user)
{
	struct conn *c = user;
	uint64_t tx = 0, rx = 0;

	pn_flow_bytes(f, &tx, &rx);
	c->flow = NULL;
	if (c->closing)
		return;
	if (!c->status_seen) {
		/* No verdict came (verdicts arrive as a status): the tunnel
		 * died first.  Try again on the next loop turn, when the lost
		 * connector is in backoff and another one gets the flow. */
		if (++c->attempts < MAX_ATTEMPTS) {
			PN_LOG_INFO("client", "flow_retry", "via=%s dest=%s:%u attempt=%u code=%s",
				    c->ln->label, c->req.host, c->req.port, c->attempts + 1,
				    pn_flow_code_name(code));
			uv_timer_start(&c->retry, retry_cb, 0, 0);
			return;
		}
		c->status_seen = 1;
		refuse(c, rep_from_flow_code(code), pn_flow_code_name(code));
		return;
	}
	if (c->close_when_drained)
		return; /* refused: the reply is being flushed */
	if (code == PN_FLOW_OK) {
		PN_LOG_INFO("client", "flow_end", "flow=%016llx bytes_up=%llu bytes_down=%llu",
			    (unsigned long long)c->flow_id, (unsigned long long)tx,
			    (unsigned long long)rx);
		if (c->writes_pending)
			c->close_when_drained = 1;
		else
			conn_close(c, 0);
		return;
	}
	c->px->flows_failed++;
	PN_LOG_WARN("client", "flow_error", "flow=%016llx code=%s bytes_up=%llu bytes_down=%llu",
		    (unsigned long long)c->flow_id, pn_flow_code_name(code), (unsigned long long)tx,
		    (unsigned long long)rx);
	conn_close(c, 1);
}

static const struct pn_flow_ops conn_flow_ops = {
    .status = flow_status,
    .data = flow_data,
    .eof = flow_eof,
    .writable = flow_writable,
    .closed = flow_closed,
};

static void req_on_flow(struct pn_creq *r, struct pn_flow *f)
{
	struct conn *c = r->user;

	c->flow = f;
}

static void req_on_fail(struct pn_creq *r, int err)
{
	struct conn *c = r->user;

	if (!c->closing)
		refuse(c, pn_socks5_rep_from_err(err), pn_errname(err));
}

static void start_flow(struct conn *c)
{
	struct pn_flow *f = NULL;
	int r;

	c->req.proto = PN_PROTO_TCP;
	c->req.ops = &conn_flow_ops;
	c->req.user = c;
	c->req.on_flow = req_on_flow;
	c->req.on_fail = req_on_fail;
	r = pn_ctuns_request(c->px->tuns, &c->req, &f);
	if (r == 0)
		c->flow = f;
	else if (r < 0)
		refuse(c, pn_socks5_rep_from_err(r), pn_errname(r));
}

/* ------------------------------------------------------------- SOCKS5 -- */

static void udp_associate(struct conn *c)
{
	struct sockaddr_storage local, peer, bound;
	int len = sizeof(local), plen = sizeof(peer);
	struct pn_socks5_addr bnd;
	uint8_t st[PN_SOCKS5_MAX_REPLY];
	struct pn_buf out;
	int r;

	memset(&bnd, 0, sizeof(bnd));
	if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&local, &len) != 0 ||
	    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) != 0) {
		refuse(c, PN_SOCKS5_REP_GENERAL_FAILURE, "getsockname");
		return;
	}
	r = pn_udpassoc_new(c->px->loop, c->px->tuns, (struct sockaddr *)&local,
			    (struct sockaddr *)&peer, c->peer, &c->ua, &bound);
	if (r != 0) {
		refuse(c, PN_SOCKS5_REP_GENERAL_FAILURE, pn_errname(r));
		return;
	}
	if (bound.ss_family == AF_INET) {
		struct sockaddr_in *in = (void *)&bound;
		bnd.atyp = PN_SOCKS5_ATYP_IPV4;
		memcpy(bnd.u.v4, &in->sin_addr, 4);
		bnd.port = ntohs(in->sin_port);
	} else {
		struct sockaddr_in6 *in6 = (void *)&bound;
		bnd.atyp = PN_SOCKS5_ATYP_IPV6;
		memcpy(bnd.u.v6, &in6->sin6_addr, 16);
		bnd.port = ntohs(in6->sin6_port);
	}
	pn_buf_init_wr(&out, st, sizeof(st));
	if (pn_socks5_srv_reply(&c->socks, &out, PN_SOCKS5_REP_OK, &bnd) != 0 ||
	    tcp_send(c, pn_buf_ptr(&out), pn_buf_len(&out), 0) != 0) {
		conn_close(c, 1);
		return;
	}
	c->socks_open = 1;
	PN_LOG_INFO("client", "udp_associate", "via=%s src=%s bound_port=%u", c->ln->label, c->peer,
		    bnd.port);
}

static void socks_input(struct conn *c, const uint8_t *p, size_t n)
{
	uint8_t st[PN_SOCKS5_MAX_REPLY * 2];
	struct pn_buf out;
	struct pn_socks5_request req;
	size_t used = 0;
	int r;

	pn_buf_init_wr(&out, st, sizeof(st));
	r = pn_socks5_srv_feed(&c->socks, p, n, &used, &out, &req);
	if (r < 0) {
		c->px->socks_errors++;
		PN_LOG_WARN("client", "socks_bad_request", "via=%s src=%s err=%s reply_bytes=%zu",
			    c->ln->label, c->peer, pn_errname(r), pn_buf_len(&out));
		send_and_close(c, &out);
		return;
	}
	if (pn_buf_len(&out) && tcp_send(c, pn_buf_ptr(&out), pn_buf_len(&out), 0) != 0) {
		conn_close(c, 1);
		return;
	}
	if (r != PN_SOCKS5_EV_REQUEST)
		return;
	/* Wait for the verdict before reading on; keep what was pipelined. */
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (used < n) {
		/* p is rbuf itself: move the rest to its front. */
		memmove(c->rbuf, p + used, n - used);
		c->pend_off = 0;
		c->pend_len = n - used;
	}
	pn_socks5_addr_host(&req.dst, c->req.host, sizeof(c->req.host));
	c->req.port = req.dst.port;
	if (req.cmd == PN_SOCKS5_CMD_UDP_ASSOCIATE) {
		c->pend_len = 0;
		udp_associate(c);
		if (!c->closing)
			uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
		return;
	}
	start_flow(c);
}

/* ---------------------------------------------------------- listeners -- */

/* Accepted connections come through core/accept.h: running out of
 * descriptors or memory pauses accepting (logged once per burst) instead
 * of libuv dropping the pending connections unseen. */
static void on_accept(struct pn_acceptor *acc, int fd, void *user)
{
	struct listener *ln = user;
	struct pn_proxy *px = ln->px;
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;
	struct conn *c;

	if (px->closing) {
		close(fd);
		return;
	}
	if (!(c = calloc(1, sizeof(*c))) || !(c->rbuf = malloc(RBUF_SIZE))) {
		/* This one is lost (its application sees a close); the next
		 * ones wait in the backlog while accepting pauses. */
		free(c);
		close(fd);
		pn_acceptor_exhausted(acc, -ENOMEM);
		return;
	}
	c->px = px;
	c->ln = ln;
	uv_tcp_init(px->loop, &c->tcp);
	uv_timer_init(px->loop, &c->retry);
	c->tcp.data = c;
	c->retry.data = c;
	c->handles = 2;
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	if ((r = uv_tcp_open(&c->tcp, fd)) != 0) {
		PN_LOG_WARN("client", "accept_failed", "via=%s err=%s", ln->label, pn_errname(r));
		close(fd);
		conn_close(c, 0);
		return;
	}
	ln->accepted++;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		sa_str((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	pn_socks5_srv_init(&c->socks);
	if (ln->socks) {
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
		return;
	}
	/* Port-forward: the target is fixed; read after the connector says OK
	 * (a flow lost before that is retried elsewhere without losing bytes). */
	c->socks_open = 1;
	snprintf(c->req.host, sizeof(c->req.host), "%s", ln->target_host);
	c->req.port = ln->target_port;
	start_flow(c);
}

static int add_listener(struct pn_proxy *p, const char *addr, int socks, const char *target)
{
	struct sockaddr_storage ss;
	struct listener *ln;
	int r;

	if ((r = parse_listen(addr, &ss)) != 0)
		return r;
	if (!(ln = calloc(1, sizeof(*ln))))
		return -ENOMEM;
	ln->px = p;
	ln->socks = socks;
	if (!socks) {
		struct pn_socks5_addr t;
		if (pn_socks5_addr_parse(&t, target) != 0) {
			free(ln);
			return PN_E_CONFIG;
		}
		pn_socks5_addr_host(&t, ln->target_host, sizeof(ln->target_host));
		ln->target_port = t.port;
		snprintf(ln->label, sizeof(ln->label), "forward:%s", addr);
	} else {
		snprintf(ln->label, sizeof(ln->label), "socks:%s", addr);
	}
	{
		struct pn_acceptor_config ac = {
		    .loop = p->loop,
		    .addr = (struct sockaddr *)&ss,
		    .backlog = LISTEN_BACKLOG,
		    .module = "client",
		    .label = ln->label,
		    .cb = on_accept,
		    .user = ln,
		};
		if ((r = pn_acceptor_new(&ac, &ln->acc)) != 0) {
			PN_LOG_ERROR("client", "listen_failed", "addr=%s err=%s", addr,
				     pn_errname(r));
			free(ln);
			return r;
		}
	}
	p->handles++;
	ln->next = p->listeners;
	p->listeners = ln;
	PN_LOG_INFO("client", "listening", "mode=%s addr=%s%s%s", socks ? "socks" : "forward", addr,
		    socks ? "" : " target=", socks ? "" : target);
	return 0;
}

int pn_proxy_new(uv_loop_t *loop, struct pn_ctuns *tuns, struct pn_proxy **out)
{
	struct pn_proxy *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->tuns = tuns;
	*out = p;
	return 0;
}

int pn_proxy_add_socks(struct pn_proxy *p, const char *listen_addr)
{
	return add_listener(p, listen_addr, 1, NULL);
}

int pn_proxy_add_forward(struct pn_proxy *p, const char *spec)
{
	char local[300];
	const char *eq = strchr(spec, '=');

	if (!eq || (size_t)(eq - spec) >= sizeof(local))
		return PN_E_CONFIG;
	memcpy(local, spec, (size_t)(eq - spec));
	local[eq - spec] = '\0';
	return add_listener(p, local, 0, eq + 1);
}

json_t *pn_proxy_status(const struct pn_proxy *p)
{
	json_t *o = json_object(), *ls = json_array();
	unsigned open = 0;

	if (!o || !ls) {
		json_decref(o);
		json_decref(ls);
		return NULL;
	}
	for (const struct conn *c = p->conns; c; c = c->next)
		open += !c->closing;
	for (const struct listener *ln = p->listeners; ln; ln = ln->next) {
		struct pn_acceptor_stats as;
		pn_acceptor_stats(ln->acc, &as);
		json_array_append_new(
		    ls, json_pack("{s:s, s:I, s:I, s:I, s:b}", "listener", ln->label, "accepted",
				  (json_int_t)ln->accepted, "accept_exhausted",
				  (json_int_t)as.exhausted, "exhausted_bursts",
				  (json_int_t)as.bursts, "accept_paused", as.paused));
	}
	json_object_set_new(o, "listeners", ls);
	json_object_set_new(o, "connections_open", json_integer(open));
	json_object_set_new(o, "flows_ok", json_integer((json_int_t)p->flows_ok));
	json_object_set_new(o, "flows_refused", json_integer((json_int_t)p->flows_refused));
	json_object_set_new(o, "flows_failed", json_integer((json_int_t)p->flows_failed));
	json_object_set_new(o, "socks_errors", json_integer((json_int_t)p->socks_errors));
	return o;
}

/* Closing: the proxy goes once its listeners and its connections are all
 * closed (libuv runs close callbacks in no order we may rely on). */
static void proxy_free_if_done(struct pn_proxy *p)
{
	if (p->handles > 0 || p->conns)
		return;
	if (p->close_cb)
		p->close_cb(p->close_arg);
	free(p);
}

static void listener_closed(void *arg)
{
	struct listener *ln = arg;
	struct pn_proxy *p = ln->px;

	free(ln);
	p->handles--;
	proxy_free_if_done(p);
}

void pn_proxy_close(struct pn_proxy *p, void (*cb)(void *arg), void *arg)
{
	struct listener *ln, *next;

	if (!p)
		return;
	p->closing = 1;
	p->close_cb = cb;
	p->close_arg = arg;
	for (struct conn *c = p->conns; c; c = c->next)
		conn_close(c, 1);
	if (!p->listeners) {
		/* Only connections to wait for, if any. */
		proxy_free_if_done(p);
		return;
	}
	for (ln = p->listeners; ln; ln = next) {
		next = ln->next;
		pn_acceptor_close(ln->acc, listener_closed, ln);
	}
	p->listeners = NULL;
}
