#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/udp.h"
#include "ctlapi/relays.h"
#include "relay/idmap.h"
#include "relay/resolve.h"
#include "relay/rclient_int.h"
#include "relay/rpath.h"
#include "relay/server.h"
#include "relay/stream.h"
#include "relay/udpmsg.h"
#include "trust/cred.h"
#include "trust/key.h"

static void relay_connect(struct pn_rrelay *r);
static void connect_now(struct pn_rrelay *r);

/* ---- credential ---- */

static int load_cred(struct pn_rclient *rc, const char *cert_pem, const char *key_pem)
{
	gnutls_certificate_credentials_t cred = NULL;
	struct pn_key *key = NULL;
	char *cert = NULL;
	gnutls_datum_t pem, der = {0};
	int r;

	struct pn_cred_info self;

	if (!cert_pem || !key_pem)
		return PN_E_INVAL;
	/* Our own credential must be what the mode needs, from the pinned CA. */
	if ((r = pn_cred_verify(rc->anchor, cert_pem, strlen(cert_pem),
				rc->mode == PN_RCLIENT_CLIENT ? PN_CRED_CLIENT : PN_CRED_CONNECTOR,
				(uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &self)))
		return r;
	if ((r = pn_key_load_pem_mem(key_pem, strlen(key_pem), &key)))
		goto out;
	if (!(cert = strdup(cert_pem))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = pn_cred_tls_credentials(key, cert, rc->anchor, &cred)))
		goto out;
	pem.data = (unsigned char *)cert;
	pem.size = (unsigned)strlen(cert);
	if (gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der) || der.size > PN_RELAY_MAX_CERT) {
		gnutls_certificate_free_credentials(cred);
		r = PN_E_MALFORMED;
		goto out;
	}
	/* Live streams keep using the old credentials object (GnuTLS sessions
	 * reference it): retire it until pn_rclient_close. */
	if (rc->cred) {
		struct retired *old = calloc(1, sizeof(*old));
		if (!old) {
			gnutls_certificate_free_credentials(cred);
			r = -ENOMEM;
			goto out;
		}
		old->cred = rc->cred;
		old->next = rc->retired;
		rc->retired = old;
	}
	pn_key_free(rc->key);
	free(rc->cert_pem);
	gnutls_free(rc->cert_der);
	rc->cred = cred;
	rc->key = key;
	rc->cert_pem = cert;
	rc->cert_der = der.data;
	rc->cert_der_len = der.size;
	memcpy(rc->key_fpr, self.key_fpr, PN_FPR_LEN);
	return 0;
out:
	gnutls_free(der.data);
	pn_key_free(key);
	free(cert);
	return r;
}

int pn_rclient_new(uv_loop_t *loop, const struct pn_rclient_config *cfg, struct pn_rclient **out)
{
	struct pn_rclient *rc;
	int r;

	if (!cfg || !cfg->ops || !cfg->ca_pem ||
	    (cfg->mode != PN_RCLIENT_CLIENT && cfg->mode != PN_RCLIENT_CONNECTOR))
		return PN_E_INVAL;
	if (cfg->mode == PN_RCLIENT_CLIENT && !cfg->ops->session_ready)
		return PN_E_INVAL;
	if (cfg->mode == PN_RCLIENT_CONNECTOR && !cfg->ops->session_new)
		return PN_E_INVAL;
	if (!(rc = calloc(1, sizeof(*rc))))
		return -ENOMEM;
	rc->loop = loop;
	rc->mode = cfg->mode;
	rc->ops = cfg->ops;
	rc->user = cfg->user;
	if (cfg->wss_ca_file && !(rc->wss_ca_file = strdup(cfg->wss_ca_file))) {
		free(rc);
		return -ENOMEM;
	}
	if ((r = pn_udp_rx_init(&rc->urx, UDP_BATCH, RX_SLOT)) ||
	    (r = pn_anchor_new(cfg->ca_pem, strlen(cfg->ca_pem), &rc->anchor)) ||
	    (r = load_cred(rc, cfg->cert_pem, cfg->key_pem))) {
		pn_udp_rx_fini(&rc->urx);
		pn_anchor_free(rc->anchor);
		free(rc->wss_ca_file);
		free(rc);
		return r;
	}
	*out = rc;
	return 0;
}

/* Re-present the current credential on an open connection (RENEW). */
static void send_renew(struct pn_rrelay *r)
{
	struct pn_relay_msg m = {.type = PN_RELAY_F_RENEW,
				 .cert = r->rc->cert_der,
				 .cert_len = r->rc->cert_der_len};

	rc_send_msg(r, &m);
}

int pn_rclient_set_credential(struct pn_rclient *rc, const char *cert_pem, const char *key_pem)
{
	uint8_t old_fpr[PN_FPR_LEN];
	int r;

	memcpy(old_fpr, rc->key_fpr, PN_FPR_LEN);
	if ((r = load_cred(rc, cert_pem, key_pem)))
		return r;
	/* Same key: the relays accept the renewed credential on the open
	 * connections.  A new key can only be proven by a new TLS handshake:
	 * those connections keep the old credential until they reconnect. */
	if (memcmp(old_fpr, rc->key_fpr, PN_FPR_LEN)) {
		PN_LOG_INFO("relay", "credential_key_changed", "open connections keep the old one");
		return 0;
	}
	for (struct pn_rrelay *rr = rc->relays; rr; rr = rr->next)
		if (rr->s && pn_rstream_ready(rr->s))
			send_renew(rr);
	return 0;
}

/* ---- sessions ---- */

void rc_send_msg(struct pn_rrelay *r, const struct pn_relay_msg *m)
{
	uint8_t tmp[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
	struct pn_buf b;

	if (!r->s || !pn_rstream_ready(r->s))
		return;
	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	if (pn_relay_msg_encode(m, &b) == 0)
		pn_rstream_send(r->s, tmp, pn_buf_len(&b), 0);
}

/* ---- frames from the relay ---- */

static void set_state(struct pn_rrelay *r, enum pn_rrelay_state st, int err)
{
	if (r->st == st)
		return;
	r->st = st;
	if (r->rc->ops->relay_state && !r->rc->closing)
		r->rc->ops->relay_state(r, st, err, r->rc->user);
}

static int c_on_frame(struct pn_rstream *st, const struct pn_relay_frame *f, void *user)
{
	struct pn_rrelay *r = user;
	uint64_t now = uv_now(r->rc->loop);
	struct pn_relay_msg m;
	struct pn_rsession *s;
	int e;

	if (r->retiring) /* removed: frames still in the closing stream are dropped */
		return 0;
	if ((e = pn_relay_msg_decode(f, &m)))
		return e;
	/* The relay accepted us (it speaks): reconnects may be quick again. */
	if (m.type != PN_RELAY_F_ERROR || m.tag)
		r->backoff = 0;
	switch (m.type) {
	case PN_RELAY_F_DATA:
		if ((s = pn_idmap_get(&r->sessions, m.sid)))
			rc_deliver(s, m.payload, m.payload_len);
		return 0;
	case PN_RELAY_F_REGISTERED:
		r->registered = 1;
		r->backoff = 0;
		set_state(r, PN_RRELAY_READY, 0);
		return 0;
	case PN_RELAY_F_OPENED: e = rc_on_opened(r, &m, now); break;
	case PN_RELAY_F_SESSION: e = rc_on_session(r, &m, now); break;
	case PN_RELAY_F_CLOSE:
		if ((s = pn_idmap_get(&r->sessions, m.sid)))
			rc_session_end(s, m.code, 1);
		return 0;
	case PN_RELAY_F_ERROR:
		if (m.tag && (s = rc_pending_by_tag(r, m.tag)))
			rc_open_fail(s, m.code);
		else if (!m.tag) {
			/* About the connection (our credential refused, relay full):
			 * pending opens fail with that reason instead of a timeout. */
			struct pn_rsession *nx;
			PN_LOG_WARN("relay", "relay_error", "relay=%s err=%s", r->name,
				    pn_errname(m.code));
			r->refused = m.code;
			for (s = r->pending; s; s = nx) {
				nx = s->next;
				rc_open_fail(s, m.code);
			}
		}
		return 0;
	case PN_RELAY_F_PING:
		m.type = PN_RELAY_F_PONG;
		rc_send_msg(r, &m);
		return 0;
	case PN_RELAY_F_RENEWED:
		PN_LOG_INFO("relay", "credential_presented", "relay=%s not_after=%llu", r->name,
			    (unsigned long long)m.not_after);
		return 0;
	case PN_RELAY_F_PONG:
		if (m.opaque == r->ping_sent) {
			unsigned sample = (unsigned)(now - r->ping_sent);
			r->rtt = r->rtt ? (r->rtt * 7 + sample) / 8 : (sample ? sample : 1);
		}
		return 0;
	default: return PN_E_RELAY_PROTOCOL;
	}
	pn_wipe(m.secret, sizeof(m.secret));
	return e;
}

static int c_on_ready(struct pn_rstream *st, void *user)
{
	struct pn_rrelay *r = user;
	struct pn_relay_msg m = {.type = PN_RELAY_F_REGISTER};
	struct pn_cred_info info;
	int e;

	/* The relay must prove a relay credential of our CA. */
	e = pn_cred_verify_session(r->rc->anchor, pn_rstream_tls(st), PN_CRED_RELAY,
				   (uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &info);
	if (e) {
		PN_LOG_WARN("relay", "relay_refused", "relay=%s err=%s", r->name, pn_errname(e));
		return e;
	}
	r->s_is_ws = pn_rstream_is_ws(st);
	/* A first PING right away: relay choice by RTT needs a sample early. */
	{
		struct pn_relay_msg ping = {.type = PN_RELAY_F_PING, .opaque = uv_now(r->rc->loop)};
		r->last_ping = r->ping_sent = ping.opaque;
		rc_send_msg(r, &ping);
	}
	PN_LOG_INFO("relay", "relay_up", "relay=%s ws=%d", r->name, r->s_is_ws);
	/* Renewed while this connection was being set up with the old one. */
	if (r->s_cred != r->rc->cred && !memcmp(r->rc->key_fpr, r->s_fpr, PN_FPR_LEN))
		send_renew(r);
	if (r->rc->mode == PN_RCLIENT_CONNECTOR) {
		rc_send_msg(r, &m);
		return 0;
	}
	set_state(r, PN_RRELAY_READY, 0);
	for (struct pn_rsession *s = r->pending; s; s = s->next)
		if (s->st == SS_PENDING)
			rc_send_open(s);
	return 0;
}

/* The relay is down: retry after a doubling backoff. */
static void relay_down(struct pn_rrelay *r, int err)
{
	r->attempt = 0;
	r->backoff = r->backoff
			 ? (r->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff * 2)
			 : BACKOFF_MIN_MS;
	r->retry_at = uv_now(r->rc->loop) + r->backoff;
	PN_LOG_INFO("relay", "relay_down", "relay=%s err=%s retry_ms=%llu", r->name,
		    pn_errname(err), (unsigned long long)r->backoff);
	set_state(r, PN_RRELAY_DOWN, err);
}

static void c_on_close(struct pn_rstream *st, int err, void *user)
{
	struct pn_rrelay *r = user;
	struct pn_rsession *s;
	size_t pos = 0;
	int was_ready = r->st == PN_RRELAY_READY || r->registered;

	r->s = NULL;
	r->registered = 0;
	if (r->retiring) { /* removed: its sessions have ended already */
		struct pn_rclient *rc = r->rc;

		rc_retire_put(r);
		rc_maybe_finish_close(rc);
		return;
	}
	if (r->rc->closing) {
		rc_maybe_finish_close(r->rc);
		return;
	}
	/* The relay dropped our sessions with the connection. */
	while ((s = pn_idmap_next(&r->sessions, &pos))) {
		rc_session_end(s, PN_E_CLOSED, 1);
		pos--;
	}
	for (s = r->pending; s; s = s->next)
		s->st = SS_PENDING; /* re-sent after reconnecting, until their deadline */
	/* The name had more addresses (AAAA and A): try the next one first. */
	if (!was_ready && (err == PN_E_RELAY_UNREACHABLE || err == PN_E_TIMEOUT) &&
	    r->icand + 1 < r->ncand) {
		r->icand++;
		connect_now(r);
		return;
	}
	/* Fallback: direct TLS failed before it was ever up -> try WebSocket. */
	if (!was_ready && r->attempt == 0 && r->has_ws && (r->allowed & PN_RT_WS)) {
		r->attempt = 1;
		relay_connect(r);
		return;
	}
	if (err == PN_E_UNTRUSTED && !r->refused) {
		/* Refused during the handshake: same as an ERROR about the connection. */
		struct pn_rsession *nx;
		for (s = r->pending; s; s = nx) {
			nx = s->next;
			rc_open_fail(s, err);
		}
		r->refused = err;
	}
	if (r->refused) {
		err = r->refused;
		r->refused = 0;
		r->backoff = BACKOFF_MAX_MS / 2;
	}
	relay_down(r, err);
}

static const struct pn_rstream_ops rstream_ops = {
    .on_ready = c_on_ready,
    .on_frame = c_on_frame,
    .on_close = c_on_close,
};

static void relay_connect(struct pn_rrelay *r);

/* No stream came up (resolution failed): as c_on_close does for a stream
 * that never got ready. */
static void connect_failed(struct pn_rrelay *r, int err)
{
	if (r->attempt == 0 && r->has_ws && (r->allowed & PN_RT_WS)) {
		r->attempt = 1;
		relay_connect(r);
		return;
	}
	relay_down(r, err);
}

/* Connect to the current candidate address of this attempt. */
static void connect_now(struct pn_rrelay *r)
{
	struct pn_rclient *rc = r->rc;
	struct pn_rstream_config cfg = {0};
	const struct sockaddr *to = (const struct sockaddr *)&r->cand[r->icand];
	int e;

	cfg.cred = r->s_cred = rc->cred;
	memcpy(r->s_fpr, rc->key_fpr, PN_FPR_LEN);
	cfg.rxbuf = rc->rxbuf;
	cfg.plainbuf = rc->plainbuf;
	if (r->attempt == 1) {
		cfg.ws = 1;
		cfg.ws_host = r->ws_host;
		cfg.ws_req_path = r->ws_path;
		cfg.wss = r->ws_secure;
		cfg.wss_name = r->ws_name;
		cfg.wss_cred = rc->wss_cred;
	}
	set_state(r, PN_RRELAY_CONNECTING, 0);
	if ((e = pn_rstream_connect(rc->loop, to, &cfg, &rstream_ops, r, &r->s))) {
		r->s = NULL;
		r->backoff = BACKOFF_MAX_MS;
		r->retry_at = uv_now(rc->loop) + r->backoff;
		set_state(r, PN_RRELAY_DOWN, e);
	}
}

int rc_resolve_done(struct pn_rrelay *r)
{
	struct pn_rclient *rc = r->rc;

	rc->handles--;
	if (r->retiring)
		rc_retire_put(r);
	else if (!rc->closing)
		return 0;
	rc_maybe_finish_close(rc);
	return 1;
}

static void on_resolved(struct pn_resolve *rs, int status, void *arg)
{
	struct pn_rrelay *r = arg;

	if (rc_resolve_done(r))
		return;
	if (status) {
		connect_failed(r, status);
		return;
	}
	memcpy(r->cand, rs->addr, rs->n * sizeof(rs->addr[0]));
	r->ncand = rs->n;
	r->icand = 0;
	connect_now(r);
}

static void relay_connect(struct pn_rrelay *r)
{
	struct pn_rclient *rc = r->rc;
	const struct pn_relay_endpoint *ep;
	int e;

	r->retry_at = 0;
	if (r->attempt == 0 && !(r->has_tls && (r->allowed & (PN_RT_TLS | PN_RT_UDP))))
		r->attempt = 1;
	ep = r->attempt == 1 ? &r->ws_ep : &r->tls_ep;
	if (ep->family) {
		r->cand[0] = r->attempt == 1 ? r->ws_ss : r->tls_ss;
		r->ncand = 1;
		r->icand = 0;
		connect_now(r);
		return;
	}
	/* A name: resolved for every attempt (the relay may move). */
	set_state(r, PN_RRELAY_CONNECTING, 0);
	if ((e = pn_resolve_start(rc->loop, &r->res, ep->host, ep->port, SOCK_STREAM, on_resolved,
				  r))) {
		connect_failed(r, PN_E_RELAY_UNREACHABLE);
		return;
	}
	rc->handles++;
}

/* ---- UDP ---- */

/* ---- timer: reconnects, keepalives, BIND refresh, open deadlines ---- */

static void on_tick(uv_timer_t *t)
{
	struct pn_rrelay *r = t->data;
	uint64_t now = uv_now(r->rc->loop);
	struct pn_rsession *s, *nx;
	size_t pos = 0;

	if (!r->s && r->retry_at && now >= r->retry_at)
		relay_connect(r);
	if (r->s && pn_rstream_ready(r->s) && now - r->last_ping >= PN_RELAY_KEEPALIVE_MS) {
		struct pn_relay_msg m = {.type = PN_RELAY_F_PING, .opaque = now};
		r->last_ping = r->ping_sent = now;
		rc_send_msg(r, &m);
	}
	for (s = r->pending; s; s = nx) {
		nx = s->next;
		if (now >= s->deadline)
			rc_open_fail(s, PN_E_TIMEOUT);
	}
	while ((s = pn_idmap_next(&r->sessions, &pos))) {
		if (r->udp_fd < 0 || !(r->allowed & PN_RT_UDP))
			continue;
		/* UDP stopped answering: fall back to the stream. */
		if (s->udp && now - s->last_bind_ok > 2 * PN_RELAY_BIND_REFRESH_MS + 2000)
			s->udp = 0;
		/* Before the first BIND_OK, retry for a while, then keep probing slowly. */
		if (!s->last_bind_ok &&
		    s->bind_tries * BIND_RETRY_MS > PN_RELAY_UDP_BIND_TIMEOUT_MS)
			s->next_bind = now + PN_RELAY_BIND_REFRESH_MS, s->bind_tries = 0;
		if (now >= s->next_bind)
			rc_send_bind(s, now);
	}
}

/* ---- relays ---- */

/* The proxy's certificate is checked like any HTTPS server's: against the
 * configured CA file, or the system's trust store. */
static int wss_credentials(struct pn_rclient *rc, const char **why)
{
	gnutls_certificate_credentials_t c;
	int n;

	if (rc->wss_cred)
		return 0;
	if (gnutls_certificate_allocate_credentials(&c))
		return -ENOMEM;
	n = rc->wss_ca_file
		? gnutls_certificate_set_x509_trust_file(c, rc->wss_ca_file, GNUTLS_X509_FMT_PEM)
		: gnutls_certificate_set_x509_system_trust(c);
	if (n <= 0) {
		gnutls_certificate_free_credentials(c);
		*why = rc->wss_ca_file ? "no CA certificate in the wss CA file"
				       : "no system trust anchors for wss://";
		return PN_E_CONFIG;
	}
	rc->wss_cred = c;
	return 0;
}

/* An address literal into *ss now; a name is resolved when used. */
static int to_sockaddr(const struct pn_relay_endpoint *ep, struct sockaddr_storage *ss,
		       const char **why)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET)
		return uv_ip4_addr(ep->host, ep->port, (struct sockaddr_in *)ss) ? PN_E_CONFIG : 0;
	if (ep->family == AF_INET6)
		return uv_ip6_addr(ep->host, ep->port, (struct sockaddr_in6 *)ss) ? PN_E_CONFIG : 0;
	return 0;
}

static int parse_endpoint(const char *text, struct pn_relay_endpoint *ep,
			  struct sockaddr_storage *ss, const char **why)
{
	if (pn_relay_endpoint_parse(text, ep, why))
		return PN_E_CONFIG;
	return to_sockaddr(ep, ss, why);
}

static int parse_ws_url(struct pn_rrelay *r, const char *url, const char **why)
{
	struct pn_relay_wsurl u;
	int e;

	if (pn_relay_wsurl_parse(url, &u, why))
		return PN_E_CONFIG;
	if ((e = to_sockaddr(&u.ep, &r->ws_ss, why)))
		return e;
	r->ws_ep = u.ep;
	if (u.secure && (e = wss_credentials(r->rc, why)))
		return e;
	r->ws_secure = u.secure;
	strcpy(r->ws_host, u.hostport);
	strcpy(r->ws_path, u.path);
	strcpy(r->ws_name, u.ep.host);
	return 0;
}

int pn_rclient_add_relay(struct pn_rclient *rc, const struct pn_rrelay_config *cfg,
			 struct pn_rrelay **out)
{
	struct pn_rrelay *r;
	const char *why = "invalid address";
	int e;

	if (!cfg || rc->closing)
		return PN_E_INVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->rc = rc;
	r->udp_fd = -1;
	r->allowed = cfg->transports ? cfg->transports : PN_RT_ALL;
	snprintf(r->name, sizeof(r->name), "%s",
		 cfg->name	 ? cfg->name
		 : cfg->tls_addr ? cfg->tls_addr
				 : "relay");
	if ((cfg->tls_addr && (e = parse_endpoint(cfg->tls_addr, &r->tls_ep, &r->tls_ss, &why))) ||
	    (cfg->udp_addr && (e = parse_endpoint(cfg->udp_addr, &r->udp_ep, &r->udp_ss, &why))) ||
	    (cfg->ws_url && (e = parse_ws_url(r, cfg->ws_url, &why)))) {
		PN_LOG_WARN("relay", "relay_invalid", "relay=%s err=%s why=\"%s\"", r->name,
			    pn_errname(e), why);
		free(r);
		return e;
	}
	snprintf(r->udp_spec, sizeof(r->udp_spec), "%s", cfg->udp_addr ? cfg->udp_addr : "");
	snprintf(r->tls_spec, sizeof(r->tls_spec), "%s", cfg->tls_addr ? cfg->tls_addr : "");
	snprintf(r->ws_spec, sizeof(r->ws_spec), "%s", cfg->ws_url ? cfg->ws_url : "");
	r->has_tls = !!cfg->tls_addr;
	r->has_udp = !!cfg->udp_addr;
	r->has_ws = !!cfg->ws_url;
	/* A control stream is needed in every mode: TLS or WebSocket. */
	if (!((r->has_tls && (r->allowed & (PN_RT_TLS | PN_RT_UDP))) ||
	      (r->has_ws && (r->allowed & PN_RT_WS)))) {
		PN_LOG_WARN("relay", "relay_invalid", "relay=%s err=PN_E_CONFIG why=\"%s\"",
			    r->name,
			    "no control stream: needs tls (for udp or tls) or ws among the "
			    "allowed transports");
		free(r);
		return PN_E_CONFIG;
	}
	if ((e = pn_idmap_init(&r->sessions, offsetof(struct pn_rsession, sid), PN_RELAY_SID_LEN,
			       16))) {
		free(r);
		return e;
	}
	uv_timer_init(rc->loop, &r->timer);
	r->timer.data = r;
	rc->handles++;
	if (r->has_udp && (r->allowed & PN_RT_UDP)) {
		if (r->udp_ep.family)
			rc_udp_start(r);
		else if ((e = pn_resolve_start(rc->loop, &r->ures, r->udp_ep.host, r->udp_ep.port,
					       SOCK_DGRAM, rc_on_udp_resolved, r)) == 0)
			rc->handles++;
		else
			PN_LOG_WARN("relay", "udp_unavailable", "relay=%s err=%s", r->name,
				    pn_errname(e));
	}
	uv_timer_start(&r->timer, on_tick, TICK_MS, TICK_MS);
	r->next = rc->relays;
	rc->relays = r;
	relay_connect(r);
	*out = r;
	return 0;
}

enum pn_rrelay_state pn_rrelay_state(const struct pn_rrelay *r)
{
	return r->st;
}

const char *pn_rrelay_name(const struct pn_rrelay *r)
{
	return r->name;
}

unsigned pn_rrelay_transport(const struct pn_rrelay *r)
{
	struct pn_rsession *s;
	size_t pos = 0;

	if (r->st != PN_RRELAY_READY)
		return 0;
	while ((s = pn_idmap_next(&r->sessions, &pos)))
		if (s->udp)
			return PN_RT_UDP;
	return r->s_is_ws ? PN_RT_WS : PN_RT_TLS;
}

int pn_rrelay_udp_addr(const struct pn_rrelay *r, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!r->has_udp || !r->udp_ss.ss_family)
		return PN_E_INVAL;
	*ss = r->udp_ss;
	*len = r->udp_ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					       : sizeof(struct sockaddr_in);
	return 0;
}

size_t pn_rrelay_udp_addrs(struct pn_rrelay *const *relays, size_t n, struct sockaddr_storage *ss,
			   size_t max)
{
	size_t k = 0;
	socklen_t len;

	for (size_t i = 0; i < n && k < max; i++)
		if (pn_rrelay_udp_addr(relays[i], &ss[k], &len) == 0)
			k++;
	return k;
}

unsigned pn_rrelay_rtt_ms(const struct pn_rrelay *r)
{
	return r->rtt;
}

void pn_rclient_stats(const struct pn_rclient *rc, struct pn_rclient_stats *st)
{
	*st = rc->st;
}

/* ---- close ---- */

void rc_maybe_finish_close(struct pn_rclient *rc)
{
	struct pn_rrelay *r, *nx;
	void (*cb)(void *);
	void *arg;

	if (!rc->closing || rc->handles || rc->gone)
		return;
	for (r = rc->relays; r; r = r->next)
		if (r->s)
			return;
	for (r = rc->relays; r; r = nx) {
		struct pn_rsession *s;
		size_t pos = 0;
		nx = r->next;
		while ((s = pn_idmap_next(&r->sessions, &pos)))
			rc_session_free(s);
		pn_idmap_fini(&r->sessions);
		while ((s = r->pending)) {
			r->pending = s->next;
			rc_session_free(s);
		}
		if (r->udp_fd >= 0)
			close(r->udp_fd);
		free(r);
	}
	cb = rc->close_cb;
	arg = rc->close_arg;
	if (rc->cred)
		gnutls_certificate_free_credentials(rc->cred);
	if (rc->wss_cred)
		gnutls_certificate_free_credentials(rc->wss_cred);
	free(rc->wss_ca_file);
	while (rc->retired) {
		struct retired *o = rc->retired;
		rc->retired = o->next;
		gnutls_certificate_free_credentials(o->cred);
		free(o);
	}
	pn_key_free(rc->key);
	free(rc->cert_pem);
	gnutls_free(rc->cert_der);
	pn_anchor_free(rc->anchor);
	pn_udp_rx_fini(&rc->urx);
	free(rc);
	if (cb)
		cb(arg);
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_rrelay *r = h->data;
	struct pn_rclient *rc = r->rc;

	rc->handles--;
	rc_maybe_finish_close(rc);
}

void pn_rclient_close(struct pn_rclient *rc, void (*cb)(void *arg), void *arg)
{
	if (rc->closing)
		return;
	rc->closing = 1;
	rc->close_cb = cb;
	rc->close_arg = arg;
	for (struct pn_rrelay *r = rc->relays; r; r = r->next) {
		pn_resolve_cancel(&r->res);
		pn_resolve_cancel(&r->ures);
		if (r->s)
			pn_rstream_close(r->s, PN_E_CLOSED, 0);
		uv_close((uv_handle_t *)&r->timer, handle_closed);
		if (r->udp_fd >= 0) {
			uv_close((uv_handle_t *)&r->poll, handle_closed);
			uv_close((uv_handle_t *)&r->prep, handle_closed);
		}
	}
	if (!rc->relays) {
		/* Nothing to wait for; still complete from the loop, as promised. */
		rc_maybe_finish_close(rc);
	}
}
