#ifndef PN_CLIENT_OIDC_LOGIN_H
#define PN_CLIENT_OIDC_LOGIN_H
/*
 * `postern client login` for people: the controller runs the OpenID
 * Connect exchange with the identity provider; this side only carries the
 * browser and keeps its key.
 *
 * Browser (RFC 8252): a PKCE verifier is made here (32 random bytes), a
 * listener bound to 127.0.0.1:0, and the controller asked for the IdP's
 * authorization URL (POST /v1/login/oidc/start with the S256 challenge
 * and http://127.0.0.1:PORT/callback).  The URL is printed and opened
 * with $BROWSER or xdg-open.  The listener answers 400 to any request
 * without the login's state and keeps waiting; the first request with it
 * ends the listener.  Code + verifier + CSR then go to
 * /v1/login/oidc/finish, and the credential, access list and relay list
 * are saved as a service-account login saves them, plus DIR/user.json
 * (who signed in: name, email, groups, provider, reauth_due).
 *
 * Device (RFC 8628): the controller asks the IdP for a user code; it is
 * printed with the verification URL, and /v1/login/oidc/device/poll is
 * called at the IdP's interval until the user approved or it expired.
 *
 * Blocking; for the command line.  0, PN_E_TIMEOUT (no callback or
 * approval in time), PN_E_OIDC_IDP (the IdP answered an error to the
 * browser), ctlapi errors (PN_E_CTL_AUTH: the controller refused the
 * login; its reason is logged), -errno.
 */
#include <stdio.h>

struct json_t;

struct pn_oidc_login_opts {
	const char *state_dir, *url, *ca_file;
	const char *provider; /* NULL: the controller's only provider */
	int device;
	const char *browser; /* NULL: $BROWSER, else xdg-open; "" = do not open */
	unsigned timeout_s;  /* 0 = 300 */
	FILE *out;	     /* instructions and result; NULL = stderr */
	/* `postern ctl login`: purpose "admin", no key or state directory;
	 * the controller's answer ({"admin_session", "expires", "user"}) is
	 * returned in *result (new ref) instead of being saved. */
	const char *purpose;
	struct json_t **result;
};

int pn_client_oidc_login(const struct pn_oidc_login_opts *o);
#endif
