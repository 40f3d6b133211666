/*
 * Per-handshake choice between the API chain (Ed25519, for components)
 * and the console chain (ECDSA/RSA, for browsers); see tlscert.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <gnutls/gnutls.h>

#include "controller/tlscert.h"
#include "core/err.h"
#include "core/log.h"

#define CHAIN_MAX     8
#define LISTENERS_MAX 16 /* controllers in one process (tests) */

struct chain {
	gnutls_pcert_st pcert[CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
};

struct pn_tlscert {
	struct chain api, console;
	uint16_t port;
};

/* The callback's only way back to its listener (see tlscert.h). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pn_tlscert *reg[LISTENERS_MAX];

static void chain_fini(struct chain *c)
{
	for (unsigned i = 0; i < c->n; i++)
		gnutls_pcert_deinit(&c->pcert[i]);
	c->n = 0;
	gnutls_privkey_deinit(c->key);
	c->key = NULL;
}

static int chain_load(struct chain *c, const char *key_pem, const char *cert_pem)
{
	gnutls_datum_t k = {(unsigned char *)(uintptr_t)key_pem, (unsigned)strlen(key_pem)};
	gnutls_datum_t cd = {(unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem)};
	unsigned n = CHAIN_MAX;

	if (gnutls_privkey_init(&c->key) < 0)
		return -ENOMEM;
	if (gnutls_privkey_import_x509_raw(c->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
	    gnutls_pcert_list_import_x509_raw(c->pcert, &n, &cd, GNUTLS_X509_FMT_PEM, 0) < 0 ||
	    !n) {
		gnutls_privkey_deinit(c->key);
		c->key = NULL;
		return PN_E_CRYPTO;
	}
	c->n = n;
	return 0;
}

int pn_tlscert_new(const char *api_key_pem, const char *api_cert_pem, const char *console_key_pem,
		   const char *console_cert_pem, struct pn_tlscert **out)
{
	struct pn_tlscert *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	if ((rc = chain_load(&t->api, api_key_pem, api_cert_pem)) ||
	    (rc = chain_load(&t->console, console_key_pem, console_cert_pem))) {
		pn_tlscert_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int pn_tlscert_register(struct pn_tlscert *t, uint16_t port)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < LISTENERS_MAX; i++)
		if (!reg[i]) {
			t->port = port;
			reg[i] = t;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

void pn_tlscert_free(struct pn_tlscert *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < LISTENERS_MAX; i++)
		if (reg[i] == t)
			reg[i] = NULL;
	pthread_mutex_unlock(&reg_lock);
	chain_fini(&t->api);
	chain_fini(&t->console);
	free(t);
}

static uint16_t local_port(gnutls_session_t s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = gnutls_transport_get_int(s);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int offers_ed25519(gnutls_session_t s)
{
	gnutls_sign_algorithm_t alg;

	for (unsigned i = 0; i < 64; i++) {
		if (gnutls_sign_algorithm_get_requested(s, i, &alg) < 0)
			return 0;
		if (alg == GNUTLS_SIGN_EDDSA_ED25519)
			return 1;
	}
	return 0;
}

int pn_tlscert_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
			const gnutls_pk_algorithm_t *pk_algos, int npk, gnutls_pcert_st **pcert,
			unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	uint16_t port = local_port(s);
	struct chain *c = NULL;

	(void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)npk;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < LISTENERS_MAX && port; i++)
		if (reg[i] && reg[i]->port == port) {
			c = offers_ed25519(s) ? &reg[i]->api : &reg[i]->console;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	if (!c)
		return -1; /* handshake fails: no chain for this listener yet */
	/* the chain lives until pn_tlscert_free, after the listener stopped */
	*pcert = c->pcert;
	*pcert_length = c->n;
	*pkey = c->key;
	return 0;
}
