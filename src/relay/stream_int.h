#ifndef PN_RELAY_STREAM_INT_H
#define PN_RELAY_STREAM_INT_H
/* Internals of relay streams (relay/stream.h), shared by stream.c (raw
 * socket, TLS, libuv plumbing, API) and stream_ws.c (HTTP upgrade,
 * WebSocket, wss://). */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <gnutls/gnutls.h>

#include "relay/stream.h"
#include "relay/wire.h"
#include "relay/wsframe.h"
#include "relay/wshttp.h"

#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"
/* The outer TLS to a wss:// proxy is the proxy's: TLS 1.2 or 1.3. */
#define WSS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define GRACE_MS     2000
#define TLS_CHUNK    16384
#define FLUSH_EARLY  (4 * TLS_CHUNK) /* queued plaintext that is flushed at once */

enum st {
	ST_CONNECTING, /* client: TCP connect in progress */
	ST_WSS,	       /* client: TLS handshake with a wss:// proxy */
	ST_SNIFF,      /* server: waiting for the first byte */
	ST_HTTP,       /* server: reading the upgrade request; client: the 101 answer */
	ST_TLS,	       /* TLS handshake */
	ST_READY,
	ST_CLOSED,
};

struct pn_rstream {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_idle_t prep; /* idle, not prepare: see stream.c flush_cb */
	uv_connect_t creq;
	uv_write_t wreq;
	struct pn_rstream_config cfg;
	const struct pn_rstream_ops *ops;
	void *user;
	enum st st;
	int is_ws, writing, handles, close_err, closing, graceful;
	int corked; /* flush_now is making records: one write at its end */
	int silent; /* failed before the owner got it: no on_close */
	gnutls_session_t tls;
	gnutls_session_t otls; /* wss://: TLS to the proxy, under the WebSocket */
	uint8_t *obuf;	       /* its plaintext (TLS_CHUNK bytes) */
	const uint8_t *o_in_p;
	size_t o_in_n; /* ciphertext being fed to otls */
	struct pn_ws_rx wsrx; /* WebSocket decoder (relay/wsframe.h) */
	char ws_key[32]; /* client: our Sec-WebSocket-Key */
	const uint8_t *in_p;
	size_t in_n;	    /* bytes being fed to TLS */
	struct pn_buf http; /* upgrade request / response head */
	struct pn_buf rx;   /* partial frame */
	struct pn_buf ptx;  /* plaintext waiting for TLS */
	struct pn_buf out[2];
	int cur; /* out[cur] accumulates; out[!cur] is being written */
	uint64_t last_rx;
	struct sockaddr_storage peer;
};

/* stream.c */
void rst_close_now(struct pn_rstream *s, int err);
int rst_raw_append(struct pn_rstream *s, const uint8_t *p, size_t n);
void rst_send_upgrade(struct pn_rstream *s);
void rst_stream_input(struct pn_rstream *s, uint8_t *p, size_t n);
int rst_raw_reserve(struct pn_rstream *s, size_t n, uint8_t **p);
void rst_raw_kick(struct pn_rstream *s);
void rst_tls_input(struct pn_rstream *s, const uint8_t *p, size_t n);
int rst_tls_start(struct pn_rstream *s);
int rst_wire_append(struct pn_rstream *s, const uint8_t *p, size_t n);

/* stream_ws.c */
void rst_http_input(struct pn_rstream *s, const uint8_t *p, size_t n);
void rst_ws_input(struct pn_rstream *s, uint8_t *p, size_t n);
int rst_ws_send(struct pn_rstream *s, unsigned opcode, const uint8_t *p, size_t n);
void rst_wss_input(struct pn_rstream *s, const uint8_t *p, size_t n);
int rst_wss_start(struct pn_rstream *s);

#endif
