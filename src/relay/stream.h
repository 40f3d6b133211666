#ifndef PN_RELAY_STREAM_H
#define PN_RELAY_STREAM_H
/*
 * pn_rstream: one relay stream connection (libuv glue shared by the relay
 * server and the relay client).  Layers, bottom up:
 *
 *   TCP  ->  [TLS to a wss:// proxy (client only; the proxy's certificate
 *   checked against ordinary trust anchors)]  ->
 *   [HTTP/1.1 Upgrade + WebSocket binary messages (relay/wsframe.h)]  ->
 *   TLS 1.3 (GnuTLS, mutual certificates, ALPN postern-relay/1)  ->
 *   relay frames (relay/frame.h)
 *
 * The WebSocket layer, when used, carries the TLS byte stream, so peers
 * authenticate each other end to end even when an HTTP reverse proxy or a
 * CDN terminates its own TLS in front of the relay.  A server stream
 * sniffs its first byte: 0x16 is TLS, 'G' an HTTP upgrade request.
 *
 * Egress is bounded: DATA frames are refused (-EAGAIN, the caller counts a
 * drop) once max_egress bytes wait; control frames may exceed that by one
 * maximum frame, then the stream is closed as too slow.
 */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <uv.h>

#include "relay/frame.h"

struct pn_rstream;

struct pn_rstream_ops {
	/* TLS is up: check the peer (pn_cred_verify_session).  Return 0 to go
	 * on, an error to close the stream. */
	int (*on_ready)(struct pn_rstream *s, void *user);
	/* One frame.  Return 0, or an error to close the stream. */
	int (*on_frame)(struct pn_rstream *s, const struct pn_relay_frame *f, void *user);
	/* The stream is closed (err says why); s is freed when this returns. */
	void (*on_close)(struct pn_rstream *s, int err, void *user);
	/* Optional: the frames of one decrypted chunk have all been handed to
	 * on_frame, and their bytes are about to be reused.  The owner sends
	 * what it queued pointing into them (one batch per chunk, not one
	 * system call per frame). */
	void (*on_input_end)(struct pn_rstream *s, void *user);
};

/* A 64 KiB read buffer shared by every stream of one loop (reads are
 * handled one at a time, so one buffer serves them all). */
#define PN_RSTREAM_RXBUF (64 * 1024)

/* Counters a stream's owner may share among its streams (optional). */
struct pn_rstream_stats {
	uint64_t records; /* TLS records of frames sent */
	uint64_t writes;  /* write system calls (try + queued) */
};

struct pn_rstream_config {
	int server;			       /* 1: accept side */
	gnutls_certificate_credentials_t cred; /* borrowed; outlives the stream */
	uint8_t *rxbuf;			       /* PN_RSTREAM_RXBUF bytes, shared */
	uint8_t *plainbuf;		       /* PN_RSTREAM_RXBUF bytes, shared */
	size_t max_egress;		       /* 0: PN_RELAY_MAX_EGRESS */
	uint32_t handshake_ms;		       /* 0: PN_RELAY_HANDSHAKE_MS */
	/* server: accepted WebSocket path, NULL to refuse upgrades */
	const char *ws_path;
	/* client: speak WebSocket first (Host header and path) */
	int ws;
	const char *ws_host, *ws_req_path;
	/* client, wss://: TLS to the proxy first, verified with wss_cred's
	 * trust anchors against wss_name (the URL's host, without brackets) */
	int wss;
	const char *wss_name;
	gnutls_certificate_credentials_t wss_cred; /* borrowed; outlives the stream */
	struct pn_rstream_stats *stats;		   /* optional, borrowed */
};

/* Accept a connection from `server` (server config).  0, or -errno /
 * -ENOMEM (the pending connection is refused). */
int pn_rstream_accept(uv_stream_t *server, const struct pn_rstream_config *cfg,
		      const struct pn_rstream_ops *ops, void *user, struct pn_rstream **out);
/* Connect to `addr` (client config).  0 or -errno; failures later arrive
 * in on_close. */
int pn_rstream_connect(uv_loop_t *loop, const struct sockaddr *addr,
		       const struct pn_rstream_config *cfg, const struct pn_rstream_ops *ops,
		       void *user, struct pn_rstream **out);

/* Queue a complete frame (header included).  0, -EAGAIN (egress full;
 * only for DATA), PN_E_CLOSED. */
int pn_rstream_send(struct pn_rstream *s, const uint8_t *p, size_t n, int is_data);
/* Queue a frame given as two parts (header, payload). */
int pn_rstream_send2(struct pn_rstream *s, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
		     int is_data);
/* Bytes waiting to be written (plaintext + ciphertext). */
size_t pn_rstream_queued(const struct pn_rstream *s);

/* Close; idempotent.  on_close follows from the loop.  With `graceful`,
 * queued bytes are written first (bounded by a short deadline). */
void pn_rstream_close(struct pn_rstream *s, int err, int graceful);

gnutls_session_t pn_rstream_tls(const struct pn_rstream *s);
int pn_rstream_is_ws(const struct pn_rstream *s);
int pn_rstream_ready(const struct pn_rstream *s);
uint64_t pn_rstream_last_rx(const struct pn_rstream *s); /* uv_now() of the last byte in */
/* The remote address (getpeername at accept/connect). */
const struct sockaddr_storage *pn_rstream_peer_addr(const struct pn_rstream *s);
void pn_rstream_set_user(struct pn_rstream *s, void *user);
#endif
