/* `postern client status`: the socket, the query, the table.  See status.h. */
#include "client/status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/transparent.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "node/ident.h"

#define USER_FIELD_MAX 256

/* --------------------------------------------------- the socket (loop) -- */

struct pn_client_statsock {
	uv_pipe_t pipe;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *(*doc)(void *arg);
	void *arg;
	void (*close_cb)(void *arg);
	void *close_arg;
};

struct answer {
	uv_pipe_t pipe;
	uv_write_t w;
	char *doc;
};

static void answer_closed(uv_handle_t *h)
{
	struct answer *a = h->data;

	free(a->doc);
	free(a);
}

static void answer_written(uv_write_t *w, int status)
{
	struct answer *a = w->data;

	(void)status;
	uv_close((uv_handle_t *)&a->pipe, answer_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct pn_client_statsock *s = server->data;
	struct answer *a;
	uv_buf_t b;

	if (status < 0 || !(a = calloc(1, sizeof(*a))))
		return;
	uv_pipe_init(server->loop, &a->pipe, 0);
	a->pipe.data = a;
	a->w.data = a;
	if (uv_accept(server, (uv_stream_t *)&a->pipe) != 0 || !(a->doc = s->doc(s->arg))) {
		uv_close((uv_handle_t *)&a->pipe, answer_closed);
		return;
	}
	/* One request, one answer: the document, then close. */
	b = uv_buf_init(a->doc, (unsigned)strlen(a->doc));
	if (uv_write(&a->w, (uv_stream_t *)&a->pipe, &b, 1, answer_written) != 0)
		uv_close((uv_handle_t *)&a->pipe, answer_closed);
}

static void sock_closed(uv_handle_t *h)
{
	struct pn_client_statsock *s = h->data;
	void (*cb)(void *) = s->close_cb;
	void *arg = s->close_arg;

	free(s);
	if (cb)
		cb(arg);
}

int pn_client_statsock_start(uv_loop_t *loop, const char *state_dir, char *(*doc)(void *arg),
			     void *arg, struct pn_client_statsock **out)
{
	struct pn_client_statsock *s;
	int r;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", state_dir, PN_CLIENT_SOCK_NAME) >=
	    sizeof(s->path)) {
		free(s);
		return PN_E_TOOBIG;
	}
	s->doc = doc;
	s->arg = arg;
	unlink(s->path); /* a stale socket from a killed client */
	if ((r = uv_pipe_init(loop, &s->pipe, 0)) != 0) {
		free(s);
		return r;
	}
	s->pipe.data = s;
	if ((r = uv_pipe_bind(&s->pipe, s->path)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&s->pipe, 16, on_connection)) != 0) {
		uv_close((uv_handle_t *)&s->pipe, sock_closed);
		return r;
	}
	/* Status shows ids and destinations: owner only. */
	chmod(s->path, 0600);
	*out = s;
	return 0;
}

void pn_client_statsock_close(struct pn_client_statsock *s, void (*cb)(void *arg), void *arg)
{
	if (!s)
		return;
	s->close_cb = cb;
	s->close_arg = arg;
	unlink(s->path);
	uv_close((uv_handle_t *)&s->pipe, sock_closed);
}

/* ------------------------------------------------------ user.json -- */

json_t *pn_client_user_load(const char *state_dir, const char *user, int *err)
{
	static const char *const fields[] = {"id", "name", "email", "provider"};
	char path[4200], *text = NULL;
	json_t *in = NULL, *out = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/user.json", state_dir);
	if ((r = pn_file_read(path, PN_CLIENT_USER_MAX, &text, &len)) != 0)
		goto out;
	in = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(in)) {
		r = PN_E_MALFORMED;
		goto out;
	}
	/* The credential in use is the truth: a file left by an earlier
	 * login of someone else says nothing about it. */
	if (!json_is_string(json_object_get(in, "name")) ||
	    strcmp(json_string_value(json_object_get(in, "name")), user) != 0) {
		r = PN_E_WRONG_HOLDER;
		goto out;
	}
	if (!(out = json_object())) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(in, fields[i]);

		if (json_is_string(v) && json_string_length(v) <= USER_FIELD_MAX &&
		    json_object_set(out, fields[i], v) != 0) {
			json_decref(out);
			out = NULL;
			r = -ENOMEM;
			goto out;
		}
	}
	r = 0;
out:
	json_decref(in);
	free(text);
	*err = r;
	return out;
}

/* ------------------------------------------------------ the CLI side -- */

int pn_client_status_query(const char *state_dir, char **json)
{
	struct sockaddr_un sa;
	size_t len = 0;
	int fd, r;

	*json = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", state_dir,
			     PN_CLIENT_SOCK_NAME) >= sizeof(sa.sun_path))
		return PN_E_TOOBIG;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		r = -errno;
	else
		r = pn_fd_read_all(fd, 8192, PN_CLIENT_STATUS_MAX, json, &len);
	close(fd);
	if (r == 0 && len == 0) {
		free(*json);
		*json = NULL;
		r = PN_E_TRUNCATED;
	}
	return r;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* A name from the identity provider, fit for a terminal: control bytes
 * (escape sequences) shown as '?', cut at the buffer. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void print_who(json_t *o, FILE *out)
{
	json_t *si = json_object_get(o, "signed_in"), *g;
	char a[USER_FIELD_MAX + 1], b[USER_FIELD_MAX + 1];
	size_t i;

	if (json_is_object(si)) {
		fprintf(out, "signed in as %s", printable(jstr(si, "name"), a, sizeof(a)));
		if (*jstr(si, "email"))
			fprintf(out, " <%s>", printable(jstr(si, "email"), a, sizeof(a)));
		if (*jstr(si, "provider"))
			fprintf(out, " through %s", printable(jstr(si, "provider"), b, sizeof(b)));
	} else {
		fprintf(out, "signed in as %s (service account)",
			printable(jstr(o, "user"), a, sizeof(a)));
	}
	fprintf(out, ", groups:");
	json_array_foreach(json_object_get(o, "groups"), i, g)
	{
		const char *s = json_string_value(g);
		fprintf(out, "%s%s", i ? "," : " ", printable(s ? s : "", a, sizeof(a)));
	}
	if (json_array_size(json_object_get(o, "groups")) == 0)
		fprintf(out, " (none)");
	fprintf(out, "\n");
}

/* "850ms", "42s", "3m07s", "2h05m" */
static void dur(long long ms, char *buf, size_t size)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, size, "%lldms", ms);
	else if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, size, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else
		snprintf(buf, size, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
}

/* The tunnel's NAT traversal, one line under its row:
 *   direct 10.0.0.2:4711 <-> 198.51.100.7:3478 for 3m07s, 2 switches,
 *   NAT eim (peer eim), keepalive 25.0s, direct after 140ms */
static void print_p2p(json_t *t, FILE *out)
{
	json_t *p = json_object_get(t, "p2p");
	const char *st = jstr(p, "state");
	char on[32], ka[32], ttd[32];

	if (!json_is_object(p) || !strcmp(st, "off"))
		return;
	dur(jint(p, "on_path_ms"), on, sizeof(on));
	dur(jint(p, "keepalive_ms"), ka, sizeof(ka));
	fprintf(out, "  %-8s", st);
	if (!strcmp(st, "direct"))
		fprintf(out, " %s <-> %s", *jstr(p, "local") ? jstr(p, "local") : "?",
			jstr(p, "remote"));
	else
		fprintf(out, " via %s", jstr(t, "path"));
	fprintf(out, " for %s, %lld switch%s, NAT %s (peer %s)", on, jint(p, "switches"),
		jint(p, "switches") == 1 ? "" : "es", jstr(p, "nat"), jstr(p, "peer_nat"));
	if (!strcmp(st, "direct")) {
		fprintf(out, ", keepalive %s", ka);
		if (jint(p, "mapping_expiries"))
			fprintf(out, " (NAT mapping expired %lldx)", jint(p, "mapping_expiries"));
		if (!json_is_true(json_object_get(p, "relay_fallback")))
			fprintf(out, ", no relay fallback");
	}
	if (jint(p, "time_to_direct_ms")) {
		dur(jint(p, "time_to_direct_ms"), ttd, sizeof(ttd));
		fprintf(out, ", direct after %s", ttd);
	}
	fprintf(out, "\n");
}

int pn_client_status_print(const char *json, FILE *out)
{
	json_error_t jerr;
	json_t *o = json_loads(json, 0, &jerr), *t, *px;
	char name[USER_FIELD_MAX + 1];
	size_t i;

	if (!json_is_object(o)) {
		json_decref(o);
		return PN_E_MALFORMED;
	}
	fprintf(out,
		"client %s (%s)  acl version %lld  credential expires in %llds  renewals %lld\n",
		jstr(o, "client_id"), printable(jstr(o, "name"), name, sizeof(name)),
		jint(o, "acl_version"), jint(o, "credential_not_after") - (long long)pn_wall_s(),
		jint(o, "renewals"));
	print_who(o, out);
	fprintf(out, "\n%-32s  %-10s  %-10s  %-14s  %9s  %12s  %12s  %5s  %6s\n", "connector",
		"state", "path", "relay", "rtt_ms", "bytes_tx", "bytes_rx", "flows", "total");
	json_array_foreach(json_object_get(o, "tunnels"), i, t)
	{
		char path[32], relay[64];
		snprintf(path, sizeof(path), "%s", jstr(t, "path"));
		snprintf(relay, sizeof(relay), "%s/%s", jstr(t, "relay"),
			 jstr(t, "relay_transport"));
		fprintf(out, "%-32s  %-10s  %-10s  %-14s  %9.2f  %12lld  %12lld  %5lld  %6lld\n",
			jstr(t, "connector"), jstr(t, "state"), path,
			*jstr(t, "relay") ? relay : "-", (double)jint(t, "rtt_us") / 1000.0,
			jint(t, "bytes_tx"), jint(t, "bytes_rx"), jint(t, "flows"),
			jint(t, "flows_total"));
		print_p2p(t, out);
	}
	if (json_array_size(json_object_get(o, "tunnels")) == 0)
		fprintf(out, "(no tunnels yet: they open with the first flow)\n");
	px = json_object_get(o, "proxy");
	fprintf(out, "\n");
	json_array_foreach(json_object_get(px, "listeners"), i, t) fprintf(
	    out, "listener %-40s accepted %lld\n", jstr(t, "listener"), jint(t, "accepted"));
	fprintf(out,
		"flows ok %lld, refused %lld, failed %lld, bad SOCKS requests %lld, open "
		"connections %lld\n",
		jint(px, "flows_ok"), jint(px, "flows_refused"), jint(px, "flows_failed"),
		jint(px, "socks_errors"), jint(px, "connections_open"));
	pn_transparent_status_print(json_object_get(o, "transparent"), out);
	json_decref(o);
	return 0;
}

int pn_client_status_idle(const char *state_dir, FILE *out)
{
	struct pn_node_ident id;
	const char *failed;
	json_t *o = NULL, *g = NULL, *si = NULL;
	int r, ur;

	r = pn_node_ident_load(&id, PN_CRED_CLIENT, state_dir, NULL, NULL, NULL,
			       (uint64_t)pn_wall_s(), &failed);
	if (r == 0 && !id.ci_valid)
		r = id.verify_err;
	if (r != 0) {
		fprintf(out, "not signed in: %s: %s (%s)\n",
			failed		  ? failed
			: id.cert_path[0] ? id.cert_path
					  : state_dir,
			pn_strerror(r), pn_errname(r));
		goto out;
	}
	si = pn_client_user_load(state_dir, id.ci.user, &ur);
	if (!(o = json_object()) || !(g = json_array())) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < id.ci.ngroups; i++)
		json_array_append_new(g, json_string(id.ci.groups[i]));
	json_object_set_new(o, "user", json_string(id.ci.user));
	json_object_set(o, "groups", g);
	json_object_set(o, "signed_in", si ? si : json_null());
	print_who(o, out);
	fprintf(out, "credential expires in %llds\n",
		(long long)id.ci.not_after - (long long)pn_wall_s());
out:
	json_decref(o);
	json_decref(g);
	json_decref(si);
	pn_node_ident_free(&id);
	return r;
}
