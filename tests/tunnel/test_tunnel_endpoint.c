/*
 * The libuv endpoint over real UDP sockets on loopback (127.0.0.1, ephemeral
 * ports), client and connector roles in one loop: handshake, access list,
 * after a Retry (address validation), a flow moving 8 MiB each way
 * (GSO/GRO where the kernel has it), hashes checked, a denial, and clean
 * endpoint shutdown; the per-source Retry budget under a flood of Initials.
 *
 *   client pn_tep --UDP 127.0.0.1--> connector pn_tep (echo-less sink+source)
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "core/err.h"
#include "core/path.h"
#include "pattern.h"
#include "pki.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "trust/policy.h"
#include "tunnel/endpoint.h"

#define XFER (8u << 20)

static struct {
	uv_loop_t loop;
	uv_timer_t guard;
	struct pn_ca *ca;
	struct pn_anchor *anchor;
	struct tpki_cred cc, sc; /* client, connector (tests/lib/pki) */
	struct pn_key *ck, *sk;
	uint8_t *cacl;
	size_t cacl_len;
	struct pn_acl sacl, client_acl;
	struct pn_tep *cep, *sep;
	struct pn_tunnel *t;
	int up, closed_eps;
	/* client flow */
	struct pn_flow *cf;
	uint64_t c_sent, c_rcvd;
	struct tpat_sink c_in;
	int c_done, c_code, c_status;
	/* server flow */
	struct pn_flow *sf;
	uint64_t s_sent, s_rcvd;
	struct tpat_sink s_in;
	/* denial */
	int d_code;
	char d_text[PN_FLOW_TEXT_MAX + 1];
} E;

static void ident(enum pn_cred_type type, const char *name, struct tpki_cred *c, struct pn_key **k)
{
	assert_int_equal(tpki_issue(E.ca, type, name, (uint64_t)time(NULL) - 10, 3600, c), 0);
	assert_int_equal(tpki_key(c, k), 0);
}

static void pump(struct pn_flow *f, uint64_t *sent)
{
	while (*sent < XFER) {
		const uint8_t *p;
		size_t n = tpat_at(*sent, XFER, &p);
		ssize_t w = pn_flow_write(f, p, n);
		if (w <= 0)
			return;
		*sent += (uint64_t)w;
	}
	pn_flow_shutdown(f);
}

/* ---- server side */

static void s_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)u;
	tpat_sink_add(&E.s_in, p, n);
	E.s_rcvd += n;
	pn_flow_consumed(f, n);
}

static void s_writable(struct pn_flow *f, void *u)
{
	(void)u;
	pump(f, &E.s_sent);
}

static void s_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)code, (void)u;
	E.sf = NULL;
}

static const struct pn_flow_ops s_ops = {.data = s_data, .writable = s_writable, .closed = s_closed};

static int s_acl(struct pn_tunnel *t, const uint8_t *acl, size_t len, char *why, size_t whysz,
		 void *u)
{
	int r = pn_acl_verify(E.anchor, acl, len, (uint64_t)time(NULL), &E.client_acl);
	(void)u;
	if (r == 0)
		r = pn_acl_check_holder(&E.client_acl, pn_tunnel_peer(t));
	if (r) {
		snprintf(why, whysz, "%s", pn_errname(r));
		return PN_FLOW_BAD_ACL;
	}
	return PN_FLOW_OK;
}

static void s_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h, void *u)
{
	struct pn_flow_status st;
	char dest[256];
	enum pn_deny d;

	(void)u;
	pn_flow_dest_str(&h->dest, dest, sizeof(dest));
	d = pn_policy_check(pn_tunnel_peer(t), &E.client_acl, &E.sacl, PN_PROTO_TCP, dest,
			    strlen(dest), h->port, (uint64_t)time(NULL), NULL);
	if (d != PN_ALLOW) {
		pn_flow_status_set(&st, 0, PN_FLOW_DENIED, pn_deny_name(d));
		pn_flow_respond(f, &st, NULL, NULL);
		return;
	}
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	assert_int_equal(pn_flow_respond(f, &st, &s_ops, NULL), 0);
	E.sf = f;
	pump(f, &E.s_sent);
}

static const struct pn_tep_server_ops sops = {.acl = s_acl, .flow_request = s_request};

/* ---- client side */

static void c_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)f, (void)u;
	E.c_status = st->code;
}

static void c_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)u;
	tpat_sink_add(&E.c_in, p, n);
	E.c_rcvd += n;
	pn_flow_consumed(f, n);
}

static void c_writable(struct pn_flow *f, void *u)
{
	(void)u;
	pump(f, &E.c_sent);
}

static void close_all(void);

static void c_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)u;
	E.c_done = 1;
	E.c_code = code;
	E.cf = NULL;
}

static const struct pn_flow_ops c_ops = {
	.status = c_status, .data = c_data, .writable = c_writable, .closed = c_closed,
};

static void d_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)f, (void)u;
	E.d_code = st->code;
	snprintf(E.d_text, sizeof(E.d_text), "%s", st->text);
}

static void d_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)code, (void)u;
	if (E.c_done)
		close_all();
}

static const struct pn_flow_ops d_ops = {.status = d_status, .closed = d_closed};

static void open_denied(void)
{
	struct pn_flow_req req;
	struct pn_flow *f;

	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "other.test"), 0);
	req.hdr.port = 22;
	assert_int_equal(pn_flow_open(E.t, &req, &d_ops, NULL, &f), 0);
}

static void t_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	(void)t, (void)err, (void)u;
	if (st == PN_TUNNEL_UP)
		E.up = 1;
}

static const struct pn_tunnel_ops t_ops = {.state = t_state};

static void ep_closed(void *arg)
{
	(void)arg;
	E.closed_eps++;
}

static struct pn_tep_stats sstats;

static void close_all(void)
{
	pn_tep_stats(E.sep, &sstats);
	uv_timer_stop(&E.guard);
	uv_close((uv_handle_t *)&E.guard, NULL);
	pn_tep_close(E.cep, ep_closed, NULL);
	pn_tep_close(E.sep, ep_closed, NULL);
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
	fail_msg("timed out: up=%d c_sent=%llu c_rcvd=%llu s_rcvd=%llu", E.up,
		 (unsigned long long)E.c_sent, (unsigned long long)E.c_rcvd,
		 (unsigned long long)E.s_rcvd);
}

/* the transfer is done: check it and ask for a denial */
static void c_closed_then_deny(struct pn_flow *f, int code, void *u)
{
	c_closed(f, code, u);
	open_denied();
}

/* CA, both identities, the client's signed access list (svc.test:443 and
 * other.test:22 at the connector), the connector's (svc.test:443 only). */
static void setup_pki(void)
{
	struct pn_acl a;
	uint8_t net[PN_ID_LEN], res[PN_ID_LEN];
	uint8_t *sb;
	size_t sl;
	uint64_t now = (uint64_t)time(NULL);

	memset(&E, 0, sizeof(E));
	assert_int_equal(pn_ca_new((uint64_t)time(NULL) - 100, &E.ca), 0);
	assert_int_equal(pn_anchor_from_ca(E.ca, &E.anchor), 0);
	ident(PN_CRED_CLIENT, "ep-client", &E.cc, &E.ck);
	ident(PN_CRED_CONNECTOR, "ep-conn", &E.sc, &E.sk);
	pn_id_random(net);
	pn_id_random(res);
	pn_acl_init(&a, PN_ACL_CLIENT);
	assert_int_equal(pn_acl_add_text(&a, res, net, "svc.test", "tcp", "443"), 0);
	assert_int_equal(pn_acl_add_text(&a, res, net, "other.test", "tcp", "22"), 0);
	assert_int_equal(pn_acl_add_network(&a, net, (const uint8_t(*)[PN_ID_LEN])E.sc.info.id, 1),
			 0);
	assert_int_equal(
	    tpki_sign_acl(E.ca, &a, &E.cc.info, 1, now - 10, now + 3590, &E.cacl, &E.cacl_len), 0);
	pn_acl_fini(&a);
	pn_acl_init(&a, PN_ACL_CONNECTOR);
	assert_int_equal(pn_acl_add_text(&a, res, net, "svc.test", "tcp", "443"), 0);
	assert_int_equal(tpki_sign_acl(E.ca, &a, &E.sc.info, 1, now - 10, now + 3590, &sb, &sl), 0);
	pn_acl_fini(&a);
	pn_acl_init(&E.sacl, PN_ACL_CONNECTOR);
	assert_int_equal(pn_acl_verify(E.anchor, sb, sl, (uint64_t)time(NULL), &E.sacl), 0);
	free(sb);
	pn_acl_init(&E.client_acl, PN_ACL_CLIENT);

}

static void teardown_pki(void)
{
	pn_acl_fini(&E.sacl);
	pn_acl_fini(&E.client_acl);
	free(E.cacl);
	tpki_cred_free(&E.cc);
	tpki_cred_free(&E.sc);
	pn_key_free(E.ck);
	pn_key_free(E.sk);
	pn_anchor_free(E.anchor);
	pn_ca_free(E.ca);
}

/* Both endpoints on E.loop (connector with `sops`). */
static void new_eps(const struct pn_tep_server_ops *ops)
{
	struct pn_tep_config cc, sc;

	assert_int_equal(uv_loop_init(&E.loop), 0);
	memset(&sc, 0, sizeof(sc));
	sc.loop = &E.loop;
	sc.role = PN_TEP_CONNECTOR;
	sc.anchor = E.anchor;
	sc.key = E.sk;
	sc.cert_pem = E.sc.cert_pem;
	sc.server_ops = ops;
	assert_int_equal(pn_tep_new(&sc, &E.sep), 0);
	memset(&cc, 0, sizeof(cc));
	cc.loop = &E.loop;
	cc.role = PN_TEP_CLIENT;
	cc.anchor = E.anchor;
	cc.key = E.ck;
	cc.cert_pem = E.cc.cert_pem;
	assert_int_equal(pn_tep_new(&cc, &E.cep), 0);
}

/* PKI, both endpoints, the connector on UDP 127.0.0.1 (its address in *bound) */
static void up_listening(struct sockaddr_storage *bound)
{
	struct sockaddr_in lo;

	setup_pki();
	new_eps(&sops);
	uv_ip4_addr("127.0.0.1", 0, &lo);
	assert_int_equal(pn_tep_listen_udp(E.sep, (struct sockaddr *)&lo), 0);
	assert_int_equal(pn_tep_udp_addr(E.sep, bound), 0);
}

static void test_loopback(void **st)
{
	struct pn_tunnel_config tc;
	struct pn_flow_req req;
	struct sockaddr_storage bound;
	static struct pn_flow_ops c_ops2;

	(void)st;
	up_listening(&bound);
	memset(&tc, 0, sizeof(tc));
	memcpy(tc.connector_id, E.sc.info.id, PN_ID_LEN);
	tc.acl = E.cacl;
	tc.acl_len = E.cacl_len;
	tc.udp_peer = (struct sockaddr *)&bound;
	tc.ops = &t_ops;
	assert_int_equal(pn_tunnel_open(E.cep, &tc, &E.t), 0);
	/* exactly one path */
	tc.path = (struct pn_path *)&tc;
	assert_int_equal(pn_tunnel_open(E.cep, &tc, &E.t), PN_E_INVAL);
	tc.path = NULL;

	tpat_sink_init(&E.c_in);
	tpat_sink_init(&E.s_in);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "svc.test"), 0);
	req.hdr.port = 443;
	c_ops2 = c_ops;
	c_ops2.closed = c_closed_then_deny;
	assert_int_equal(pn_flow_open(E.t, &req, &c_ops2, NULL, &E.cf), 0);
	pump(E.cf, &E.c_sent);

	uv_timer_init(&E.loop, &E.guard);
	uv_timer_start(&E.guard, on_guard, 60000, 0);
	uv_run(&E.loop, UV_RUN_DEFAULT);

	assert_true(E.up);
	assert_int_equal(E.c_status, PN_FLOW_OK);
	assert_int_equal(E.c_code, PN_FLOW_OK);
	assert_true(E.c_rcvd == XFER && E.s_rcvd == XFER);
	assert_true(tpat_sink_matches(&E.c_in)); /* SHA-256 both ways */
	assert_true(tpat_sink_matches(&E.s_in));
	assert_int_equal(E.d_code, PN_FLOW_DENIED);
	assert_string_equal(E.d_text, "not_in_connector_acl");
	assert_int_equal(E.closed_eps, 2);
	/* the client's address was validated with a Retry before any state */
	assert_true(sstats.retries >= 1);
	assert_int_equal(sstats.tunnels, 1);
	assert_int_equal(uv_loop_close(&E.loop), 0);
	teardown_pki();
}

/* ---- the Retry budget: a flood of token-less Initials from one source
 * address gets at most PN_TEP_RETRIES_PER_S (256) Retries a second, and
 * another source still gets its Retries. */

#define RB_BUDGET 256

static int rb_sock(const char *ip)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	uv_ip4_addr(ip, 0, &a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* a 1200-byte QUIC v1 Initial, no token, random connection ids */
static void rb_send(int fd, const struct sockaddr_storage *to)
{
	uint8_t p[1200];
	size_t i = 0;

	memset(p, 0, sizeof(p));
	p[i++] = 0xc3;
	p[i++] = 0, p[i++] = 0, p[i++] = 0, p[i++] = 1;
	p[i++] = 18;
	for (int k = 0; k < 18 + 1 + 8; k++)
		p[i++] = (uint8_t)rand();
	p[6 + 18] = 8; /* SCID length */
	if (rand() & 1)
		p[i++] = 0; /* no token */
	else
		p[i++] = 0x40, p[i++] = 0; /* no token, as a 2-byte varint: not a way past the budget */
	p[i++] = 0x44, p[i++] = 0xd0;
	assert_int_equal(sendto(fd, p, sizeof(p), 0, (const struct sockaddr *)to,
				sizeof(struct sockaddr_in)),
			 (ssize_t)sizeof(p));
}

static unsigned rb_drain(int fd)
{
	uint8_t b[2048];
	unsigned n = 0;

	while (recv(fd, b, sizeof(b), 0) > 0)
		n++;
	return n;
}

static void rb_spin(void)
{
	for (int k = 0; k < 20; k++)
		uv_run(&E.loop, UV_RUN_NOWAIT);
}

static void test_retry_budget(void **st)
{
	struct sockaddr_storage bound;
	struct pn_tep_stats s;
	int fa = rb_sock("127.0.0.1"), fb = rb_sock("127.0.0.2"), fc = rb_sock("127.0.0.3");
	unsigned ra = 0, rb = 0, rc = 0, sent = 0;
	uint64_t t0;
	double secs;

	(void)st;
	up_listening(&bound);
	t0 = uv_hrtime();
	for (int b = 0; b < 60; b++) { /* 1200 in batches: no loss in the socket buffer */
		for (int k = 0; k < 20; k++, sent++)
			rb_send(fa, &bound);
		rb_spin();
		ra += rb_drain(fa);
	}
	secs = (double)(uv_hrtime() - t0) / 1e9;
	for (int k = 0; k < 10; k++) {
		rb_send(fb, &bound);
		rb_send(fc, &bound);
	}
	for (int k = 0; k < 50 && (rb < 10 || rc < 10); k++) {
		rb_spin();
		rb += rb_drain(fb);
		rc += rb_drain(fc);
		usleep(2000);
	}
	ra += rb_drain(fa);
	pn_tep_stats(E.sep, &s);
	print_message("retry budget: %u Initials in %.2f s from one source: %u Retries; other "
		      "sources %u/10 %u/10; stats retries %llu drops %llu\n",
		      sent, secs, ra, rb, rc, (unsigned long long)s.retries,
		      (unsigned long long)s.drops_unknown);
	/* at most the budget of each second the flood spanned */
	assert_true(ra >= 1 && ra <= RB_BUDGET * (unsigned)(secs + 2));
	assert_true(ra < sent);
	/* another source is not refused (two of them: a bucket may collide) */
	assert_true(rb == 10 || rc == 10);
	assert_int_equal(s.retries, ra + rb + rc);
	assert_true(s.drops_unknown >= sent - ra);
	assert_int_equal(s.tunnels, 0);
	close(fa), close(fb), close(fc);
	uv_timer_init(&E.loop, &E.guard);
	close_all();
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(E.closed_eps, 2);
	assert_int_equal(uv_loop_close(&E.loop), 0);
	teardown_pki();
}

/* ---- paths from elsewhere (core/path.h): the endpoint driven over a test
 * provider, the way it is driven over relay sessions (relay/rpath.h). */

#define TP_Q 512

struct tpath {
	struct pn_path path;
	struct tpath *peer;
	uint8_t q[TP_Q][PN_PATH_MAX_UDP_PAYLOAD];
	size_t qlen[TP_Q];
	unsigned head, count;
	int lost, released;
};

static struct {
	struct tpath a, b; /* a: client end, b: connector end */
	uv_idle_t pump;
	int s_closed_err, s_closed, status;
	struct pn_flow *cf;
} P;

static int tp_send(struct pn_path *p, const uint8_t *d, size_t len, size_t seg)
{
	struct tpath *tp = p->ctx, *to = tp->peer;

	assert_false(tp->released);
	if (tp->lost)
		return -EPIPE;
	for (size_t off = 0; off < len; off += seg) {
		size_t n = len - off < seg ? len - off : seg;
		unsigned i = (to->head + to->count) % TP_Q;
		if (to->count == TP_Q)
			return 0; /* dropped as UDP would */
		memcpy(to->q[i], d + off, n);
		to->qlen[i] = n;
		to->count++;
	}
	return 0;
}

static void tp_release(struct pn_path *p)
{
	struct tpath *tp = p->ctx;

	assert_false(tp->released);
	tp->released = 1;
}

static const struct pn_path_ops tp_ops = {.send = tp_send, .release = tp_release};

static void tp_init(struct tpath *tp, struct tpath *peer)
{
	memset(tp, 0, sizeof(*tp));
	tp->path.ops = &tp_ops;
	tp->path.kind = PN_PATH_MEMORY;
	tp->path.max_segments = 8;
	tp->path.ctx = tp;
	tp->peer = peer;
	pn_path_synth_addrs(&tp->path);
}

/* Deliver what is queued, one datagram at a time, through the sink. */
static void on_pump(uv_idle_t *h)
{
	struct tpath *ends[2] = {&P.a, &P.b};

	(void)h;
	for (int e = 0; e < 2; e++) {
		struct tpath *tp = ends[e];
		unsigned n = tp->count;
		while (n-- && tp->count && !tp->lost) {
			uint8_t d[PN_PATH_MAX_UDP_PAYLOAD];
			size_t len = tp->qlen[tp->head];
			memcpy(d, tp->q[tp->head], len);
			tp->head = (tp->head + 1) % TP_Q;
			tp->count--;
			pn_path_input(&tp->path, d, len);
		}
	}
}

static void p_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h,
		      void *u)
{
	struct pn_flow_status st;

	(void)t, (void)h, (void)u;
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	assert_int_equal(pn_flow_respond(f, &st, &s_ops, NULL), 0);
}

static void p_closed(struct pn_tunnel *t, int err, void *u)
{
	(void)t, (void)u;
	P.s_closed++;
	P.s_closed_err = err;
	uv_idle_stop(&P.pump);
	uv_close((uv_handle_t *)&P.pump, NULL);
	uv_timer_stop(&E.guard);
	uv_close((uv_handle_t *)&E.guard, NULL);
	/* the client's glue would migrate; here it gives up */
	pn_tunnel_close(E.t, PN_FLOW_OK);
	E.t = NULL;
}

static const struct pn_tep_server_ops p_sops = {
	.acl = s_acl, .flow_request = p_request, .tunnel_closed = p_closed};

static void pc_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	struct pn_tunnel_info ti;

	(void)f, (void)u;
	P.status = st->code;
	pn_tunnel_info(E.t, &ti);
	assert_int_equal(ti.path, PN_PATH_MEMORY); /* the provider's kind */
	/* the connector's end of the path goes away (the relay dropped the
	   session): its tunnel ends at once, it cannot migrate */
	P.b.lost = 1;
	pn_path_lost(&P.b.path, PN_E_CLOSED);
}

static void pc_closed(struct pn_flow *f, int code, void *u)
{
	(void)f, (void)code, (void)u;
	P.cf = NULL;
}

static const struct pn_flow_ops pc_ops = {.status = pc_status, .closed = pc_closed};

static void test_paths(void **st)
{
	struct pn_tunnel_config tc;
	struct pn_flow_req req;

	(void)st;
	setup_pki();
	new_eps(&p_sops);
	memset(&P, 0, sizeof(P));
	tp_init(&P.a, &P.b);
	tp_init(&P.b, &P.a);
	/* a client endpoint accepts no paths; an error leaves it with the caller */
	assert_int_equal(pn_tep_accept_path(E.cep, &P.a.path), PN_E_INVAL);
	assert_null(P.a.path.sink);
	assert_int_equal(pn_tep_accept_path(E.sep, &P.b.path), 0);
	assert_non_null(P.b.path.sink);
	memset(&tc, 0, sizeof(tc));
	memcpy(tc.connector_id, E.sc.info.id, PN_ID_LEN);
	tc.acl = E.cacl;
	tc.acl_len = E.cacl_len;
	tc.path = &P.a.path;
	tc.ops = &t_ops;
	assert_int_equal(pn_tunnel_open(E.cep, &tc, &E.t), 0);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "svc.test"), 0);
	req.hdr.port = 443;
	assert_int_equal(pn_flow_open(E.t, &req, &pc_ops, NULL, &P.cf), 0);
	uv_idle_init(&E.loop, &P.pump);
	uv_idle_start(&P.pump, on_pump);
	uv_timer_init(&E.loop, &E.guard);
	uv_timer_start(&E.guard, on_guard, 60000, 0);
	uv_run(&E.loop, UV_RUN_DEFAULT);

	assert_true(E.up);
	assert_int_equal(P.status, PN_FLOW_OK);
	/* no Retry on such a path: its provider authenticated the peer */
	assert_int_equal(P.s_closed, 1);
	assert_int_equal(P.s_closed_err, PN_E_TUN_NO_PATH);
	/* lost and no tunnel on it: the connector gave it back */
	assert_true(P.b.released);
	/* the client keeps its tunnel until the glue migrates or closes it;
	   its end is released only when the endpoint closes */
	assert_false(P.a.released);
	pn_tep_close(E.cep, ep_closed, NULL);
	pn_tep_close(E.sep, ep_closed, NULL);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(E.closed_eps, 2);
	assert_true(P.a.released);
	assert_int_equal(uv_loop_close(&E.loop), 0);
	teardown_pki();
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_loopback),
					   cmocka_unit_test(test_retry_budget),
					   cmocka_unit_test(test_paths)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
