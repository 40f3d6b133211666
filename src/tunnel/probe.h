#ifndef PN_TUNNEL_PROBE_H
#define PN_TUNNEL_PROBE_H
/*
 * Keyed probes: the packets of hole punching and of a direct path's
 * liveness, sent on the direct UDP socket beside QUIC.
 *
 *   magic "\0PNp" (4) | u8 type (1 probe, 2 answer) | u8 0 | u16 0 |
 *   u64 token | u64 txid | mac (16)                       = 40 bytes
 *   mac = HMAC-SHA256(key, "pn-p2p-probe" || bytes 0..24)[0..16)
 *
 * token and key are the RECEIVER's, from its candidate message (sent
 * inside the authenticated tunnel): a receiver finds the tunnel by the
 * token and accepts the packet only if the MAC verifies under its own
 * key, so only its tunnel peer can make one.  A probe is answered with
 * an answer of exactly the same size (never an amplifier), to the
 * probe's source; a packet that fails the check gets nothing.
 *
 * A probe or its answer never moves a tunnel: it only tells the client
 * which address to try.  The move is a QUIC migration, validated by
 * QUIC's own PATH_CHALLENGE/RESPONSE (authenticated packets): a replayed
 * or spoofed probe can at most make the client try a path that then
 * fails validation.
 *
 * The first byte (0x00) and the magic keep probes apart from QUIC (fixed
 * bit 0x40 set) and from STUN (magic cookie at bytes 4..7).
 */
#include <stddef.h>
#include <stdint.h>

#define PN_PROBE_LEN	 40
#define PN_PROBE_KEY_LEN 16
#define PN_PROBE_MAC_LEN 16

enum pn_probe_type {
	PN_PROBE_REQ = 1,
	PN_PROBE_ANS = 2,
};

/* Does p look like a probe (length and magic)?  Cheap: for the demux. */
int pn_probe_is(const uint8_t *p, size_t n);

void pn_probe_build(uint8_t out[PN_PROBE_LEN], int type, uint64_t token, uint64_t txid,
		    const uint8_t key[PN_PROBE_KEY_LEN]);

/* Layout only: 0 with type, token and txid, or PN_E_MALFORMED. */
int pn_probe_parse(const uint8_t *p, size_t n, int *type, uint64_t *token, uint64_t *txid);

/* MAC check under `key` (constant time): 0 or PN_E_SIGNATURE. */
int pn_probe_verify(const uint8_t *p, size_t n, const uint8_t key[PN_PROBE_KEY_LEN]);
#endif
