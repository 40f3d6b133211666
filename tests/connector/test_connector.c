/*
 * The connector in one process on loopback: a real connector (policy,
 * async DNS path, TCP proxy) behind a UDP socket on 127.0.0.1, a client
 * endpoint, and a TCP echo "resource" on 127.0.0.1, all on one libuv loop.
 *
 *   client pn_tep --QUIC/UDP--> pn_connector --TCP--> echo (127.0.0.1:P)
 *
 * Steps: echo 1 MiB through the connector (hash); a destination outside
 * the lists is denied with its reason; a newer client list without the
 * grant closes an open flow (revoked); a revoked credential closes the
 * tunnel (credential).  The echo resource records how each of its
 * connections ended: the complete echo with a FIN, the revoked flow with
 * a reset (never a FIN a resource could take for a complete transfer).
 *
 * test_connector_rollback: the version gate across tunnels (architecture
 * §2, "a connector never goes back").  A complete pushed set at version 5
 * without the client withdraws its grant; re-presenting its old list (v1)
 * in new tunnels is refused every time, as is a list at the removal
 * version itself and the old list pushed again; a newer list (v6) is
 * accepted, re-presented (same version) too, and a late complete set
 * older than v6 does not take it away.
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
#include "pattern.h"
#include "pki.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

#define XFER (1u << 20)

static struct {
	uv_loop_t loop;
	uv_timer_t guard;
	uv_tcp_t echo;
	int echo_port;
	struct pn_ca *ca;
	struct pn_anchor *anchor;
	struct pn_key *ck, *sk;
	struct tpki_cred ccred, scred; /* client, connector (tests/lib/pki) */
	uint8_t net[PN_ID_LEN], res[PN_ID_LEN];
	uint8_t *cacl, *cacl2, *sacl;
	size_t cacl_len, cacl2_len, sacl_len;
	struct pn_connector *conn;
	struct pn_tep *cep;
	struct pn_tunnel *t;
	int step, closed;
	/* current flow */
	struct pn_flow *f;
	uint64_t sent, rcvd;
	struct tpat_sink in; /* what the echo flow brought back */
	struct pn_flow_status st;
	int code;
	/* tunnel end */
	int t_err, t_peer_code;
	/* how the resource's connections ended, in order: 'F' FIN, 'R' reset */
	char ends[8];
	int nends;
	struct pn_connector_stats stats;
} C;

/* ------------------------------------------------------ echo resource -- */

struct echo_conn {
	uv_tcp_t tcp;
};

static void echo_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(hint);
	b->len = b->base ? hint : 0;
}

static void echo_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void echo_closed(uv_handle_t *h)
{
	free(h);
}

static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	if (n > 0) {
		uv_write_t *w = malloc(sizeof(*w));
		uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
		w->data = b->base;
		uv_write(w, s, &out, 1, echo_written);
		return;
	}
	free(b->base);
	if (n < 0) {
		if (C.nends < (int)sizeof(C.ends) - 1)
			C.ends[C.nends++] = n == UV_EOF ? 'F' : n == UV_ECONNRESET ? 'R' : '?';
		uv_close((uv_handle_t *)s, echo_closed);
	}
}

static void echo_accept(uv_stream_t *srv, int status)
{
	struct echo_conn *e = calloc(1, sizeof(*e));

	(void)status;
	uv_tcp_init(srv->loop, &e->tcp);
	if (uv_accept(srv, (uv_stream_t *)&e->tcp) == 0)
		uv_read_start((uv_stream_t *)&e->tcp, echo_alloc, echo_read);
	else
		uv_close((uv_handle_t *)&e->tcp, echo_closed);
}

/* ------------------------------------------------------------ identity -- */

static void ident(enum pn_cred_type type, const char *name, struct tpki_cred *c,
		  struct pn_key **k)
{
	assert_int_equal(tpki_issue(C.ca, type, name, (uint64_t)time(NULL) - 10, 3600, c), 0);
	assert_int_equal(tpki_key(c, k), 0);
}

static void sign_list(enum pn_acl_kind kind, const struct pn_cred_info *holder, uint64_t version,
		      int grant, uint8_t **out, size_t *len)
{
	struct pn_acl a;
	char port[8];
	uint64_t now = (uint64_t)time(NULL);

	snprintf(port, sizeof(port), "%d", C.echo_port);
	pn_acl_init(&a, kind);
	if (grant)
		assert_int_equal(pn_acl_add_text(&a, C.res, C.net, "127.0.0.1", "tcp", port), 0);
	assert_int_equal(pn_acl_add_text(&a, C.res, C.net, "10.202.99.99", "tcp", "1"), 0);
	if (kind == PN_ACL_CLIENT)
		assert_int_equal(pn_acl_add_network(&a, C.net, (const uint8_t(*)[PN_ID_LEN])C.scred.info.id, 1),
				 0);
	assert_int_equal(tpki_sign_acl(C.ca, &a, holder, version, now - 10, now + 3590, out, len), 0);
	pn_acl_fini(&a);
}

/* ---------------------------------------------------------- the client -- */

static void next_step(void);

static void pump(struct pn_flow *f)
{
	while (C.sent < XFER) {
		const uint8_t *p;
		size_t n = tpat_at(C.sent, XFER, &p);
		ssize_t w = pn_flow_write(f, p, n);
		if (w <= 0)
			return;
		C.sent += (uint64_t)w;
	}
	if (C.step == 1)
		pn_flow_shutdown(f);
}

static void f_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)f, (void)u;
	C.st = *st;
	if (C.step == 3 && st->code == PN_FLOW_OK) {
		/* the flow is open: withdraw the grant (a newer client list) */
		const uint8_t *lists[1] = {C.cacl2};
		assert_int_equal(pn_connector_set_client_acls(C.conn, lists, &C.cacl2_len, 1, 0, 0), 0);
	}
}

static void f_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)u;
	tpat_sink_add(&C.in, p, n);
	C.rcvd += n;
	pn_flow_consumed(f, n);
}

static void f_writable(struct pn_flow *f, void *u)
{
	(void)u;
	pump(f);
}

static void f_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)u;
	C.code = code;
	C.f = NULL;
	next_step();
}

static const struct pn_flow_ops f_ops = {
	.status = f_status, .data = f_data, .writable = f_writable, .closed = f_closed,
};

static void open_flow(const char *dest, int port)
{
	struct pn_flow_req req;

	memset(&req, 0, sizeof(req));
	memset(&C.st, 0, sizeof(C.st));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, dest), 0);
	req.hdr.port = (uint16_t)port;
	C.sent = C.rcvd = 0;
	assert_int_equal(pn_flow_open(C.t, &req, &f_ops, NULL, &C.f), 0);
}

static void t_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	const char *text;

	(void)u;
	if (st != PN_TUNNEL_CLOSED)
		return;
	C.t_err = err;
	pn_tunnel_end_reason(t, &C.t_peer_code, &text);
	C.t = NULL;
	next_step();
}

static const struct pn_tunnel_ops t_ops = {.state = t_state};

static void finish(void)
{
	uv_timer_stop(&C.guard);
	uv_close((uv_handle_t *)&C.guard, NULL);
	uv_close((uv_handle_t *)&C.echo, NULL);
	pn_connector_stats(C.conn, &C.stats);
	pn_tep_close(C.cep, NULL, NULL);
	pn_connector_close(C.conn, NULL, NULL);
}

/* The scenario, advanced from callbacks. */
static void next_step(void)
{
	uint8_t got[32];

	switch (C.step++) {
	case 0: /* start: echo through the connector */
		tpat_sink_init(&C.in);
		open_flow("127.0.0.1", C.echo_port);
		pump(C.f);
		break;
	case 1: /* echo done */
		assert_int_equal(C.st.code, PN_FLOW_OK);
		assert_int_equal(C.code, PN_FLOW_OK);
		assert_true(C.rcvd == XFER);
		assert_true(tpat_sink_matches(&C.in)); /* SHA-256 */
		/* in the client list, not in the connector's */
		open_flow("10.202.99.99", 1);
		break;
	case 2: /* denied */
		assert_int_equal(C.st.code, PN_FLOW_DENIED);
		assert_string_equal(C.st.text, "not_in_connector_acl");
		assert_int_equal(C.code, PN_FLOW_DENIED);
		/* an open flow whose grant is withdrawn (see f_status) */
		tpat_sink_init(&C.in);
		open_flow("127.0.0.1", C.echo_port);
		break;
	case 3: /* revoked by the newer list */
		tpat_sink_done(&C.in, got);
		assert_int_equal(C.st.code, PN_FLOW_OK);
		assert_int_equal(C.code, PN_FLOW_REVOKED);
		{
			/* a credential revocation closes the whole tunnel */
			char hex[PN_ID_HEX_LEN + 1];
			const char *ids[1] = {hex};
			pn_id_hex(C.ccred.info.id, hex);
			assert_int_equal(pn_connector_set_revoked(C.conn, ids, 1, NULL, 0), 0);
		}
		break;
	case 4: /* tunnel closed with reason "credential" */
		assert_int_equal(C.t_err, PN_E_TUN_REFUSED);
		assert_int_equal(C.t_peer_code, PN_FLOW_CRED);
		finish();
		break;
	default:
		break;
	}
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
	fail_msg("timed out in step %d (sent %llu, received %llu)", C.step,
		 (unsigned long long)C.sent, (unsigned long long)C.rcvd);
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void start_cb(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, free_handle);
	next_step();
}

/* The loop, the echo resource on 127.0.0.1 (lo: its address with port 0
 * for the connector), the CA, the client's and the connector's identities. */
static void world_up(struct sockaddr_in *lo)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(&C, 0, sizeof(C));
	assert_int_equal(uv_loop_init(&C.loop), 0);
	uv_tcp_init(&C.loop, &C.echo);
	uv_ip4_addr("127.0.0.1", 0, lo);
	assert_int_equal(uv_tcp_bind(&C.echo, (struct sockaddr *)lo, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&C.echo, 16, echo_accept), 0);
	uv_tcp_getsockname(&C.echo, (struct sockaddr *)&ss, &len);
	C.echo_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	assert_int_equal(pn_ca_new((uint64_t)time(NULL) - 100, &C.ca), 0);
	assert_int_equal(pn_anchor_from_ca(C.ca, &C.anchor), 0);
	ident(PN_CRED_CLIENT, "bob", &C.ccred, &C.ck);
	ident(PN_CRED_CONNECTOR, "conn-test", &C.scred, &C.sk);
	pn_id_random(C.net);
	pn_id_random(C.res);
}

/* The connector's configuration: its identity, list C.sacl, UDP on lo. */
static void connector_cfg(struct pn_connector_config *cfg, struct sockaddr_in *lo)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->loop = &C.loop;
	cfg->anchor = C.anchor;
	cfg->key = C.sk;
	cfg->cert_pem = C.scred.cert_pem;
	cfg->acl = C.sacl;
	cfg->acl_len = C.sacl_len;
	cfg->listen_udp = (struct sockaddr *)lo;
}

/* The client's endpoint (C.cep). */
static void client_up(void)
{
	struct pn_tep_config cc;

	memset(&cc, 0, sizeof(cc));
	cc.loop = &C.loop;
	cc.role = PN_TEP_CLIENT;
	cc.anchor = C.anchor;
	cc.key = C.ck;
	cc.cert_pem = C.ccred.cert_pem;
	assert_int_equal(pn_tep_new(&cc, &C.cep), 0);
}

static void world_down(void)
{
	free(C.cacl);
	free(C.cacl2);
	free(C.sacl);
	tpki_cred_free(&C.ccred);
	tpki_cred_free(&C.scred);
	pn_key_free(C.ck);
	pn_key_free(C.sk);
	pn_anchor_free(C.anchor);
	pn_ca_free(C.ca);
}

static void test_connector_loopback(void **st)
{
	struct sockaddr_in lo;
	struct sockaddr_storage ss;
	struct pn_connector_config cfg;
	struct pn_tunnel_config tc;
	uv_timer_t *kick;

	(void)st;
	world_up(&lo);
	/* lists */
	sign_list(PN_ACL_CLIENT, &C.ccred.info, 1, 1, &C.cacl, &C.cacl_len);
	sign_list(PN_ACL_CLIENT, &C.ccred.info, 2, 0, &C.cacl2, &C.cacl2_len);
	/* the connector may forward only to the echo server */
	{
		struct pn_acl a;
		char port[8];
		uint64_t now = (uint64_t)time(NULL);

		snprintf(port, sizeof(port), "%d", C.echo_port);
		pn_acl_init(&a, PN_ACL_CONNECTOR);
		assert_int_equal(pn_acl_add_text(&a, C.res, C.net, "127.0.0.1", "tcp", port), 0);
		assert_int_equal(tpki_sign_acl(C.ca, &a, &C.scred.info, 1, now - 10, now + 3590,
					       &C.sacl, &C.sacl_len),
				 0);
		pn_acl_fini(&a);
	}
	/* the connector */
	connector_cfg(&cfg, &lo);
	cfg.tunables.stream_window = 256 << 10;
	cfg.tunables.stream_sndbuf = 256 << 10;
	/* a credential for another key is refused at start */
	cfg.key = C.ck;
	assert_int_equal(pn_connector_new(&cfg, &C.conn), PN_E_CONN_KEY_MISMATCH);
	cfg.key = C.sk;
	assert_int_equal(pn_connector_new(&cfg, &C.conn), 0);
	assert_int_equal(pn_tep_udp_addr(pn_connector_tep(C.conn), &ss), 0);
	/* a connector list bound to another key is refused */
	assert_int_equal(pn_connector_set_acl(C.conn, C.cacl, C.cacl_len), PN_E_WRONG_TYPE);
	/* the client */
	client_up();
	memset(&tc, 0, sizeof(tc));
	memcpy(tc.connector_id, C.scred.info.id, PN_ID_LEN);
	tc.acl = C.cacl;
	tc.acl_len = C.cacl_len;
	tc.udp_peer = (struct sockaddr *)&ss;
	tc.ops = &t_ops;
	assert_int_equal(pn_tunnel_open(C.cep, &tc, &C.t), 0);

	kick = malloc(sizeof(*kick));
	uv_timer_init(&C.loop, kick);
	uv_timer_start(kick, start_cb, 0, 0);
	uv_timer_init(&C.loop, &C.guard);
	uv_timer_start(&C.guard, on_guard, 60000, 0);
	uv_run(&C.loop, UV_RUN_DEFAULT);

	assert_int_equal(C.step, 5);
	assert_string_equal(C.ends, "FR"); /* echo: FIN; revoked: reset */
	assert_true(C.stats.flows_allowed >= 2);
	assert_true(C.stats.flows_denied >= 1);
	assert_true(C.stats.flows_revoked >= 1);
	assert_int_equal(uv_loop_close(&C.loop), 0);
	world_down();
}

/* ---------------------------------------------------- rollback (gate) -- */

/* One client tunnel or flow, driven step by step with spin(). */
struct gtun {
	struct pn_tunnel *t;
	int up, closed, done, err, peer_code;
	char text[64];
};
struct gflow {
	struct pn_flow *f;
	int status, closed, code;
	struct pn_flow_status st;
};

static void g_tstate(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	struct gtun *g = u;
	const char *text = "";

	if (st == PN_TUNNEL_UP)
		g->up = g->done = 1;
	if (st != PN_TUNNEL_CLOSED)
		return;
	g->closed = g->done = 1;
	g->err = err;
	pn_tunnel_end_reason(t, &g->peer_code, &text);
	snprintf(g->text, sizeof(g->text), "%s", text ? text : "");
	g->t = NULL;
}

static const struct pn_tunnel_ops g_tops = {.state = g_tstate};

static void g_fstatus(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	struct gflow *g = u;

	(void)f;
	g->st = *st;
	g->status = 1;
}

static void g_fdata(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)p, (void)u;
	pn_flow_consumed(f, n);
}

static void g_fclosed(struct pn_flow *f, int code, void *u)
{
	struct gflow *g = u;

	(void)f;
	g->closed = 1;
	g->code = code;
	g->f = NULL;
}

static const struct pn_flow_ops g_fops = {
	.status = g_fstatus, .data = g_fdata, .closed = g_fclosed,
};

static void g_tick(uv_timer_t *t)
{
	(void)t; /* only wakes uv_run */
}

/* Run the loop until *flag is set (10 s at most). */
static void spin(const int *flag)
{
	uint64_t end;

	uv_update_time(&C.loop);
	end = uv_now(&C.loop) + 10000;
	while (!*flag && uv_now(&C.loop) < end)
		uv_run(&C.loop, UV_RUN_ONCE);
	assert_true(*flag);
}

static void g_elapsed(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Let the loop run for ms. */
static void settle(unsigned ms)
{
	uv_timer_t t;
	int done = 0;

	uv_timer_init(&C.loop, &t);
	t.data = &done;
	uv_timer_start(&t, g_elapsed, ms, 0);
	spin(&done);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&C.loop, UV_RUN_NOWAIT);
}

static void g_open_tunnel(struct gtun *g, const uint8_t *acl, size_t len,
			  const struct sockaddr *peer)
{
	struct pn_tunnel_config tc;

	memset(g, 0, sizeof(*g));
	memset(&tc, 0, sizeof(tc));
	memcpy(tc.connector_id, C.scred.info.id, PN_ID_LEN);
	tc.acl = acl;
	tc.acl_len = len;
	tc.udp_peer = peer;
	tc.ops = &g_tops;
	tc.user = g;
	assert_int_equal(pn_tunnel_open(C.cep, &tc, &g->t), 0);
	spin(&g->done);
}

/* Refused: the first list is stale, so the connector ends the tunnel. */
static void g_expect_refused(const uint8_t *acl, size_t len, const struct sockaddr *peer)
{
	struct gtun g;

	g_open_tunnel(&g, acl, len, peer);
	assert_false(g.up);
	assert_int_equal(g.err, PN_E_TUN_REFUSED);
	assert_int_equal(g.peer_code, PN_FLOW_BAD_ACL);
	assert_string_equal(g.text, "stale_version");
}

static void g_open_flow(struct gtun *gt, struct gflow *g)
{
	struct pn_flow_req req;

	memset(g, 0, sizeof(*g));
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "127.0.0.1"), 0);
	req.hdr.port = (uint16_t)C.echo_port;
	assert_int_equal(pn_flow_open(gt->t, &req, &g_fops, g, &g->f), 0);
	spin(&g->status);
}

static void g_expect_flow_ok(struct gtun *gt)
{
	struct gflow g;

	g_open_flow(gt, &g);
	assert_int_equal(g.st.code, PN_FLOW_OK);
	pn_flow_close(g.f, PN_FLOW_RESET);
}

static void test_connector_rollback(void **st)
{
	struct sockaddr_in lo;
	struct sockaddr_storage ss;
	struct sockaddr *peer = (struct sockaddr *)&ss;
	struct pn_connector_config cfg;
	uint8_t *l5, *l6;
	size_t l5_len, l6_len;
	const uint8_t *lists[1];
	size_t lens[1];
	struct gtun ta, tb, tc2;
	struct gflow fa, fb;
	uv_timer_t tick;

	(void)st;
	world_up(&lo);
	sign_list(PN_ACL_CLIENT, &C.ccred.info, 1, 1, &C.cacl, &C.cacl_len); /* the old list */
	sign_list(PN_ACL_CLIENT, &C.ccred.info, 5, 1, &l5, &l5_len); /* at the removal version */
	sign_list(PN_ACL_CLIENT, &C.ccred.info, 6, 1, &l6, &l6_len); /* granted again */
	sign_list(PN_ACL_CONNECTOR, &C.scred.info, 1, 1, &C.sacl, &C.sacl_len);
	connector_cfg(&cfg, &lo);
	assert_int_equal(pn_connector_new(&cfg, &C.conn), 0);
	assert_int_equal(pn_tep_udp_addr(pn_connector_tep(C.conn), &ss), 0);
	client_up();
	uv_timer_init(&C.loop, &tick);
	uv_timer_start(&tick, g_tick, 10, 10);

	/* The client's list v1 is accepted; a flow opens. */
	g_open_tunnel(&ta, C.cacl, C.cacl_len, peer);
	assert_true(ta.up);
	g_open_flow(&ta, &fa);
	assert_int_equal(fa.st.code, PN_FLOW_OK);

	/* Its only grant is removed: the complete set at version 5 holds no
	 * list for it.  The open flow is closed, a new one is refused. */
	assert_int_equal(pn_connector_set_client_acls(C.conn, NULL, NULL, 0, 1, 5), 0);
	spin(&fa.closed);
	assert_int_equal(fa.code, PN_FLOW_REVOKED);
	g_open_flow(&ta, &fb);
	assert_int_equal(fb.st.code, PN_FLOW_NO_ACL);
	/* ... and re-presenting v1 on the open tunnel is refused too */
	assert_int_equal(pn_tunnel_update_acl(ta.t, C.cacl, C.cacl_len), 0);
	settle(300);
	g_open_flow(&ta, &fb);
	assert_int_equal(fb.st.code, PN_FLOW_NO_ACL);
	pn_tunnel_close(ta.t, PN_FLOW_OK);

	/* The client restarts with its old list: refused, however often. */
	for (int i = 0; i < 3; i++)
		g_expect_refused(C.cacl, C.cacl_len, peer);
	/* A list at the removal version itself is no newer than "no list at 5". */
	g_expect_refused(l5, l5_len, peer);
	/* Whoever presents it: pushed (incrementally) it is refused as well. */
	lists[0] = C.cacl;
	lens[0] = C.cacl_len;
	assert_int_equal(pn_connector_set_client_acls(C.conn, lists, lens, 1, 0, 0), 1);
	g_expect_refused(C.cacl, C.cacl_len, peer);

	/* A newer list is accepted; re-presenting it (same version, same
	 * list) from a second tunnel is too. */
	g_open_tunnel(&tb, l6, l6_len, peer);
	assert_true(tb.up);
	g_expect_flow_ok(&tb);
	g_open_tunnel(&tc2, l6, l6_len, peer);
	assert_true(tc2.up);
	g_expect_flow_ok(&tc2);
	/* A complete set older than v6 arriving late takes nothing away. */
	assert_int_equal(pn_connector_set_client_acls(C.conn, NULL, NULL, 0, 1, 4), 0);
	g_expect_flow_ok(&tb);
	/* The old list is still refused. */
	g_expect_refused(C.cacl, C.cacl_len, peer);
	pn_tunnel_close(tb.t, PN_FLOW_OK);
	pn_tunnel_close(tc2.t, PN_FLOW_OK);

	pn_connector_stats(C.conn, &C.stats);
	assert_true(C.stats.flows_revoked >= 1);
	uv_timer_stop(&tick);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_close((uv_handle_t *)&C.echo, NULL);
	pn_tep_close(C.cep, NULL, NULL);
	pn_connector_close(C.conn, NULL, NULL);
	uv_run(&C.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&C.loop), 0);
	free(l5);
	free(l6);
	world_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_connector_loopback),
					   cmocka_unit_test(test_connector_rollback)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
