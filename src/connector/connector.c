/* Connector: tunnel acceptance, access-list and flow checks.  See connector.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector/connector_int.h"
#include "core/err.h"
#include "core/log.h"

int64_t pn_connector_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t unix_now(void)
{
	return (uint64_t)time(NULL);
}

/* ------------------------------------------------------------- events -- */

void pn_connector_flow_event(struct cflow *cf, const char *event, const char *verdict,
			     const char *reason)
{
	struct pn_connector *c = cf->c;
	struct pn_connector_event ev;
	struct pn_tunnel_info ti;
	char cid[PN_ID_HEX_LEN + 1];
	const char *proto = cf->hdr.kind == PN_FLOW_DNS || cf->hdr.kind == PN_FLOW_DNS_MSG ? "dns"
			    : cf->hdr.kind == PN_FLOW_UDP				     ? "udp"
			    : cf->hdr.kind == PN_FLOW_ICMP				     ? "icmp"
											     : "tcp";

	if (strcmp(event, "start") && !cf->ended) {
		cf->ended = 1;
		c->ended_up += cf->up;
		c->ended_down += cf->down;
		/* a bounded key: the policy's reason, or the flow code's name */
		if (!strcmp(event, "deny"))
			pn_metrics_reason_count(&c->denials,
						cf->end_reason[0] ? cf->end_reason : reason);
	}
	memset(&ti, 0, sizeof(ti));
	if (cf->ct && cf->ct->t)
		pn_tunnel_info(cf->ct->t, &ti);
	pn_id_hex(cf->ct ? cf->ct->peer.id : (const uint8_t[PN_ID_LEN]){0}, cid);
	if (!strcmp(event, "deny"))
		PN_LOG_INFO("connector", "flow_deny",
			    "flow=%016" PRIx64 " client=%s user=%s proto=%s dest=%s port=%u "
			    "path=%s reason=\"%s\"",
			    cf->hdr.flow_id, cid, cf->ct ? cf->ct->peer.user : "", proto, cf->dest,
			    cf->hdr.port, pn_path_kind_name(ti.path), reason);
	else
		PN_LOG_INFO("connector", !strcmp(event, "start") ? "flow_start" : "flow_end",
			    "flow=%016" PRIx64 " client=%s user=%s proto=%s dest=%s port=%u "
			    "path=%s verdict=%s reason=\"%s\" bytes_up=%" PRIu64
			    " bytes_down=%" PRIu64,
			    cf->hdr.flow_id, cid, cf->ct ? cf->ct->peer.user : "", proto, cf->dest,
			    cf->hdr.port, pn_path_kind_name(ti.path), verdict, reason, cf->up,
			    cf->down);
	if (!c->cfg.report)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.flow_id = cf->hdr.flow_id;
	ev.client_id = cf->ct ? cf->ct->peer.id : NULL;
	ev.user = cf->ct ? cf->ct->peer.user : "";
	ev.resource_id = cf->hdr.resource_id;
	ev.dest = cf->dest;
	ev.port = cf->hdr.port;
	ev.proto = proto;
	ev.path = pn_path_kind_name(ti.path);
	ev.verdict = verdict;
	ev.reason = reason;
	ev.bytes_up = cf->up;
	ev.bytes_down = cf->down;
	ev.ts_ms = pn_connector_now_ms();
	c->cfg.report(&ev, c->cfg.report_user);
}

/* ------------------------------------------------------------- policy -- */

static int deny_to_code(enum pn_deny d)
{
	switch (d) {
	case PN_ALLOW:
		return PN_FLOW_OK;
	case PN_DENY_BAD_REQUEST:
		return PN_FLOW_BAD_REQUEST;
	case PN_DENY_CRED_WRONG_TYPE:
	case PN_DENY_CRED_NOT_YET_VALID:
	case PN_DENY_CRED_EXPIRED:
	case PN_DENY_CRED_UNTRUSTED:
		return PN_FLOW_CRED;
	case PN_DENY_CLIENT_ACL_WRONG_KIND:
	case PN_DENY_WRONG_HOLDER:
	case PN_DENY_CLIENT_ACL_EXPIRED:
	case PN_DENY_ACL_INVALID:
	case PN_DENY_STALE_VERSION:
		return PN_FLOW_BAD_ACL;
	case PN_DENY_NO_ACL:
		return PN_FLOW_NO_ACL;
	case PN_DENY_REVOKED:
		return PN_FLOW_REVOKED;
	case PN_DENY_INTERNAL:
	case PN_DENY_CONNECTOR_ACL_WRONG_KIND:
	case PN_DENY_CONNECTOR_ACL_EXPIRED:
		return PN_FLOW_INTERNAL;
	default:
		return PN_FLOW_DENIED;
	}
}

/* Is this flow allowed right now?  DNS queries (both kinds): the name must
 * be reachable under some (protocol, port) of a client entry that matches
 * it. */
static enum pn_deny check_flow(struct pn_connector *c, struct ctun *ct, const struct cflow *cf)
{
	uint64_t now = unix_now();

	if (pn_connector_is_revoked(c, &ct->peer))
		return PN_DENY_REVOKED;
	if (!ct->acl_ok)
		return PN_DENY_NO_ACL;
	if (cf->hdr.kind != PN_FLOW_DNS && cf->hdr.kind != PN_FLOW_DNS_MSG)
		return pn_policy_check(&ct->peer, &ct->acl, &c->acl, cf->proto, cf->dest,
				       strlen(cf->dest), cf->hdr.port, now, NULL);
	{
		struct pn_dest d;
		enum pn_deny first = PN_DENY_NOT_IN_CLIENT_ACL;
		if (pn_dest_parse(cf->dest, strlen(cf->dest), &d) != 0)
			return PN_DENY_BAD_REQUEST;
		for (size_t i = 0; i < ct->acl.nentries; i++) {
			const struct pn_acl_entry *e = &ct->acl.entries[i];
			if (!pn_dest_match(&e->dest, &d))
				continue;
			for (unsigned proto = PN_PROTO_TCP; proto <= PN_PROTO_ICMP; proto <<= 1) {
				uint16_t port = proto == PN_PROTO_ICMP ? 0
					      : e->nports   ? e->ports[0].lo
							    : 1;
				enum pn_deny r;
				if (!(e->protos & proto))
					continue;
				r = pn_policy_check_dest(&ct->peer, &ct->acl, &c->acl, proto, &d, port,
							 now, NULL);
				if (r == PN_ALLOW)
					return r;
				first = r;
			}
		}
		return first;
	}
}

void pn_cflow_unlink(struct cflow *cf)
{
	struct ctun *ct = cf->ct;

	if (!ct)
		return;
	if (cf->prev)
		cf->prev->next = cf->next;
	else
		ct->flows = cf->next;
	if (cf->next)
		cf->next->prev = cf->prev;
	cf->next = cf->prev = NULL;
	cf->ct = NULL;
	cf->c->stats.flows--;
}

/* Close every flow of ct that the current lists no longer allow. */
static void reevaluate_tunnel(struct pn_connector *c, struct ctun *ct)
{
	for (struct cflow *cf = ct->flows, *nx; cf; cf = nx) {
		enum pn_deny d;
		nx = cf->next;
		if (cf->released)
			continue;
		d = check_flow(c, ct, cf);
		if (d == PN_ALLOW)
			continue;
		c->stats.flows_revoked++;
		snprintf(cf->end_reason, sizeof(cf->end_reason), "revoked:%s", pn_deny_name(d));
		if (cf->f) {
			struct pn_flow *f = cf->f;
			cf->f = NULL;
			if (cf->st == CF_OPEN) {
				pn_flow_close(f, PN_FLOW_REVOKED);
			} else {
				struct pn_flow_status st;
				pn_flow_status_set(&st, 0, deny_to_code(d), pn_deny_name(d));
				pn_flow_respond(f, &st, NULL, NULL);
			}
		}
		pn_connector_flow_event(cf, "end", "deny", cf->end_reason);
		pn_cflow_release(cf);
	}
}

static void free_ctun(struct pn_connector *c, struct ctun *ct);


static void on_recheck(uv_timer_t *t)
{
	pn_connector_reevaluate_all(t->data);
}

void pn_connector_reevaluate_all(struct pn_connector *c)
{
	for (struct ctun *ct = c->tuns, *nx; ct; ct = nx) {
		nx = ct->next;
		if (pn_connector_is_revoked(c, &ct->peer)) {
			char cid[PN_ID_HEX_LEN + 1];
			pn_id_hex(ct->peer.id, cid);
			PN_LOG_INFO("connector", "tunnel_revoked", "client=%s user=%s", cid,
				    ct->peer.user);
			reevaluate_tunnel(c, ct); /* logs each flow as revoked */
			pn_tunnel_close(ct->t, PN_FLOW_CRED);
			free_ctun(c, ct); /* no tunnel_closed after a local close */
			continue;
		}
		if (unix_now() > ct->peer.not_after + PN_TRUST_DEFAULT_SKEW) {
			/* The client credential this tunnel holds (the handshake's,
			 * or the last renewal the client re-presented: on_cred) has
			 * expired: every flow here would be denied (cred_expired), so
			 * end the tunnel; the client reconnects with its current
			 * credential.  (The tunnel ends itself at that deadline too;
			 * this is the wall clock's check.) */
			char cid[PN_ID_HEX_LEN + 1];
			pn_id_hex(ct->peer.id, cid);
			PN_LOG_INFO("connector", "tunnel_cred_expired",
				    "client=%s user=%s not_after=%" PRIu64, cid, ct->peer.user,
				    ct->peer.not_after);
			reevaluate_tunnel(c, ct); /* logs each open flow's end */
			pn_tunnel_close(ct->t, PN_FLOW_CRED);
			free_ctun(c, ct);
			continue;
		}
		reevaluate_tunnel(c, ct);
	}
}

/* ------------------------------------------------------- tunnel hooks -- */

static void free_ctun(struct pn_connector *c, struct ctun *ct)
{
	while (ct->flows) {
		struct cflow *cf = ct->flows;
		cf->f = NULL;
		pn_cflow_release(cf); /* unlinks */
	}
	if (ct->prev)
		ct->prev->next = ct->next;
	else
		c->tuns = ct->next;
	if (ct->next)
		ct->next->prev = ct->prev;
	c->stats.tunnels--;
	pn_acl_fini(&ct->acl);
	free(ct);
}

static int on_tunnel_new(struct pn_tunnel *t, const struct pn_cred_info *peer, char *why,
			 size_t whysz, void *u)
{
	struct pn_connector *c = u;
	struct ctun *ct = calloc(1, sizeof(*ct));
	char cid[PN_ID_HEX_LEN + 1];

	if (!ct)
		return PN_FLOW_LIMIT;
	ct->c = c;
	ct->t = t;
	ct->peer = *peer;
	pn_acl_init(&ct->acl, PN_ACL_CLIENT);
	ct->next = c->tuns;
	if (c->tuns)
		c->tuns->prev = ct;
	c->tuns = ct;
	c->stats.tunnels++;
	pn_tunnel_set_user(t, ct);
	pn_id_hex(peer->id, cid);
	if (pn_connector_is_revoked(c, peer)) {
		PN_LOG_WARN("connector", "tunnel_refused", "client=%s user=%s reason=revoked", cid,
			    peer->user);
		snprintf(why, whysz, "revoked");
		return PN_FLOW_CRED;
	}
	PN_LOG_INFO("connector", "tunnel_open", "client=%s user=%s name=%s", cid, peer->user,
		    peer->name);
	return PN_FLOW_OK;
}

static int on_acl(struct pn_tunnel *t, const uint8_t *bytes, size_t len, char *why, size_t whysz,
		  void *u)
{
	struct pn_connector *c = u;
	struct ctun *ct = pn_tunnel_user(t);
	struct pn_acl acl;
	char cid[PN_ID_HEX_LEN + 1];
	int r, named = 0;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	r = pn_acl_verify(c->cfg.anchor, bytes, len, unix_now(), &acl);
	if (r == 0 && acl.kind != PN_ACL_CLIENT)
		r = PN_E_WRONG_TYPE;
	if (r == 0)
		r = pn_acl_check_holder(&acl, &ct->peer);
	if (r == 0) {
		for (size_t i = 0; i < acl.nnetworks && !named; i++)
			named = pn_acl_names_connector(&acl, acl.networks[i].network_id, c->self.id);
		if (!named)
			snprintf(why, whysz, "connector_not_named");
	}
	if (r == 0 && named)
		r = pn_acl_gate_check(c->gate, &acl);
	pn_id_hex(ct->peer.id, cid);
	if (r != 0 || !named) {
		if (r != 0)
			snprintf(why, whysz, "%s", pn_deny_name(pn_deny_from_err(r)));
		if (r == PN_E_STALE_VERSION)
			/* older than what this connector knows for the holder:
			 * a list it already replaced, or one from before the
			 * holder's grants here were withdrawn */
			PN_LOG_WARN("connector", "acl_refused",
				    "client=%s user=%s reason=%s version=%" PRIu64
				    " known_version=%" PRIu64,
				    cid, ct->peer.user, why, acl.version,
				    pn_acl_gate_highest(c->gate, PN_ACL_CLIENT, acl.holder_id));
		else if (r == PN_E_ACL_NOT_YET_VALID || r == PN_E_ACL_EXPIRED)
			/* a clock problem: both clocks */
			PN_LOG_WARN("connector", "acl_refused",
				    "client=%s user=%s reason=%s issued_at=%" PRIu64
				    " expires_at=%" PRIu64 " now=%" PRIu64,
				    cid, ct->peer.user, why, acl.issued_at, acl.expires_at,
				    unix_now());
		else
			PN_LOG_WARN("connector", "acl_refused", "client=%s user=%s reason=%s", cid,
				    ct->peer.user, why);
		pn_acl_fini(&acl);
		return PN_FLOW_BAD_ACL;
	}
	pn_acl_fini(&ct->acl);
	ct->acl = acl; /* transferred */
	PN_LOG_INFO("connector", "acl_accepted", "client=%s user=%s version=%" PRIu64, cid,
		    ct->peer.user, ct->acl.version);
	if (ct->acl_ok)
		reevaluate_tunnel(c, ct);
	ct->acl_ok = 1;
	return PN_FLOW_OK;
}

/* The client re-presented a renewed credential; the tunnel verified it
 * (pinned CA, the handshake's id and key, newer).  Here: not revoked.
 * Adopted, it is what every later check of this tunnel uses (flows, the
 * 1 s re-check of its expiry, revocation by serial). */
static int on_cred(struct pn_tunnel *t, const struct pn_cred_info *ci, int err, char *why,
		   size_t whysz, void *u)
{
	struct pn_connector *c = u;
	struct ctun *ct = pn_tunnel_user(t);
	char cid[PN_ID_HEX_LEN + 1];

	if (!ct)
		return PN_FLOW_INTERNAL; /* not a tunnel of ours (tunnel_new failed) */
	pn_id_hex(ct->peer.id, cid);
	if (err == 0 && pn_connector_is_revoked(c, ci)) {
		snprintf(why, whysz, "revoked");
		err = PN_E_DENIED;
	}
	if (err != 0) {
		PN_LOG_WARN("connector", "tunnel_cred_refused",
			    "client=%s user=%s reason=%s not_after=%" PRIu64
			    " offered_not_after=%" PRIu64,
			    cid, ct->peer.user, why, ct->peer.not_after, ci ? ci->not_after : 0);
		return PN_FLOW_CRED;
	}
	PN_LOG_INFO("connector", "tunnel_cred_renewed",
		    "client=%s user=%s not_after=%" PRIu64 " previous_not_after=%" PRIu64, cid,
		    ct->peer.user, ci->not_after, ct->peer.not_after);
	ct->peer = *ci;
	return PN_FLOW_OK;
}

static void on_flow_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h,
			    void *u)
{
	struct pn_connector *c = u;
	struct ctun *ct = pn_tunnel_user(t);
	struct cflow *cf = calloc(1, sizeof(*cf));
	struct pn_flow_status st;
	enum pn_deny d;

	if (!cf) {
		pn_flow_status_set(&st, 0, PN_FLOW_EXHAUSTED, "out of memory");
		pn_flow_respond(f, &st, NULL, NULL);
		return;
	}
	cf->c = c;
	cf->ct = ct;
	cf->f = f;
	cf->hdr = *h;
	/* the queue holds at most the flow's receive window: credit is only
	   returned as bytes reach the resource */
	pn_swriter_init(&cf->w,
			c->cfg.tunables.stream_window ? c->cfg.tunables.stream_window
						      : PN_TEP_WINDOW_DEFAULT,
			CF_WRITE_VECS, &pn_cflow_wops, cf);
	pn_memtrim_count(&c->trim, ++c->nflows_mem);
	cf->start_ms = pn_connector_now_ms();
	cf->proto = h->kind == PN_FLOW_UDP ? PN_PROTO_UDP
		    : h->kind == PN_FLOW_TCP ? PN_PROTO_TCP
		    : h->kind == PN_FLOW_ICMP ? PN_PROTO_ICMP
					      : 0;
	pn_flow_dest_str(&h->dest, cf->dest, sizeof(cf->dest));
	cf->next = ct->flows;
	if (ct->flows)
		ct->flows->prev = cf;
	ct->flows = cf;
	c->stats.flows++;
	pn_flow_set_user(f, cf);
	d = check_flow(c, ct, cf);
	if (d != PN_ALLOW) {
		c->stats.flows_denied++;
		pn_flow_status_set(&st, 0, deny_to_code(d), pn_deny_name(d));
		pn_flow_respond(f, &st, NULL, NULL);
		cf->f = NULL;
		pn_connector_flow_event(cf, "deny", "deny", pn_deny_name(d));
		pn_cflow_release(cf);
		return;
	}
	c->stats.flows_allowed++;
	pn_cflow_start(cf);
}

static void on_flow_cancelled(struct pn_flow *f, void *u)
{
	struct cflow *cf = pn_flow_user(f);

	(void)u;
	if (!cf)
		return;
	cf->f = NULL;
	snprintf(cf->end_reason, sizeof(cf->end_reason), "cancelled");
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	pn_cflow_release(cf);
}

/* A handshake that failed before tunnel_new: say why, with both clocks
 * for a clock problem.  (Handshakes that merely time out are debug.) */
static void log_handshake_refused(struct pn_connector *c, struct pn_tunnel *t, int err)
{
	const struct pn_cred_info *ci = NULL;
	char cid[PN_ID_HEX_LEN + 1] = "-";
	uint64_t now = 0;
	int ours = pn_tunnel_refusal(t, &ci, &now);
	const char *why;

	if (ci)
		pn_id_hex(ci->id, cid);
	if (ours == PN_E_EXPIRED || ours == PN_E_NOT_YET_VALID) {
		pn_metrics_reason_count(&c->handshake_failures,
					pn_deny_name(pn_deny_from_err(ours)));
		PN_LOG_WARN("connector", "tunnel_refused",
			    "client=%s user=%s reason=%s not_before=%" PRIu64 " not_after=%" PRIu64
			    " now=%" PRIu64,
			    cid, ci ? ci->user : "", pn_deny_name(pn_deny_from_err(ours)),
			    ci ? ci->not_before : 0, ci ? ci->not_after : 0, now);
		return;
	}
	switch (err) {
	case PN_E_WRONG_TYPE: why = "cred_wrong_type"; break;
	case PN_E_UNTRUSTED: why = "cred_untrusted"; break;
	case PN_E_MALFORMED: why = "cred_malformed"; break;
	case PN_E_TUN_NO_CRED: why = "no_credential"; break; /* none from our CA */
	case PN_E_TUN_CRED_REFUSED: why = "client_refused_our_credential"; break;
	default:
		pn_metrics_reason_count(&c->handshake_failures,
					err == PN_E_TIMEOUT || err == PN_E_TUN_IDLE ? "timeout"
										    : "handshake");
		PN_LOG_DEBUG("connector", "handshake_failed", "err=%s", pn_errname(err));
		return;
	}
	pn_metrics_reason_count(&c->handshake_failures, why);
	if (err == PN_E_TUN_CRED_REFUSED) {
		const char *text = "";
		pn_tunnel_end_reason(t, NULL, &text);
		PN_LOG_WARN("connector", "tunnel_refused", "reason=%s text=\"%s\"", why, text);
		return;
	}
	PN_LOG_WARN("connector", "tunnel_refused", "client=%s user=%s reason=%s", cid,
		    ci ? ci->user : "", why);
}

static void on_tunnel_closed(struct pn_tunnel *t, int err, void *u)
{
	struct pn_connector *c = u;
	struct ctun *ct = pn_tunnel_user(t);
	char cid[PN_ID_HEX_LEN + 1];

	if (!ct) {
		log_handshake_refused(c, t, err);
		return;
	}
	pn_id_hex(ct->peer.id, cid);
	if (err == PN_E_EXPIRED)
		PN_LOG_INFO("connector", "tunnel_cred_expired",
			    "client=%s user=%s not_after=%" PRIu64, cid, ct->peer.user,
			    ct->peer.not_after);
	PN_LOG_INFO("connector", "tunnel_close", "client=%s user=%s err=%s reason=\"%s\"", cid,
		    ct->peer.user, pn_errname(err), pn_strerror(err));
	free_ctun(c, ct);
}

static const struct pn_tep_server_ops server_ops = {
	.tunnel_new = on_tunnel_new,
	.acl = on_acl,
	.cred = on_cred,
	.flow_request = on_flow_request,
	.flow_cancelled = on_flow_cancelled,
	.tunnel_closed = on_tunnel_closed,
};

/* ----------------------------------------------------------- lifecycle -- */

static int load_own_acl(struct pn_connector *c, const uint8_t *bytes, size_t len,
			struct pn_acl *out)
{
	int r;

	pn_acl_init(out, PN_ACL_CONNECTOR);
	if ((r = pn_acl_verify(c->cfg.anchor, bytes, len, unix_now(), out)) != 0) {
		if (r == PN_E_ACL_NOT_YET_VALID || r == PN_E_ACL_EXPIRED)
			PN_LOG_ERROR("connector", "own_acl_refused",
				     "reason=%s issued_at=%" PRIu64 " expires_at=%" PRIu64
				     " now=%" PRIu64 " tolerance_s=%d",
				     pn_errname(r), out->issued_at, out->expires_at, unix_now(),
				     PN_TRUST_DEFAULT_SKEW);
		pn_acl_fini(out);
		return r;
	}
	if (out->kind != PN_ACL_CONNECTOR)
		r = PN_E_WRONG_TYPE;
	else
		r = pn_acl_check_holder(out, &c->self);
	if (r != 0)
		pn_acl_fini(out);
	return r;
}

int pn_connector_new(const struct pn_connector_config *cfg, struct pn_connector **out)
{
	struct pn_connector *c;
	struct pn_tep_config tc;
	int r;

	if (!cfg || !cfg->loop || !cfg->anchor || !cfg->key || !cfg->cert_pem || !cfg->acl)
		return PN_E_INVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->cfg = *cfg;
	if (!(c->cert_pem = strdup(cfg->cert_pem))) {
		r = -ENOMEM;
		goto fail;
	}
	c->cfg.cert_pem = c->cert_pem;
	c->cfg.acl = NULL;
	{
		struct pn_cred_info seen;
		r = pn_cred_verify_seen(cfg->anchor, cfg->cert_pem, strlen(cfg->cert_pem),
					PN_CRED_CONNECTOR, unix_now(), PN_TRUST_DEFAULT_SKEW, &c->self,
					&seen);
		if (r == PN_E_NOT_YET_VALID || r == PN_E_EXPIRED)
			PN_LOG_ERROR("connector", "own_cred_refused",
				     "reason=%s not_before=%" PRIu64 " not_after=%" PRIu64
				     " now=%" PRIu64 " tolerance_s=%d",
				     pn_errname(r), seen.not_before, seen.not_after, unix_now(),
				     PN_TRUST_DEFAULT_SKEW);
	}
	if (r != 0)
		goto fail;
	{
		/* A credential for another key would fail every handshake
		 * later; refuse it now. */
		uint8_t fpr[PN_FPR_LEN];
		if ((r = pn_key_fingerprint(cfg->key, fpr)) != 0)
			goto fail;
		if (memcmp(fpr, c->self.key_fpr, PN_FPR_LEN) != 0) {
			r = PN_E_CONN_KEY_MISMATCH;
			goto fail;
		}
	}
	if ((r = load_own_acl(c, cfg->acl, cfg->acl_len, &c->acl)) != 0)
		goto fail;
	if ((r = pn_acl_gate_new(PN_CONNECTOR_GATE_SIZE, &c->gate)) != 0)
		goto fail;
	tc = cfg->tunables;
	tc.loop = cfg->loop;
	tc.role = PN_TEP_CONNECTOR;
	tc.anchor = cfg->anchor;
	tc.key = cfg->key;
	tc.cert_pem = c->cert_pem;
	tc.server_ops = &server_ops;
	tc.user = c;
	if ((r = pn_tep_new(&tc, &c->tep)) != 0)
		goto fail;
	if (cfg->listen_udp && (r = pn_tep_listen_udp(c->tep, cfg->listen_udp)) != 0) {
		pn_tep_close(c->tep, NULL, NULL);
		c->tep = NULL;
		goto fail;
	}
	uv_timer_init(cfg->loop, &c->recheck);
	c->recheck.data = c;
	uv_timer_start(&c->recheck, on_recheck, PN_CONNECTOR_RECHECK_MS, PN_CONNECTOR_RECHECK_MS);
	*out = c;
	return 0;
fail:
	pn_acl_gate_free(c->gate);
	pn_acl_fini(&c->acl);
	free(c->cert_pem);
	free(c);
	return r;
}

int pn_connector_set_acl(struct pn_connector *c, const uint8_t *acl, size_t len)
{
	struct pn_acl n;
	int r;

	if ((r = load_own_acl(c, acl, len, &n)) != 0)
		return r;
	if (n.version < c->acl.version) {
		pn_acl_fini(&n);
		return PN_E_STALE_VERSION;
	}
	pn_acl_fini(&c->acl);
	c->acl = n; /* transferred */
	PN_LOG_INFO("connector", "connector_acl", "version=%" PRIu64 " entries=%zu", c->acl.version,
		    c->acl.nentries);
	pn_connector_reevaluate_all(c);
	return 0;
}

struct pn_tep *pn_connector_tep(struct pn_connector *c)
{
	return c->tep;
}

void pn_connector_stats(const struct pn_connector *c, struct pn_connector_stats *st)
{
	*st = c->stats;
	st->paths_direct = st->paths_relay = 0;
	for (const struct ctun *ct = c->tuns; ct; ct = ct->next) {
		struct pn_tunnel_info ti;

		pn_tunnel_info(ct->t, &ti);
		if (ti.path == PN_PATH_DIRECT)
			st->paths_direct++;
		else if (ti.path == PN_PATH_RELAY_UDP || ti.path == PN_PATH_RELAY_TLS ||
			 ti.path == PN_PATH_RELAY_WS)
			st->paths_relay++;
	}
}

/* The connector goes once its handles are closed and its last flow is
 * freed: a flow's sockets may still be closing when the tunnels are gone,
 * and pn_cflow_maybe_free counts the flow out in c. */
void pn_connector_i_free_if_done(struct pn_connector *c)
{
	void (*cb)(void *) = c->close_cb;
	void *a = c->close_arg;

	if (!c->handles_closed || c->nflows_mem > 0)
		return;
	pn_acl_gate_free(c->gate);
	pn_acl_fini(&c->acl);
	free(c->rev_ids);
	for (size_t i = 0; i < c->n_rev_serials; i++)
		free(c->rev_serials[i]);
	free(c->rev_serials);
	free(c->cert_pem);
	free(c);
	if (cb)
		cb(a);
}

static void tep_closed(void *arg)
{
	struct pn_connector *c = arg;

	if (--c->closing_handles > 0)
		return;
	c->handles_closed = 1;
	pn_connector_i_free_if_done(c);
}

static void timer_closed(uv_handle_t *h)
{
	tep_closed(h->data);
}

void pn_connector_close(struct pn_connector *c, void (*cb)(void *arg), void *arg)
{
	c->close_cb = cb;
	c->close_arg = arg;
	while (c->tuns) {
		struct ctun *ct = c->tuns;
		pn_tunnel_close(ct->t, PN_FLOW_OK);
		free_ctun(c, ct);
	}
	c->closing_handles = 2;
	uv_timer_stop(&c->recheck);
	c->recheck.data = c;
	uv_close((uv_handle_t *)&c->recheck, timer_closed);
	pn_tep_close(c->tep, tep_closed, c);
}
