/* pn_memtrim: a trim when the count falls to half its peak (or to zero),
 * none while it holds or grows, none for small peaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/memtrim.h"

static void test_policy(void **st)
{
	struct pn_memtrim m = {0};

	(void)st;
	for (size_t n = 1; n <= 1000; n++)
		pn_memtrim_count(&m, n);
	assert_int_equal(m.trims, 0);
	for (size_t n = 999; n > 500; n--)
		pn_memtrim_count(&m, n);
	assert_int_equal(m.trims, 0);
	pn_memtrim_count(&m, 500); /* half of 1000 */
	assert_int_equal(m.trims, 1);
	for (size_t n = 499; n > 0; n--)
		pn_memtrim_count(&m, n);
	pn_memtrim_count(&m, 0);
	/* 250, 125, 62... then the peak is below the minimum */
	assert_true(m.trims >= 3 && m.trims <= 5);
	size_t t = m.trims;
	for (size_t n = 0; n < 10; n++)
		pn_memtrim_count(&m, n % 3); /* a trickle: never */
	assert_int_equal(m.trims, t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_policy)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
