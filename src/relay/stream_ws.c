/*
 * Relay streams (relay/stream.h): the layers under TLS other than plain
 * TCP: the HTTP upgrade, WebSocket framing (relay/wsframe.h), and for wss:// the
 * outer TLS to the proxy.
 */
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

/* One final frame to the peer: a client masks (RFC 6455 5.3) on the copy
 * into the socket buffer; nothing is allocated per frame. */
int rst_ws_send(struct pn_rstream *s, unsigned opcode, const uint8_t *p, size_t n)
{
	uint8_t hdr[PN_WS_HDR_MAX], key[4], chunk[4096], *dst;
	size_t h, off, k;
	int r;

	if (s->cfg.server) {
		h = pn_ws_frame_hdr(hdr, opcode, n, NULL);
		return rst_wire_append(s, hdr, h) ?: rst_wire_append(s, p, n);
	}
	if (gnutls_rnd(GNUTLS_RND_NONCE, key, sizeof(key)))
		return PN_E_CRYPTO;
	h = pn_ws_frame_hdr(hdr, opcode, n, key);
	if (!s->otls) {
		if ((r = rst_raw_reserve(s, h + n, &dst)))
			return r;
		memcpy(dst, hdr, h);
		pn_ws_mask(dst + h, p, n, key, 0);
		rst_raw_kick(s);
		return 0;
	}
	/* wss://: through the proxy's TLS, masked a piece at a time. */
	if ((r = rst_wire_append(s, hdr, h)))
		return r;
	for (off = 0; off < n; off += k) {
		k = n - off < sizeof(chunk) ? n - off : sizeof(chunk);
		pn_ws_mask(chunk, p + off, k, key, off);
		if ((r = rst_wire_append(s, chunk, k)))
			return r;
	}
	return 0;
}

static int ws_data(void *user, const uint8_t *p, size_t n)
{
	struct pn_rstream *s = user;

	/* Binary messages carry the TLS byte stream: boundaries mean nothing. */
	rst_tls_input(s, p, n);
	return s->st == ST_CLOSED ? PN_E_CLOSED : 0;
}

static int ws_control(void *user, unsigned opcode, const uint8_t *p, size_t n)
{
	struct pn_rstream *s = user;

	if (opcode == PN_WS_OP_PING)
		return rst_ws_send(s, PN_WS_OP_PONG, p, n) ? PN_E_IO : 0;
	if (opcode == PN_WS_OP_CLOSE) {
		/* Answer with the peer's status code (RFC 6455 5.5.1), then close. */
		rst_ws_send(s, PN_WS_OP_CLOSE, p, n >= 2 ? 2 : 0);
		return PN_E_CLOSED;
	}
	return 0; /* PONG */
}

static const struct pn_ws_rx_ops ws_rx_ops = {.data = ws_data, .control = ws_control};

static int ws_start(struct pn_rstream *s)
{
	memset(&s->wsrx, 0, sizeof(s->wsrx));
	s->wsrx.server = s->cfg.server;
	/* A message carries at most one TLS record burst: bound it. */
	s->wsrx.max_msg = PN_RELAY_MAX_WS_MESSAGE;
	s->is_ws = 1;
	return 0;
}

void rst_ws_input(struct pn_rstream *s, uint8_t *p, size_t n)
{
	int r = pn_ws_rx_feed(&s->wsrx, p, n, &ws_rx_ops, s);

	if (r && s->st != ST_CLOSED)
		rst_close_now(s, r == PN_E_CLOSED ? PN_E_CLOSED : PN_E_MALFORMED);
}

static int http_server(struct pn_rstream *s, const char *head)
{
	char accept[PN_WS_ACCEPT_LEN + 1], resp[256];
	int n, r;

	if (!s->cfg.ws_path)
		return PN_E_MALFORMED;
	if ((r = pn_ws_parse_request(head, s->cfg.ws_path, accept)))
		return r;
	n = snprintf(
	    resp, sizeof(resp),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n",
	    accept);
	if (rst_wire_append(s, (const uint8_t *)resp, (size_t)n))
		return -ENOMEM;
	return ws_start(s);
}

static int http_client(struct pn_rstream *s, const char *head)
{
	int r = pn_ws_check_response(head, s->ws_key);
	return r ? r : ws_start(s);
}

void rst_http_input(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	const uint8_t *end;
	size_t head_len, rest;
	int r;

	/* The head is bounded by PN_RELAY_MAX_HTTP_REQUEST (buffer max). */
	if ((r = pn_buf_put_bytes(&s->http, p, n))) {
		rst_close_now(s, PN_E_TOOBIG);
		return;
	}
	end = memmem(pn_buf_ptr(&s->http), pn_buf_len(&s->http), "\r\n\r\n", 4);
	if (!end)
		return;
	head_len = (size_t)(end - pn_buf_ptr(&s->http)) + 4;
	rest = pn_buf_len(&s->http) - head_len;
	{
		char head[PN_RELAY_MAX_HTTP_REQUEST + 1];
		memcpy(head, pn_buf_ptr(&s->http), head_len);
		head[head_len] = '\0';
		if (memchr(head, '\0', head_len)) {
			rst_close_now(s, PN_E_MALFORMED);
			return;
		}
		r = s->cfg.server ? http_server(s, head) : http_client(s, head);
	}
	if (r == 0 && !s->cfg.server)
		r = rst_tls_start(s) ?: (gnutls_handshake(s->tls), 0);
	if (r == 0 && s->cfg.server)
		r = rst_tls_start(s);
	if (r) {
		rst_close_now(s, r);
		return;
	}
	/* Bytes after the head already belong to the WebSocket. */
	if (rest) {
		uint8_t tmp[PN_RELAY_MAX_HTTP_REQUEST];
		memcpy(tmp, pn_buf_ptr(&s->http) + head_len, rest);
		pn_buf_fini(&s->http);
		rst_ws_input(s, tmp, rest);
	} else {
		pn_buf_fini(&s->http);
	}
}

static ssize_t wss_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct pn_rstream *s = ptr;
	size_t n = len < s->o_in_n ? len : s->o_in_n;

	if (!n) {
		gnutls_transport_set_errno(s->otls, EAGAIN);
		return -1;
	}
	memcpy(buf, s->o_in_p, n);
	s->o_in_p += n;
	s->o_in_n -= n;
	return (ssize_t)n;
}

static ssize_t wss_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct pn_rstream *s = ptr;

	if (rst_raw_append(s, buf, len)) {
		gnutls_transport_set_errno(s->otls, ENOBUFS);
		return -1;
	}
	return (ssize_t)len;
}

int rst_wss_start(struct pn_rstream *s)
{
	static const gnutls_datum_t alpn = {(unsigned char *)"http/1.1", 8};
	const char *name = s->cfg.wss_name;
	uint8_t a[16];

	if (!s->cfg.wss_cred || !name || !(s->obuf = malloc(TLS_CHUNK)))
		return PN_E_INVAL;
	if (gnutls_init(&s->otls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS))
		return PN_E_CRYPTO;
	if (gnutls_priority_set_direct(s->otls, WSS_PRIORITY, NULL) ||
	    gnutls_credentials_set(s->otls, GNUTLS_CRD_CERTIFICATE, s->cfg.wss_cred) ||
	    gnutls_alpn_set_protocols(s->otls, &alpn, 1, 0))
		return PN_E_CRYPTO;
	/* SNI only for names (RFC 6066: never an address).  The proxy's
	 * certificate must verify under the configured trust anchors and
	 * match the host of the URL (a DNS name, or an IP address SAN). */
	if (inet_pton(AF_INET, name, a) != 1 && inet_pton(AF_INET6, name, a) != 1 &&
	    gnutls_server_name_set(s->otls, GNUTLS_NAME_DNS, name, strlen(name)))
		return PN_E_CRYPTO;
	gnutls_session_set_verify_cert(s->otls, name, 0);
	gnutls_transport_set_ptr(s->otls, s);
	gnutls_transport_set_pull_function(s->otls, wss_pull);
	gnutls_transport_set_push_function(s->otls, wss_push);
	s->st = ST_WSS;
	gnutls_handshake(s->otls); /* sends the ClientHello */
	return 0;
}

void rst_wss_input(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	ssize_t got;
	int r, again = 0;

	s->o_in_p = p;
	s->o_in_n = n;
	if (s->st == ST_WSS) {
		r = gnutls_handshake(s->otls);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			goto done;
		if (r < 0) {
			unsigned status = gnutls_session_get_verify_cert_status(s->otls);
			gnutls_datum_t txt = {0};

			if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
			    gnutls_certificate_verification_status_print(
				status, GNUTLS_CRT_X509, &txt, 0) == 0) {
				PN_LOG_WARN("relay", "wss_untrusted", "host=%s why=\"%s\"",
					    s->cfg.wss_name, (const char *)txt.data);
				gnutls_free(txt.data);
			} else {
				PN_LOG_WARN("relay", "wss_failed", "host=%s tls_error=\"%s\"",
					    s->cfg.wss_name, gnutls_strerror(r));
			}
			rst_close_now(s, PN_E_UNTRUSTED);
			goto done;
		}
		rst_send_upgrade(s);
	}
	while (s->st != ST_CLOSED && !s->closing) {
		got = gnutls_record_recv(s->otls, s->obuf, TLS_CHUNK);
		/* After a post-handshake message (the proxy's session tickets)
		 * GnuTLS returns AGAIN with input left: go on until it is used. */
		if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED) {
			if ((s->o_in_n || gnutls_record_check_pending(s->otls)) && ++again < 64)
				continue;
			break;
		}
		if (got <= 0) {
			if (got < 0 && got != GNUTLS_E_PREMATURE_TERMINATION)
				PN_LOG_WARN("relay", "wss_failed", "host=%s tls_error=\"%s\"",
					    s->cfg.wss_name, gnutls_strerror((int)got));
			rst_close_now(s, got == 0 || got == GNUTLS_E_PREMATURE_TERMINATION ? PN_E_CLOSED
										   : PN_E_MALFORMED);
			break;
		}
		rst_stream_input(s, s->obuf, (size_t)got);
	}
done:
	s->o_in_n = 0;
}
