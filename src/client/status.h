#ifndef PN_CLIENT_STATUS_H
#define PN_CLIENT_STATUS_H
/*
 * `postern client status`: the running client answers on a unix socket in
 * its state directory (DIR/client.sock, mode 0600: status shows ids and
 * destinations) with one JSON document per connection, then closes.
 *
 * The document (daemon.c builds it): client_id, name, user and groups
 * (from the credential in use), signed_in (who logged in through the
 * identity provider, from DIR/user.json: id, name, email, provider; null
 * for a service-account login or when the file names someone other than
 * the credential's user), credential_not_after, renewals, acl_version,
 * uptime_s, tunnels (tunnels.h), proxy (proxy.h).
 */
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

#define PN_CLIENT_SOCK_NAME  "client.sock"
#define PN_CLIENT_STATUS_MAX (1u << 20)	 /* largest status document read */
#define PN_CLIENT_USER_MAX   (64u << 10) /* largest user.json read */

struct pn_client_statsock;

/*
 * Listen on DIR/client.sock (a stale socket of a killed client is
 * replaced); every connection gets doc(arg) (a heap string, freed here).
 * 0, PN_E_TOOBIG (path too long for a unix socket), or a libuv error; on
 * error nothing is left open.
 */
int pn_client_statsock_start(uv_loop_t *loop, const char *state_dir, char *(*doc)(void *arg),
			     void *arg, struct pn_client_statsock **out);
/* Stop listening and remove the socket file; cb(arg) once the handle is
 * closed (answers being written finish on their own).  NULL-safe. */
void pn_client_statsock_close(struct pn_client_statsock *s, void (*cb)(void *arg), void *arg);

/*
 * Ask a running client for its status (blocking; for the CLI).  *json is
 * a heap NUL-terminated JSON document (free()).  0, -ENOENT / -ECONNREFUSED
 * (no client running for this state dir), PN_E_TOOBIG, -ENOMEM, -errno.
 */
int pn_client_status_query(const char *state_dir, char **json);

/* Print a status document as a human-readable table.  0 or PN_E_MALFORMED. */
int pn_client_status_print(const char *json, FILE *out);

/*
 * No client running: print who is signed in to DIR (the credential's user
 * and groups, user.json) and when the credential expires, from the files
 * (blocking; for the CLI).  0, or why the credential cannot be used
 * (node/ident.h errors, PN_E_EXPIRED ...), with a line saying so.
 */
int pn_client_status_idle(const char *state_dir, FILE *out);

/*
 * Who signed in, from DIR/user.json (written by a person's login,
 * oidc_login.h): a new object with the string fields id, name, email,
 * provider (each at most 256 bytes; others left out), or NULL: no file
 * (-ENOENT), unreadable, not a JSON object, or its name is not `user`
 * (a later login of another kind left it behind); *err says which.
 */
json_t *pn_client_user_load(const char *state_dir, const char *user, int *err);
#endif
