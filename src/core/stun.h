#ifndef PN_CORE_STUN_H
#define PN_CORE_STUN_H
/*
 * STUN Binding (RFC 8489), the part Postern needs: a server (the relay)
 * answers Binding requests with XOR-MAPPED-ADDRESS; a client (the relay
 * client, or the tunnel's NAT traversal on its direct socket,
 * tunnel/natdisc.h) builds requests and reads the mapped address from the
 * response.  Sans-I/O, no allocation.  In core so that both the relay and
 * the tunnel (same tier) can use it.
 *
 * Amplification: a response is never larger than the request it answers.
 * An IPv4 answer is 32 bytes (40 with FINGERPRINT), IPv6 44 (52), so
 * requests must be padded: pn_stun_build_request() pads to
 * PN_STUN_REQUEST_LEN with a PADDING attribute (RFC 5780 §7.6).  Shorter
 * requests that cannot carry the answer are dropped, not answered.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>


/* The message header and the limit (RFC 8489 §5). */
#define PN_STUN_MAGIC	    0x2112A442u
#define PN_STUN_HDR	    20
/* Larger is dropped.  Path-MTU probes (pn_stun_build_probe, `postern
 * doctor`) are padded requests as large as a 1500-byte link carries; the
 * answer stays small, so their size costs the relay nothing but a read. */
#define PN_STUN_MAX_MESSAGE 1500

#define PN_STUN_TXID_LEN     12
#define PN_STUN_REQUEST_LEN  64 /* padded request: room for any of our answers */
#define PN_STUN_RESPONSE_MAX 52

#define PN_STUN_BINDING_REQUEST		0x0001
#define PN_STUN_BINDING_RESPONSE	0x0101
#define PN_STUN_ATTR_MAPPED_ADDRESS	0x0001
#define PN_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define PN_STUN_ATTR_PADDING		0x0026
#define PN_STUN_ATTR_SOFTWARE		0x8022
#define PN_STUN_ATTR_FINGERPRINT	0x8028

/*
 * Parse a Binding request.  0 with txid (and *has_fpr if it carried a
 * valid FINGERPRINT), or PN_E_MALFORMED (bad header, attribute overruns,
 * bad FINGERPRINT), PN_E_UNSUPPORTED (another STUN method or class),
 * PN_E_TOOBIG (longer than PN_STUN_MAX_MESSAGE).
 */
int pn_stun_parse_request(const uint8_t *p, size_t n, uint8_t txid[PN_STUN_TXID_LEN], int *has_fpr);

/*
 * Build the success response to `txid` for a request from `from`
 * (AF_INET or AF_INET6), at most `limit` bytes (pass the request's length:
 * no amplification).  FINGERPRINT is added if `with_fpr` and it fits.
 * 0 and *len, or PN_E_NOSPACE (the answer would exceed limit: drop the
 * request), PN_E_INVAL (address family).
 */
int pn_stun_build_response(const uint8_t txid[PN_STUN_TXID_LEN], const struct sockaddr *from,
			   int with_fpr, uint8_t *out, size_t limit, size_t *len);

/* A Binding request padded to PN_STUN_REQUEST_LEN bytes, with FINGERPRINT. */
void pn_stun_build_request(const uint8_t txid[PN_STUN_TXID_LEN], uint8_t out[PN_STUN_REQUEST_LEN]);

/*
 * A Binding request padded to `len` bytes (a multiple of 4, from
 * PN_STUN_REQUEST_LEN to PN_STUN_MAX_MESSAGE), without FINGERPRINT: a
 * path-MTU probe whose answer tells that `len` bytes of UDP payload came
 * through.  0 or PN_E_INVAL (bad len).
 */
int pn_stun_build_probe(const uint8_t txid[PN_STUN_TXID_LEN], uint8_t *out, size_t len);

/*
 * Parse a Binding success response to our request `txid`: the mapped
 * address (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS) into *mapped.
 * 0, PN_E_MALFORMED, PN_E_UNSUPPORTED (not a Binding success response),
 * PN_E_INVAL (transaction id mismatch), PN_E_TRUNCATED (no address).
 */
int pn_stun_parse_response(const uint8_t *p, size_t n, const uint8_t txid[PN_STUN_TXID_LEN],
			   struct sockaddr_storage *mapped);
#endif
