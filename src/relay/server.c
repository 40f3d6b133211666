#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/udp.h"
#include "relay/admit.h"
#include "relay/auth.h"
#include "relay/idmap.h"
#include "relay/peerfilter.h"
#include "relay/server_int.h"
#include "relay/stream.h"

int pn_relay_parse_addr(const char *str, struct sockaddr_storage *ss)
{
	return pn_addr_parse(str, ss, PN_ADDR_PORT0) ? PN_E_CONFIG : 0; /* core/addr.h */
}

void pn_relay_server_config_default(struct pn_relay_server_config *c)
{
	memset(c, 0, sizeof(*c));
	pn_relay_limits_default(&c->limits);
	c->max_pending = PN_RELAY_MAX_PENDING;
	c->max_pending_per_ip = PN_RELAY_MAX_PENDING_PER_IP;
	c->max_conns = PN_RELAY_MAX_CONNS;
	c->stats_ms = PN_RELAY_STATS_MS;
}

/* ---- core ops ---- */

static int op_send_frame(void *c, const uint8_t *p, size_t n, void *user)
{
	struct conn *cn = c;
	return pn_rstream_send(cn->s, p, n, 0);
}

int srv_op_send_data(void *c, const uint8_t *hdr, size_t hn, const uint8_t *p, size_t n,
			void *user)
{
	struct conn *cn = c;
	return pn_rstream_send2(cn->s, hdr, hn, p, n, 1);
}

static int op_send_udp(const struct pn_relay_addr *to, const struct iovec *iov, int iovcnt,
		       void *user)
{
	/* Queued: sent with the rest of the stream's input chunk (s_on_input_end). */
	return srv_queue_udp(user, to, iov, (unsigned)iovcnt);
}

static void op_kick(void *c, int err, void *user)
{
	struct conn *cn = c;
	pn_rstream_close(cn->s, err, 1);
}

static int op_authorize(void *c, const uint8_t cid[PN_RELAY_ID_LEN], const uint8_t *acl, size_t len,
			uint64_t now, void *user)
{
	struct conn *cn = c;
	uint64_t now_s = (uint64_t)pn_wall_s();
	int r = pn_relay_auth_open(cn->srv->cfg.anchor, &cn->info, cid, acl, len, now_s);

	/* a clock problem: say so with both clocks (other refusals are
	   reported to the peer and counted by the core) */
	if (r == PN_E_EXPIRED)
		PN_LOG_INFO("relay", "open_refused",
			    "err=%s not_after=%" PRIu64 " now=%" PRIu64 " skew_s=%d", pn_errname(r),
			    cn->info.not_after, now_s, PN_TRUST_DEFAULT_SKEW);
	else if (r == PN_E_ACL_NOT_YET_VALID || r == PN_E_ACL_EXPIRED)
		PN_LOG_INFO("relay", "open_refused", "err=%s now=%" PRIu64 " skew_s=%d",
			    pn_errname(r), now_s, PN_TRUST_DEFAULT_SKEW);
	return r;
}

/* RENEW: the renewed credential of the same holder and the same key (the
 * one the TLS handshake proved), from our CA; it replaces the connection's
 * credential, so its expiry governs what the connection may do next. */
static int op_renew(void *c, const uint8_t *cert, size_t len, uint64_t *not_after, void *user)
{
	struct conn *cn = c;
	struct pn_cred_info ni;
	char hex[PN_ID_HEX_LEN + 1];
	int r;

	r = pn_relay_auth_renew(cn->srv->cfg.anchor, &cn->info, cert, len, (uint64_t)pn_wall_s(),
				&ni);
	pn_id_hex(cn->info.id, hex);
	if (r) {
		PN_LOG_WARN("relay", "peer_renew_refused", "role=%s id=%s err=%s",
			    pn_cred_type_name(cn->info.type), hex, pn_errname(r));
		return r;
	}
	PN_LOG_INFO("relay", "peer_renewed", "role=%s id=%s not_after=%llu",
		    pn_cred_type_name(cn->info.type), hex, (unsigned long long)ni.not_after);
	cn->info = ni;
	*not_after = ni.not_after;
	return 0;
}

static int op_connector_valid(void *c, void *user)
{
	struct conn *cn = c;

	return (uint64_t)pn_wall_s() > cn->info.not_after + PN_TRUST_DEFAULT_SKEW ? PN_E_EXPIRED : 0;
}

static const struct pn_relay_core_ops core_ops = {
    .send_frame = op_send_frame,
    .send_data = srv_op_send_data,
    .send_udp = op_send_udp,
    .kick = op_kick,
    .authorize = op_authorize,
    .renew = op_renew,
    .connector_valid = op_connector_valid,
};

/* ---- UDP data path ---- */

/* ---- streams ---- */

static void conn_unlink(struct pn_relay_server *srv, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static int s_on_ready(struct pn_rstream *s, void *user)
{
	struct conn *c = user;
	struct pn_relay_server *srv = c->srv;
	char hex[PN_ID_HEX_LEN + 1];
	int r;

	struct pn_cred_info seen;
	uint64_t now_s = (uint64_t)pn_wall_s();

	r = pn_cred_verify_session_seen(srv->cfg.anchor, pn_rstream_tls(s), PN_CRED_ANY, now_s,
					PN_TRUST_DEFAULT_SKEW, &c->info, &seen);
	if (r == 0 && c->info.type != PN_CRED_CLIENT && c->info.type != PN_CRED_CONNECTOR)
		r = PN_E_WRONG_TYPE;
	pn_admit_release(&srv->adm, &c->adm);
	if (r == 0)
		r = pn_admit_peer(&srv->adm);
	if (r) {
		/* Say why (the peer's TLS finished before we checked it), then close. */
		struct pn_relay_msg m = {.type = PN_RELAY_F_ERROR, .code = r};
		uint8_t tmp[32];
		struct pn_buf b;
		srv->refused_auth++;
		if (r == PN_E_EXPIRED || r == PN_E_NOT_YET_VALID) {
			char hx[PN_ID_HEX_LEN + 1];
			pn_id_hex(seen.id, hx);
			PN_LOG_INFO("relay", "peer_refused",
				    "err=%s id=%s not_before=%" PRIu64 " not_after=%" PRIu64
				    " now=%" PRIu64 " skew_s=%d",
				    pn_errname(r), hx, seen.not_before, seen.not_after, now_s,
				    PN_TRUST_DEFAULT_SKEW);
		} else {
			PN_LOG_INFO("relay", "peer_refused", "err=%s", pn_errname(r));
		}
		pn_buf_init_wr(&b, tmp, sizeof(tmp));
		if (pn_relay_msg_encode(&m, &b) == 0)
			pn_rstream_send(s, tmp, pn_buf_len(&b), 0);
		pn_rstream_close(s, r, 1);
		return 0;
	}
	c->peer = pn_relay_core_attach(srv->core, c,
				       c->info.type == PN_CRED_CLIENT ? PN_RELAY_ROLE_CLIENT
								      : PN_RELAY_ROLE_CONNECTOR,
				       c->info.id);
	if (!c->peer) {
		pn_admit_peer_gone(&srv->adm);
		return -ENOMEM;
	}
	pn_id_hex(c->info.id, hex);
	PN_LOG_INFO("relay", "peer_up", "role=%s id=%s ws=%d", pn_cred_type_name(c->info.type), hex,
		    pn_rstream_is_ws(s));
	return 0;
}

static int s_on_frame(struct pn_rstream *s, const struct pn_relay_frame *f, void *user)
{
	struct conn *c = user;

	if (!c->peer) /* refused, closing */
		return PN_E_CLOSED;
	return pn_relay_core_frame(c->srv->core, c->peer, f, uv_now(c->srv->loop));
}

static void maybe_finish_close(struct pn_relay_server *srv);

static void s_on_close(struct pn_rstream *s, int err, void *user)
{
	struct conn *c = user;
	struct pn_relay_server *srv = c->srv;

	pn_admit_release(&srv->adm, &c->adm);
	if (!c->peer)
		PN_LOG_DEBUG("relay", "conn_refused", "err=%s", pn_errname(err));
	if (c->peer) {
		char hex[PN_ID_HEX_LEN + 1];
		pn_id_hex(c->info.id, hex);
		PN_LOG_INFO("relay", "peer_down", "role=%s id=%s err=%s",
			    pn_cred_type_name(c->info.type), hex, pn_errname(err));
		pn_relay_core_detach(srv->core, c->peer);
		pn_admit_peer_gone(&srv->adm);
	}
	conn_unlink(srv, c);
	free(c);
	maybe_finish_close(srv);
}

static void s_on_input_end(struct pn_rstream *s, void *user)
{
	struct conn *c = user;
	srv_udp_flush(c->srv);
}

static const struct pn_rstream_ops stream_ops = {
    .on_ready = s_on_ready,
    .on_frame = s_on_frame,
    .on_close = s_on_close,
    .on_input_end = s_on_input_end,
};

static void refused_closed(uv_handle_t *h)
{
	free(h);
}

static void refuse(uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t)
		return;
	uv_tcp_init(server->loop, t);
	if (uv_accept(server, (uv_stream_t *)t) == 0) {
		/* RST instead of FIN: no TIME_WAIT state for refused floods. */
		uv_tcp_close_reset(t, refused_closed);
		return;
	}
	uv_close((uv_handle_t *)t, refused_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct pn_relay_server *srv = server->data;
	struct sockaddr_storage ss;
	struct pn_relay_addr a;
	struct pn_admit_entry *old;
	struct conn *c;
	int len = sizeof(ss), r;

	if (status < 0 || srv->closing)
		return;
	if ((old = pn_admit_make_room(&srv->adm))) /* full: the oldest goes */
		pn_rstream_close(CONN_OF(old)->s, PN_E_RELAY_LIMIT, 0);
	else if (srv->adm.npending >= srv->adm.max_pending) {
		refuse(server);
		return;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		refuse(server);
		return;
	}
	c->srv = srv;
	if (pn_rstream_accept(server, &srv->scfg, &stream_ops, c, &c->s)) {
		free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	/* Per-source cap on unauthenticated connections (IPv4 as v4-mapped). */
	memcpy(&ss, pn_rstream_peer_addr(c->s), sizeof(ss));
	(void)len;
	pn_relay_addr_from_sa(&a, (struct sockaddr *)&ss);
	if ((r = pn_admit_pending(&srv->adm, &c->adm, a.ip)) != 0)
		pn_rstream_close(c->s, r, 0);
}

/* ---- timers, stats ---- */

void pn_relay_server_stats_line(const struct pn_relay_server *srv, char *buf, size_t n)
{
	const struct pn_relay_stats *st = pn_relay_core_stats(srv->core);

	snprintf(buf, n,
		 "sessions=%llu peers=%llu connectors=%llu pending=%u opened=%llu closed=%llu "
		 "denied=%llu "
		 "udp_rx_pkts=%llu udp_rx_bytes=%llu fwd_pkts=%llu fwd_bytes=%llu tx_pkts=%llu "
		 "tx_bytes=%llu "
		 "gso_sends=%llu stun=%llu binds_ok=%llu binds_bad=%llu binds_challenged=%llu "
		 "drop_malformed=%llu "
		 "drop_no_session=%llu "
		 "drop_addr=%llu drop_queue=%llu drop_amplification=%llu drop_denied=%llu "
		 "tx_drops=%llu "
		 "refused_pending=%llu "
		 "refused_auth=%llu gro=%d gso=%d st_records=%llu st_writes=%llu",
		 (unsigned long long)st->sessions, (unsigned long long)st->peers,
		 (unsigned long long)st->connectors, srv->adm.npending,
		 (unsigned long long)st->sessions_opened, (unsigned long long)st->sessions_closed,
		 (unsigned long long)st->opens_denied, (unsigned long long)st->udp_rx_pkts,
		 (unsigned long long)st->udp_rx_bytes, (unsigned long long)st->fwd_pkts,
		 (unsigned long long)st->fwd_bytes, (unsigned long long)srv->tx_pkts,
		 (unsigned long long)srv->tx_bytes, (unsigned long long)srv->gso_sends,
		 (unsigned long long)st->stun, (unsigned long long)st->binds_ok,
		 (unsigned long long)st->binds_bad, (unsigned long long)st->binds_challenged,
		 (unsigned long long)st->drop_malformed, (unsigned long long)st->drop_no_session,
		 (unsigned long long)st->drop_addr, (unsigned long long)st->drop_queue,
		 (unsigned long long)st->drop_amplification, (unsigned long long)st->drop_denied,
		 (unsigned long long)srv->tx_drops,
		 (unsigned long long)srv->adm.refused_pending, (unsigned long long)srv->refused_auth,
		 srv->gro, srv->gso, (unsigned long long)srv->sst.records,
		 (unsigned long long)srv->sst.writes);
}

static void log_stats(struct pn_relay_server *srv)
{
	char line[1024];
	pn_relay_server_stats_line(srv, line, sizeof(line));
	PN_LOG_INFO("relay", "stats", "%s", line);
}

static void on_stats(uv_timer_t *t)
{
	log_stats(t->data);
}

static void on_sigusr1(uv_signal_t *h, int sig)
{
	log_stats(h->data);
}

static void on_sweep(uv_timer_t *t)
{
	struct pn_relay_server *srv = t->data;
	uint64_t now = uv_now(srv->loop);

	pn_relay_core_tick(srv->core, now);
	/* Own addresses change (DHCP, new interfaces): re-read them now and then. */
	if (++srv->sweeps % OWN_REFRESH_SWEEPS == 0)
		pn_relay_peerfilter_load_own(&srv->filter);
	/* Authenticated streams must show life (PING) within the idle limit. */
	for (struct conn *c = srv->conns; c; c = c->next)
		if (c->peer && now - pn_rstream_last_rx(c->s) > PN_RELAY_CONN_IDLE_MS)
			pn_rstream_close(c->s, PN_E_TIMEOUT, 0);
}

/* ---- lifecycle ---- */

/* Denied peer addresses: the defaults, our own addresses, minus --allow-peer. */
static int peer_filter_init(struct pn_relay_server *srv, const struct pn_relay_server_config *cfg)
{
	char allowed[512] = "", one[64];
	size_t off = 0;
	int r;

	pn_relay_peerfilter_init(&srv->filter);
	for (unsigned i = 0; i < cfg->n_allow_peer && i < PN_RELAY_ALLOW_MAX; i++) {
		if ((r = pn_relay_peerfilter_allow(&srv->filter, cfg->allow_peer[i]))) {
			PN_LOG_ERROR("relay", "bad_allow_peer", "cidr=\"%.64s\" err=%s",
				     cfg->allow_peer[i], pn_errname(r));
			return PN_E_CONFIG;
		}
		pn_relay_cidr_format(&srv->filter.allow[i], one, sizeof(one));
		off += (size_t)snprintf(allowed + off, off < sizeof(allowed) ? sizeof(allowed) - off : 0,
					"%s%s", i ? "," : "", one);
	}
	if ((r = pn_relay_peerfilter_load_own(&srv->filter)))
		PN_LOG_WARN("relay", "own_addresses_unknown", "err=%s", pn_errname(r));
	pn_relay_core_set_peerfilter(srv->core, &srv->filter);
	PN_LOG_INFO("relay", "peer_filter", "allow=%s own_addresses=%u", off ? allowed : "-",
		    srv->filter.nown);
	return 0;
}

int pn_relay_server_udp_port(const struct pn_relay_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (srv->udp_fd < 0 || getsockname(srv->udp_fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

int pn_relay_server_tls_port(const struct pn_relay_server *srv)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (!srv->cfg.tls_addr || uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void free_server(struct pn_relay_server *srv)
{
	pn_admit_fini(&srv->adm);
	pn_relay_core_free(srv->core);
	if (srv->cred)
		gnutls_certificate_free_credentials(srv->cred);
	while (srv->retired) {
		struct retired *r = srv->retired;
		srv->retired = r->next;
		gnutls_certificate_free_credentials(r->cred);
		free(r);
	}
	if (srv->udp_fd >= 0)
		close(srv->udp_fd);
	pn_udp_rx_fini(&srv->rx);
	free(srv);
}

int pn_relay_server_set_limits(struct pn_relay_server *srv,
			       const struct pn_relay_server_config *cfg)
{
	int r;

	if (!cfg->max_pending || !cfg->max_pending_per_ip || !cfg->max_conns)
		return PN_E_INVAL;
	if ((r = pn_relay_core_set_limits(srv->core, &cfg->limits)))
		return r;
	srv->cfg.limits = cfg->limits;
	srv->adm.max_pending = srv->cfg.max_pending = cfg->max_pending;
	srv->adm.max_per_ip = srv->cfg.max_pending_per_ip = cfg->max_pending_per_ip;
	srv->adm.max_conns = srv->cfg.max_conns = cfg->max_conns;
	if (srv->cfg.stats_ms != cfg->stats_ms) {
		srv->cfg.stats_ms = cfg->stats_ms;
		uv_timer_stop(&srv->stats);
		if (cfg->stats_ms)
			uv_timer_start(&srv->stats, on_stats, cfg->stats_ms, cfg->stats_ms);
	}
	return 0;
}

int pn_relay_server_new(uv_loop_t *loop, const struct pn_relay_server_config *cfg,
			struct pn_relay_server **out)
{
	struct pn_relay_server *srv;
	struct sockaddr_storage ss;
	struct pn_cred_info self;
	int r;

	if (!cfg->anchor || !cfg->key || !cfg->cert_pem || (!cfg->udp_addr && !cfg->tls_addr))
		return PN_E_CONFIG;
	/* Refuse to serve with anything but a relay credential of the pinned CA. */
	if ((r = pn_cred_verify(cfg->anchor, cfg->cert_pem, strlen(cfg->cert_pem), PN_CRED_RELAY,
				(uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &self)))
		return r;
	if (!(srv = calloc(1, sizeof(*srv))))
		return -ENOMEM;
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->udp_fd = -1;
	if ((r = pn_relay_core_new(&cfg->limits, &core_ops, srv, &srv->core)))
		goto out;
	if ((r = peer_filter_init(srv, cfg)))
		goto out;
	if ((r = pn_admit_init(&srv->adm, cfg->max_pending, cfg->max_pending_per_ip,
			       cfg->max_conns)))
		goto out;
	if ((r = pn_cred_tls_credentials(cfg->key, cfg->cert_pem, cfg->anchor, &srv->cred)))
		goto out;
	srv->scfg.server = 1;
	srv->scfg.cred = srv->cred;
	srv->scfg.rxbuf = srv->rxbuf;
	srv->scfg.plainbuf = srv->plainbuf;
	srv->scfg.ws_path = cfg->ws_path;
	srv->scfg.stats = &srv->sst;
	if (cfg->udp_addr) {
		if ((r = pn_relay_parse_addr(cfg->udp_addr, &ss)) || (r = srv_udp_open(srv, &ss)))
			goto out;
	}
	if (cfg->tls_addr && (r = pn_relay_parse_addr(cfg->tls_addr, &ss)))
		goto out;

	/* From here on handles exist: failures go through close. */
	uv_tcp_init(loop, &srv->tcp);
	srv->tcp.data = srv;
	uv_timer_init(loop, &srv->sweep);
	uv_timer_init(loop, &srv->stats);
	uv_signal_init(loop, &srv->sigusr1);
	srv->sweep.data = srv->stats.data = srv->sigusr1.data = srv;
	srv->handles = 4;
	if (srv->udp_fd >= 0) {
		uv_poll_init(loop, &srv->poll, srv->udp_fd);
		srv->poll.data = srv;
		srv->handles++;
		uv_poll_start(&srv->poll, UV_READABLE, srv_on_udp);
	}
	if (cfg->tls_addr) {
		if ((r = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&ss, 0)) ||
		    (r = uv_listen((uv_stream_t *)&srv->tcp, 1024, on_connection))) {
			pn_relay_server_close(srv, NULL, NULL);
			return r;
		}
	}
	uv_timer_start(&srv->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	if (cfg->stats_ms)
		uv_timer_start(&srv->stats, on_stats, cfg->stats_ms, cfg->stats_ms);
	uv_signal_start(&srv->sigusr1, on_sigusr1, SIGUSR1);
	PN_LOG_INFO("relay", "listening", "udp=%s tls=%s ws_path=%s gro=%d gso=%d",
		    cfg->udp_addr ? cfg->udp_addr : "-", cfg->tls_addr ? cfg->tls_addr : "-",
		    cfg->ws_path ? cfg->ws_path : "-", srv->gro, srv->gso);
	*out = srv;
	return 0;
out:
	free_server(srv);
	return r;
}

int pn_relay_server_set_credential(struct pn_relay_server *srv, const struct pn_key *key,
				   const char *cert_pem)
{
	gnutls_certificate_credentials_t cred;
	struct pn_cred_info self;
	struct retired *old;
	int r;

	if ((r = pn_cred_verify(srv->cfg.anchor, cert_pem, strlen(cert_pem), PN_CRED_RELAY,
				(uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &self)))
		return r;
	if (!(old = calloc(1, sizeof(*old))))
		return -ENOMEM;
	if ((r = pn_cred_tls_credentials(key, cert_pem, srv->cfg.anchor, &cred))) {
		free(old);
		return r;
	}
	old->cred = srv->cred;
	old->next = srv->retired;
	srv->retired = old;
	srv->cred = cred;
	srv->scfg.cred = cred; /* new connections from now on */
	srv->cfg.key = NULL;   /* the borrowed originals are no longer used */
	srv->cfg.cert_pem = NULL;
	PN_LOG_INFO("relay", "credential_renewed", "not_after=%llu",
		    (unsigned long long)self.not_after);
	return 0;
}

static void maybe_finish_close(struct pn_relay_server *srv)
{
	if (!srv->closing || srv->handles || srv->conns)
		return;
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;
	free_server(srv);
	if (cb)
		cb(arg);
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_relay_server *srv = h->data;
	srv->handles--;
	maybe_finish_close(srv);
}

void pn_relay_server_close(struct pn_relay_server *srv, void (*cb)(void *arg), void *arg)
{
	if (srv->closing)
		return;
	srv->closing = 1;
	srv->close_cb = cb;
	srv->close_arg = arg;
	for (struct conn *c = srv->conns; c; c = c->next)
		pn_rstream_close(c->s, PN_E_CLOSED, 0);
	uv_close((uv_handle_t *)&srv->tcp, handle_closed);
	uv_close((uv_handle_t *)&srv->sweep, handle_closed);
	uv_close((uv_handle_t *)&srv->stats, handle_closed);
	uv_close((uv_handle_t *)&srv->sigusr1, handle_closed);
	if (srv->udp_fd >= 0)
		uv_close((uv_handle_t *)&srv->poll, handle_closed);
}
