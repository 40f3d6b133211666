#ifndef PN_CONTROLLER_APICERT_H
#define PN_CONTROLLER_APICERT_H
#include <stdint.h>

#include <gnutls/x509.h>

#include "trust/ca.h"
#include "trust/key.h"

/*
 * Sign a TLS server certificate for `key` with the network CA: CN =
 * names[0], subjectAltName = every name (DNS names and IPv4/IPv6
 * literals), serverAuth, valid [now - 60 s, now + lifetime_s].
 * *out_pem heap string (free()).  0, PN_E_INVAL, PN_E_CRYPTO, -ENOMEM.
 */
int pn_apicert_issue(const struct pn_ca *ca, const struct pn_key *key, const char *const *names,
		     unsigned nnames, uint64_t now, uint64_t lifetime_s, char **out_pem);
/* Append one subjectAltName: an IPv4/IPv6 literal as an IP address, any
 * other name as a DNS name.  GnuTLS's return (negative on error). */
int pn_apicert_add_san(gnutls_x509_crt_t crt, const char *name);
#endif
