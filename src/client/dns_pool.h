#ifndef PN_CLIENT_DNS_POOL_H
#define PN_CLIENT_DNS_POOL_H
/*
 * Synthetic addresses for protected names (transparent mode), sans I/O.
 *
 * A name gets an index on first use, and keeps it for the life of the
 * pool: its IPv4 address is v4 base + index and its IPv6 address v6 base
 * + index (the same index in both ranges, so the two map back to the same
 * name).  Index 0 (the range's own address) is never handed out.  The
 * pool holds at most `max` names (default PN_POOL_MAX_DEFAULT, and never
 * more than the IPv4 range has hosts): a wildcard resource must not let
 * local programs grow it without bound; a full pool refuses new names
 * (the resolver answers SERVFAIL) and keeps every name it has.
 */
#include <stddef.h>
#include <stdint.h>

#define PN_POOL_V4_DEFAULT  "100.96.0.0/12"
#define PN_POOL_V6_DEFAULT  "fd7a:7073:746e::/48"
#define PN_POOL_MAX_DEFAULT 65536

struct pn_pool;

/* Ranges as "a.b.c.d/p" (p 8..30) and "x::/p" (p 16..112); the v6 range
 * may be NULL (no AAAA).  0, PN_E_CONFIG, -ENOMEM. */
int pn_pool_new(const char *v4, const char *v6, unsigned max, struct pn_pool **out);
void pn_pool_free(struct pn_pool *p); /* NULL-safe */

/* The index for a canonical name (lower case, no trailing dot), made on
 * first use.  1.., PN_E_TOOBIG (pool full), -ENOMEM. */
long pn_pool_get(struct pn_pool *p, const char *name);

/* Addresses of an index (out: 4 / 16 bytes).  0 or PN_E_INVAL. */
int pn_pool_addr4(const struct pn_pool *p, long idx, uint8_t out[4]);
int pn_pool_addr6(const struct pn_pool *p, long idx, uint8_t out[16]);

/* The name an address stands for (family 4 or 6), or NULL: not in a
 * range, or not handed out. */
const char *pn_pool_name(const struct pn_pool *p, int family, const uint8_t *addr);

/* Is the address inside one of the ranges (handed out or not)? */
int pn_pool_contains(const struct pn_pool *p, int family, const uint8_t *addr);

/* The ranges in text form (for nftables, routes, status). */
const char *pn_pool_v4(const struct pn_pool *p);
const char *pn_pool_v6(const struct pn_pool *p); /* "" when none */
size_t pn_pool_count(const struct pn_pool *p);
/* The name of index idx (1..count), or NULL. */
const char *pn_pool_name_at(const struct pn_pool *p, long idx);
#endif
