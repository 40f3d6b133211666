/* The connector daemon.  See daemon.h. */
#include "connector/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector/reporter.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/memtrim.h"
#include "core/metrics_http.h"
#include "ctlapi/relays.h"
#include "node/metrics.h"
#include "node/node.h"

#define ACL_FILE_MAX	 (4u << 20)
#define REVOKED_FILE_MAX (4u << 20)
#define RELAYS_FILE_MAX	 (1u << 20)
#define CLIENT_ACLS_MAX	 256

struct pn_connector_daemon {
	uv_loop_t *loop;
	struct pn_connector_daemon_config cfg;
	char acl_path[PN_NODE_PATH_MAX];
	struct pn_node_ident id;
	struct pn_connector *conn;
	struct pn_rclient *rc;
	struct pn_rrelay *relays[PN_CONNECTOR_RELAYS_MAX]; /* rc's, in list order */
	unsigned nrelays;
	struct pn_node_ctl ctl; /* cfg.ctl, or opened here (own_ctl) */
	int own_ctl;
	struct pn_node *node;
	struct pn_reporter *rep;
	struct pn_mhttp *metrics;
	int stopping;
	void (*close_cb)(void *);
	void *close_arg;
};

static int fail(char *err, size_t errsz, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errsz, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return r;
}

/* ------------------------------------------------------ offline inputs -- */

static void load_client_acls(struct pn_connector_daemon *d)
{
	DIR *dir = opendir(d->cfg.client_acl_dir);
	struct dirent *e;
	char *bufs[CLIENT_ACLS_MAX];
	const uint8_t *cb[CLIENT_ACLS_MAX];
	size_t lens[CLIENT_ACLS_MAX], n = 0;
	int refused;

	if (!dir) {
		PN_LOG_WARN("connector", "client_acls", "dir=%s err=%s", d->cfg.client_acl_dir,
			    pn_errname(-errno));
		return;
	}
	while ((e = readdir(dir)) && n < CLIENT_ACLS_MAX) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".bin"))
			continue;
		if (pn_file_read_at(d->cfg.client_acl_dir, e->d_name, ACL_FILE_MAX, &bufs[n],
				    &lens[n]) == 0) {
			cb[n] = (const uint8_t *)bufs[n];
			n++;
		}
	}
	closedir(dir);
	refused = pn_connector_set_client_acls(d->conn, cb, lens, n, 0, 0);
	PN_LOG_INFO("connector", "client_acls", "loaded=%zu refused=%d", n, refused);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
}

/* One entry a line: a holder id (32 hex) or serial:HEX; # comments
 * (pn_connector_set_revoked_text). */
static int load_revoked(struct pn_connector_daemon *d)
{
	char *text = NULL;
	size_t ni = 0, ns = 0, len;
	int r;

	if ((r = pn_file_read(d->cfg.revoked_path, REVOKED_FILE_MAX, &text, &len)) != 0)
		return r;
	if ((r = pn_connector_set_revoked_text(d->conn, text, &ni, &ns)) == 0)
		PN_LOG_INFO("connector", "revoked", "ids=%zu serials=%zu", ni, ns);
	free(text);
	return r;
}

static void load_acl_file(struct pn_connector_daemon *d, const char *event)
{
	char *acl = NULL;
	size_t len;
	int r;

	if (pn_file_read(d->acl_path, ACL_FILE_MAX, &acl, &len) != 0)
		return;
	if ((r = pn_connector_set_acl(d->conn, (const uint8_t *)acl, len)) != 0)
		PN_LOG_WARN("connector", event, "file=%s err=%s", d->acl_path, pn_errname(r));
	free(acl);
}

void pn_connector_daemon_reload(struct pn_connector_daemon *d)
{
	int r;

	if (d->stopping)
		return;
	load_acl_file(d, "acl_reload");
	if (d->cfg.client_acl_dir)
		load_client_acls(d);
	if (d->cfg.revoked_path && (r = load_revoked(d)) != 0)
		PN_LOG_WARN("connector", "revoked_reload", "file=%s err=%s", d->cfg.revoked_path,
			    pn_errname(r));
}

/* ---------------------------------------------------- runtime hooks -- */

/* A renewed credential: new tunnels and new relay connections use it.
 * Tunnels already open keep theirs (their peers were authenticated at the
 * handshake).  The renewal also rewrote acl.bin. */
static int h_credential(void *user, const char *cert_pem, const struct pn_cred_info *ci)
{
	struct pn_connector_daemon *d = user;
	int r;

	(void)ci;
	if ((r = pn_tep_set_credential(pn_connector_tep(d->conn), d->id.key, cert_pem)) != 0)
		return r;
	if (d->rc && (r = pn_rclient_set_credential(d->rc, cert_pem, d->id.key_pem)) != 0)
		PN_LOG_WARN("connector", "relay_credential", "err=%s", pn_errname(r));
	load_acl_file(d, "acl_reload");
	return 0;
}

static void push_relays(struct pn_connector_daemon *d, const char *json);

static void h_policy(void *user, const struct pn_ctlapi_event *ev)
{
	struct pn_connector_daemon *d = user;
	const uint8_t **acls = calloc(ev->n_client_acls + 1, sizeof(*acls));
	size_t *lens = calloc(ev->n_client_acls + 1, sizeof(*lens));
	const char **ids = calloc(ev->n_revoked + 1, sizeof(char *));
	const char **sers = calloc(ev->n_revoked + 1, sizeof(char *));
	size_t ni = 0, ns = 0;
	int r;

	if (d->stopping)
		goto out;
	if (!acls || !lens || !ids || !sers) {
		/* nothing half-applied: the next push carries the full state */
		PN_LOG_ERROR("connector", "policy_push", "version=%" PRIu64 " err=%s", ev->version,
			     pn_errname(-ENOMEM));
		goto out;
	}
	if (ev->acl && ev->acl_len && (r = pn_connector_set_acl(d->conn, ev->acl, ev->acl_len)))
		PN_LOG_WARN("connector", "acl_push", "err=%s", pn_errname(r));
	for (size_t i = 0; i < ev->n_client_acls; i++) {
		acls[i] = ev->client_acls[i].acl;
		lens[i] = ev->client_acls[i].acl_len;
	}
	/* a complete set: clients absent lose their grants here */
	pn_connector_set_client_acls(d->conn, acls, lens, ev->n_client_acls, 1, ev->version);
	for (size_t i = 0; i < ev->n_revoked; i++) {
		if (ev->revoked[i].holder_id[0])
			ids[ni++] = ev->revoked[i].holder_id;
		if (ev->revoked[i].serial[0])
			sers[ns++] = ev->revoked[i].serial;
	}
	pn_connector_set_revoked(d->conn, ids, ni, sers, ns);
	push_relays(d, ev->relays_json);
	PN_LOG_INFO("connector", "policy_push", "version=%" PRIu64 " clients=%zu revoked=%zu",
		    ev->version, ev->n_client_acls, ev->n_revoked);
out:
	free(acls);
	free(lens);
	free(ids);
	free(sers);
}

/* Our own credential was revoked: no tunnel may be carried any more. */
static void h_revoked(void *user)
{
	struct pn_connector_daemon *d = user;

	if (d->stopping)
		return;
	if (d->cfg.stopping)
		d->cfg.stopping(d->cfg.arg);
	pn_connector_daemon_close(d, NULL, NULL);
}

/* Status report (node.h): our tunnels by path, for the console. */
static void h_status(void *user, struct pn_node_status *st)
{
	struct pn_connector_daemon *d = user;
	struct pn_connector_stats cs = {0};

	if (d->conn)
		pn_connector_stats(d->conn, &cs);
	st->has_paths = 1;
	st->paths_direct = cs.paths_direct;
	st->paths_relay = cs.paths_relay;
}

/* ------------------------------------------------------------- relays -- */

static void relay_skipped(size_t index, const char *name, int err, const char *why, void *arg)
{
	(void)arg;
	PN_LOG_ERROR("connector", "relay_skipped", "index=%zu relay=%s err=%s why=\"%s\"", index,
		     name, pn_errname(err), why);
}

static int new_rclient(struct pn_connector_daemon *d)
{
	struct pn_rclient_config rc = {0};

	rc.mode = PN_RCLIENT_CONNECTOR;
	rc.ca_pem = d->id.ca_pem;
	rc.cert_pem = d->id.cert_pem;
	rc.key_pem = d->id.key_pem;
	rc.wss_ca_file = d->cfg.wss_ca;
	rc.ops = d->cfg.relay_ops;
	rc.user = d->cfg.relay_user;
	return pn_rclient_new(d->loop, &rc, &d->rc);
}

/* The relays to register with: e[0..n).  Relays no longer listed are
 * removed (their sessions end; clients move to another relay), new ones
 * added, the others keep their sessions.  The STUN servers for NAT
 * traversal follow the list. */
static int set_relays(struct pn_connector_daemon *d, const struct pn_relay_entry *e, size_t n)
{
	struct sockaddr_storage stun[PN_CONNECTOR_RELAYS_MAX];
	struct pn_rclient_sync st;
	size_t nstun;
	int r;

	if (!d->rc && (!n || (r = new_rclient(d)) != 0))
		return n ? r : 0;
	r = pn_rclient_sync(d->rc, d->relays, &d->nrelays, PN_CONNECTOR_RELAYS_MAX, e, n, 0, NULL,
			    relay_skipped, &st);
	if (!st.added && !st.removed)
		return r;
	PN_LOG_INFO("connector", "relays", "count=%u added=%u removed=%u failed=%u", d->nrelays,
		    st.added, st.removed, st.failed);
	nstun = pn_rrelay_udp_addrs(d->relays, d->nrelays, stun, PN_CONNECTOR_RELAYS_MAX);
	/* direct paths by NAT traversal on the direct socket, STUN from the relays */
	if ((r = pn_tep_p2p(pn_connector_tep(d->conn), stun, nstun)) != 0)
		PN_LOG_WARN("connector", "p2p_off", "err=%s", pn_errname(r));
	return 0;
}

/* --relay specs, else state/relays.json: both through the shared parser
 * (ctlapi/relays.h).  A bad --relay is an error; a bad list entry is
 * skipped with a log line, the other relays are used. */
static int start_relays(struct pn_connector_daemon *d, char *err, size_t errsz)
{
	const struct pn_connector_daemon_config *cfg = &d->cfg;
	struct pn_relay_entry ents[PN_CONNECTOR_RELAYS_MAX];
	size_t n = 0, len;
	char *json = NULL, path[PN_NODE_PATH_MAX + 16];
	const char *why;
	int r;

	if (cfg->nrelay_specs > PN_CONNECTOR_RELAYS_MAX)
		return fail(err, errsz, PN_E_CONFIG, "at most %d relays", PN_CONNECTOR_RELAYS_MAX);
	for (size_t i = 0; i < cfg->nrelay_specs; i++)
		if (pn_relay_spec_parse(cfg->relay_specs[i], &ents[n++], &why))
			return fail(err, errsz, PN_E_CONFIG, "--relay %s: %s", cfg->relay_specs[i],
				    why);
	if (!cfg->nrelay_specs && cfg->state) {
		snprintf(path, sizeof(path), "%s/relays.json", cfg->state);
		if (pn_file_read(path, RELAYS_FILE_MAX, &json, &len) != 0)
			return 0; /* no relays (a pushed list may bring some) */
		if ((r = pn_relays_parse_json(json, len, ents, PN_CONNECTOR_RELAYS_MAX, &n,
					      relay_skipped, NULL)))
			PN_LOG_ERROR("connector", "relays_invalid", "file=%s err=%s", path,
				     pn_errname(r));
		free(json);
	}
	if ((r = set_relays(d, ents, n)) != 0 && cfg->nrelay_specs)
		return fail(err, errsz, r, "relays: %s", pn_strerror(r));
	return 0;
}

/* A relay list pushed by the controller (already in relays.json); --relay
 * given on the command line wins over it. */
static void push_relays(struct pn_connector_daemon *d, const char *json)
{
	struct pn_relay_entry ents[PN_CONNECTOR_RELAYS_MAX];
	size_t n = 0;
	int r;

	if (!json || d->cfg.nrelay_specs || !d->cfg.state)
		return;
	if ((r = pn_relays_parse_json(json, strlen(json), ents, PN_CONNECTOR_RELAYS_MAX, &n,
				      relay_skipped, NULL)) ||
	    (r = set_relays(d, ents, n)))
		PN_LOG_WARN("connector", "relays_push", "err=%s", pn_errname(r));
}

/* -------------------------------------------------------- lifecycle -- */

static void finish(struct pn_connector_daemon *d)
{
	void (*cb)(void *) = d->close_cb;
	void *arg = d->close_arg;

	if (d->own_ctl)
		pn_node_ctl_free(&d->ctl);
	pn_node_ident_free(&d->id);
	free(d);
	if (cb)
		cb(arg);
}

static void node_closed(void *arg)
{
	finish(arg);
}

/* The reporter (which shares the controller handle with the runtime) is
 * done: now the runtime. */
static void reporter_closed(void *arg)
{
	struct pn_connector_daemon *d = arg;

	d->rep = NULL;
	if (d->node) {
		struct pn_node *n = d->node;
		d->node = NULL;
		pn_node_close(n, node_closed, d);
		return;
	}
	finish(d);
}

/* The connector (and its endpoint) has finished closing: now the relay
 * client, and the flow reporter (no flow event can follow), which sends
 * what is queued for up to PN_CONNECTOR_REPORT_STOP_MS. */
static void conn_closed(void *arg)
{
	struct pn_connector_daemon *d = arg;

	if (d->rc)
		pn_rclient_close(d->rc, NULL, NULL);
	d->rc = NULL;
	if (d->rep) {
		pn_reporter_close(d->rep, PN_CONNECTOR_REPORT_STOP_MS, reporter_closed, d);
		return;
	}
	reporter_closed(d);
}

static void metrics_closed(void *arg)
{
	struct pn_connector_daemon *d = arg;
	struct pn_connector *c;

	/* Tunnels first: their CONNECTION_CLOSE may still use relay sessions,
	   and the endpoint forgets its relay paths only when it finishes
	   closing; the relay client (which frees the sessions) closes after. */
	if ((c = d->conn)) {
		d->conn = NULL;
		pn_connector_close(c, conn_closed, d);
		return;
	}
	conn_closed(d);
}

void pn_connector_daemon_close(struct pn_connector_daemon *d, void (*cb)(void *arg), void *arg)
{
	struct pn_mhttp *mh = d ? d->metrics : NULL;

	if (!d || d->stopping)
		return;
	d->stopping = 1;
	d->close_cb = cb;
	d->close_arg = arg;
	d->metrics = NULL;
	/* the listener first: no scrape sees a connector half closed */
	pn_mhttp_close(mh, metrics_closed, d);
}

/* A scrape (core/metrics_http.h), on the loop thread. */
static int collect(struct pn_metrics *m, void *user)
{
	struct pn_connector_daemon *d = user;
	int r;

	if (!d->conn)
		return PN_E_CLOSED;
	if ((r = pn_connector_metrics(d->conn, m)) != 0)
		return r;
	return pn_node_metrics(m, "connector", &d->id, d->node);
}

int pn_connector_daemon_new(uv_loop_t *loop, const struct pn_connector_daemon_config *cfg,
			    struct pn_connector_daemon **out, char *err, size_t errsz,
			    int *cfg_error)
{
	struct pn_connector_daemon *d = calloc(1, sizeof(*d));
	struct pn_connector_config cc;
	struct sockaddr_in any_udp = {.sin_family = AF_INET};
	char *acl = NULL;
	size_t acl_len = 0;
	const char *failed;
	int r;

	*out = NULL;
	*cfg_error = 1;
	if (!d)
		return fail(err, errsz, -ENOMEM, "%s", pn_strerror(-ENOMEM));
	d->loop = loop;
	pn_memtrim_setup(); /* before any flow: see memtrim.h */
	d->cfg = *cfg;
	if (cfg->acl)
		snprintf(d->acl_path, sizeof(d->acl_path), "%s", cfg->acl);
	else if (cfg->state)
		snprintf(d->acl_path, sizeof(d->acl_path), "%s/acl.bin", cfg->state);
	r = pn_node_ident_load(&d->id, PN_CRED_CONNECTOR, cfg->state, cfg->ca, cfg->cert, cfg->key,
			       (uint64_t)time(NULL), &failed);
	if (r == PN_E_WRONG_HOLDER) {
		/* name both files: which certificate, which key */
		r = fail(err, errsz, PN_E_CONN_KEY_MISMATCH,
			 "certificate %s does not match key %s (%s)", d->id.cert_path,
			 d->id.key_path, pn_strerror(PN_E_CONN_KEY_MISMATCH));
		goto fail;
	}
	if (r) {
		if (r == -ENOENT || r == -EACCES || r == PN_E_TOOBIG || r == -EINVAL ||
		    failed == d->id.cert_path)
			fail(err, errsz, r, "cannot read %s: %s", failed ? failed : "?",
			     pn_strerror(r));
		else
			fail(err, errsz, r, "%s %s: %s", failed == d->id.ca_path ? "CA" : "key",
			     failed ? failed : "?", pn_strerror(r));
		goto fail;
	}
	if (!d->acl_path[0] || (r = pn_file_read(d->acl_path, ACL_FILE_MAX, &acl, &acl_len))) {
		r = fail(err, errsz, r ? r : PN_E_CONFIG, "cannot read %s: %s",
			 d->acl_path[0] ? d->acl_path : "(no --acl)",
			 pn_strerror(r ? r : PN_E_CONFIG));
		goto fail;
	}
	d->ctl = cfg->ctl;
	if (!d->ctl.ops && cfg->state) {
		r = pn_node_ctl_open(cfg->state, &d->ctl);
		if (r == -ENOENT) {
			r = 0; /* not enrolled with a controller: files only */
		} else if (r) {
			fail(err, errsz, r, "state %s: %s", cfg->state, pn_strerror(r));
			goto fail;
		} else {
			d->own_ctl = 1;
		}
	}
	*cfg_error = 0;
	if (d->ctl.ops) {
		struct pn_node_config nc = {0};
		struct pn_reporter_config rcfg = {0};

		nc.loop = loop;
		nc.module = "connector";
		nc.ident = &d->id;
		nc.ctl = d->ctl;
		nc.subscribe = d->ctl.ops->subscribe != NULL;
		nc.hooks.credential = h_credential;
		nc.hooks.policy = h_policy;
		nc.hooks.revoked = h_revoked;
		nc.hooks.status = h_status;
		nc.report_status = 1;
		nc.user = d;
		if ((r = pn_node_new(&nc, &d->node)) != 0) {
			fail(err, errsz, r, "controller: %s", pn_strerror(r));
			goto fail;
		}
		if (d->ctl.ops->post_flows) {
			/* one controller request at a time: the reporter yields
			 * the handle to a waiting renewal */
			rcfg.loop = loop;
			rcfg.ctl = d->ctl;
			rcfg.api_busy = pn_node_ctl_busy(d->node);
			rcfg.api_wanted = pn_node_ctl_wanted(d->node);
			if ((r = pn_reporter_new(&rcfg, &d->rep)) != 0) {
				fail(err, errsz, r, "flow reports: %s", pn_strerror(r));
				goto fail;
			}
		}
	}
	memset(&cc, 0, sizeof(cc));
	cc.loop = loop;
	cc.anchor = d->id.anchor;
	cc.key = d->id.key;
	cc.cert_pem = d->id.cert_pem;
	cc.acl = (const uint8_t *)acl;
	cc.acl_len = acl_len;
	/* the direct socket: --listen-udp, else an ephemeral port (NAT traversal) */
	cc.listen_udp = cfg->listen_udp ? cfg->listen_udp : (const struct sockaddr *)&any_udp;
	cc.tunables = cfg->tunables;
	if (d->rep) {
		cc.report = pn_reporter_event;
		cc.report_user = d->rep;
	}
	if ((r = pn_connector_new(&cc, &d->conn)) != 0) {
		*cfg_error = r == PN_E_CONN_KEY_MISMATCH;
		fail(err, errsz, r, "%s", pn_strerror(r));
		goto fail;
	}
	free(acl);
	acl = NULL;
	if ((r = start_relays(d, err, errsz)) != 0) {
		*cfg_error = 1;
		goto fail;
	}
	if (cfg->client_acl_dir)
		load_client_acls(d);
	if (cfg->revoked_path && (r = load_revoked(d)) != 0)
		PN_LOG_WARN("connector", "revoked_load", "file=%s err=%s", cfg->revoked_path,
			    pn_errname(r));
	if (cfg->metrics_listen && (r = pn_mhttp_start(loop, cfg->metrics_listen, "connector",
							 collect, d, &d->metrics)) != 0) {
		fail(err, errsz, r, "metrics listener %s: %s", cfg->metrics_listen,
		     pn_strerror(r));
		goto fail;
	}
	*out = d;
	return 0;
fail:
	free(acl);
	pn_connector_daemon_close(d, NULL, NULL); /* frees d once closed */
	return r;
}

struct pn_connector *pn_connector_daemon_connector(struct pn_connector_daemon *d)
{
	return d->conn;
}

int pn_connector_daemon_udp_port(struct pn_connector_daemon *d)
{
	struct sockaddr_storage ss;

	if (!d->conn || pn_tep_udp_addr(pn_connector_tep(d->conn), &ss) != 0)
		return 0;
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				       : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int pn_connector_daemon_metrics_port(const struct pn_connector_daemon *d)
{
	return pn_mhttp_port(d->metrics);
}
