/* The metrics listener's HTTP/1.1 responder.  See metrics_http.h. */
#include "core/metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/accept.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"

/* ---------------------------------------------------------- sans-I/O -- */

static const char *find_end(const char *buf, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return buf + i + 2;
		if (i + 3 < n && !memcmp(buf + i, "\r\n\r\n", 4))
			return buf + i + 4;
	}
	return NULL;
}

int pn_mhttp_parse(const char *buf, size_t n)
{
	const char *end = find_end(buf, n), *eol, *sp1, *sp2, *q;
	size_t plen;

	if (!end)
		return 0;
	/* the request line: METHOD SP TARGET SP HTTP/1.x */
	eol = memchr(buf, '\n', (size_t)(end - buf));
	if (eol > buf && eol[-1] == '\r')
		eol--;
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1 || sp1 == buf)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1 || eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    sp2[8] < '0' || sp2[8] > '9')
		return 400;
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	plen = (size_t)((q ? q : sp2) - sp1 - 1);
	if (plen != 8 || memcmp(sp1 + 1, "/metrics", 8))
		return 404;
	if (sp1 - buf != 3 || memcmp(buf, "GET", 3))
		return 405;
	return 200;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	default: return "Internal Server Error";
	}
}

int pn_mhttp_response(int status, const char *body, size_t body_len, char **out, size_t *len)
{
	char head[256], line[64];
	int h;

	if (status != 200) {
		snprintf(line, sizeof(line), "%s\n", reason(status));
		body = line;
		body_len = strlen(line);
	}
	h = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
		     status, reason(status),
		     status == 200 ? PN_METRICS_CONTENT_TYPE : "text/plain; charset=utf-8", body_len,
		     status == 405 ? "Allow: GET\r\n" : "");
	if (!(*out = malloc((size_t)h + body_len)))
		return -ENOMEM;
	memcpy(*out, head, (size_t)h);
	memcpy(*out + h, body, body_len);
	*len = (size_t)h + body_len;
	return 0;
}

/* ------------------------------------------------------------- libuv -- */

struct mconn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	struct pn_mhttp *s;
	struct mconn *next, *prev;
	char *resp;
	size_t n;
	int open_handles, answered;
	char req[PN_MHTTP_REQ_MAX];
};

struct pn_mhttp {
	uv_loop_t *loop;
	struct pn_acceptor *acc;
	const char *module;
	pn_mhttp_collect_fn collect;
	void *user;
	struct mconn *conns;
	unsigned nconns;
	int closing, acc_open;
	void (*close_cb)(void *);
	void *close_arg;
};

static void maybe_free(struct pn_mhttp *s)
{
	void (*cb)(void *) = s->close_cb;
	void *arg = s->close_arg;

	if (!s->closing || s->acc_open || s->conns)
		return;
	free(s);
	if (cb)
		cb(arg);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct mconn *c = h->data;
	struct pn_mhttp *s = c->s;

	if (--c->open_handles)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->resp);
	free(c);
	maybe_free(s);
}

static void conn_close(struct mconn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	conn_close(w->data);
}

/* The exposition, or NULL (500). */
static char *collect(struct pn_mhttp *s, size_t *len)
{
	struct pn_metrics *m = NULL;
	char *text = NULL;
	int r;

	if ((r = pn_metrics_new(&m)) == 0 && (r = s->collect(m, s->user)) == 0)
		r = pn_metrics_render(m, &text, len);
	if (r)
		PN_LOG_WARN(s->module, "metrics_failed", "err=%s", pn_errname(r));
	else if (pn_metrics_refused(m))
		PN_LOG_DEBUG(s->module, "metrics_series_refused", "n=%llu",
			     (unsigned long long)pn_metrics_refused(m));
	pn_metrics_free(m);
	return r ? NULL : text;
}

static void answer(struct mconn *c, int status)
{
	char *text = NULL;
	size_t tlen = 0;
	uv_buf_t b;

	c->answered = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (status == 200 && !(text = collect(c->s, &tlen)))
		status = 500;
	if (pn_mhttp_response(status, text, tlen, &c->resp, &tlen) != 0) {
		free(text);
		conn_close(c);
		return;
	}
	free(text);
	b = uv_buf_init(c->resp, (unsigned)tlen);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
		conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct mconn *c = h->data;

	(void)hint;
	*b = uv_buf_init(c->req + c->n, (unsigned)(sizeof(c->req) - c->n));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct mconn *c = st->data;
	int status;

	(void)b;
	if (c->answered || nread == 0)
		return;
	if (nread < 0) { /* EOF or error before a whole request: no answer */
		conn_close(c);
		return;
	}
	c->n += (size_t)nread;
	status = pn_mhttp_parse(c->req, c->n);
	if (!status && c->n == sizeof(c->req))
		status = 431;
	if (status)
		answer(c, status);
}

static void on_accept(struct pn_acceptor *a, int fd, void *user)
{
	struct pn_mhttp *s = user;
	struct mconn *c;

	(void)a;
	if (s->closing || s->nconns >= PN_MHTTP_CONNS_MAX || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->s = s;
	if (uv_tcp_init(s->loop, &c->tcp) != 0) {
		free(c);
		close(fd);
		return;
	}
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_tcp_open(&c->tcp, fd) != 0) {
		close(fd);
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, PN_MHTTP_IDLE_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

int pn_mhttp_start(uv_loop_t *loop, const char *addr, const char *module,
		   pn_mhttp_collect_fn collect_fn, void *user, struct pn_mhttp **out)
{
	struct pn_acceptor_config ac = {0};
	struct sockaddr_storage ss;
	struct pn_mhttp *s;
	int r;

	*out = NULL;
	if (!addr || pn_addr_parse(addr, &ss, PN_ADDR_PORT0) != 0)
		return PN_E_CONFIG;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->loop = loop;
	s->module = module;
	s->collect = collect_fn;
	s->user = user;
	ac.loop = loop;
	ac.addr = (const struct sockaddr *)&ss;
	ac.backlog = 64;
	ac.module = module;
	ac.label = "metrics";
	ac.cb = on_accept;
	ac.user = s;
	if ((r = pn_acceptor_new(&ac, &s->acc)) != 0) {
		free(s);
		return r;
	}
	s->acc_open = 1;
	*out = s;
	PN_LOG_INFO(module, "metrics_listening", "addr=%s port=%d", addr, pn_mhttp_port(s));
	return 0;
}

int pn_mhttp_port(const struct pn_mhttp *s)
{
	struct sockaddr_storage ss;

	if (!s || pn_acceptor_addr(s->acc, &ss) != 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static void acc_closed(void *arg)
{
	struct pn_mhttp *s = arg;

	s->acc_open = 0;
	maybe_free(s);
}

void pn_mhttp_close(struct pn_mhttp *s, void (*cb)(void *arg), void *arg)
{
	if (!s) {
		if (cb)
			cb(arg);
		return;
	}
	if (s->closing)
		return;
	s->closing = 1;
	s->close_cb = cb;
	s->close_arg = arg;
	for (struct mconn *c = s->conns; c; c = c->next)
		conn_close(c);
	pn_acceptor_close(s->acc, acc_closed, s);
}
