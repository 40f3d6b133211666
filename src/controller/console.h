#ifndef PN_CONTROLLER_CONSOLE_H
#define PN_CONTROLLER_CONSOLE_H
/*
 * The web admin console (docs/console.md): static files under /console/
 * (console_static.c, embedded at build time), browser sessions and CSRF
 * (console_session.c), and the few endpoints only the console needs
 * (console_api.c).  Everything else the console does goes through the
 * ordinary /v1/ API with the rights of the key the session came from.
 */
#include <stddef.h>

struct pn_req;
struct pn_ctl;

#define PN_CONSOLE_COOKIE	  "__Host-pn_console"
#define PN_CONSOLE_TOKEN_PREFIX	  "pncs_"
#define PN_CONSOLE_CSRF_HEADER	  "X-CSRF-Token"
#define PN_CONSOLE_SESSION_TTL	  28800 /* 8 h; never longer than an admin session it came from */
#define PN_CONSOLE_SEEN_EVERY_S	  15	/* a sighting is written at most this often per component */
/* online: seen within this.  Components with a push stream are seen at
 * every keepalive (PN_PUSH_KEEPALIVE_S) and every component reports its
 * status every PN_NODE_STATUS_EVERY_MS (30 s): two reports may be missed. */
#define PN_CONSOLE_ONLINE_S	  75
#define PN_CONSOLE_VERSION_MAX	  32	/* a reported version string, bytes */
#define PN_CONSOLE_COUNT_MAX	  10000000 /* a reported count */

/* One embedded file (generated console_files.c). */
struct pn_console_file {
	const char *name; /* "index.html", "js/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct pn_console_file pn_console_files[];
extern const size_t pn_console_nfiles;

/* The session cookie of the request if it is well formed, else NULL. */
const char *pn_console_cookie(struct pn_req *r);
/* The CSRF token of a session cookie (64 hex + NUL). */
int pn_console_csrf(const char *token, char out[65]);
/* Router: a cookie-authenticated change without the CSRF token gets 403
 * csrf_token_required (nonzero returned, response set). */
int pn_console_csrf_check(struct pn_req *r);

/* The console's TLS key and certificate chain (console_cert.c): read
 * DATA/console.key + console.crt, or make a self-signed ECDSA P-256 pair
 * for names when they are absent.  Heap PEM strings (wipe the key). */
int pn_console_cert_load(const char *data_dir, const char *const *names, unsigned nnames,
			 char **key_pem, char **cert_pem);

/* Is uri the console's OIDC redirect, "<controller URL>/console/"? */
int pn_console_redirect_ok(struct pn_req *r, const char *uri);

/* A connector or relay (other kinds are ignored) was seen: presence for
 * the overview (push.c, while its stream is open).  May use the store. */
void pn_console_seen_holder(struct pn_ctl *ctl, const char *kind, const char *id);

int pn_console_h_signin(struct pn_req *r);
int pn_console_h_whoami(struct pn_req *r);
int pn_console_h_signout(struct pn_req *r);
#endif
