/*
 * The ACK hold (tunnel/conn_tx.c): on a request/response flow each
 * round trip is one packet each way, the ACK riding on the data, instead
 * of an ACK-only packet more from each side; a lone packet's ACK is held
 * ACK_HOLD_NS at most; a bulk transfer is not held back.  The harness:
 * tsession.h (real ngtcp2 and GnuTLS, virtual clock).
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
#include "tsession.h"

#define MSG 64
#define ROUNDS 200
#define THINK_NS 100000ull /* the application's pause between a response and its next request */
#define HOLD_NS 2000000ull  /* ACK_HOLD_NS */
#define SLACK_NS 1000000ull /* ACK_HOLD_SLACK_NS: the deadline counts as reached that early */

struct rr {
	struct pn_flow *f;
	uint64_t got;
	int closed;
};

static void rr_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	((struct rr *)u)->got += n;
	pn_flow_consumed(f, n);
	(void)p;
}

static void rr_closed(struct pn_flow *f, int code, void *u)
{
	struct rr *r = u;
	r->closed = 1;
	r->f = NULL;
	(void)f, (void)code;
}

static const struct pn_flow_ops rr_ops = {.data = rr_data, .closed = rr_closed};

static uint64_t want_bytes;
static int got_all(void *a)
{
	const struct rr *r = a;
	return r->got >= want_bytes || r->closed || N.cl_dead;
}

static uint64_t pkts_tx(struct pn_tunnel *t)
{
	struct pn_tconn_stats st;
	pn_tconn_stats(pn_tunnel_conn(t), &st);
	return st.pkts_tx;
}

/* Steps of `ns` of virtual time with nothing happening but timers. */
static void idle(uint64_t ns)
{
	uint64_t end = N.now + ns;
	while (N.now < end)
		tfix_step(&N);
}

static void rr_open(struct rr *r)
{
	struct pn_flow_req req;
	uint8_t *acl;
	size_t acl_len;

	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, NULL);
	free(acl);
	run_until(is_up, NULL, 100000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	/* idle steps move the clock a step at a time, not to the next timer
	   (which would end every hold at once) */
	N.idle_max_ns = N.step_ns;
	sv_echo = 1;
	memset(r, 0, sizeof(*r));
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "echo.test"), 0);
	req.hdr.port = 7;
	memcpy(req.hdr.resource_id, res_id, PN_ID_LEN);
	assert_int_equal(pn_flow_open(N.cl, &req, &rr_ops, r, &r->f), 0);
}

static void round_trip(struct rr *r)
{
	static const uint8_t msg[MSG];

	assert_int_equal(pn_flow_write(r->f, msg, MSG), MSG);
	want_bytes = r->got + MSG;
	run_until(got_all, r, 100000);
	assert_true(r->got == want_bytes);
}

static void rr_close(void)
{
	sv_echo = 0;
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

/* 200 request/response round trips with the application pausing 100 us
 * between them: ~one packet per round trip per side.  Without the hold
 * each side sent an ACK-only packet per round trip as well (ngtcp2 0.12
 * acknowledges after RTT/8, and the peer's ACK-only packets read to it as
 * reordering), ~400 per side. */
static void test_one_packet_per_round_trip(void **st)
{
	struct rr r;
	uint64_t c0, s0, c1, s1;

	(void)st;
	rr_open(&r);
	for (int i = 0; i < 5; i++) { /* warm: the flow's open, the handshake's tail */
		round_trip(&r);
		idle(THINK_NS);
	}
	c0 = pkts_tx(N.cl);
	s0 = pkts_tx(N.sv);
	for (int i = 0; i < ROUNDS; i++) {
		round_trip(&r);
		idle(THINK_NS);
	}
	c1 = pkts_tx(N.cl) - c0;
	s1 = pkts_tx(N.sv) - s0;
	print_message("%d round trips: client sent %llu packets, connector %llu\n", ROUNDS,
		      (unsigned long long)c1, (unsigned long long)s1);
	assert_true(c1 >= ROUNDS && c1 <= ROUNDS + ROUNDS / 10);
	assert_true(s1 >= ROUNDS && s1 <= ROUNDS + ROUNDS / 10);
	rr_close();
}

/* The last response's ACK: nothing from the client for at least
 * HOLD - SLACK, the ACK (one packet) by HOLD, nothing more after. */
static void test_hold_is_bounded(void **st)
{
	struct rr r;
	uint64_t c0, t0;

	(void)st;
	rr_open(&r);
	for (int i = 0; i < 5; i++) {
		round_trip(&r);
		idle(THINK_NS);
	}
	round_trip(&r);
	t0 = N.now;
	c0 = pkts_tx(N.cl);
	idle(HOLD_NS - SLACK_NS - 2 * N.step_ns - (N.now - t0));
	assert_int_equal(pkts_tx(N.cl), c0); /* held */
	idle(HOLD_NS + 2 * N.step_ns - (N.now - t0));
	assert_int_equal(pkts_tx(N.cl), c0 + 1); /* the ACK, once */
	idle(HOLD_NS);
	assert_int_equal(pkts_tx(N.cl), c0 + 1);
	rr_close();
}

/* Data to send ends the hold at once: a request right after a response
 * leaves in the next step, carrying the ACK. */
static void test_data_ends_hold(void **st)
{
	struct rr r;
	static const uint8_t msg[MSG];
	uint64_t c0;

	(void)st;
	rr_open(&r);
	for (int i = 0; i < 5; i++) {
		round_trip(&r);
		idle(THINK_NS);
	}
	round_trip(&r);
	c0 = pkts_tx(N.cl);
	assert_int_equal(pn_flow_write(r.f, msg, MSG), MSG);
	tfix_step(&N);
	assert_int_equal(pkts_tx(N.cl), c0 + 1);
	want_bytes = r.got + MSG;
	run_until(got_all, &r, 100000);
	rr_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_packet_per_round_trip),
	    cmocka_unit_test(test_hold_is_bounded),
	    cmocka_unit_test(test_data_ends_hold),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
