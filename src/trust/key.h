#ifndef PN_TRUST_KEY_H
#define PN_TRUST_KEY_H
/*
 * pn_key: a holder's Ed25519 private key (device, connector, relay, or the
 * network CA).  The private half never leaves its owner: other parties only
 * ever see a CSR or a certificate made from it.
 *
 * Keys are opaque heap objects (pn_key_generate/pn_key_load_* -> pn_key_free).
 * All crypto is GnuTLS (nettle underneath); nothing here is hand-written.
 *
 * Fingerprints are SHA-256 over the DER SubjectPublicKeyInfo (the same hash
 * kubeadm uses for its CA discovery pin), 32 bytes; hex is lowercase.
 */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/abstract.h>

#define PN_FPR_LEN     32   /* SHA-256 of the SubjectPublicKeyInfo DER */
#define PN_FPR_HEX_LEN 64   /* lowercase hex, without the NUL */
#define PN_SIG_LEN     64   /* Ed25519 signature */
#define PN_KEY_PEM_MAX 4096 /* refuse larger key files: an Ed25519 PEM is ~120 bytes */

struct pn_key;

/* New random Ed25519 key.  0, -ENOMEM or PN_E_CRYPTO. */
int pn_key_generate(struct pn_key **out);

/*
 * Load a PEM private key (PKCS#8 "PRIVATE KEY", unencrypted, Ed25519 only).
 * _mem: from memory; _file: from a path (refuses files > PN_KEY_PEM_MAX).
 * 0, -errno (file), PN_E_MALFORMED (not a PEM key), PN_E_UNSUPPORTED (not
 * Ed25519), -ENOMEM.
 */
int pn_key_load_pem_mem(const void *pem, size_t len, struct pn_key **out);
int pn_key_load_pem_file(const char *path, struct pn_key **out);

/*
 * Export as PKCS#8 PEM.  *out is a NUL-terminated heap string the caller
 * frees with pn_key_pem_free (wipes it).  0, -ENOMEM, PN_E_CRYPTO.
 */
int pn_key_export_pem(const struct pn_key *k, char **out, size_t *outlen);
void pn_key_pem_free(char *pem, size_t len);

/*
 * Write the key as PEM to `path` with mode 0600: written to a temporary file
 * in the same directory (O_EXCL, 0600), fsync'd, then renamed over `path`,
 * so a crash never leaves a partial or world-readable key.  0 or -errno /
 * PN_E_CRYPTO.
 */
int pn_key_save_pem_file(const struct pn_key *k, const char *path);

/* Wipes and frees.  NULL-safe. */
void pn_key_free(struct pn_key *k);

/* SHA-256 of this key's SubjectPublicKeyInfo DER.  0 or PN_E_CRYPTO. */
int pn_key_fingerprint(const struct pn_key *k, uint8_t out[PN_FPR_LEN]);

/*
 * A PKCS#10 CSR (PEM) for this key, self-signed (proof of possession).
 * `cn` is informational (the CA ignores the subject and writes its own);
 * may be NULL.  *out is a NUL-terminated heap string, free() it.
 * 0, -ENOMEM, PN_E_CRYPTO.
 */
int pn_key_csr_pem(const struct pn_key *k, const char *cn, char **out, size_t *outlen);

/* Ed25519 signature over data.  0 or PN_E_CRYPTO. */
int pn_key_sign(const struct pn_key *k, const void *data, size_t len, uint8_t sig[PN_SIG_LEN]);

/*
 * The underlying GnuTLS private key, for TLS/QUIC credentials
 * (gnutls_certificate_set_key).  Owned by `k`: valid until pn_key_free, do
 * not deinit it.  Use pn_cred_tls_credentials() in cred.h for the common case.
 */
gnutls_privkey_t pn_key_gnutls(const struct pn_key *k);

/* Lowercase hex of a fingerprint; out must hold PN_FPR_HEX_LEN + 1 bytes. */
void pn_fpr_hex(const uint8_t fpr[PN_FPR_LEN], char out[PN_FPR_HEX_LEN + 1]);
/* Parse 64 hex digits (either case, nothing else).  0 or PN_E_MALFORMED. */
int pn_fpr_parse(const char *hex, uint8_t out[PN_FPR_LEN]);
#endif
