#ifndef PN_TRUST_EXT_H
#define PN_TRUST_EXT_H
/*
 * The Postern certificate extension (OID PN_CRED_EXT_OID, cred.h).
 *
 * extnValue is a DER OCTET STRING (encoded/decoded by GnuTLS) whose content
 * is this versioned binary record, parsed only through core/buf:
 *
 *   u8   version (PN_CRED_EXT_VERSION = 1; others refused)
 *   u8   holder type (1 client, 2 connector, 3 relay)
 *   16   holder id (random)
 *   u64  policy version at issuance
 *   u8 len + bytes  display name (1..PN_NAME_MAX)
 *   u8 len + bytes  user (0..PN_USER_MAX; must be empty unless client)
 *   u8   group count (0..PN_GROUPS_MAX; must be 0 unless client)
 *   per group: u8 len + bytes (1..PN_GROUP_MAX)
 *   (end: no trailing bytes)
 *
 * Strings may hold any byte except NUL and ASCII control characters
 * (0x00-0x1f, 0x7f), so they can be logged without escaping tricks.
 *
 * Non-critical on purpose: generic TLS stacks (GnuTLS, browsers, curl)
 * would refuse a certificate with an unknown critical extension, while
 * every Postern verifier refuses a certificate WITHOUT this extension
 * anyway, so criticality adds nothing for us and breaks interop.
 */
#include <stddef.h>
#include <stdint.h>

#include "trust/cred.h"

#define PN_CRED_EXT_VERSION 1
/* Upper bound of an encoding: 2+16+8 + (1+64) + (1+128) + 1 + 32*(1+64). */
#define PN_CRED_EXT_MAX 2301

/* Validate info's type/id/name/user/groups against the limits. 0 or PN_E_INVAL. */
int pn_cred_ext_check(const struct pn_cred_info *info);

/* Encode info's type, id, policy_version, name, user, groups.
 * 0, PN_E_INVAL (limits/charset), PN_E_NOSPACE (cap too small). */
int pn_cred_ext_encode(const struct pn_cred_info *info, uint8_t *out, size_t cap, size_t *outlen);

/*
 * Decode the record (the OCTET STRING's content) into info's type, id,
 * policy_version, name, user, ngroups, groups (other fields untouched).
 * 0, PN_E_TRUNCATED, PN_E_TOOBIG, PN_E_MALFORMED, PN_E_UNSUPPORTED (version).
 */
int pn_cred_ext_decode(const uint8_t *p, size_t len, struct pn_cred_info *info);

/* The same from the DER extnValue (OCTET STRING wrapper included).
 * Errors as above, PN_E_MALFORMED for bad DER, -ENOMEM. */
int pn_cred_ext_decode_der(const uint8_t *der, size_t len, struct pn_cred_info *info);
#endif
