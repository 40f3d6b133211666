#ifndef PN_RELAY_RCLIENT_H
#define PN_RELAY_RCLIENT_H
/*
 * Relay client library (libuv): how connectors and clients use relays.
 *
 * One pn_rclient per component and loop.  It holds a connection to each
 * relay added with pn_rclient_add_relay():
 *   - a control stream: TLS 1.3 over TCP to the relay's TLS port, or, if
 *     that fails (or only WebSocket is allowed), the same TLS stream inside
 *     a WebSocket reached through an HTTP reverse proxy (ws://host:port/path,
 *     or wss:// where the proxy terminates its own TLS first: its
 *     certificate is verified against wss_ca_file or the system's trust
 *     store and the URL's host);
 *   - UDP for data when the relay's UDP port answers a BIND; otherwise data
 *     rides the control stream.  Order of preference: UDP, TLS, WS.
 * Both ends of TLS are authenticated with CA-issued credentials: the relay
 * must present a PN_CRED_RELAY certificate issued by the pinned CA.
 *
 * Connector mode: the library REGISTERs with every relay added and keeps
 * the registrations alive (reconnecting with backoff); ops.session_new is
 * called for every session a client opens to it.
 * Client mode: pn_rclient_open() asks one relay for a session to a
 * connector id, presenting the client's CA-signed access list; the
 * result arrives in ops.session_ready.
 *
 * Sessions carry opaque datagrams (QUIC packets) both ways:
 * pn_rsession_send() / ops.datagram.  A session handed to the tunnel as a
 * path (relay/rpath.h) delivers to the path's user instead.
 *
 * Sessions: the relay closes a session after PN_RELAY_SESSION_IDLE_MS
 * (180 s) without a datagram either way (session_closed, PN_E_TIMEOUT);
 * on UDP the library's BIND keepalives (every 15 s) count as activity, on
 * streams only datagrams do, so keep the tunnel alive (QUIC PING) or
 * reopen.  A session also ends when either side's relay connection does.
 *
 * Threading: everything runs on the loop thread; no call blocks.  The
 * process should ignore SIGPIPE (libuv writes to sockets).
 * Memory: the caller owns nothing the library allocates; handles stay
 * valid until ops.session_closed (sessions) or the close callback
 * (pn_rclient_close).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "relay/wire.h"

struct pn_rclient;
struct pn_rrelay;   /* one relay known to an rclient */
struct pn_rsession; /* one session on one relay */

enum pn_rclient_mode {
	PN_RCLIENT_CLIENT = 1,
	PN_RCLIENT_CONNECTOR = 2,
};

/* Transports, as a bit set (allowed) or a value (in use). */
enum pn_rtransport {
	PN_RT_UDP = 1, /* data over UDP, control over TLS */
	PN_RT_TLS = 2, /* data and control over TLS/TCP */
	PN_RT_WS = 4,  /* data and control over TLS inside a WebSocket */
};
#define PN_RT_ALL (PN_RT_UDP | PN_RT_TLS | PN_RT_WS)

/* States reported by ops.relay_state. */
enum pn_rrelay_state {
	PN_RRELAY_CONNECTING = 0,
	PN_RRELAY_READY = 1, /* authenticated (connector: registered) */
	PN_RRELAY_DOWN = 2,  /* lost; the library retries with backoff */
};

struct pn_rclient_ops {
	/* Connector mode: client `client_id` opened session `s` through a relay.
	 * The session is usable immediately. */
	void (*session_new)(struct pn_rsession *s, const uint8_t client_id[PN_RELAY_ID_LEN],
			    void *user);
	/* Client mode: the outcome of pn_rclient_open().  status 0: `s` is
	 * ready to send; otherwise `s` is already dead (no session_closed
	 * follows) and status says why: PN_E_RELAY_NO_CONNECTOR,
	 * PN_E_RELAY_NOT_AUTHORIZED, PN_E_EXPIRED, PN_E_SIGNATURE,
	 * PN_E_WRONG_HOLDER, PN_E_RELAY_LIMIT, PN_E_TIMEOUT, PN_E_CLOSED ... */
	void (*session_ready)(struct pn_rsession *s, int status, void *user);
	/* A ready session ended (peer closed, relay lost, idle).  `s` is freed
	 * when this returns. */
	void (*session_closed)(struct pn_rsession *s, int reason, void *user);
	/* A datagram arrived on `s`.  `p` is valid only during the call. */
	void (*datagram)(struct pn_rsession *s, const uint8_t *p, size_t n, void *user);
	/* Optional: a relay's connection changed state (err: why it went down). */
	void (*relay_state)(struct pn_rrelay *r, enum pn_rrelay_state st, int err, void *user);
};

struct pn_rclient_config {
	enum pn_rclient_mode mode;
	const char *ca_pem;   /* the pinned CA certificate (PEM, NUL-terminated) */
	const char *cert_pem; /* own credential: PN_CRED_CLIENT or PN_CRED_CONNECTOR */
	const char *key_pem;  /* its private key (PEM) */
	/* Trust anchors (PEM file) for the certificates of wss:// proxies;
	 * NULL: the system's trust store.  Never the Postern CA's job: the
	 * relay's own credential is checked inside, as for ws://. */
	const char *wss_ca_file;
	const struct pn_rclient_ops *ops;
	void *user; /* passed to every op */
};

struct pn_rrelay_config {
	const char *name;     /* label for logs (optional) */
	const char *tls_addr; /* "host:port" of the relay's TLS listener, or NULL */
	const char *udp_addr; /* "host:port" of its UDP port (data, STUN), or NULL */
	const char *ws_url;   /* "ws://host:port/path" or "wss://host:port/path" via a
			       * reverse proxy (wss: TLS to the proxy first), or NULL */
	unsigned transports;  /* allowed pn_rtransport bits; 0 = PN_RT_ALL */
};

/*
 * Create an rclient on `loop`.  Copies the configuration (PEM strings
 * included).  The credential must verify under the CA and be of the
 * mode's type.  Returns 0, PN_E_INVAL (bad mode/ops), PN_E_MALFORMED /
 * PN_E_UNTRUSTED / PN_E_EXPIRED / PN_E_WRONG_TYPE (credential), PN_E_CRYPTO,
 * -ENOMEM.
 */
int pn_rclient_new(uv_loop_t *loop, const struct pn_rclient_config *cfg, struct pn_rclient **out);

/*
 * Replace the credential (after a renewal).  Connections made from now on
 * use it; open connections get it re-presented (a RENEW message, see
 * relay/wire.h) when the key is the same, so the relay goes on opening
 * sessions on them past the old credential's expiry (logged as
 * credential_presented when the relay accepts it; a refusal closes the
 * connection, which reconnects).  With a new key, open connections keep
 * the old credential until they reconnect.  Returns 0 or the credential
 * errors of pn_rclient_new.
 */
int pn_rclient_set_credential(struct pn_rclient *rc, const char *cert_pem, const char *key_pem);

/*
 * Add a relay and start connecting (connector mode: and registering).
 * Hosts are addresses or DNS names (resolved off the loop for each
 * connection attempt, each address tried in turn); the syntax is
 * ctlapi/relays.h's.  Returns 0 and *out (owned by rc), or PN_E_INVAL /
 * PN_E_CONFIG (bad address, no usable transport, no trust anchors for
 * wss://; logged as relay_invalid with the reason), -ENOMEM.
 */
int pn_rclient_add_relay(struct pn_rclient *rc, const struct pn_rrelay_config *cfg,
			 struct pn_rrelay **out);

/*
 * Remove relay r (no longer in the relay list): its ready sessions end
 * (ops.session_closed, reason PN_E_RELAY_REMOVED), its pending opens fail
 * (ops.session_ready, the same status), it connects no more, and r must
 * not be used after this call (rc frees it once its handles have closed).
 * Nothing during pn_rclient_close or for a relay already removed.
 */
void pn_rclient_remove_relay(struct pn_rclient *rc, struct pn_rrelay *r);

/* 1 if r is the relay cfg describes: the same label, transports and
 * udp/tls/ws text (as given to pn_rclient_add_relay), else 0. */
int pn_rrelay_is(const struct pn_rrelay *r, const struct pn_rrelay_config *cfg);

#define PN_RCLIENT_SYNC_MAX 16
struct pn_rclient_sync {
	unsigned added, removed, failed;
};
struct pn_relay_entry; /* ctlapi/relays.h */
/*
 * Bring the caller's relays arr[0..*n) (relays of rc, at most max <=
 * PN_RCLIENT_SYNC_MAX) to the parsed relay list e[0..ne) (ctlapi/relays.h):
 * each entry becomes a relay limited to `transports` (0: all; its udp
 * address dropped without PN_RT_UDP), an unnamed one labelled
 * default_name (NULL: its TLS address).  Relays the list does not
 * describe (label, transports, udp/tls/ws text) are removed
 * (pn_rclient_remove_relay); entries not yet in arr are added at its end
 * before the removed relays' sessions end, so their users can move to
 * them; the others are kept, with their sessions.  arr and *n are updated
 * before any session ends.  An entry that cannot be added is logged as
 * relay_invalid and given to skipped(index, name, err, why, NULL) when it
 * is not NULL; the others are applied.  Returns 0, the first such error,
 * or PN_E_INVAL / PN_E_TOOBIG (more than PN_RCLIENT_SYNC_MAX entries).
 * *out counts what changed.
 */
int pn_rclient_sync(struct pn_rclient *rc, struct pn_rrelay **arr, unsigned *n, unsigned max,
		    const struct pn_relay_entry *e, size_t ne, unsigned transports,
		    const char *default_name,
		    void (*skipped)(size_t index, const char *name, int err, const char *why,
				    void *arg),
		    struct pn_rclient_sync *out);

/* The relay's state, its label, and the transport its data uses now
 * (PN_RT_UDP, PN_RT_TLS, PN_RT_WS; 0 while not ready). */
enum pn_rrelay_state pn_rrelay_state(const struct pn_rrelay *r);
const char *pn_rrelay_name(const struct pn_rrelay *r);
unsigned pn_rrelay_transport(const struct pn_rrelay *r);
/* The relay's UDP address (for STUN from another socket, see core/stun.h):
 * 0, or PN_E_INVAL if it has none. */
int pn_rrelay_udp_addr(const struct pn_rrelay *r, struct sockaddr_storage *ss, socklen_t *len);
/* The UDP addresses of those of relays[0..n) that have one, in order, at
 * most max into ss[]: the STUN servers for NAT traversal (tunnel/endpoint.h
 * pn_tep_p2p), client and connector alike.  How many were written. */
size_t pn_rrelay_udp_addrs(struct pn_rrelay *const *relays, size_t n, struct sockaddr_storage *ss,
			   size_t max);
/* Smoothed control-stream round-trip time in ms (PING/PONG), 0 if unknown. */
unsigned pn_rrelay_rtt_ms(const struct pn_rrelay *r);

/*
 * Client mode: ask relay `r` for a session to `connector_id`, presenting
 * the client's CA-signed access list `acl` (which must name that
 * connector).  If the relay is not connected yet the request waits for it
 * (up to PN_RELAY_HANDSHAKE_MS * 2, then PN_E_TIMEOUT).  The outcome comes
 * through ops.session_ready.  Returns 0 and *out, or PN_E_INVAL (connector
 * mode, acl too large), -ENOMEM.
 */
int pn_rclient_open(struct pn_rclient *rc, struct pn_rrelay *r,
		    const uint8_t connector_id[PN_RELAY_ID_LEN], const uint8_t *acl, size_t acl_len,
		    void *session_user, struct pn_rsession **out);

/*
 * Send one datagram (1..PN_RELAY_MAX_PAYLOAD bytes) on a ready session.
 * The bytes are copied: over UDP into a per-relay queue sent at the end of
 * the current loop iteration (sendmmsg, equal sizes batched with UDP GSO),
 * over a stream into its bounded egress queue.  Returns 0 (queued),
 * PN_E_TOOBIG, PN_E_CLOSED (not ready / dead), -EAGAIN (stream queue full:
 * dropped, as UDP would).  UDP send failures are counted in tx_drops.
 */
int pn_rsession_send(struct pn_rsession *s, const uint8_t *p, size_t n);

/* Close a session: tells the relay, which tells the other side.  No
 * session_closed callback follows for a local close; `s` is invalid after.
 * Called on a session inside its session_closed or failed session_ready
 * callback, it does nothing (the library frees it on return). */
void pn_rsession_close(struct pn_rsession *s);

/* Accessors. */
void pn_rsession_set_user(struct pn_rsession *s, void *user);
void *pn_rsession_user(const struct pn_rsession *s);
struct pn_rrelay *pn_rsession_relay(const struct pn_rsession *s);
/* The transport this session's datagrams use now (PN_RT_*). */
unsigned pn_rsession_transport(const struct pn_rsession *s);
/* The other side's id (client id for a connector, connector id for a client). */
const uint8_t *pn_rsession_peer_id(const struct pn_rsession *s);
const uint8_t *pn_rsession_sid(const struct pn_rsession *s);

/* Counters for status displays. */
struct pn_rclient_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes, tx_drops;
};
void pn_rclient_stats(const struct pn_rclient *rc, struct pn_rclient_stats *st);

/*
 * Close every connection and session (sessions get no session_closed),
 * then free rc and call cb (may be NULL) once every handle is closed (from
 * the loop; immediately if no relay was ever added).  rc is invalid once
 * cb runs.
 */
void pn_rclient_close(struct pn_rclient *rc, void (*cb)(void *arg), void *arg);
#endif
