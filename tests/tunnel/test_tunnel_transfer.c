/*
 * Bytes through a tunnel arrive intact and in order (SHA-256 both ways):
 * one flow over a clean and a lossy path, eight at once over a lossy,
 * reordering one, and a stalled receiver holding the sender back.  The
 * harness: tsession.h.
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

static void transfer(const struct pn_mempath_faults *f, uint64_t up, uint64_t down)
{
	uint8_t *acl;
	size_t acl_len;
	struct cflow c;
	uint8_t want[32], got[32];

	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, f);
	free(acl);
	cf_open(&c, PN_FLOW_TCP, "echo.test", 7, up);
	H.sv_send_total = down;
	run_until(flow_done, &c, 2000000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	assert_true(c.have_status);
	assert_int_equal(c.st.code, PN_FLOW_OK);
	assert_int_equal(c.closed_code, PN_FLOW_OK);
	assert_true(c.eof && H.sv_eof);
	assert_true(c.sink.n == down);
	assert_true(H.sv_sink.n == up);
	tpat_sink_done(&c.sink, got);
	tpat_sha256(down, want);
	assert_memory_equal(got, want, 32);
	tpat_sink_done(&H.sv_sink, got);
	tpat_sink_init(&H.sv_sink); /* finish() deinits again */
	tpat_sha256(up, want);
	assert_memory_equal(got, want, 32);
	assert_int_equal(pn_tunnel_peer(N.sv)->type, PN_CRED_CLIENT);
	assert_memory_equal(pn_tunnel_peer(N.sv)->id, cli.c.info.id, PN_ID_LEN);
	if (!f->loss_pct) {
		/* Path MTU: a clean path is used at its ceiling (1452, a probe
		   may come out up to 3 bytes short), found by one probe per side */
		struct pn_tconn_pmtu pm;
		pn_tconn_pmtu_info(pn_tunnel_conn(N.cl), &pm);
		assert_true(pm.max_udp_payload >= 1449 && pm.max_udp_payload <= 1452);
		assert_int_equal(pm.black_holes, 0);
		assert_int_equal(pm.probes_lost, 0);
		pn_tconn_pmtu_info(pn_tunnel_conn(N.sv), &pm);
		assert_true(pm.max_udp_payload >= 1449 && pm.max_udp_payload <= 1452);
	}
	pn_tunnel_close(N.cl, PN_FLOW_OK);
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

/* Path MTU black hole: mid-transfer (both directions busy), every packet
 * longer than 1,252 bytes (a 1,280-byte IPv4 path) is dropped both ways.
 * Both ends fall back to 1,200-byte packets and the transfer completes
 * intact without a long stall (virtual time). */
struct hole {
	struct cflow *c;
	int on;
	uint64_t last_n, last_t, gap;
};

static int hole_step(void *a)
{
	struct hole *h = a;
	uint64_t n = h->c->sink.n + H.sv_sink.n;

	if (!h->on && h->c->sink.n >= (1u << 20)) {
		struct pn_mempath_faults f = {.max_len = 1252};
		pn_mempath_set_faults(N.pa, &f);
		pn_mempath_set_faults(N.pb, &f);
		h->on = 1;
		h->last_t = N.now;
	}
	if (n != h->last_n) {
		h->last_n = n;
		h->last_t = N.now;
	} else if (h->on && N.now - h->last_t > h->gap) {
		h->gap = N.now - h->last_t;
	}
	return flow_done(h->c);
}

static void test_black_hole(void **st)
{
	struct pn_mempath_faults f = {0};
	struct hole h = {0};
	struct cflow c;
	uint8_t *acl;
	size_t acl_len;
	struct pn_tconn_pmtu pm;

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	cf_open(&c, PN_FLOW_TCP, "echo.test", 7, 4u << 20);
	H.sv_send_total = 4u << 20;
	h.c = &c;
	run_until(hole_step, &h, 4000000);
	assert_int_equal(H.cl_state, PN_TUNNEL_UP);
	assert_int_equal(c.closed_code, PN_FLOW_OK);
	assert_true(h.on);
	assert_true(c.sink.n == 4u << 20 && H.sv_sink.n == 4u << 20);
	assert_true(tpat_sink_matches(&c.sink));
	assert_true(tpat_sink_matches(&H.sv_sink));
	tpat_sink_init(&H.sv_sink); /* finish() deinits again */
	printf("black hole: longest stall %llu ms\n", (unsigned long long)(h.gap / 1000000));
	assert_true(h.gap < 5000000000ull);
	/* both fell back, and a later search stays below the hole */
	pn_tconn_pmtu_info(pn_tunnel_conn(N.cl), &pm);
	assert_true(pm.black_holes >= 1);
	assert_true(pm.max_udp_payload <= 1252);
	pn_tconn_pmtu_info(pn_tunnel_conn(N.sv), &pm);
	assert_true(pm.black_holes >= 1);
	assert_true(pm.max_udp_payload <= 1252);
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
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
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	H.slow = 1;
	cf_open(&c, PN_FLOW_TCP, "echo.test", 7, 8u << 20);
	for (int i = 0; i < 20000; i++)
		tfix_step(&N);
	assert_false(c.closed);
	assert_true(H.held > 0);
	assert_true(H.held <= (256u << 10)); /* the window */
	assert_true(c.sent <= bound);	     /* the writer was stopped */
	assert_true(c.sent < c.to_send);
	/* the resource drains: credit flows back, the rest follows */
	H.slow = 0;
	pn_flow_consumed(H.sv_flow, (size_t)H.held);
	H.held = 0;
	run_until(flow_done, &c, 2000000);
	assert_int_equal(c.closed_code, PN_FLOW_OK);
	assert_true(H.sv_sink.n == (8u << 20));
	tpat_sink_done(&H.sv_sink, got);
	tpat_sink_init(&H.sv_sink);
	tpat_sha256(8u << 20, want);
	assert_memory_equal(got, want, 32);
	tpat_sink_done(&c.sink, got);
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

/* A pacing deadline never keeps the event loop awake.  After each step
 * of an upload and the client's write that follows, the loop's turns at
 * that instant (a deadline under 1 ms fires the timer at once) send
 * nothing at most once; then the next deadline is 1 ms or more away, or
 * the turn sent something.  ngtcp2 sends up to 1 ms before its pacing
 * deadline, so that deadline is dropped, not waited for: waiting, the
 * loop turned without sleeping until it passed (270,000 empty turns a
 * second at a connector whose window was full). */
struct spin {
	struct cflow *c;
	int most, blocked; /* most empty turns in a row; steps that ended asleep */
};

static int spin_step(void *a)
{
	struct spin *sp = a;
	int empty = 0;

	tfix_client_write(&N); /* the loop's write after reading (the ACKs) */
	for (int turn = 0; turn < 50 && !N.cl_dead; turn++) {
		if (pn_tunnel_expiry(N.cl) >= N.now + 1000000) {
			if (empty)
				sp->blocked++;
			break;
		}
		pn_tunnel_timeout(N.cl, N.now);
		if (tfix_client_write(&N))
			empty = 0;
		else if (++empty > sp->most)
			sp->most = empty;
	}
	return flow_done(sp->c);
}

static void test_pacing_no_spin(void **st)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl;
	size_t acl_len;
	struct cflow c;
	struct spin sp = {.c = &c};

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	cf_open(&c, PN_FLOW_TCP, "echo.test", 7, 4u << 20);
	run_until(spin_step, &sp, 2000000);
	printf("pacing: at most %d empty turns in a row, %d times asleep after one\n", sp.most,
	       sp.blocked);
	assert_int_equal(c.closed_code, PN_FLOW_OK);
	assert_true(H.sv_sink.n == (4u << 20));
	assert_true(tpat_sink_matches(&H.sv_sink));
	tpat_sink_init(&H.sv_sink); /* finish() deinits again */
	assert_true(c.sink.n == 0 && tpat_sink_matches(&c.sink)); /* nothing came back */
	assert_true(sp.blocked > 0); /* sending stopped, with a deadline close */
	assert_true(sp.most <= 1);
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

/* Eight TCP flows at once in one tunnel over a lossy, reordering path:
 * every byte of every flow arrives in order (hash per flow, both ways). */
static int all_done(void *a)
{
	struct cflow *c = a;
	for (int i = 0; i < 8; i++)
		if (!c[i].closed)
			return N.cl_dead;
	return 1;
}

static void test_concurrent_flows(void **st)
{
	struct pn_mempath_faults f = {.loss_pct = 3, .reorder_pct = 5, .dup_pct = 1, .seed = 7};
	uint8_t *acl, want[32], got[32];
	size_t acl_len;
	static struct cflow c[8];

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	H.multi = 1;
	nsfl = 0;
	H.sv_send_total = 300000;
	for (int i = 0; i < 8; i++)
		cf_open(&c[i], PN_FLOW_TCP, "echo.test", 7, 200000 + 10000 * (uint64_t)i);
	run_until(all_done, c, 3000000);
	assert_int_equal(nsfl, 8);
	tpat_sha256(300000, want);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(c[i].closed_code, PN_FLOW_OK);
		assert_true(c[i].sink.n == 300000);
		tpat_sink_done(&c[i].sink, got);
		assert_memory_equal(got, want, 32);
	}
	for (unsigned i = 0; i < nsfl; i++) {
		/* which client flow this was: by its length */
		uint64_t n = sfl[i].sink.n;
		assert_true(n >= 200000 && n <= 270000 && (n - 200000) % 10000 == 0);
		assert_true(sfl[i].eof);
		tpat_sink_done(&sfl[i].sink, got);
		tpat_sha256(n, want);
		assert_memory_equal(got, want, 32);
	}
	H.multi = 0;
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transfer_clean),
	    cmocka_unit_test(test_transfer_lossy),
	    cmocka_unit_test(test_backpressure),
	    cmocka_unit_test(test_concurrent_flows),
	    cmocka_unit_test(test_black_hole),
	    cmocka_unit_test(test_pacing_no_spin),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
