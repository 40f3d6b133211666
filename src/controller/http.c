/*
 * The HTTPS front of the controller: libmicrohttpd with GnuTLS, TLS 1.3
 * only, event-driven: HTTP_THREADS poll loops (MHD's thread pool) own
 * every socket and run the TLS handshakes non-blocking.  Not epoll: in
 * libmicrohttpd 0.9.75 (and its master at the time of writing) a TLS
 * handshake that returns GNUTLS_E_AGAIN leaves its connection on the epoll
 * loop's ready list (only the record layer's receive clears the flag), so
 * the loop waits with a timeout of 0 and retries gnutls_handshake (a recv
 * that returns EAGAIN) on every such connection until the handshake
 * completes or times out.  Six bytes of a TLS record from a slowloris kept
 * every loop spinning, and a legitimate login waited behind them
 * (docs/performance.md).  poll() is level-triggered and has no such list: a
 * partial record costs one handshake step per arriving segment.  Requests are
 * handled on the loop thread that owns the connection (handlers may block
 * on the store for the length of one request); a push stream is a
 * suspended connection that holds no thread (push.c), so one controller
 * holds tens of thousands of subscribers.  One accept thread owns the
 * listening socket, applies the limits below and hands each admitted
 * connection to one loop (MHD_add_connection): loops polling a shared
 * listening socket were all woken by every connection.
 *
 * Limits: unauthenticated work (a connection from accept until it is
 * closed or becomes an authenticated push stream) is capped per source
 * address and in total (srclimit.h); authenticated streams count only
 * against the descriptor budget, so any number of subscribers may share
 * one NAT address.  An idle timeout cuts slow clients off.  When the
 * total is reached, a new connection takes the place of the oldest one in
 * progress whose source holds at least two more than the newcomer's (shut
 * down; its loop closes it): a slowloris from many addresses holds the
 * table, but cannot lock a lighter source out of it, and its own
 * reconnections are refused at accept instead of evicting each other.
 *
 * Each request is collected here (headers, then at most PN_API_BODY_MAX
 * bytes of body), parsed as JSON, authenticated (auth.c) and routed
 * (router.c); the handler fills a pn_req whose response is sent from here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/socket.h>
#include <unistd.h>

#include "controller/api.h"
#include "controller/http.h"
#include "controller/mhd_dl.h"
#include "controller/push.h"
#include "controller/tlscert.h"
#include "controller/srclimit.h"
#include "core/err.h"
#include "core/fdlimit.h"
#include "core/log.h"

#define HTTP_IDLE_TIMEOUT_S 10   /* slowloris: a connection idle this long is closed */
#define HTTP_UNAUTH_LIMIT 512    /* connections not (yet) an authenticated stream, in total */
#define HTTP_PER_IP_LIMIT 128    /* ... and per source address */
#define HTTP_CONN_MAX 262144     /* every connection, streams included (also bounded by fds) */
#define HTTP_FD_RESERVE 256      /* descriptors kept for the store, files, logs */
#define HTTP_THREADS 16          /* poll loops (MHD thread pool); handlers may block one for the length of a request */
#define HTTP_THREAD_STACK (256 * 1024)
#define HTTP_EVICT_INFLIGHT 64   /* connections shut down for others, not yet closed */
#define HTTP_EVICT_SCAN 128      /* oldest connections looked at for one eviction */

struct pn_http {
	struct MHD_Daemon *d;
	int lfd;		/* listening socket, polled by the accept thread only */
	int stop[2];		/* pipe: written to stop the accept thread */
	pthread_t acceptor;
	struct pn_ctl *ctl;
	struct pn_srclimit *unauth;
	unsigned conn_max;
	uint16_t port;
	/* connections in progress (counted), oldest first: eviction order */
	pthread_mutex_t plock;
	struct sockctx *phead, *ptail;
	unsigned evicting;	 /* shut down, not yet closed by their loop */
	unsigned long evictions; /* in total */
	/* counted by the accept thread, by descriptor, until the loop's
	 * NOTIFY_STARTED takes the count over (under plock) */
	struct pn_srckey *resv;
	unsigned char *resv_set;
	unsigned resv_n;
};

/* Per-connection (socket) state: whether it still counts as unauthenticated. */
struct sockctx {
	struct pn_srckey k;
	int counted;
	int fd;
	int linked, evicted;
	struct sockctx *prev, *next;
};

/* Take sc off the list of connections in progress (idempotent). */
static void pending_unlink(struct pn_http *h, struct sockctx *sc)
{
	pthread_mutex_lock(&h->plock);
	if (sc->linked) {
		*(sc->prev ? &sc->prev->next : &h->phead) = sc->next;
		*(sc->next ? &sc->next->prev : &h->ptail) = sc->prev;
		sc->linked = 0;
		if (sc->evicted)
			h->evicting--;
	}
	pthread_mutex_unlock(&h->plock);
}

static void pending_link(struct pn_http *h, struct sockctx *sc)
{
	pthread_mutex_lock(&h->plock);
	sc->prev = h->ptail;
	sc->next = NULL;
	*(h->ptail ? &h->ptail->next : &h->phead) = sc;
	h->ptail = sc;
	sc->linked = 1;
	pthread_mutex_unlock(&h->plock);
}

/*
 * The table is full and a connection from `k` arrives: shut down the
 * oldest connection in progress (among the HTTP_EVICT_SCAN oldest) whose
 * source holds more than k's count + 1 (its loop thread reads EOF and
 * closes it; MHD notifies CLOSED, which unlinks it, before it closes the
 * descriptor, so the descriptor is valid here).  At most
 * HTTP_EVICT_INFLIGHT at a time.  1 if one was, 0 if not.
 */
static int evict_for(struct pn_http *h, const struct pn_srckey *k)
{
	unsigned mine = pn_srclimit_count(h->unauth, k), i = 0;
	struct sockctx *sc;
	unsigned long n = 0;

	pthread_mutex_lock(&h->plock);
	if (h->evicting < HTTP_EVICT_INFLIGHT) {
		for (sc = h->phead; sc && i < HTTP_EVICT_SCAN; sc = sc->next, i++)
			if (!sc->evicted && pn_srclimit_count(h->unauth, &sc->k) > mine + 1)
				break;
		if (sc && i < HTTP_EVICT_SCAN && shutdown(sc->fd, SHUT_RDWR) == 0) {
			sc->evicted = 1;
			h->evicting++;
			n = ++h->evictions;
		}
	}
	pthread_mutex_unlock(&h->plock);
	if (n % 1000 == 1) /* the first, then one line per thousand */
		PN_LOG_WARN("controller", "http_evicted",
			    "reason=unauthenticated_limit evictions=%lu", n);
	return n != 0;
}

/* Per-request state kept across MHD's calls for one request. */
struct conctx {
	struct pn_req req; /* identified and routed from the headers alone */
	pn_handler_fn fn;
	char *body;
	size_t len;
	int too_big;
	int answered; /* a response was queued from the headers alone */
};

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
				  const char *msg)
{
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	enum MHD_Result ret;

	if (!j)
		return MHD_NO;
	ret = send_json(c, status, j);
	json_decref(j);
	return ret;
}

/* Split "/v1/a/b" into segments; 0 or -EINVAL for anything odd. */
int pn_api_split_path(struct pn_req *r, const char *url)
{
	size_t n = strlen(url);
	char *p;

	if (n < 4 || n >= sizeof(r->segbuf) || strncmp(url, "/v1/", 4))
		return -EINVAL;
	memcpy(r->segbuf, url + 4, n - 4 + 1);
	p = r->segbuf;
	while (*p) {
		char *slash = strchr(p, '/');

		if (r->nseg == sizeof(r->seg) / sizeof(r->seg[0]))
			return -EINVAL;
		if (slash)
			*slash = '\0';
		if (!*p) /* empty segment: "//" or a trailing slash */
			return -EINVAL;
		r->seg[r->nseg++] = p;
		if (!slash)
			break;
		p = slash + 1;
		if (!*p)
			return -EINVAL;
	}
	return r->nseg ? 0 : -EINVAL;
}

static int is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	return ct && !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';');
}

/* The extra headers a handler asked for (console: Set-Cookie, CSP). */
static void add_req_headers(struct MHD_Response *resp, const struct pn_req *r)
{
	for (unsigned i = 0; i < r->nhdr; i++)
		MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
}

/* Send the response a handler or the router left in r. */
static enum MHD_Result send_req(struct MHD_Connection *c, struct pn_req *r)
{
	char *text;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!r->resp)
		return send_error(c, 500, "internal", "handler produced no response");
	if (!(text = json_dumps(r->resp, JSON_COMPACT)))
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	add_req_headers(resp, r);
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result finish(struct pn_http *h, struct MHD_Connection *c, struct conctx *cx)
{
	struct pn_req *r = &cx->req;
	enum MHD_Result ret;
	json_error_t jerr;

	if (cx->too_big)
		return send_error(c, 413, "body_too_large", "request body exceeds " PN_CTLAPI_BODY_MAX_TEXT " bytes");
	if (cx->len) {
		if (!is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							      "Content-Type")))
			return send_error(c, 415, "unsupported_media_type",
					  "request body must be application/json");
		r->body = json_loadb(cx->body, cx->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!r->body)
			return send_error(c, 400, "malformed_json", jerr.text);
		if (!json_is_object(r->body))
			return send_error(c, 400, "malformed_json", "body must be a JSON object");
	}
	cx->fn(r);
	if (r->stream) {
		struct MHD_Response *resp = pn_push_response(r);

		if (!resp) {
			ret = send_error(c, 500, "internal", "cannot open stream");
		} else {
			/* A subscriber's channel is long-lived: it is kept alive
			 * by periodic comments, so give it a longer idle limit. */
			const union MHD_ConnectionInfo *fdi =
				MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
			int one = 1;
			const union MHD_ConnectionInfo *sci =
				MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
			struct sockctx *sc = sci ? sci->socket_context : NULL;

			/* An authenticated subscriber: no longer unauthenticated
			 * work of its source (many share one NAT address). */
			if (sc && sc->counted) {
				pending_unlink(h, sc);
				pn_srclimit_release(h->unauth, &sc->k);
				sc->counted = 0;
			}
			MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
						  (unsigned)PN_PUSH_IDLE_TIMEOUT_S);
			/* events are small and latency-critical: no Nagle delay */
			if (fdi)
				setsockopt(fdi->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
			ret = MHD_queue_response(c, 200, resp);
			MHD_destroy_response(resp);
		}
	} else if (r->raw) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
			strlen(r->raw), r->raw, MHD_RESPMEM_MUST_FREE);

		if (!resp) {
			free(r->raw);
			ret = MHD_NO;
		} else {
			MHD_add_response_header(resp, "Content-Type", r->raw_type);
			add_req_headers(resp, r);
			ret = MHD_queue_response(c, r->status ? r->status : 200, resp);
			MHD_destroy_response(resp);
		}
	} else {
		ret = send_req(c, r);
	}
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct pn_http *h = cls;
	struct conctx *cx = *con_cls;

	if (!cx) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		enum pn_access acc;

		cx = calloc(1, sizeof(*cx));
		if (!cx)
			return MHD_NO;
		*con_cls = cx;
		cx->req.ctl = h->ctl;
		cx->req.conn = c;
		cx->req.method = method;
		cx->req.path = url;
		/* Everything that can be decided from the request line and the
		 * headers is decided before any body byte is read or parsed:
		 * unauthenticated and unauthorized requests cost O(1). */
		cx->answered = 1; /* unless every check below passes */
		if (cl && strtoull(cl, NULL, 10) > PN_API_BODY_MAX)
			return send_error(c, 413, "body_too_large",
					  "request body exceeds " PN_CTLAPI_BODY_MAX_TEXT " bytes");
		/* /v1/... is the API; /console/... the console's files */
		if (pn_api_split_path(&cx->req, url) && !pn_console_path(url))
			return send_error(c, 404, "not_found", "no such endpoint");
		pn_auth_identify(&cx->req);
		if (pn_router_find(&cx->req, &cx->fn, &acc) || pn_router_allow(&cx->req, acc))
			return send_req(c, &cx->req);
		cx->answered = 0;
		return MHD_YES;
	}
	if (cx->answered) { /* discard whatever body follows an early answer */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Chunked or lying sender: stop buffering at the cap, keep
		 * draining, answer 413 at the end. */
		if (!cx->too_big && cx->len + *upload_size <= PN_API_BODY_MAX) {
			char *nb = realloc(cx->body, cx->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			cx->body = nb;
			memcpy(cx->body + cx->len, upload_data, *upload_size);
			cx->len += *upload_size;
			cx->body[cx->len] = '\0';
		} else {
			cx->too_big = 1;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return finish(h, c, cx);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conctx *cx = *con_cls;

	if (cx) {
		json_decref(cx->req.resp);
		json_decref(cx->req.body);
		free(cx->body);
		free(cx);
	}
	*con_cls = NULL;
}

/* Before the TLS handshake: refuse a source over its cap of connections in
 * progress; over the total, admit it in place of an older connection of a
 * heavier source (evict_for), else refuse it.  Called by the accept thread
 * alone; the loops release concurrently, so a cap errs only towards
 * refusing (+ HTTP_EVICT_INFLIGHT over the total while evictions close). */
static int admit(struct pn_http *h, const struct sockaddr *sa, socklen_t len)
{
	struct pn_srckey k;

	if (pn_srckey_from_sockaddr(sa, len, &k))
		return 0;
	if (pn_srclimit_allowed(h->unauth, &k))
		return 1;
	if (pn_srclimit_count(h->unauth, &k) < HTTP_PER_IP_LIMIT && evict_for(h, &k))
		return 1;
	PN_LOG_DEBUG("controller", "http_refused", "reason=unauthenticated_limit total=%zu",
		     pn_srclimit_total(h->unauth));
	return 0;
}

/*
 * Count an admitted connection at once, so that the next accept sees it
 * (its loop's NOTIFY_STARTED may come later): the count is kept by
 * descriptor until on_connection takes it.  A count left by a connection
 * MHD dropped before NOTIFY_STARTED is released when its descriptor
 * number is accepted again.  Descriptors past the table are counted by
 * on_connection, as before.
 */
static int take_reserved(struct pn_http *h, int fd, struct pn_srckey *k)
{
	int had = 0;

	if (fd < 0 || (unsigned)fd >= h->resv_n)
		return 0;
	pthread_mutex_lock(&h->plock);
	if (h->resv_set[fd]) {
		had = 1;
		h->resv_set[fd] = 0;
		if (k)
			*k = h->resv[fd];
		else
			pn_srclimit_release(h->unauth, &h->resv[fd]);
	}
	pthread_mutex_unlock(&h->plock);
	return had;
}

static int reserve(struct pn_http *h, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pn_srckey k;
	int rc;

	if (fd < 0 || (unsigned)fd >= h->resv_n)
		return 0;
	(void)take_reserved(h, fd, NULL); /* stale: see above */
	if ((rc = pn_srckey_from_sockaddr(sa, len, &k)) || (rc = pn_srclimit_add(h->unauth, &k)))
		return rc;
	pthread_mutex_lock(&h->plock);
	h->resv[fd] = k;
	h->resv_set[fd] = 1;
	pthread_mutex_unlock(&h->plock);
	return 0;
}

/*
 * One thread accepts for all the loops: a connection wakes this thread and
 * then (if admitted) the one loop MHD hands it to, not every loop polling
 * a shared listening socket (poll() wakes all of them on each connection,
 * and a slowloris reconnects hundreds of times a second: docs/performance.md).
 */
static void *accept_main(void *arg)
{
	struct pn_http *h = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = h->lfd, .events = POLLIN },
				       { .fd = h->stop[0], .events = POLLIN } };
		int n = poll(p, 2, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOMEM) { /* the kernel's, for a moment: try again */
				(void)poll(NULL, 0, 50);
				continue;
			}
			/* EFAULT/EINVAL: a defect.  Without this thread the API
			 * accepts nothing: fail loudly, not silently */
			PN_LOG_ERROR("controller", "accept_failed", "errno=%d", errno);
			abort();
		}
		if (p[1].revents)
			break;
		for (;;) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			int fd = accept4(h->lfd, (struct sockaddr *)&ss, &len,
					 SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0) {
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				    errno == ENOMEM)
					(void)poll(NULL, 0, 50); /* out of descriptors: let closes catch up */
				break;
			}
			if (!admit(h, (struct sockaddr *)&ss, len) ||
			    reserve(h, fd, (struct sockaddr *)&ss, len)) {
				close(fd);
				continue;
			}
			/* MHD picks a loop and wakes it; on failure it has closed
			 * fd before any NOTIFY_STARTED */
			if (MHD_add_connection(h->d, fd, (struct sockaddr *)&ss, len) != MHD_YES)
				(void)take_reserved(h, fd, NULL);
		}
	}
	return NULL;
}

/* The listening socket for ss (nonblocking); -errno on failure. */
static int listen_on(const struct sockaddr_storage *ss, int *out)
{
	int one = 1, fd;
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, len) || listen(fd, SOMAXCONN)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct pn_http *h = cls;
	struct sockctx *sc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = ci ? ci->client_addr : NULL;
		socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							     : sizeof(struct sockaddr_in);

		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return; /* not counted: only under memory exhaustion */
		const union MHD_ConnectionInfo *fdi =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (fdi && take_reserved(h, fdi->connect_fd, &sc->k)) {
			sc->counted = 1;
			sc->fd = fdi->connect_fd;
			pending_link(h, sc);
		} else if (sa && !pn_srckey_from_sockaddr(sa, len, &sc->k) &&
			   !pn_srclimit_add(h->unauth, &sc->k)) {
			sc->counted = 1;
			sc->fd = fdi ? fdi->connect_fd : -1;
			if (sc->fd >= 0)
				pending_link(h, sc);
		}
		*socket_context = sc;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (sc)
			pending_unlink(h, sc);
		if (sc && sc->counted)
			pn_srclimit_release(h->unauth, &sc->k);
		free(sc);
		*socket_context = NULL;
	}
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	PN_LOG_DEBUG("controller", "http", "msg=\"%s\"", msg);
}

int pn_http_start(struct pn_ctl *ctl, const char *host, uint16_t port, const char *key_pem,
		  const char *cert_pem, const char *ca_pem, struct pn_http **out)
{
	struct pn_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	/* poll, not epoll: see the top */
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TLS |
			 MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
	socklen_t slen = sizeof(ss);
	uint64_t fds = 0;
	char err[256];
	int rc;

	if (!h)
		return -ENOMEM;
	/* libmicrohttpd is loaded here, by the controller only (mhd_dl.h) */
	if ((rc = pn_mhd_load(err, sizeof(err)))) {
		PN_LOG_ERROR("controller", "http_start_failed", "host=%s port=%u msg=\"%s\"", host,
			     port, err);
		free(h);
		return rc;
	}
	if ((rc = pn_srclimit_new(HTTP_PER_IP_LIMIT, HTTP_UNAUTH_LIMIT, &h->unauth))) {
		free(h);
		return rc;
	}
	pthread_mutex_init(&h->plock, NULL);
	h->lfd = h->stop[0] = h->stop[1] = -1;
	/* Every subscriber is a descriptor: take what the system allows and
	 * size the connection cap to it. */
	(void)pn_fdlimit_raise_to(PN_FDLIMIT_SERVER_WANT, &fds, NULL);
	h->conn_max = HTTP_CONN_MAX;
	if (fds && fds < (uint64_t)HTTP_CONN_MAX + HTTP_FD_RESERVE)
		h->conn_max = fds > 2 * HTTP_FD_RESERVE ? (unsigned)(fds - HTTP_FD_RESERVE)
							: (unsigned)(fds / 2);
	h->resv_n = h->conn_max + HTTP_FD_RESERVE;
	h->resv = calloc(h->resv_n, sizeof(*h->resv));
	h->resv_set = calloc(h->resv_n, 1);
	if (!h->resv || !h->resv_set) {
		rc = -ENOMEM;
		goto out_sock;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		rc = PN_E_CONFIG;
		goto out_sock;
	}
	h->ctl = ctl;
	if ((rc = listen_on(&ss, &h->lfd)) ||
	    getsockname(h->lfd, (struct sockaddr *)&ss, &slen) || pipe2(h->stop, O_CLOEXEC)) {
		PN_LOG_ERROR("controller", "http_start_failed", "host=%s port=%u errno=%d", host,
			     port, rc ? -rc : errno);
		goto out_sock;
	}
	h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	h->d = MHD_start_daemon(
		/* no listening socket: accept_main hands connections in */
		flags, 0, NULL, NULL, on_request, h,
		/* With ctl->tls the chain is chosen per handshake (Ed25519 for
		 * components, ECDSA for browsers: tlscert.h). */
		MHD_OPTION_HTTPS_MEM_KEY, ctl->tls ? NULL : key_pem, MHD_OPTION_HTTPS_MEM_CERT,
		ctl->tls ? NULL : cert_pem, MHD_OPTION_HTTPS_CERT_CALLBACK,
		ctl->tls ? pn_tlscert_retrieve : NULL,
		/* Setting a trust list makes MHD ask for (not require) a client
		 * certificate; auth.c verifies it against the pinned CA. */
		MHD_OPTION_HTTPS_MEM_TRUST, ca_pem, MHD_OPTION_HTTPS_PRIORITIES,
		"NORMAL:-VERS-ALL:+VERS-TLS1.3", MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, h->conn_max,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_THREAD_STACK_SIZE,
		(size_t)HTTP_THREAD_STACK, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(32 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
	if (!h->d) {
		PN_LOG_ERROR("controller", "http_start_failed", "host=%s port=%u errno=%d", host,
			     port, errno);
		goto out_sock;
	}
	if (ctl->tls && pn_tlscert_register(ctl->tls, h->port)) {
		rc = -ENOSPC;
		goto out_mhd;
	}
	if ((rc = -pthread_create(&h->acceptor, NULL, accept_main, h))) {
		PN_LOG_ERROR("controller", "http_start_failed", "host=%s port=%u errno=%d", host,
			     port, -rc);
		goto out_mhd;
	}
	PN_LOG_INFO("controller", "http_limits",
		    "threads=%u connections_max=%u unauthenticated_max=%u per_source_max=%u fd_limit=%llu",
		    (unsigned)HTTP_THREADS, h->conn_max, (unsigned)HTTP_UNAUTH_LIMIT,
		    (unsigned)HTTP_PER_IP_LIMIT, (unsigned long long)fds);
	*out = h;
	return 0;
out_mhd:
	MHD_stop_daemon(h->d);
out_sock:
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->stop[0] >= 0) {
		close(h->stop[0]);
		close(h->stop[1]);
	}
	pn_srclimit_free(h->unauth);
	pthread_mutex_destroy(&h->plock);
	free(h->resv);
	free(h->resv_set);
	free(h);
	return rc ? rc : PN_E_IO;
}

uint16_t pn_http_port(const struct pn_http *h)
{
	return h->port;
}

void pn_http_stop(struct pn_http *h)
{
	if (!h)
		return;
	/* the acceptor first: it hands connections to the daemon */
	(void)!write(h->stop[1], "", 1);
	pthread_join(h->acceptor, NULL);
	close(h->lfd);
	close(h->stop[0]);
	close(h->stop[1]);
	MHD_stop_daemon(h->d);
	pn_srclimit_free(h->unauth);
	pthread_mutex_destroy(&h->plock);
	free(h->resv);
	free(h->resv_set);
	free(h);
}
