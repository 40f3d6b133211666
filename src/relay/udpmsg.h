#ifndef PN_RELAY_UDPMSG_H
#define PN_RELAY_UDPMSG_H
/*
 * UDP messages of the relay (layouts in relay/wire.h): classification of
 * a datagram (relay message or STUN), and BIND / BIND_OK codecs.
 * Sans-I/O; no allocation.
 */
#include <stddef.h>
#include <stdint.h>

#include "relay/wire.h"

enum pn_relay_udp_kind {
	PN_RELAY_KIND_DATA = PN_RELAY_UDP_DATA,
	PN_RELAY_KIND_BIND = PN_RELAY_UDP_BIND,
	PN_RELAY_KIND_BIND_OK = PN_RELAY_UDP_BIND_OK,
	PN_RELAY_KIND_CHALLENGE = PN_RELAY_UDP_CHALLENGE,
	PN_RELAY_KIND_CONFIRM = PN_RELAY_UDP_CONFIRM,
	PN_RELAY_KIND_STUN = 0x100,
};

/*
 * What a datagram is, from its first byte (and for STUN its length and
 * magic cookie).  Returns a pn_relay_udp_kind, or PN_E_MALFORMED (unknown
 * type, wrong length for the type, empty DATA), PN_E_TOOBIG (DATA payload
 * above PN_RELAY_MAX_PAYLOAD).  DATA is only checked for its size.
 */
int pn_relay_udp_classify(const uint8_t *p, size_t n);

/* The session id of a DATA/BIND/BIND_OK datagram already classified. */
static inline const uint8_t *pn_relay_udp_sid(const uint8_t *p)
{
	return p + 1;
}

/* Build BIND for (sid, side, counter) keyed by the side's secret. */
void pn_relay_bind_encode(uint8_t out[PN_RELAY_BIND_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
			  enum pn_relay_side side, uint64_t counter,
			  const uint8_t secret[PN_RELAY_SECRET_LEN]);

/* Fields of a classified BIND (the MAC is not checked). */
void pn_relay_bind_fields(const uint8_t p[PN_RELAY_BIND_LEN], uint8_t *side, uint64_t *counter);

/*
 * Check a classified BIND's MAC with `secret` in constant time.
 * 0, or PN_E_SIGNATURE.
 */
int pn_relay_bind_verify(const uint8_t p[PN_RELAY_BIND_LEN],
			 const uint8_t secret[PN_RELAY_SECRET_LEN]);

/* BIND_OK echoes the sid and counter: 17 bytes, never more than BIND. */
void pn_relay_bind_ok_encode(uint8_t out[PN_RELAY_BIND_OK_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
			     uint64_t counter);
uint64_t pn_relay_bind_ok_counter(const uint8_t p[PN_RELAY_BIND_OK_LEN]);

/* CHALLENGE (relay -> side): echoes sid and counter, carries the cookie. */
void pn_relay_challenge_encode(uint8_t out[PN_RELAY_CHALLENGE_LEN],
			       const uint8_t sid[PN_RELAY_SID_LEN], uint64_t counter,
			       const uint8_t cookie[PN_RELAY_COOKIE_LEN]);
uint64_t pn_relay_challenge_counter(const uint8_t p[PN_RELAY_CHALLENGE_LEN]);
const uint8_t *pn_relay_challenge_cookie(const uint8_t p[PN_RELAY_CHALLENGE_LEN]);

/* CONFIRM (side -> relay): the BIND fields plus the cookie, keyed by the side's secret. */
void pn_relay_confirm_encode(uint8_t out[PN_RELAY_CONFIRM_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
			     enum pn_relay_side side, uint64_t counter,
			     const uint8_t cookie[PN_RELAY_COOKIE_LEN],
			     const uint8_t secret[PN_RELAY_SECRET_LEN]);
/* Fields of a classified CONFIRM (side and counter sit where BIND has them). */
void pn_relay_confirm_fields(const uint8_t p[PN_RELAY_CONFIRM_LEN], uint8_t *side,
			     uint64_t *counter, const uint8_t **cookie);
/* 0 or PN_E_SIGNATURE (constant time). */
int pn_relay_confirm_verify(const uint8_t p[PN_RELAY_CONFIRM_LEN],
			    const uint8_t secret[PN_RELAY_SECRET_LEN]);

/*
 * The relay's stateless cookie for (sid, side, counter, source address):
 * HMAC-SHA256(key, ...) truncated.  addr is the compact form (family,
 * port, ip) of relay/core.h, passed as bytes.
 */
void pn_relay_cookie(const uint8_t key[PN_RELAY_SECRET_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
		     uint8_t side, uint64_t counter, const void *addr, size_t addr_len,
		     uint8_t out[PN_RELAY_COOKIE_LEN]);
#endif
