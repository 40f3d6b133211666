/*
 * The tunnel (QUIC core + flow layer) end to end over in-memory paths,
 * driven by a virtual clock: real ngtcp2, real GnuTLS, real trust-issued
 * Ed25519 credentials and signed access lists.
 *
 *   client tunnel ── mempath (loss / reorder / dup) ── connector tunnel
 *        flows: TCP (hash-checked both ways), UDP datagrams, DNS, denials
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#include "core/err.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "trust/policy.h"
#include "tunnel/session.h"

#define NOW_UNIX 1900000000ull

/* ------------------------------------------------------- identities ---- */

struct ident {
	struct pn_key *key;
	char *pem;
	struct pn_cred_info info;
	gnutls_certificate_credentials_t cred;
};

static struct pn_ca *ca, *ca2;
static struct pn_anchor *anchor, *anchor2;
static struct ident cli, cli2, con, con_foreign, cli_expired;
static uint8_t net_id[PN_ID_LEN], res_id[PN_ID_LEN];

static void mk_ident(struct ident *id, struct pn_ca *c, struct pn_anchor *a,
		     enum pn_cred_type type, const char *name, uint64_t now, uint64_t life)
{
	struct pn_cred_info in;
	char *csr;
	size_t csrlen;

	memset(id, 0, sizeof(*id));
	memset(&in, 0, sizeof(in));
	assert_int_equal(pn_key_generate(&id->key), 0);
	assert_int_equal(pn_key_csr_pem(id->key, name, &csr, &csrlen), 0);
	in.type = type;
	pn_id_random(in.id);
	snprintf(in.name, sizeof(in.name), "%s", name);
	if (type == PN_CRED_CLIENT)
		snprintf(in.user, sizeof(in.user), "alice@test");
	in.policy_version = 1;
	assert_int_equal(pn_cred_issue(c, csr, &in, life, now, &id->pem, &id->info), 0);
	free(csr);
	assert_int_equal(pn_cred_tls_credentials(id->key, id->pem, a, &id->cred), 0);
}

static void free_ident(struct ident *id)
{
	if (id->cred)
		gnutls_certificate_free_credentials(id->cred);
	free(id->pem);
	pn_key_free(id->key);
}

/* Signed access lists: the client may reach echo.test tcp/7 and udp/7 and
 * "secret.test" tcp/22; the connector may forward only echo.test. */
static void mk_acl(const struct ident *holder, enum pn_acl_kind kind, const uint8_t *connector,
		   uint8_t **out, size_t *len)
{
	struct pn_acl acl;

	pn_acl_init(&acl, kind);
	memcpy(acl.holder_id, holder->info.id, PN_ID_LEN);
	memcpy(acl.holder_fpr, holder->info.key_fpr, PN_FPR_LEN);
	acl.version = 3;
	acl.issued_at = NOW_UNIX - 10;
	acl.expires_at = NOW_UNIX + 3600;
	assert_int_equal(pn_acl_add_text(&acl, res_id, net_id, "echo.test", "tcp,udp", "7"), 0);
	if (kind == PN_ACL_CLIENT) {
		assert_int_equal(pn_acl_add_text(&acl, res_id, net_id, "secret.test", "tcp", "22"), 0);
		assert_int_equal(pn_acl_add_network(&acl, net_id,
						    (const uint8_t(*)[PN_ID_LEN])connector, 1),
				 0);
	}
	assert_int_equal(pn_acl_sign(ca, &acl, out, len), 0);
	pn_acl_fini(&acl);
}

static int setup(void **st)
{
	(void)st;
	assert_int_equal(pn_ca_new(NOW_UNIX - 100, &ca), 0);
	assert_int_equal(pn_ca_new(NOW_UNIX - 100, &ca2), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &anchor), 0);
	assert_int_equal(pn_anchor_from_ca(ca2, &anchor2), 0);
	mk_ident(&cli, ca, anchor, PN_CRED_CLIENT, "laptop", NOW_UNIX - 10, 3600);
	mk_ident(&cli2, ca, anchor, PN_CRED_CLIENT, "other", NOW_UNIX - 10, 3600);
	mk_ident(&con, ca, anchor, PN_CRED_CONNECTOR, "conn1", NOW_UNIX - 10, 3600);
	mk_ident(&con_foreign, ca2, anchor2, PN_CRED_CONNECTOR, "evil", NOW_UNIX - 10, 3600);
	/* same id as con: only the CA differs */
	mk_ident(&cli_expired, ca, anchor, PN_CRED_CLIENT, "old", NOW_UNIX - 7200, 600);
	pn_id_random(net_id);
	pn_id_random(res_id);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	free_ident(&cli);
	free_ident(&cli2);
	free_ident(&con);
	free_ident(&con_foreign);
	free_ident(&cli_expired);
	pn_anchor_free(anchor);
	pn_anchor_free(anchor2);
	pn_ca_free(ca);
	pn_ca_free(ca2);
	return 0;
}

/* ------------------------------------------------------ the harness ---- */

struct sink {
	gnutls_hash_hd_t h;
	uint64_t n;
	int eof;
};

struct harness {
	struct pn_mempath *pa, *pb;
	struct pn_mempath *pa2, *pb2; /* second path for migration */
	struct pn_tunnel *cl, *sv;
	uint64_t now;
	int cl_dead, sv_dead;
	/* client observations */
	enum pn_tunnel_state cl_state;
	int cl_err;
	/* server glue state */
	struct pn_acl client_acl, conn_acl;
	int acl_ok;
	const struct pn_cred_info *peer;
	int revoke_on_bytes; /* server: revoke flows after this many bytes */
	struct pn_flow *sv_flow;
	struct sink sv_sink;
	uint64_t sv_send_total, sv_sent;
	uint8_t pattern[65536];
	int last_deny;
	unsigned udp_echoed;
	int slow;             /* server: do not pass data on (hold credit) */
	int multi;            /* server: per-flow state (sfl) for TCP flows */
	uint64_t held;        /* bytes received but not consumed */
};

static struct harness H;

static uint64_t unix_now(void *u)
{
	(void)u;
	return NOW_UNIX;
}

static void drv_want_write(struct pn_tunnel *t, void *d)
{
	(void)t, (void)d;
}

static void drv_dead(struct pn_tunnel *t, void *d)
{
	if (t == H.cl)
		H.cl_dead = 1;
	else
		H.sv_dead = 1;
	(void)d;
}

static const struct pn_tunnel_driver drv = {drv_want_write, drv_dead, NULL};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256), 0);
}

static void sink_done(struct sink *s, uint8_t out[32])
{
	if (s->h)
		gnutls_hash_deinit(s->h, out);
	s->h = NULL;
}

/* Deterministic bytes: byte i of the stream is pattern[i % 65536]. */
static void expected_hash(uint64_t n, uint8_t out[32])
{
	gnutls_hash_hd_t h;
	gnutls_hash_init(&h, GNUTLS_DIG_SHA256);
	for (uint64_t off = 0; off < n;) {
		size_t k = (size_t)(n - off < sizeof(H.pattern) ? n - off : sizeof(H.pattern));
		gnutls_hash(h, H.pattern, k);
		off += k;
	}
	gnutls_hash_deinit(h, out);
}

/* server side: push the pattern until the ring is full */
static void sv_pump(struct pn_flow *f)
{
	while (H.sv_sent < H.sv_send_total) {
		size_t pos = (size_t)(H.sv_sent % sizeof(H.pattern));
		size_t n = sizeof(H.pattern) - pos;
		if (n > H.sv_send_total - H.sv_sent)
			n = (size_t)(H.sv_send_total - H.sv_sent);
		ssize_t w = pn_flow_write(f, H.pattern + pos, n);
		if (w <= 0)
			return;
		H.sv_sent += (uint64_t)w;
	}
	pn_flow_shutdown(f);
}

static void sv_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	gnutls_hash(H.sv_sink.h, p, n);
	H.sv_sink.n += n;
	if (H.slow)
		H.held += n; /* a stalled resource: no credit goes back */
	else
		pn_flow_consumed(f, n);
	if (H.revoke_on_bytes && H.sv_sink.n >= (uint64_t)H.revoke_on_bytes) {
		H.revoke_on_bytes = 0;
		pn_flow_close(f, PN_FLOW_REVOKED);
		H.sv_flow = NULL;
	}
	(void)u;
}

static void sv_eof(struct pn_flow *f, void *u)
{
	H.sv_sink.eof = 1;
	(void)f, (void)u;
}

static void sv_writable(struct pn_flow *f, void *u)
{
	sv_pump(f);
	(void)u;
}

static void sv_dgram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	if (pn_flow_send_datagram(f, p, n) == 0)
		H.udp_echoed++;
	(void)u;
}

static void sv_closed(struct pn_flow *f, int code, void *u)
{
	if (f == H.sv_flow)
		H.sv_flow = NULL;
	(void)code, (void)u;
}

/* multi mode: each server flow hashes what it gets and sends its own copy
 * of the pattern */
struct sflow {
	struct sink sink;
	uint64_t sent, total;
	int eof;
};
static struct sflow sfl[16];
static unsigned nsfl;

static void m_pump(struct pn_flow *f, struct sflow *m)
{
	while (m->sent < m->total) {
		size_t pos = (size_t)(m->sent % sizeof(H.pattern)), n = sizeof(H.pattern) - pos;
		if (n > m->total - m->sent)
			n = (size_t)(m->total - m->sent);
		ssize_t w = pn_flow_write(f, H.pattern + pos, n);
		if (w <= 0)
			return;
		m->sent += (uint64_t)w;
	}
	pn_flow_shutdown(f);
}

static void m_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct sflow *m = u;
	gnutls_hash(m->sink.h, p, n);
	m->sink.n += n;
	pn_flow_consumed(f, n);
}

static void m_eof(struct pn_flow *f, void *u)
{
	((struct sflow *)u)->eof = 1;
	(void)f;
}

static void m_writable(struct pn_flow *f, void *u)
{
	m_pump(f, u);
}

static const struct pn_flow_ops m_ops = {.data = m_data, .eof = m_eof, .writable = m_writable};

/* echo mode: each server flow sends back what it gets (small flows: the
 * ring always has room) and finishes after the client did */
static int sv_echo;

static void e_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	assert_int_equal(pn_flow_write(f, p, n), (ssize_t)n);
	pn_flow_consumed(f, n);
	(void)u;
}

static void e_eof(struct pn_flow *f, void *u)
{
	pn_flow_shutdown(f);
	(void)u;
}

static const struct pn_flow_ops e_ops = {.data = e_data, .eof = e_eof};

static const struct pn_flow_ops sv_ops = {
	.data = sv_data, .eof = sv_eof, .writable = sv_writable, .datagram = sv_dgram,
	.closed = sv_closed,
};

static int sv_tunnel_new(struct pn_tunnel *t, const struct pn_cred_info *peer, char *why,
			 size_t whysz, void *u)
{
	H.peer = peer;
	(void)t, (void)u, (void)why, (void)whysz;
	return PN_FLOW_OK;
}

static int sv_acl(struct pn_tunnel *t, const uint8_t *acl, size_t len, char *why, size_t whysz,
		  void *u)
{
	int r = pn_acl_verify(anchor, acl, len, NOW_UNIX, &H.client_acl);
	if (r == 0)
		r = pn_acl_check_holder(&H.client_acl, pn_tunnel_peer(t));
	if (r != 0) {
		snprintf(why, whysz, "%s", pn_deny_name(pn_deny_from_err(r)));
		return PN_FLOW_BAD_ACL;
	}
	H.acl_ok = 1;
	(void)u;
	return PN_FLOW_OK;
}

static void sv_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h,
		       void *u)
{
	struct pn_flow_status st;
	char dest[256];
	enum pn_deny d;

	pn_flow_dest_str(&h->dest, dest, sizeof(dest));
	if (h->kind == PN_FLOW_DNS) {
		d = pn_policy_check(pn_tunnel_peer(t), &H.client_acl, &H.conn_acl, PN_PROTO_TCP,
				    dest, strlen(dest), 7, NOW_UNIX, NULL);
	} else {
		d = pn_policy_check(pn_tunnel_peer(t), &H.client_acl, &H.conn_acl,
				    h->kind == PN_FLOW_UDP ? PN_PROTO_UDP : PN_PROTO_TCP, dest,
				    strlen(dest), h->port, NOW_UNIX, NULL);
	}
	H.last_deny = d;
	if (d != PN_ALLOW) {
		pn_flow_status_set(&st, 0, PN_FLOW_DENIED, pn_deny_name(d));
		assert_int_equal(pn_flow_respond(f, &st, NULL, NULL), 0);
		return;
	}
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	if (h->kind == PN_FLOW_DNS) {
		st.naddr = 1;
		st.addr[0].family = 4;
		memcpy(st.addr[0].a, "\x0a\xca\x01\x07", 4);
		st.ttl = 60;
	}
	if (sv_echo && h->kind == PN_FLOW_TCP) {
		assert_int_equal(pn_flow_respond(f, &st, &e_ops, NULL), 0);
		return;
	}
	if (H.multi && h->kind == PN_FLOW_TCP && nsfl < 16) {
		struct sflow *m = &sfl[nsfl++];
		sink_init(&m->sink);
		m->total = H.sv_send_total;
		assert_int_equal(pn_flow_respond(f, &st, &m_ops, m), 0);
		m_pump(f, m);
		return;
	}
	assert_int_equal(pn_flow_respond(f, &st, &sv_ops, NULL), 0);
	if (h->kind == PN_FLOW_TCP) {
		H.sv_flow = f;
		sv_pump(f);
	}
	(void)u;
}

static const struct pn_tep_server_ops sv_server_ops = {
	.tunnel_new = sv_tunnel_new, .acl = sv_acl, .flow_request = sv_request,
};

static void cl_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	H.cl_state = st;
	H.cl_err = err;
	(void)t, (void)u;
}

static const struct pn_tunnel_ops cl_tops = {.state = cl_state};

static int small_limits; /* 4 concurrent flows per tunnel */
static int small_conn_window; /* 16 KiB connection window both ways */
static int sv_small_limits; /* 4 on the connector only */

static void params(struct pn_tunnel_params *p, struct ident *id, int server)
{
	memset(p, 0, sizeof(*p));
	p->conn.cred = id->cred;
	p->conn.anchor = anchor;
	p->conn.unix_now = unix_now;
	p->conn.stream_sndbuf = 256 << 10;
	p->conn.stream_window = 256 << 10;
	p->conn.conn_window = small_conn_window ? 16 << 10 : 1 << 20;
	p->conn.idle_ms = 10000;
	p->drv = &drv;
	p->path_kind = PN_PATH_MEMORY;
	if (small_limits || (server && sv_small_limits))
		p->max_flows = 4;
	if (server) {
		p->server_ops = &sv_server_ops;
	} else {
		p->ops = &cl_tops;
	}
}

/* Client `id` connecting to the connector presenting `srv`, pinning `pin`,
 * with client list `acl`. */
static void start(struct ident *id, struct ident *srv, const uint8_t *pin, const uint8_t *acl,
		  size_t acl_len, const struct pn_mempath_faults *f)
{
	struct pn_tunnel_params p;
	uint8_t *cacl;
	size_t cacl_len;

	memset(&H, 0, sizeof(H));
	for (size_t i = 0; i < sizeof(H.pattern); i++)
		H.pattern[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
	H.now = 1000000000ull;
	pn_acl_init(&H.client_acl, PN_ACL_CLIENT);
	mk_acl(&con, PN_ACL_CONNECTOR, NULL, &cacl, &cacl_len);
	assert_int_equal(pn_acl_verify(anchor, cacl, cacl_len, NOW_UNIX, &H.conn_acl), 0);
	free(cacl);
	sink_init(&H.sv_sink);
	assert_int_equal(pn_mempath_pair(f, &H.pa, &H.pb), 0);
	params(&p, id, 0);
	memcpy(p.conn.pinned_id, pin, PN_ID_LEN);
	p.acl = acl;
	p.acl_len = acl_len;
	assert_int_equal(pn_tunnel_new_client(&p, pn_mempath_path(H.pa), H.now, &H.cl), 0);
	(void)srv;
}

static struct ident *server_ident;
static uint64_t step_ns = 20000;

/* One step of the virtual network: flush both sides, deliver, run timers. */
static void step(void)
{
	static uint8_t txbuf[PN_TCONN_TX_BUF], rx[2048];
	struct pn_tconn_tx tx = {.buf = txbuf};
	struct pn_mempath *ins[2] = {H.pb, H.pa}, *ins2[2] = {H.pb2, H.pa2};
	int moved = 0;

	for (int side = 0; side < 2; side++) {
		struct pn_tunnel *t = side == 0 ? H.cl : H.sv;
		if (!t)
			continue;
		for (int k = 0; k < 64; k++) {
			pn_tunnel_output(t, H.now, &tx);
			if (tx.len == 0)
				break;
			tx.path->ops->send(tx.path, tx.buf, tx.len, tx.seg);
			moved = 1;
		}
	}
	for (int side = 0; side < 2; side++) {
		for (int which = 0; which < 2; which++) {
			struct pn_mempath *in = which ? ins2[side] : ins[side];
			size_t n;
			if (!in)
				continue;
			while ((n = pn_mempath_recv(in, rx, sizeof(rx))) > 0) {
				moved = 1;
				if (side == 0) {
					if (!H.sv) {
						struct pn_tunnel_params p;
						params(&p, server_ident, 1);
						if (pn_tconn_accept_check(rx, n) != 0)
							continue;
						assert_int_equal(pn_tunnel_new_server(&p, pn_mempath_path(in),
										      rx, n, H.now, &H.sv),
								 0);
					}
					if (!H.sv_dead)
						pn_tunnel_input(H.sv, pn_mempath_path(in), rx, n, H.now);
				} else if (!H.cl_dead) {
					pn_tunnel_input(H.cl, pn_mempath_path(in), rx, n, H.now);
				}
			}
		}
	}
	if (!moved) {
		uint64_t e = UINT64_MAX;
		if (H.cl && !H.cl_dead)
			e = pn_tunnel_expiry(H.cl);
		if (H.sv && !H.sv_dead && pn_tunnel_expiry(H.sv) < e)
			e = pn_tunnel_expiry(H.sv);
		/* idle: jump to the next timer, but at most 5 ms (so a test that
		   just waits a few steps does not run into the idle timeout) */
		H.now = e != UINT64_MAX && e > H.now && e < H.now + 5000000 ? e : H.now + 5000000;
	} else {
		H.now += step_ns; /* 20 us per step unless a test wants a longer RTT */
	}
	if (H.cl && !H.cl_dead)
		pn_tunnel_timeout(H.cl, H.now);
	if (H.sv && !H.sv_dead)
		pn_tunnel_timeout(H.sv, H.now);
}

static void finish(void)
{
	/* let the CONNECTION_CLOSE go out, then free */
	for (int i = 0; i < 3; i++)
		step();
	pn_tunnel_free(H.cl);
	pn_tunnel_free(H.sv);
	pn_mempath_free(H.pa);
	pn_mempath_free(H.pb);
	pn_mempath_free(H.pa2);
	pn_mempath_free(H.pb2);
	pn_acl_fini(&H.client_acl);
	pn_acl_fini(&H.conn_acl);
	uint8_t d[32];
	sink_done(&H.sv_sink, d);
}

/* ------------------------------------------------------- client flow ---- */

struct cflow {
	struct pn_flow *f;
	struct pn_flow_status st;
	int have_status, closed, closed_code, eof;
	struct sink sink;
	uint64_t to_send, sent;
	unsigned dgrams;
};

static void cf_pump(struct cflow *c)
{
	while (c->f && c->sent < c->to_send) {
		size_t pos = (size_t)(c->sent % sizeof(H.pattern));
		size_t n = sizeof(H.pattern) - pos;
		if (n > c->to_send - c->sent)
			n = (size_t)(c->to_send - c->sent);
		ssize_t w = pn_flow_write(c->f, H.pattern + pos, n);
		if (w <= 0)
			return;
		c->sent += (uint64_t)w;
		if (c->sent == c->to_send)
			pn_flow_shutdown(c->f);
	}
}

static void cf_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	struct cflow *c = u;
	c->st = *st;
	c->have_status = 1;
	(void)f;
}

static void cf_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *c = u;
	gnutls_hash(c->sink.h, p, n);
	c->sink.n += n;
	pn_flow_consumed(f, n);
}

static void cf_eof(struct pn_flow *f, void *u)
{
	((struct cflow *)u)->eof = 1;
	(void)f;
}

static void cf_writable(struct pn_flow *f, void *u)
{
	cf_pump(u);
	(void)f;
}

static void cf_dgram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	((struct cflow *)u)->dgrams++;
	(void)f, (void)p, (void)n;
}

static void cf_closed(struct pn_flow *f, int code, void *u)
{
	struct cflow *c = u;
	c->closed = 1;
	c->closed_code = code;
	c->f = NULL;
	(void)f;
}

static const struct pn_flow_ops cf_ops = {
	.status = cf_status, .data = cf_data, .eof = cf_eof, .writable = cf_writable,
	.datagram = cf_dgram, .closed = cf_closed,
};

static void cf_open(struct cflow *c, int kind, const char *dest, uint16_t port, uint64_t send)
{
	struct pn_flow_req req;

	memset(c, 0, sizeof(*c));
	sink_init(&c->sink);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = (uint8_t)kind;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, dest), 0);
	req.hdr.port = port;
	if (kind == PN_FLOW_DNS)
		req.hdr.qtype = PN_FLOW_QTYPE_A;
	memcpy(req.hdr.resource_id, res_id, PN_ID_LEN);
	c->to_send = send;
	assert_int_equal(pn_flow_open(H.cl, &req, &cf_ops, c, &c->f), 0);
	assert_true(pn_flow_id(c->f) != 0);
	if (kind == PN_FLOW_TCP && send == 0)
		assert_int_equal(pn_flow_shutdown(c->f), 0);
	cf_pump(c);
}

static void run_until(int (*done)(void *), void *arg, int max_steps)
{
	for (int i = 0; i < max_steps && !done(arg); i++)
		step();
	assert_true(done(arg));
}

static int is_up(void *a)
{
	(void)a;
	return H.cl_state == PN_TUNNEL_UP || H.cl_dead;
}

static int flow_done(void *a)
{
	struct cflow *c = a;
	return c->closed || H.cl_dead;
}

static int tunnel_dead(void *a)
{
	(void)a;
	return H.cl_dead;
}

static void transfer(const struct pn_mempath_faults *f, uint64_t up, uint64_t down)
{
	uint8_t *acl;
	size_t acl_len;
	struct cflow c;
	uint8_t want[32], got[32];

	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	start(&cli, &con, con.info.id, acl, acl_len, f);
	free(acl);
	cf_open(&c, PN_FLOW_TCP, "echo.test", 7, up);
	H.sv_send_total = down;
	run_until(flow_done, &c, 2000000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	assert_true(c.have_status);
	assert_int_equal(c.st.code, PN_FLOW_OK);
	assert_int_equal(c.closed_code, PN_FLOW_OK);
	assert_true(c.eof && H.sv_sink.eof);
	assert_true(c.sink.n == down);
	assert_true(H.sv_sink.n == up);
	sink_done(&c.sink, got);
	expected_hash(down, want);
	assert_memory_equal(got, want, 32);
	sink_done(&H.sv_sink, got);
	sink_init(&H.sv_sink); /* finish() deinits again */
	expected_hash(up, want);
	assert_memory_equal(got, want, 32);
	assert_int_equal(pn_tunnel_peer(H.sv)->type, PN_CRED_CLIENT);
	assert_memory_equal(pn_tunnel_peer(H.sv)->id, cli.info.id, PN_ID_LEN);
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
}

static void test_transfer_clean(void **st)
{
	struct pn_mempath_faults f = {0};
	(void)st;
	transfer(&f, 3u << 20, 2u << 20);
}

static void test_transfer_lossy(void **st)
{
	struct pn_mempath_faults f = {.loss_pct = 5, .reorder_pct = 10, .dup_pct = 2, .seed = 42};
	(void)st;
	transfer(&f, 1u << 20, 1u << 20);
}

/* Flows after the first: denial with reason, DNS, UDP, malformed header,
 * revocation mid-transfer, then migration to a second path. */
static void test_flows(void **st)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl;
	size_t acl_len;
	struct cflow deny, notcl, dns, udp, bad, rev;
	static const uint8_t garbage[] = {1, 0, 5, 9, 9, 9, 9, 9};

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	start(&cli, &con, con.info.id, acl, acl_len, &f);
	free(acl);
	/* malformed header: queued before the tunnel is up */
	memset(&bad, 0, sizeof(bad));
	sink_init(&bad.sink);
	assert_int_equal(pn_flow_open_raw(H.cl, garbage, sizeof(garbage), 77, &cf_ops, &bad, &bad.f),
			 0);
	run_until(is_up, NULL, 100000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	run_until(flow_done, &bad, 100000);
	assert_int_equal(bad.st.code, PN_FLOW_BAD_REQUEST);
	assert_string_equal(bad.st.text, "malformed flow header");

	/* in the client list, not in the connector's: denied with the reason */
	cf_open(&deny, PN_FLOW_TCP, "secret.test", 22, 0);
	run_until(flow_done, &deny, 100000);
	assert_int_equal(deny.st.code, PN_FLOW_DENIED);
	assert_string_equal(deny.st.text, "not_in_connector_acl");
	assert_int_equal(deny.closed_code, PN_FLOW_DENIED);
	/* in neither */
	cf_open(&notcl, PN_FLOW_TCP, "echo.test", 8, 0);
	run_until(flow_done, &notcl, 100000);
	assert_int_equal(notcl.st.code, PN_FLOW_DENIED);
	assert_string_equal(notcl.st.text, "not_in_client_acl");

	/* DNS: answered by the connector */
	cf_open(&dns, PN_FLOW_DNS, "echo.test", 0, 0);
	run_until(flow_done, &dns, 100000);
	assert_int_equal(dns.st.code, PN_FLOW_OK);
	assert_int_equal(dns.st.naddr, 1);
	assert_memory_equal(dns.st.addr[0].a, "\x0a\xca\x01\x07", 4);

	/* UDP: datagrams echoed */
	cf_open(&udp, PN_FLOW_UDP, "echo.test", 7, 0);
	for (int i = 0; i < 200 && !udp.have_status; i++)
		step();
	assert_int_equal(udp.st.code, PN_FLOW_OK);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(pn_flow_send_datagram(udp.f, "ping", 4), 0);
		step();
	}
	for (int i = 0; i < 200; i++)
		step();
	assert_int_equal(udp.dgrams, 20);
	assert_int_equal(H.udp_echoed, 20);
	assert_int_equal(pn_flow_send_datagram(udp.f, H.pattern, PN_FLOW_DGRAM_PAYLOAD_MAX + 1),
			 PN_E_TOOBIG);
	pn_flow_close(udp.f, PN_FLOW_RESET);

	/* revocation mid-transfer: the connector closes the flow */
	H.revoke_on_bytes = 100000;
	cf_open(&rev, PN_FLOW_TCP, "echo.test", 7, 10u << 20);
	run_until(flow_done, &rev, 1000000);
	assert_int_equal(rev.closed_code, PN_FLOW_REVOKED);
	assert_true(rev.sent < (10u << 20));

	/* migration: move to a second path, kill the first, transfer still works */
	{
		struct cflow mig;
		uint8_t want[32], got[32];
		assert_int_equal(pn_mempath_pair(&f, &H.pa2, &H.pb2), 0);
		H.sv_sink.n = 0;
		H.sv_send_total = 1u << 20;
		H.sv_sent = 0;
		cf_open(&mig, PN_FLOW_TCP, "echo.test", 7, 0);
		for (int i = 0; i < 50; i++)
			step();
		assert_int_equal(pn_tconn_migrate(pn_tunnel_conn(H.cl), pn_mempath_path(H.pa2), H.now),
				 0);
		for (int i = 0; i < 50; i++)
			step();
		pn_mempath_set_down(H.pa, 1);
		run_until(flow_done, &mig, 1000000);
		assert_int_equal(mig.closed_code, PN_FLOW_OK);
		assert_true(mig.sink.n == (1u << 20));
		sink_done(&mig.sink, got);
		expected_hash(1u << 20, want);
		assert_memory_equal(got, want, 32);
		assert_ptr_equal(pn_tconn_path(pn_tunnel_conn(H.cl)), pn_mempath_path(H.pa2));
	}
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
	{
		uint8_t d[32];
		struct cflow *all[] = {&deny, &notcl, &dns, &udp, &bad, &rev};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			sink_done(&all[i]->sink, d);
	}
}

/* A stalled receiver stops the sender: what the client can write is
 * bounded by its send ring plus the flow's window; once the receiver
 * passes the bytes on, the transfer completes intact. */
static void test_backpressure(void **st)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl, want[32], got[32];
	size_t acl_len;
	struct cflow c;
	uint64_t bound = (256u << 10) + (256u << 10); /* sndbuf + window (params) */

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	start(&cli, &con, con.info.id, acl, acl_len, &f);
	free(acl);
	H.slow = 1;
	cf_open(&c, PN_FLOW_TCP, "echo.test", 7, 8u << 20);
	for (int i = 0; i < 20000; i++)
		step();
	assert_false(c.closed);
	assert_true(H.held > 0);
	assert_true(H.held <= (256u << 10)); /* the window */
	assert_true(c.sent <= bound);        /* the writer was stopped */
	assert_true(c.sent < c.to_send);
	/* the resource drains: credit flows back, the rest follows */
	H.slow = 0;
	pn_flow_consumed(H.sv_flow, (size_t)H.held);
	H.held = 0;
	run_until(flow_done, &c, 2000000);
	assert_int_equal(c.closed_code, PN_FLOW_OK);
	assert_true(H.sv_sink.n == (8u << 20));
	sink_done(&H.sv_sink, got);
	sink_init(&H.sv_sink);
	expected_hash(8u << 20, want);
	assert_memory_equal(got, want, 32);
	sink_done(&c.sink, got);
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
}

/* Eight TCP flows at once in one tunnel over a lossy, reordering path:
 * every byte of every flow arrives in order (hash per flow, both ways). */
static int all_done(void *a)
{
	struct cflow *c = a;
	for (int i = 0; i < 8; i++)
		if (!c[i].closed)
			return H.cl_dead;
	return 1;
}

static void test_concurrent_flows(void **st)
{
	struct pn_mempath_faults f = {.loss_pct = 3, .reorder_pct = 5, .dup_pct = 1, .seed = 7};
	uint8_t *acl, want[32], got[32];
	size_t acl_len;
	static struct cflow c[8];

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	start(&cli, &con, con.info.id, acl, acl_len, &f);
	free(acl);
	H.multi = 1;
	nsfl = 0;
	H.sv_send_total = 300000;
	for (int i = 0; i < 8; i++)
		cf_open(&c[i], PN_FLOW_TCP, "echo.test", 7, 200000 + 10000 * (uint64_t)i);
	run_until(all_done, c, 3000000);
	assert_int_equal(nsfl, 8);
	expected_hash(300000, want);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(c[i].closed_code, PN_FLOW_OK);
		assert_true(c[i].sink.n == 300000);
		sink_done(&c[i].sink, got);
		assert_memory_equal(got, want, 32);
	}
	for (unsigned i = 0; i < nsfl; i++) {
		/* which client flow this was: by its length */
		uint64_t n = sfl[i].sink.n;
		assert_true(n >= 200000 && n <= 270000 && (n - 200000) % 10000 == 0);
		assert_true(sfl[i].eof);
		sink_done(&sfl[i].sink, got);
		expected_hash(n, want);
		assert_memory_equal(got, want, 32);
	}
	H.multi = 0;
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
}

/* Many more flows over a tunnel's life than may be open at once: stream
 * credit comes back as flows end. */
static void test_many_flows(void **st)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl, d[32];
	size_t acl_len;

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	small_limits = 1;
	start(&cli, &con, con.info.id, acl, acl_len, &f);
	free(acl);
	run_until(is_up, NULL, 100000);
	for (int i = 0; i < 40; i++) {
		struct cflow c;
		cf_open(&c, PN_FLOW_DNS, "echo.test", 0, 0);
		run_until(flow_done, &c, 100000);
		assert_int_equal(c.st.code, PN_FLOW_OK);
		sink_done(&c.sink, d);
	}
	small_limits = 0;
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
}

static int n_closed(struct cflow *c, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += c[i].closed;
	return k;
}

static int four_closed(void *a)
{
	return n_closed(a, 4) == 4 || H.cl_dead;
}

static int six_closed(void *a)
{
	return n_closed(a, 6) == 6 || H.cl_dead;
}

/* The connector allows fewer flows per tunnel than the client: the client
 * learns its limit in the handshake (QUIC max streams), refuses more with
 * PN_E_TUN_LIMIT, and hands back flows it had queued beyond it
 * (PN_FLOW_LIMIT, no status) instead of holding them until others end. */
static void test_connector_flow_limit(void **st)
{
	struct pn_mempath_faults f = {0};
	struct pn_tunnel_info info;
	struct pn_flow_req req;
	struct pn_flow *extra = NULL;
	static struct cflow c[6];
	uint8_t *acl, d[32];
	size_t acl_len;
	int ok = 0, limited = 0;

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	sv_small_limits = 1;
	start(&cli, &con, con.info.id, acl, acl_len, &f);
	free(acl);
	pn_tunnel_info(H.cl, &info);
	assert_int_equal(info.max_flows, PN_TEP_MAX_FLOWS_DEFAULT); /* not known yet */
	for (int i = 0; i < 6; i++) /* queued before the handshake */
		cf_open(&c[i], PN_FLOW_DNS, "echo.test", 0, 0);
	run_until(six_closed, c, 200000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	for (int i = 0; i < 6; i++) {
		if (c[i].closed_code == PN_FLOW_LIMIT) {
			assert_false(c[i].have_status);
			limited++;
		} else if (c[i].have_status && c[i].st.code == PN_FLOW_OK) {
			ok++;
		}
		sink_done(&c[i].sink, d);
	}
	assert_int_equal(ok, 4);
	assert_int_equal(limited, 2);
	pn_tunnel_info(H.cl, &info);
	assert_int_equal(info.max_flows, 4);
	for (int i = 0; i < 4; i++)
		cf_open(&c[i], PN_FLOW_DNS, "echo.test", 0, 0);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_DNS;
	req.hdr.qtype = PN_FLOW_QTYPE_A;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "echo.test"), 0);
	memcpy(req.hdr.resource_id, res_id, PN_ID_LEN);
	assert_int_equal(pn_flow_open(H.cl, &req, &cf_ops, &c[4], &extra), PN_E_TUN_LIMIT);
	run_until(four_closed, c, 200000);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c[i].st.code, PN_FLOW_OK);
		sink_done(&c[i].sink, d);
	}
	sv_small_limits = 0;
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
}

#define N_SMALL 1500

static int small_all_closed(void *a)
{
	return n_closed(a, N_SMALL) == N_SMALL || H.cl_dead || H.sv_dead;
}

/* Many flows at once, each with a few bytes both ways, on a connection with
 * a millisecond RTT and small windows: packets carry many small STREAM
 * frames (ngtcp2 "write more" coalescing) and pacing spaces them.  (The
 * connector's abort at 5,000 concurrent flows, ngtcp2's !ppe_pending
 * assertion, is shown by tests/client/it_scale.sh; this virtual network
 * did not reach that state.) */
static void test_many_small_concurrent_flows(void **st)
{
	struct pn_mempath_faults f = {0};
	static struct cflow c[N_SMALL];
	uint8_t *acl, d[32];
	size_t acl_len;
	int okn = 0;

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = &con;
	small_conn_window = 1; /* writers run into connection flow control */
	start(&cli, &con, con.info.id, acl, acl_len, &f);
	free(acl);
	run_until(is_up, NULL, 100000);
	/* a bulk transfer first: congestion windows grow, so a write pass is
	   bounded by its packet budget rather than by the window */
	step_ns = 1000000; /* ~ms RTT: pacing spaces packets by microseconds */
	cf_open(&c[0], PN_FLOW_TCP, "echo.test", 7, 4u << 20);
	H.sv_send_total = 4u << 20;
	run_until(flow_done, &c[0], 2000000);
	assert_int_equal(c[0].closed_code, PN_FLOW_OK);
	sink_done(&c[0].sink, d);
	sv_echo = 1;
	for (int i = 0; i < N_SMALL; i++)
		cf_open(&c[i], PN_FLOW_TCP, "echo.test", 7, 64);
	run_until(small_all_closed, c, 2000000);
	assert_false(H.cl_dead);
	assert_false(H.sv_dead);
	for (int i = 0; i < N_SMALL; i++) {
		okn += c[i].closed_code == PN_FLOW_OK && c[i].sink.n == 64;
		sink_done(&c[i].sink, d);
	}
	assert_int_equal(okn, N_SMALL);
	sv_echo = 0;
	step_ns = 20000;
	small_conn_window = 0;
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
}

/* ------------------------------------------------- handshake failures ---- */

static void expect_fail(struct ident *client, struct ident *srv, const uint8_t *pin,
			const struct ident *acl_holder, int want_err, int want_peer_code)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl;
	size_t acl_len;
	int code;
	const char *text;

	mk_acl(acl_holder, PN_ACL_CLIENT, con.info.id, &acl, &acl_len);
	server_ident = srv;
	start(client, srv, pin, acl, acl_len, &f);
	free(acl);
	run_until(tunnel_dead, NULL, 200000);
	assert_int_equal(H.cl_state, PN_TUNNEL_CLOSED);
	if (want_err)
		assert_int_equal(H.cl_err, want_err);
	pn_tunnel_end_reason(H.cl, &code, &text);
	if (want_peer_code >= 0)
		assert_int_equal(code, want_peer_code);
	assert_false(H.acl_ok && want_peer_code == PN_FLOW_BAD_ACL);
	finish();
}

static void test_foreign_ca_connector(void **st)
{
	(void)st;
	/* a connector credential from another CA: the client refuses it */
	expect_fail(&cli, &con_foreign, con_foreign.info.id, &cli, PN_E_UNTRUSTED, -1);
}

static void test_wrong_connector_pinned(void **st)
{
	(void)st;
	/* a valid connector, but not the one the access list names */
	expect_fail(&cli, &con, cli2.info.id, &cli, PN_E_TUN_PEER_ID, -1);
}

static void test_expired_client(void **st)
{
	(void)st;
	/* the connector refuses the expired client credential in the handshake */
	expect_fail(&cli_expired, &con, con.info.id, &cli_expired, 0, -1);
	assert_null(H.peer);
}

static void test_other_clients_list(void **st)
{
	(void)st;
	/* client presents cli2's (validly signed) list: bound to another key */
	expect_fail(&cli, &con, con.info.id, &cli2, PN_E_TUN_REFUSED, PN_FLOW_BAD_ACL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer_clean),
		cmocka_unit_test(test_transfer_lossy),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_many_flows),
		cmocka_unit_test(test_connector_flow_limit),
		cmocka_unit_test(test_many_small_concurrent_flows),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_concurrent_flows),
		cmocka_unit_test(test_foreign_ca_connector),
		cmocka_unit_test(test_wrong_connector_pinned),
		cmocka_unit_test(test_expired_client),
		cmocka_unit_test(test_other_clients_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
