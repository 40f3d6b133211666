/*
 * The connector's side of a client credential renewed inside an open
 * tunnel (PN_CTL_CRED), with the real connector, real clock, on loopback:
 *
 *   client A pn_tep ─┐
 *                    ├─QUIC/UDP─> pn_connector ─TCP─> listener 127.0.0.1:P
 *   client B pn_tep ─┘
 *
 * Both clients handshake with credentials that expired 54 s ago: inside
 * the 60 s skew, so each tunnel has about 6 s left.  A re-presents its
 * renewal (same key): adopted, so its tunnel and its open flow outlive the
 * old deadline and a new flow is allowed (flows are checked against the
 * adopted credential).  B re-presents a renewal whose serial the connector
 * holds as revoked: refused "revoked", and B's tunnel is closed at its old
 * deadline with code `credential`.  Before the fix both tunnels were
 * closed at the old deadline.  ~8 s.
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
#include <uv.h>

#include "connector/connector.h"
#include "core/err.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

#define OLD_LEFT_S 6 /* the login credentials' time left, skew included */

static struct {
	uv_loop_t loop;
	uv_tcp_t lsn;
	int port;
	struct pn_ca *ca;
	struct pn_anchor *anchor;
	struct pn_key *sk;
	char *spem;
	struct pn_cred_info si;
	uint8_t net[PN_ID_LEN], res[PN_ID_LEN];
	struct pn_connector *conn;
	uv_tcp_t *accepted[16]; /* the resource's connections, closed at the end */
	unsigned naccepted;
} C;

/* One client: its key, login credential (nearly expired), renewal, list,
 * endpoint and tunnel. */
struct cli {
	struct pn_key *k;
	char *pem1, *pem2;
	struct pn_cred_info c1, c2;
	uint8_t *acl;
	size_t acl_len;
	struct pn_tep *ep;
	struct pn_tunnel *t;
	int up, closed, err, peer_code, answered, cred_code;
	char text[64], cred_text[64];
};

struct gflow {
	struct pn_flow *f;
	int status, closed, code;
	struct pn_flow_status st;
};

static void conn_accept(uv_stream_t *srv, int status)
{
	uv_tcp_t *c = calloc(1, sizeof(*c));

	(void)status;
	assert_non_null(c);
	uv_tcp_init(srv->loop, c);
	if (uv_accept(srv, (uv_stream_t *)c) != 0 || C.naccepted == 16)
		uv_close((uv_handle_t *)c, (uv_close_cb)free);
	else
		C.accepted[C.naccepted++] = c; /* held open until the end */
}

static char *issue(struct pn_key *k, const struct pn_cred_info *in, uint64_t at, uint64_t life,
		   struct pn_cred_info *out)
{
	char *csr, *pem;
	size_t n;

	assert_int_equal(pn_key_csr_pem(k, NULL, &csr, &n), 0);
	assert_int_equal(pn_cred_issue(C.ca, csr, in, life, at, &pem, out), 0);
	free(csr);
	return pem;
}

static void sign_list(enum pn_acl_kind kind, const struct pn_cred_info *holder, uint8_t **out,
		      size_t *len)
{
	struct pn_acl a;
	char port[8];

	snprintf(port, sizeof(port), "%d", C.port);
	pn_acl_init(&a, kind);
	memcpy(a.holder_id, holder->id, PN_ID_LEN);
	memcpy(a.holder_fpr, holder->key_fpr, PN_FPR_LEN);
	a.version = 1;
	a.issued_at = (uint64_t)time(NULL) - 10;
	a.expires_at = a.issued_at + 3600;
	assert_int_equal(pn_acl_add_text(&a, C.res, C.net, "127.0.0.1", "tcp", port), 0);
	if (kind == PN_ACL_CLIENT)
		assert_int_equal(
		    pn_acl_add_network(&a, C.net, (const uint8_t(*)[PN_ID_LEN])C.si.id, 1), 0);
	assert_int_equal(pn_acl_sign(C.ca, &a, out, len), 0);
	pn_acl_fini(&a);
}

/* A client whose login credential ended 60 - OLD_LEFT_S s ago (10 s
 * lifetime), and its renewal for the same key, valid an hour. */
static void mk_cli(struct cli *c, const char *name)
{
	struct pn_cred_info in;
	uint64_t now = (uint64_t)time(NULL);
	struct pn_tep_config cc;

	memset(c, 0, sizeof(*c));
	memset(&in, 0, sizeof(in));
	in.type = PN_CRED_CLIENT;
	pn_id_random(in.id);
	snprintf(in.name, sizeof(in.name), "%s", name);
	snprintf(in.user, sizeof(in.user), "%s@test", name);
	assert_int_equal(pn_key_generate(&c->k), 0);
	c->pem1 = issue(c->k, &in, now - (PN_TRUST_DEFAULT_SKEW - OLD_LEFT_S) - 10, 10, &c->c1);
	c->pem2 = issue(c->k, &in, now, 3600, &c->c2);
	sign_list(PN_ACL_CLIENT, &c->c1, &c->acl, &c->acl_len);
	memset(&cc, 0, sizeof(cc));
	cc.loop = &C.loop;
	cc.role = PN_TEP_CLIENT;
	cc.anchor = C.anchor;
	cc.key = c->k;
	cc.cert_pem = c->pem1;
	assert_int_equal(pn_tep_new(&cc, &c->ep), 0);
}

static void free_cli(struct cli *c)
{
	free(c->pem1);
	free(c->pem2);
	free(c->acl);
	pn_key_free(c->k);
}

static void t_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	struct cli *c = u;
	const char *text = "";

	if (st == PN_TUNNEL_UP)
		c->up = 1;
	if (st != PN_TUNNEL_CLOSED)
		return;
	c->closed = 1;
	c->err = err;
	pn_tunnel_end_reason(t, &c->peer_code, &text);
	snprintf(c->text, sizeof(c->text), "%s", text ? text : "");
	c->t = NULL;
}

static void t_cred(struct pn_tunnel *t, int code, const char *text, void *u)
{
	struct cli *c = u;

	(void)t;
	c->answered = 1;
	c->cred_code = code;
	snprintf(c->cred_text, sizeof(c->cred_text), "%s", text);
}

static const struct pn_tunnel_ops t_ops = {.state = t_state, .cred = t_cred};

static void f_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	struct gflow *g = u;

	(void)f;
	g->st = *st;
	g->status = 1;
}

static void f_closed(struct pn_flow *f, int code, void *u)
{
	struct gflow *g = u;

	(void)f;
	g->closed = 1;
	g->code = code;
	g->f = NULL;
}

static const struct pn_flow_ops f_ops = {.status = f_status, .closed = f_closed};

static void tick(uv_timer_t *t)
{
	(void)t; /* only wakes uv_run */
}

/* Run the loop until *flag is set (within `ms`). */
static void spin(const int *flag, unsigned ms)
{
	uint64_t end;

	uv_update_time(&C.loop);
	end = uv_now(&C.loop) + ms;
	while (!*flag && uv_now(&C.loop) < end)
		uv_run(&C.loop, UV_RUN_ONCE);
	assert_true(*flag);
}

static void elapsed(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

static void settle(unsigned ms)
{
	uv_timer_t t;
	int done = 0;

	uv_timer_init(&C.loop, &t);
	t.data = &done;
	uv_timer_start(&t, elapsed, ms, 0);
	spin(&done, ms + 1000);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&C.loop, UV_RUN_NOWAIT);
}

static void open_tunnel(struct cli *c, const struct sockaddr *peer)
{
	struct pn_tunnel_config tc;

	memset(&tc, 0, sizeof(tc));
	memcpy(tc.connector_id, C.si.id, PN_ID_LEN);
	tc.acl = c->acl;
	tc.acl_len = c->acl_len;
	tc.udp_peer = peer;
	tc.ops = &t_ops;
	tc.user = c;
	assert_int_equal(pn_tunnel_open(c->ep, &tc, &c->t), 0);
	spin(&c->up, 5000);
}

static void open_flow(struct cli *c, struct gflow *g)
{
	struct pn_flow_req req;

	memset(g, 0, sizeof(*g));
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "127.0.0.1"), 0);
	req.hdr.port = (uint16_t)C.port;
	assert_int_equal(pn_flow_open(c->t, &req, &f_ops, g, &g->f), 0);
	spin(&g->status, 5000);
}

static void test_cred_represented(void **st)
{
	struct sockaddr_in lo;
	struct sockaddr_storage ss;
	struct sockaddr *peer = (struct sockaddr *)&ss;
	int len = sizeof(ss);
	struct pn_connector_config cfg;
	struct cli a, b;
	struct gflow fa, fa2, fb;
	uint8_t *sacl;
	size_t sacl_len;
	uv_timer_t tk;
	char serial[2 * PN_SERIAL_MAX + 1];
	const char *serials[1] = {serial};
	uint64_t deadline;

	(void)st;
	memset(&C, 0, sizeof(C));
	assert_int_equal(uv_loop_init(&C.loop), 0);
	uv_tcp_init(&C.loop, &C.lsn);
	uv_ip4_addr("127.0.0.1", 0, &lo);
	assert_int_equal(uv_tcp_bind(&C.lsn, (struct sockaddr *)&lo, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&C.lsn, 16, conn_accept), 0);
	uv_tcp_getsockname(&C.lsn, (struct sockaddr *)&ss, &len);
	C.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	assert_int_equal(pn_ca_new((uint64_t)time(NULL) - 1000, &C.ca), 0);
	assert_int_equal(pn_anchor_from_ca(C.ca, &C.anchor), 0);
	pn_id_random(C.net);
	pn_id_random(C.res);
	{
		struct pn_cred_info in;
		memset(&in, 0, sizeof(in));
		in.type = PN_CRED_CONNECTOR;
		pn_id_random(in.id);
		snprintf(in.name, sizeof(in.name), "conn-test");
		assert_int_equal(pn_key_generate(&C.sk), 0);
		C.spem = issue(C.sk, &in, (uint64_t)time(NULL) - 10, 3600, &C.si);
	}
	sign_list(PN_ACL_CONNECTOR, &C.si, &sacl, &sacl_len);
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = &C.loop;
	cfg.anchor = C.anchor;
	cfg.key = C.sk;
	cfg.cert_pem = C.spem;
	cfg.acl = sacl;
	cfg.acl_len = sacl_len;
	cfg.listen_udp = (struct sockaddr *)&lo;
	assert_int_equal(pn_connector_new(&cfg, &C.conn), 0);
	assert_int_equal(pn_tep_udp_addr(pn_connector_tep(C.conn), &ss), 0);
	uv_timer_init(&C.loop, &tk);
	uv_timer_start(&tk, tick, 10, 10);
	mk_cli(&a, "alice");
	mk_cli(&b, "bob");
	deadline = a.c1.not_after + PN_TRUST_DEFAULT_SKEW;
	assert_true(deadline >= (uint64_t)time(NULL) + OLD_LEFT_S - 1);
	/* B's renewal is revoked (by serial) at the connector */
	for (size_t i = 0; i < b.c2.serial_len; i++)
		snprintf(serial + 2 * i, 3, "%02x", b.c2.serial[i]);
	assert_int_equal(pn_connector_set_revoked(C.conn, NULL, 0, serials, 1), 0);

	open_tunnel(&a, peer);
	open_tunnel(&b, peer);
	open_flow(&a, &fa);
	assert_int_equal(fa.st.code, PN_FLOW_OK);
	open_flow(&b, &fb);
	assert_int_equal(fb.st.code, PN_FLOW_OK);

	assert_int_equal(pn_tunnel_update_cred(a.t, a.pem2), 0);
	assert_int_equal(pn_tunnel_update_cred(b.t, b.pem2), 0);
	spin(&a.answered, 5000);
	spin(&b.answered, 5000);
	assert_int_equal(a.cred_code, PN_FLOW_OK);
	assert_int_equal(b.cred_code, PN_FLOW_CRED);
	assert_string_equal(b.cred_text, "revoked");

	/* past the login credentials' expiry + skew (and a 1 s re-check) */
	while ((uint64_t)time(NULL) <= deadline + 1)
		settle(250);
	settle(1200);
	/* A: the tunnel and its open flow live on; a new flow is allowed */
	assert_false(a.closed);
	assert_false(fa.closed);
	open_flow(&a, &fa2);
	assert_int_equal(fa2.st.code, PN_FLOW_OK);
	/* B: refused renewal, so ended at the old deadline */
	assert_true(b.closed);
	assert_int_equal(b.err, PN_E_TUN_REFUSED);
	assert_int_equal(b.peer_code, PN_FLOW_CRED);
	assert_true(fb.closed);

	pn_flow_close(fa.f, PN_FLOW_RESET);
	pn_flow_close(fa2.f, PN_FLOW_RESET);
	pn_tunnel_close(a.t, PN_FLOW_OK);
	uv_timer_stop(&tk);
	uv_close((uv_handle_t *)&tk, NULL);
	uv_close((uv_handle_t *)&C.lsn, NULL);
	pn_tep_close(a.ep, NULL, NULL);
	pn_tep_close(b.ep, NULL, NULL);
	pn_connector_close(C.conn, NULL, NULL);
	for (unsigned i = 0; i < C.naccepted; i++)
		uv_close((uv_handle_t *)C.accepted[i], (uv_close_cb)free);
	uv_run(&C.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&C.loop), 0);
	free_cli(&a);
	free_cli(&b);
	free(sacl);
	free(C.spem);
	pn_key_free(C.sk);
	pn_anchor_free(C.anchor);
	pn_ca_free(C.ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_cred_represented)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
