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
	    cmocka_unit_test(test_backoff_grows_and_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
