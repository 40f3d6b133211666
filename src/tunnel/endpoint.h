#ifndef PN_TUNNEL_ENDPOINT_H
#define PN_TUNNEL_ENDPOINT_H
/*
 * Tunnel endpoint: the libuv driver that binds QUIC connection cores
 * (tunnel/conn.h) to paths (tunnel/path.h) and timers, and exposes FLOWS to
 * role glue.  One endpoint per component and loop.
 *
 *   client glue (SOCKS5, port-forward, transparent) ── pn_flow_open()
 *        │ pn_tunnel  (one QUIC connection per connector, many flows)
 *        │   paths: direct UDP socket | any core/path.h path (relay/rpath.h)
 *   connector glue ── ops.flow_request() → check policy → pn_flow_respond()
 *
 * Client side
 *   pn_tunnel_open() starts a tunnel to one connector id (pinned: the
 *   handshake fails unless the peer proves that id with a credential from
 *   the pinned CA) and sends the client's signed access list first, on the
 *   control stream.  Flows may be opened at once; they wait for the
 *   handshake.  Each flow: pn_flow_open() → ops.status (OK or a reason
 *   code from tunnel/flowproto.h) → bytes both ways → ops.closed.
 *
 * Connector side
 *   ops.tunnel_new (peer's verified client credential) → ops.acl (the
 *   client's access list; the glue verifies it with trust) → for every
 *   flow ops.flow_request; the glue answers each with pn_flow_respond()
 *   (OK after it has connected to the resource, or a denial with reason).
 *   A tunnel lives as long as the client credential it holds: it ends
 *   (PN_E_EXPIRED, code PN_FLOW_CRED) once that is past not_after + skew,
 *   unless the client re-presented a renewed one (ops.cred) before.
 *
 * Backpressure, both directions, bounded memory:
 *   - sending: pn_flow_write() copies into the flow's send buffer (bounded,
 *     kept until the peer acknowledges) and returns how much it took; when
 *     it took less than offered, ops.writable fires once there is room.
 *     pn_flow_write_room() tells how much it would take (read no more).
 *   - receiving: ops.data hands out bytes; the glue calls
 *     pn_flow_consumed(f, n) once it has passed n bytes on (e.g. in its
 *     uv_write callback).  Until then the peer gets no more QUIC flow-control
 *     credit, so at most `stream_window` bytes per flow are ever in flight
 *     towards the glue.  "Pause" = do not call pn_flow_consumed; "resume" =
 *     call it.
 *
 * Lifetimes (libuv style): handles are owned by the endpoint.  A flow is
 * valid until its ops.closed returns or until the glue calls
 * pn_flow_close(); a tunnel until ops.tunnel_closed returns or
 * pn_tunnel_close().  No callback fires for a handle after the glue closed
 * it.  Closing a tunnel closes its flows (each gets ops.closed, code
 * PN_FLOW_RESET, unless the glue closed it first).
 *
 * Everything runs on the loop thread; no call blocks; callbacks may call
 * any function here (including closing the handle they were called for).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "core/path.h"
#include "trust/cred.h"
#include "tunnel/flowproto.h"

struct pn_tep;     /* endpoint */
struct pn_tunnel;  /* one QUIC connection between a client and a connector */
struct pn_flow;    /* one flow (a stream; for UDP also its datagrams) */

enum pn_tep_role {
	PN_TEP_CLIENT = 1,
	PN_TEP_CONNECTOR = 2,
};

/* Defaults and limits of the tunables in pn_tep_config. */
#define PN_TEP_SNDBUF_DEFAULT (4u << 20)   /* per-flow send ring */
#define PN_TEP_WINDOW_DEFAULT (4u << 20)   /* per-flow receive window */
#define PN_TEP_CONN_WINDOW_DEFAULT (16u << 20)
/* Concurrent flows per tunnel (configurable: max_flows).  The connector
 * grants max_flows + 1 QUIC streams (the control stream) and returns a
 * stream's credit when it closes; a client stays under its own max_flows
 * and under the connector's grant. */
#define PN_TEP_MAX_FLOWS_DEFAULT 65536
#define PN_TEP_IDLE_MS_DEFAULT 30000
#define PN_TEP_MAX_TUNNELS_DEFAULT 4096    /* connector: concurrent tunnels */

/* ---------------------------------------------------------------- flows -- */

struct pn_flow_ops {
	/* Client: the connector's answer.  st->code == PN_FLOW_OK: the flow is
	 * open (for DNS flows st->addr[] holds the answer and the flow closes
	 * right after).  Any other code: denied or failed, st->text says why;
	 * ops.closed follows with the same code. */
	void (*status)(struct pn_flow *f, const struct pn_flow_status *st, void *user);
	/* Bytes from the peer, in order.  `p` is valid only during the call;
	 * call pn_flow_consumed(f, n) when they have been passed on. */
	void (*data)(struct pn_flow *f, const uint8_t *p, size_t n, void *user);
	/* The peer finished sending (TCP half-close).  No more data follows. */
	void (*eof)(struct pn_flow *f, void *user);
	/* The send buffer has room again after pn_flow_write took less than
	 * offered (or pn_flow_write_room said less than wanted). */
	void (*writable)(struct pn_flow *f, void *user);
	/* UDP flows: one datagram payload from the peer (valid during the call). */
	void (*datagram)(struct pn_flow *f, const uint8_t *p, size_t n, void *user);
	/* Final.  code: PN_FLOW_OK after a clean end (both sides finished and
	 * everything sent was acknowledged), else why (PN_FLOW_RESET,
	 * PN_FLOW_REVOKED, PN_FLOW_DENIED, ...).  f is freed after this returns. */
	void (*closed)(struct pn_flow *f, int code, void *user);
};

/* Which flow to open.  hdr.flow_id == 0: the endpoint draws a random one
 * (read it back with pn_flow_id() and log it: the connector logs it too). */
struct pn_flow_req {
	struct pn_flow_hdr hdr;
};

/*
 * Client: open a flow on tunnel t.  The header is validated
 * (PN_E_INVAL if pn_flow_hdr_encode would refuse it) and queued; it is
 * sent as soon as the tunnel is up and has stream credit.  Data may be
 * written at once (it follows the header; the connector holds it until
 * it has accepted the flow).  Returns 0 and *out, PN_E_INVAL, PN_E_CLOSED
 * (tunnel closing), PN_E_TUN_LIMIT (pn_tunnel_info().max_flows flows are
 * open), -ENOMEM.  Flows queued before the handshake beyond the limit the
 * connector then announces end with ops.closed(PN_FLOW_LIMIT) and no
 * status: the glue may place them on another tunnel.
 */
int pn_flow_open(struct pn_tunnel *t, const struct pn_flow_req *req,
		 const struct pn_flow_ops *ops, void *user, struct pn_flow **out);

/*
 * Copy up to n bytes into the flow's send buffer.  Returns the number taken
 * (0..n; fewer than n means "full": wait for ops.writable), or PN_E_CLOSED
 * (flow ending / write side shut), PN_E_INVAL (UDP/DNS flow).
 */
ssize_t pn_flow_write(struct pn_flow *f, const void *p, size_t n);
/*
 * How many of `want` bytes pn_flow_write would take now.  0 arms
 * ops.writable as a short write does: the glue reads at most this much
 * from its socket and, at 0, stops reading until ops.writable
 * (backpressure instead of queueing; the tunnel bounds the bytes each
 * flow and all flows together may have waiting to be sent).
 */
size_t pn_flow_write_room(struct pn_flow *f, size_t want);

/* Finish the write side (FIN after the buffered bytes).  0 or PN_E_CLOSED. */
int pn_flow_shutdown(struct pn_flow *f);

/* The glue has passed on n more received bytes: grant the peer credit. */
void pn_flow_consumed(struct pn_flow *f, size_t n);

/*
 * UDP flows: send one datagram payload (<= PN_FLOW_DGRAM_PAYLOAD_MAX).
 * Unreliable by design.  Returns 0 (queued), -EAGAIN (queue full: dropped),
 * PN_E_TOOBIG, PN_E_INVAL (not an open UDP flow), PN_E_CLOSED.
 */
int pn_flow_send_datagram(struct pn_flow *f, const void *p, size_t n);

/*
 * Abort the flow: reset both directions with `code` (a pn_flow_code, e.g.
 * PN_FLOW_RESET or PN_FLOW_REVOKED), which the peer sees in ops.closed.
 * No callback fires for f afterwards; f is invalid on return.
 */
void pn_flow_close(struct pn_flow *f, int code);

/*
 * Connector: answer a flow request.  st->flow_id is filled in by the
 * endpoint.  st->code == PN_FLOW_OK: the flow goes live with `ops`/`user`
 * (buffered early bytes are delivered through ops.data).  Otherwise the
 * status is sent, the stream is finished, and the flow is released: no
 * callback fires for f afterwards and f is invalid on return.  DNS flows:
 * answer with OK + addresses; the flow is released likewise.
 * Returns 0, PN_E_INVAL (already answered / bad status), PN_E_CLOSED.
 */
int pn_flow_respond(struct pn_flow *f, const struct pn_flow_status *st,
		    const struct pn_flow_ops *ops, void *user);

uint64_t pn_flow_id(const struct pn_flow *f);
const struct pn_flow_hdr *pn_flow_hdr(const struct pn_flow *f);
struct pn_tunnel *pn_flow_tunnel(const struct pn_flow *f);
void *pn_flow_user(const struct pn_flow *f);
void pn_flow_set_user(struct pn_flow *f, void *user);
/* Bytes written by this side / received from the peer so far. */
void pn_flow_bytes(const struct pn_flow *f, uint64_t *tx, uint64_t *rx);

/* -------------------------------------------------------------- tunnels -- */

enum pn_tunnel_state {
	PN_TUNNEL_CONNECTING = 1, /* handshake / waiting for ACL verdict */
	PN_TUNNEL_UP = 2,         /* authenticated both ways, ACL accepted */
	PN_TUNNEL_CLOSED = 3,
};

struct pn_tunnel_ops {
	/* Client: state changes.  UP: the connector accepted the access list;
	 * flows are being served.  CLOSED: err says why — our verification of
	 * the connector (PN_E_UNTRUSTED, PN_E_EXPIRED, PN_E_NOT_YET_VALID,
	 * PN_E_WRONG_TYPE, PN_E_TUN_PEER_ID; pn_tunnel_end_reason's text has
	 * both clocks for a time refusal), PN_E_TUN_CRED_REFUSED (the
	 * connector refused our credential in the handshake; text: its
	 * reason, e.g. "cred_not_yet_valid now=<its unix clock>" or
	 * "no_credential"), PN_E_TUN_HANDSHAKE (another handshake failure),
	 * PN_E_TUN_REFUSED (the connector closed with a reason:
	 * pn_tunnel_end_reason gives its pn_flow_code and text, e.g. bad_acl
	 * "wrong_holder", credential "revoked"), PN_E_TUN_IDLE,
	 * PN_E_TUN_PEER_CLOSED.  All flows got ops.closed first; the tunnel is
	 * freed after this returns. */
	void (*state)(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *user);
	/* Client, optional: the connector answered a credential re-presented
	 * with pn_tunnel_update_cred: PN_FLOW_OK (the tunnel now lives on
	 * under it) or its refusal's pn_flow_code and reason text (the tunnel
	 * keeps the credential it had and ends when that one expires). */
	void (*cred)(struct pn_tunnel *t, int code, const char *text, void *user);
};

struct pn_tunnel_config {
	uint8_t connector_id[PN_ID_LEN]; /* pinned peer id (from the client ACL) */
	const uint8_t *acl;              /* client's CA-signed access list (copied) */
	size_t acl_len;
	/* Initial path: exactly one of these. */
	const struct sockaddr *udp_peer; /* direct UDP to the connector */
	struct pn_path *path;            /* any other path, e.g. a relay session
					    (relay/rpath.h); see pn_tep_accept_path */
	const struct pn_tunnel_ops *ops;
	void *user;
};

/*
 * Client: start a tunnel to a connector over exactly one initial path
 * (udp_peer or path).  Returns 0 and *out (state CONNECTING; ops.state
 * reports UP or CLOSED later), PN_E_INVAL (role, no/two paths, no acl),
 * PN_E_CLOSED (endpoint closing), -ENOMEM, -errno (socket).
 */
int pn_tunnel_open(struct pn_tep *ep, const struct pn_tunnel_config *cfg,
		   struct pn_tunnel **out);

/*
 * Move the tunnel to another path (QUIC connection migration; open flows
 * survive).  The old path is kept until the new one is validated.  Needs
 * a confirmed handshake (the tunnel is UP): PN_E_INVAL before that.
 * Returns 0, PN_E_INVAL, PN_E_CLOSED, PN_E_TUN_QUIC, -ENOMEM, -errno.
 */
int pn_tunnel_migrate_udp(struct pn_tunnel *t, const struct sockaddr *udp_peer);
int pn_tunnel_migrate_path(struct pn_tunnel *t, struct pn_path *p);

/* Client: send a newer access list (after renewal) on the control stream.
 * 0, PN_E_TOOBIG, PN_E_CLOSED, -EAGAIN (control stream full), -ENOMEM. */
int pn_tunnel_update_acl(struct pn_tunnel *t, const uint8_t *acl, size_t len);

/*
 * Client: re-present a renewed credential (same holder and key as the one
 * the handshake proved; PEM, its first certificate is sent in DER) inside
 * the tunnel (PN_CTL_CRED), so the connector extends the tunnel's life to
 * the new credential's not_after + skew instead of ending it when the
 * handshake's credential expires.  Before the control stream is open it is
 * sent right after the access list.  The answer comes through ops.cred.
 * 0, PN_E_MALFORMED (not a certificate), PN_E_TOOBIG, PN_E_CLOSED,
 * -EAGAIN (control stream full), -ENOMEM.
 */
int pn_tunnel_update_cred(struct pn_tunnel *t, const char *cert_pem);

/*
 * Close the tunnel with `code` (a pn_flow_code, sent to the peer as QUIC
 * application error PN_FLOW_APP_ERR_BASE + code; PN_FLOW_OK for a normal
 * close).  Open flows get ops.closed(code, or PN_FLOW_RESET for OK) during
 * this call; unanswered requests get flow_cancelled.  No tunnel callback
 * fires afterwards; t is invalid on return.
 */
void pn_tunnel_close(struct pn_tunnel *t, int code);

struct pn_tunnel_info {
	enum pn_tunnel_state state;
	enum pn_path_kind path;
	uint8_t peer_id[PN_ID_LEN];
	uint64_t rtt_us, cwnd, bytes_tx, bytes_rx; /* bytes: QUIC packets (UDP payload) */
	unsigned flows;
	/* Flows this tunnel may carry at once: the endpoint's max_flows, and
	 * on a client also the connector's limit once the handshake told it.
	 * pn_flow_open refuses more with PN_E_TUN_LIMIT. */
	unsigned max_flows;
	uint64_t dgram_drops; /* datagrams dropped: queue full / unknown flow */
	/* Path MTU of the current path (docs/tunnel.md): the UDP payload size
	 * packets use now, the path's ceiling, searching or done, probes
	 * sent / lost, black holes seen, searches run. */
	size_t max_udp_payload, pmtu_ceiling;
	int pmtu_searching;
	uint64_t pmtu_probes, pmtu_probes_lost, pmtu_black_holes, pmtu_searches;
};
void pn_tunnel_info(const struct pn_tunnel *t, struct pn_tunnel_info *info);
/* Why the tunnel ended: 0 while alive, else the err of ops.state; the
 * peer's pn_flow_code (or -1) and reason text ("" if none).  Valid during
 * ops.state(CLOSED). */
int pn_tunnel_end_reason(const struct pn_tunnel *t, int *peer_code, const char **text);
/* Connector: the peer's verified client credential: the handshake's, or
 * the last one re-presented and adopted (same id and key; valid while t
 * lives, until the next adoption). */
const struct pn_cred_info *pn_tunnel_peer(const struct pn_tunnel *t);
/* Why our verification refused the peer's credential in the handshake,
 * for the refusal log: its verification error (0: none), our unix clock
 * at the check (*now) and, when the certificate verified under our CA
 * but its time or type was wrong, what it says (*cred: id, user, type,
 * not_before, not_after; else NULL).  Valid while t lives. */
int pn_tunnel_refusal(const struct pn_tunnel *t, const struct pn_cred_info **cred,
		      uint64_t *now);
void *pn_tunnel_user(const struct pn_tunnel *t);
void pn_tunnel_set_user(struct pn_tunnel *t, void *user);

/* ------------------------------------------------------------- endpoint -- */

struct pn_tep_server_ops {
	/* A client completed the handshake with a credential verified against
	 * the pinned CA.  Return PN_FLOW_OK to continue, or a pn_flow_code to
	 * refuse (e.g. PN_FLOW_CRED with why "revoked"): the tunnel is closed
	 * with that code and `why` (or the code's name) as the reason the
	 * client sees.  The close is sent once the packet being read has been
	 * processed (any callback may refuse or close). */
	int (*tunnel_new)(struct pn_tunnel *t, const struct pn_cred_info *peer, char *why,
			  size_t whysz, void *user);
	/* The client's access list arrived (first, and on every update).
	 * Verify it (signature, expiry, version gate, binding to the peer's
	 * credential) and return PN_FLOW_OK or a code with `why` filled in
	 * (sent to the client; the tunnel is closed for the first list, the
	 * update is refused for later ones). */
	int (*acl)(struct pn_tunnel *t, const uint8_t *acl, size_t len, char *why,
		   size_t whysz, void *user);
	/* Optional.  The client re-presented a renewed credential
	 * (PN_CTL_CRED).  The tunnel checks it first: a CLIENT credential
	 * verified under the pinned CA now, the same id AND key the handshake
	 * proved, not_after later than the current credential's.  err != 0:
	 * it failed those checks (why: the reason the client gets; cred: what
	 * it says when it verified, else NULL); only for the log, the return
	 * value is ignored.  err == 0: the glue adds its own checks (e.g.
	 * revocation) and returns PN_FLOW_OK to adopt it, or a code with `why`
	 * filled in.  Adopted: the client gets PN_CTL_CRED_OK, pn_tunnel_peer()
	 * returns it, and the tunnel's end moves to its not_after + skew.
	 * Refused: PN_CTL_ERROR, and nothing changes (the tunnel still ends
	 * when its current credential expires).  Without this hook a credential
	 * that passes the tunnel's checks is adopted. */
	int (*cred)(struct pn_tunnel *t, const struct pn_cred_info *cred, int err, char *why,
		    size_t whysz, void *user);
	/* A flow request on a tunnel whose ACL was accepted.  The glue must
	 * answer with pn_flow_respond() exactly once, now or later (after DNS
	 * and connect).  If the flow dies before that (client reset, tunnel
	 * closed), ops.flow_cancelled fires instead and f becomes invalid. */
	void (*flow_request)(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h,
			     void *user);
	/* A requested flow died before the glue answered it (client reset it,
	 * tunnel closed).  f is invalid after this returns. */
	void (*flow_cancelled)(struct pn_flow *f, void *user);
	/* A tunnel ended (err: why; PN_E_EXPIRED: the client credential it
	 * holds passed not_after + skew).  Its open flows got ops.closed first.
	 * Also called for a handshake that failed before tunnel_new (then
	 * pn_tunnel_user(t) is NULL): err is our verification's error
	 * (PN_E_EXPIRED, PN_E_NOT_YET_VALID, PN_E_WRONG_TYPE, PN_E_UNTRUSTED,
	 * PN_E_TUN_NO_CRED: no credential from our CA), the client's refusal
	 * of ours (PN_E_TUN_CRED_REFUSED), or PN_E_TUN_HANDSHAKE / a timeout;
	 * pn_tunnel_refusal() gives the details for the log. */
	void (*tunnel_closed)(struct pn_tunnel *t, int err, void *user);
};

struct pn_tep_config {
	uv_loop_t *loop;
	enum pn_tep_role role;
	const struct pn_anchor *anchor; /* pinned CA; borrowed, must outlive ep */
	const struct pn_key *key;       /* own key; borrowed, must outlive ep */
	const char *cert_pem;           /* own credential (copied) */
	const struct pn_tep_server_ops *server_ops; /* connector only */
	void *user;                     /* passed to server_ops */
	/* Tunables; 0 = default. */
	size_t stream_sndbuf, stream_window, conn_window;
	unsigned max_flows, max_tunnels;
	uint32_t idle_ms;
	uint32_t clock_skew_s; /* credential validity tolerance (trust default) */
	/* Largest UDP payload Path MTU discovery may reach (0: each path's
	   ceiling; PN_PMTU_BASE = 1200: discovery off).  Benchmarks. */
	size_t pmtu_max;
};

/* Create an endpoint.  0, PN_E_INVAL, PN_E_MALFORMED (credential), PN_E_CRYPTO, -ENOMEM. */
int pn_tep_new(const struct pn_tep_config *cfg, struct pn_tep **out);

/* Replace the own credential for tunnels opened from now on (renewal). */
int pn_tep_set_credential(struct pn_tep *ep, const struct pn_key *key, const char *cert_pem);

/*
 * Open a UDP socket bound to `addr` (UDP GSO/GRO when the kernel has them).
 * Connector: accepts tunnels there (also the hole-punching socket later).
 * Client: direct tunnels send from it instead of an ephemeral socket.
 * 0, -errno.  The bound address: pn_tep_udp_addr().
 */
int pn_tep_listen_udp(struct pn_tep *ep, const struct sockaddr *addr);
int pn_tep_udp_addr(const struct pn_tep *ep, struct sockaddr_storage *ss);

/*
 * Paths from elsewhere (core/path.h; a relay session: relay/rpath.h).
 * Handed to the endpoint (pn_tep_accept_path, pn_tunnel_config.path,
 * pn_tunnel_migrate_path), a path is attached to it: its datagrams and its
 * loss go to the endpoint, which releases it (pn_path_release) once no
 * tunnel names it and it is lost, or when the endpoint closes.  On an
 * error return the path was not taken: the caller still owns it.
 * When a path is lost the client's tunnels on it live on only if the glue
 * migrates them elsewhere; a connector (which cannot migrate) ends a
 * tunnel whose current path it was at once (reason PN_E_TUN_NO_PATH, flows
 * reset; server_ops.tunnel_closed follows).
 */
/* Connector: tunnels may be accepted from path p (a client opened a relay
 * session to us).  0, PN_E_INVAL, PN_E_CLOSED, -ENOMEM. */
int pn_tep_accept_path(struct pn_tep *ep, struct pn_path *p);

/*
 * Direct paths by NAT traversal (docs/tunnel.md, "Direct paths"), on the
 * endpoint's direct UDP socket: a connector calls pn_tep_listen_udp first;
 * a client without a socket gets one on 0.0.0.0:0 here.  `stun`: the
 * relays' UDP addresses (their STUN service; up to 4 are used; two or
 * more classify the NAT).  Every tunnel then exchanges candidates once up,
 * probes, and the client migrates it onto a working direct pair and back
 * to its relay path when the direct one dies.  Calling again replaces the
 * STUN servers and rediscovers.  0, PN_E_INVAL (connector without a
 * socket), PN_E_CLOSED, -ENOMEM, -errno.
 */
int pn_tep_p2p(struct pn_tep *ep, const struct sockaddr_storage *stun, size_t n);

/* A tunnel's NAT traversal, for status output. */
struct pn_tunnel_p2p {
	const char *state;     /* "off", "probing", "direct", "relay" */
	int nat, peer_nat;     /* enum pn_nat_kind (tunnel/p2p.h): ours, the peer's */
	/* the direct pair in use ("direct"): our address as the peer sees it
	 * (the mapping, else a host address) and the peer's */
	struct sockaddr_storage local, remote;
	uint64_t on_path_ms;   /* time on the current path */
	uint64_t time_to_direct_ms; /* tunnel up -> first direct path (0: never) */
	unsigned switches;     /* path changes */
	uint64_t keepalive_ms; /* NAT keepalive interval on a direct path (adapted) */
	unsigned keepalives;   /* keepalives sent on idle direct paths */
	unsigned expiries;     /* NAT mappings seen to expire (tunnel/natka.h) */
	int relay_fallback;    /* client: a relay path to fall back to is attached */
};
int pn_tunnel_p2p_info(const struct pn_tunnel *t, struct pn_tunnel_p2p *info);

struct pn_tep_stats {
	unsigned tunnels;
	uint64_t retries;       /* Retry packets sent (address validation) */
	uint64_t drops_unknown; /* datagrams dropped before any state: not an
				   acceptable Initial, bad token, caps reached */
};
void pn_tep_stats(const struct pn_tep *ep, struct pn_tep_stats *st);

/* Close every tunnel and socket, then free ep and call cb(arg) from the loop. */
void pn_tep_close(struct pn_tep *ep, void (*cb)(void *arg), void *arg);
#endif
