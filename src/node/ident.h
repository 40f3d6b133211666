#ifndef PN_NODE_IDENT_H
#define PN_NODE_IDENT_H
/*
 * A component's identity, from its state directory (ctlapi/ctlapi.h lists
 * the files) or from separate files: the pinned CA, the private key and
 * the current credential, checked to certify that key.
 */
#include <stdint.h>

#include "trust/cred.h"
#include "trust/key.h"

#define PN_NODE_PATH_MAX 1024

struct pn_node_ident {
	enum pn_cred_type type;
	char ca_path[PN_NODE_PATH_MAX], cert_path[PN_NODE_PATH_MAX], key_path[PN_NODE_PATH_MAX];
	struct pn_anchor *anchor;
	struct pn_key *key;
	char *ca_pem, *cert_pem, *key_pem; /* key_pem is wiped when freed */
	uint8_t key_fpr[PN_FPR_LEN];
	/* Of cert_pem when it verified at load (ci_valid), else zero: an
	 * expired credential still loads; the role decides what to do. */
	struct pn_cred_info ci;
	int ci_valid;
	int verify_err; /* why it did not verify (0 if it did) */
	/* Our holder id: from the credential, or (expired credential) set by
	 * the role from controller.json; a renewal must be for this id. */
	uint8_t self_id[PN_ID_LEN];
	int id_known;
};

/*
 * Load ca, cert and key (each may be NULL: then <state_dir>/ca.crt,
 * cert.pem, key.pem; state_dir may be NULL if all three are given).
 * 0; or the error with *failed naming the file: -errno or PN_E_TOOBIG
 * (cannot read), trust errors (CA or key unusable), PN_E_WRONG_HOLDER (a
 * valid credential that certifies another key; *failed is the cert).
 * On error what was loaded is freed; the paths stay in *id.
 */
int pn_node_ident_load(struct pn_node_ident *id, enum pn_cred_type type, const char *state_dir,
		       const char *ca, const char *cert, const char *key, uint64_t now,
		       const char **failed);
void pn_node_ident_free(struct pn_node_ident *id);

/*
 * May cert_pem replace the credential in use?  0 with *ci when it is a
 * valid credential of our type for our own id and key, newer (a later
 * not_after) than the one in use; PN_E_WRONG_HOLDER (another id or key),
 * PN_E_NODE_NOT_NEWER, or the verification error.
 */
int pn_node_ident_check_new(const struct pn_node_ident *id, const char *cert_pem, uint64_t now,
			    struct pn_cred_info *ci);

void pn_node_ident_set_id(struct pn_node_ident *id, const uint8_t self_id[PN_ID_LEN]);

/* Take cert_pem (heap, ownership passes) checked by pn_node_ident_check_new. */
void pn_node_ident_adopt(struct pn_node_ident *id, char *cert_pem, const struct pn_cred_info *ci);
#endif
