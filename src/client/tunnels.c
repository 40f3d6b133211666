/* The client's tunnels: one per connector, connector choice and failover;
 * see tunnels.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/p2p.h"
#include "client/pick.h"
#include "client/tunnels.h"
#include "client/tunnels_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "relay/rpath.h"
#include "trust/cred.h"
#include "trust/dest.h"
#include "trust/policy.h"

/* Requests re-dispatched after failures before giving up (failover). */
#define MAX_DISPATCH 4
/* When every connector of a network is in backoff, a request waits for
 * the earliest retry if it is at most this far away (a connector that is
 * restarting, or not yet registered at the relay at start-up), instead of
 * failing at once.  Backoff doubles, so waiting ends within ~2 s. */
#define WAIT_MAX_MS 1000

static int dispatch(struct pn_ctuns *t, struct pn_creq *r, struct pn_flow **out, unsigned depth);
static void wake_cb(uv_timer_t *h);
static const struct pn_acl_entry *acl_find(const struct pn_acl *acl, unsigned proto,
					   const struct pn_dest *d, uint16_t port);

static struct ctun *ctun_get(struct pn_ctuns *t, const uint8_t id[PN_ID_LEN], int create)
{
	struct ctun *c;

	for (c = t->tuns; c; c = c->next)
		if (!memcmp(c->id, id, PN_ID_LEN))
			return c;
	if (!create || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->owner = t;
	memcpy(c->id, id, PN_ID_LEN);
	pn_id_hex(id, c->idhex);
	c->state = PN_PICK_IDLE;
	c->next = t->tuns;
	t->tuns = c;
	return c;
}

static void waiting_push(struct ctun *c, struct pn_creq *r)
{
	struct pn_creq **pp = &c->waiting;

	while (*pp)
		pp = &(*pp)->next;
	r->next = NULL;
	r->waiting_on = c;
	*pp = r;
	c->nwaiting++;
}

static struct pn_creq *waiting_take_all(struct ctun *c)
{
	struct pn_creq *list = c->waiting;

	c->waiting = NULL;
	c->nwaiting = 0;
	for (struct pn_creq *r = list; r; r = r->next)
		r->waiting_on = NULL;
	return list;
}

/* c's tunnel is going away: keep its byte counts (the metrics are totals). */
void ctun_bank(struct ctun *c, const struct pn_tunnel *tun)
{
	struct pn_tunnel_info info;

	pn_tunnel_info(tun, &info);
	c->bytes_tx_gone += info.bytes_tx;
	c->bytes_rx_gone += info.bytes_rx;
}

/* The tunnel to c is gone or never came up: back off.  Done before its
 * flows are told, so that a flow retrying picks another connector. */
void ctun_mark_failed(struct ctun *c, int err)
{
	struct pn_ctuns *t = c->owner;

	if (c->state == PN_PICK_FAILED && c->last_err == err)
		return; /* already counted (session and tunnel both reported it) */
	c->nfail++;
	c->last_err = err;
	pn_metrics_reason_count(&t->failures, pn_errname(err));
	c->state = PN_PICK_FAILED;
	c->retry_at_ms = uv_now(t->loop) + pn_pick_backoff_ms(c->nfail);
	PN_LOG_WARN("client", "tunnel_failed", "connector=%s err=%s retry_in_ms=%llu", c->idhex,
		    pn_errname(err), (unsigned long long)pn_pick_backoff_ms(c->nfail));
}

/* Hand the requests waiting for c to another connector. */
void ctun_redispatch(struct ctun *c)
{
	struct pn_ctuns *t = c->owner;
	struct pn_creq *list, *r, *next;

	if (t->closing)
		return;
	list = waiting_take_all(c);
	for (r = list; r; r = next) {
		struct pn_flow *f = NULL;
		int rc;

		next = r->next;
		r->next = NULL;
		rc = dispatch(t, r, &f, 1);
		if (rc == 0)
			r->on_flow(r, f);
		else if (rc < 0)
			r->on_fail(r, rc);
	}
}

/* Arm the wake timer for the earliest backoff end among connectors that
 * have requests waiting for them. */
static void wake_arm(struct pn_ctuns *t)
{
	uint64_t now = uv_now(t->loop), best = UINT64_MAX;

	for (struct ctun *c = t->tuns; c; c = c->next)
		if (c->waiting && c->state == PN_PICK_FAILED && !c->sess && !c->tun &&
		    c->retry_at_ms < best)
			best = c->retry_at_ms;
	if (best == UINT64_MAX || t->closing) {
		uv_timer_stop(&t->wake);
		return;
	}
	uv_timer_start(&t->wake, wake_cb, best > now ? best - now : 0, 0);
}

static void wake_cb(uv_timer_t *h)
{
	struct pn_ctuns *t = h->data;
	uint64_t now = uv_now(t->loop);

	for (struct ctun *c = t->tuns; c; c = c->next)
		if (c->waiting && c->state == PN_PICK_FAILED && !c->sess && !c->tun &&
		    now >= c->retry_at_ms)
			ctun_redispatch(c);
	wake_arm(t);
}

void ctun_fail(struct ctun *c, int err)
{
	ctun_mark_failed(c, err);
	ctun_redispatch(c);
}

static void tunnel_state(struct pn_tunnel *tun, enum pn_tunnel_state st, int err, void *user)
{
	struct ctun *c = user;
	struct pn_tunnel_info info;

	if (st == PN_TUNNEL_UP) {
		pn_tunnel_info(tun, &info);
		c->state = PN_PICK_UP;
		c->nfail = 0;
		PN_LOG_INFO("client", "tunnel_up", "connector=%s path=%s", c->idhex,
			    pn_path_kind_name(info.path));
		return;
	}
	if (st != PN_TUNNEL_CLOSED)
		return;
	/* The endpoint frees tun after we return; its flows were closed. */
	ctun_bank(c, tun);
	c->tun = NULL;
	{
		const char *why = "";
		pn_tunnel_end_reason(tun, NULL, &why); /* the connector's reason, or ours */
		PN_LOG_WARN("client", "tunnel_down", "connector=%s err=%s reason=\"%s\"", c->idhex,
			    pn_errname(err), why);
	}
	if (c->sess) {
		struct pn_rsession *s = c->sess;
		c->sess = NULL;
		pn_rsession_close(s); /* the endpoint hears of it (path lost) */
	}
	if (err == 0 || (err == PN_E_TUN_IDLE && c->state == PN_PICK_UP)) {
		/* A clean close, or a tunnel that worked timing out: not
		 * counted against the connector; the next flow opens a new
		 * tunnel (and a dead connector fails that handshake). */
		c->state = PN_PICK_IDLE;
		ctun_redispatch(c);
		return;
	}
	ctun_fail(c, err);
}

static void tunnel_cred(struct pn_tunnel *tun, int code, const char *text, void *user)
{
	struct ctun *c = user;

	(void)tun;
	if (code == PN_FLOW_OK)
		PN_LOG_INFO("client", "tunnel_cred_renewed", "connector=%s", c->idhex);
	else
		PN_LOG_WARN("client", "tunnel_cred_refused", "connector=%s code=%s reason=\"%s\"",
			    c->idhex, pn_flow_code_name(code), text);
}

static const struct pn_tunnel_ops tunnel_ops = {.state = tunnel_state, .cred = tunnel_cred};

static int ctun_start(struct ctun *c)
{
	struct pn_ctuns *t = c->owner;
	struct pn_rrelay *relay;
	int r;

	if (c->direct.ss_family != 0) {
		c->state = PN_PICK_CONNECTING;
		PN_LOG_INFO("client", "tunnel_connecting", "connector=%s path=direct", c->idhex);
		return 0; /* the caller queues its request, then ctun_tunnel_start */
	}
	relay = ctun_relay_choose(t);
	if (!relay)
		return PN_E_NO_CONNECTOR;
	r = pn_rclient_open(t->rc, relay, c->id, t->acl_bytes, t->acl_len, c, &c->sess);
	if (r != 0) {
		c->sess = NULL;
		return r;
	}
	c->state = PN_PICK_CONNECTING;
	PN_LOG_INFO("client", "tunnel_connecting", "connector=%s relay=%s", c->idhex,
		    pn_rrelay_name(relay));
	return 0;
}

static int open_on(struct ctun *c, struct pn_creq *r, struct pn_flow **out)
{
	struct pn_flow_req req;
	const struct pn_acl_entry *e;
	struct pn_dest d;
	int rc;

	memset(&req, 0, sizeof(req));
	req.hdr.kind = r->proto == PN_PROTO_UDP	   ? PN_FLOW_UDP
		       : r->proto == PN_PROTO_ICMP ? PN_FLOW_ICMP
		       : r->proto == 0		   ? PN_FLOW_DNS_MSG
						   : PN_FLOW_TCP;
	req.hdr.port = r->port;
	if (pn_flow_dest_parse(&req.hdr.dest, r->host) != 0 ||
	    pn_dest_parse(r->host, strlen(r->host), &d) != 0)
		return PN_E_MALFORMED;
	/* The list may have changed since the request was queued. */
	e = acl_find(&c->owner->acl, r->proto, &d, r->port);
	if (!e)
		return PN_E_NOT_GRANTED;
	memcpy(req.hdr.resource_id, e->resource_id, PN_FLOW_RESOURCE_ID_LEN);
	rc = pn_flow_open(c->tun, &req, r->ops, r->user, out);
	if (rc == 0) {
		memcpy(r->connector_id, c->id, PN_ID_LEN);
		c->flows_total++;
	}
	return rc;
}

/* Start the QUIC tunnel on a ready relay session s, or on the direct
 * address when s is NULL; then open the waiting flows on it. */
void ctun_tunnel_start(struct ctun *c, struct pn_rsession *s)
{
	struct pn_ctuns *t = c->owner;
	struct pn_tunnel_config tc;
	struct pn_creq *list, *r, *next;
	int rc;

	memset(&tc, 0, sizeof(tc));
	memcpy(tc.connector_id, c->id, PN_ID_LEN);
	tc.acl = t->acl_bytes;
	tc.acl_len = t->acl_len;
	if (s) {
		/* the session is the tunnel's path (relay/rpath.h) */
		if ((rc = pn_rsession_path(s, &tc.path)) != 0) {
			c->sess = NULL;
			pn_rsession_close(s);
			ctun_fail(c, rc);
			return;
		}
	} else
		tc.udp_peer = (const struct sockaddr *)&c->direct;
	tc.ops = &tunnel_ops;
	tc.user = c;
	c->state = PN_PICK_CONNECTING;
	rc = pn_tunnel_open(t->tep, &tc, &c->tun);
	if (rc != 0) {
		c->tun = NULL;
		c->sess = NULL;
		if (s)
			pn_rsession_close(s);
		ctun_fail(c, rc);
		return;
	}
	/* Flows may be opened at once: they wait for the handshake. */
	list = waiting_take_all(c);
	for (r = list; r; r = next) {
		struct pn_flow *f = NULL;

		next = r->next;
		r->next = NULL;
		rc = open_on(c, r, &f);
		if (rc == PN_E_TUN_LIMIT) /* full: another connector may have room */
			rc = dispatch(t, r, &f, 1);
		if (rc == 0)
			r->on_flow(r, f);
		else if (rc < 0)
			r->on_fail(r, rc);
	}
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

int pn_ctuns_new(const struct pn_ctuns_config *cfg, struct pn_ctuns **out)
{
	struct pn_ctuns *t = NULL;
	struct pn_tep_config tc;
	struct pn_rclient_config rc;
	int r;

	*out = NULL;
	if (!cfg || !cfg->loop || !cfg->anchor || !cfg->key || !cfg->cert_pem || !cfg->ca_pem ||
	    !cfg->key_pem)
		return PN_E_INVAL;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->loop = cfg->loop;
	t->key = cfg->key;
	t->salt = cfg->salt;
	t->max_flows = cfg->max_flows ? cfg->max_flows : PN_TEP_MAX_FLOWS_DEFAULT;
	t->transports = cfg->transports ? cfg->transports : PN_RT_ALL;
	pn_acl_init(&t->acl, PN_ACL_CLIENT);
	if ((r = uv_timer_init(cfg->loop, &t->wake)) != 0) {
		free(t);
		return r;
	}
	t->wake.data = t;

	memset(&tc, 0, sizeof(tc));
	tc.loop = cfg->loop;
	tc.role = PN_TEP_CLIENT;
	tc.anchor = cfg->anchor;
	tc.key = cfg->key;
	tc.cert_pem = cfg->cert_pem;
	tc.idle_ms = cfg->idle_ms;
	tc.max_flows = t->max_flows;
	if ((r = pn_tep_new(&tc, &t->tep)) != 0)
		goto out;

	memset(&rc, 0, sizeof(rc));
	rc.mode = PN_RCLIENT_CLIENT;
	rc.ca_pem = cfg->ca_pem;
	rc.cert_pem = cfg->cert_pem;
	rc.key_pem = cfg->key_pem;
	rc.ops = &ctun_rclient_ops;
	rc.user = t;
	rc.wss_ca_file = cfg->wss_ca_file;
	if ((r = pn_rclient_new(cfg->loop, &rc, &t->rc)) != 0)
		goto out;
	*out = t;
	t = NULL;
	r = 0;
out:
	if (t) {
		if (t->tep)
			pn_tep_close(t->tep, NULL, NULL);
		/* The timer handle is live: free t once libuv lets go of it. */
		uv_close((uv_handle_t *)&t->wake, free_on_close);
	}
	return r;
}

static void close_step(void *arg)
{
	struct pn_ctuns *t = arg;

	if (--t->pending_closes > 0)
		return;
	if (t->close_cb)
		t->close_cb(t->close_arg);
	pn_acl_fini(&t->acl);
	free(t->acl_bytes);
	free(t);
}

static void wake_closed(uv_handle_t *h)
{
	close_step(h->data);
}

void pn_ctuns_close(struct pn_ctuns *t, void (*cb)(void *arg), void *arg)
{
	struct ctun *c, *next;

	if (!t)
		return;
	t->closing = 1;
	t->close_cb = cb;
	t->close_arg = arg;
	for (c = t->tuns; c; c = next) {
		struct pn_creq *list = waiting_take_all(c), *r, *rn;

		next = c->next;
		if (c->tun)
			pn_tunnel_close(c->tun, PN_FLOW_OK);
		c->tun = NULL;
		if (c->sess)
			pn_rsession_close(c->sess); /* its path is released */
		c->sess = NULL;
		for (r = list; r; r = rn) {
			rn = r->next;
			r->on_fail(r, PN_E_CLOSED);
		}
		free(c);
	}
	t->tuns = NULL;
	t->pending_closes = 3;
	uv_close((uv_handle_t *)&t->wake, wake_closed);
	pn_tep_close(t->tep, close_step, t);
	pn_rclient_close(t->rc, close_step, t);
}

int pn_ctuns_add_direct(struct pn_ctuns *t, const uint8_t connector_id[PN_ID_LEN],
			const struct sockaddr *addr)
{
	struct ctun *c;

	if (!addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return PN_E_INVAL;
	if (!(c = ctun_get(t, connector_id, 1)))
		return -ENOMEM;
	memset(&c->direct, 0, sizeof(c->direct));
	memcpy(&c->direct, addr,
	       addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
	return 0;
}

int pn_ctuns_set_acl(struct pn_ctuns *t, struct pn_acl *acl, const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, bytes, len);
	free(t->acl_bytes);
	t->acl_bytes = copy;
	t->acl_len = len;
	pn_acl_fini(&t->acl);
	t->acl = *acl;
	pn_acl_init(acl, PN_ACL_CLIENT); /* moved: caller's copy is empty */
	for (struct ctun *c = t->tuns; c; c = c->next) {
		if (!c->tun)
			continue;
		int r = pn_tunnel_update_acl(c->tun, copy, len);
		if (r != 0)
			PN_LOG_WARN("client", "acl_update_failed", "connector=%s err=%s", c->idhex,
				    pn_errname(r));
	}
	PN_LOG_INFO("client", "acl_installed", "version=%llu entries=%zu networks=%zu",
		    (unsigned long long)t->acl.version, t->acl.nentries, t->acl.nnetworks);
	return 0;
}

int pn_ctuns_set_credential(struct pn_ctuns *t, const char *cert_pem, const char *key_pem)
{
	int r = pn_rclient_set_credential(t->rc, cert_pem, key_pem);

	if (r == 0)
		r = pn_tep_set_credential(t->tep, t->key, cert_pem);
	/* open tunnels live on under the renewed credential (ops.cred) */
	for (struct ctun *c = t->tuns; r == 0 && c; c = c->next) {
		int e = c->tun ? pn_tunnel_update_cred(c->tun, cert_pem) : 0;
		if (e != 0)
			PN_LOG_WARN("client", "cred_update_failed", "connector=%s err=%s", c->idhex,
				    pn_errname(e));
	}
	return r;
}

/* pn_acl_lookup, and for proto 0 the first entry whose destination
 * matches (any protocol, any port). */
static const struct pn_acl_entry *acl_find(const struct pn_acl *acl, unsigned proto,
					   const struct pn_dest *d, uint16_t port)
{
	if (proto != 0)
		return pn_acl_lookup(acl, proto, d, port);
	for (size_t i = 0; i < acl->nentries; i++)
		if (pn_dest_match(&acl->entries[i].dest, d))
			return &acl->entries[i];
	return NULL;
}

static const struct pn_acl_entry *lookup(const struct pn_ctuns *t, unsigned proto, const char *host,
					 uint16_t port, int *err)
{
	struct pn_dest d;
	const struct pn_acl_entry *e;

	if (pn_dest_parse(host, strlen(host), &d) != 0) {
		*err = PN_E_MALFORMED;
		return NULL;
	}
	e = acl_find(&t->acl, proto, &d, port);
	*err = e ? 0 : PN_E_NOT_GRANTED;
	return e;
}

int pn_ctuns_check(const struct pn_ctuns *t, unsigned proto, const char *host, uint16_t port)
{
	int err;

	lookup(t, proto, host, port, &err);
	return err;
}

const struct pn_acl *pn_ctuns_acl(const struct pn_ctuns *t)
{
	return &t->acl;
}

static int dispatch(struct pn_ctuns *t, struct pn_creq *r, struct pn_flow **out, unsigned depth)
{
	const struct pn_acl_entry *e;
	const struct pn_acl_network *net;
	struct pn_pick_cand cand[PN_ACL_MAX_CONNECTORS];
	struct ctun *cs[PN_ACL_MAX_CONNECTORS];
	uint64_t now = uv_now(t->loop);
	struct ctun *c;
	int err, i;

	if (t->closing)
		return PN_E_CLOSED;
	if (!(e = lookup(t, r->proto, r->host, r->port, &err)))
		return err;
	net = pn_acl_network_find(&t->acl, e->network_id);
	if (!net || net->nconnectors == 0)
		return PN_E_NO_CONNECTOR;
	for (unsigned k = 0; k < net->nconnectors && k < PN_ACL_MAX_CONNECTORS; k++) {
		if (!(cs[k] = ctun_get(t, net->connectors[k], 1)))
			return -ENOMEM;
		memset(&cand[k], 0, sizeof(cand[k]));
		cand[k].state = cs[k]->state;
		cand[k].retry_at_ms = cs[k]->retry_at_ms;
		/* Waiting requests count: they all land on its tunnel. */
		cand[k].flows = cs[k]->nwaiting;
		cand[k].max_flows = t->max_flows;
		if (cs[k]->tun) {
			struct pn_tunnel_info info;
			pn_tunnel_info(cs[k]->tun, &info);
			cand[k].rtt_us = info.rtt_us;
			cand[k].flows += info.flows;
			cand[k].max_flows = info.max_flows;
		}
	}
	if ((i = pn_pick(cand, net->nconnectors, now, t->salt)) < 0) {
		/* All in backoff: wait for the earliest retry if it is near. */
		struct ctun *soon = NULL;
		for (unsigned k = 0; k < net->nconnectors && k < PN_ACL_MAX_CONNECTORS; k++)
			if (cs[k]->state == PN_PICK_FAILED && !cs[k]->sess && !cs[k]->tun &&
			    (!soon || cs[k]->retry_at_ms < soon->retry_at_ms))
				soon = cs[k];
		if (i != PN_E_NO_CONNECTOR || !soon || soon->retry_at_ms > now + WAIT_MAX_MS)
			return i;
		waiting_push(soon, r);
		wake_arm(t);
		return 1;
	}
	c = cs[i];
	if (c->tun)
		return open_on(c, r, out);
	if (depth > MAX_DISPATCH)
		return PN_E_NO_CONNECTOR;
	if (!c->sess) {
		int rc = ctun_start(c);
		if (rc != 0) {
			ctun_fail(c, rc);
			/* ctun_fail re-dispatched nothing of ours (not queued yet):
			 * try the next connector. */
			return dispatch(t, r, out, depth + 1);
		}
		if (c->direct.ss_family != 0) {
			/* No session to wait for: the tunnel exists at once and
			 * the flow opens on it (it waits for the handshake). */
			ctun_tunnel_start(c, NULL);
			if (!c->tun)
				return dispatch(t, r, out, depth + 1);
			return open_on(c, r, out);
		}
	}
	waiting_push(c, r);
	return 1;
}

int pn_ctuns_request(struct pn_ctuns *t, struct pn_creq *r, struct pn_flow **out)
{
	*out = NULL;
	r->next = NULL;
	r->waiting_on = NULL;
	return dispatch(t, r, out, 0);
}

void pn_ctuns_cancel(struct pn_ctuns *t, struct pn_creq *r)
{
	struct ctun *c = r->waiting_on;
	struct pn_creq **pp;

	(void)t;
	if (!c)
		return;
	for (pp = &c->waiting; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			c->nwaiting--;
			break;
		}
	}
	r->next = NULL;
	r->waiting_on = NULL;
}

static const char *state_name(enum pn_pick_state s)
{
	switch (s) {
	case PN_PICK_IDLE: return "idle";
	case PN_PICK_CONNECTING: return "connecting";
	case PN_PICK_UP: return "up";
	case PN_PICK_FAILED: return "failed";
	}
	return "unknown";
}

static const char *transport_name(unsigned tr)
{
	return tr == PN_RT_UDP ? "udp" : tr == PN_RT_TLS ? "tls" : tr == PN_RT_WS ? "ws" : "none";
}

/* The tunnel's current path's Path MTU (docs/tunnel.md, Path MTU). */
static json_t *pmtu_json(const struct pn_tunnel *t)
{
	struct pn_tunnel_info i;

	pn_tunnel_info(t, &i);
	return json_pack("{s:I, s:I, s:s, s:I, s:I, s:I, s:I}", "max_udp_payload",
			 (json_int_t)i.max_udp_payload, "ceiling", (json_int_t)i.pmtu_ceiling,
			 "state", i.pmtu_searching ? "searching" : "done", "probes",
			 (json_int_t)i.pmtu_probes, "probes_lost", (json_int_t)i.pmtu_probes_lost,
			 "black_holes", (json_int_t)i.pmtu_black_holes, "searches",
			 (json_int_t)i.pmtu_searches);
}

json_t *pn_ctuns_status(const struct pn_ctuns *t)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (const struct ctun *c = t->tuns; c; c = c->next) {
		struct pn_tunnel_info info;
		json_t *o;

		memset(&info, 0, sizeof(info));
		if (c->tun)
			pn_tunnel_info(c->tun, &info);
		o = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "connector",
		    c->idhex, "state", state_name(c->state), "path",
		    c->tun ? pn_path_kind_name(info.path) : "none", "relay",
		    c->sess ? pn_rrelay_name(pn_rsession_relay(c->sess)) : "", "relay_transport",
		    c->sess ? transport_name(pn_rsession_transport(c->sess)) : "none", "rtt_us",
		    (json_int_t)info.rtt_us, "bytes_tx", (json_int_t)info.bytes_tx, "bytes_rx",
		    (json_int_t)info.bytes_rx, "flows", (json_int_t)info.flows, "max_flows",
		    (json_int_t)(c->tun ? info.max_flows : t->max_flows), "flows_total",
		    (json_int_t)c->flows_total, "failures", (json_int_t)c->nfail, "last_error",
		    c->last_err ? pn_errname(c->last_err) : "");
		if (o && c->tun) {
			json_object_set_new(o, "p2p", pn_client_p2p_json(c->tun));
			json_object_set_new(o, "pmtu", pmtu_json(c->tun));
		}
		if (!o || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

void pn_ctuns_stats(const struct pn_ctuns *t, struct pn_ctuns_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->failures = &t->failures;
	for (const struct ctun *c = t->tuns; c; c = c->next) {
		struct pn_tunnel_info info;

		st->flows_total += c->flows_total;
		st->bytes_tx += c->bytes_tx_gone;
		st->bytes_rx += c->bytes_rx_gone;
		if (!c->tun)
			continue;
		pn_tunnel_info(c->tun, &info);
		st->bytes_tx += info.bytes_tx;
		st->bytes_rx += info.bytes_rx;
		st->flows_open += info.flows;
		if (c->state != PN_PICK_UP)
			continue;
		st->up++;
		if (info.path <= PN_PATH_RELAY_WS)
			st->paths[info.path]++;
	}
}
