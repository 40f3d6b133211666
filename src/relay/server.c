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

/* ---- core ops: srv->cur is the worker inside the core ---- */

static int op_send_frame(void *c, const uint8_t *p, size_t n, void *user)
{
	struct pn_relay_server *srv = user;
	return srv_send_frame(srv->cur, c, p, n);
}

static int op_send_data(void *c, const uint8_t *hdr, size_t hn, const uint8_t *p, size_t n,
			void *user)
{
	struct pn_relay_server *srv = user;
	return srv_send_data(srv->cur, c, hdr, hn, p, n);
}

static int op_send_udp(const struct pn_relay_addr *to, const struct iovec *iov, int iovcnt,
		       void *user)
{
	struct pn_relay_server *srv = user;
	/* Queued: sent with the rest of the stream's input chunk (s_on_input_end),
	 * from this worker's socket (same port: the peer sees the same source). */
	return srv_queue_udp(srv->cur, to, iov, (unsigned)iovcnt);
}

static void op_kick(void *c, int err, void *user)
{
	struct pn_relay_server *srv = user;
	srv_kick(srv->cur, c, err, 1);
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

/* Steering: a session's UDP goes to the worker of its stream side
 * (server_worker.c attaches the reuseport program reading sid[7]). */
static int op_lane(void *c, unsigned *lane, unsigned *nlanes, void *user)
{
	struct pn_relay_server *srv = user;
	struct conn *cn = c;

	if (!srv->steer)
		return -1;
	*lane = cn->w->idx;
	*nlanes = srv->nworkers;
	return 0;
}

const struct pn_relay_core_ops srv_core_ops = {
    .send_frame = op_send_frame,
    .send_data = op_send_data,
    .send_udp = op_send_udp,
    .kick = op_kick,
    .authorize = op_authorize,
    .renew = op_renew,
    .connector_valid = op_connector_valid,
    .lane = op_lane,
};

/* ---- timers, stats ---- */

static void log_stats(struct pn_relay_server *srv)
{
	char line[1536];
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

	if (!srv->w || !srv->w[0] || srv->w[0]->udp_fd < 0 ||
	    getsockname(srv->w[0]->udp_fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

int pn_relay_server_tls_port(const struct pn_relay_server *srv)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (!srv->cfg.tls_addr || !srv->w || !srv->w[0] || !srv->w[0]->tcp.data ||
	    uv_tcp_getsockname(&srv->w[0]->tcp, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void free_server(struct pn_relay_server *srv)
{
	srv_workers_free(srv);
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
	uv_mutex_destroy(&srv->mu);
	free(srv);
}

static void lock(struct pn_relay_server *srv)
{
	if (srv->mt)
		uv_mutex_lock(&srv->mu);
}

static void unlock(struct pn_relay_server *srv)
{
	if (srv->mt)
		uv_mutex_unlock(&srv->mu);
}

int pn_relay_server_set_limits(struct pn_relay_server *srv,
			       const struct pn_relay_server_config *cfg)
{
	int r;

	if (!cfg->max_pending || !cfg->max_pending_per_ip || !cfg->max_conns)
		return PN_E_INVAL;
	lock(srv);
	r = pn_relay_core_set_limits(srv->core, &cfg->limits);
	if (r == 0) {
		srv->cfg.limits = cfg->limits;
		srv->adm.max_pending = srv->cfg.max_pending = cfg->max_pending;
		srv->adm.max_per_ip = srv->cfg.max_pending_per_ip = cfg->max_pending_per_ip;
		srv->adm.max_conns = srv->cfg.max_conns = cfg->max_conns;
	}
	unlock(srv);
	if (r)
		return r;
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
	struct sockaddr_storage uss, tss;
	struct pn_cred_info self;
	int r;

	if (!cfg->anchor || !cfg->key || !cfg->cert_pem || (!cfg->udp_addr && !cfg->tls_addr) ||
	    cfg->workers > PN_RELAY_MAX_WORKERS)
		return PN_E_CONFIG;
	/* Refuse to serve with anything but a relay credential of the pinned CA. */
	if ((r = pn_cred_verify(cfg->anchor, cfg->cert_pem, strlen(cfg->cert_pem), PN_CRED_RELAY,
				(uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &self)))
		return r;
	if (!(srv = calloc(1, sizeof(*srv))))
		return -ENOMEM;
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->nworkers = cfg->workers ? cfg->workers : 1;
	srv->mt = srv->nworkers > 1;
	uv_mutex_init(&srv->mu);
	if ((r = pn_relay_core_new(&cfg->limits, &srv_core_ops, srv, &srv->core)))
		goto out;
	if ((r = peer_filter_init(srv, cfg)))
		goto out;
	if ((r = pn_admit_init(&srv->adm, cfg->max_pending, cfg->max_pending_per_ip,
			       cfg->max_conns)))
		goto out;
	if ((r = pn_cred_tls_credentials(cfg->key, cfg->cert_pem, cfg->anchor, &srv->cred)))
		goto out;
	if ((cfg->udp_addr && (r = pn_relay_parse_addr(cfg->udp_addr, &uss))) ||
	    (cfg->tls_addr && (r = pn_relay_parse_addr(cfg->tls_addr, &tss))))
		goto out;
	if ((r = srv_workers_open(srv, cfg->udp_addr ? &uss : NULL, cfg->tls_addr ? &tss : NULL)))
		goto out;

	/* From here on handles exist: failures go through close. */
	uv_timer_init(loop, &srv->stats);
	uv_signal_init(loop, &srv->sigusr1);
	srv->stats.data = srv->sigusr1.data = srv;
	srv->handles = 2;
	if ((r = srv_workers_start(srv))) {
		pn_relay_server_close(srv, NULL, NULL);
		return r;
	}
	if (cfg->stats_ms)
		uv_timer_start(&srv->stats, on_stats, cfg->stats_ms, cfg->stats_ms);
	uv_signal_start(&srv->sigusr1, on_sigusr1, SIGUSR1);
	PN_LOG_INFO("relay", "listening",
		    "udp=%s tls=%s ws_path=%s gro=%d gso=%d workers=%u steer=%d",
		    cfg->udp_addr ? cfg->udp_addr : "-", cfg->tls_addr ? cfg->tls_addr : "-",
		    cfg->ws_path ? cfg->ws_path : "-", srv->gro, srv->gso, srv->nworkers,
		    srv->steer);
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
	lock(srv);
	srv->cred = cred; /* new connections from now on (srv_on_connection) */
	unlock(srv);
	srv->cfg.key = NULL;   /* the borrowed originals are no longer used */
	srv->cfg.cert_pem = NULL;
	PN_LOG_INFO("relay", "credential_renewed", "not_after=%llu",
		    (unsigned long long)self.not_after);
	return 0;
}

static void main_closed(uv_handle_t *h)
{
	struct pn_relay_server *srv = h->data;
	srv->handles--;
	srv_maybe_finish(srv);
}

/* Every worker done: free and call back (from worker 0's thread). */
void srv_maybe_finish(struct pn_relay_server *srv)
{
	struct worker *w0 = srv->w ? srv->w[0] : NULL;
	int all = 1;

	if (!srv->closing || (w0 && (w0->handles || w0->conns)))
		return;
	if (srv->mt && !srv->joined) {
		lock(srv);
		for (unsigned i = 1; i < srv->nworkers; i++)
			if (srv->w[i] && srv->w[i]->started && !srv->w[i]->finished)
				all = 0;
		unlock(srv);
		if (!all)
			return;
		srv->joined = 1;
		for (unsigned i = 1; i < srv->nworkers; i++)
			if (srv->w[i] && srv->w[i]->started)
				uv_thread_join(&srv->w[i]->thread);
		uv_close((uv_handle_t *)&srv->done, main_closed);
		return;
	}
	if (srv->handles)
		return;
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;
	free_server(srv);
	if (cb)
		cb(arg);
}

void pn_relay_server_close(struct pn_relay_server *srv, void (*cb)(void *arg), void *arg)
{
	if (srv->closing)
		return;
	srv->closing = 1;
	srv->close_cb = cb;
	srv->close_arg = arg;
	uv_close((uv_handle_t *)&srv->stats, main_closed);
	uv_close((uv_handle_t *)&srv->sigusr1, main_closed);
	srv_workers_stop(srv);
	srv_maybe_finish(srv);
}
