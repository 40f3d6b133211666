#ifndef PN_CONTROLLER_OIDC_H
#define PN_CONTROLLER_OIDC_H
/*
 * The controller's OpenID Providers: configuration (DATA/oidc.json),
 * discovery, the JWKS cache, calls to the token and device endpoints, and
 * the sealing of refresh tokens at rest.  The sans-I/O token checks are in
 * oidc_jwt.h; the API handlers in oidc_api.c; user records in oidc_user.c.
 *
 * All calls here may block on the network (libcurl, 10 s timeout): they
 * run on the HTTP server's per-connection threads, never inside a store
 * transaction and never on an event loop.
 *
 * DATA/oidc.json (optional; without it OIDC login answers 404):
 *   {"providers": [{"name": "corp", "issuer": "https://idp.example",
 *     "client_id": "postern", "client_secret_file": "/etc/postern/idp.secret",
 *     "scopes": "openid email profile groups offline_access",
 *     "groups_claim": "groups", "admin_group": "postern-admins",
 *     "ca_file": "/path/idp-ca.pem"}],
 *    "jwks_refetch_min_s": 10}
 * DATA/oidc.key: 32 random bytes (0600), made on first start: the key that
 * seals refresh tokens (AES-256-GCM, bound to the identity id).
 */
#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "controller/oidc_jwt.h"

#define PN_OIDC_PROVIDERS_MAX  8
#define PN_OIDC_URL_MAX	       512
#define PN_OIDC_REPLY_MAX      (256 * 1024) /* IdP replies above this are refused */
#define PN_OIDC_HTTP_TIMEOUT_S 10
#define PN_OIDC_FLOW_TTL_S     600  /* a login must finish within 10 min */
#define PN_OIDC_FLOWS_MAX      1000 /* pending logins, all sources */

struct pn_oidc_provider {
	char name[64];
	char issuer[PN_OIDC_URL_MAX];
	char client_id[256];
	char client_secret[512];
	char scopes[256];
	char groups_claim[64];
	char admin_group[64];
	char ca_file[1024]; /* "" = system trust store */

	pthread_mutex_t refresh_lock; /* serialises refresh-token use (renewal) */
	pthread_mutex_t lock;	      /* guards what follows */
	int discovered;
	int64_t discovery_failed; /* unix time of the last failure, 0 if none */
	char auth_ep[PN_OIDC_URL_MAX], token_ep[PN_OIDC_URL_MAX];
	char device_ep[PN_OIDC_URL_MAX], jwks_uri[PN_OIDC_URL_MAX];
	json_t *jwks;
	int64_t jwks_refetched; /* last refetch for an unknown kid (rate limit) */
	unsigned refetch_min_s;
};

struct pn_oidc {
	struct pn_oidc_provider p[PN_OIDC_PROVIDERS_MAX];
	unsigned n;
	uint8_t seal_key[32];
};

/* Load DATA/oidc.json and DATA/oidc.key (made if missing).  *out = NULL and
 * 0 when oidc.json does not exist.  PN_E_CONFIG with a log line on a bad
 * file, -errno. */
int pn_oidc_load(const char *data_dir, struct pn_oidc **out);
void pn_oidc_free(struct pn_oidc *o); /* NULL-safe; wipes secrets */

/* The provider called name, or the only one when name is NULL.  NULL if
 * none matches (or name is NULL and several are configured). */
struct pn_oidc_provider *pn_oidc_find(struct pn_oidc *o, const char *name);

/* Fetch (once) the discovery document; its "issuer" must equal ours.
 * 0 or PN_E_OIDC_IDP. */
int pn_oidc_discover(struct pn_oidc_provider *p);

/*
 * POST an application/x-www-form-urlencoded request to an endpoint of p
 * with client_secret_basic authentication.  params: NULL-terminated
 * key, value pairs (values escaped here).  *status = HTTP status; *reply =
 * the JSON object answered (also for 4xx errors), new ref.
 * 0 or PN_E_OIDC_IDP (unreachable, TLS, oversized or non-JSON reply).
 */
int pn_oidc_post(struct pn_oidc_provider *p, const char *url, const char *const *params,
		 long *status, json_t **reply);

/* Verify an ID token of p (oidc_jwt.h), fetching the JWKS if not cached
 * and refetching it once on an unknown kid (at most once per
 * refetch_min_s).  nonce/subject: NULL when not applicable. */
int pn_oidc_verify(struct pn_oidc_provider *p, const char *id_token, const char *nonce,
		   const char *subject, int64_t now, struct pn_oidc_claims *out);

/* Seal / open a refresh token bound to ad (the identity id): base64 text
 * of nonce || ciphertext || tag.  *out heap (wipe + free). */
int pn_oidc_seal(const struct pn_oidc *o, const char *ad, const char *plain, char **out);
int pn_oidc_unseal(const struct pn_oidc *o, const char *ad, const char *sealed, char **out);
/* oidc_api.c: the IdP's error code from a token endpoint reply if it is a
 * plain token, else "unknown" (it ends up in our replies). */
const char *pn_oidc_idp_error(const json_t *reply);
struct pn_req;
/* oidc_identity.c: GET /v1/identities. */
int pn_oidc_identities(struct pn_req *r);
#endif
