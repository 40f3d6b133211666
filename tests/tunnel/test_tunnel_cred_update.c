/*
 * A client credential renewed inside an open tunnel (PN_CTL_CRED).  Real
 * ngtcp2 + GnuTLS + trust over an in-memory path; one virtual clock drives
 * both the monotonic time of the tunnels and the unix time of the
 * credential checks, so credentials of a few seconds expire within a run.
 *
 *   client tunnel (credential c1, renewed c2) ── mempath ── connector tunnel
 *
 * A tunnel lives under one client credential: the handshake's, until a
 * renewal is re-presented and adopted.  It ends at that credential's
 * not_after + skew.  Before the fix the connector kept the handshake's
 * credential, so a long flow was cut at c1's not_after + skew even though
 * the client had renewed long before.
 *
 * Timeline (unix seconds from T0; skew 60 s):
 *   c1   issued T0, 10 s             -> the tunnel's first deadline T0 + 70
 *   c2   renewal (same id and key) issued T0 + 7, 30 s -> deadline T0 + 97
 *   bad  re-presented at T0 + 7: another holder, the same id with another
 *        key, an older credential for the same key, the same id and key
 *        under another CA, a revoked one, a PEM text, garbage: each
 *        refused with its reason, and the tunnel still ends at T0 + 70.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#include "core/err.h"
#include "pki.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "trust/policy.h"
#include "tunnel/session.h"

#define T0	1900000000ull
#define SKEW	PN_TRUST_DEFAULT_SKEW
#define C1_LIFE 10
#define C2_AT	7
#define C2_LIFE 30
#define PHASE	(192u << 10) /* bytes each way per phase of the long flow */
#define NPHASE	3

static struct pn_ca *ca, *ca2;
static struct pn_anchor *anchor, *anchor2;
static struct tpki_cred con, c1, c2, other, newkey, older, foreign, revoked;
static uint8_t *acl;
static size_t acl_len;

static int setup(void **st)
{
	(void)st;
	assert_int_equal(pn_ca_new(T0 - 100000, &ca), 0);
	assert_int_equal(pn_ca_new(T0 - 100000, &ca2), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &anchor), 0);
	assert_int_equal(pn_anchor_from_ca(ca2, &anchor2), 0);
	assert_int_equal(tpki_issue(ca, PN_CRED_CONNECTOR, "conn1", T0 - 600, 7200, &con), 0);
	assert_int_equal(tpki_issue(ca, PN_CRED_CLIENT, "laptop", T0, C1_LIFE, &c1), 0);
	/* renewal: same holder, same key */
	assert_int_equal(tpki_reissue(ca, &c1, 0, T0 + C2_AT, C2_LIFE, &c2), 0);
	/* each valid in itself, none a renewal of c1 */
	assert_int_equal(tpki_issue(ca, PN_CRED_CLIENT, "other", T0 + C2_AT, C2_LIFE, &other), 0);
	assert_int_equal(tpki_reissue(ca, &c1, 1, T0 + C2_AT, C2_LIFE, &newkey), 0);
	assert_int_equal(tpki_reissue(ca, &c1, 0, T0 - 5, C1_LIFE, &older), 0);
	assert_int_equal(tpki_reissue(ca2, &c1, 0, T0 + C2_AT, C2_LIFE, &foreign), 0);
	assert_int_equal(tpki_reissue(ca, &c1, 0, T0 + C2_AT, C2_LIFE, &revoked), 0);
	assert_memory_equal(newkey.info.id, c1.info.id, PN_ID_LEN);
	assert_memory_not_equal(newkey.info.key_fpr, c1.info.key_fpr, PN_FPR_LEN);
	assert_memory_equal(foreign.info.key_fpr, c1.info.key_fpr, PN_FPR_LEN);
	assert_true(older.info.not_after < c1.info.not_after);
	assert_int_equal(
	    tpki_client_acl(ca, &c1.info, con.info.id, T0 - 300, T0 + 3600, &acl, &acl_len), 0);
	return 0;
}

static int teardown(void **st)
{
	struct tpki_cred *all[] = {&con, &c1, &c2, &other, &newkey, &older, &foreign, &revoked};

	(void)st;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		tpki_cred_free(all[i]);
	free(acl);
	pn_anchor_free(anchor);
	pn_anchor_free(anchor2);
	pn_ca_free(ca);
	pn_ca_free(ca2);
	return 0;
}

/* ------------------------------------------------------ the harness ---- */

#define BASE_NS 1000000000ull

struct sink {
	gnutls_hash_hd_t h;
	uint64_t n;
};

static struct {
	struct pn_mempath *pa, *pb;
	struct pn_tunnel *cl, *sv;
	gnutls_certificate_credentials_t cl_cred, sv_cred;
	struct pn_key *cl_key, *sv_key;
	uint64_t now;
	int cl_dead, sv_dead;
	enum pn_tunnel_state cl_state;
	int cl_err;
	uint64_t cl_dead_unix, sv_dead_unix;
	int sv_err;
	/* the client's view of its re-presentations */
	int cred_answers, cred_code;
	char cred_text[PN_FLOW_TEXT_MAX + 1];
	/* the connector glue's view */
	int glue_calls, glue_err;
	char glue_why[PN_FLOW_TEXT_MAX + 1];
	/* the long flow */
	struct pn_flow *cf, *sf;
	struct sink cl_sink, sv_sink;
	uint64_t cl_sent, sv_sent, limit; /* each side sends up to `limit` */
	int cl_status, cl_closed, cl_closed_code, sv_closed, sv_closed_code, cl_eof, sv_eof;
	uint8_t pat_up[65536], pat_down[65536];
} H;

/* One clock: unix seconds advance with the virtual monotonic time. */
static uint64_t unix_now(void *u)
{
	(void)u;
	return T0 + (H.now - BASE_NS) / 1000000000ull;
}

static void drv_want_write(struct pn_tunnel *t, void *d)
{
	(void)t, (void)d;
}

static void drv_dead(struct pn_tunnel *t, void *d)
{
	(void)d;
	if (t == H.cl) {
		H.cl_dead = 1;
		H.cl_dead_unix = unix_now(NULL);
	} else {
		H.sv_dead = 1;
		H.sv_dead_unix = unix_now(NULL);
	}
}

static const struct pn_tunnel_driver drv = {drv_want_write, drv_dead, NULL};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256), 0);
}

static void expected_hash(const uint8_t *pat, uint64_t n, uint8_t out[32])
{
	gnutls_hash_hd_t h;

	assert_int_equal(gnutls_hash_init(&h, GNUTLS_DIG_SHA256), 0);
	for (uint64_t off = 0; off < n;) {
		size_t k = (size_t)(n - off < 65536 ? n - off : 65536);
		gnutls_hash(h, pat, k);
		off += k;
	}
	gnutls_hash_deinit(h, out);
}

/* Write pattern bytes [*sent, limit) as far as the ring takes them; FIN
 * after the last phase. */
static void pump(struct pn_flow *f, const uint8_t *pat, uint64_t *sent)
{
	while (f && *sent < H.limit) {
		size_t pos = (size_t)(*sent % 65536), n = 65536 - pos;
		if (n > H.limit - *sent)
			n = (size_t)(H.limit - *sent);
		ssize_t w = pn_flow_write(f, pat + pos, n);
		if (w <= 0)
			return;
		*sent += (uint64_t)w;
	}
	if (f && *sent == (uint64_t)PHASE * NPHASE)
		pn_flow_shutdown(f);
}

/* ---- connector side (test glue: the tunnel does the credential checks;
 * the glue adds revocation, like connector.c) */

static void s_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)u;
	gnutls_hash(H.sv_sink.h, p, n);
	H.sv_sink.n += n;
	pn_flow_consumed(f, n);
}

static void s_eof(struct pn_flow *f, void *u)
{
	(void)f, (void)u;
	H.sv_eof = 1;
}

static void s_writable(struct pn_flow *f, void *u)
{
	(void)u;
	pump(f, H.pat_down, &H.sv_sent);
}

static void s_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)u;
	H.sv_closed = 1;
	H.sv_closed_code = code;
	H.sf = NULL;
}

static const struct pn_flow_ops s_ops = {
    .data = s_data, .eof = s_eof, .writable = s_writable, .closed = s_closed};

static int sv_acl(struct pn_tunnel *t, const uint8_t *bytes, size_t len, char *why, size_t whysz,
		  void *u)
{
	struct pn_acl a;
	int r;

	(void)u;
	pn_acl_init(&a, PN_ACL_CLIENT);
	r = pn_acl_verify(anchor, bytes, len, unix_now(NULL), &a);
	if (r == 0)
		r = pn_acl_check_holder(&a, pn_tunnel_peer(t));
	pn_acl_fini(&a);
	if (r != 0) {
		snprintf(why, whysz, "%s", pn_deny_name(pn_deny_from_err(r)));
		return PN_FLOW_BAD_ACL;
	}
	return PN_FLOW_OK;
}

static void sv_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h, void *u)
{
	struct pn_flow_status st;

	(void)u;
	/* the connector's per-flow credential check, on the tunnel's current
	 * credential */
	if (unix_now(NULL) > pn_tunnel_peer(t)->not_after + SKEW) {
		pn_flow_status_set(&st, 0, PN_FLOW_CRED, "cred_expired");
		assert_int_equal(pn_flow_respond(f, &st, NULL, NULL), 0);
		return;
	}
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	if (h->kind == PN_FLOW_DNS) {
		st.naddr = 1;
		st.addr[0].family = 4;
		memcpy(st.addr[0].a, "\x0a\x00\x00\x05", 4);
		st.ttl = 60;
		assert_int_equal(pn_flow_respond(f, &st, NULL, NULL), 0);
		return;
	}
	assert_int_equal(pn_flow_respond(f, &st, &s_ops, NULL), 0);
	H.sf = f;
	pump(f, H.pat_down, &H.sv_sent);
}

static int sv_cred(struct pn_tunnel *t, const struct pn_cred_info *ci, int err, char *why,
		   size_t whysz, void *u)
{
	(void)t, (void)u;
	H.glue_calls++;
	H.glue_err = err;
	/* the glue's revocation set: the serial of `revoked` */
	if (err == 0 && ci->serial_len == revoked.info.serial_len &&
	    !memcmp(ci->serial, revoked.info.serial, ci->serial_len)) {
		snprintf(why, whysz, "revoked");
		H.glue_err = PN_E_DENIED;
	}
	snprintf(H.glue_why, sizeof(H.glue_why), "%s", why);
	return H.glue_err ? PN_FLOW_CRED : PN_FLOW_OK;
}

static void sv_closed_tun(struct pn_tunnel *t, int err, void *u)
{
	(void)t, (void)u;
	H.sv_err = err;
}

static const struct pn_tep_server_ops sv_ops = {
    .acl = sv_acl, .cred = sv_cred, .flow_request = sv_request, .tunnel_closed = sv_closed_tun};

/* ---- client side */

static void c_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)f, (void)u;
	H.cl_status = st->code == PN_FLOW_OK ? 1 : -1;
}

static void c_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)u;
	gnutls_hash(H.cl_sink.h, p, n);
	H.cl_sink.n += n;
	pn_flow_consumed(f, n);
}

static void c_eof(struct pn_flow *f, void *u)
{
	(void)f, (void)u;
	H.cl_eof = 1;
}

static void c_writable(struct pn_flow *f, void *u)
{
	(void)u;
	pump(f, H.pat_up, &H.cl_sent);
}

static void c_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)u;
	H.cl_closed = 1;
	H.cl_closed_code = code;
	H.cf = NULL;
}

/* a DNS flow: only its status matters */
static int dns_status;

static void d_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)f, (void)u;
	dns_status = st->code == PN_FLOW_OK ? 1 : -1;
}

static const struct pn_flow_ops d_ops = {.status = d_status};

static const struct pn_flow_ops c_ops = {
    .status = c_status, .data = c_data, .eof = c_eof, .writable = c_writable, .closed = c_closed};

static void cl_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	(void)t, (void)u;
	H.cl_state = st;
	H.cl_err = err;
}

static void cl_cred(struct pn_tunnel *t, int code, const char *text, void *u)
{
	(void)t, (void)u;
	H.cred_answers++;
	H.cred_code = code;
	snprintf(H.cred_text, sizeof(H.cred_text), "%s", text);
}

static const struct pn_tunnel_ops cl_ops = {.state = cl_state, .cred = cl_cred};

static void mk_tls(const struct tpki_cred *c, struct pn_key **key,
		   gnutls_certificate_credentials_t *out)
{
	assert_int_equal(pn_key_load_pem_mem(c->key_pem, strlen(c->key_pem), key), 0);
	assert_int_equal(pn_cred_tls_credentials(*key, c->cert_pem, anchor, out), 0);
}

static void params(struct pn_tunnel_params *p, int server)
{
	memset(p, 0, sizeof(*p));
	p->conn.cred = server ? H.sv_cred : H.cl_cred;
	p->conn.anchor = anchor;
	p->conn.unix_now = unix_now;
	p->conn.stream_sndbuf = 256 << 10;
	p->conn.stream_window = 256 << 10;
	p->conn.conn_window = 1 << 20;
	p->conn.idle_ms = 30000;
	p->drv = &drv;
	p->path_kind = PN_PATH_MEMORY;
	if (server)
		p->server_ops = &sv_ops;
	else
		p->ops = &cl_ops;
}

static void start(void)
{
	struct pn_tunnel_params p;

	memset(&H, 0, sizeof(H));
	for (size_t i = 0; i < sizeof(H.pat_up); i++) {
		H.pat_up[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
		H.pat_down[i] = (uint8_t)(i * 17 + (i >> 9) * 5 + 1);
	}
	H.now = BASE_NS;
	mk_tls(&c1, &H.cl_key, &H.cl_cred);
	mk_tls(&con, &H.sv_key, &H.sv_cred);
	assert_int_equal(pn_mempath_pair(NULL, &H.pa, &H.pb), 0);
	params(&p, 0);
	memcpy(p.conn.pinned_id, con.info.id, PN_ID_LEN);
	p.acl = acl;
	p.acl_len = acl_len;
	assert_int_equal(pn_tunnel_new_client(&p, pn_mempath_path(H.pa), H.now, &H.cl), 0);
}

/* One step of the virtual network: flush both sides, deliver, then let
 * time pass (20 us while packets move, else up to the next timer, at most
 * `idle_max_ns`) and run the timers. */
static int step(uint64_t idle_max_ns)
{
	static uint8_t txbuf[PN_TCONN_TX_BUF], rx[2048];
	struct pn_tconn_tx tx = {.buf = txbuf};
	struct pn_mempath *ins[2] = {H.pb, H.pa};
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
		size_t n;
		while ((n = pn_mempath_recv(ins[side], rx, sizeof(rx))) > 0) {
			moved = 1;
			if (side == 1) {
				if (!H.cl_dead)
					pn_tunnel_input(H.cl, pn_mempath_path(H.pa), rx, n, H.now);
				continue;
			}
			if (!H.sv) {
				struct pn_tunnel_params p;
				params(&p, 1);
				if (pn_tconn_accept_check(rx, n) != 0)
					continue;
				assert_int_equal(pn_tunnel_new_server(&p, pn_mempath_path(H.pb), rx,
								      n, H.now, &H.sv),
						 0);
			}
			if (!H.sv_dead)
				pn_tunnel_input(H.sv, pn_mempath_path(H.pb), rx, n, H.now);
		}
	}
	if (!moved) {
		uint64_t e = UINT64_MAX;
		if (H.cl && !H.cl_dead)
			e = pn_tunnel_expiry(H.cl);
		if (H.sv && !H.sv_dead && pn_tunnel_expiry(H.sv) < e)
			e = pn_tunnel_expiry(H.sv);
		H.now = e > H.now && e < H.now + idle_max_ns ? e : H.now + idle_max_ns;
	} else {
		H.now += 20000;
	}
	if (H.cl && !H.cl_dead)
		pn_tunnel_timeout(H.cl, H.now);
	if (H.sv && !H.sv_dead)
		pn_tunnel_timeout(H.sv, H.now);
	return moved;
}

/* Run until unix time `t` (both tunnels' timers and keepalives run). */
static void run_until_unix(uint64_t t)
{
	while (unix_now(NULL) < t && !(H.cl_dead && H.sv_dead))
		step(100000000ull); /* idle jumps of at most 100 ms */
}

static void run_until(int *cond, unsigned max_steps)
{
	for (unsigned i = 0; i < max_steps && !*cond; i++)
		step(5000000ull);
	assert_true(*cond);
}

static void up(void)
{
	int ok = 0;

	start();
	for (unsigned i = 0; i < 20000 && !ok; i++) {
		step(5000000ull);
		ok = H.cl_state == PN_TUNNEL_UP;
	}
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	assert_non_null(H.sv);
	assert_memory_equal(pn_tunnel_peer(H.sv)->serial, c1.info.serial, c1.info.serial_len);
}

static void finish(void)
{
	for (int i = 0; i < 3; i++)
		step(5000000ull);
	pn_tunnel_free(H.cl);
	pn_tunnel_free(H.sv);
	pn_mempath_free(H.pa);
	pn_mempath_free(H.pb);
	gnutls_certificate_free_credentials(H.cl_cred);
	gnutls_certificate_free_credentials(H.sv_cred);
	pn_key_free(H.cl_key);
	pn_key_free(H.sv_key);
	if (H.cl_sink.h)
		gnutls_hash_deinit(H.cl_sink.h, NULL);
	if (H.sv_sink.h)
		gnutls_hash_deinit(H.sv_sink.h, NULL);
}

/* Send one more phase each way and wait until both sides have it. */
static void phase(unsigned k)
{
	H.limit = (uint64_t)PHASE * k;
	pump(H.cf, H.pat_up, &H.cl_sent);
	if (H.sf)
		pump(H.sf, H.pat_down, &H.sv_sent);
	for (unsigned i = 0; i < 200000; i++) {
		if (H.cl_sink.n == H.limit && H.sv_sink.n == H.limit)
			break;
		step(5000000ull);
	}
	assert_int_equal(H.sv_sink.n, H.limit);
	assert_int_equal(H.cl_sink.n, H.limit);
}

/* ------------------------------------------------------------ tests ---- */

/* The flow outlives c1's deadline by far and stays byte-exact both ways;
 * the tunnel then ends at c2's deadline, not before. */
static void test_long_flow_renewed(void **st)
{
	struct pn_flow_req req;
	uint8_t want[32], got[32];

	(void)st;
	up();
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "10.0.0.5"), 0);
	req.hdr.port = 22;
	sink_init(&H.cl_sink);
	sink_init(&H.sv_sink);
	assert_int_equal(pn_flow_open(H.cl, &req, &c_ops, NULL, &H.cf), 0);
	phase(1);
	assert_int_equal(H.cl_status, 1);

	/* the client renews at T0 + 7 and re-presents */
	run_until_unix(T0 + C2_AT);
	assert_int_equal(pn_tunnel_update_cred(H.cl, c2.cert_pem), 0);
	run_until(&H.cred_answers, 20000);
	assert_int_equal(H.cred_code, PN_FLOW_OK);
	assert_int_equal(H.glue_calls, 1);
	assert_int_equal(H.glue_err, 0);
	assert_memory_equal(pn_tunnel_peer(H.sv)->serial, c2.info.serial, c2.info.serial_len);
	assert_int_equal(pn_tunnel_peer(H.sv)->not_after, c2.info.not_after);
	phase(2);

	/* past c1's not_after + skew: the tunnel and the flow live on */
	run_until_unix(c1.info.not_after + SKEW + 5);
	assert_false(H.sv_dead);
	assert_false(H.cl_dead);
	assert_false(H.cl_closed);
	phase(3);
	/* a new flow is served under c2 (c1 would be refused cred_expired) */
	{
		struct pn_flow_req dreq;
		struct pn_flow *df;
		memset(&dreq, 0, sizeof(dreq));
		dreq.hdr.kind = PN_FLOW_DNS;
		assert_int_equal(pn_flow_dest_parse(&dreq.hdr.dest, "db.corp"), 0);
		dreq.hdr.qtype = PN_FLOW_QTYPE_A;
		dns_status = 0;
		assert_int_equal(pn_flow_open(H.cl, &dreq, &d_ops, NULL, &df), 0);
		run_until(&dns_status, 20000);
		assert_int_equal(dns_status, 1);
	}
	for (unsigned i = 0; i < 20000 && !(H.cl_eof && H.sv_eof); i++)
		step(5000000ull);
	assert_true(H.cl_eof);
	assert_true(H.sv_eof);
	run_until(&H.cl_closed, 20000);
	assert_int_equal(H.cl_closed_code, PN_FLOW_OK);
	expected_hash(H.pat_up, (uint64_t)PHASE * NPHASE, want);
	gnutls_hash_deinit(H.sv_sink.h, got);
	H.sv_sink.h = NULL;
	assert_memory_equal(got, want, 32);
	expected_hash(H.pat_down, (uint64_t)PHASE * NPHASE, want);
	gnutls_hash_deinit(H.cl_sink.h, got);
	H.cl_sink.h = NULL;
	assert_memory_equal(got, want, 32);

	/* c2's deadline is the tunnel's end now */
	run_until_unix(c2.info.not_after + SKEW);
	assert_false(H.sv_dead);
	run_until_unix(c2.info.not_after + SKEW + 3);
	assert_true(H.sv_dead);
	assert_true(H.cl_dead);
	assert_int_equal(H.sv_err, PN_E_EXPIRED);
	assert_int_equal(H.sv_dead_unix, c2.info.not_after + SKEW + 1);
	assert_int_equal(H.cl_err, PN_E_TUN_REFUSED);
	{
		int code;
		const char *text;
		pn_tunnel_end_reason(H.cl, &code, &text);
		assert_int_equal(code, PN_FLOW_CRED);
		assert_string_equal(text, "cred_expired");
	}
	finish();
}

/* A renewal re-presented while the tunnel is still handshaking (with c1)
 * goes right after the access list and is adopted. */
static void test_renewed_during_handshake(void **st)
{
	(void)st;
	start();
	assert_int_equal(pn_tunnel_update_cred(H.cl, c2.cert_pem), 0);
	run_until(&H.cred_answers, 20000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	assert_int_equal(H.cred_code, PN_FLOW_OK);
	assert_int_equal(pn_tunnel_peer(H.sv)->not_after, c2.info.not_after);
	finish();
}

/* Re-present `pem`: refused with `reason`, c1 stays, and the tunnel ends
 * at c1's deadline (not_after + skew) all the same. */
static void refused(const char *pem, const char *reason, int glue_saw_err)
{
	up();
	run_until_unix(T0 + C2_AT);
	assert_int_equal(pn_tunnel_update_cred(H.cl, pem), 0);
	run_until(&H.cred_answers, 20000);
	assert_int_equal(H.cred_code, PN_FLOW_CRED);
	assert_string_equal(H.cred_text, reason);
	assert_int_equal(H.glue_calls, 1);
	if (glue_saw_err)
		assert_int_not_equal(H.glue_err, 0);
	assert_string_equal(H.glue_why, reason);
	assert_memory_equal(pn_tunnel_peer(H.sv)->serial, c1.info.serial, c1.info.serial_len);
	assert_int_equal(pn_tunnel_peer(H.sv)->not_after, c1.info.not_after);
	/* a refusal does not end the tunnel */
	run_until_unix(c1.info.not_after + SKEW);
	assert_false(H.sv_dead);
	assert_false(H.cl_dead);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	/* and extends nothing: the old deadline holds */
	run_until_unix(c1.info.not_after + SKEW + 3);
	assert_true(H.sv_dead);
	assert_int_equal(H.sv_err, PN_E_EXPIRED);
	assert_int_equal(H.sv_dead_unix, c1.info.not_after + SKEW + 1);
	assert_true(H.cl_dead);
	assert_int_equal(H.cl_err, PN_E_TUN_REFUSED);
	finish();
}

static void test_other_holder(void **st)
{
	(void)st;
	refused(other.cert_pem, "cred_wrong_holder", 1);
}

static void test_other_key(void **st)
{
	(void)st;
	refused(newkey.cert_pem, "cred_wrong_key", 1);
}

static void test_older(void **st)
{
	(void)st;
	refused(older.cert_pem, "cred_not_newer", 1);
}

static void test_same_again(void **st)
{
	(void)st;
	refused(c1.cert_pem, "cred_not_newer", 1);
}

static void test_other_ca(void **st)
{
	(void)st;
	refused(foreign.cert_pem, "cred_untrusted", 1);
}

static void test_revoked(void **st)
{
	(void)st;
	/* valid renewal in itself; the glue knows its serial as revoked */
	refused(revoked.cert_pem, "revoked", 0);
}

static void test_not_a_client(void **st)
{
	(void)st;
	refused(con.cert_pem, "cred_wrong_type", 1);
}

/* Bytes that are no credential: a PEM text (the wire carries DER), a
 * certificate cut short, garbage.  Each refused; the tunnel stays. */
static void test_malformed(void **st)
{
	gnutls_datum_t pem, der;
	uint8_t pre[PN_CTL_PREFIX_LEN];
	const char *bodies[3];
	size_t lens[3];

	(void)st;
	pem.data = (unsigned char *)c2.cert_pem;
	pem.size = (unsigned)strlen(c2.cert_pem);
	assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der), 0);
	bodies[0] = c2.cert_pem, lens[0] = strlen(c2.cert_pem);
	bodies[1] = (const char *)der.data, lens[1] = der.size / 2;
	bodies[2] = "\x30\x03\x02\x01\x00 garbage", lens[2] = 13;
	up();
	for (int i = 0; i < 3; i++) {
		/* written raw on the control stream, as a hostile client would */
		H.cred_answers = 0;
		pre[0] = PN_CTL_CRED;
		pn_store_be32(pre + 1, (uint32_t)lens[i]);
		assert_int_equal(pn_tconn_stream_write(pn_tunnel_conn(H.cl), 0, pre, sizeof(pre)),
				 (ssize_t)sizeof(pre));
		assert_int_equal(pn_tconn_stream_write(pn_tunnel_conn(H.cl), 0, bodies[i], lens[i]),
				 (ssize_t)lens[i]);
		for (unsigned k = 0; k < 2000; k++)
			step(5000000ull);
		assert_false(H.sv_dead);
		assert_int_equal(H.glue_calls, i + 1);
		assert_string_equal(H.glue_why, "cred_malformed");
		assert_int_equal(pn_tunnel_peer(H.sv)->not_after, c1.info.not_after);
	}
	gnutls_free(der.data);
	assert_false(H.cl_dead);
	/* a proper renewal afterwards is still adopted */
	assert_int_equal(pn_tunnel_update_cred(H.cl, c2.cert_pem), 0);
	run_until(&H.cred_answers, 20000);
	assert_int_equal(H.cred_code, PN_FLOW_OK);
	assert_int_equal(pn_tunnel_peer(H.sv)->not_after, c2.info.not_after);
	finish();
}

/* An oversized credential message is refused from its prefix: the
 * connector does not buffer it and ends the tunnel as malformed. */
static void test_oversized(void **st)
{
	uint8_t pre[PN_CTL_PREFIX_LEN];

	(void)st;
	up();
	pre[0] = PN_CTL_CRED;
	pn_store_be32(pre + 1, PN_CTL_CRED_MAX + 1);
	assert_int_equal(pn_tconn_stream_write(pn_tunnel_conn(H.cl), 0, pre, sizeof(pre)),
			 (ssize_t)sizeof(pre));
	for (unsigned k = 0; k < 2000 && !H.sv_dead; k++)
		step(5000000ull);
	assert_true(H.sv_dead);
	assert_int_equal(H.glue_calls, 0);
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long_flow_renewed),
	    cmocka_unit_test(test_renewed_during_handshake),
	    cmocka_unit_test(test_other_holder),
	    cmocka_unit_test(test_other_key),
	    cmocka_unit_test(test_older),
	    cmocka_unit_test(test_same_again),
	    cmocka_unit_test(test_other_ca),
	    cmocka_unit_test(test_revoked),
	    cmocka_unit_test(test_not_a_client),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_oversized),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
