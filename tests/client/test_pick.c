/* Unit tests for connector choice (client/pick.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/pick.h"
#include "core/err.h"

static void test_prefers_up_tunnel_lowest_rtt(void **st)
{
	struct pn_pick_cand c[3] = {
	    {.state = PN_PICK_IDLE},
	    {.state = PN_PICK_UP, .rtt_us = 900, .flows = 1},
	    {.state = PN_PICK_UP, .rtt_us = 300, .flows = 50},
	};
	(void)st;
	assert_int_equal(pn_pick(c, 3, 0, 0), 2);
	c[2].rtt_us = 900;
	assert_int_equal(pn_pick(c, 3, 0, 0), 1); /* tie on RTT: fewer flows */
	c[1].rtt_us = 0;
	assert_int_equal(pn_pick(c, 3, 0, 0), 2); /* unknown RTT sorts last */
}

static void test_reuses_connecting_tunnel(void **st)
{
	struct pn_pick_cand c[2] = {{.state = PN_PICK_IDLE}, {.state = PN_PICK_CONNECTING}};
	(void)st;
	for (uint32_t salt = 0; salt < 4; salt++)
		assert_int_equal(pn_pick(c, 2, 0, salt), 1);
}

static void test_idle_spread_by_salt(void **st)
{
	struct pn_pick_cand c[3] = {
	    {.state = PN_PICK_IDLE}, {.state = PN_PICK_IDLE}, {.state = PN_PICK_IDLE}};
	int seen[3] = {0};
	(void)st;
	for (uint32_t salt = 0; salt < 9; salt++)
		seen[pn_pick(c, 3, 0, salt)]++;
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[2], 3);
}

/* Failover: the connector that just failed is skipped while in backoff. */
static void test_failover_skips_failed(void **st)
{
	struct pn_pick_cand c[2] = {
	    {.state = PN_PICK_FAILED, .retry_at_ms = 5000},
	    {.state = PN_PICK_IDLE},
	};
	(void)st;
	for (uint32_t salt = 0; salt < 4; salt++)
		assert_int_equal(pn_pick(c, 2, 1000, salt), 1);
	/* Backoff over: eligible again. */
	c[1].state = PN_PICK_FAILED;
	c[1].retry_at_ms = 1u << 30;
	assert_int_equal(pn_pick(c, 2, 5000, 7), 0);
}

static void test_all_failed_fails_fast(void **st)
{
	struct pn_pick_cand c[2] = {
	    {.state = PN_PICK_FAILED, .retry_at_ms = 5000},
	    {.state = PN_PICK_FAILED, .retry_at_ms = 6000},
	};
	(void)st;
	assert_int_equal(pn_pick(c, 2, 1000, 0), PN_E_NO_CONNECTOR);
	assert_int_equal(pn_pick(c, 0, 1000, 0), PN_E_NO_CONNECTOR);
	assert_int_equal(pn_pick(c, 17, 1000, 0), PN_E_INVAL);
	assert_int_equal(pn_pick(NULL, 1, 1000, 0), PN_E_INVAL);
}

/* A full tunnel is passed over: the flow goes to another connector's UP
 * tunnel even with a worse RTT (issue 10 item 10: the client kept choosing
 * the full tunnel and refused the flow). */
static void test_full_tunnel_skipped_for_other_up(void **st)
{
	struct pn_pick_cand c[2] = {
	    {.state = PN_PICK_UP, .rtt_us = 100, .flows = 4, .max_flows = 4},
	    {.state = PN_PICK_UP, .rtt_us = 900, .flows = 0, .max_flows = 4},
	};
	(void)st;
	assert_int_equal(pn_pick(c, 2, 0, 0), 1);
	c[0].flows = 3; /* room again: the faster one */
	assert_int_equal(pn_pick(c, 2, 0, 0), 0);
	c[0].max_flows = 0; /* no limit known: never full */
	c[0].flows = 1u << 20;
	assert_int_equal(pn_pick(c, 2, 0, 0), 0);
}

/* The only UP tunnel is full: start a tunnel to an idle connector, or
 * wait for one that is connecting and has room. */
static void test_full_tunnel_starts_or_joins_another(void **st)
{
	struct pn_pick_cand c[3] = {
	    {.state = PN_PICK_UP, .rtt_us = 100, .flows = 8, .max_flows = 8},
	    {.state = PN_PICK_FAILED, .retry_at_ms = 5000},
	    {.state = PN_PICK_IDLE},
	};
	(void)st;
	for (uint32_t salt = 0; salt < 4; salt++)
		assert_int_equal(pn_pick(c, 3, 1000, salt), 2);
	c[2].state = PN_PICK_CONNECTING;
	c[2].flows = 7;
	c[2].max_flows = 8;
	assert_int_equal(pn_pick(c, 3, 1000, 0), 2);
	c[2].flows = 8; /* connecting, but as many waiting as it may take */
	assert_int_equal(pn_pick(c, 3, 1000, 0), PN_E_TUN_LIMIT);
	/* the failed one's backoff is over: a fresh tunnel there */
	assert_int_equal(pn_pick(c, 3, 5000, 0), 1);
}

/* Every tunnel full: refused with PN_E_TUN_LIMIT, not "no connector". */
static void test_all_full_is_limit(void **st)
{
	struct pn_pick_cand c[2] = {
	    {.state = PN_PICK_UP, .flows = 2, .max_flows = 2},
	    {.state = PN_PICK_UP, .flows = 5, .max_flows = 2},
	};
	(void)st;
	assert_int_equal(pn_pick(c, 2, 0, 0), PN_E_TUN_LIMIT);
	assert_int_equal(pn_pick(c, 1, 0, 0), PN_E_TUN_LIMIT);
	c[1].flows = 1;
	assert_int_equal(pn_pick(c, 2, 0, 0), 1);
}

static void test_backoff_grows_and_caps(void **st)
{
	(void)st;
	assert_int_equal(pn_pick_backoff_ms(1), 50);
	assert_int_equal(pn_pick_backoff_ms(2), 100);
	assert_int_equal(pn_pick_backoff_ms(3), 200);
	assert_int_equal(pn_pick_backoff_ms(10), 25600);
	assert_int_equal(pn_pick_backoff_ms(11), 30000);
	assert_int_equal(pn_pick_backoff_ms(1000), 30000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefers_up_tunnel_lowest_rtt),
	    cmocka_unit_test(test_reuses_connecting_tunnel),
	    cmocka_unit_test(test_idle_spread_by_salt),
	    cmocka_unit_test(test_failover_skips_failed),
	    cmocka_unit_test(test_all_failed_fails_fast),
	    cmocka_unit_test(test_full_tunnel_skipped_for_other_up),
	    cmocka_unit_test(test_full_tunnel_starts_or_joins_another),
	    cmocka_unit_test(test_all_full_is_limit),
	    cmocka_unit_test(test_backoff_grows_and_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
