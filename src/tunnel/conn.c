/*
 * QUIC connection core over ngtcp2 0.12.1 + GnuTLS.  See conn.h.
 * API notes from the quic-spike (pitfalls 1-11) are referenced as [Pn].
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/conn_int.h"
#include "tunnel/flowproto.h"

/* ------------------------------------------------------------- helpers -- */

int pn_tconn_i_map_liberr(int rv)
{
	switch (rv) {
	case NGTCP2_ERR_DRAINING:
	case NGTCP2_ERR_CLOSING:
		return PN_E_CLOSED;
	case NGTCP2_ERR_IDLE_CLOSE:
		return PN_E_TUN_IDLE;
	case NGTCP2_ERR_NOMEM:
		return -ENOMEM;
	case NGTCP2_ERR_CRYPTO:
	case NGTCP2_ERR_CALLBACK_FAILURE:
		return PN_E_TUN_HANDSHAKE;
	default:
		return PN_E_TUN_QUIC;
	}
}

static void set_close_liberr(struct pn_tconn *c, int rv, int err)
{
	if (rv == NGTCP2_ERR_CRYPTO || (rv == NGTCP2_ERR_CALLBACK_FAILURE && c->verify_err)) {
		uint8_t alert = ngtcp2_conn_get_tls_alert(c->q);
		if (c->verify_err || err == PN_E_TUN_NO_CRED)
			alert = pn_tconn_i_refusal_alert(c, err);
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
			&c->lasterr, alert, (const uint8_t *)c->close_text, strlen(c->close_text));
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(&c->lasterr, rv, NULL, 0);
	}
}

/* --------------------------------------------------------------- TLS ---- */

ngtcp2_conn *pn_tconn_i_get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct pn_tconn *)ref->user_data)->q;
}

/* ---------------------------------------------------- ngtcp2 callbacks -- */

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	(void)ctx;
	gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

static int new_cid_cb(ngtcp2_conn *q, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
		      void *ud)
{
	struct pn_tconn *c = ud;

	/* All our CIDs share the connection's key prefix: O(1) demux. */
	if (cidlen < PN_TCONN_CID_KEY_LEN)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	memcpy(cid->data, c->cfg.cid_key, PN_TCONN_CID_KEY_LEN);
	if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data + PN_TCONN_CID_KEY_LEN,
		       cidlen - PN_TCONN_CID_KEY_LEN) != 0 ||
	    gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	cid->datalen = cidlen;
	return 0;
}

static int hs_done_cb(ngtcp2_conn *q, void *ud)
{
	struct pn_tconn *c = ud;

	c->hs_done = 1;
	if (c->cfg.cbs->handshake_done)
		c->cfg.cbs->handshake_done(c, &c->peer, c->cfg.user);
	return 0;
}

static int stream_open_cb(ngtcp2_conn *q, int64_t sid, void *ud)
{
	struct pn_tconn *c = ud;
	struct tstream *s;

	/* Only client-initiated bidirectional streams exist in our protocol. */
	if (c->cfg.role != PN_TCONN_SERVER || (sid & 0x3) != 0) {
		ngtcp2_conn_shutdown_stream(q, sid, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_REQUEST);
		return 0;
	}
	if (!(s = pn_tconn_i_stream_new(c, sid, NULL)))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	ngtcp2_conn_set_stream_user_data(q, sid, s);
	if (c->cfg.cbs->stream_open && c->cfg.cbs->stream_open(c, sid, c->cfg.user) != 0)
		ngtcp2_conn_shutdown_stream(q, sid, PN_FLOW_APP_ERR_BASE + PN_FLOW_LIMIT);
	return 0;
}

static int recv_data_cb(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t off,
			const uint8_t *data, size_t len, void *ud, void *sud)
{
	struct pn_tconn *c = ud;
	struct tstream *s = sud;
	int fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;

	if (!s || !c->cfg.cbs->stream_data) {
		/* Nobody reads it: credit it back so the connection is not starved. */
		ngtcp2_conn_extend_max_stream_offset(q, sid, len);
		ngtcp2_conn_extend_max_offset(q, len);
		return 0;
	}
	if (c->cfg.cbs->stream_data(c, sid, data, len, fin, c->cfg.user, s->user) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int acked_cb(ngtcp2_conn *q, int64_t sid, uint64_t off, uint64_t len, void *ud,
		    void *sud)
{
	struct pn_tconn *c = ud;
	struct tstream *s = sud;

	if (s)
		pn_tconn_i_acked(c, s, off + len);
	return 0;
}

static int ext_stream_data_cb(ngtcp2_conn *q, int64_t sid, uint64_t max, void *ud, void *sud)
{
	struct pn_tconn *c = ud;
	struct tstream *s = sud;

	if (s && s->blocked) {
		s->blocked = 0;
		if (pn_tconn_i_stream_has_work(s))
			pn_tconn_i_queue_add(c, s);
	}
	return 0;
}

static int stream_close_cb(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t app_err,
			   void *ud, void *sud)
{
	struct pn_tconn *c = ud;
	struct tstream *s = sud;
	int has = (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) != 0;

	if (c->cfg.cbs->stream_close)
		c->cfg.cbs->stream_close(c, sid, has, app_err, c->cfg.user, s ? s->user : NULL);
	if (s)
		pn_tconn_i_stream_free(c, s);
	/* ngtcp2 does not return stream credit by itself: a closed peer stream
	   frees a slot for a new one (the limit bounds concurrency, not the
	   tunnel's lifetime total) */
	if (c->cfg.role == PN_TCONN_SERVER && !ngtcp2_conn_is_local_stream(q, sid))
		ngtcp2_conn_extend_max_streams_bidi(q, 1);
	return 0;
}

static int stream_reset_cb(ngtcp2_conn *q, int64_t sid, uint64_t final_size, uint64_t app_err,
			   void *ud, void *sud)
{
	struct pn_tconn *c = ud;
	struct tstream *s = sud;

	if (c->cfg.cbs->stream_reset)
		c->cfg.cbs->stream_reset(c, sid, app_err, c->cfg.user, s ? s->user : NULL);
	return 0;
}

static int stop_sending_cb(ngtcp2_conn *q, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	return stream_reset_cb(q, sid, 0, app_err, ud, sud);
}

static int recv_dgram_cb(ngtcp2_conn *q, uint32_t flags, const uint8_t *data, size_t len,
			 void *ud)
{
	struct pn_tconn *c = ud;

	if (pn_tconn_i_is_probe(data, len))
		return 0; /* a Path MTU probe's padding (conn_pmtu.c) */
	if (c->cfg.cbs->datagram)
		c->cfg.cbs->datagram(c, data, len, c->cfg.user);
	return 0;
}

static int ext_bidi_cb(ngtcp2_conn *q, uint64_t max, void *ud)
{
	struct pn_tconn *c = ud;

	if (c->cfg.cbs->streams_available)
		c->cfg.cbs->streams_available(c, c->cfg.user);
	return 0;
}

static int path_validation_cb(ngtcp2_conn *q, uint32_t flags, const ngtcp2_path *path,
			      ngtcp2_path_validation_result res, void *ud)
{
	struct pn_tconn *c = ud;

	if (c->cfg.cbs->path_validated)
		c->cfg.cbs->path_validated(c, path->user_data,
					   res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS,
					   c->cfg.user);
	return 0;
}

static void log_cb(void *ud, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_cb(void *ud, const char *fmt, ...)
{
	va_list ap;
	(void)ud;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void fill_callbacks(ngtcp2_callbacks *cb, int server)
{
	/* [P1] positional in examples: zero and set by name.  [P2] required set. */
	memset(cb, 0, sizeof(*cb));
	if (server) {
		cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
	} else {
		cb->client_initial = ngtcp2_crypto_client_initial_cb;
		cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
		cb->extend_max_local_streams_bidi = ext_bidi_cb;
	}
	cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
	cb->encrypt = ngtcp2_crypto_encrypt_cb;
	cb->decrypt = ngtcp2_crypto_decrypt_cb;
	cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
	cb->update_key = ngtcp2_crypto_update_key_cb;
	cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
	cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
	cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
	cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
	cb->rand = rand_cb;
	cb->get_new_connection_id = new_cid_cb;
	cb->handshake_completed = hs_done_cb;
	cb->stream_open = stream_open_cb;
	cb->recv_stream_data = recv_data_cb;
	cb->acked_stream_data_offset = acked_cb;
	cb->extend_max_stream_data = ext_stream_data_cb;
	cb->stream_close = stream_close_cb;
	cb->stream_reset = stream_reset_cb;
	cb->stream_stop_sending = stop_sending_cb;
	cb->recv_datagram = recv_dgram_cb;
	cb->ack_datagram = pn_tconn_i_ack_dgram_cb;
	cb->lost_datagram = pn_tconn_i_lost_dgram_cb;
	cb->path_validation = path_validation_cb;
}

static void fill_settings(const struct pn_tconn *c, ngtcp2_settings *s,
			  ngtcp2_transport_params *tp, uint64_t now)
{
	const struct pn_tconn_config *k = &c->cfg;

	ngtcp2_settings_default(s);
	s->initial_ts = now;
	/* BBRv2, not CUBIC: ngtcp2 0.12's CUBIC (and Reno) stop growing the
	   window past 2.89 x max(initial window, max delivery rate x min
	   RTT).  On a LAN the min RTT (40 us, an idle path) is far below
	   the RTT under load (200-600 us), so a tunnel whose early rate
	   samples were low stayed at 43 KB: half the downloads ran at
	   1.5-2 Gbit/s.  BBRv2 was faster on every row, and on a simulated
	   20%-loss, 300 ms path too; one stall under 20% loss (ASan, once)
	   is not explained: docs/performance.md, "Bimodal per tunnel". */
	s->cc_algo = NGTCP2_CC_ALGO_BBR2;
	/* [P5] packet sizes are ours: each write passes the current path's
	   size (Path MTU, conn_pmtu.c; ngtcp2's own PMTUD is off: see
	   tunnel/pmtu.h); [P6] lower initial RTT so pacing does not hold the
	   handshake back on a LAN. */
	s->max_tx_udp_payload_size = PN_PATH_MAX_UDP_PAYLOAD;
	s->no_tx_udp_payload_size_shaping = 1;
	s->no_pmtud = 1;
	s->initial_rtt = 50 * NGTCP2_MILLISECONDS;
	/* unauthenticated state must not linger */
	s->handshake_timeout = PN_TCONN_HANDSHAKE_MS * NGTCP2_MILLISECONDS;
	s->max_window = k->conn_window;
	s->max_stream_window = k->stream_window;
	if (k->debug_log)
		s->log_printf = log_cb;
	ngtcp2_transport_params_default(tp);
	tp->initial_max_streams_bidi = k->role == PN_TCONN_SERVER ? k->max_streams : 0;
	tp->initial_max_streams_uni = 0;
	tp->initial_max_stream_data_bidi_local = k->stream_window;
	tp->initial_max_stream_data_bidi_remote = k->stream_window;
	tp->initial_max_data = k->conn_window;
	tp->max_idle_timeout = (uint64_t)k->idle_ms * NGTCP2_MILLISECONDS;
	tp->max_udp_payload_size = 65527;
	/* room for Path MTU probes (flow datagrams stay within
	   PN_FLOW_DGRAM_PAYLOAD_MAX, checked by the flow layer) */
	tp->max_datagram_frame_size = PN_PATH_MAX_UDP_PAYLOAD;
	tp->active_connection_id_limit = 4;
}

static ngtcp2_path mk_path(struct pn_path *p)
{
	ngtcp2_path np = {{(struct sockaddr *)&p->local, p->local_len},
			  {(struct sockaddr *)&p->remote, p->remote_len},
			  p};
	return np;
}

static int conn_alloc(const struct pn_tconn_config *cfg, struct pn_path *path,
		      struct pn_tconn **out)
{
	struct pn_tconn *c;

	if (!cfg || !cfg->cred || !cfg->anchor || !cfg->cbs || !cfg->unix_now || !path)
		return PN_E_INVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.stream_sndbuf)
		c->cfg.stream_sndbuf = DEF_SNDBUF;
	if (!c->cfg.stream_window)
		c->cfg.stream_window = DEF_WINDOW;
	if (!c->cfg.conn_window)
		c->cfg.conn_window = DEF_CONN_WINDOW;
	if (!c->cfg.max_streams)
		c->cfg.max_streams = DEF_MAX_STREAMS;
	if (!c->cfg.idle_ms)
		c->cfg.idle_ms = DEF_IDLE_MS;
	if (!c->cfg.keepalive_ms)
		c->cfg.keepalive_ms = PN_TCONN_KEEPALIVE_MS;
	if (c->cfg.keepalive_ms >= c->cfg.idle_ms)
		c->cfg.keepalive_ms = c->cfg.idle_ms / 3;
	if (!c->cfg.clock_skew_s)
		c->cfg.clock_skew_s = PN_TRUST_DEFAULT_SKEW;
	c->path0 = path;
	ngtcp2_connection_close_error_default(&c->lasterr);
	if (!(c->dq = malloc(sizeof(struct dgram) * PN_TCONN_DGRAM_QUEUE))) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* The ngtcp2 connection exists: TLS and keepalive, then hand c out (or free it). */
static int start(struct pn_tconn *c, struct pn_tconn **out)
{
	int r = pn_tconn_i_tls_setup(c);

	if (r != 0) {
		pn_tconn_free(c);
		return r;
	}
	ngtcp2_conn_set_keep_alive_timeout(c->q, (uint64_t)c->cfg.keepalive_ms * NGTCP2_MILLISECONDS);
	*out = c;
	return 0;
}

int pn_tconn_client_new(const struct pn_tconn_config *cfg, struct pn_path *path, uint64_t now,
			struct pn_tconn **out)
{
	struct pn_tconn *c = NULL;
	ngtcp2_callbacks cb;
	ngtcp2_settings s;
	ngtcp2_transport_params tp;
	ngtcp2_cid dcid, scid;
	ngtcp2_path np;
	int r;

	if ((r = conn_alloc(cfg, path, &c)) != 0)
		return r;
	dcid.datalen = scid.datalen = PN_TCONN_CID_LEN;
	memcpy(scid.data, c->cfg.cid_key, PN_TCONN_CID_KEY_LEN);
	if (pn_random(dcid.data, dcid.datalen) != 0 ||
	    pn_random(scid.data + PN_TCONN_CID_KEY_LEN, PN_TCONN_CID_LEN - PN_TCONN_CID_KEY_LEN)) {
		r = PN_E_CRYPTO;
		goto out;
	}
	fill_callbacks(&cb, 0);
	fill_settings(c, &s, &tp, now);
	np = mk_path(path);
	if (ngtcp2_conn_client_new(&c->q, &dcid, &scid, &np, NGTCP2_PROTO_VER_V1, &cb, &s, &tp,
				   NULL, c) != 0) {
		r = -ENOMEM;
		goto out;
	}
	r = start(c, out);
	c = NULL; /* transferred or freed */
out:
	pn_tconn_free(c);
	return r;
}

int pn_tconn_accept_check(const uint8_t *pkt, size_t len)
{
	ngtcp2_pkt_hd hd;

	return ngtcp2_accept(&hd, pkt, len) == 0 ? 0 : PN_E_MALFORMED;
}

int pn_tconn_retry_check(const uint8_t secret[PN_TCONN_RETRY_SECRET_LEN],
			 const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
			 size_t len, uint64_t now, uint8_t *out, size_t outsz, size_t *outlen,
			 struct pn_tconn_config *cfg)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	ngtcp2_pkt_hd hd;
	ngtcp2_cid scid, odcid;
	ngtcp2_ssize n;

	if (ngtcp2_accept(&hd, pkt, len) != 0)
		return PN_E_MALFORMED;
	if (hd.token.len == 0) {
		scid.datalen = PN_TCONN_CID_LEN;
		/* ngtcp2 asserts (aborts) if the Retry's SCID equals the DCID
		 * the client chose: a random draw collides only by chance, or
		 * when pn_random is predictable (the fuzzer) */
		if (pn_random(scid.data, scid.datalen) != 0 || ngtcp2_cid_eq(&scid, &hd.dcid))
			return PN_E_MALFORMED;
		n = ngtcp2_crypto_generate_retry_token(token, secret, PN_TCONN_RETRY_SECRET_LEN,
						       hd.version, from, fromlen, &scid, &hd.dcid,
						       now);
		if (n < 0)
			return PN_E_MALFORMED;
		n = ngtcp2_crypto_write_retry(out, outsz, hd.version, &hd.scid, &scid, &hd.dcid,
					      token, (size_t)n);
		if (n < 0 || (size_t)n >= len)
			return PN_E_MALFORMED; /* never answer with more than was sent */
		*outlen = (size_t)n;
		return 1;
	}
	/* A token of another kind (NEW_TOKEN) is not issued by us: drop. */
	if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, secret,
					     PN_TCONN_RETRY_SECRET_LEN, hd.version, from, fromlen,
					     &hd.dcid,
					     (uint64_t)PN_TCONN_RETRY_TOKEN_MS * NGTCP2_MILLISECONDS,
					     now) != 0)
		return PN_E_EXPIRED;
	memcpy(cfg->retry_odcid, odcid.data, odcid.datalen);
	cfg->retry_odcid_len = odcid.datalen;
	return 0;
}

int pn_tconn_server_new(const struct pn_tconn_config *cfg, struct pn_path *path,
			const uint8_t *pkt, size_t len, uint64_t now, struct pn_tconn **out)
{
	struct pn_tconn *c = NULL;
	ngtcp2_callbacks cb;
	ngtcp2_settings s;
	ngtcp2_transport_params tp;
	ngtcp2_pkt_hd hd;
	ngtcp2_cid scid;
	ngtcp2_path np;
	int r;

	if (ngtcp2_accept(&hd, pkt, len) != 0)
		return PN_E_MALFORMED;
	if ((r = conn_alloc(cfg, path, &c)) != 0)
		return r;
	fill_callbacks(&cb, 1);
	fill_settings(c, &s, &tp, now);
	/* [P4] no accept helper: original dcid + our stateless reset token */
	tp.original_dcid = hd.dcid;
	if (cfg->retry_odcid_len) {
		/* after a Retry: the DCID of this Initial is the one we chose */
		if (cfg->retry_odcid_len > NGTCP2_MAX_CIDLEN) {
			r = PN_E_MALFORMED;
			goto out;
		}
		memcpy(tp.original_dcid.data, cfg->retry_odcid, cfg->retry_odcid_len);
		tp.original_dcid.datalen = cfg->retry_odcid_len;
		tp.retry_scid = hd.dcid;
		tp.retry_scid_present = 1;
	}
	tp.stateless_reset_token_present = 1;
	scid.datalen = PN_TCONN_CID_LEN;
	memcpy(scid.data, c->cfg.cid_key, PN_TCONN_CID_KEY_LEN);
	if (pn_random(tp.stateless_reset_token, sizeof(tp.stateless_reset_token)) != 0 ||
	    pn_random(scid.data + PN_TCONN_CID_KEY_LEN, PN_TCONN_CID_LEN - PN_TCONN_CID_KEY_LEN)) {
		r = PN_E_CRYPTO;
		goto out;
	}
	np = mk_path(path);
	if (ngtcp2_conn_server_new(&c->q, &hd.scid, &scid, &np, hd.version, &cb, &s, &tp, NULL,
				   c) != 0) {
		r = -ENOMEM;
		goto out;
	}
	r = start(c, out);
	c = NULL; /* transferred or freed */
out:
	pn_tconn_free(c);
	return r;
}

void pn_tconn_free(struct pn_tconn *c)
{
	if (!c)
		return;
	while (c->all)
		pn_tconn_i_stream_free(c, c->all);
	free(c->stab);
	if (c->q)
		ngtcp2_conn_del(c->q);
	if (c->tls)
		gnutls_deinit(c->tls);
	free(c->dq);
	pn_wipe(c, sizeof(*c));
	free(c);
}

/* --------------------------------------------------------------- input -- */

int pn_tconn_i_fail(struct pn_tconn *c, int rv)
{
	int r = pn_tconn_i_map_liberr(rv);

	if (r == PN_E_CLOSED) {
		if (!c->close_reason)
			c->close_reason = PN_E_TUN_PEER_CLOSED;
		c->closed = 1;
		return r;
	}
	if (rv == NGTCP2_ERR_CRYPTO || rv == NGTCP2_ERR_CALLBACK_FAILURE) {
		if (c->verify_err)
			r = c->verify_err;
		else if (rv == NGTCP2_ERR_CRYPTO && c->cfg.role == PN_TCONN_SERVER &&
			 ngtcp2_conn_get_tls_alert(c->q) == PN_TLS_ALERT_CERT_REQUIRED)
			r = PN_E_TUN_NO_CRED; /* none sent: none from our CA (conn.h) */
	}
	if (!c->close_reason)
		c->close_reason = r;
	set_close_liberr(c, rv, r);
	return r;
}

/* ngtcp2 0.12 says nothing about whether a packet it was given was
 * authenticated.  It restarts its timers (idle, keep-alive, ACK delay,
 * loss detection) and updates its RTT and bytes in flight only for a
 * packet it decrypted and accepted (not a duplicate); a forged, replayed
 * or garbled packet changes none of them.  So a change in any of these
 * across a read marks an authenticated packet.  (An accepted packet that
 * changes none of them is missed: a liveness mark comes a packet later.) */
struct rx_marks {
	ngtcp2_tstamp expiry, loss_timer;
	ngtcp2_duration latest_rtt;
	uint64_t in_flight;
	size_t pto_count;
};

static void rx_mark(const struct pn_tconn *c, struct rx_marks *m)
{
	ngtcp2_conn_stat cs;

	memset(m, 0, sizeof(*m));
	ngtcp2_conn_get_conn_stat(c->q, &cs);
	m->expiry = ngtcp2_conn_get_expiry(c->q);
	m->loss_timer = cs.loss_detection_timer;
	m->latest_rtt = cs.latest_rtt;
	m->in_flight = cs.bytes_in_flight;
	m->pto_count = cs.pto_count;
}

int pn_tconn_read(struct pn_tconn *c, struct pn_path *path, const uint8_t *pkt, size_t len,
		  uint64_t now)
{
	ngtcp2_path np = mk_path(path);
	ngtcp2_pkt_info pi = {0};
	struct rx_marks m0, m1;
	int rv;

	if (c->closed)
		return PN_E_CLOSED;
	c->pkts_rx++;
	c->bytes_rx += len;
	c->now = now;
	rx_mark(c, &m0);
	rv = ngtcp2_conn_read_pkt(c->q, &np, &pi, pkt, len, now);
	rx_mark(c, &m1);
	if (memcmp(&m0, &m1, sizeof(m0)) != 0) {
		c->auth_rx = now;
		c->auth_rx_path = path;
	}
	if (rv == 0)
		return 0;
	return pn_tconn_i_fail(c, rv);
}

uint64_t pn_tconn_auth_rx(const struct pn_tconn *c, const struct pn_path **path)
{
	if (path)
		*path = c->auth_rx_path;
	return c->auth_rx;
}

void pn_tconn_set_keepalive(struct pn_tconn *c, uint64_t ms)
{
	if (c->q && !c->closed)
		ngtcp2_conn_set_keep_alive_timeout(c->q, ms * NGTCP2_MILLISECONDS); /* 0: none */
}

/* -------------------------------------------------------------- output -- */

void pn_tconn_close(struct pn_tconn *c, uint64_t app_err, const char *reason, uint64_t now,
		    struct pn_tconn_tx *tx)
{
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	ngtcp2_ssize nw;

	tx->len = tx->seg = tx->npkts = 0;
	tx->path = NULL;
	if (c->closed || ngtcp2_conn_is_in_closing_period(c->q) ||
	    ngtcp2_conn_is_in_draining_period(c->q)) {
		c->closed = 1;
		return;
	}
	if (c->lasterr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
	    c->lasterr.error_code == NGTCP2_NO_ERROR)
		ngtcp2_connection_close_error_set_application_error(
			&c->lasterr, app_err, (const uint8_t *)reason, reason ? strlen(reason) : 0);
	ngtcp2_path_storage_zero(&ps);
	nw = ngtcp2_conn_write_connection_close(c->q, &ps.path, &pi, tx->buf,
						PN_PATH_MAX_UDP_PAYLOAD, &c->lasterr, now);
	if (nw > 0) {
		tx->len = tx->seg = (size_t)nw;
		tx->npkts = 1;
		tx->path = ps.path.user_data ? ps.path.user_data : c->path0;
	}
	c->closed = 1;
	if (!c->close_reason)
		c->close_reason = PN_E_CLOSED;
}

int pn_tconn_close_reason(const struct pn_tconn *c, uint64_t *app_err)
{
	ngtcp2_connection_close_error e;

	if (app_err)
		*app_err = 0;
	if (c->close_reason == PN_E_TUN_PEER_CLOSED && app_err) {
		ngtcp2_conn_get_connection_close_error(c->q, &e);
		if (e.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION)
			*app_err = e.error_code;
		else if (e.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
			 (e.error_code & ~(uint64_t)0xff) == NGTCP2_CRYPTO_ERROR &&
			 pn_tconn_i_is_cert_alert((uint8_t)e.error_code))
			return PN_E_TUN_CRED_REFUSED;
		else if (e.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
			 e.error_code != NGTCP2_NO_ERROR)
			return PN_E_TUN_HANDSHAKE;
	}
	return c->close_reason;
}

void pn_tconn_peer_reason(const struct pn_tconn *c, char *out, size_t outsz)
{
	ngtcp2_connection_close_error e;
	size_t n = 0;

	if (outsz == 0)
		return;
	ngtcp2_conn_get_connection_close_error(c->q, &e);
	/* untrusted text from the peer: printable ASCII only */
	for (; e.reason && n < e.reasonlen && n + 1 < outsz; n++)
		out[n] = (e.reason[n] >= 0x20 && e.reason[n] < 0x7f) ? (char)e.reason[n] : '?';
	out[n] = '\0';
}

int pn_tconn_is_closed(const struct pn_tconn *c)
{
	return c->closed;
}

int pn_tconn_handshake_done(const struct pn_tconn *c)
{
	return c->hs_done;
}

const struct pn_cred_info *pn_tconn_peer(const struct pn_tconn *c)
{
	return c->hs_done ? &c->peer : NULL;
}

uint64_t pn_tconn_peer_max_streams(const struct pn_tconn *c)
{
	const ngtcp2_transport_params *p;

	if (!c || !c->q || !c->hs_done)
		return 0;
	p = ngtcp2_conn_get_remote_transport_params(c->q);
	return p ? p->initial_max_streams_bidi : 0;
}

/* ----------------------------------------------------------- migration -- */

int pn_tconn_migrate(struct pn_tconn *c, struct pn_path *path, uint64_t now)
{
	ngtcp2_path np = mk_path(path);
	int rv;

	if (c->closed)
		return PN_E_CLOSED;
	if (c->cfg.role != PN_TCONN_CLIENT || !c->hs_done)
		return PN_E_INVAL;
	rv = ngtcp2_conn_initiate_migration(c->q, &np, now);
	if (rv == NGTCP2_ERR_INVALID_STATE)
		return PN_E_INVAL; /* handshake not confirmed yet: try once UP */
	return rv == 0 ? 0 : PN_E_TUN_QUIC;
}

int pn_tconn_migrate_now(struct pn_tconn *c, struct pn_path *path, uint64_t now)
{
	ngtcp2_path np = mk_path(path);
	int rv;

	if (c->closed)
		return PN_E_CLOSED;
	if (c->cfg.role != PN_TCONN_CLIENT || !c->hs_done)
		return PN_E_INVAL;
	rv = ngtcp2_conn_initiate_immediate_migration(c->q, &np, now);
	if (rv == NGTCP2_ERR_INVALID_STATE)
		return PN_E_INVAL;
	return rv == 0 ? 0 : PN_E_TUN_QUIC;
}

struct pn_path *pn_tconn_path(const struct pn_tconn *c)
{
	const ngtcp2_path *p = ngtcp2_conn_get_path(c->q);

	return p && p->user_data ? p->user_data : c->path0;
}

int pn_tconn_dcid_key(const uint8_t *pkt, size_t len, uint8_t key[PN_TCONN_CID_KEY_LEN],
		      int *is_long)
{
	ngtcp2_version_cid vc;

	if (len == 0)
		return PN_E_MALFORMED;
	*is_long = (pkt[0] & 0x80) != 0;
	if (ngtcp2_pkt_decode_version_cid(&vc, pkt, len, PN_TCONN_CID_LEN) != 0)
		return PN_E_MALFORMED;
	/* Too short to carry one of our keys (e.g. a client-chosen 8-byte DCID
	 * is fine, shorter is not ours). */
	if (vc.dcidlen < PN_TCONN_CID_KEY_LEN)
		return PN_E_MALFORMED;
	memcpy(key, vc.dcid, PN_TCONN_CID_KEY_LEN);
	return 0;
}

int pn_tconn_owns_dcid(const struct pn_tconn *c, const uint8_t *pkt, size_t len)
{
	uint8_t key[PN_TCONN_CID_KEY_LEN];
	int lng;

	return pn_tconn_dcid_key(pkt, len, key, &lng) == 0 &&
	       memcmp(key, c->cfg.cid_key, PN_TCONN_CID_KEY_LEN) == 0;
}

void pn_tconn_stats(const struct pn_tconn *c, struct pn_tconn_stats *st)
{
	ngtcp2_conn_stat cs;

	memset(st, 0, sizeof(*st));
	ngtcp2_conn_get_conn_stat(c->q, &cs);
	st->rtt_us = cs.smoothed_rtt / 1000;
	st->cwnd = cs.cwnd;
	st->bytes_tx = c->bytes_tx;
	st->bytes_rx = c->bytes_rx;
	st->pkts_tx = c->pkts_tx;
	st->pkts_rx = c->pkts_rx;
	st->dgram_drops = c->dgram_drops;
	st->unsent = c->unsent;
}
