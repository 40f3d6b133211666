/* The headless client runtime; see run.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "client/proxy.h"
#include "client/run.h"
#include "client/socks5.h"
#include "client/tunnels.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/fdlimit.h"
#include "core/log.h"
#include "ctlapi/relays.h"
#include "core/secret.h"
#include "ctlapi/ctlapi.h"
#include "node/node.h"
#include "relay/rclient.h"
#include "trust/acl.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "trust/util.h"


struct rt {
	uv_loop_t loop;
	const struct pn_client_opts *o;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct pn_node_ident id; /* CA pin, key, credential (node/ident.h) */
	uint64_t acl_version;
	struct pn_ctuns *tuns;
	struct pn_proxy *proxy;
	struct pn_transparent *tp;
	struct pn_node_ctl ctl;
	struct pn_node *node; /* renewal and push (node/node.h) */
	uv_pipe_t ctlsock;
	int ctlsock_open;
	unsigned renewals;
	uv_signal_t sigint, sigterm;
	int stopping;
	int64_t started_ms;
};

static void stop(struct rt *rt);

/* A file of the state directory (small; key bytes are wiped when freed). */
static int read_file(const char *dir, const char *name, size_t max, char **out, size_t *outlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return pn_trust_read_file(path, max, out, outlen);
}

/* Verify acl.bin-style bytes and install them if not older than what runs. */
static int install_acl(struct rt *rt, const uint8_t *bytes, size_t len)
{
	struct pn_acl acl;
	int r;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	if ((r = pn_acl_verify(rt->id.anchor, bytes, len, (uint64_t)pn_wall_s(), &acl)) != 0 ||
	    (r = pn_acl_check_holder(&acl, &rt->id.ci)) != 0)
		goto out;
	if (acl.kind != PN_ACL_CLIENT) {
		r = PN_E_WRONG_TYPE;
		goto out;
	}
	if (acl.version < rt->acl_version) {
		r = PN_E_STALE_VERSION;
		goto out;
	}
	rt->acl_version = acl.version;
	r = pn_ctuns_set_acl(rt->tuns, &acl, bytes, len);
out:
	if (r != 0)
		PN_LOG_WARN("client", "acl_rejected", "err=%s", pn_errname(r));
	pn_acl_fini(&acl);
	return r;
}

static int load_acl_file(struct rt *rt)
{
	char *buf;
	size_t len;
	int r = read_file(rt->o->state_dir, "acl.bin", PN_ACL_MAX_BYTES, &buf, &len);

	if (r != 0)
		return r;
	r = install_acl(rt, (const uint8_t *)buf, len);
	free(buf);
	return r;
}

static void relay_skipped(size_t index, const char *name, int err, const char *why, void *arg)
{
	(void)arg;
	PN_LOG_ERROR("client", "relay_skipped", "index=%zu relay=%s err=%s why=\"%s\"", index,
		     name, pn_errname(err), why);
}

/* relays.json through the shared parser (ctlapi/relays.h): a bad entry is
 * skipped with its reason, the other relays are used. */
static int load_relays(struct rt *rt)
{
	struct pn_relay_entry ents[PN_RELAYS_MAX];
	char *text;
	size_t len, n = 0, added = 0;
	int r = read_file(rt->o->state_dir, "relays.json", 1u << 20, &text, &len);

	if (r != 0)
		return r;
	r = pn_relays_parse_json(text, len, ents, PN_RELAYS_MAX, &n, relay_skipped, NULL);
	free(text);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct pn_relay_entry *e = &ents[i];

		r = pn_ctuns_add_relay(rt->tuns, *e->name ? e->name : "relay",
				       *e->udp ? e->udp : NULL, *e->tls ? e->tls : NULL,
				       *e->ws ? e->ws : NULL);
		if (r != 0)
			relay_skipped(e->index, *e->name ? e->name : "?", r,
				      "the relay client cannot use it (see relay_invalid)", NULL);
		else
			added++;
	}
	return added > 0 || rt->o->ndirects > 0 ? 0 : PN_E_CONFIG;
}

static int add_directs(struct rt *rt)
{
	for (unsigned i = 0; i < rt->o->ndirects; i++) {
		const char *spec = rt->o->directs[i], *eq = strchr(spec, '=');
		char idhex[PN_ID_HEX_LEN + 1];
		uint8_t id[PN_ID_LEN];
		struct sockaddr_storage ss;
		int r;

		if (!eq || eq - spec != PN_ID_HEX_LEN)
			return PN_E_CONFIG;
		memcpy(idhex, spec, PN_ID_HEX_LEN);
		idhex[PN_ID_HEX_LEN] = '\0';
		/* the one address:port parser: a literal IPv4 or [IPv6] address */
		if (pn_id_parse(idhex, id) != 0 || pn_addr_parse(eq + 1, &ss, 0) != 0)
			return PN_E_CONFIG;
		if ((r = pn_ctuns_add_direct(rt->tuns, id, (struct sockaddr *)&ss)) != 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------- renewal and push (node) -- */

/* A renewed credential: new tunnels and relay connections present it. */
static int h_credential(void *user, const char *cert_pem, const struct pn_cred_info *ci)
{
	struct rt *rt = user;

	(void)ci;
	return pn_ctuns_set_credential(rt->tuns, cert_pem, rt->id.key_pem);
}

/* Adopted (rt->id updated): the renewal also rewrote acl.bin. */
static void h_adopted(void *user)
{
	struct rt *rt = user;

	rt->renewals++;
	load_acl_file(rt);
	PN_LOG_INFO("client", "credential_renewed", "not_after=%llu renewals=%u",
		    (unsigned long long)rt->id.ci.not_after, rt->renewals);
}

static void h_policy(void *user, const struct pn_ctlapi_event *ev)
{
	struct rt *rt = user;

	if (!rt->stopping && ev->acl && ev->acl_len && ev->version != rt->acl_version)
		install_acl(rt, ev->acl, ev->acl_len);
}

/* Our credential is revoked: nothing may be carried any more. */
static void h_revoked(void *user)
{
	stop(user);
}

/* ------------------------------------------------------ control socket -- */

static char *status_json(struct rt *rt)
{
	json_t *o = json_object(), *tun = pn_ctuns_status(rt->tuns),
	       *px = pn_proxy_status(rt->proxy);
	char id[PN_ID_HEX_LEN + 1], *s = NULL;

	if (!o || !tun || !px)
		goto out;
	pn_id_hex(rt->id.ci.id, id);
	json_object_set_new(o, "client_id", json_string(id));
	json_object_set_new(o, "name", json_string(rt->id.ci.name));
	json_object_set_new(o, "user", json_string(rt->id.ci.user));
	json_object_set_new(o, "credential_not_after",
			    json_integer((json_int_t)rt->id.ci.not_after));
	json_object_set_new(o, "renewals", json_integer(rt->renewals));
	json_object_set_new(o, "acl_version", json_integer((json_int_t)rt->acl_version));
	json_object_set_new(o, "relay_paths", json_true());
	json_object_set_new(o, "uptime_s", json_integer((pn_wall_ms() - rt->started_ms) / 1000));
	json_object_set(o, "tunnels", tun);
	json_object_set(o, "proxy", px);
	if (rt->tp)
		json_object_set_new(o, "transparent", pn_transparent_status(rt->tp));
	s = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	json_decref(tun);
	json_decref(px);
	return s;
}

struct ctlconn {
	uv_pipe_t pipe;
	uv_write_t w;
	char *doc;
};

static void ctlconn_closed(uv_handle_t *h)
{
	struct ctlconn *cc = h->data;

	free(cc->doc);
	free(cc);
}

static void ctlconn_written(uv_write_t *w, int status)
{
	struct ctlconn *cc = w->data;

	(void)status;
	uv_close((uv_handle_t *)&cc->pipe, ctlconn_closed);
}

static void on_ctl_connection(uv_stream_t *server, int status)
{
	struct rt *rt = server->data;
	struct ctlconn *cc;
	uv_buf_t b;

	if (status < 0 || !(cc = calloc(1, sizeof(*cc))))
		return;
	uv_pipe_init(&rt->loop, &cc->pipe, 0);
	cc->pipe.data = cc;
	cc->w.data = cc;
	if (uv_accept(server, (uv_stream_t *)&cc->pipe) != 0 || !(cc->doc = status_json(rt))) {
		uv_close((uv_handle_t *)&cc->pipe, ctlconn_closed);
		return;
	}
	/* One request, one answer: the document, then close. */
	b = uv_buf_init(cc->doc, (unsigned)strlen(cc->doc));
	if (uv_write(&cc->w, (uv_stream_t *)&cc->pipe, &b, 1, ctlconn_written) != 0)
		uv_close((uv_handle_t *)&cc->pipe, ctlconn_closed);
}

static int ctlsock_start(struct rt *rt)
{
	int r;

	unlink(rt->sock_path); /* a stale socket from a killed client */
	if ((r = uv_pipe_init(&rt->loop, &rt->ctlsock, 0)) != 0)
		return r;
	rt->ctlsock.data = rt;
	rt->ctlsock_open = 1;
	if ((r = uv_pipe_bind(&rt->ctlsock, rt->sock_path)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&rt->ctlsock, 16, on_ctl_connection)) != 0)
		return r;
	/* Status shows ids and destinations: owner only. */
	chmod(rt->sock_path, 0600);
	return 0;
}

/* ------------------------------------------------------------ lifetime -- */

static void proxy_closed(void *arg)
{
	struct rt *rt = arg;

	rt->proxy = NULL;
	pn_ctuns_close(rt->tuns, NULL, NULL);
	rt->tuns = NULL;
}

static void stop(struct rt *rt)
{
	if (rt->stopping)
		return;
	rt->stopping = 1;
	PN_LOG_INFO("client", "stopping", "%s", "");
	pn_transparent_stop(rt->tp, NULL, NULL); /* host DNS and kernel rules back first */
	rt->tp = NULL;
	if (rt->node)
		pn_node_close(rt->node, NULL, NULL);
	rt->node = NULL;
	uv_close((uv_handle_t *)&rt->sigint, NULL);
	uv_close((uv_handle_t *)&rt->sigterm, NULL);
	if (rt->ctlsock_open) {
		uv_close((uv_handle_t *)&rt->ctlsock, NULL);
		unlink(rt->sock_path);
	}
	if (rt->proxy)
		pn_proxy_close(rt->proxy, proxy_closed, rt);
	else if (rt->tuns)
		proxy_closed(rt);
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)signum;
	stop(s->data);
}

static int start(struct rt *rt)
{
	const struct pn_client_opts *o = rt->o;
	struct pn_ctuns_config tc;
	const char *failed;
	int r;

	snprintf(rt->sock_path, sizeof(rt->sock_path), "%s/%s", o->state_dir, PN_CLIENT_SOCK_NAME);
	r = pn_node_ident_load(&rt->id, PN_CRED_CLIENT, o->state_dir, NULL, NULL, NULL,
			       (uint64_t)pn_wall_s(), &failed);
	if (r == 0 && !rt->id.ci_valid)
		r = rt->id.verify_err; /* the client needs a valid credential to start */
	if (r != 0) {
		PN_LOG_ERROR("client", "state_invalid", "file=%s err=%s",
			     failed ? strrchr(failed, '/') + 1 : "cert.pem", pn_errname(r));
		return r;
	}
	memset(&tc, 0, sizeof(tc));
	tc.loop = &rt->loop;
	tc.anchor = rt->id.anchor;
	tc.key = rt->id.key;
	tc.ca_pem = rt->id.ca_pem;
	tc.cert_pem = rt->id.cert_pem;
	tc.key_pem = rt->id.key_pem;
	tc.transports = o->transports;
	tc.idle_ms = o->idle_ms;
	tc.max_flows = o->max_flows;
	tc.wss_ca_file = o->wss_ca;
	memcpy(&tc.salt, rt->id.ci.id, sizeof(tc.salt));
	if ((r = pn_ctuns_new(&tc, &rt->tuns)) != 0) {
		PN_LOG_ERROR("client", "start_failed", "what=tunnels err=%s", pn_errname(r));
		return r;
	}
	if ((r = load_acl_file(rt)) != 0) {
		PN_LOG_ERROR("client", "state_invalid", "file=acl.bin err=%s", pn_errname(r));
		return r;
	}
	if ((r = add_directs(rt)) != 0) {
		PN_LOG_ERROR("client", "bad_option", "what=--direct err=%s", pn_errname(r));
		return r;
	}
	if ((r = load_relays(rt)) != 0 && rt->o->ndirects == 0) {
		PN_LOG_ERROR("client", "state_invalid", "file=relays.json err=%s", pn_errname(r));
		return r;
	}
	if ((r = pn_proxy_new(&rt->loop, rt->tuns, &rt->proxy)) != 0)
		return r;
	for (unsigned i = 0; i < o->nsocks; i++)
		if ((r = pn_proxy_add_socks(rt->proxy, o->socks[i])) != 0)
			return r;
	for (unsigned i = 0; i < o->nforwards; i++)
		if ((r = pn_proxy_add_forward(rt->proxy, o->forwards[i])) != 0)
			return r;
	if (o->transparent) {
		struct pn_transparent_opts to = o->topts;
		to.state_dir = o->state_dir;
		if ((r = pn_transparent_start(&rt->loop, rt->tuns, rt->proxy, &to, &rt->tp)) != 0)
			return r;
	}
	if ((r = ctlsock_start(rt)) != 0) {
		PN_LOG_ERROR("client", "start_failed", "what=control_socket path=%s err=%s",
			     rt->sock_path, uv_strerror(r));
		return r;
	}
	if (!o->offline) {
		if ((r = pn_node_ctl_open(o->state_dir, &rt->ctl)) != 0) {
			PN_LOG_WARN("client", "controller_unconfigured",
				    "err=%s (no renewal, no policy updates)", pn_errname(r));
		} else {
			struct pn_node_config nc = {0};

			nc.loop = &rt->loop;
			nc.module = "client";
			nc.ident = &rt->id;
			nc.ctl = rt->ctl;
			nc.subscribe = 1;
			nc.renew.cap_ms = (uint64_t)o->renew_s * 1000;
			nc.hooks.credential = h_credential;
			nc.hooks.adopted = h_adopted;
			nc.hooks.policy = h_policy;
			nc.hooks.revoked = h_revoked;
			nc.user = rt;
			if ((r = pn_node_new(&nc, &rt->node)) != 0)
				PN_LOG_WARN("client", "subscribe_failed", "err=%s", pn_errname(r));
		}
	}
	PN_LOG_INFO("client", "started",
		    "name=%s not_after=%llu acl_version=%llu socks=%u forwards=%u max_flows=%u "
		    "fd_limit=%llu",
		    rt->id.ci.name, (unsigned long long)rt->id.ci.not_after,
		    (unsigned long long)rt->acl_version, o->nsocks, o->nforwards,
		    o->max_flows ? o->max_flows : PN_TEP_MAX_FLOWS_DEFAULT,
		    (unsigned long long)pn_fdlimit_soft());
	return 0;
}

int pn_client_run(const struct pn_client_opts *o)
{
	struct rt *rt = calloc(1, sizeof(*rt));
	int r;

	if (!rt)
		return -ENOMEM;
	rt->o = o;
	rt->started_ms = pn_wall_ms();
	signal(SIGPIPE, SIG_IGN);
	if ((r = uv_loop_init(&rt->loop)) != 0) {
		free(rt);
		return r;
	}
	uv_signal_init(&rt->loop, &rt->sigint);
	uv_signal_init(&rt->loop, &rt->sigterm);
	rt->sigint.data = rt->sigterm.data = rt;
	uv_signal_start(&rt->sigint, on_signal, SIGINT);
	uv_signal_start(&rt->sigterm, on_signal, SIGTERM);

	r = start(rt);
	if (r != 0)
		stop(rt);
	uv_run(&rt->loop, UV_RUN_DEFAULT);
	uv_loop_close(&rt->loop);
	pn_node_ctl_free(&rt->ctl);
	pn_node_ident_free(&rt->id);
	free(rt);
	return r;
}

/* ----------------------------------------------------------------- CLI -- */

int pn_client_status_query(const char *state_dir, char **json)
{
	struct sockaddr_un sa;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, r;

	*json = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", state_dir,
			     PN_CLIENT_SOCK_NAME) >= sizeof(sa.sun_path))
		return PN_E_TOOBIG;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n;
		if (len + 4096 + 1 > cap) {
			char *nb;
			if (cap >= PN_CLIENT_STATUS_MAX) {
				r = PN_E_TOOBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			if (!(nb = realloc(buf, cap))) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		r = PN_E_TRUNCATED;
		goto out;
	}
	buf[len] = '\0';
	*json = buf;
	buf = NULL;
	r = 0;
out:
	close(fd);
	free(buf);
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

int pn_client_status_print(const char *json, FILE *out)
{
	json_error_t jerr;
	json_t *o = json_loads(json, 0, &jerr), *t, *px;
	size_t i;

	if (!json_is_object(o)) {
		json_decref(o);
		return PN_E_MALFORMED;
	}
	fprintf(
	    out,
	    "client %s (%s%s%s)  acl version %lld  credential expires in %llds  renewals %lld\n",
	    jstr(o, "client_id"), jstr(o, "name"), *jstr(o, "user") ? ", user " : "",
	    jstr(o, "user"), jint(o, "acl_version"),
	    jint(o, "credential_not_after") - (long long)pn_wall_s(), jint(o, "renewals"));
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
