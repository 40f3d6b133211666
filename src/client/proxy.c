/* SOCKS5 and port-forward front ends over the client's tunnels; see proxy.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/proxy_int.h"
#include "client/socks5.h"
#include "client/tunnels.h"
#include "client/udpassoc.h"
#include "core/accept.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"

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

/* ------------------------------------------------------------ closing -- */

/* ------------------------------------------------------------ reading -- */

/* --------------------------------------------------------- flow events -- */

/* ------------------------------------------------------------- SOCKS5 -- */

/* ---------------------------------------------------------- listeners -- */

/* The flow has started (its header is in the tunnel's stream, or queued
 * for it) and reading is on.  What the application sent right after its
 * connect is usually in the socket already: read it now, so it leaves in
 * the same packet as the header.  libuv would report it only in the next
 * poll, after the endpoint's flush has sent the header alone, and the
 * connector would then take the bytes one packet (and one wake-up) later. */
static void read_now(struct conn *c, int fd)
{
	uv_buf_t b;
	ssize_t n;

	if (c->closing)
		return;
	/* the buffer libuv's read would get (the process's shared one) */
	px_on_alloc((uv_handle_t *)&c->tcp, RBUF_SIZE, &b);
	if (!b.base || !b.len)
		return;
	do
		n = recv(fd, b.base, b.len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		px_on_read((uv_stream_t *)&c->tcp, n, &b);
	else if (n == 0)
		px_on_read((uv_stream_t *)&c->tcp, UV_EOF, &b);
	/* nothing yet (EAGAIN) or an error: libuv's read reports it */
}

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
	if (!(c = calloc(1, sizeof(*c)))) {
		/* This one is lost (its application sees a close); the next
		 * ones wait in the backlog while accepting pauses. */
		free(c);
		close(fd);
		pn_acceptor_exhausted(acc, -ENOMEM);
		return;
	}
	c->px = px;
	c->ln = ln;
	pn_swriter_init(&c->w, 0, DATA_WRITE_VECS, &px_data_ops, c);
	uv_tcp_init(px->loop, &c->tcp);
	pn_swriter_start(&c->w, (uv_stream_t *)&c->tcp);
	uv_timer_init(px->loop, &c->retry);
	c->tcp.data = c;
	c->retry.data = c;
	c->handles = 2;
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	pn_memtrim_count(&px->trim, ++px->nconns);
	if ((r = uv_tcp_open(&c->tcp, fd)) != 0) {
		PN_LOG_WARN("client", "accept_failed", "via=%s err=%s", ln->label, pn_errname(r));
		close(fd);
		px_conn_close(c, 0);
		return;
	}
	ln->accepted++;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		sa_str((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	pn_socks5_srv_init(&c->socks);
	if (ln->socks) {
		uv_read_start((uv_stream_t *)&c->tcp, px_on_alloc, px_on_read);
		return;
	}
	if (ln->map) {
		/* Transparent: the local address is where the application
		 * was going. */
		struct sockaddr_storage dst;
		int dlen = sizeof(dst);
		c->socks_open = 1;
		if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&dst, &dlen) != 0 ||
		    (r = ln->map(ln->map_user, (struct sockaddr *)&dst, c->req.host,
				 sizeof(c->req.host))) != 0) {
			char d[64];
			px->flows_refused++;
			PN_LOG_INFO("client", "flow_refused", "via=%s src=%s dest=%s reason=unmapped",
				    ln->label, c->peer, sa_str((struct sockaddr *)&dst, d, sizeof(d)));
			px_conn_close(c, 1);
			return;
		}
		c->req.port = dst.ss_family == AF_INET6
				  ? ntohs(((struct sockaddr_in6 *)&dst)->sin6_port)
				  : ntohs(((struct sockaddr_in *)&dst)->sin_port);
		px_start_flow(c);
		if (!c->closing)
			uv_read_start((uv_stream_t *)&c->tcp, px_on_alloc, px_on_read);
		read_now(c, fd);
		return;
	}
	/* Port-forward: the target is fixed.  Read at once: the first read
	 * goes into the flow right behind its header, without waiting for
	 * the connector's OK (one tunnel round trip less before the first
	 * byte); it stays in rbuf until the OK, so a flow lost before that
	 * is retried elsewhere without losing bytes.  More is read after it. */
	c->socks_open = 1;
	snprintf(c->req.host, sizeof(c->req.host), "%s", ln->target_host);
	c->req.port = ln->target_port;
	px_start_flow(c);
	if (!c->closing)
		uv_read_start((uv_stream_t *)&c->tcp, px_on_alloc, px_on_read);
	read_now(c, fd);
}

static int add_listener(struct pn_proxy *p, const char *addr, int socks, const char *target,
			pn_proxy_map_fn map, void *map_user)
{
	struct sockaddr_storage ss;
	struct listener *ln;
	int r;

	if (map ? pn_addr_parse(addr, &ss, PN_ADDR_PORT0) != 0 : (r = parse_listen(addr, &ss)) != 0)
		return PN_E_CONFIG;
	if (!(ln = calloc(1, sizeof(*ln))))
		return -ENOMEM;
	ln->px = p;
	ln->socks = socks;
	ln->map = map;
	ln->map_user = map_user;
	if (map) {
		snprintf(ln->label, sizeof(ln->label), "transparent:%s", addr);
	} else if (!socks) {
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
		    .ip_transparent = map != NULL,
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
	PN_LOG_INFO("client", "listening", "mode=%s addr=%s%s%s",
		    map ? "transparent" : socks ? "socks" : "forward", addr,
		    socks || map ? "" : " target=", socks || map ? "" : target);
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
	return add_listener(p, listen_addr, 1, NULL, NULL, NULL);
}

int pn_proxy_add_forward(struct pn_proxy *p, const char *spec)
{
	char local[300];
	const char *eq = strchr(spec, '=');

	if (!eq || (size_t)(eq - spec) >= sizeof(local))
		return PN_E_CONFIG;
	memcpy(local, spec, (size_t)(eq - spec));
	local[eq - spec] = '\0';
	return add_listener(p, local, 0, eq + 1, NULL, NULL);
}

int pn_proxy_add_transparent(struct pn_proxy *p, const char *listen_addr, pn_proxy_map_fn map,
			     void *user, uint16_t *bound_port)
{
	struct sockaddr_storage ss;
	int r;

	if (!map)
		return PN_E_INVAL;
	if ((r = add_listener(p, listen_addr, 0, NULL, map, user)) != 0)
		return r;
	if ((r = pn_acceptor_addr(p->listeners->acc, &ss)) != 0)
		return r;
	*bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						    : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
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
void px_proxy_free_if_done(struct pn_proxy *p)
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
	px_proxy_free_if_done(p);
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
		px_conn_close(c, 1);
	if (!p->listeners) {
		/* Only connections to wait for, if any. */
		px_proxy_free_if_done(p);
		return;
	}
	for (ln = p->listeners; ln; ln = next) {
		next = ln->next;
		pn_acceptor_close(ln->acc, listener_closed, ln);
	}
	p->listeners = NULL;
}
