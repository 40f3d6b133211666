/*
 * Relay streams (relay/stream.h): the layers under TLS other than plain
 * TCP: the HTTP upgrade, WebSocket framing (wslay), and for wss:// the
 * outer TLS to the proxy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <nettle/base64.h>
#include <wslay/wslay.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/stream_int.h"
#include "relay/wire.h"
#include "relay/wshttp.h"

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			  void *user)
{
	struct pn_rstream *s = user;
	size_t n = len < s->in_n ? len : s->in_n;

	if (!n) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, s->in_p, n);
	s->in_p += n;
	s->in_n -= n;
	return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
			  void *user)
{
	struct pn_rstream *s = user;

	if (rst_wire_append(s, data, len)) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	return gnutls_rnd(GNUTLS_RND_NONCE, buf, len) ? -1 : 0;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
		      void *user)
{
	struct pn_rstream *s = user;
	const uint8_t *save_p = s->in_p;
	size_t save_n = s->in_n;

	if (arg->opcode != WSLAY_BINARY_FRAME)
		return; /* close/ping/pong are handled by wslay; text is ignored */
	/* The message carries TLS bytes; feed them, then resume the raw input. */
	rst_tls_input(s, arg->msg, arg->msg_length);
	s->in_p = save_p;
	s->in_n = save_n;
}

static int ws_start(struct pn_rstream *s)
{
	struct wslay_event_callbacks cb = {
	    .recv_callback = ws_recv_cb,
	    .send_callback = ws_send_cb,
	    .genmask_callback = ws_genmask_cb,
	    .on_msg_recv_callback = ws_msg_cb,
	};
	int r = s->cfg.server ? wslay_event_context_server_init(&s->ws, &cb, s)
			      : wslay_event_context_client_init(&s->ws, &cb, s);

	if (r)
		return -ENOMEM;
	/* A message carries at most one TLS record burst; bound reassembly. */
	wslay_event_config_set_max_recv_msg_length(s->ws, PN_RELAY_MAX_WS_MESSAGE);
	s->is_ws = 1;
	return 0;
}

void rst_ws_input(struct pn_rstream *s, const uint8_t *p, size_t n)
{
	s->in_p = p;
	s->in_n = n;
	if (wslay_event_recv(s->ws) != 0 || !wslay_event_want_read(s->ws)) {
		s->in_n = 0;
		rst_close_now(s, PN_E_CLOSED);
		return;
	}
	s->in_n = 0;
	if (s->st != ST_CLOSED && wslay_event_send(s->ws) != 0)
		rst_close_now(s, PN_E_IO);
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
