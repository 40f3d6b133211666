/*
 * OIDC login from the command line: see oidc_login.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <jansson.h>
#include <nettle/base64.h>

#include "client/oidc_login.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/ctlapi.h"
#include "ctlapi/curl_dl.h"

#define REQ_MAX		8192 /* a browser's redirect request fits */
#define CONN_TIMEOUT_MS 10000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void b64url(const uint8_t *in, size_t len, char *out)
{
	struct base64_encode_ctx ctx;
	size_t n;

	base64url_encode_init(&ctx);
	n = base64_encode_update(&ctx, out, len, in);
	n += base64_encode_final(&ctx, out + n);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
}

/* RFC 7636: verifier = 32 random bytes base64url; challenge = S256. */
static int make_pkce(char verifier[64], char challenge[64])
{
	uint8_t r[32], d[32];
	int rc = pn_random(r, sizeof(r));

	if (rc)
		return rc;
	b64url(r, sizeof(r), verifier);
	pn_wipe(r, sizeof(r));
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), d) < 0)
		return PN_E_CRYPTO;
	b64url(d, sizeof(d), challenge);
	return 0;
}

static int listen_loopback(int *fd_out, unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*fd_out = fd;
	*port = ntohs(a.sin_port);
	return 0;
}

static pid_t open_browser(const char *cmd, const char *url)
{
	pid_t pid;

	if (!cmd || !*cmd)
		return -1;
	pid = fork();
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);

		if (dn >= 0) {
			dup2(dn, 0);
			dup2(dn, 1);
			dup2(dn, 2);
		}
		execlp(cmd, cmd, url, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void reply_page(int fd, int status, const char *msg)
{
	char buf[512];
	int n = snprintf(
	    buf, sizeof(buf),
	    "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
	    status, status == 200 ? "OK" : "Bad Request", strlen(msg), msg);

	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		return;
}

/* Read one request head (until CRLFCRLF) within CONN_TIMEOUT_MS.  0,
 * PN_E_TIMEOUT, PN_E_CLOSED (end of stream first), PN_E_TOOBIG, -errno. */
static int read_head(int fd, char *buf, size_t sz)
{
	int64_t end = now_ms() + CONN_TIMEOUT_MS;
	size_t n = 0;

	while (n < sz - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = end - now_ms();
		ssize_t k;
		int pr;

		if (left <= 0 || (pr = poll(&p, 1, (int)left)) == 0)
			return PN_E_TIMEOUT;
		if (pr < 0)
			return -errno;
		k = read(fd, buf + n, sz - 1 - n);
		if (k < 0)
			return -errno;
		if (k == 0)
			return PN_E_CLOSED;
		n += (size_t)k;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 0;
	}
	return PN_E_TOOBIG; /* larger than any redirect we sent */
}

/* The value of key in query (unescaped, heap) or NULL. */
static char *query_get(CURL *h, const char *query, const char *key)
{
	size_t kl = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			int outlen = 0;
			char *v = curl_easy_unescape(h, p + kl + 1, (int)(len - kl - 1), &outlen);
			char *copy = v && (size_t)outlen == strlen(v) ? strdup(v) : NULL;

			curl_free(v);
			return copy;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * Wait for the redirect carrying our state.  *code heap on success.
 * Requests without our state get 400 and are otherwise ignored.
 */
static int await_code(int lfd, const char *state, unsigned timeout_s, char **code)
{
	int64_t end = now_ms() + (int64_t)timeout_s * 1000;
	CURL *h = NULL;
	char *buf = NULL;
	int rc;

	*code = NULL;
	if ((rc = pn_curl_easy_open("oidc", &h)) != 0) /* for curl_easy_unescape */
		return rc;
	rc = PN_E_TIMEOUT;
	if (!(buf = malloc(REQ_MAX))) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int64_t left = end - now_ms();
		char *q, *sp, *st = NULL, *cd = NULL, *err = NULL;
		int fd;

		if (left <= 0 || poll(&p, 1, (int)(left > 60000 ? 60000 : left)) < 0)
			break;
		if (!(p.revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (read_head(fd, buf, REQ_MAX) || strncmp(buf, "GET /callback?", 14) ||
		    !(sp = strchr(buf + 14, ' '))) {
			reply_page(fd, 400, "Not a Postern sign-in redirect.");
			close(fd);
			continue;
		}
		*sp = '\0';
		q = buf + 14;
		st = query_get(h, q, "state");
		if (!st || strlen(st) != strlen(state) || pn_ct_memcmp(st, state, strlen(state))) {
			reply_page(fd, 400, "Sign-in state does not match this login.");
			PN_LOG_WARN("client", "oidc_callback_refused", "reason=state");
			free(st);
			close(fd);
			continue;
		}
		cd = query_get(h, q, "code");
		err = query_get(h, q, "error");
		if (cd && !err) {
			reply_page(fd, 200, "Signed in to Postern. You can close this window.");
			*code = cd;
			cd = NULL;
			rc = 0;
		} else {
			reply_page(fd, 200, "Sign-in failed at the identity provider.");
			PN_LOG_WARN("client", "oidc_idp_error", "idp_error=\"%.64s\"",
				    err ? err : "");
			rc = PN_E_OIDC_IDP;
		}
		free(st);
		free(cd);
		free(err);
		close(fd);
		break;
	}
out:
	if (buf)
		pn_wipe(buf, REQ_MAX);
	free(buf);
	curl_easy_cleanup(h);
	return rc;
}

/* DIR/user.json: who is signed in (name, email, groups, provider,
 * reauth_due), for status displays; written atomically, 0600. */
static int save_user(const char *dir, const json_t *reply)
{
	const json_t *u = json_object_get(reply, "user");
	char *text;
	int rc;

	if (!u)
		return 0;
	if (!(text = json_dumps(u, JSON_INDENT(2))))
		return -ENOMEM;
	rc = pn_file_write_at(dir, "user.json", text, strlen(text), 0600, 0);
	free(text);
	return rc;
}

static void print_user(FILE *out, const json_t *reply)
{
	const json_t *u = json_object_get(reply, "user"), *g;
	size_t i;

	if (!u)
		return;
	fprintf(out, "signed in as %s", json_string_value(json_object_get(u, "name")));
	if (json_string_value(json_object_get(u, "email")))
		fprintf(out, " <%s>", json_string_value(json_object_get(u, "email")));
	fprintf(out, " groups:");
	json_array_foreach(json_object_get(u, "groups"), i, g)
	    fprintf(out, "%s%s", i ? "," : " ", json_string_value(g));
	fprintf(out, "\n");
}

static int browser_login(const struct pn_oidc_login_opts *o, FILE *out, json_t *csr, json_t **reply)
{
	char verifier[64], challenge[64], redirect[64], *code = NULL;
	const char *auth_url, *state, *browser;
	json_t *start = NULL, *started = NULL, *finish = NULL;
	unsigned port = 0;
	pid_t pid = -1;
	int lfd = -1, rc;

	if ((rc = make_pkce(verifier, challenge)) || (rc = listen_loopback(&lfd, &port)))
		goto out;
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/callback", port);
	start = json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "redirect_uri", redirect, "code_challenge",
			  challenge, "code_challenge_method", "S256", "provider", o->provider,
			  "purpose", o->purpose);
	if (!start) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = pn_ctlapi_post(o->url, o->ca_file, "/v1/login/oidc/start", start, &started)))
		goto out;
	auth_url = json_string_value(json_object_get(started, "authorization_url"));
	state = json_string_value(json_object_get(started, "state"));
	if (!auth_url || !state || strncmp(auth_url, "https://", 8)) {
		rc = PN_E_CTL_SERVER;
		goto out;
	}
	fprintf(out, "Sign in with your identity provider; opening your browser at:\n  %s\n",
		auth_url);
	fflush(out);
	browser = o->browser ? o->browser : getenv("BROWSER") ? getenv("BROWSER") : "xdg-open";
	pid = open_browser(browser, auth_url);
	rc = await_code(lfd, state, o->timeout_s ? o->timeout_s : 300, &code);
	close(lfd); /* exactly one good redirect, then nobody may connect */
	lfd = -1;
	if (rc)
		goto out;
	finish = json_deep_copy(csr);
	if (!finish || json_object_set_new(finish, "state", json_string(state)) ||
	    json_object_set_new(finish, "code", json_string(code)) ||
	    json_object_set_new(finish, "code_verifier", json_string(verifier))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = pn_ctlapi_post(o->url, o->ca_file, "/v1/login/oidc/finish", finish, reply);
out:
	if (lfd >= 0)
		close(lfd);
	if (pid > 0) /* reap a launcher that already exited; a running browser is the user's */
		waitpid(pid, NULL, WNOHANG);
	pn_wipe(verifier, sizeof(verifier));
	if (code)
		pn_wipe(code, strlen(code));
	free(code);
	json_decref(start);
	json_decref(started);
	json_decref(finish);
	return rc;
}

static int device_login(const struct pn_oidc_login_opts *o, FILE *out, json_t *csr, json_t **reply)
{
	json_t *req = json_pack("{s:s?,s:s?}", "provider", o->provider, "purpose", o->purpose);
	json_t *started = NULL, *poll_req = NULL;
	const char *flow, *uc, *vu, *vuc;
	int64_t end;
	int interval, rc;

	if (!req)
		return -ENOMEM;
	if ((rc = pn_ctlapi_post(o->url, o->ca_file, "/v1/login/oidc/device", req, &started)))
		goto out;
	flow = json_string_value(json_object_get(started, "flow"));
	uc = json_string_value(json_object_get(started, "user_code"));
	vu = json_string_value(json_object_get(started, "verification_uri"));
	vuc = json_string_value(json_object_get(started, "verification_uri_complete"));
	interval = (int)json_integer_value(json_object_get(started, "interval"));
	end = now_ms() + 1000 * json_integer_value(json_object_get(started, "expires_in"));
	if (!flow || !uc || !vu) {
		rc = PN_E_CTL_SERVER;
		goto out;
	}
	fprintf(out, "To sign in, open %s\nand enter the code: %s\n", vu, uc);
	if (vuc)
		fprintf(out, "(or open %s)\n", vuc);
	fflush(out);
	poll_req = json_deep_copy(csr);
	if (!poll_req || json_object_set_new(poll_req, "flow", json_string(flow))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = PN_E_TIMEOUT;
	while (now_ms() < end) {
		const char *status;

		sleep((unsigned)(interval > 0 && interval <= 60 ? interval : 5));
		json_decref(*reply);
		*reply = NULL;
		if ((rc = pn_ctlapi_post(o->url, o->ca_file, "/v1/login/oidc/device/poll", poll_req,
					 reply)))
			break;
		status = json_string_value(json_object_get(*reply, "status"));
		if (!status || strcmp(status, "pending"))
			break; /* issued */
		interval = (int)json_integer_value(json_object_get(*reply, "interval"));
		rc = PN_E_TIMEOUT;
	}
out:
	json_decref(req);
	json_decref(started);
	json_decref(poll_req);
	return rc;
}

int pn_client_oidc_login(const struct pn_oidc_login_opts *o)
{
	FILE *out = o->out ? o->out : stderr;
	json_t *csr = NULL, *reply = NULL;
	int rc;

	if (!o->url || !o->ca_file || (!o->state_dir && !o->result))
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	if (o->result) { /* admin session: nothing to certify */
		*o->result = NULL;
		csr = json_object();
	} else if ((rc = pn_ctlapi_csr_body(o->state_dir, &csr))) {
		goto out;
	}
	if (!csr) {
		rc = -ENOMEM;
		goto out;
	}
	rc = o->device ? device_login(o, out, csr, &reply) : browser_login(o, out, csr, &reply);
	if (rc)
		goto out;
	if (o->result) {
		*o->result = reply;
		reply = NULL;
		goto out;
	}
	if ((rc = pn_ctlapi_enroll_finish(o->state_dir, o->url, reply)) ||
	    (rc = save_user(o->state_dir, reply)))
		goto out;
	print_user(out, reply);
out:
	json_decref(csr);
	json_decref(reply);
	return rc;
}
