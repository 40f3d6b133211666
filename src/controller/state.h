#ifndef PN_CONTROLLER_STATE_H
#define PN_CONTROLLER_STATE_H
/* A component's view of the policy (state.c). */
#include <stdint.h>

#include <jansson.h>

#include "controller/api.h"

/*
 * Sign the current access list for a holder ("connector", "service_account"
 * or "user"), bound to the credential (cred_id, key_fpr), at `version`.
 * Must run inside a store transaction.  *out heap bytes (free()).
 * 0, PN_E_INVAL (relay), store errors, trust errors.
 */
int pn_state_acl(struct pn_ctl *ctl, const char *holder_kind, const char *holder_id,
		 const uint8_t cred_id[PN_ID_LEN], const uint8_t key_fpr[PN_FPR_LEN],
		 uint64_t version, uint8_t **out, size_t *outlen);

/*
 * The full state for one component credential, read in one transaction:
 * {"version", "acl" (base64; not for relays), "client_acls" (connectors:
 * [{"client_id","acl"}]), "revoked" ([{"serial","cred_id","type",
 * "holder_id","not_after"}]), "relays" ([{"id","name","udp","tls","ws"}])}.
 * cred_id_hex / key_fpr_hex: the credential the list is bound to.
 */
int pn_state_build(struct pn_ctl *ctl, const char *holder_kind, const char *holder_id,
		   const char *cred_id_hex, const char *key_fpr_hex, json_t **out);

/* Base64 (standard alphabet, padded) via nettle; heap string or NULL. */
char *pn_b64_encode(const uint8_t *data, size_t len);
#endif
