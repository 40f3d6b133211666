/* Signed-list cache: version exactness, remaining lifetime, bound, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/acl_cache.h"

static void test_cache(void **state)
{
	struct pn_acl_cache *c = NULL;
	char *v;

	assert_int_equal(pn_acl_cache_new(4, &c), 0);
	assert_null(pn_acl_cache_get(c, "k", 1, 0, 0));
	pn_acl_cache_put(c, "k", 5, 100, "AAAA");
	v = pn_acl_cache_get(c, "k", 5, 10, 50);
	assert_string_equal(v, "AAAA");
	free(v);
	assert_null(pn_acl_cache_get(c, "k", 6, 10, 50)); /* other version */
	assert_null(pn_acl_cache_get(c, "k", 5, 60, 50)); /* not enough life left */
	pn_acl_cache_put(c, "k", 4, 200, "OLD");           /* older never replaces newer */
	v = pn_acl_cache_get(c, "k", 5, 10, 50);
	assert_string_equal(v, "AAAA");
	free(v);
	pn_acl_cache_put(c, "k", 6, 200, "BBBB");
	v = pn_acl_cache_get(c, "k", 6, 10, 50);
	assert_string_equal(v, "BBBB");
	free(v);
	/* bounded: the fifth key empties the cache */
	pn_acl_cache_put(c, "a", 1, 100, "1");
	pn_acl_cache_put(c, "b", 1, 100, "2");
	pn_acl_cache_put(c, "d", 1, 100, "3");
	pn_acl_cache_put(c, "e", 1, 100, "4");
	assert_null(pn_acl_cache_get(c, "k", 6, 10, 50));
	v = pn_acl_cache_get(c, "e", 1, 10, 50);
	assert_string_equal(v, "4");
	free(v);
	pn_acl_cache_free(c);
	/* a missing cache is a miss, never a crash */
	assert_null(pn_acl_cache_get(NULL, "k", 1, 0, 0));
	pn_acl_cache_put(NULL, "k", 1, 0, "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_cache)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
