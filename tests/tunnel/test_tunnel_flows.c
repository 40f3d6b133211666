/*
 * Flows in one tunnel: denials with their reason, DNS, UDP datagrams, a
 * malformed header, revocation mid-transfer, migration to a second path,
 * stream credit over many flows, the connector's flow limit, many small
 * flows at once, many bulk writers held back by the unsent bound.  The
 * harness: tsession.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "tsession.h"

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
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	/* malformed header: queued before the tunnel is up */
	memset(&bad, 0, sizeof(bad));
	tpat_sink_init(&bad.sink);
	assert_int_equal(
	    pn_flow_open_raw(N.cl, garbage, sizeof(garbage), 77, &cf_ops, &bad, &bad.f), 0);
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
		tfix_step(&N);
	assert_int_equal(udp.st.code, PN_FLOW_OK);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(pn_flow_send_datagram(udp.f, "ping", 4), 0);
		tfix_step(&N);
	}
	for (int i = 0; i < 200; i++)
		tfix_step(&N);
	assert_int_equal(udp.dgrams, 20);
	assert_int_equal(H.udp_echoed, 20);
	assert_int_equal(pn_flow_send_datagram(udp.f, tpat(), PN_FLOW_DGRAM_PAYLOAD_MAX + 1),
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
		assert_int_equal(pn_mempath_pair(&f, &N.pa2, &N.pb2), 0);
		H.sv_sink.n = 0;
		H.sv_send_total = 1u << 20;
		H.sv_sent = 0;
		cf_open(&mig, PN_FLOW_TCP, "echo.test", 7, 0);
		for (int i = 0; i < 50; i++)
			tfix_step(&N);
		assert_int_equal(
		    pn_tconn_migrate(pn_tunnel_conn(N.cl), pn_mempath_path(N.pa2), N.now), 0);
		for (int i = 0; i < 50; i++)
			tfix_step(&N);
		pn_mempath_set_down(N.pa, 1);
		run_until(flow_done, &mig, 1000000);
		assert_int_equal(mig.closed_code, PN_FLOW_OK);
		assert_true(mig.sink.n == (1u << 20));
		tpat_sink_done(&mig.sink, got);
		tpat_sha256(1u << 20, want);
		assert_memory_equal(got, want, 32);
		assert_ptr_equal(pn_tconn_path(pn_tunnel_conn(N.cl)), pn_mempath_path(N.pa2));
	}
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
	{
		uint8_t d[32];
		struct cflow *all[] = {&deny, &notcl, &dns, &udp, &bad, &rev};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			tpat_sink_done(&all[i]->sink, d);
	}
}

/* Many more flows over a tunnel's life than may be open at once: stream
 * credit comes back as flows end. */
static void test_many_flows(void **st)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl, d[32];
	size_t acl_len;

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	small_limits = 1;
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	run_until(is_up, NULL, 100000);
	for (int i = 0; i < 40; i++) {
		struct cflow c;
		cf_open(&c, PN_FLOW_DNS, "echo.test", 0, 0);
		run_until(flow_done, &c, 100000);
		assert_int_equal(c.st.code, PN_FLOW_OK);
		tpat_sink_done(&c.sink, d);
	}
	small_limits = 0;
	pn_tunnel_close(N.cl, PN_FLOW_OK);
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
	return n_closed(a, 4) == 4 || N.cl_dead;
}

static int six_closed(void *a)
{
	return n_closed(a, 6) == 6 || N.cl_dead;
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
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	sv_small_limits = 1;
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	pn_tunnel_info(N.cl, &info);
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
		tpat_sink_done(&c[i].sink, d);
	}
	assert_int_equal(ok, 4);
	assert_int_equal(limited, 2);
	pn_tunnel_info(N.cl, &info);
	assert_int_equal(info.max_flows, 4);
	for (int i = 0; i < 4; i++)
		cf_open(&c[i], PN_FLOW_DNS, "echo.test", 0, 0);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_DNS;
	req.hdr.qtype = PN_FLOW_QTYPE_A;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, "echo.test"), 0);
	memcpy(req.hdr.resource_id, res_id, PN_ID_LEN);
	assert_int_equal(pn_flow_open(N.cl, &req, &cf_ops, &c[4], &extra), PN_E_TUN_LIMIT);
	run_until(four_closed, c, 200000);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c[i].st.code, PN_FLOW_OK);
		tpat_sink_done(&c[i].sink, d);
	}
	sv_small_limits = 0;
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

#define N_SMALL 1500

static int small_all_closed(void *a)
{
	return n_closed(a, N_SMALL) == N_SMALL || N.cl_dead || N.sv_dead;
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
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	small_conn_window = 1; /* writers run into connection flow control */
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	run_until(is_up, NULL, 100000);
	/* a bulk transfer first: congestion windows grow, so a write pass is
	   bounded by its packet budget rather than by the window */
	N.step_ns = 1000000; /* ~ms RTT: pacing spaces packets by microseconds */
	cf_open(&c[0], PN_FLOW_TCP, "echo.test", 7, 4u << 20);
	H.sv_send_total = 4u << 20;
	run_until(flow_done, &c[0], 2000000);
	assert_int_equal(c[0].closed_code, PN_FLOW_OK);
	tpat_sink_done(&c[0].sink, d);
	sv_echo = 1;
	for (int i = 0; i < N_SMALL; i++)
		cf_open(&c[i], PN_FLOW_TCP, "echo.test", 7, 64);
	run_until(small_all_closed, c, 2000000);
	assert_false(N.cl_dead);
	assert_false(N.sv_dead);
	for (int i = 0; i < N_SMALL; i++) {
		okn += c[i].closed_code == PN_FLOW_OK && c[i].sink.n == 64;
		tpat_sink_done(&c[i].sink, d);
	}
	assert_int_equal(okn, N_SMALL);
	sv_echo = 0;
	small_conn_window = 0;
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

/* Many flows writing at once (more than the tunnel lets wait unsent):
 * writers are held back instead of queued — the bytes accepted and not
 * yet sent never exceed PN_TCONN_UNSENT_MAX (plus the open headers), and
 * the bound is reached —
 * and every writer resumes (ops.writable): every byte arrives, echoed. */
#define N_BULK 16
#define BULK_BYTES (512u << 10)
static uint64_t max_unsent;

static int bulk_all_closed(void *a)
{
	struct pn_tconn_stats st;

	if (!N.cl_dead) {
		pn_tconn_stats(pn_tunnel_conn(N.cl), &st);
		if (st.unsent > max_unsent)
			max_unsent = st.unsent;
	}
	return n_closed(a, N_BULK) == N_BULK || N.cl_dead;
}

static void test_writers_held_back(void **st)
{
	struct pn_mempath_faults f = {0};
	static struct cflow c[N_BULK];
	uint8_t *acl;
	size_t acl_len;
	int okn = 0;

	(void)st;
	mk_acl(&cli, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	big_sndbuf = 1; /* only the unsent bound holds the writers back */
	start(&cli, &con, con.c.info.id, acl, acl_len, &f);
	free(acl);
	run_until(is_up, NULL, 100000);
	sv_echo = 1;
	max_unsent = 0;
	for (int i = 0; i < N_BULK; i++)
		cf_open(&c[i], PN_FLOW_TCP, "echo.test", 7, BULK_BYTES);
	run_until(bulk_all_closed, c, 4000000);
	assert_false(N.cl_dead);
	print_message("most bytes waiting unsent: %llu\n", (unsigned long long)max_unsent);
	/* (the flows' open headers are protocol messages, never held back) */
	assert_true(max_unsent <= PN_TCONN_UNSENT_MAX + N_BULK * PN_FLOW_HDR_MAX);
	assert_true(max_unsent >= PN_TCONN_UNSENT_MAX / 2);
	for (int i = 0; i < N_BULK; i++)
		okn += c[i].closed_code == PN_FLOW_OK && c[i].sink.n == BULK_BYTES &&
		       tpat_sink_matches(&c[i].sink);
	for (int i = 0; i < N_BULK; i++)
		if (c[i].closed_code != PN_FLOW_OK || c[i].sink.n != BULK_BYTES)
			print_message("flow %d: code %d, %llu bytes back\n", i, c[i].closed_code,
				      (unsigned long long)c[i].sink.n);
	assert_int_equal(okn, N_BULK);
	sv_echo = 0;
	big_sndbuf = 0;
	pn_tunnel_close(N.cl, PN_FLOW_OK);
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flows),
	    cmocka_unit_test(test_many_flows),
	    cmocka_unit_test(test_connector_flow_limit),
	    cmocka_unit_test(test_many_small_concurrent_flows),
	    cmocka_unit_test(test_writers_held_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
