#ifndef PN_CTLAPI_CTLAPI_H
#define PN_CTLAPI_CTLAPI_H
/*
 * ctlapi: how connectors, relays and clients talk to the controller.
 *
 * Everything goes over HTTPS (libcurl, GnuTLS) to the controller's API,
 * always verifying the controller's certificate against the pinned Postern
 * CA (never the system store), and, once a component holds a credential,
 * authenticating with it by mutual TLS.
 *
 * A component keeps its state in one directory (created 0700):
 *
 *   controller.json  {"url": "https://ctl.example:8443", "type": "connector",
 *                     "id": "<hex id>", "name": "..."}
 *   ca.crt           the Postern CA certificate (PEM), pinned at enrollment
 *   key.pem          the component's Ed25519 private key (PEM, 0600); it is
 *                    generated here and never leaves the machine
 *   cert.pem         the current short-lived credential (PEM)
 *   acl.bin          the current CA-signed access list (trust/acl.h format)
 *   relays.json      [{"id":..,"name":..,"udp":"h:p","tls":"h:p","ws":"url"}]
 *
 * Files are replaced atomically (write tmp, fsync, rename), so a reader
 * never sees a half-written file.
 *
 * Blocking calls (enroll, login, renew, report) do network I/O: call them
 * from a thread or at startup, never on an event loop.  The subscription
 * runs its own thread and delivers events to a libuv loop via uv_async.
 *
 * Errors: 0 or negative.  -ENOMEM, -EINVAL (bad argument), -EIO / PN_E_IO
 * (file system), PN_E_CTL_CONNECT (controller unreachable / TLS failure),
 * PN_E_CTL_PIN (CA fingerprint in the token does not match the controller's
 * CA), PN_E_CTL_AUTH (401/403: bad, used or expired token; revoked
 * credential), PN_E_CTL_NOTFOUND (404), PN_E_CTL_REJECTED (other 4xx; the
 * controller's message is logged), PN_E_CTL_SERVER (5xx or unparsable
 * reply), PN_E_MALFORMED (bad token text).
 */
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ctlapi/limits.h"

#define PN_CTLAPI_URL_MAX 512
#define PN_CTLAPI_ID_HEX 32 /* 16-byte ids, hex */
#define PN_CTLAPI_FP_HEX 64 /* SHA-256 fingerprints, hex */

/* Load libcurl now (curl_dl.h; every request loads it on first use, so a
 * long-running role need not call this at start): for one-shot commands,
 * to fail early.  0 or PN_E_LIBRARY (logged, naming the package). */
int pn_ctlapi_global_init(void);

/*
 * Enrollment token text (printed by `postern ctl connector add` etc.):
 *
 *   pnt1.<CA fingerprint, 64 hex>.<secret, 64 hex>.<controller URL>
 *
 * The CA fingerprint is SHA-256 over the CA certificate's
 * SubjectPublicKeyInfo DER; the secret is 32 random bytes in hex (the
 * controller stores only SHA-256 of the 64-character secret text).
 */
struct pn_ctlapi_token {
	char url[PN_CTLAPI_URL_MAX];
	char ca_fp_hex[PN_CTLAPI_FP_HEX + 1];
	char secret_hex[64 + 1];
};
/* Parse token text (surrounding whitespace ignored).  0 or PN_E_MALFORMED. */
int pn_ctlapi_token_parse(const char *text, struct pn_ctlapi_token *out);

/*
 * Enroll a connector or relay with a one-time token: fetch the controller's
 * CA certificate, check its fingerprint against the token (PN_E_CTL_PIN on
 * mismatch), generate key.pem in state_dir, send a CSR with the token, and
 * write ca.crt, cert.pem, acl.bin (connectors), relays.json and
 * controller.json.  state_dir is created if missing.  Consuming the token
 * is atomic on the controller: of any number of concurrent enrollments
 * with one token exactly one succeeds, the others get PN_E_CTL_AUTH.
 */
int pn_ctlapi_enroll(const char *state_dir, const char *token_text);

/*
 * Headless client login with a service-account API key: verifies the
 * controller against ca_file (PEM; pinned), generates key.pem if state_dir
 * has none, sends a CSR and writes ca.crt, cert.pem, acl.bin (the client
 * access list; it names the connector ids serving each remote network),
 * relays.json and controller.json.
 */
int pn_ctlapi_login(const char *state_dir, const char *url, const char *ca_file,
		    const char *api_key);

/*
 * The two ends of every issuance (token enrollment, service-account login,
 * OIDC login in src/client/oidc_login.c, renewal), one each:
 * pn_ctlapi_csr_body makes {"csr": PEM} for state_dir's key (the directory
 * made 0700 and key.pem 0600 if missing); pn_ctlapi_enroll_finish writes
 * the controller's issuance reply into state_dir: ca.crt, cert.pem,
 * acl.bin and relays.json when the reply has them, and controller.json
 * (url, type, id, name), each atomically.  PN_E_CTL_SERVER when the reply
 * lacks the CA or the credential, -errno.
 */
struct json_t;
int pn_ctlapi_csr_body(const char *state_dir, struct json_t **body);
int pn_ctlapi_enroll_finish(const char *state_dir, const char *url, const struct json_t *reply);

/* An unauthenticated JSON POST to url + path (OIDC login), verifying the
 * controller against ca_file; the controller's refusal is logged with its
 * message. */
int pn_ctlapi_post(const char *url, const char *ca_file, const char *path,
		   const struct json_t *body, struct json_t **reply);

/* A component's handle on an enrolled state directory. */
struct pn_ctlapi;

/* Load controller.json, ca.crt, key.pem, cert.pem from state_dir.
 * -ENOENT if the directory is not enrolled. */
int pn_ctlapi_open(const char *state_dir, struct pn_ctlapi **out);
void pn_ctlapi_free(struct pn_ctlapi *c); /* NULL-safe */

/* Component type as recorded at enrollment: "connector", "relay" or
 * "client"; and its id (hex).  Valid while c lives. */
const char *pn_ctlapi_type(const struct pn_ctlapi *c);
const char *pn_ctlapi_id(const struct pn_ctlapi *c);

/*
 * Renew over mutual TLS with the current credential: sends a CSR for the
 * same key and rewrites cert.pem, acl.bin and relays.json.  Credentials
 * live 1 h by default: the component runtime (node/node.h) calls it on its
 * schedule, from the thread pool.  Fails with
 * PN_E_CTL_AUTH if the credential was revoked or has expired (then the
 * component must re-enroll).  The handle uses the new cert.pem from the
 * next request on.
 */
int pn_ctlapi_renew(struct pn_ctlapi *c);

/* The controller ends push streams at least this often (seconds). */
#define PN_CTLAPI_STREAM_MAX_S 600

/* Fetch (mutual TLS) the current access list and relay list into acl.bin
 * and relays.json without renewing the credential. */
int pn_ctlapi_fetch(struct pn_ctlapi *c);

/* One flow record, as reported by connectors (architecture §6). */
struct pn_ctlapi_flow {
	char flow_id[PN_CTLAPI_ID_HEX + 1];   /* hex, both ends log it */
	char client_id[PN_CTLAPI_ID_HEX + 1]; /* credential id of the client */
	char user[128];                       /* user / service account name */
	char resource_id[PN_CTLAPI_ID_HEX + 1];
	char dest[256]; /* name or address as requested */
	uint16_t port;
	char proto[8];    /* "tcp" | "udp" | "icmp" */
	char path[16];    /* "direct" | "relay-udp" | "relay-tls" | "relay-ws" */
	char verdict[8];  /* "allow" | "deny" */
	char reason[128]; /* deny reason, or "" */
	char event[8];    /* "start" | "end" */
	uint64_t bytes_up, bytes_down;
	int64_t ts_ms; /* unix ms of the event */
};
/* Report up to PN_CTLAPI_FLOW_BATCH_MAX flow events in one request (mutual
 * TLS).  The body must stay within PN_CTLAPI_BODY_MAX (ctlapi/limits.h): the
 * caller sizes n (connector/report.h does it by encoded bytes). */
int pn_ctlapi_report_flows(struct pn_ctlapi *c, const struct pn_ctlapi_flow *ev, size_t n);
/* POST an already encoded body {"events":[...]} (1..PN_CTLAPI_BODY_MAX bytes)
 * to /v1/ctl/flows (mutual TLS, 10 s timeout).  0 once stored; errors as
 * above (PN_E_CTL_REJECTED: the controller refused the request, e.g. 400
 * or 413), -EINVAL (empty or too large). */
int pn_ctlapi_post_flows(struct pn_ctlapi *c, const char *body, size_t len);
/* POST an encoded status report {"version": .., "paths": {"direct": n,
 * "relay": n}} (connectors and relays; node/node.h sends it) to
 * /v1/ctl/status, as post_flows. */
int pn_ctlapi_post_status(struct pn_ctlapi *c, const char *body, size_t len);

/* ---- push channel ---- */

enum pn_ctlapi_event_kind {
	PN_CTLAPI_EV_POLICY = 1,   /* new policy version (acl may be set) */
	PN_CTLAPI_EV_CONNECTED = 2,  /* channel (re)connected after a loss; a POLICY
				      * event follows (planned recycles are silent) */
	PN_CTLAPI_EV_DISCONNECTED = 3, /* channel lost; reconnecting with backoff */
	PN_CTLAPI_EV_REVOKED = 4,  /* this component's credential was revoked: the
				    * subscription ends; re-enroll */
};

/* A client whose access list changed (delivered to connectors). */
struct pn_ctlapi_client_acl {
	char client_id[PN_CTLAPI_ID_HEX + 1];
	const uint8_t *acl; /* CA-signed client access list (trust/acl.h) */
	size_t acl_len;
};

/* Something revoked: one credential by serial; holder_id (the credential
 * id, hex) is set only when every credential with that id is revoked, so
 * revoking by id never hits a renewed or re-enrolled instance. */
struct pn_ctlapi_revocation {
	char serial[64];                      /* lowercase hex serial */
	char holder_id[PN_CTLAPI_ID_HEX + 1]; /* credential id, or "" */
};

/*
 * One event.  Pointers are valid only during the callback.  For
 * PN_CTLAPI_EV_POLICY, version is the controller's policy version (never
 * decreasing across events of one subscription, also across reconnects; an
 * equal version re-delivers the same policy freshly signed, sent at half
 * the lists' lifetime so they never expire while subscribed);
 * acl/acl_len is this component's new CA-signed access list (already
 * written to acl.bin; NULL for relays), client_acls are the current access
 * lists of clients that may use this connector (connectors only; complete
 * set, so a client absent from it has no grant here any more), revoked
 * lists revoked credentials (complete set of unexpired revocations),
 * relays_json is the relay list (already written to relays.json).
 * Subscribers must verify acl bytes with pn_acl_verify before use: ctlapi
 * only transports them.
 */
struct pn_ctlapi_event {
	enum pn_ctlapi_event_kind kind;
	uint64_t version;
	const uint8_t *acl;
	size_t acl_len;
	const struct pn_ctlapi_client_acl *client_acls;
	size_t n_client_acls;
	const struct pn_ctlapi_revocation *revoked;
	size_t n_revoked;
	const char *relays_json;
};

typedef void (*pn_ctlapi_event_cb)(const struct pn_ctlapi_event *ev, void *arg);

struct pn_ctlapi_sub;

/*
 * Subscribe to the push channel (server-sent events over mutual TLS).  A
 * background thread keeps the channel open, reconnecting with exponential
 * backoff (0.25 s .. 10 s, jittered) and resuming from the last version
 * seen; the controller then sends the latest state.  cb runs on `loop`'s
 * thread (via uv_async).  `c` must outlive the subscription.
 */
int pn_ctlapi_subscribe(struct pn_ctlapi *c, uv_loop_t *loop, pn_ctlapi_event_cb cb, void *arg,
			struct pn_ctlapi_sub **out);
/*
 * Stop: joins the thread (at most ~1 s; the transfer is aborted) and closes
 * the uv_async handle; `closed` (may be NULL) runs on the loop once the
 * handle is closed, after which nothing refers to arg.  Call on the loop's
 * thread.
 */
void pn_ctlapi_sub_stop(struct pn_ctlapi_sub *s, void (*closed)(void *arg));
#endif
