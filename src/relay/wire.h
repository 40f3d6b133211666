#ifndef PN_RELAY_WIRE_H
#define PN_RELAY_WIRE_H
/*
 * The relay's wire protocol: every message type and every limit, in one
 * place (like WireGuard's messages.h).  Docs: docs/relay.md.
 *
 * Two carriers:
 *
 * 1. UDP (one port).  The first byte demultiplexes:
 *      0x00..0x3f  STUN (RFC 8489; the magic cookie is checked too)
 *      0xd0        DATA     sid[8] payload...            both directions
 *      0xd1        BIND     sid[8] side u8 counter u64 mac[16]
 *      0xd2        BIND_OK  sid[8] counter u64           (17 < 34 bytes)
 *      0xd3        CHALLENGE sid[8] counter u64 cookie[8] (25 < 34 bytes)
 *      0xd4        CONFIRM  sid[8] side u8 counter u64 cookie[8] mac[16]
 *    DATA is forwarded unchanged (header included) to the other side of
 *    the session, only if it came from the address bound to this side.
 *    BIND proves knowledge of the side's per-session secret:
 *      mac = HMAC-SHA256(secret, "pn-relay-bind" || sid || side || counter)[0..16)
 *    The counter must grow for every accepted BIND (no replays); a BIND
 *    also refreshes the binding (keepalive, NAT rebinding).  Return
 *    routability: a BIND from an address that is not the side's bound one
 *    only earns a CHALLENGE whose cookie (a MAC of the relay over sid,
 *    side, counter and the source address) must come back in a CONFIRM
 *    from that address (mac over sid..cookie, label "pn-relay-confirm");
 *    so a side cannot point the relay's traffic at an address it does not
 *    receive on (no reflection through the relay).  A bad BIND is
 *    dropped silently; no unauthenticated sender ever gets a reply larger
 *    than its request.
 *
 * 2. A byte stream (TLS 1.3, mutual authentication, ALPN "postern-relay/1";
 *    or the same TLS stream carried in binary WebSocket messages after an
 *    HTTP/1.1 Upgrade, for reverse proxies and CDNs).  Frames:
 *      type u8, len u16 (big-endian), body[len]
 *    Types (c = connector, k = client, r = relay):
 *      REGISTER   c->r  (empty)
 *      REGISTERED r->c  keepalive_ms u32, idle_ms u32
 *      OPEN       k->r  tag u32, connector_id[16], acl lv16
 *      OPENED     r->k  tag u32, sid[8], secret[32], idle_ms u32
 *      SESSION    r->c  sid[8], client_id[16], secret[32], idle_ms u32
 *      CLOSE      any   sid[8], reason i32
 *      ERROR      r->*  tag u32, code i32   (tag 0: about the connection)
 *      PING/PONG  any   opaque u64
 *      DATA       any   sid[8], payload
 *      RENEW      c,k->r cert lv16 (DER, 1..PN_RELAY_MAX_CERT bytes)
 *      RENEWED    r->c,k not_after u64 (unix seconds)
 *    A peer's id and role come from its verified certificate, never from
 *    a message.  RENEW re-presents a renewed credential on an open
 *    connection: it must verify under the pinned CA, be of the same type
 *    and id, and certify the very key the TLS peer proved it holds; the
 *    relay then uses it (its expiry) for every later decision on that
 *    connection.  Anything else is answered with ERROR (tag 0) and the
 *    connection is closed.
 */
#include <stdint.h>

#include "core/stun.h"

/* ---- identifiers and secrets ---- */
#define PN_RELAY_SID_LEN    8  /* random session id */
#define PN_RELAY_ID_LEN	    16 /* connector / client id (from the credential) */
#define PN_RELAY_SECRET_LEN 32 /* per-session, per-side BIND key */
#define PN_RELAY_MAC_LEN    16 /* truncated HMAC-SHA256 in BIND */
#define PN_RELAY_BIND_LABEL "pn-relay-bind"

enum pn_relay_side {
	PN_RELAY_SIDE_CLIENT = 0,
	PN_RELAY_SIDE_CONNECTOR = 1,
};

/* ---- UDP messages ---- */
enum pn_relay_udp_type {
	PN_RELAY_UDP_DATA = 0xd0,
	PN_RELAY_UDP_BIND = 0xd1,
	PN_RELAY_UDP_BIND_OK = 0xd2,
	PN_RELAY_UDP_CHALLENGE = 0xd3,
	PN_RELAY_UDP_CONFIRM = 0xd4,
};
#define PN_RELAY_DATA_HDR      (1 + PN_RELAY_SID_LEN)				 /* 9 */
#define PN_RELAY_BIND_LEN      (1 + PN_RELAY_SID_LEN + 1 + 8 + PN_RELAY_MAC_LEN) /* 34 */
#define PN_RELAY_BIND_OK_LEN   (1 + PN_RELAY_SID_LEN + 8)			 /* 17 */
#define PN_RELAY_COOKIE_LEN    8
#define PN_RELAY_CHALLENGE_LEN (1 + PN_RELAY_SID_LEN + 8 + PN_RELAY_COOKIE_LEN) /* 25 */
#define PN_RELAY_CONFIRM_LEN                                                                       \
	(1 + PN_RELAY_SID_LEN + 1 + 8 + PN_RELAY_COOKIE_LEN + PN_RELAY_MAC_LEN) /* 42 */
#define PN_RELAY_CONFIRM_LABEL "pn-relay-confirm"
/* Largest opaque payload (one QUIC packet) the relay carries. */
#define PN_RELAY_MAX_PAYLOAD  1500
#define PN_RELAY_MAX_DATAGRAM (PN_RELAY_DATA_HDR + PN_RELAY_MAX_PAYLOAD)

/* ---- stream frames ---- */
enum pn_relay_frame_type {
	PN_RELAY_F_REGISTER = 0x01,
	PN_RELAY_F_REGISTERED = 0x02,
	PN_RELAY_F_OPEN = 0x03,
	PN_RELAY_F_OPENED = 0x04,
	PN_RELAY_F_SESSION = 0x05,
	PN_RELAY_F_CLOSE = 0x06,
	PN_RELAY_F_ERROR = 0x07,
	PN_RELAY_F_PING = 0x08,
	PN_RELAY_F_PONG = 0x09,
	PN_RELAY_F_DATA = 0x0a,
	PN_RELAY_F_RENEW = 0x0b,
	PN_RELAY_F_RENEWED = 0x0c,
};
#define PN_RELAY_F_LAST PN_RELAY_F_RENEWED
#define PN_RELAY_FRAME_HDR 3
/* A frame body is at most this (the u16 length allows no more). */
#define PN_RELAY_MAX_FRAME_BODY 65535
/* The client access list in OPEN; leaves room for tag + id + length. */
#define PN_RELAY_MAX_ACL 65000
/* A credential in RENEW (DER; ours are well under 4 KiB). */
#define PN_RELAY_MAX_CERT 8192
#define PN_RELAY_ALPN	 "postern-relay/1"

/* ---- WebSocket upgrade ---- */
#define PN_RELAY_WS_DEFAULT_PATH  "/postern"
#define PN_RELAY_MAX_HTTP_REQUEST 4096 /* request line + headers */
/* One WebSocket message carries one TLS record (<= 16 KiB + overhead). */
#define PN_RELAY_MAX_WS_MESSAGE (18 * 1024)

/* ---- STUN (RFC 8489): constants and codec in core/stun.h ---- */

/* ---- timing (milliseconds) ---- */
#define PN_RELAY_HANDSHAKE_MS	     5000   /* accept -> authenticated, or closed */
#define PN_RELAY_KEEPALIVE_MS	     15000  /* PING interval on control streams */
#define PN_RELAY_CONN_IDLE_MS	     45000  /* control stream silent this long: closed */
#define PN_RELAY_BIND_REFRESH_MS     15000  /* UDP BIND keepalive (NAT mappings) */
#define PN_RELAY_SESSION_IDLE_MS     180000 /* no data either way: session closed */
#define PN_RELAY_UDP_BIND_TIMEOUT_MS 1500   /* no BIND_OK: client falls back to stream */
#define PN_RELAY_OPEN_HOLD_MS	     1000   /* OPEN for a connector not (yet) registered: held */
#define PN_RELAY_STATS_MS	     60000  /* stats line in the log */

/* ---- default caps (the daemon's flags can change the non-protocol ones) ---- */
#define PN_RELAY_MAX_PENDING	       1024	    /* unauthenticated connections, global */
#define PN_RELAY_MAX_PENDING_PER_IP    16	    /* ... per source address */
#define PN_RELAY_MAX_CONNS	       16384	    /* authenticated connections */
#define PN_RELAY_MAX_SESSIONS	       262144	    /* sessions, global */
#define PN_RELAY_MAX_SESSIONS_PER_CONN 1024	    /* sessions opened by one client connection */
#define PN_RELAY_MAX_EGRESS	       (256 * 1024) /* queued bytes per stream; beyond: DATA dropped */
#define PN_RELAY_MAX_OPEN_PER_SEC      64	    /* OPEN requests per connection per second */
#define PN_RELAY_MAX_HELD_PER_CONN     8	    /* OPENs held for absent connectors, per connection */

/* ---- UDP data path batching ---- */
#define PN_RELAY_BATCH	      32    /* recvmmsg/sendmmsg vector */
#define PN_RELAY_GRO_BUF      65536 /* one receive slot with UDP GRO */
#define PN_RELAY_GSO_MAX_SEGS 64    /* kernel UDP_MAX_SEGMENTS */
#endif
