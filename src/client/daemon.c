/* The client daemon.  See daemon.h. */
#include "client/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/metrics.h"
#include "client/proxy.h"
#include "client/status.h"
#include "client/tunnels.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/fdlimit.h"
#include "core/log.h"
#include "core/memtrim.h"
#include "core/metrics_http.h"
#include "ctlapi/relays.h"
#include "node/metrics.h"
#include "node/node.h"
#include "trust/acl.h"
#include "trust/cred.h"

#define RELAYS_FILE_MAX (1u << 20)

struct pn_client {
	uv_loop_t *loop;
	struct pn_client_config cfg;
	struct pn_node_ident id; /* CA pin, key, credential (node/ident.h) */
	uint64_t acl_version;
	struct pn_ctuns *tuns;
	struct pn_proxy *proxy;
	struct pn_transparent *tp; /* transparent mode, or NULL */
	struct pn_client_statsock *sock;
	struct pn_mhttp *metrics;
	struct pn_node_ctl ctl; /* cfg.ctl, or opened here (own_ctl) */
	int own_ctl;
	struct pn_node *node; /* renewal and push (node/node.h) */
	json_t *signed_in;    /* from user.json, or NULL */
	int stopping, pending;
	int64_t started_ms;
	void (*close_cb)(void *);
	void *close_arg;
};

/* ------------------------------------------------------------ state -- */

/* Verify acl.bin-style bytes and install them if not older than what runs. */
static int install_acl(struct pn_client *c, const uint8_t *bytes, size_t len)
{
	struct pn_acl acl;
	int r;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	if ((r = pn_acl_verify(c->id.anchor, bytes, len, (uint64_t)pn_wall_s(), &acl)) != 0 ||
	    (r = pn_acl_check_holder(&acl, &c->id.ci)) != 0)
		goto out;
	if (acl.kind != PN_ACL_CLIENT) {
		r = PN_E_WRONG_TYPE;
		goto out;
	}
	if (acl.version < c->acl_version) {
		r = PN_E_STALE_VERSION;
		goto out;
	}
	c->acl_version = acl.version;
	r = pn_ctuns_set_acl(c->tuns, &acl, bytes, len);
	if (r == 0)
		pn_transparent_acl_changed(c->tp); /* routed CIDRs follow the list */
out:
	if (r != 0)
		PN_LOG_WARN("client", "acl_rejected", "err=%s", pn_errname(r));
	pn_acl_fini(&acl);
	return r;
}

static int load_acl_file(struct pn_client *c)
{
	char *buf;
	size_t len;
	int r = pn_file_read_at(c->cfg.state_dir, "acl.bin", PN_ACL_MAX_BYTES, &buf, &len);

	if (r != 0)
		return r;
	r = install_acl(c, (const uint8_t *)buf, len);
	free(buf);
	return r;
}

static void relay_skipped(size_t index, const char *name, int err, const char *why, void *arg)
{
	(void)arg;
	PN_LOG_ERROR("client", "relay_skipped", "index=%zu relay=%s err=%s why=\"%s\"", index, name,
		     pn_errname(err), why);
}

/* A relay list (relays.json, or pushed) through the shared parser
 * (ctlapi/relays.h): a bad entry is skipped with its reason, the other
 * relays are used. */
static int apply_relays(struct pn_client *c, const char *text, size_t len)
{
	struct pn_relay_entry ents[PN_RELAYS_MAX];
	size_t n = 0;
	int r = pn_relays_parse_json(text, len, ents, PN_RELAYS_MAX, &n, relay_skipped, NULL);

	if (r != 0)
		return r;
	(void)pn_ctuns_set_relays(c->tuns, ents, n, relay_skipped); /* the others are used */
	return 0;
}

static int load_relays(struct pn_client *c)
{
	char *text;
	size_t len;
	int r = pn_file_read_at(c->cfg.state_dir, "relays.json", RELAYS_FILE_MAX, &text, &len);

	if (r != 0)
		return r;
	r = apply_relays(c, text, len);
	free(text);
	if (r != 0)
		return r;
	return pn_ctuns_nrelays(c->tuns) > 0 || c->cfg.ndirects > 0 ? 0 : PN_E_CONFIG;
}

static int add_directs(struct pn_client *c)
{
	for (unsigned i = 0; i < c->cfg.ndirects; i++) {
		const char *spec = c->cfg.directs[i], *eq = strchr(spec, '=');
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
		if ((r = pn_ctuns_add_direct(c->tuns, id, (struct sockaddr *)&ss)) != 0)
			return r;
	}
	return 0;
}

/* Who signed in (user.json), for status; absent for a service account. */
static void load_user(struct pn_client *c)
{
	int r;

	c->signed_in = pn_client_user_load(c->cfg.state_dir, c->id.ci.user, &r);
	if (r != 0 && r != -ENOENT)
		PN_LOG_WARN("client", "user_ignored", "file=user.json err=%s", pn_errname(r));
}

/* ------------------------------------------- renewal and push (node) -- */

/* A renewed credential: new tunnels and relay connections present it. */
static int h_credential(void *user, const char *cert_pem, const struct pn_cred_info *ci)
{
	struct pn_client *c = user;

	(void)ci;
	if (c->stopping)
		return PN_E_CLOSED;
	return pn_ctuns_set_credential(c->tuns, cert_pem, c->id.key_pem);
}

/* Adopted (c->id updated): the renewal also rewrote acl.bin. */
static void h_adopted(void *user)
{
	struct pn_client *c = user;
	struct pn_node_stats st;

	if (c->stopping)
		return;
	load_acl_file(c);
	pn_node_stats(c->node, &st);
	PN_LOG_INFO("client", "credential_renewed", "not_after=%llu renewals=%u",
		    (unsigned long long)c->id.ci.not_after, st.renewals);
}

static void h_policy(void *user, const struct pn_ctlapi_event *ev)
{
	struct pn_client *c = user;
	int r;

	if (c->stopping)
		return;
	if (ev->acl && ev->acl_len && ev->version != c->acl_version)
		install_acl(c, ev->acl, ev->acl_len);
	/* relays added or removed at the controller: used from now on */
	if (ev->relays_json && (r = apply_relays(c, ev->relays_json, strlen(ev->relays_json))))
		PN_LOG_WARN("client", "relays_push", "version=%llu err=%s",
			    (unsigned long long)ev->version, pn_errname(r));
}

/* Our credential is revoked: nothing may be carried any more. */
static void h_revoked(void *user)
{
	struct pn_client *c = user;

	if (c->stopping)
		return;
	PN_LOG_ERROR("client", "stopped", "err=%s (log in again: postern client login)",
		     pn_errname(PN_E_NODE_REVOKED));
	if (c->cfg.stopped)
		c->cfg.stopped(c->cfg.arg, PN_E_NODE_REVOKED);
	pn_client_close(c, NULL, NULL);
}

static int start_node(struct pn_client *c)
{
	struct pn_node_config nc = {0};
	int r;

	c->ctl = c->cfg.ctl;
	if (!c->ctl.ops) {
		if ((r = pn_node_ctl_open(c->cfg.state_dir, &c->ctl)) != 0) {
			PN_LOG_WARN("client", "controller_unconfigured",
				    "err=%s (no renewal, no policy updates)", pn_errname(r));
			return 0;
		}
		c->own_ctl = 1;
	}
	nc.loop = c->loop;
	nc.module = "client";
	nc.ident = &c->id;
	nc.ctl = c->ctl;
	nc.subscribe = c->ctl.ops->subscribe != NULL;
	nc.renew = c->cfg.renew;
	nc.hooks.credential = h_credential;
	nc.hooks.adopted = h_adopted;
	nc.hooks.policy = h_policy;
	nc.hooks.revoked = h_revoked;
	nc.user = c;
	if ((r = pn_node_new(&nc, &c->node)) != 0)
		PN_LOG_WARN("client", "subscribe_failed", "err=%s", pn_errname(r));
	return 0;
}

/* ----------------------------------------------------------- status -- */

json_t *pn_client_status(const struct pn_client *c)
{
	json_t *o = json_object(), *g = json_array(), *tun = pn_ctuns_status(c->tuns),
	       *px = pn_proxy_status(c->proxy), *res = NULL;
	char id[PN_ID_HEX_LEN + 1];
	struct pn_node_stats st = {0};

	if (!o || !g || !tun || !px)
		goto out;
	if (c->node)
		pn_node_stats(c->node, &st);
	pn_id_hex(c->id.ci.id, id);
	for (unsigned i = 0; i < c->id.ci.ngroups; i++)
		json_array_append_new(g, json_string(c->id.ci.groups[i]));
	json_object_set_new(o, "client_id", json_string(id));
	json_object_set_new(o, "name", json_string(c->id.ci.name));
	json_object_set_new(o, "user", json_string(c->id.ci.user));
	json_object_set(o, "groups", g);
	json_object_set(o, "signed_in", c->signed_in ? c->signed_in : json_null());
	json_object_set_new(o, "credential_not_after",
			    json_integer((json_int_t)c->id.ci.not_after));
	json_object_set_new(o, "renewals", json_integer(st.renewals));
	json_object_set_new(o, "acl_version", json_integer((json_int_t)c->acl_version));
	json_object_set_new(o, "relay_paths", json_true());
	json_object_set_new(o, "uptime_s", json_integer((pn_wall_ms() - c->started_ms) / 1000));
	json_object_set(o, "tunnels", tun);
	json_object_set(o, "proxy", px);
	if (c->tp)
		json_object_set_new(o, "transparent", pn_transparent_status(c->tp));
	res = o;
	o = NULL;
out:
	json_decref(o);
	json_decref(g);
	json_decref(tun);
	json_decref(px);
	return res;
}

static char *status_doc(void *arg)
{
	json_t *o = pn_client_status(arg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/* ------------------------------------------------------------ lifetime -- */

static void finish(struct pn_client *c)
{
	void (*cb)(void *) = c->close_cb;
	void *arg = c->close_arg;

	if (c->own_ctl)
		pn_node_ctl_free(&c->ctl);
	pn_node_ident_free(&c->id);
	json_decref(c->signed_in);
	free(c);
	if (cb)
		cb(arg);
}

static void node_closed(void *arg)
{
	finish(arg);
}

/* The status socket and the traffic are gone: now the runtime (last, as
 * the connector does: never from inside its own push callback). */
static void part_closed(void *arg)
{
	struct pn_client *c = arg;
	struct pn_node *n = c->node;

	if (--c->pending > 0)
		return;
	c->node = NULL;
	if (n)
		pn_node_close(n, node_closed, c);
	else
		finish(c);
}

static void proxy_closed(void *arg)
{
	struct pn_client *c = arg;

	c->proxy = NULL;
	if (c->tuns) {
		pn_ctuns_close(c->tuns, part_closed, c);
		c->tuns = NULL;
		return;
	}
	part_closed(c);
}

void pn_client_close(struct pn_client *c, void (*cb)(void *arg), void *arg)
{
	if (!c || c->stopping)
		return;
	c->stopping = 1;
	c->close_cb = cb;
	c->close_arg = arg;
	PN_LOG_INFO("client", "stopping", "%s", "");
	pn_transparent_stop(c->tp, NULL, NULL); /* host DNS and kernel rules back first */
	c->tp = NULL;
	c->pending = 4; /* status socket, metrics listener, traffic, this function */
	if (c->sock)
		pn_client_statsock_close(c->sock, part_closed, c);
	else
		c->pending--;
	c->sock = NULL;
	pn_mhttp_close(c->metrics, part_closed, c); /* NULL: part_closed at once */
	c->metrics = NULL;
	if (c->proxy)
		pn_proxy_close(c->proxy, proxy_closed, c);
	else
		proxy_closed(c);
	part_closed(c);
}

/* A scrape (core/metrics_http.h), on the loop thread. */
static int collect(struct pn_metrics *m, void *user)
{
	struct pn_client *c = user;
	int r;

	if (c->stopping || !c->tuns || !c->proxy)
		return PN_E_CLOSED;
	if ((r = pn_client_metrics(m, c->tuns, c->proxy, c->acl_version)) != 0)
		return r;
	return pn_node_metrics(m, "client", &c->id, c->node);
}

static int start(struct pn_client *c)
{
	const struct pn_client_config *o = &c->cfg;
	struct pn_ctuns_config tc;
	const char *failed;
	int r;

	r = pn_node_ident_load(&c->id, PN_CRED_CLIENT, o->state_dir, NULL, NULL, NULL,
			       (uint64_t)pn_wall_s(), &failed);
	if (r == 0 && !c->id.ci_valid)
		r = c->id.verify_err; /* the client needs a valid credential to start */
	if (r != 0) {
		PN_LOG_ERROR("client", "state_invalid", "file=%s err=%s",
			     failed ? strrchr(failed, '/') + 1 : "cert.pem", pn_errname(r));
		return r;
	}
	memset(&tc, 0, sizeof(tc));
	tc.loop = c->loop;
	tc.anchor = c->id.anchor;
	tc.key = c->id.key;
	tc.ca_pem = c->id.ca_pem;
	tc.cert_pem = c->id.cert_pem;
	tc.key_pem = c->id.key_pem;
	tc.transports = o->transports;
	tc.idle_ms = o->idle_ms;
	tc.max_flows = o->max_flows;
	tc.wss_ca_file = o->wss_ca;
	memcpy(&tc.salt, c->id.ci.id, sizeof(tc.salt));
	if ((r = pn_ctuns_new(&tc, &c->tuns)) != 0) {
		c->tuns = NULL;
		PN_LOG_ERROR("client", "start_failed", "what=tunnels err=%s", pn_errname(r));
		return r;
	}
	if ((r = load_acl_file(c)) != 0) {
		PN_LOG_ERROR("client", "state_invalid", "file=acl.bin err=%s", pn_errname(r));
		return r;
	}
	if ((r = add_directs(c)) != 0) {
		PN_LOG_ERROR("client", "bad_option", "what=--direct err=%s", pn_errname(r));
		return r;
	}
	if ((r = load_relays(c)) != 0 && o->ndirects == 0) {
		PN_LOG_ERROR("client", "state_invalid", "file=relays.json err=%s", pn_errname(r));
		return r;
	}
	load_user(c);
	if ((r = pn_proxy_new(c->loop, c->tuns, &c->proxy)) != 0) {
		c->proxy = NULL;
		PN_LOG_ERROR("client", "start_failed", "what=proxy err=%s", pn_errname(r));
		return r;
	}
	for (unsigned i = 0; i < o->nsocks; i++)
		if ((r = pn_proxy_add_socks(c->proxy, o->socks[i])) != 0)
			return r;
	for (unsigned i = 0; i < o->nforwards; i++)
		if ((r = pn_proxy_add_forward(c->proxy, o->forwards[i])) != 0)
			return r;
	if (o->transparent) {
		struct pn_transparent_opts to = o->topts;

		to.state_dir = o->state_dir;
		/* where systemd-resolved lives, for tests and unusual installs */
		if (!to.resolvectl)
			to.resolvectl = getenv("POSTERN_RESOLVECTL");
		if (!to.resolved_dir)
			to.resolved_dir = getenv("POSTERN_RESOLVED_DIR");
		if ((r = pn_transparent_start(c->loop, c->tuns, c->proxy, &to, &c->tp)) != 0)
			return r;
	}
	if ((r = pn_client_statsock_start(c->loop, o->state_dir, status_doc, c, &c->sock)) != 0) {
		PN_LOG_ERROR("client", "start_failed", "what=control_socket dir=%s err=%s",
			     o->state_dir, pn_errname(r));
		return r;
	}
	if (!o->offline && (r = start_node(c)) != 0)
		return r;
	if (o->metrics_listen && (r = pn_mhttp_start(c->loop, o->metrics_listen, "client", collect,
						     c, &c->metrics)) != 0) {
		PN_LOG_ERROR("client", "start_failed", "what=metrics_listener addr=%s err=%s",
			     o->metrics_listen, pn_errname(r));
		return r;
	}
	PN_LOG_INFO("client", "started",
		    "name=%s not_after=%llu acl_version=%llu socks=%u forwards=%u max_flows=%u "
		    "fd_limit=%llu",
		    c->id.ci.name, (unsigned long long)c->id.ci.not_after,
		    (unsigned long long)c->acl_version, o->nsocks, o->nforwards,
		    o->max_flows ? o->max_flows : PN_TEP_MAX_FLOWS_DEFAULT,
		    (unsigned long long)pn_fdlimit_soft());
	return 0;
}

int pn_client_new(uv_loop_t *loop, const struct pn_client_config *cfg, struct pn_client **out)
{
	struct pn_client *c = calloc(1, sizeof(*c));
	int r;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	pn_memtrim_setup(); /* before any flow: see memtrim.h */
	c->cfg = *cfg;
	c->started_ms = pn_wall_ms();
	if (!cfg->state_dir || strlen(cfg->state_dir) >= PN_NODE_PATH_MAX - 32) {
		r = PN_E_CONFIG;
		PN_LOG_ERROR("client", "bad_option", "what=state err=%s", pn_errname(r));
		goto fail;
	}
	if ((r = start(c)) != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	pn_client_close(c, NULL, NULL); /* frees c once closed */
	return r;
}
