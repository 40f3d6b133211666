#ifndef PN_RELAY_AUTH_H
#define PN_RELAY_AUTH_H
/*
 * The relay's one authorization decision: may this client open a session
 * to this connector?  Uses the trust library only (no I/O).
 */
#include <stddef.h>
#include <stdint.h>

#include "relay/wire.h"
#include "trust/acl.h"
#include "trust/cred.h"

/*
 * `client` is the verified credential of the TLS peer asking; `acl` the
 * client access list it presented.  Allowed only if: the client's
 * credential is still valid at now_s, the list verifies under the pinned
 * CA (signature, format, not expired), is a client list bound to exactly
 * this client's id and key, and names connector_id for some remote
 * network.  0, or: PN_E_EXPIRED, PN_E_WRONG_TYPE, PN_E_WRONG_HOLDER,
 * PN_E_RELAY_NOT_AUTHORIZED, and every error of pn_acl_verify.
 */
int pn_relay_auth_open(const struct pn_anchor *a, const struct pn_cred_info *client,
		       const uint8_t connector_id[PN_RELAY_ID_LEN], const uint8_t *acl,
		       size_t acl_len, uint64_t now_s);

/*
 * RENEW: may a connection whose peer holds `current` (the credential of
 * its TLS handshake, or of its last accepted RENEW) go on with `cert`
 * (DER or PEM)?  Only the same holder's renewed credential: it verifies
 * under the pinned CA at now_s, is of the same type, carries the same id,
 * and certifies the same key (the one the TLS handshake proved; a key
 * change needs a new handshake).  0 and *out, or: every error of
 * pn_cred_verify (PN_E_UNTRUSTED, PN_E_EXPIRED, PN_E_WRONG_TYPE, ...),
 * PN_E_WRONG_ID, PN_E_WRONG_HOLDER.
 */
int pn_relay_auth_renew(const struct pn_anchor *a, const struct pn_cred_info *current,
			const uint8_t *cert, size_t len, uint64_t now_s, struct pn_cred_info *out);
#endif
