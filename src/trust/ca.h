#ifndef PN_TRUST_CA_H
#define PN_TRUST_CA_H
/*
 * pn_ca: the network's certificate authority (controller side only).
 *
 * One Ed25519 key pair per network, created once at controller init.  Its
 * self-signed certificate (CA:true, keyCertSign) is what every component
 * pins; components identify it by its fingerprint, SHA-256 of the CA's
 * SubjectPublicKeyInfo DER (see key.h), e.g. inside an enrollment token.
 *
 * On disk (pn_ca_init_dir / pn_ca_load): <dir>/ca.key (PKCS#8 PEM, mode
 * 0600) and <dir>/ca.crt (PEM, 0644).  The CA signs credentials (cred.h)
 * and access lists (acl.h).
 *
 * Thread-safe: one pn_ca may be shared by threads; signing operations
 * (pn_ca_sign, pn_cred_issue, pn_acl_sign) are serialised inside.  Code
 * that uses pn_ca_crt/pn_ca_privkey directly must hold pn_ca_lock.
 */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/x509.h>

#include "trust/key.h"

#define PN_CA_LIFETIME_S   (20ull * 365 * 24 * 3600) /* the CA cert itself */
#define PN_CA_CERT_PEM_MAX 8192			     /* refuse larger ca.crt files */

struct pn_ca;

/*
 * Create a new CA in `dir` (which must exist): generates the key, writes
 * ca.key (0600, atomic) and ca.crt.  Refuses with -EEXIST if ca.key or
 * ca.crt already exists (never overwrites a network's CA).  `now` is unix
 * seconds (validity starts there).  0, -errno, PN_E_CRYPTO.
 */
int pn_ca_init_dir(const char *dir, uint64_t now);

/*
 * Load the CA from `dir`.  Checks that ca.crt is a CA certificate for
 * exactly the key in ca.key, and that ca.key is not group/world readable
 * (PN_E_CONFIG otherwise).  0, -errno, PN_E_MALFORMED, PN_E_CONFIG.
 */
int pn_ca_load(const char *dir, struct pn_ca **out);

/*
 * The public half only: ca.crt, without reading ca.key (the controller's
 * front process, whose signatures go through controller/signer.h).
 * Fingerprint and PEM work; every signing function fails with
 * PN_E_CRYPTO and pn_ca_privkey returns NULL.  0, -errno, PN_E_MALFORMED,
 * PN_E_CONFIG (not a CA certificate).
 */
int pn_ca_load_public(const char *dir, struct pn_ca **out);

/* A fresh in-memory CA (tests, benchmarks).  0, -ENOMEM, PN_E_CRYPTO. */
int pn_ca_new(uint64_t now, struct pn_ca **out);

/* NULL-safe; wipes the key. */
void pn_ca_free(struct pn_ca *ca);

/* The CA certificate as a NUL-terminated PEM string owned by ca. */
const char *pn_ca_cert_pem(const struct pn_ca *ca);
/* SHA-256 of the CA SubjectPublicKeyInfo (the pin), raw and hex. */
void pn_ca_fingerprint(const struct pn_ca *ca, uint8_t out[PN_FPR_LEN]);
const char *pn_ca_fingerprint_hex(const struct pn_ca *ca);

/* Ed25519 signature by the CA key (used by acl.c).  0 or PN_E_CRYPTO. */
int pn_ca_sign(const struct pn_ca *ca, const void *data, size_t len, uint8_t sig[PN_SIG_LEN]);

/* The parsed CA certificate and its signing key, for code that builds
 * certificates itself (e.g. the controller's HTTPS server certificate):
 * hold pn_ca_lock while using them if other threads may sign. */
gnutls_x509_crt_t pn_ca_crt(const struct pn_ca *ca);
gnutls_privkey_t pn_ca_privkey(const struct pn_ca *ca);
void pn_ca_lock(const struct pn_ca *ca);
void pn_ca_unlock(const struct pn_ca *ca);
#endif
