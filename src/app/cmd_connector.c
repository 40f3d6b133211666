/*
 * postern connector: option parsing, file loading, signals, controller
 * push channel and flow reports.  The work is in src/connector/.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "app/cmds.h"
#include "app/enroll.h"
#include "connector/connector.h"
#include "connector/reporter.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/ctlapi.h"
#include "ctlapi/relays.h"
#include "relay/rpath.h"
#include "trust/cred.h"
#include "trust/key.h"

#define ACL_FILE_MAX (4u << 20)
#define CERT_FILE_MAX 16384
#define REVOKED_MAX 65536
#define RELAYS_MAX 16
#define REPORT_STOP_MS 2000 /* at stop, queued flow reports get this long */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: postern connector run [options]\n"
		"       postern connector enroll --token TOKEN --state DIR\n"
		"\n"
		"The connector sits inside a private network, accepts tunnels from\n"
		"clients, checks every client and every flow against the client's\n"
		"signed access list and its own, and proxies allowed flows.\n"
		"\n"
		"run:\n"
		"  --state DIR          enrolled state (ca.crt, key.pem, cert.pem, acl.bin);\n"
		"                       with controller.json: push channel + flow reports\n"
		"  --ca FILE --cert FILE --key FILE --acl FILE\n"
		"                       the same as separate files (instead of --state)\n"
		"  --listen-udp ADDR:PORT  direct UDP socket for tunnels (e.g. 0.0.0.0:4433)\n"
		"  --relay SPEC         register with a relay (repeatable); SPEC is a comma\n"
		"                       list of tls=HOST:PORT, udp=HOST:PORT, ws=URL, name=N;\n"
		"                       ws=ws://H:P/PATH or wss://H:P/PATH (TLS to a proxy);\n"
		"                       default with --state: the relays in DIR/relays.json\n"
		"  --wss-ca FILE        CA certificates (PEM) for wss:// proxies' certificates\n"
		"                       (default: the system's trust store)\n"
		"  --client-acls DIR    signed client lists (*.bin) applied on start and SIGHUP\n"
		"                       (what the controller pushes; for tests and offline use)\n"
		"  --revoked FILE       revoked credentials, one per line: holder id (32 hex)\n"
		"                       or serial:HEX; applied on start and SIGHUP\n"
		"  --window BYTES       per-flow window and send buffer (default %u)\n"
		"  --max-flows N        concurrent flows per client tunnel (default %u); a\n"
		"                       client whose tunnel is full uses another connector\n"
		"  --log SPEC           log levels, e.g. info or info,tunnel=debug\n"
		"  --log-json           JSON log lines\n"
		"SIGHUP reloads --acl (or DIR/acl.bin), --client-acls and --revoked and\n"
		"closes every open flow the new lists no longer allow.\n"
		"\n"
		"enroll: consume a one-time token from `postern ctl connector add` and\n"
		"  write the state directory.\n",
		PN_TEP_WINDOW_DEFAULT, PN_TEP_MAX_FLOWS_DEFAULT);
}

static char *read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (!f)
		return NULL;
	if (!(buf = malloc(max + 1)))
		goto out;
	n = fread(buf, 1, max + 1, f);
	if (n > max || ferror(f)) {
		free(buf);
		buf = NULL;
		errno = n > max ? EFBIG : EIO;
		goto out;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
out:
	if (!buf) {
		int e = errno ? errno : ENOMEM; /* fclose must not clobber it */
		fclose(f);
		errno = e;
		return NULL;
	}
	fclose(f);
	return buf;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	size_t hl;
	int port;

	if (!colon || colon == s)
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -1;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -1;
}

/* ---------------------------------------------------------------- run -- */

/* The credential must certify the key: otherwise every handshake would
 * fail later.  0, or an error printed naming both files. */
static int check_pair(const struct pn_anchor *anchor, const struct pn_key *k, const char *cert_pem,
		      const char *cert_path, const char *key_path)
{
	struct pn_cred_info ci;
	uint8_t fpr[PN_FPR_LEN];
	char a[PN_FPR_HEX_LEN + 1], b[PN_FPR_HEX_LEN + 1];
	int r;

	/* Any other problem with the credential (expiry, CA, type) is
	 * reported by pn_connector_new. */
	if (pn_cred_verify(anchor, cert_pem, strlen(cert_pem), PN_CRED_CONNECTOR,
			   (uint64_t)time(NULL), PN_TRUST_DEFAULT_SKEW, &ci) != 0)
		return 0;
	if ((r = pn_key_fingerprint(k, fpr)) != 0) {
		fprintf(stderr, "postern connector: key %s: %s\n", key_path, pn_strerror(r));
		return r;
	}
	if (memcmp(fpr, ci.key_fpr, PN_FPR_LEN) != 0) {
		pn_fpr_hex(ci.key_fpr, a);
		pn_fpr_hex(fpr, b);
		fprintf(stderr,
			"postern connector: certificate %s does not match key %s "
			"(certified key %.16s..., key file %.16s...)\n",
			cert_path, key_path, a, b);
		return PN_E_CONN_KEY_MISMATCH;
	}
	return 0;
}

struct run_ctx {
	uv_loop_t *loop;
	struct pn_connector *conn;
	struct pn_rclient *rc;
	uv_signal_t sigint, sigterm, sighup;
	const char *acl_path, *client_acl_dir, *revoked_path;
	struct pn_ctlapi *api;
	struct pn_ctlapi_sub *sub;
	struct pn_reporter *rep;
	int stopping, api_busy, api_wanted; /* ctlapi handle: in use / wanted by renewal */
	/* credential renewal (with a controller) */
	const char *cert_path, *state;
	const struct pn_anchor *anchor;
	const struct pn_key *key;
	char *key_pem;
	uint8_t self_id[PN_ID_LEN], self_fpr[PN_FPR_LEN];
	uint64_t not_before, not_after;
	uint64_t next_try;    /* unix s: no renewal attempt before (after a failure) */
	unsigned renewals;
	int expired_logged;
	uv_timer_t renew_timer;
	uv_work_t renew_work;
	int renew_rc, renewing;
};

static void load_client_acls(struct run_ctx *ctx)
{
	DIR *d = opendir(ctx->client_acl_dir);
	struct dirent *e;
	uint8_t *bufs[256];
	const uint8_t *cb[256];
	size_t lens[256], n = 0;
	int refused;

	if (!d) {
		PN_LOG_WARN("connector", "client_acls", "dir=%s err=%s", ctx->client_acl_dir,
			    strerror(errno));
		return;
	}
	while ((e = readdir(d)) && n < 256) {
		char path[1024];
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ctx->client_acl_dir, e->d_name);
		if ((bufs[n] = (uint8_t *)read_file(path, ACL_FILE_MAX, &lens[n]))) {
			cb[n] = bufs[n];
			n++;
		}
	}
	closedir(d);
	refused = pn_connector_set_client_acls(ctx->conn, cb, lens, n, 0, 0);
	PN_LOG_INFO("connector", "client_acls", "loaded=%zu refused=%d", n, refused);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
}

static int load_revoked(struct run_ctx *ctx)
{
	char *text = read_file(ctx->revoked_path, 4u << 20, NULL), *save = NULL, *line;
	const char **ids, **sers;
	size_t ni = 0, ns = 0;
	int r;

	if (!text)
		return -errno;
	ids = calloc(REVOKED_MAX, sizeof(char *));
	sers = calloc(REVOKED_MAX, sizeof(char *));
	if (!ids || !sers) {
		free(ids);
		free(sers);
		free(text);
		return -ENOMEM;
	}
	for (line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (!strncmp(line, "serial:", 7) && ns < REVOKED_MAX)
			sers[ns++] = line + 7;
		else if (ni < REVOKED_MAX)
			ids[ni++] = line;
	}
	r = pn_connector_set_revoked(ctx->conn, ids, ni, sers, ns);
	PN_LOG_INFO("connector", "revoked", "ids=%zu serials=%zu", ni, ns);
	free(ids);
	free(sers);
	free(text);
	return r;
}

static void reload(struct run_ctx *ctx)
{
	size_t len;
	uint8_t *acl = (uint8_t *)read_file(ctx->acl_path, ACL_FILE_MAX, &len);

	if (acl) {
		int r = pn_connector_set_acl(ctx->conn, acl, len);
		if (r != 0)
			PN_LOG_WARN("connector", "acl_reload", "file=%s err=%s", ctx->acl_path,
				    pn_strerror(r));
		free(acl);
	}
	if (ctx->client_acl_dir)
		load_client_acls(ctx);
	if (ctx->revoked_path)
		load_revoked(ctx);
}

static void on_hup(uv_signal_t *h, int sig)
{
	(void)sig;
	PN_LOG_INFO("connector", "reload", "signal=SIGHUP");
	reload(h->data);
}

static int adopt_cert(struct run_ctx *ctx, const char *how);

static void on_push(const struct pn_ctlapi_event *ev, void *arg)
{
	struct run_ctx *ctx = arg;

	if (ev->kind != PN_CTLAPI_EV_POLICY || ctx->stopping)
		return;
	if (ev->cert_renewed)
		adopt_cert(ctx, "push");
	if (ev->acl && ev->acl_len) {
		int r = pn_connector_set_acl(ctx->conn, ev->acl, ev->acl_len);
		if (r != 0)
			PN_LOG_WARN("connector", "acl_push", "err=%s", pn_strerror(r));
	}
	{
		const uint8_t **acls = calloc(ev->n_client_acls + 1, sizeof(*acls));
		size_t *lens = calloc(ev->n_client_acls + 1, sizeof(*lens));
		if (acls && lens) {
			for (size_t i = 0; i < ev->n_client_acls; i++) {
				acls[i] = ev->client_acls[i].acl;
				lens[i] = ev->client_acls[i].acl_len;
			}
			/* a complete set: clients absent lose their grants here */
			pn_connector_set_client_acls(ctx->conn, acls, lens, ev->n_client_acls, 1,
						     ev->version);
		}
		free(acls);
		free(lens);
	}
	{
		const char **ids = calloc(ev->n_revoked + 1, sizeof(char *));
		const char **sers = calloc(ev->n_revoked + 1, sizeof(char *));
		size_t ni = 0, ns = 0;
		if (ids && sers) {
			for (size_t i = 0; i < ev->n_revoked; i++) {
				if (ev->revoked[i].holder_id[0])
					ids[ni++] = ev->revoked[i].holder_id;
				if (ev->revoked[i].serial[0])
					sers[ns++] = ev->revoked[i].serial;
			}
			pn_connector_set_revoked(ctx->conn, ids, ni, sers, ns);
		}
		free(ids);
		free(sers);
	}
	PN_LOG_INFO("connector", "policy_push", "version=%" PRIu64 " clients=%zu revoked=%zu",
		    ev->version, ev->n_client_acls, ev->n_revoked);
}

/* ---------------------------------------------------------- renewal -- */
/*
 * With a controller the credential (cert.pem) is short-lived.  Two paths
 * renew it, both through ctlapi (the key never leaves key.pem):
 *   - a 1 s tick renews on the thread pool once two thirds of the lifetime
 *     have passed, retrying after a failure every tenth of the lifetime
 *     (1..30 s);
 *   - ctlapi auto-renew in the subscription thread renews past half-life
 *     at each push-stream reconnect and flags the next POLICY event
 *     (independent of the thread pool, which DNS lookups may keep busy).
 * Either way adopt_cert() loads the new cert.pem and hands it to the
 * endpoint (new handshakes) and the relay client (new relay connections).
 * Tunnels already open are not touched: their peers were authenticated at
 * the handshake.  If the credential expires anyway (controller
 * unreachable), cred_expired is logged once, open tunnels keep being
 * served, renewal keeps being tried, and new handshakes fail on the
 * client's side (it refuses an expired connector credential) until a
 * renewal succeeds.
 */

/* Valid connector credential for our own id and key: 0 and *ci. */
static int check_cert(const struct run_ctx *ctx, const char *cert_pem, struct pn_cred_info *ci)
{
	int r = pn_cred_verify(ctx->anchor, cert_pem, strlen(cert_pem), PN_CRED_CONNECTOR,
			       (uint64_t)time(NULL), PN_TRUST_DEFAULT_SKEW, ci);

	if (r == 0 && (memcmp(ci->id, ctx->self_id, PN_ID_LEN) != 0 ||
		       memcmp(ci->key_fpr, ctx->self_fpr, PN_FPR_LEN) != 0))
		r = PN_E_WRONG_HOLDER;
	return r;
}

static void note_validity(struct run_ctx *ctx, const char *cert_pem)
{
	struct pn_cred_info ci;

	if (pn_cred_verify(ctx->anchor, cert_pem, strlen(cert_pem), PN_CRED_CONNECTOR,
			   (uint64_t)time(NULL), PN_TRUST_DEFAULT_SKEW, &ci) == 0) {
		memcpy(ctx->self_id, ci.id, PN_ID_LEN);
		ctx->not_before = pn_cred_issued_at(&ci); /* not the backdated start */
		ctx->not_after = ci.not_after;
	}
	if (pn_key_fingerprint(ctx->key, ctx->self_fpr) != 0)
		memset(ctx->self_fpr, 0, sizeof(ctx->self_fpr));
}

static uint64_t retry_s(const struct run_ctx *ctx)
{
	uint64_t s = (ctx->not_after - ctx->not_before) / 10;

	return s < 1 ? 1 : s > 30 ? 30 : s;
}

/* cert.pem was rewritten by a renewal: use it if it is newer.  0 (adopted
 * or nothing newer) or an error (logged). */
static int adopt_cert(struct run_ctx *ctx, const char *how)
{
	char path[1100], *cert, *acl = NULL;
	struct pn_cred_info ci;
	size_t acl_len = 0;
	int r;

	if (!(cert = read_file(ctx->cert_path, CERT_FILE_MAX, NULL))) {
		PN_LOG_WARN("connector", "renew_failed", "how=%s err=cannot_read_cert", how);
		return -EIO;
	}
	if ((r = check_cert(ctx, cert, &ci)) != 0) {
		PN_LOG_WARN("connector", "renew_failed", "how=%s err=%s", how, pn_errname(r));
		goto out;
	}
	if (ci.not_after <= ctx->not_after)
		goto out; /* the other renewal path got there first */
	/* new tunnels (and relay connections) use the new credential */
	if ((r = pn_tep_set_credential(pn_connector_tep(ctx->conn), ctx->key, cert)) != 0) {
		PN_LOG_WARN("connector", "renew_failed", "how=%s err=%s", how, pn_errname(r));
		goto out;
	}
	if (ctx->rc && (r = pn_rclient_set_credential(ctx->rc, cert, ctx->key_pem)) != 0)
		PN_LOG_WARN("connector", "relay_credential", "err=%s", pn_errname(r));
	ctx->not_before = pn_cred_issued_at(&ci); /* not the backdated start */
	ctx->not_after = ci.not_after;
	ctx->expired_logged = 0;
	ctx->next_try = 0;
	ctx->renewals++;
	/* the renewal also rewrote acl.bin (freshly signed own access list) */
	snprintf(path, sizeof(path), "%s/acl.bin", ctx->state);
	if ((acl = read_file(path, ACL_FILE_MAX, &acl_len)) &&
	    (r = pn_connector_set_acl(ctx->conn, (uint8_t *)acl, acl_len)) != 0)
		PN_LOG_WARN("connector", "acl_reload", "err=%s", pn_strerror(r));
	r = 0;
	PN_LOG_INFO("connector", "cred_renewed", "not_after=%" PRIu64 " how=%s renewals=%u",
		    ctx->not_after, how, ctx->renewals);
out:
	free(cert);
	free(acl);
	return r;
}

static void renew_work(uv_work_t *w)
{
	struct run_ctx *ctx = w->data;

	/* Blocking HTTPS: runs in the thread pool, never on the loop. */
	ctx->renew_rc = pn_ctlapi_renew(ctx->api);
}

static void renew_done(uv_work_t *w, int status)
{
	struct run_ctx *ctx = w->data;
	int r = status ? status : ctx->renew_rc;

	ctx->renewing = 0;
	ctx->api_busy = 0;
	if (ctx->stopping)
		return;
	if (r == 0)
		r = adopt_cert(ctx, "timer");
	else
		PN_LOG_WARN("connector", "renew_failed", "how=timer err=%s retry_s=%" PRIu64,
			    pn_errname(r), retry_s(ctx));
	if (r != 0)
		ctx->next_try = (uint64_t)time(NULL) + retry_s(ctx);
}

/* Every second: note expiry; renew once two thirds of the lifetime have passed. */
static void renew_tick(uv_timer_t *t)
{
	struct run_ctx *ctx = t->data;
	uint64_t now = (uint64_t)time(NULL);

	ctx->api_wanted = 0; /* set again below while a renewal waits for the handle */
	if (ctx->stopping || ctx->not_after <= ctx->not_before)
		return;
	if (now > ctx->not_after && !ctx->expired_logged) {
		ctx->expired_logged = 1;
		PN_LOG_ERROR("connector", "cred_expired",
			     "not_after=%" PRIu64 " (renewal failing: open tunnels continue, "
			     "clients refuse new ones until a renewal succeeds)",
			     ctx->not_after);
	}
	if (ctx->renewing || now < ctx->next_try ||
	    now < ctx->not_before + (ctx->not_after - ctx->not_before) * 2 / 3)
		return;
	if (ctx->api_busy) {
		/* the flow reporter may keep the handle busy back to back
		 * under load: it starts no new request while this is set */
		ctx->api_wanted = 1;
		return;
	}
	ctx->renew_work.data = ctx;
	if (uv_queue_work(ctx->loop, &ctx->renew_work, renew_work, renew_done) == 0)
		ctx->renewing = ctx->api_busy = 1;
}

/* The connector (and its endpoint) has finished closing: now the relay
 * client, and the flow reporter (no flow event can follow), which sends
 * what is queued for up to REPORT_STOP_MS. */
static void conn_closed(void *arg)
{
	struct run_ctx *ctx = arg;

	if (ctx->rc)
		pn_rclient_close(ctx->rc, NULL, NULL);
	ctx->rc = NULL;
	if (ctx->rep)
		pn_reporter_close(ctx->rep, REPORT_STOP_MS, NULL, NULL);
	ctx->rep = NULL;
}

static void on_stop(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;

	if (ctx->stopping)
		return;
	ctx->stopping = 1;
	PN_LOG_INFO("connector", "stopping", "signal=%d", sig);
	if (ctx->sub)
		pn_ctlapi_sub_stop(ctx->sub, NULL);
	ctx->sub = NULL;
	/* Tunnels first: their CONNECTION_CLOSE may still use relay sessions,
	   and the endpoint forgets its relay paths only when it finishes
	   closing; the relay client (which frees the sessions) closes after. */
	pn_connector_close(ctx->conn, conn_closed, ctx);
	ctx->conn = NULL;
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
	uv_close((uv_handle_t *)&ctx->sighup, NULL);
	if (ctx->api)
		uv_close((uv_handle_t *)&ctx->renew_timer, NULL);
	ctx->api_wanted = 0; /* the last flow reports go out */
}

/* ------------------------------------------------------------- relays -- */

/* A client's relay session: hand it to the endpoint as a path
 * (relay/rpath.h); its datagrams and its end go there directly. */
static void r_session_new(struct pn_rsession *s, const uint8_t cid[PN_RELAY_ID_LEN], void *user)
{
	struct run_ctx *ctx = user;
	char hex[PN_ID_HEX_LEN + 1];
	struct pn_path *p;

	pn_id_hex(cid, hex);
	if (ctx->stopping || !ctx->conn || pn_rsession_path(s, &p) != 0 ||
	    pn_tep_accept_path(pn_connector_tep(ctx->conn), p) != 0) {
		pn_rsession_close(s);
		return;
	}
	PN_LOG_DEBUG("connector", "relay_session", "client=%s relay=%s", hex,
		     pn_rrelay_name(pn_rsession_relay(s)));
}

static void r_state(struct pn_rrelay *r, enum pn_rrelay_state st, int err, void *user)
{
	(void)user;
	PN_LOG_INFO("connector", "relay_state", "relay=%s state=%s err=%s", pn_rrelay_name(r),
		    st == PN_RRELAY_READY ? "ready" : st == PN_RRELAY_DOWN ? "down" : "connecting",
		    err ? pn_errname(err) : "-");
}

static const struct pn_rclient_ops relay_ops = {
	.session_new = r_session_new,
	.relay_state = r_state,
};

static void relay_skipped(size_t index, const char *name, int err, const char *why, void *arg)
{
	(void)arg;
	PN_LOG_ERROR("connector", "relay_skipped", "index=%zu relay=%s err=%s why=\"%s\"", index,
		     name, pn_errname(err), why);
}

/* --relay specs, else DIR/relays.json: both through the shared parser
 * (ctlapi/relays.h).  A bad --relay is an error; a bad list entry is
 * skipped with a log line, the other relays are used. */
static int start_relays(struct run_ctx *ctx, const char *ca_pem, const char *cert_pem,
			const char *key_pem, char **specs, size_t nspecs, const char *relays_json,
			const char *wss_ca)
{
	struct pn_rclient_config rc = {0};
	struct pn_relay_entry ents[RELAYS_MAX];
	size_t n = 0, added = 0;
	const char *why;
	int r;

	for (size_t i = 0; i < nspecs; i++)
		if (pn_relay_spec_parse(specs[i], &ents[n++], &why)) {
			fprintf(stderr, "postern connector: --relay %s: %s\n", specs[i], why);
			return PN_E_CONFIG;
		}
	if (!nspecs && relays_json &&
	    (r = pn_relays_parse_json(relays_json, strlen(relays_json), ents, RELAYS_MAX, &n,
				      relay_skipped, NULL)))
		PN_LOG_ERROR("connector", "relays_invalid", "file=relays.json err=%s",
			     pn_errname(r));
	rc.mode = PN_RCLIENT_CONNECTOR;
	rc.ca_pem = ca_pem;
	rc.cert_pem = cert_pem;
	rc.key_pem = key_pem;
	rc.wss_ca_file = wss_ca;
	rc.ops = &relay_ops;
	rc.user = ctx;
	if ((r = pn_rclient_new(ctx->loop, &rc, &ctx->rc)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct pn_rrelay_config c = {0};
		struct pn_rrelay *rr;

		c.name = *ents[i].name ? ents[i].name : NULL;
		c.udp_addr = *ents[i].udp ? ents[i].udp : NULL;
		c.tls_addr = *ents[i].tls ? ents[i].tls : NULL;
		c.ws_url = *ents[i].ws ? ents[i].ws : NULL;
		if ((r = pn_rclient_add_relay(ctx->rc, &c, &rr)) != 0) {
			if (nspecs)
				return r;
			relay_skipped(ents[i].index, *ents[i].name ? ents[i].name : "?", r,
				      "the relay client cannot use it (see relay_invalid)", NULL);
			continue;
		}
		added++;
	}
	PN_LOG_INFO("connector", "relays", "count=%zu", added);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, 0, 's'},
		{"ca", required_argument, 0, 'C'},
		{"cert", required_argument, 0, 'c'},
		{"key", required_argument, 0, 'k'},
		{"acl", required_argument, 0, 'a'},
		{"listen-udp", required_argument, 0, 'u'},
		{"client-acls", required_argument, 0, 'A'},
		{"revoked", required_argument, 0, 'R'},
		{"window", required_argument, 0, 'w'},
		{"max-flows", required_argument, 0, 'm'},
		{"relay", required_argument, 0, 'r'},
		{"wss-ca", required_argument, 0, 3},
		{"log", required_argument, 0, 1},
		{"log-json", no_argument, 0, 2},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *state = NULL, *ca = NULL, *cert = NULL, *key = NULL, *acl = NULL;
	const char *wss_ca = NULL;
	char pa[4][1024];
	struct sockaddr_storage udp;
	int have_udp = 0, c, rc = 2, r;
	struct run_ctx ctx;
	struct pn_connector_config cfg;
	struct pn_anchor *anchor = NULL;
	struct pn_key *k = NULL;
	char *cert_pem = NULL;
	uint8_t *acl_bytes = NULL;
	size_t acl_len = 0;
	unsigned long window = 0;
	char *relay_specs[RELAYS_MAX], *key_pem = NULL, *ca_pem = NULL, *relays_json = NULL;
	size_t nrelays = 0;

	memset(&ctx, 0, sizeof(ctx));
	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'C': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'a': acl = optarg; break;
		case 'A': ctx.client_acl_dir = optarg; break;
		case 'R': ctx.revoked_path = optarg; break;
		case 'w': window = strtoul(optarg, NULL, 0); break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > (1ul << 24)) {
				fprintf(stderr, "postern connector: --max-flows 1..%lu\n", 1ul << 24);
				return 2;
			}
			cfg.tunables.max_flows = (unsigned)v;
			break;
		}
		case 'r':
			if (nrelays == RELAYS_MAX) {
				fprintf(stderr, "postern connector: at most %d relays\n", RELAYS_MAX);
				return 2;
			}
			relay_specs[nrelays++] = optarg;
			break;
		case 'u':
			if (parse_addr(optarg, &udp) != 0) {
				fprintf(stderr, "postern connector: bad --listen-udp %s\n", optarg);
				return 2;
			}
			have_udp = 1;
			break;
		case 1:
			if (pn_log_set_spec(optarg)) {
				fprintf(stderr, "postern connector: bad --log %s\n", optarg);
				return 2;
			}
			break;
		case 2: pn_log_setup(PN_LOG_INFO, PN_LOG_JSON, 2); break;
		case 3: wss_ca = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (state) {
		snprintf(pa[0], sizeof(pa[0]), "%s/ca.crt", state);
		snprintf(pa[1], sizeof(pa[1]), "%s/cert.pem", state);
		snprintf(pa[2], sizeof(pa[2]), "%s/key.pem", state);
		snprintf(pa[3], sizeof(pa[3]), "%s/acl.bin", state);
		ca = ca ? ca : pa[0];
		cert = cert ? cert : pa[1];
		key = key ? key : pa[2];
		acl = acl ? acl : pa[3];
	}
	if (!ca || !cert || !key || !acl) {
		fprintf(stderr, "postern connector run: need --state DIR or --ca --cert --key --acl\n");
		return 2;
	}
	if (!have_udp && !nrelays && !state)
		fprintf(stderr, "postern connector run: no --listen-udp and no --relay: no tunnels\n");
	ctx.acl_path = acl;
	if ((r = pn_anchor_load_file(ca, &anchor)) != 0) {
		fprintf(stderr, "postern connector: CA %s: %s\n", ca, pn_strerror(r));
		goto out;
	}
	if ((r = pn_key_load_pem_file(key, &k)) != 0) {
		fprintf(stderr, "postern connector: key %s: %s\n", key, pn_strerror(r));
		goto out;
	}
	{
		const char *failed = NULL;
		if (!(cert_pem = read_file(cert, CERT_FILE_MAX, NULL)))
			failed = cert;
		else if (!(acl_bytes = (uint8_t *)read_file(acl, ACL_FILE_MAX, &acl_len)))
			failed = acl;
		else if (!(key_pem = read_file(key, CERT_FILE_MAX, NULL)))
			failed = key;
		else if (!(ca_pem = read_file(ca, CERT_FILE_MAX, NULL)))
			failed = ca;
		if (failed) {
			fprintf(stderr, "postern connector: cannot read %s: %s\n", failed,
				strerror(errno));
			goto out;
		}
	}
	if (check_pair(anchor, k, cert_pem, cert, key) != 0)
		goto out;
	ctx.loop = uv_default_loop();
	cfg.loop = ctx.loop;
	cfg.anchor = anchor;
	cfg.key = k;
	cfg.cert_pem = cert_pem;
	cfg.acl = acl_bytes;
	cfg.acl_len = acl_len;
	cfg.listen_udp = have_udp ? (struct sockaddr *)&udp : NULL;
	cfg.tunables.stream_window = window;
	cfg.tunables.stream_sndbuf = window;
	if (state) {
		char cj[1100];
		struct stat st;
		snprintf(cj, sizeof(cj), "%s/controller.json", state);
		if (stat(cj, &st) == 0) {
			if ((r = pn_ctlapi_global_init()) != 0 ||
			    (r = pn_ctlapi_open(state, &ctx.api)) != 0) {
				fprintf(stderr, "postern connector: state %s: %s\n", state,
					pn_strerror(r));
				goto out;
			}
			struct pn_reporter_config rcfg = {0};
			rcfg.loop = ctx.loop;
			rcfg.api = ctx.api;
			rcfg.api_busy = &ctx.api_busy;
			rcfg.api_wanted = &ctx.api_wanted;
			if ((r = pn_reporter_new(&rcfg, &ctx.rep)) != 0) {
				fprintf(stderr, "postern connector: flow reports: %s\n",
					pn_strerror(r));
				rc = 1;
				goto out;
			}
			cfg.report = pn_reporter_event;
			cfg.report_user = ctx.rep;
		}
	}
	rc = 1;
	if ((r = pn_connector_new(&cfg, &ctx.conn)) != 0) {
		fprintf(stderr, "postern connector: %s\n", pn_strerror(r));
		goto out;
	}
	if (state) {
		char rj[1100];
		snprintf(rj, sizeof(rj), "%s/relays.json", state);
		relays_json = read_file(rj, 1u << 20, NULL);
	}
	if ((nrelays || relays_json) &&
	    (r = start_relays(&ctx, ca_pem, cert_pem, key_pem, relay_specs, nrelays, relays_json,
			      wss_ca))) {
		fprintf(stderr, "postern connector: relays: %s\n", pn_strerror(r));
		rc = 2;
		pn_connector_close(ctx.conn, NULL, NULL);
		if (ctx.rc)
			pn_rclient_close(ctx.rc, NULL, NULL);
		uv_run(ctx.loop, UV_RUN_DEFAULT);
		goto out;
	}
	if (ctx.client_acl_dir)
		load_client_acls(&ctx);
	if (ctx.revoked_path && (r = load_revoked(&ctx)) != 0)
		fprintf(stderr, "postern connector: --revoked %s: %s\n", ctx.revoked_path,
			pn_strerror(r));
	if (ctx.api) {
		ctx.state = state;
		ctx.cert_path = cert;
		ctx.anchor = anchor;
		ctx.key = k;
		ctx.key_pem = key_pem;
		note_validity(&ctx, cert_pem);
		uv_timer_init(ctx.loop, &ctx.renew_timer);
		ctx.renew_timer.data = &ctx;
		uv_timer_start(&ctx.renew_timer, renew_tick, 1000, 1000);
		pn_ctlapi_set_auto_renew(ctx.api, 1);
		if ((r = pn_ctlapi_subscribe(ctx.api, ctx.loop, on_push, &ctx, &ctx.sub)) != 0)
			PN_LOG_WARN("connector", "subscribe", "err=%s", pn_strerror(r));
	}
	uv_signal_init(ctx.loop, &ctx.sigint);
	uv_signal_init(ctx.loop, &ctx.sigterm);
	uv_signal_init(ctx.loop, &ctx.sighup);
	ctx.sigint.data = ctx.sigterm.data = ctx.sighup.data = &ctx;
	uv_signal_start(&ctx.sigint, on_stop, SIGINT);
	uv_signal_start(&ctx.sigterm, on_stop, SIGTERM);
	uv_signal_start(&ctx.sighup, on_hup, SIGHUP);
	{
		struct sockaddr_storage ss;
		char a[64] = "-";
		if (pn_tep_udp_addr(pn_connector_tep(ctx.conn), &ss) == 0) {
			int port = ss.ss_family == AF_INET
					   ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
					   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			snprintf(a, sizeof(a), "%d", port);
		}
		PN_LOG_INFO("connector", "ready", "udp_port=%s", a);
	}
	uv_run(ctx.loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	if (ctx.api)
		pn_ctlapi_free(ctx.api);
	if (ctx.rep) { /* started but never ran: nothing queued */
		pn_reporter_close(ctx.rep, 0, NULL, NULL);
		uv_run(ctx.loop, UV_RUN_DEFAULT);
	}
	pn_anchor_free(anchor);
	pn_key_free(k);
	free(cert_pem);
	free(acl_bytes);
	if (key_pem) {
		pn_wipe(key_pem, strlen(key_pem));
		free(key_pem);
	}
	free(ca_pem);
	free(relays_json);
	return rc;
}

int pn_cmd_connector(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "enroll"))
		return pn_app_enroll("connector", argc - 1, argv + 1, usage);
	fprintf(stderr, "postern connector: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
