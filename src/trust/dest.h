#ifndef PN_TRUST_DEST_H
#define PN_TRUST_DEST_H
/*
 * Destinations: what a flow asks for (pn_dest) and what an access-list entry
 * grants (pn_dest_pattern), with one canonical form each so that one
 * destination can never match a rule in two ways.
 *
 * Names (normalisation, applied to queries and patterns alike):
 *   - ASCII lowercase; exactly one trailing dot is stripped ("a.b." == "a.b");
 *   - labels are 1..63 bytes of [a-z0-9-_]; the whole name <= 253 bytes;
 *     empty labels ("a..b", ".a", "a.."), any other byte (space, '%', '*',
 *     UTF-8/Unicode) are refused with PN_E_BAD_NAME.  IDNs must be given in
 *     A-label form ("xn--..."): we never apply IDNA mapping, so a U-label
 *     and its A-label cannot both be matched;
 *   - a name whose last label looks numeric (all digits, or "0x" followed
 *     by hex digits: "10.1", "1.2.3.4.", "a.0x1f") is refused: inet_aton-
 *     style resolvers read it as an address, so it could reach an address
 *     no address rule granted.
 * Addresses: a string that inet_pton() accepts as IPv4 or IPv6 is an
 *   address, never a name.  IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as
 *   the IPv4 address a.b.c.d (the kernel connects to that address), so a v4
 *   rule cannot be bypassed, nor a v4 resource reached outside its rule,
 *   through the mapped form.
 * Patterns:
 *   "db.corp.example"    exact name (after normalisation)
 *   "*.corp.example"     exactly ONE label before the suffix: a.corp.example,
 *                        not corp.example, not a.b.corp.example
 *   "**.corp.example"    ONE OR MORE labels: a.corp.example, a.b.corp.example,
 *                        not corp.example
 *   "10.0.0.0/8", "10.1.2.3", "fd00::/8", "2001:db8::1"  address or CIDR
 *                        (a bare address is /32 or /128; host bits below
 *                        the prefix must be zero)
 *   The wildcard must be the whole first label; "a*.x", "*a.x", "x.*.y" are
 *   refused.  A wildcard suffix needs at least one label.
 */
#include <stddef.h>
#include <stdint.h>

#define PN_DNS_NAME_MAX	 253
#define PN_DNS_LABEL_MAX 63
#define PN_DEST_TEXT_MAX 300 /* longest accepted input string, any kind */

enum pn_dest_kind {
	PN_DEST_NAME = 1,  /* exact name */
	PN_DEST_WILD1 = 2, /* "*.suffix": exactly one label */
	PN_DEST_WILDN = 3, /* "**.suffix": one or more labels */
	PN_DEST_IP4 = 4,   /* IPv4 address/prefix */
	PN_DEST_IP6 = 6,   /* IPv6 address/prefix */
};

/* A requested destination: a normalised name, or an address. */
struct pn_dest {
	uint8_t kind;	  /* PN_DEST_NAME, PN_DEST_IP4 or PN_DEST_IP6 */
	uint8_t name_len; /* NAME: strlen(name) */
	uint8_t addr[16]; /* IP4: first 4 bytes; IP6: 16 */
	char name[PN_DNS_NAME_MAX + 1];
};

/* What an access-list entry grants.  For wildcards `name` is the suffix
 * without "*." / "**.". */
struct pn_dest_pattern {
	uint8_t kind;	/* any pn_dest_kind */
	uint8_t prefix; /* IP4: 0..32, IP6: 0..128; 0 for names */
	uint8_t name_len;
	uint8_t addr[16];
	char name[PN_DNS_NAME_MAX + 1];
};

/*
 * Parse and normalise a requested destination (`len` bytes, need not be
 * NUL-terminated; at most PN_DEST_TEXT_MAX).  0 or PN_E_BAD_NAME.
 */
int pn_dest_parse(const char *s, size_t len, struct pn_dest *out);

/* Parse a pattern (see above).  0 or PN_E_BAD_NAME. */
int pn_dest_pattern_parse(const char *s, struct pn_dest_pattern *out);

/*
 * Is `p` in canonical form (what pn_dest_pattern_parse would produce)?
 * Decoders use this to refuse non-canonical signed content.  0 or PN_E_BAD_NAME.
 */
int pn_dest_pattern_check(const struct pn_dest_pattern *p);

/* Does the destination fall under the pattern?  1 or 0. */
int pn_dest_match(const struct pn_dest_pattern *p, const struct pn_dest *d);

/* Text form ("**.corp.example", "10.0.0.0/8", "db.x") into out[outsz];
 * 0 or PN_E_NOSPACE. */
int pn_dest_pattern_format(const struct pn_dest_pattern *p, char *out, size_t outsz);
/* Text form of a destination (name or address). 0 or PN_E_NOSPACE. */
int pn_dest_format(const struct pn_dest *d, char *out, size_t outsz);
#endif
