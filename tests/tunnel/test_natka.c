/* NAT keepalive interval (tunnel/natka.h): when a mapping counts as
 * expired, and how the interval adapts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/natka.h"

static void test_default(void **st)
{
	struct pn_natka k;

	(void)st;
	pn_natka_init(&k);
	assert_int_equal(k.interval_ms, 25000);
	assert_int_equal(pn_natka_direct(&k, 1000), 0); /* nothing lost: nothing to learn */
	assert_int_equal(k.interval_ms, 25000);
	assert_int_equal(k.expiries, 0);
}

static void test_idle_loss_then_direct(void **st)
{
	struct pn_natka k;

	(void)st;
	pn_natka_init(&k);
	/* idle 25 s, keepalive unanswered, direct again 8 s later */
	pn_natka_lost(&k, 25000, 100000);
	assert_int_equal(pn_natka_direct(&k, 108000), 1);
	assert_int_equal(k.interval_ms, 25000 / 3);
	assert_int_equal(k.expiries, 1);
	assert_int_equal(k.lost_gap_ms, 25000);
	/* once only */
	assert_int_equal(pn_natka_direct(&k, 109000), 0);
	assert_int_equal(k.interval_ms, 25000 / 3);
	/* again: down to a third of the new gap, never up */
	pn_natka_lost(&k, 8400, 200000);
	assert_int_equal(pn_natka_direct(&k, 205000), 1);
	assert_int_equal(k.interval_ms, 2800);
	pn_natka_lost(&k, 60000, 300000); /* a longer gap never raises it */
	assert_int_equal(pn_natka_direct(&k, 305000), 1);
	assert_int_equal(k.interval_ms, 2800);
	/* and never below the floor */
	pn_natka_lost(&k, 2900, 400000);
	assert_int_equal(pn_natka_direct(&k, 405000), 1);
	assert_int_equal(k.interval_ms, PN_P2P_KEEPALIVE_MIN_MS);
	assert_int_equal(k.expiries, 4);
}

static void test_not_an_expiry(void **st)
{
	struct pn_natka k;

	(void)st;
	pn_natka_init(&k);
	/* a path with flows (probed every second) cut: a network failure */
	pn_natka_lost(&k, 1000, 100000);
	assert_int_equal(pn_natka_direct(&k, 105000), 0);
	assert_int_equal(k.interval_ms, 25000);
	/* idle loss, but direct again only after the confirmation window */
	pn_natka_lost(&k, 25000, 200000);
	assert_int_equal(pn_natka_direct(&k, 200000 + PN_P2P_EXPIRY_CONFIRM_MS + 1), 0);
	assert_int_equal(k.interval_ms, 25000);
	/* an idle loss superseded by a loss with traffic */
	pn_natka_lost(&k, 25000, 300000);
	pn_natka_lost(&k, 900, 301000);
	assert_int_equal(pn_natka_direct(&k, 302000), 0);
	assert_int_equal(k.interval_ms, 25000);
	assert_int_equal(k.expiries, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_idle_loss_then_direct),
	    cmocka_unit_test(test_not_an_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
