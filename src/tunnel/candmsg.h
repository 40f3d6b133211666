#ifndef PN_TUNNEL_CANDMSG_H
#define PN_TUNNEL_CANDMSG_H
/*
 * The candidate message (control type PN_CTL_CANDIDATES, both directions,
 * on the tunnel's authenticated control stream; re-sent whenever a side's
 * candidates change: interface change, new mapping, roaming client).
 *
 *   body  u8 version (1) | u8 nat kind | u8 flags (0) | u8 count (<= 16) |
 *         u32 generation | u64 token | 16 probe key |
 *         count × (u8 type (1 host, 2 srflx) | u8 family (4, 6) |
 *                  4 or 16 address bytes | u16 port)
 *
 * token and key are the SENDER's: probes aimed at the sender carry its
 * token (so it finds the tunnel) and a MAC under its key (tunnel/probe.h).
 * A newer generation replaces the older candidates.  The decoder checks
 * the layout only; which addresses are used is cand.h's filter.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "tunnel/p2p.h"
#include "tunnel/probe.h"

#define PN_CANDMSG_VERSION 1
#define PN_CANDMSG_FIXED   32 /* version..key */
#define PN_CANDMSG_MAX	   (PN_CANDMSG_FIXED + PN_P2P_MAX_CANDS * 20)

struct pn_candmsg {
	uint8_t nat; /* enum pn_nat_kind */
	uint32_t gen;
	uint64_t token;
	uint8_t key[PN_PROBE_KEY_LEN];
	size_t n;
	struct pn_cand c[PN_P2P_MAX_CANDS];
};

/* 0, PN_E_INVAL (count, type or family out of range), or a pn_buf error. */
int pn_candmsg_encode(struct pn_buf *b, const struct pn_candmsg *m);
/* The whole body: 0, PN_E_UNSUPPORTED (version), PN_E_MALFORMED (layout,
 * count, type, family, trailing bytes), PN_E_TRUNCATED. */
int pn_candmsg_decode(const uint8_t *p, size_t n, struct pn_candmsg *m);
#endif
