#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <nettle/base64.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/stream_int.h"
#include "relay/wire.h"
#include "relay/wsframe.h"
#include "relay/wshttp.h"

static void kick_write(struct pn_rstream *s);
static void flush_cb(uv_idle_t *h);
static void close_after_write(struct pn_rstream *s, int err);
static void timer_cb(uv_timer_t *t);

/* ---- raw socket output ---- */

int rst_raw_append(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	int r = pn_buf_put_bytes(&s->out[s->cur], p, n);
	/* Corked while a flush makes records: they leave in one write. */
	if (r == 0 && !s->corked)
		kick_write(s);
	return r;
}

/* Bytes for the socket above the optional wss:// TLS layer. */
int rst_wire_append(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	size_t off = 0;
	ssize_t r;

	if (!s->otls)
		return rst_raw_append(s, p, n);
	/* The push function never blocks (it appends to out[]): every record
	 * is written in full or the call fails. */
	while (off < n) {
		r = gnutls_record_send(s->otls, p + off, n - off);
		if (r < 0)
			return PN_E_IO;
		off += (size_t)r;
	}
	return 0;
}

static void on_written(uv_write_t *req, int status)
{
	struct pn_rstream *s = req->data;

	s->writing = 0;
	pn_buf_reset(&s->out[!s->cur]);
	/* Give back what a burst grew: idle streams hold no large buffers. */
	if (s->out[!s->cur].cap > 4 * TLS_CHUNK) {
		size_t max = s->out[!s->cur].max;
		pn_buf_fini(&s->out[!s->cur]);
		pn_buf_init_dyn(&s->out[!s->cur], 0, max);
	}
	if (status < 0) {
		rst_close_now(s, status == UV_ECANCELED ? PN_E_CLOSED : PN_E_IO);
		return;
	}
	if (s->st == ST_CLOSED)
		return;
	kick_write(s);
	/* Egress drained below the bound: let the flush move more plaintext. */
	if (pn_buf_len(&s->ptx))
		uv_idle_start(&s->prep, flush_cb);
	if (s->graceful && !s->writing && !pn_buf_len(&s->ptx))
		rst_close_now(s, s->close_err);
}

static void kick_write(struct pn_rstream *s)
{
	uv_buf_t b;
	struct pn_buf *o;
	int r;

	if (s->writing || s->st == ST_CLOSED || s->st == ST_CONNECTING)
		return;
	o = &s->out[s->cur];
	if (!pn_buf_len(o))
		return;
	/* Straight into the socket when it has room (no wait for the next loop
	 * iteration); only what it does not take goes through uv_write. */
	b = uv_buf_init((char *)pn_buf_ptr(o), (unsigned)pn_buf_len(o));
	if (s->cfg.stats)
		s->cfg.stats->writes++;
	r = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
	if (r > 0) {
		pn_buf_skip(o, (size_t)r);
		if (!pn_buf_len(o)) {
			pn_buf_reset(o);
			return;
		}
		b = uv_buf_init((char *)pn_buf_ptr(o), (unsigned)pn_buf_len(o));
	}
	/* EAGAIN, or an error: uv_write reports errors from the loop, after the
	 * reads already pending (a peer's alert explains more than EPIPE). */
	s->wreq.data = s;
	if ((r = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_written))) {
		rst_close_now(s, PN_E_IO);
		return;
	}
	s->writing = 1;
	s->cur = !s->cur;
}

/* Room for n bytes at the end of the socket buffer (the caller fills all
 * of them, then calls rst_raw_kick). */
int rst_raw_reserve(struct pn_rstream *s, size_t n, uint8_t **p)
{
	return pn_buf_reserve(&s->out[s->cur], n, p);
}

void rst_raw_kick(struct pn_rstream *s)
{
	if (!s->corked)
		kick_write(s);
}

/* ---- TLS ---- */

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct pn_rstream *s = ptr;
	size_t n = len < s->in_n ? len : s->in_n;

	if (!n) {
		gnutls_transport_set_errno(s->tls, EAGAIN);
		return -1;
	}
	memcpy(buf, s->in_p, n);
	s->in_p += n;
	s->in_n -= n;
	return (ssize_t)n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct pn_rstream *s = ptr;
	int r;

	if (s->is_ws) {
		/* One binary frame per TLS record: within PN_RELAY_MAX_WS_MESSAGE. */
		r = rst_ws_send(s, PN_WS_OP_BINARY, buf, len);
	} else {
		r = rst_raw_append(s, buf, len);
	}
	if (r) {
		gnutls_transport_set_errno(s->tls, ENOBUFS);
		return -1;
	}
	return (ssize_t)len;
}

int rst_tls_start(struct pn_rstream *s)
{
	static const gnutls_datum_t alpn = {(unsigned char *)PN_RELAY_ALPN,
					    sizeof(PN_RELAY_ALPN) - 1};
	int r;

	if (gnutls_init(&s->tls, (s->cfg.server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
				     GNUTLS_NO_TICKETS))
		return PN_E_CRYPTO;
	if ((r = gnutls_priority_set_direct(s->tls, TLS_PRIORITY, NULL)) ||
	    (r = gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->cfg.cred)) ||
	    (r = gnutls_alpn_set_protocols(s->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY)))
		return PN_E_CRYPTO;
	if (s->cfg.server)
		gnutls_certificate_server_set_request(s->tls, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_ptr(s->tls, s);
	gnutls_transport_set_pull_function(s->tls, tls_pull);
	gnutls_transport_set_push_function(s->tls, tls_push);
	s->st = ST_TLS;
	return 0;
}

static int deliver(struct pn_rstream *s, const uint8_t *p, size_t n, size_t *used)
{
	struct pn_relay_frame f;
	size_t off = 0, u;
	int r = 0, any = 0;

	while (s->st == ST_READY && !s->closing) {
		r = pn_relay_frame_next(p + off, n - off, &f, &u);
		if (r == PN_E_TRUNCATED) {
			r = 0;
			break;
		}
		if (r)
			break;
		any = 1;
		if ((r = s->ops->on_frame(s, &f, s->user)))
			break;
		off += u;
	}
	*used = off;
	/* Frames point into p: the owner sends what it queued before p is
	 * reused (on every path: an error closes the stream, not the batch). */
	if (any && s->ops->on_input_end)
		s->ops->on_input_end(s, s->user);
	return r;
}

/* Decrypted bytes: frames straight from the buffer, a partial one kept. */
static int plain_input(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	size_t used;
	int r;

	if (pn_buf_len(&s->rx)) {
		/* Complete the partial frame first (bounded by the frame size). */
		if ((r = pn_buf_put_bytes(&s->rx, p, n)))
			return r;
		if ((r = deliver(s, pn_buf_ptr(&s->rx), pn_buf_len(&s->rx), &used)))
			return r;
		pn_buf_skip(&s->rx, used);
		pn_buf_compact(&s->rx);
		return 0;
	}
	if ((r = deliver(s, p, n, &used)))
		return r;
	if (used < n && s->st == ST_READY)
		return pn_buf_put_bytes(&s->rx, p + used, n - used);
	return 0;
}

void rst_tls_input(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	ssize_t got;
	int r;

	s->in_p = p;
	s->in_n = n;
	if (s->st == ST_TLS) {
		r = gnutls_handshake(s->tls);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			goto done;
		if (r < 0) {
			/* Tell the peer (an alert), then close once it is written. */
			gnutls_alert_send_appropriate(s->tls, r);
			close_after_write(s, PN_E_UNTRUSTED);
			goto done;
		}
		s->st = ST_READY;
		uv_timer_stop(&s->timer);
		if ((r = s->ops->on_ready(s, s->user))) {
			rst_close_now(s, r);
			goto done;
		}
	}
	while (s->st == ST_READY && !s->closing) {
		got = gnutls_record_recv(s->tls, s->cfg.plainbuf, PN_RSTREAM_RXBUF);
		if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
			break;
		if (got == 0) {
			rst_close_now(s, PN_E_CLOSED);
			break;
		}
		if (got < 0) {
			/* A fatal alert right after the handshake is the peer refusing
			 * our certificate (TLS 1.3 clients finish first). */
			rst_close_now(s, got == GNUTLS_E_PREMATURE_TERMINATION  ? PN_E_CLOSED
				     : got == GNUTLS_E_FATAL_ALERT_RECEIVED ? PN_E_UNTRUSTED
									    : PN_E_MALFORMED);
			break;
		}
		if ((r = plain_input(s, s->cfg.plainbuf, (size_t)got))) {
			rst_close_now(s, r);
			break;
		}
	}
done:
	s->in_n = 0;
}

/* ---- HTTP upgrade ---- */

/* ---- libuv plumbing ---- */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct pn_rstream *s = h->data;
	*buf = uv_buf_init((char *)s->cfg.rxbuf, PN_RSTREAM_RXBUF);
}

/* Bytes from the peer (below any wss:// TLS layer: its plaintext). */
void rst_stream_input(struct pn_rstream *s, uint8_t *p, size_t n)
{
	if (s->st == ST_SNIFF) {
		if (p[0] == 0x16) { /* TLS handshake record */
			if (rst_tls_start(s)) {
				rst_close_now(s, PN_E_CRYPTO);
				return;
			}
		} else if (p[0] == 'G' && s->cfg.ws_path) {
			s->st = ST_HTTP;
			if (pn_buf_init_dyn(&s->http, 512, PN_RELAY_MAX_HTTP_REQUEST)) {
				rst_close_now(s, -ENOMEM);
				return;
			}
		} else {
			rst_close_now(s, PN_E_MALFORMED);
			return;
		}
	}
	if (s->st == ST_HTTP)
		rst_http_input(s, p, n);
	else if (s->is_ws)
		rst_ws_input(s, p, n);
	else
		rst_tls_input(s, p, n);
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct pn_rstream *s = h->data;
	uint8_t *p = (uint8_t *)buf->base;
	size_t n = (size_t)nread;

	if (nread < 0) {
		rst_close_now(s, nread == UV_EOF ? PN_E_CLOSED : PN_E_IO);
		return;
	}
	if (nread == 0 || s->st == ST_CLOSED)
		return;
	s->last_rx = uv_now(h->loop);
	if (s->otls)
		rst_wss_input(s, p, n);
	else
		rst_stream_input(s, p, n);
}

/* ---- wss://: TLS to the proxy, the WebSocket inside ---- */

/* Move queued plaintext into TLS records, up to the ciphertext bound, and
 * write them with one system call.  With `all` the last, partial record
 * goes too (the end of the loop iteration: the sender's batch is over);
 * without, only full records (a burst in progress: its next frames fill
 * the rest, so packets are not split over records needlessly). */
static void flush_now(struct pn_rstream *s, int all)
{
	ssize_t r = 0;

	if (s->st != ST_READY)
		return;
	s->corked = 1;
	while (pn_buf_len(&s->ptx) >= (all ? 1 : TLS_CHUNK)) {
		/* Ciphertext bound: stop until the socket drains (on_written re-arms). */
		if (pn_buf_len(&s->out[s->cur]) > s->cfg.max_egress)
			break;
		size_t n = pn_buf_len(&s->ptx) < TLS_CHUNK ? pn_buf_len(&s->ptx) : TLS_CHUNK;
		r = gnutls_record_send(s->tls, pn_buf_ptr(&s->ptx), n);
		if (r < 0)
			break;
		if (s->cfg.stats)
			s->cfg.stats->records++;
		pn_buf_skip(&s->ptx, (size_t)r);
	}
	s->corked = 0;
	if (r < 0 && r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
		rst_close_now(s, PN_E_IO);
		return;
	}
	kick_write(s);
	if (s->st == ST_CLOSED)
		return;
	if (!pn_buf_len(&s->ptx)) {
		pn_buf_reset(&s->ptx);
		if (s->graceful && !s->writing)
			rst_close_now(s, s->close_err);
	} else if (pn_buf_len(&s->ptx) < TLS_CHUNK) {
		pn_buf_compact(&s->ptx); /* a partial record's worth: cheap to move */
	}
}

/* Deferred flushes run from an idle handle, not a prepare handle: sends are
 * queued from the tunnel endpoint's own flush, which runs in libuv's prepare
 * phase, and a prepare handle started there runs only after the next poll
 * has blocked until some I/O or timer (first bytes of new tunnels were
 * 100+ ms late).  An active idle handle makes that poll return at once. */
static void flush_cb(uv_idle_t *h)
{
	uv_idle_stop(h);
	flush_now(h->data, 1);
}

static void timer_cb(uv_timer_t *t)
{
	struct pn_rstream *s = t->data;
	rst_close_now(s, s->graceful ? s->close_err : PN_E_TIMEOUT);
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_rstream *s = h->data;

	if (--s->handles)
		return;
	if (!s->silent)
		s->ops->on_close(s, s->close_err, s->user);
	if (s->tls)
		gnutls_deinit(s->tls);
	if (s->otls)
		gnutls_deinit(s->otls);
	free(s->obuf);
	pn_buf_fini(&s->http);
	pn_buf_fini(&s->rx);
	pn_buf_fini(&s->ptx);
	pn_buf_fini(&s->out[0]);
	pn_buf_fini(&s->out[1]);
	free(s);
}

void rst_close_now(struct pn_rstream *s, int err)
{
	if (s->st == ST_CLOSED)
		return;
	if (!s->close_err)
		s->close_err = err ? err : PN_E_CLOSED;
	s->st = ST_CLOSED;
	s->closing = 1;
	s->handles = 3;
	uv_close((uv_handle_t *)&s->tcp, handle_closed);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->prep, handle_closed);
}

static void close_after_write(struct pn_rstream *s, int err)
{
	if (!s->close_err)
		s->close_err = err;
	if (!s->writing) {
		rst_close_now(s, err);
		return;
	}
	s->closing = 1;
	s->graceful = 1;
	uv_timer_start(&s->timer, timer_cb, GRACE_MS, 0);
}

void pn_rstream_close(struct pn_rstream *s, int err, int graceful)
{
	if (s->st == ST_CLOSED || s->closing)
		return;
	s->close_err = err ? err : PN_E_CLOSED;
	if (!graceful || s->st != ST_READY) {
		rst_close_now(s, err);
		return;
	}
	/* Write what is queued (ERROR frames), then close; bounded by a timer. */
	s->closing = 1;
	s->graceful = 1;
	uv_timer_start(&s->timer, timer_cb, GRACE_MS, 0);
	uv_idle_start(&s->prep, flush_cb);
}

static struct pn_rstream *stream_new(uv_loop_t *loop, const struct pn_rstream_config *cfg,
				     const struct pn_rstream_ops *ops, void *user)
{
	struct pn_rstream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	if (!s->cfg.max_egress)
		s->cfg.max_egress = PN_RELAY_MAX_EGRESS;
	if (!s->cfg.handshake_ms)
		s->cfg.handshake_ms = PN_RELAY_HANDSHAKE_MS;
	s->ops = ops;
	s->user = user;
	/* Buffers start empty and grow to their bounds only when used. */
	pn_buf_init_dyn(&s->rx, 0, PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY + PN_RSTREAM_RXBUF);
	pn_buf_init_dyn(&s->ptx, 0,
			s->cfg.max_egress + PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY);
	pn_buf_init_dyn(&s->out[0], 0, 2 * s->cfg.max_egress + 4 * TLS_CHUNK);
	pn_buf_init_dyn(&s->out[1], 0, 2 * s->cfg.max_egress + 4 * TLS_CHUNK);
	uv_tcp_init(loop, &s->tcp);
	uv_timer_init(loop, &s->timer);
	uv_idle_init(loop, &s->prep);
	s->tcp.data = s->timer.data = s->prep.data = s;
	s->last_rx = uv_now(loop);
	return s;
}

int pn_rstream_accept(uv_stream_t *server, const struct pn_rstream_config *cfg,
		      const struct pn_rstream_ops *ops, void *user, struct pn_rstream **out)
{
	struct pn_rstream *s = stream_new(server->loop, cfg, ops, user);
	int len = (int)sizeof(struct sockaddr_storage), r;

	if (!s)
		return -ENOMEM;
	if ((r = uv_accept(server, (uv_stream_t *)&s->tcp)) ||
	    (r = uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&s->peer, &len))) {
		s->silent = 1;
		rst_close_now(s, PN_E_IO);
		return r;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	s->st = ST_SNIFF;
	uv_timer_start(&s->timer, timer_cb, s->cfg.handshake_ms, 0);
	uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
	*out = s;
	return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct pn_rstream *s = req->data;
	int r;

	if (s->st == ST_CLOSED)
		return;
	if (status < 0) {
		rst_close_now(s, PN_E_RELAY_UNREACHABLE);
		return;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
	if (s->cfg.ws && s->cfg.wss) {
		/* The upgrade request follows the proxy's TLS handshake. */
		if ((r = rst_wss_start(s)))
			rst_close_now(s, r);
		return;
	}
	if (s->cfg.ws) {
		rst_send_upgrade(s);
		return;
	}
	if (rst_tls_start(s)) {
		rst_close_now(s, PN_E_CRYPTO);
		return;
	}
	gnutls_handshake(s->tls); /* sends the ClientHello */
}

/* Client: the HTTP/1.1 Upgrade request (over the proxy's TLS for wss://). */
void rst_send_upgrade(struct pn_rstream *s)
{
	uint8_t key[16];
	char head[1024];
	int n;

	s->st = ST_HTTP;
	if (gnutls_rnd(GNUTLS_RND_NONCE, key, sizeof(key)) ||
	    pn_buf_init_dyn(&s->http, 256, PN_RELAY_MAX_HTTP_REQUEST)) {
		rst_close_now(s, PN_E_CRYPTO);
		return;
	}
	base64_encode_raw(s->ws_key, sizeof(key), key);
	s->ws_key[24] = '\0';
	n = snprintf(
	    head, sizeof(head),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    s->cfg.ws_req_path, s->cfg.ws_host, s->ws_key);
	if (n <= 0 || (size_t)n >= sizeof(head) ||
	    rst_wire_append(s, (const uint8_t *)head, (size_t)n))
		rst_close_now(s, PN_E_INVAL);
}

int pn_rstream_connect(uv_loop_t *loop, const struct sockaddr *addr,
		       const struct pn_rstream_config *cfg, const struct pn_rstream_ops *ops,
		       void *user, struct pn_rstream **out)
{
	struct pn_rstream *s = stream_new(loop, cfg, ops, user);
	int r;

	if (!s)
		return -ENOMEM;
	memcpy(&s->peer, addr,
	       addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	s->st = ST_CONNECTING;
	s->creq.data = s;
	if ((r = uv_tcp_connect(&s->creq, &s->tcp, addr, connect_cb))) {
		s->silent = 1;
		rst_close_now(s, PN_E_RELAY_UNREACHABLE);
		return r;
	}
	uv_timer_start(&s->timer, timer_cb, s->cfg.handshake_ms, 0);
	*out = s;
	return 0;
}

int pn_rstream_send2(struct pn_rstream *s, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
		     int is_data)
{
	size_t q;

	if (s->st != ST_READY || s->closing)
		return PN_E_CLOSED;
	q = pn_rstream_queued(s);
	/* Bounded queue: DATA is dropped (like UDP), never queued without limit. */
	if (is_data && q + an + bn > s->cfg.max_egress)
		return -EAGAIN;
	if (pn_buf_avail(&s->ptx) < an + bn) {
		/* A control frame that does not fit: the reader is far too slow. */
		pn_buf_compact(&s->ptx);
		if (pn_buf_avail(&s->ptx) < an + bn) {
			rst_close_now(s, PN_E_TIMEOUT);
			return PN_E_CLOSED;
		}
	}
	if (pn_buf_put_bytes(&s->ptx, a, an) || (bn && pn_buf_put_bytes(&s->ptx, b, bn))) {
		rst_close_now(s, -ENOMEM);
		return PN_E_CLOSED;
	}
	/* A few full records' worth: encrypt and write them now rather than at
	 * the end of the loop iteration, so a burst of reads cannot fill the
	 * queue before it moves (several records per write either way). */
	if (pn_buf_len(&s->ptx) >= FLUSH_EARLY)
		flush_now(s, 0);
	/* The rest when this loop iteration's work is done (no timer). */
	if (pn_buf_len(&s->ptx))
		uv_idle_start(&s->prep, flush_cb);
	return 0;
}

int pn_rstream_send(struct pn_rstream *s, const uint8_t *p, size_t n, int is_data)
{
	return pn_rstream_send2(s, p, n, NULL, 0, is_data);
}

size_t pn_rstream_queued(const struct pn_rstream *s)
{
	return pn_buf_len(&s->ptx) + pn_buf_len(&s->out[0]) + pn_buf_len(&s->out[1]);
}

gnutls_session_t pn_rstream_tls(const struct pn_rstream *s)
{
	return s->tls;
}

int pn_rstream_is_ws(const struct pn_rstream *s)
{
	return s->is_ws;
}

int pn_rstream_ready(const struct pn_rstream *s)
{
	return s->st == ST_READY && !s->closing;
}

uint64_t pn_rstream_last_rx(const struct pn_rstream *s)
{
	return s->last_rx;
}

const struct sockaddr_storage *pn_rstream_peer_addr(const struct pn_rstream *s)
{
	return &s->peer;
}

void pn_rstream_set_user(struct pn_rstream *s, void *user)
{
	s->user = user;
}
