#ifndef PN_TRUST_ACL_H
#define PN_TRUST_ACL_H
/*
 * Signed access lists.
 *
 * Design.  An access list is a separate CA-signed binary document, not part
 * of the certificate, so policy changes (pushed within a second) need no
 * re-issuance of credentials and certificates stay small.  It is bound to
 * its holder by naming both the holder's random id and the SHA-256
 * fingerprint of the holder's public key (pn_acl_check_holder): a list
 * presented over a TLS/QUIC session whose peer certificate carries another
 * key or id is refused (PN_E_WRONG_HOLDER), so a stolen list is useless
 * without the holder's private key.
 *
 *   client list    = the resources one client device (user) may reach, and
 *                    per remote network the connector ids serving it (the
 *                    client pins these; relays check a session's target is
 *                    named; connectors check they are named).
 *   connector list = the destinations that connector may forward to.
 *
 * Wire format (all integers big-endian, parsed only through core/buf):
 *
 *   offset size
 *   0      4    magic "PNAL"
 *   4      1    format version (PN_ACL_FORMAT_VERSION = 1; others refused)
 *   5      1    kind (1 client, 2 connector)
 *   6      4    signed_len: length of everything before the signature
 *   10     32   signer: SHA-256 fingerprint of the CA key (pin) that signed
 *   42     16   holder id
 *   58     32   holder key fingerprint
 *   90     8    policy version
 *   98     8    issued_at (unix s)
 *   106    8    expires_at (unix s)
 *   114    2    entry count (<= PN_ACL_MAX_ENTRIES), then each entry:
 *                 16 resource id, 16 network id, u8 protocols (bit set:
 *                 1 tcp, 2 udp, 4 icmp), u8 destination kind, then
 *                 for names/wildcards: u8 length (1..253) + canonical name,
 *                 for IPv4: 4 address bytes + u8 prefix (0..32),
 *                 for IPv6: 16 address bytes + u8 prefix (0..128),
 *                 u8 port-range count (<= PN_ACL_MAX_PORT_RANGES; 0 = all
 *                 ports), each range u16 lo, u16 hi (1 <= lo <= hi)
 *          2    network count (<= PN_ACL_MAX_NETWORKS; 0 for connector
 *               lists), each: 16 network id, u8 connector count
 *               (1..PN_ACL_MAX_CONNECTORS), that many 16-byte connector ids
 *   signed_len:
 *          1    signature algorithm (1 = Ed25519)
 *          64   Ed25519 signature by the CA over bytes [0, signed_len)
 *   (end: no trailing bytes)
 *
 * Decoding order: fixed header (magic, version, kind, length layout) ->
 * signer pin -> signature -> body.  Nothing in the body is interpreted
 * before the signature verified; every count and length is still checked
 * against its hard maximum before use, and names/CIDRs must already be in
 * canonical form (one byte string, one meaning).  There is no unsigned
 * variant and no fallback: a document that ends at signed_len is
 * PN_E_UNSIGNED.
 *
 * Versions.  The controller bumps the policy version on every change; a
 * pn_acl_gate remembers, per (kind, holder id), the newest policy state
 * seen and refuses anything older (PN_E_STALE_VERSION).  An EQUAL version
 * is accepted: it is the same policy re-presented (reconnects, several
 * tunnels) or re-signed with a later expiry; the controller never signs
 * two different policies under one version.  "No list for this holder at
 * version V" (the holder is missing from a complete set at V) is state
 * too: after it only lists newer than V pass.
 */
#include <stddef.h>
#include <stdint.h>

#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/dest.h"

#define PN_ACL_MAGIC	       "PNAL"
#define PN_ACL_FORMAT_VERSION  1
#define PN_ACL_SIG_ED25519     1
#define PN_ACL_HEADER_LEN      114	  /* bytes before the entry count */
#define PN_ACL_MAX_ENTRIES     4096	  /* per list */
#define PN_ACL_MAX_PORT_RANGES 16	  /* per entry */
#define PN_ACL_MAX_NETWORKS    256	  /* per client list */
#define PN_ACL_MAX_CONNECTORS  16	  /* per network */
#define PN_ACL_MAX_BYTES       (4u << 20) /* refuse larger documents outright */

enum pn_acl_kind { PN_ACL_CLIENT = 1, PN_ACL_CONNECTOR = 2 };

/* Protocols: a bit set in entries, exactly one bit in queries. */
enum pn_proto { PN_PROTO_TCP = 1, PN_PROTO_UDP = 2, PN_PROTO_ICMP = 4 };
#define PN_PROTO_ALL (PN_PROTO_TCP | PN_PROTO_UDP | PN_PROTO_ICMP)

struct pn_port_range {
	uint16_t lo, hi; /* inclusive, 1 <= lo <= hi */
};

struct pn_acl_entry {
	uint8_t resource_id[PN_ID_LEN];
	uint8_t network_id[PN_ID_LEN]; /* client lists: the remote network */
	uint8_t protos;		       /* PN_PROTO_* bits, non-zero */
	uint8_t nports;		       /* 0: every port (TCP/UDP) */
	struct pn_port_range ports[PN_ACL_MAX_PORT_RANGES];
	struct pn_dest_pattern dest;
};

struct pn_acl_network {
	uint8_t network_id[PN_ID_LEN];
	unsigned nconnectors;
	uint8_t connectors[PN_ACL_MAX_CONNECTORS][PN_ID_LEN];
};

/* A decoded or to-be-signed list.  Own with pn_acl_init / pn_acl_fini. */
struct pn_acl {
	enum pn_acl_kind kind;
	uint8_t holder_id[PN_ID_LEN];
	uint8_t holder_fpr[PN_FPR_LEN];
	uint64_t version;
	uint64_t issued_at, expires_at;
	uint8_t signer_fpr[PN_FPR_LEN]; /* set by pn_acl_sign/pn_acl_verify */
	size_t nentries, cap_entries;
	struct pn_acl_entry *entries;
	size_t nnetworks, cap_networks;
	struct pn_acl_network *networks;
};

/* Empty list of this kind (no allocation). */
void pn_acl_init(struct pn_acl *acl, enum pn_acl_kind kind);
/* Frees entries/networks; NULL-safe; leaves an empty list. */
void pn_acl_fini(struct pn_acl *acl);

/*
 * Append an entry (copied).  Validated now, so a list that builds also
 * signs: protos non-zero and only known bits, canonical destination,
 * port ranges 1 <= lo <= hi, counts within limits.
 * 0, PN_E_INVAL, PN_E_BAD_NAME, PN_E_TOOBIG (limit), -ENOMEM.
 */
int pn_acl_add_entry(struct pn_acl *acl, const struct pn_acl_entry *e);

/*
 * Convenience: parse text and append.  dest: a pattern (dest.h); protos:
 * comma list of "tcp","udp","icmp" (or "all"); ports: comma list of
 * "N" and "LO-HI", or "" / "*" / NULL for every port.
 * Same errors as pn_acl_add_entry.
 */
int pn_acl_add_text(struct pn_acl *acl, const uint8_t resource_id[PN_ID_LEN],
		    const uint8_t network_id[PN_ID_LEN], const char *dest, const char *protos,
		    const char *ports);

/* Client lists: name the connectors serving a remote network (1..16 ids,
 * once per network).  0, PN_E_INVAL (connector list / duplicate network /
 * bad count), PN_E_TOOBIG, -ENOMEM. */
int pn_acl_add_network(struct pn_acl *acl, const uint8_t network_id[PN_ID_LEN],
		       const uint8_t (*connectors)[PN_ID_LEN], unsigned nconnectors);

/*
 * Encode and sign with the CA.  *out: heap bytes (free()), *outlen.
 * Requires expires_at > issued_at.  0, PN_E_INVAL, PN_E_TOOBIG, -ENOMEM,
 * PN_E_CRYPTO.
 */
int pn_acl_sign(const struct pn_ca *ca, const struct pn_acl *acl, uint8_t **out, size_t *outlen);

/*
 * Verify and decode a signed list at time `now`.  On success *out (an
 * initialised-or-zeroed struct; previous contents are freed) holds the
 * list; on failure it is left empty, except that on a time error
 * (PN_E_ACL_NOT_YET_VALID, PN_E_ACL_EXPIRED: the signature verified)
 * out->issued_at and out->expires_at keep the list's times for the
 * refusal log.  Times use the one tolerance of cred.h
 * (PN_TRUST_DEFAULT_SKEW).  Errors:
 *   PN_E_TRUNCATED     shorter than its layout says
 *   PN_E_TOOBIG        larger than PN_ACL_MAX_BYTES / a count over its limit
 *   PN_E_MALFORMED     bad magic / kind / trailing bytes / non-canonical body
 *   PN_E_UNSUPPORTED   unknown format version or signature algorithm
 *   PN_E_UNSIGNED      the document carries no signature
 *   PN_E_UNTRUSTED     signed by a CA other than the pinned one
 *   PN_E_SIGNATURE     signature does not verify (any bit changed)
 *   PN_E_ACL_NOT_YET_VALID  issued_at > now + PN_TRUST_DEFAULT_SKEW
 *   PN_E_ACL_EXPIRED        now >= expires_at + PN_TRUST_DEFAULT_SKEW
 *   PN_E_BAD_NAME      a signed but invalid destination
 *   -ENOMEM
 */
int pn_acl_verify(const struct pn_anchor *a, const void *bytes, size_t len, uint64_t now,
		  struct pn_acl *out);

/*
 * Is this list bound to the holder of this (already verified) credential?
 * Client lists go with client credentials, connector lists with connector
 * credentials (else PN_E_WRONG_TYPE); the holder id and the key
 * fingerprint must both match (else PN_E_WRONG_HOLDER).  0 if bound.
 */
int pn_acl_check_holder(const struct pn_acl *acl, const struct pn_cred_info *holder);

/* Client lists: the network record for network_id, or NULL. */
const struct pn_acl_network *pn_acl_network_find(const struct pn_acl *acl,
						 const uint8_t network_id[PN_ID_LEN]);
/* Does the client list name connector_id as serving network_id?  1 or 0. */
int pn_acl_names_connector(const struct pn_acl *acl, const uint8_t network_id[PN_ID_LEN],
			   const uint8_t connector_id[PN_ID_LEN]);
/* Does the client list name connector_id for any network?  1 or 0.  (The
 * relay's check before it opens a session from this client to that
 * connector: it knows no networks, only the target id.) */
int pn_acl_names_connector_any(const struct pn_acl *acl, const uint8_t connector_id[PN_ID_LEN]);

/*
 * Version gate: per (kind, holder id) the newest policy state seen — "a
 * list at version V" or "no list at version V" — in a table of fixed
 * capacity (no eviction: forgetting a holder would re-open rollback, so a
 * full table fails closed), and per kind the version of the newest
 * complete set, which speaks for every holder it did not hold.
 *
 * A list at version W passes if the newest state for its holder is
 *   a list at V:            W >= V  (equal: the same policy re-presented)
 *   no list at V:           W >  V
 *   nothing recorded:       W >  the newest complete set's version, if any.
 */
struct pn_acl_gate;
/* capacity: holders tracked (1..1<<24).  0, PN_E_INVAL, -ENOMEM. */
int pn_acl_gate_new(size_t capacity, struct pn_acl_gate **out);
void pn_acl_gate_free(struct pn_acl_gate *g); /* NULL-safe */
/*
 * Accept `acl` if it passes (above), and record it as its holder's newest
 * state.  0, PN_E_STALE_VERSION (older; nothing recorded), PN_E_NOSPACE (a
 * new holder and the table is full).
 */
int pn_acl_gate_check(struct pn_acl_gate *g, const struct pn_acl *acl);
/*
 * A complete set of `kind` lists at policy `version` was received and its
 * verified lists recorded with pn_acl_gate_check; `present` are their n
 * holder ids.  Every recorded holder of `kind` not among them now has "no
 * list at `version`" (unless it holds newer state), and so has every
 * holder not recorded at all.  Sets older than the newest one only mark
 * holders whose state is older still.
 */
void pn_acl_gate_complete(struct pn_acl_gate *g, enum pn_acl_kind kind, uint64_t version,
			  const uint8_t (*present)[PN_ID_LEN], size_t n);
/* Version of the holder's newest state (a list or "no list"; for an
 * unrecorded holder the newest complete set's), 0 if none. */
uint64_t pn_acl_gate_highest(const struct pn_acl_gate *g, enum pn_acl_kind kind,
			     const uint8_t holder_id[PN_ID_LEN]);
#endif
