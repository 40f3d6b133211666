#ifndef PN_CONTROLLER_TLSCERT_H
#define PN_CONTROLLER_TLSCERT_H
/*
 * Two certificate chains on one HTTPS listener.  Components verify the
 * API's Ed25519 certificate against the pinned network CA; browsers
 * (Chromium, Firefox) do not support Ed25519 in TLS at all, so the admin
 * console needs an ECDSA chain (DATA/console.crt, docs/console.md).  The
 * chain is chosen per handshake from the client's signature_algorithms:
 * a client that offers Ed25519 gets the API chain, any other the console
 * chain.
 *
 * libmicrohttpd's certificate callback carries no user pointer, so a
 * listener registers its chains under its port (pn_tlscert_register) and
 * the callback finds them through the accepted socket's local port.
 */
#include <stdint.h>

#include <gnutls/abstract.h>

struct pn_tlscert;

/* Load both chains (PEM; chains may hold intermediates).  0, -ENOMEM,
 * PN_E_CRYPTO (a key or certificate did not parse). */
int pn_tlscert_new(const char *api_key_pem, const char *api_cert_pem, const char *console_key_pem,
		   const char *console_cert_pem, struct pn_tlscert **out);
void pn_tlscert_free(struct pn_tlscert *t); /* NULL-safe; unregisters */
/* Serve t on the listener bound to port (after the listener started). */
int pn_tlscert_register(struct pn_tlscert *t, uint16_t port);
/* gnutls_certificate_retrieve_function2, for MHD_OPTION_HTTPS_CERT_CALLBACK. */
int pn_tlscert_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
			const gnutls_pk_algorithm_t *pk_algos, int npk, gnutls_pcert_st **pcert,
			unsigned int *pcert_length, gnutls_privkey_t *pkey);
#endif
