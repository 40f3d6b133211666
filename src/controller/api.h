#ifndef PN_CONTROLLER_API_H
#define PN_CONTROLLER_API_H
/*
 * Internal interfaces of the controller's HTTPS API: the request object the
 * HTTP layer (http.c) hands to the router (router.c), the handler groups
 * (api_*.c, enroll.c, push.c) and the shared controller context.
 */
#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "controller/metrics.h"
#include "controller/signer.h"
#include "controller/store.h"
#include "ctlapi/limits.h"
#include "trust/ca.h"
#include "trust/cred.h"

#define PN_API_BODY_MAX PN_CTLAPI_BODY_MAX /* request bodies above this get 413 */
#define PN_API_NAME_MAX 64
#define PN_API_LIST_MAX 1000
#define PN_TOKEN_TTL_DEFAULT 3600 /* enrollment tokens: 1 hour */
#define PN_TOKEN_TTL_MAX 86400
#define PN_CRED_TTL_DEFAULT 3600  /* component credentials: 1 hour */
#define PN_ACL_TTL_DEFAULT 3600
#define PN_REQ_HDR_MAX 8 /* extra response headers per request */

struct pn_push;
struct pn_acl_cache;
struct pn_oidc;
struct pn_tlscert;

/* Everything a request handler may use; owned by the controller. */
struct pn_ctl {
	struct pn_store *store;
	struct pn_ca *ca;         /* public half only (ca.crt): signer holds the key */
	struct pn_signer *signer; /* signer.h: every CA signature goes through it */
	struct pn_anchor *anchor;
	struct pn_push *push;
	struct pn_acl_cache *acl_cache; /* may be NULL: no caching */
	struct pn_oidc *oidc;           /* NULL: no OpenID Provider configured */
	struct pn_tlscert *tls;         /* API + console chains (tlscert.h); NULL: API only */
	struct pn_ctl_stats stats; /* atomics, for the metrics (metrics.h) */
	char url[512]; /* the API's base URL, embedded in tokens */
	uint32_t token_ttl, cred_ttl, acl_ttl, stream_max_s;
};

/* Who is calling (decided by auth.c before the handler runs). */
enum pn_principal {
	PN_P_NONE = 0,
	PN_P_ADMIN,      /* admin API key, role admin */
	PN_P_READONLY,   /* admin API key, role readonly */
	PN_P_SERVICE,    /* service-account API key */
	PN_P_COMPONENT,  /* mutual TLS with a valid, unrevoked credential */
};

/* Access a route requires. */
enum pn_access {
	PN_A_PUBLIC = 0, /* anyone (CA certificate, enrollment by token) */
	PN_A_READ,       /* admin or readonly admin key */
	PN_A_ADMIN,      /* admin key with role admin */
	PN_A_SERVICE,    /* service-account key */
	PN_A_COMPONENT,  /* component credential (mTLS) */
};

struct pn_req {
	struct pn_ctl *ctl;
	void *conn; /* struct MHD_Connection */
	const char *method;
	const char *path;
	const char *seg[8]; /* path segments after /v1/ (pointers into segbuf) */
	unsigned nseg;
	char segbuf[512];
	json_t *body; /* parsed JSON object, or NULL when the request had none */

	enum pn_principal who;
	char actor[96];        /* for the audit log: "admin-key:<id>", ... */
	char principal_id[40]; /* admin key id, service account id, cred id */
	struct pn_cred_info peer; /* valid when who == PN_P_COMPONENT */
	char peer_serial[64];
	char holder_kind[24]; /* component: connector|relay|service_account|user */

	/* Response: either JSON (resp) or raw text (raw, raw_type). */
	unsigned status;
	json_t *resp;
	char *raw;
	const char *raw_type;
	const void *route_ctx; /* set by the router for the handler */
	int stream; /* the handler set up a push stream (push.c) */
	void *stream_ctx;

	/* Console (console_*.c): the caller was identified by the console
	 * session cookie (no Authorization header, no client certificate);
	 * csrf_ok: the request carried that session's CSRF token. */
	int via_cookie, csrf_ok;
	/* Extra response headers the HTTP layer adds to whatever it sends
	 * (Set-Cookie, Content-Security-Policy, ...).  Values are static
	 * strings or point into hdr_buf; nothing to free. */
	const char *hdr_name[PN_REQ_HDR_MAX];
	const char *hdr_value[PN_REQ_HDR_MAX];
	unsigned nhdr;
	char hdr_buf[256];
};

/* Add a response header (value static or inside r->hdr_buf); 0 or -ENOSPC. */
int pn_api_header(struct pn_req *r, const char *name, const char *value);

/* ---- responses (api_util.c) ----
 * A handler, and every helper that may answer for it, returns 0 when it
 * set a success response and PN_E_API_ANSWERED when it set an error
 * response (or another code when it set none): the caller stops and
 * passes the code up, never answering a second time. */
/* Set a JSON error response {"error":{"code":..,"message":..}}; returns
 * PN_E_API_ANSWERED. */
int pn_api_error(struct pn_req *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Set a JSON response (steals body): 0, or PN_E_API_ANSWERED with a 500
 * when body is NULL. */
int pn_api_ok(struct pn_req *r, unsigned status, json_t *body);
/* Map a store error to a response (404/409/503/500); PN_E_API_ANSWERED
 * (passed through untouched: the response is already set). */
int pn_api_store_error(struct pn_req *r, int err);
/* A handler's return once its response is set: 0 for a success response,
 * PN_E_API_ANSWERED for an error response (or none). */
int pn_api_done(const struct pn_req *r);
/* Query-string argument (NULL if absent). */
const char *pn_api_query(struct pn_req *r, const char *key);

/* ---- validation (validate.c) ---- */
/* Check body has only the allowed keys (NULL-terminated list); 400 otherwise. */
int pn_api_only_fields(struct pn_req *r, const char *const *allowed);
/* A required (or optional if !required) string field, 1..max bytes:
 * name 0 printable ASCII, 1 the name charset [A-Za-z0-9._@-], 2 PEM text
 * (printable + CR/LF).  *out borrowed. */
int pn_api_str(struct pn_req *r, const char *field, int required, size_t max, int name,
	       const char **out);
/* Normalise a protocols list ["tcp/5432","udp/53-54","icmp","tcp"] into a
 * canonical JSON array text; 0 or a 400 set (PN_E_API_ANSWERED). */
int pn_api_protocols(struct pn_req *r, const json_t *v, char **out_text);
/* Validate and normalise a resource address (trust dest pattern). */
int pn_api_address(struct pn_req *r, const char *in, char *out, size_t outsz);
/* host:port (host: name, IPv4, [IPv6]) and ws(s):// URLs for relays. */
int pn_api_hostport(struct pn_req *r, const char *field, const char *v);
int pn_api_wsurl(struct pn_req *r, const char *field, const char *v);

/* ---- helpers shared by handlers ---- */
/* Resolve an id or unique name of kind into the row (new ref).  Sets a 404
 * (or 400 for a bad reference) and returns nonzero on failure.  Must be
 * called inside a store transaction. */
int pn_api_resolve(struct pn_req *r, enum pn_obj kind, const char *ref, json_t **row);
/* Record an admin change and bump the policy version (inside the write
 * transaction).  *version may be NULL. */
int pn_api_changed(struct pn_req *r, const char *action, const char *kind, const char *id,
		   const json_t *detail, uint64_t *version);
/* Revoke every credential of a holder (inside the write transaction);
 * nonzero with the response set on failure. */
int pn_api_revoke_holder(struct pn_req *r, const char *holder_id);
/* Commit and, on success, wake push subscribers. */
int pn_api_commit(struct pn_req *r);
int64_t pn_now(void);
int64_t pn_now_ms(void);

/* ---- routes ---- */
typedef int (*pn_handler_fn)(struct pn_req *r);
/*
 * One endpoint.  path is under /v1/, its segments separated by '/': a
 * literal, or "{name}" for any one segment (the handler reads r->seg[]).
 * The router enforces acc before fn runs and sets r->route_ctx = ctx.
 * Every route is listed in the OpenAPI document (src/controller/openapi.json,
 * checked by tests/controller/test_openapi.c against these tables).
 */
struct pn_route {
	const char *method; /* "GET", "POST", "PATCH", "DELETE"; NULL ends a table */
	const char *path;   /* "networks/{ref}" */
	enum pn_access acc;
	pn_handler_fn fn;
	const void *ctx;
};
/* Each handler group's table, ended by an entry whose method is NULL. */
extern const struct pn_route pn_objects_routes[];    /* api_objects.c */
extern const struct pn_route pn_components_routes[]; /* api_components.c */
extern const struct pn_route pn_admin_routes[];      /* api_admin.c */
extern const struct pn_route pn_enroll_routes[];     /* enroll.c */
extern const struct pn_route pn_oidc_routes[];       /* oidc_api.c */
extern const struct pn_route pn_console_routes[];    /* console_api.c: /v1/console/..., presence, ctl/status */
extern const struct pn_route pn_openapi_routes[];    /* openapi.c: /v1/openapi.json */
extern const struct pn_route pn_metrics_routes[];    /* metrics.c: /v1/metrics */
/* The i-th /v1/ route the router serves (all tables, in the order tried);
 * NULL past the last. */
const struct pn_route *pn_router_route(size_t i);
/* Console static files (console_static.c): is url under /console?  The
 * HTTP layer hands such requests to the router although they are not
 * under /v1/ (r->nseg is then 0). */
int pn_console_path(const char *url);
int pn_console_static_route(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc);
/* Console session cookie (console_session.c, called by auth.c): identify
 * the caller from the cookie when the request has neither an
 * Authorization header nor a client certificate. */
void pn_console_identify(struct pn_req *r);
/* Note that a component was seen (auth.c, after a client certificate
 * checked out): presence for the console's overview. */
void pn_console_seen(struct pn_req *r);
/* Find the handler and its access level for r (path and method only);
 * nonzero with a 404/405 response set if there is none. */
int pn_router_find(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc);
/* May r's principal use a route of this access level?  Nonzero with a
 * 401/403 response set if not. */
int pn_router_allow(struct pn_req *r, enum pn_access acc);
/* find + allow + run the handler. */
int pn_router_dispatch(struct pn_req *r);
/* Authenticate (auth.c): fills r->who etc. from the Authorization header or
 * the TLS client certificate.  When the store cannot be read, r->actor is
 * PN_ACTOR_STORE_DOWN and the router answers 503. */
#define PN_ACTOR_STORE_DOWN "unavailable:store"
int pn_auth_identify(struct pn_req *r);
/* The Authorization header's part of pn_auth_identify (value h: "Bearer
 * <key>"; anything else is refused), callable without a connection. */
void pn_auth_identify_header(struct pn_req *r, const char *h);
/* Split a request path "/v1/a/b" into r->seg (http.c); 0 or -EINVAL for
 * anything odd (empty segments, too many, too long). */
int pn_api_split_path(struct pn_req *r, const char *url);

/* Issue an enrollment token for (kind, target id); *text: heap string. */
int pn_enroll_new_token(struct pn_req *r, const char *kind, const char *target_id, uint32_t ttl,
			char **text);
/* Issuance steps shared with the OIDC login (enroll.c): issue a
 * credential for csr (response set on failure: PN_E_API_ANSWERED), record it (inside the
 * write transaction), and answer with credential + state after commit. */
int pn_enroll_issue(struct pn_req *r, const char *csr, struct pn_cred_info *info, char **pem);
int pn_enroll_record(struct pn_req *r, const struct pn_cred_info *ci, const char *holder_kind,
		     const char *holder_id);
int pn_enroll_respond(struct pn_req *r, unsigned status, const char *pem,
		      const struct pn_cred_info *ci, const char *holder_kind, const char *holder_id);
/* Renewal of a user's credential (oidc_api.c): refresh at the identity
 * provider and re-synchronise groups into info->groups.  0 to go on, or
 * PN_E_API_ANSWERED with the response (401 reauthentication_required,
 * 502, or a store error) set. */
int pn_oidc_renew(struct pn_req *r, struct pn_cred_info *info);

/* Make a random API key "<prefix><64 hex>" and its hash. */
int pn_api_new_key(const char *prefix, char key[80], char hash[65]);
#endif
