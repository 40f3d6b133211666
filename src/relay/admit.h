#ifndef PN_RELAY_ADMIT_H
#define PN_RELAY_ADMIT_H
/*
 * Admission caps of the relay's stream listener (sans-I/O): how many
 * connections may sit unauthenticated (globally and per source address),
 * which one makes room when the table is full, and how many authenticated
 * peers may be connected.  The server (relay/server.c) embeds one
 * pn_admit_entry per connection and does the closing; nothing here does
 * I/O or logs.
 *
 * Full pending table: the OLDEST unfinished handshake makes room for the
 * newcomer.  A legitimate handshake takes milliseconds, so under a flood it
 * still completes unless the attacker refills the whole table faster than
 * that.  Per-source cap: a source already holding max_per_ip pending
 * connections is refused (IPv4 as v4-mapped addresses).
 */
#include <stdint.h>

#include "relay/idmap.h"

struct pn_admit_ip; /* pending count of one source address */

struct pn_admit_entry {
	struct pn_admit_entry *newer, *older;
	struct pn_admit_ip *ip; /* non-NULL while pending */
};

struct pn_admit {
	uint32_t max_pending, max_per_ip, max_conns;
	uint32_t npending, nconns;
	struct pn_admit_entry *newest, *oldest;
	struct pn_idmap ips;
	uint64_t refused_pending; /* evicted or refused before authentication */
	uint64_t refused_per_ip;  /* of which refused at the per-source cap */
};

/* 0 or -ENOMEM. */
int pn_admit_init(struct pn_admit *a, uint32_t max_pending, uint32_t max_per_ip,
		  uint32_t max_conns);
/* Frees the per-source counters (entries are the caller's). */
void pn_admit_fini(struct pn_admit *a);

/*
 * Before accepting a connection: if the pending table is full, the oldest
 * pending entry, already released, for the caller to close (counted in
 * refused_pending); else NULL.
 */
struct pn_admit_entry *pn_admit_make_room(struct pn_admit *a);

/*
 * Entry e (zeroed) of a new connection from `ip` (16 bytes) becomes
 * pending.  0, PN_E_RELAY_LIMIT (the source's cap; counted), -ENOMEM.
 */
int pn_admit_pending(struct pn_admit *a, struct pn_admit_entry *e, const uint8_t ip[16]);

/* e is no longer pending (authenticated, refused or closed).  Does nothing
 * for an entry that is not pending. */
void pn_admit_release(struct pn_admit *a, struct pn_admit_entry *e);

/* An authenticated peer wants in: 0 (counted until pn_admit_peer_gone) or
 * PN_E_RELAY_LIMIT (max_conns peers are connected). */
int pn_admit_peer(struct pn_admit *a);
void pn_admit_peer_gone(struct pn_admit *a);
#endif
