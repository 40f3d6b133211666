/*
 * Refused tunnels (issue 10, items 1 and 6): every way a connector refuses
 * a client ends with a clean CONNECTION_CLOSE that the client maps to a
 * clear reason, from whichever callback the refusal happens in, and the
 * connector's side reports the reason (with both clocks for a clock
 * problem).  Real ngtcp2 + GnuTLS over an in-memory path, virtual clock.
 *
 *   client tunnel (or a bare QUIC client) ── mempath ── connector tunnel
 *
 * The revoked case used to abort in ngtcp2 (write_application_close_pkt:
 * Assertion 'res' failed): the close was written from inside the
 * handshake_completed callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/secret.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "trust/policy.h"
#include "tunnel/session.h"

#define NOW 1900000000ull /* the controller's (issuer's) clock */

struct ident {
	struct pn_key *key;
	char *pem;
	struct pn_cred_info info;
	gnutls_certificate_credentials_t cred;
};

static struct pn_ca *ca, *ca2;
static struct pn_anchor *anchor, *anchor2;
static struct ident cli, cli2, con, revoked, expired, future, foreign, conntype;
static uint8_t net_id[PN_ID_LEN], res_id[PN_ID_LEN];

static void mk_ident(struct ident *id, struct pn_ca *c, struct pn_anchor *a,
		     enum pn_cred_type type, const char *name, uint64_t issued, uint64_t life)
{
	struct pn_cred_info in;
	char *csr;
	size_t n;

	memset(id, 0, sizeof(*id));
	memset(&in, 0, sizeof(in));
	assert_int_equal(pn_key_generate(&id->key), 0);
	assert_int_equal(pn_key_csr_pem(id->key, name, &csr, &n), 0);
	in.type = type;
	pn_id_random(in.id);
	snprintf(in.name, sizeof(in.name), "%s", name);
	if (type == PN_CRED_CLIENT)
		snprintf(in.user, sizeof(in.user), "%s@test", name);
	in.policy_version = 1;
	assert_int_equal(pn_cred_issue(c, csr, &in, life, issued, &id->pem, &id->info), 0);
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

/* A client list for `holder`, issued as the controller does (issued_at
 * backdated), `issued` on the controller's clock. */
static void mk_acl(const struct ident *holder, uint64_t issued, uint64_t life, uint8_t **out,
		   size_t *len)
{
	struct pn_acl acl;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	memcpy(acl.holder_id, holder->info.id, PN_ID_LEN);
	memcpy(acl.holder_fpr, holder->info.key_fpr, PN_FPR_LEN);
	acl.version = 1;
	acl.issued_at = issued - PN_TRUST_BACKDATE_S;
	acl.expires_at = issued + life;
	assert_int_equal(pn_acl_add_text(&acl, res_id, net_id, "echo.test", "tcp,udp", "7"), 0);
	assert_int_equal(pn_acl_add_network(&acl, net_id,
					    (const uint8_t(*)[PN_ID_LEN])con.info.id, 1),
			 0);
	assert_int_equal(pn_acl_sign(ca, &acl, out, len), 0);
	pn_acl_fini(&acl);
}

static int setup(void **st)
{
	(void)st;
	assert_int_equal(pn_ca_new(NOW - 100000, &ca), 0);
	assert_int_equal(pn_ca_new(NOW - 100000, &ca2), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &anchor), 0);
	assert_int_equal(pn_anchor_from_ca(ca2, &anchor2), 0);
	/* all issued "now" on the controller's clock unless said otherwise */
	mk_ident(&cli, ca, anchor, PN_CRED_CLIENT, "laptop", NOW, 3600);
	mk_ident(&cli2, ca, anchor, PN_CRED_CLIENT, "other", NOW, 3600);
	mk_ident(&con, ca, anchor, PN_CRED_CONNECTOR, "conn1", NOW - 600, 7200);
	mk_ident(&revoked, ca, anchor, PN_CRED_CLIENT, "revoked", NOW, 3600);
	mk_ident(&expired, ca, anchor, PN_CRED_CLIENT, "old", NOW - 7200, 600);
	mk_ident(&future, ca, anchor, PN_CRED_CLIENT, "future", NOW + 3600, 600);
	mk_ident(&foreign, ca2, anchor2, PN_CRED_CLIENT, "foreign", NOW, 3600);
	mk_ident(&conntype, ca, anchor, PN_CRED_CONNECTOR, "notaclient", NOW, 3600);
	pn_id_random(net_id);
	pn_id_random(res_id);
	return 0;
}

static int teardown(void **st)
{
	struct ident *all[] = {&cli, &cli2, &con, &revoked, &expired, &future, &foreign, &conntype};

	(void)st;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free_ident(all[i]);
	pn_anchor_free(anchor);
	pn_anchor_free(anchor2);
	pn_ca_free(ca);
	pn_ca_free(ca2);
	return 0;
}

/* ------------------------------------------------------ the harness ---- */

enum glue_close { CLOSE_NONE, CLOSE_IN_NEW, CLOSE_IN_ACL };

static struct {
	struct pn_mempath *pa, *pb;
	struct pn_tunnel *cl, *sv;
	struct pn_tconn *raw; /* a bare QUIC client (no control stream) */
	uint64_t now;
	int64_t sv_clock; /* the connector's unix clock minus the controller's */
	int cl_dead, sv_dead, raw_hs;
	enum pn_tunnel_state cl_state;
	int cl_err;
	/* connector glue */
	enum glue_close glue_close;
	int sv_new, sv_closed, sv_err, acl_ok;
	struct pn_cred_info refused; /* copy, valid after the tunnel is gone */
	int have_refused;
	uint64_t refused_now;
	struct ident *server_ident;
} H;

static uint64_t sv_unix(void *u)
{
	(void)u;
	return (uint64_t)((int64_t)NOW + H.sv_clock);
}

static uint64_t cl_unix(void *u)
{
	(void)u;
	return NOW;
}

static void drv_want_write(struct pn_tunnel *t, void *d)
{
	(void)t, (void)d;
}

static void drv_dead(struct pn_tunnel *t, void *d)
{
	(void)d;
	if (t == H.cl)
		H.cl_dead = 1;
	else
		H.sv_dead = 1;
}

static const struct pn_tunnel_driver drv = {drv_want_write, drv_dead, NULL};

static int sv_tunnel_new(struct pn_tunnel *t, const struct pn_cred_info *peer, char *why,
			 size_t whysz, void *u)
{
	(void)u;
	H.sv_new++;
	pn_tunnel_set_user(t, &H);
	if (!memcmp(peer->id, revoked.info.id, PN_ID_LEN)) {
		snprintf(why, whysz, "revoked");
		return PN_FLOW_CRED;
	}
	if (H.glue_close == CLOSE_IN_NEW)
		pn_tunnel_close(t, PN_FLOW_INTERNAL); /* closes from inside the callback */
	return PN_FLOW_OK;
}

static int sv_acl(struct pn_tunnel *t, const uint8_t *bytes, size_t len, char *why, size_t whysz,
		  void *u)
{
	struct pn_acl acl;
	int r;

	(void)u;
	pn_acl_init(&acl, PN_ACL_CLIENT);
	r = pn_acl_verify(anchor, bytes, len, sv_unix(NULL), &acl);
	if (r == 0)
		r = pn_acl_check_holder(&acl, pn_tunnel_peer(t));
	pn_acl_fini(&acl);
	if (r != 0) {
		snprintf(why, whysz, "%s", pn_deny_name(pn_deny_from_err(r)));
		return PN_FLOW_BAD_ACL;
	}
	if (H.glue_close == CLOSE_IN_ACL) {
		pn_tunnel_close(t, PN_FLOW_INTERNAL);
		return PN_FLOW_OK;
	}
	H.acl_ok = 1;
	return PN_FLOW_OK;
}

static void sv_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h,
		       void *u)
{
	struct pn_flow_status st;

	(void)t, (void)h, (void)u;
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	st.naddr = 1;
	st.addr[0].family = 4;
	memcpy(st.addr[0].a, "\x0a\x00\x00\x07", 4);
	st.ttl = 60;
	assert_int_equal(pn_flow_respond(f, &st, NULL, NULL), 0);
}

static void sv_tunnel_closed(struct pn_tunnel *t, int err, void *u)
{
	const struct pn_cred_info *ci = NULL;

	(void)u;
	H.sv_closed++;
	H.sv_err = err;
	pn_tunnel_refusal(t, &ci, &H.refused_now);
	if (ci) {
		H.refused = *ci;
		H.have_refused = 1;
	}
}

static const struct pn_tep_server_ops sv_ops = {
	.tunnel_new = sv_tunnel_new,
	.acl = sv_acl,
	.flow_request = sv_request,
	.tunnel_closed = sv_tunnel_closed,
};

static void cl_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	(void)t, (void)u;
	H.cl_state = st;
	H.cl_err = err;
}

static const struct pn_tunnel_ops cl_ops = {.state = cl_state};

static void params(struct pn_tunnel_params *p, struct ident *id, int server)
{
	memset(p, 0, sizeof(*p));
	p->conn.cred = id->cred;
	p->conn.anchor = anchor;
	p->conn.unix_now = server ? sv_unix : cl_unix;
	p->conn.stream_sndbuf = 64 << 10;
	p->conn.stream_window = 64 << 10;
	p->conn.conn_window = 256 << 10;
	p->conn.idle_ms = 30000;
	p->drv = &drv;
	p->path_kind = PN_PATH_MEMORY;
	if (server)
		p->server_ops = &sv_ops;
	else
		p->ops = &cl_ops;
}

static void start(struct ident *id, const uint8_t *acl, size_t acl_len)
{
	struct pn_tunnel_params p;
	int64_t clock = H.sv_clock;
	enum glue_close gc = H.glue_close;

	memset(&H, 0, sizeof(H));
	H.sv_clock = clock;
	H.glue_close = gc;
	H.now = 1000000000ull;
	H.server_ident = &con;
	assert_int_equal(pn_mempath_pair(NULL, &H.pa, &H.pb), 0);
	params(&p, id, 0);
	memcpy(p.conn.pinned_id, con.info.id, PN_ID_LEN);
	p.acl = acl;
	p.acl_len = acl_len;
	assert_int_equal(pn_tunnel_new_client(&p, pn_mempath_path(H.pa), H.now, &H.cl), 0);
}

/* the bare client: completes the handshake, never opens the control stream */
static void raw_hs_done(struct pn_tconn *c, const struct pn_cred_info *peer, void *u)
{
	(void)c, (void)peer, (void)u;
	H.raw_hs = 1;
}

static const struct pn_tconn_cbs raw_cbs = {.handshake_done = raw_hs_done};

static void start_raw(struct ident *id)
{
	struct pn_tconn_config cfg;

	memset(&H, 0, sizeof(H));
	H.now = 1000000000ull;
	H.server_ident = &con;
	assert_int_equal(pn_mempath_pair(NULL, &H.pa, &H.pb), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PN_TCONN_CLIENT;
	cfg.cred = id->cred;
	cfg.anchor = anchor;
	memcpy(cfg.pinned_id, con.info.id, PN_ID_LEN);
	cfg.unix_now = cl_unix;
	cfg.cbs = &raw_cbs;
	cfg.idle_ms = 30000;
	pn_random(cfg.cid_key, sizeof(cfg.cid_key));
	assert_int_equal(pn_tconn_client_new(&cfg, pn_mempath_path(H.pa), H.now, &H.raw), 0);
}

static int cl_alive(void)
{
	return H.raw ? !pn_tconn_is_closed(H.raw) : (H.cl && !H.cl_dead);
}

/* One step: flush both sides, deliver, run timers. */
static void step(void)
{
	static uint8_t txbuf[PN_TCONN_TX_BUF], rx[2048];
	struct pn_tconn_tx tx = {.buf = txbuf};
	int moved = 0;
	size_t n;

	for (int k = 0; k < 64 && cl_alive(); k++) {
		if (H.raw)
			pn_tconn_write(H.raw, H.now, &tx);
		else
			pn_tunnel_output(H.cl, H.now, &tx);
		if (tx.len == 0)
			break;
		tx.path->ops->send(tx.path, tx.buf, tx.len, tx.seg);
		moved = 1;
	}
	for (int k = 0; k < 64 && H.sv; k++) {
		/* also after its death: the CONNECTION_CLOSE goes out */
		pn_tunnel_output(H.sv, H.now, &tx);
		if (tx.len == 0)
			break;
		tx.path->ops->send(tx.path, tx.buf, tx.len, tx.seg);
		moved = 1;
	}
	while ((n = pn_mempath_recv(H.pb, rx, sizeof(rx))) > 0) {
		moved = 1;
		if (!H.sv) {
			struct pn_tunnel_params p;
			params(&p, H.server_ident, 1);
			if (pn_tconn_accept_check(rx, n) != 0)
				continue;
			assert_int_equal(
			    pn_tunnel_new_server(&p, pn_mempath_path(H.pb), rx, n, H.now, &H.sv), 0);
		}
		if (!H.sv_dead)
			pn_tunnel_input(H.sv, pn_mempath_path(H.pb), rx, n, H.now);
	}
	while ((n = pn_mempath_recv(H.pa, rx, sizeof(rx))) > 0) {
		moved = 1;
		if (!cl_alive())
			continue;
		if (H.raw)
			pn_tconn_read(H.raw, pn_mempath_path(H.pa), rx, n, H.now);
		else
			pn_tunnel_input(H.cl, pn_mempath_path(H.pa), rx, n, H.now);
	}
	if (!moved) {
		uint64_t e = UINT64_MAX;
		if (cl_alive())
			e = H.raw ? pn_tconn_expiry(H.raw) : pn_tunnel_expiry(H.cl);
		if (H.sv && !H.sv_dead && pn_tunnel_expiry(H.sv) < e)
			e = pn_tunnel_expiry(H.sv);
		H.now = e != UINT64_MAX && e > H.now ? e : H.now + 5000000;
	} else {
		H.now += 20000;
	}
	if (cl_alive()) {
		if (H.raw)
			pn_tconn_handle_expiry(H.raw, H.now);
		else
			pn_tunnel_timeout(H.cl, H.now);
	}
	if (H.sv && !H.sv_dead)
		pn_tunnel_timeout(H.sv, H.now);
}

static void run_until_client_ends(int max_steps)
{
	for (int i = 0; i < max_steps && cl_alive(); i++)
		step();
	assert_false(cl_alive());
}

static void finish(void)
{
	for (int i = 0; i < 3; i++)
		step();
	pn_tunnel_free(H.cl);
	pn_tunnel_free(H.sv);
	pn_tconn_free(H.raw);
	pn_mempath_free(H.pa);
	pn_mempath_free(H.pb);
	H.cl = H.sv = NULL;
	H.raw = NULL;
}

/* The client's view of the end: err, peer code, reason text. */
static void client_end(int *err, int *code, const char **text)
{
	*err = pn_tunnel_end_reason(H.cl, code, text);
	assert_int_equal(*err, H.cl_err);
}

/* A refusal that happens after the handshake (glue callbacks): the client
 * gets PN_E_TUN_REFUSED with the connector's code and reason. */
static void expect_refused(struct ident *id, const uint8_t *acl, size_t acl_len, int want_code,
			   const char *want_text)
{
	int err, code;
	const char *text;

	start(id, acl, acl_len);
	run_until_client_ends(200000);
	assert_int_equal(H.cl_state, PN_TUNNEL_CLOSED);
	client_end(&err, &code, &text);
	assert_int_equal(err, PN_E_TUN_REFUSED);
	assert_int_equal(code, want_code);
	assert_string_equal(text, want_text);
	assert_int_equal(H.sv_new, 1);
	assert_int_equal(H.sv_closed, 1);
	assert_false(H.acl_ok);
	finish();
}

/* A refusal of the client's credential in the handshake: the client gets
 * PN_E_TUN_CRED_REFUSED and the connector's reason; the connector's
 * glue never saw a tunnel and is told why. */
static void expect_cred_refused(struct ident *id, int want_sv_err, const char *want_text)
{
	uint8_t *acl;
	size_t acl_len;
	int err, code;
	const char *text;

	mk_acl(id, NOW, 3600, &acl, &acl_len);
	start(id, acl, acl_len);
	free(acl);
	run_until_client_ends(200000);
	assert_int_equal(H.cl_state, PN_TUNNEL_CLOSED);
	client_end(&err, &code, &text);
	assert_int_equal(err, PN_E_TUN_CRED_REFUSED);
	assert_string_equal(text, want_text);
	assert_int_equal(H.sv_new, 0);
	assert_int_equal(H.sv_closed, 1);
	assert_int_equal(H.sv_err, want_sv_err);
	finish();
}

/* ----------------------------------------------------------- the tests -- */

/* The crash: refused from inside the handshake callback. */
static void test_revoked(void **st)
{
	uint8_t *acl;
	size_t acl_len;

	(void)st;
	mk_acl(&revoked, NOW, 3600, &acl, &acl_len);
	expect_refused(&revoked, acl, acl_len, PN_FLOW_CRED, "revoked");
	free(acl);
	assert_int_equal(H.sv_err, PN_E_TUN_REFUSED);
}

static void test_expired_credential(void **st)
{
	char want[64];

	(void)st;
	snprintf(want, sizeof(want), "cred_expired now=%llu", (unsigned long long)NOW);
	expect_cred_refused(&expired, PN_E_EXPIRED, want);
	/* the connector can log both clocks */
	assert_true(H.have_refused);
	assert_true(H.refused.not_after == NOW - 7200 + 600);
	assert_true(H.refused_now == NOW);
	assert_string_equal(H.refused.user, "old@test");
}

static void test_not_yet_valid_credential(void **st)
{
	char want[64];

	(void)st;
	snprintf(want, sizeof(want), "cred_not_yet_valid now=%llu", (unsigned long long)NOW);
	expect_cred_refused(&future, PN_E_NOT_YET_VALID, want);
	assert_true(H.have_refused);
	assert_true(H.refused.not_before == NOW + 3600 - PN_TRUST_BACKDATE_S);
}

static void test_wrong_ca(void **st)
{
	(void)st;
	/* its issuer is not the CA the connector asks for: it sends none */
	expect_cred_refused(&foreign, PN_E_TUN_NO_CRED, "no_credential");
	assert_false(H.have_refused);
}

static void test_wrong_type(void **st)
{
	(void)st;
	expect_cred_refused(&conntype, PN_E_WRONG_TYPE, "cred_wrong_type");
}

static void test_bad_list(void **st)
{
	uint8_t junk[200];

	(void)st;
	memset(junk, 0x5a, sizeof(junk));
	memcpy(junk, "PNAL", 4);
	expect_refused(&cli, junk, sizeof(junk), PN_FLOW_BAD_ACL, "acl_invalid");
}

static void test_wrong_holder_list(void **st)
{
	uint8_t *acl;
	size_t acl_len;

	(void)st;
	mk_acl(&cli2, NOW, 3600, &acl, &acl_len);
	expect_refused(&cli, acl, acl_len, PN_FLOW_BAD_ACL, "wrong_holder");
	free(acl);
}

static void test_expired_list(void **st)
{
	uint8_t *acl;
	size_t acl_len;

	(void)st;
	mk_acl(&cli, NOW - 7200, 600, &acl, &acl_len);
	expect_refused(&cli, acl, acl_len, PN_FLOW_BAD_ACL, "client_acl_expired");
	free(acl);
}

/* authenticated, but never presents a list: refused after the deadline */
static void test_absent_list(void **st)
{
	uint64_t app = 0;
	char text[64];

	(void)st;
	start_raw(&cli);
	run_until_client_ends(400000);
	assert_true(H.raw_hs);
	assert_int_equal(pn_tconn_close_reason(H.raw, &app), PN_E_TUN_PEER_CLOSED);
	assert_true(app == PN_FLOW_APP_ERR_BASE + PN_FLOW_NO_ACL);
	pn_tconn_peer_reason(H.raw, text, sizeof(text));
	assert_string_equal(text, "no access list");
	assert_int_equal(H.sv_new, 1);
	assert_int_equal(H.sv_err, PN_E_TIMEOUT);
	finish();
}

/* the glue closes the tunnel itself from inside its callbacks */
static void test_glue_closes_in_callbacks(void **st)
{
	uint8_t *acl;
	size_t acl_len;
	int err, code;
	const char *text;

	(void)st;
	mk_acl(&cli, NOW, 3600, &acl, &acl_len);
	for (int g = CLOSE_IN_NEW; g <= CLOSE_IN_ACL; g++) {
		H.glue_close = (enum glue_close)g;
		start(&cli, acl, acl_len);
		run_until_client_ends(200000);
		client_end(&err, &code, &text);
		assert_int_equal(err, PN_E_TUN_REFUSED);
		assert_int_equal(code, PN_FLOW_INTERNAL);
		assert_string_equal(text, "internal");
		finish();
	}
	H.glue_close = CLOSE_NONE;
	free(acl);
}

/* Item 6: a connector whose clock is 4 minutes behind the controller's
 * accepts a client that logged in just now (credential and list issued
 * at NOW), and the tunnel works. */
static int dns_done;
static void dns_status(struct pn_flow *f, const struct pn_flow_status *s, void *u)
{
	(void)f, (void)u;
	dns_done = s->code == PN_FLOW_OK ? 1 : -1;
}
static const struct pn_flow_ops dns_ops = {.status = dns_status};

static void test_connector_clock_behind(void **st)
{
	struct pn_flow_req req;
	struct pn_flow *f;
	uint8_t *acl;
	size_t acl_len;

	(void)st;
	mk_acl(&cli, NOW, 3600, &acl, &acl_len);
	H.sv_clock = -240;
	start(&cli, acl, acl_len);
	free(acl);
	for (int i = 0; i < 100000 && H.cl_state != PN_TUNNEL_UP && !H.cl_dead; i++)
		step();
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	assert_true(H.acl_ok);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_DNS;
	req.hdr.qtype = PN_FLOW_QTYPE_A;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "echo.test"), 0);
	dns_done = 0;
	assert_int_equal(pn_flow_open(H.cl, &req, &dns_ops, NULL, &f), 0);
	for (int i = 0; i < 100000 && !dns_done; i++)
		step();
	assert_int_equal(dns_done, 1);
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	finish();
	H.sv_clock = 0;
}

/* Glue that closes its tunnel inside a callback and flushes at once (as
 * pn_tep_close does): the CONNECTION_CLOSE still goes out then, and the
 * connector learns of the end at once, not by idle timeout. */
static int flushed;
static void close_and_flush(struct pn_flow *f, const struct pn_flow_status *s, void *u)
{
	static uint8_t buf[PN_TCONN_TX_BUF];
	struct pn_tconn_tx tx = {.buf = buf};

	(void)f, (void)s, (void)u;
	pn_tunnel_close(H.cl, PN_FLOW_OK);
	for (;;) {
		pn_tunnel_output(H.cl, H.now, &tx);
		if (tx.len == 0)
			break;
		tx.path->ops->send(tx.path, tx.buf, tx.len, tx.seg);
		flushed++;
	}
}
static const struct pn_flow_ops flush_ops = {.status = close_and_flush};

static void test_close_and_flush_in_callback(void **st)
{
	struct pn_flow_req req;
	struct pn_flow *f;
	uint8_t *acl;
	size_t acl_len;
	uint64_t t0;

	(void)st;
	mk_acl(&cli, NOW, 3600, &acl, &acl_len);
	start(&cli, acl, acl_len);
	free(acl);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_DNS;
	req.hdr.qtype = PN_FLOW_QTYPE_A;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "echo.test"), 0);
	flushed = 0;
	assert_int_equal(pn_flow_open(H.cl, &req, &flush_ops, NULL, &f), 0);
	for (int i = 0; i < 100000 && !H.cl_dead; i++)
		step();
	assert_true(H.cl_dead);
	assert_int_equal(flushed, 1); /* the close */
	t0 = H.now;
	for (int i = 0; i < 100000 && !H.sv_closed; i++)
		step();
	assert_int_equal(H.sv_closed, 1);
	assert_int_equal(H.sv_err, PN_E_TUN_PEER_CLOSED);
	assert_true(H.now - t0 < 1000000000ull); /* not the 30 s idle timeout */
	finish();
}

/* ... and one far behind (more than backdating + tolerance) refuses with
 * a reason naming the clock problem, both clocks on each side. */
static void test_connector_clock_far_behind(void **st)
{
	char want[64];
	const int64_t behind = PN_TRUST_BACKDATE_S + PN_TRUST_DEFAULT_SKEW + 1;

	(void)st;
	H.sv_clock = -behind;
	snprintf(want, sizeof(want), "cred_not_yet_valid now=%llu",
		 (unsigned long long)(NOW - (uint64_t)behind));
	expect_cred_refused(&cli, PN_E_NOT_YET_VALID, want);
	assert_true(H.have_refused);
	assert_true(H.refused.not_before == NOW - PN_TRUST_BACKDATE_S);
	assert_true(H.refused_now == NOW - (uint64_t)behind);
	H.sv_clock = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_expired_credential),
		cmocka_unit_test(test_not_yet_valid_credential),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_bad_list),
		cmocka_unit_test(test_wrong_holder_list),
		cmocka_unit_test(test_expired_list),
		cmocka_unit_test(test_absent_list),
		cmocka_unit_test(test_glue_closes_in_callbacks),
		cmocka_unit_test(test_close_and_flush_in_callback),
		cmocka_unit_test(test_connector_clock_behind),
		cmocka_unit_test(test_connector_clock_far_behind),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
