#ifndef PN_TUNNEL_CONN_H
#define PN_TUNNEL_CONN_H
/*
 * pn_tconn: the sans-I/O QUIC connection core (ngtcp2 0.12 + GnuTLS).
 *
 * Bytes and a clock in (pn_tconn_read), packets and deadlines out
 * (pn_tconn_write, pn_tconn_expiry); events through callbacks invoked from
 * inside read/write/expiry handling.  No sockets, no timers, no logging.
 *
 * Security: TLS 1.3 only, ALPN PN_FLOW_ALPN mandatory, mutual
 * authentication.  In the GnuTLS verify callback the peer's leaf
 * certificate is checked with trust (pn_cred_verify_session) against the
 * pinned anchor: a client accepts only a CONNECTOR credential whose id is
 * the pinned connector id; a server accepts only CLIENT credentials (and
 * asks for them with GNUTLS_CERT_REQUIRE; GnuTLS lists the pinned CA, so
 * certificates from another CA are never even sent).
 *
 * Streams: ngtcp2 does not copy stream data, so every stream this side
 * writes has a send buffer holding bytes from the first unacknowledged
 * one to the last written, in chunks allocated as bytes are written and
 * freed as they are acknowledged (memory follows what is in flight, at
 * most cfg.stream_sndbuf per stream); pn_tconn_stream_write copies in
 * what fits and returns that count (backpressure).  Received data is credited back to the peer only
 * through pn_tconn_stream_consumed (bounded receive memory).
 *
 * Paths: see tunnel/path.h.  Packets are returned in batches for one path
 * with one segment size (UDP GSO); the caller sends each batch with
 * path->ops->send.
 */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "trust/cred.h"
#include "tunnel/path.h"

#define PN_TCONN_CID_LEN 18
#define PN_TCONN_CID_KEY_LEN 8 /* every CID of a connection starts with its key */
#define PN_TCONN_DGRAM_QUEUE 256 /* outgoing datagrams queued, then dropped */
#define PN_TCONN_HANDSHAKE_MS 10000 /* a handshake must finish within this */
#define PN_TCONN_KEEPALIVE_MS 5000   /* keeps NAT/relay mappings alive */
#define PN_TCONN_TX_BUF (PN_PATH_MAX_SEGMENTS * PN_PATH_MAX_UDP_PAYLOAD)
/* Bytes accepted from writers and not yet sent, per stream and per
 * connection: what may wait while congestion or flow control holds it
 * (sent bytes are bounded by the windows); writers beyond it are held
 * back (pn_tconn_stream_write). */
#define PN_TCONN_STREAM_UNSENT_MAX (512u << 10)
#define PN_TCONN_UNSENT_MAX (4u << 20)

struct pn_tconn;

enum pn_tconn_role { PN_TCONN_CLIENT = 1, PN_TCONN_SERVER = 2 };

struct pn_tconn_cbs {
	/* Handshake complete; the peer's credential was verified (*peer). */
	void (*handshake_done)(struct pn_tconn *c, const struct pn_cred_info *peer, void *user);
	/* Server: the peer opened stream sid.  Return 0, or non-zero to reset it. */
	int (*stream_open)(struct pn_tconn *c, int64_t sid, void *user);
	/* In-order stream data (n may be 0 with fin).  Return 0 or a negative
	 * error to close the connection. */
	int (*stream_data)(struct pn_tconn *c, int64_t sid, const uint8_t *p, size_t n, int fin,
			   void *user, void *stream_user);
	/* The peer reset its sending side (RESET_STREAM) or asked us to stop
	 * (STOP_SENDING); app_err as sent. */
	void (*stream_reset)(struct pn_tconn *c, int64_t sid, uint64_t app_err, void *user,
			     void *stream_user);
	/* The stream is gone (both directions finished or reset).  has_err:
	 * app_err is meaningful. */
	void (*stream_close)(struct pn_tconn *c, int64_t sid, int has_err, uint64_t app_err,
			     void *user, void *stream_user);
	/* Room in the send buffer again (after a short pn_tconn_stream_write). */
	void (*stream_writable)(struct pn_tconn *c, int64_t sid, void *user, void *stream_user);
	/* A DATAGRAM frame payload. */
	void (*datagram)(struct pn_tconn *c, const uint8_t *p, size_t n, void *user);
	/* Client: more bidirectional streams may be opened now. */
	void (*streams_available)(struct pn_tconn *c, void *user);
	/* A path validation ended (migration): ok or not. */
	void (*path_validated)(struct pn_tconn *c, struct pn_path *path, int ok, void *user);
};

struct pn_tconn_config {
	enum pn_tconn_role role;
	gnutls_certificate_credentials_t cred; /* own cert+key, CA trust (borrowed) */
	const struct pn_anchor *anchor;       /* pinned CA (borrowed) */
	uint8_t pinned_id[PN_ID_LEN];         /* client: the connector id */
	uint64_t (*unix_now)(void *user);     /* wall clock for validity checks */
	uint32_t clock_skew_s;
	const struct pn_tconn_cbs *cbs;
	void *user;
	size_t stream_sndbuf, stream_window, conn_window;
	unsigned max_streams;
	uint32_t idle_ms;
	uint32_t keepalive_ms; /* PING when quiet this long (NAT mappings); 0: default */
	uint8_t cid_key[PN_TCONN_CID_KEY_LEN]; /* prefix of every local CID */
	/* Server after a Retry: the client's original DCID (from the token). */
	uint8_t retry_odcid[20];
	size_t retry_odcid_len; /* 0: no Retry happened */
	int debug_log;                         /* ngtcp2 debug output to stderr */
	size_t pmtu_max; /* Path MTU search cap (0: the path's ceiling; 1200: off) */
};

/* Client: a new connection on `path` (the first flight is produced by
 * pn_tconn_write).  now: monotonic ns.  0, PN_E_INVAL, PN_E_CRYPTO, -ENOMEM. */
int pn_tconn_client_new(const struct pn_tconn_config *cfg, struct pn_path *path, uint64_t now,
			struct pn_tconn **out);

/*
 * Server: is this datagram a client Initial that may start a connection?
 * Fills *dcid_key-independent info: returns 0 if acceptable, else an error
 * (the datagram must be dropped silently).  Costs O(1), allocates nothing.
 */
int pn_tconn_accept_check(const uint8_t *pkt, size_t len);
/*
 * Server address validation (QUIC Retry), for paths whose source address
 * is unproven (a UDP socket anyone can send to): an Initial without a
 * valid token is answered with a Retry packet — smaller than the Initial,
 * so never an amplifier — and creates no state.
 *   returns 1: *outlen bytes of Retry in out (send them back to `from`);
 *   returns 0: valid token; cfg->retry_odcid* is filled in for
 *              pn_tconn_server_new;
 *   PN_E_MALFORMED / PN_E_EXPIRED: drop the datagram.
 */
#define PN_TCONN_RETRY_SECRET_LEN 32
#define PN_TCONN_RETRY_TOKEN_MS 10000 /* a token is good this long */
int pn_tconn_retry_check(const uint8_t secret[PN_TCONN_RETRY_SECRET_LEN],
			 const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
			 size_t len, uint64_t now, uint8_t *out, size_t outsz, size_t *outlen,
			 struct pn_tconn_config *cfg);
/* Server: a connection for that Initial (then feed it with pn_tconn_read).
 * 0, PN_E_MALFORMED, PN_E_CRYPTO, -ENOMEM. */
int pn_tconn_server_new(const struct pn_tconn_config *cfg, struct pn_path *path,
			const uint8_t *pkt, size_t len, uint64_t now, struct pn_tconn **out);

/* Frees everything (streams, buffers, TLS).  NULL-safe.  No callbacks. */
void pn_tconn_free(struct pn_tconn *c);

/*
 * Feed one received datagram that arrived on `path`.  Returns 0,
 * PN_E_CLOSED (the connection is closing/draining/closed: call
 * pn_tconn_close_reason), or another negative error after which the
 * connection must be closed with pn_tconn_close.
 */
int pn_tconn_read(struct pn_tconn *c, struct pn_path *path, const uint8_t *pkt, size_t len,
		  uint64_t now);

/* One batch of packets for one path (UDP GSO: all `seg` bytes but the last). */
struct pn_tconn_tx {
	uint8_t *buf; /* caller's storage, >= PN_TCONN_TX_BUF bytes */
	size_t len, seg, npkts;
	struct pn_path *path;
};

/*
 * Produce the next batch (stream data, datagrams, ACKs, control frames).
 * tx->len == 0: nothing to send now (see pn_tconn_expiry).  Returns 0,
 * PN_E_CLOSED, or an error after which the connection must be closed.
 */
int pn_tconn_write(struct pn_tconn *c, uint64_t now, struct pn_tconn_tx *tx);

/* Next deadline (monotonic ns; UINT64_MAX if none). */
uint64_t pn_tconn_expiry(const struct pn_tconn *c);
/* Call once now >= expiry.  0, PN_E_TUN_IDLE, PN_E_CLOSED, or an error. */
int pn_tconn_handle_expiry(struct pn_tconn *c, uint64_t now);

/*
 * Close: writes one CONNECTION_CLOSE into tx (send it) with application
 * error `app_err` (or a transport error if the handshake failed) and a
 * short reason.  After this the connection only needs freeing.
 */
void pn_tconn_close(struct pn_tconn *c, uint64_t app_err, const char *reason, uint64_t now,
		    struct pn_tconn_tx *tx);
/* Why the connection ended: 0 (still open), PN_E_TUN_IDLE, PN_E_TUN_PEER_CLOSED
 * (peer closed; *app_err set if it gave an application error),
 * PN_E_TUN_CRED_REFUSED (the peer closed with a TLS certificate alert: it
 * refused our credential; its reason phrase says why),
 * PN_E_TUN_HANDSHAKE, a trust error from our verification (PN_E_UNTRUSTED,
 * PN_E_EXPIRED, PN_E_NOT_YET_VALID, PN_E_WRONG_TYPE, PN_E_TUN_PEER_ID,
 * ...; our close then carries a certificate alert and that reason),
 * PN_E_TUN_NO_CRED (server: the client sent no certificate, i.e. none from
 * our CA), PN_E_TUN_QUIC. */
int pn_tconn_close_reason(const struct pn_tconn *c, uint64_t *app_err);
int pn_tconn_is_closed(const struct pn_tconn *c);
/* Our own verification's refusal of the peer, as text for logs ("" if we
 * refused nothing): "cred_not_yet_valid not_before=N not_after=N now=N"
 * (both clocks) for a time refusal, else the error's name. */
void pn_tconn_local_reason(const struct pn_tconn *c, char *out, size_t outsz);
/* The same for the glue: our verification's error (0: none), our unix
 * clock at the check, and what the refused certificate says when it was
 * signed by our CA but its time or type was wrong (*cred, else NULL).
 * NULL-safe. */
int pn_tconn_refusal(const struct pn_tconn *c, const struct pn_cred_info **cred, uint64_t *now);
/* The reason phrase of the peer's CONNECTION_CLOSE (printable, cut to
 * outsz-1 bytes; "" if none). */
void pn_tconn_peer_reason(const struct pn_tconn *c, char *out, size_t outsz);
int pn_tconn_handshake_done(const struct pn_tconn *c);
const struct pn_cred_info *pn_tconn_peer(const struct pn_tconn *c);
/* Client: how many bidirectional streams the peer lets us have open at
 * once (its initial_max_streams_bidi; it returns credit as streams close),
 * or 0 while its transport parameters are unknown. */
uint64_t pn_tconn_peer_max_streams(const struct pn_tconn *c);

/* Client: open a bidirectional stream.  0, -EAGAIN (no stream credit:
 * wait for cbs.streams_available), PN_E_CLOSED. */
int pn_tconn_stream_open(struct pn_tconn *c, void *stream_user, int64_t *sid);
/* Size this stream's send buffer (default cfg.stream_sndbuf); only before
 * its first write.  0 or PN_E_INVAL. */
int pn_tconn_stream_set_sndbuf(struct pn_tconn *c, int64_t sid, size_t cap);
/* Attach user data to a (peer-opened) stream. */
void pn_tconn_stream_set_user(struct pn_tconn *c, int64_t sid, void *stream_user);
/* Copy up to n bytes into the stream's buffer; returns bytes taken or
 * PN_E_CLOSED / -ENOMEM.  Taken is what keeps the stream's
 * unacknowledged bytes within its sndbuf (protocol messages: headers,
 * status, control).  A short write is followed by cbs.stream_writable
 * once there is room. */
ssize_t pn_tconn_stream_write(struct pn_tconn *c, int64_t sid, const void *p, size_t n);
/* The same for application data: also no more than keeps the stream's
 * unsent bytes within PN_TCONN_STREAM_UNSENT_MAX and the connection's
 * within PN_TCONN_UNSENT_MAX (backpressure: the writer stops reading its
 * source instead of queueing; cbs.stream_writable when there is room). */
ssize_t pn_tconn_stream_write_bounded(struct pn_tconn *c, int64_t sid, const void *p, size_t n);
/* How many of `want` bytes pn_tconn_stream_write_bounded would take now
 * (0 for a stream that cannot be written); 0 arms cbs.stream_writable as
 * a short write does. */
size_t pn_tconn_stream_room(struct pn_tconn *c, int64_t sid, size_t want);
/* FIN after everything written so far.  0 or PN_E_CLOSED. */
int pn_tconn_stream_fin(struct pn_tconn *c, int64_t sid);
/* Bytes accepted by stream_write but not yet acknowledged. */
size_t pn_tconn_stream_buffered(struct pn_tconn *c, int64_t sid);
/* Grant the peer n more bytes of credit (stream and connection). */
void pn_tconn_stream_consumed(struct pn_tconn *c, int64_t sid, size_t n);
/* Grant n bytes of connection-level credit only (for a stream that is gone). */
void pn_tconn_conn_consumed(struct pn_tconn *c, uint64_t n);
/* Reset both directions with app_err; the stream closes (stream_close). */
void pn_tconn_stream_reset(struct pn_tconn *c, int64_t sid, uint64_t app_err);

/* Queue a DATAGRAM frame payload (copied).  0, -EAGAIN (queue full),
 * PN_E_TOOBIG (larger than the peer accepts), PN_E_CLOSED. */
int pn_tconn_datagram(struct pn_tconn *c, const void *p, size_t n);

/* Client: migrate to `path` (validated first; cbs.path_validated reports).
 * 0, PN_E_INVAL, PN_E_CLOSED, or an ngtcp2 failure as PN_E_TUN_QUIC. */
int pn_tconn_migrate(struct pn_tconn *c, struct pn_path *path, uint64_t now);
/* Client: move to `path` at once (ngtcp2 validates it afterwards); for a
 * path already known to reach the peer (the relay path a tunnel started
 * on), never for an address a peer suggested.  Same returns. */
int pn_tconn_migrate_now(struct pn_tconn *c, struct pn_path *path, uint64_t now);
/* When (the `now` given to pn_tconn_read) the last packet the connection
 * authenticated arrived (0: none yet), and on which path (may be NULL).
 * Only a packet ngtcp2 decrypted and accepted counts: a forged, replayed
 * or garbled packet, whatever its source address, does not. */
uint64_t pn_tconn_auth_rx(const struct pn_tconn *c, const struct pn_path **path);
/* QUIC keep-alive: a PING after ms without a packet sent (0: none).  The
 * default is PN_TCONN_KEEPALIVE_MS; NAT traversal sets its own on direct
 * paths (ep_p2p.c). */
void pn_tconn_set_keepalive(struct pn_tconn *c, uint64_t ms);
/* The path packets currently go out on. */
struct pn_path *pn_tconn_path(const struct pn_tconn *c);
/* Does this datagram's destination CID belong to this connection? */
int pn_tconn_owns_dcid(const struct pn_tconn *c, const uint8_t *pkt, size_t len);

/*
 * Path MTU (RFC 8899, tunnel/pmtu.h): the UDP payload size packets use on
 * the current path now, and how it was found.  Until the handshake is
 * done and on every new path it starts at PN_PMTU_BASE (1200).
 */
struct pn_tconn_pmtu {
	size_t max_udp_payload, ceiling;
	int searching;
	uint64_t probes, probes_lost, black_holes, searches;
};
void pn_tconn_pmtu_info(const struct pn_tconn *c, struct pn_tconn_pmtu *out);
/* The path refused to send a datagram of len bytes as too big (EMSGSIZE). */
void pn_tconn_tx_toobig(struct pn_tconn *c, const struct pn_path *path, size_t len, uint64_t now);

struct pn_tconn_stats {
	uint64_t rtt_us, cwnd, bytes_tx, bytes_rx, pkts_tx, pkts_rx, dgram_drops;
	uint64_t unsent; /* stream bytes accepted from writers, not yet sent */
};
void pn_tconn_stats(const struct pn_tconn *c, struct pn_tconn_stats *st);

/* The CID key of the connection a short- or long-header packet is for
 * (first PN_TCONN_CID_KEY_LEN bytes of its DCID).  0, or PN_E_MALFORMED.
 * *is_initial: a long-header packet whose DCID was chosen by the client. */
int pn_tconn_dcid_key(const uint8_t *pkt, size_t len, uint8_t key[PN_TCONN_CID_KEY_LEN],
		      int *is_long);
#endif
