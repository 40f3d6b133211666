/* Caps on unauthenticated connections: per source, in total, release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "controller/srclimit.h"

static struct pn_srckey v4(const char *a)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pn_srckey k;

	assert_int_equal(inet_pton(AF_INET, a, &sa.sin_addr), 1);
	assert_int_equal(pn_srckey_from_sockaddr((struct sockaddr *)&sa, sizeof(sa), &k), 0);
	return k;
}

static void test_per_source(void **state)
{
	struct pn_srclimit *l = NULL;
	struct pn_srckey a = v4("192.0.2.1"), b = v4("192.0.2.2");

	(void)state;
	assert_int_equal(pn_srclimit_new(3, 100, &l), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(pn_srclimit_allowed(l, &a));
		assert_int_equal(pn_srclimit_add(l, &a), 0);
	}
	assert_false(pn_srclimit_allowed(l, &a)); /* a is at its cap */
	assert_true(pn_srclimit_allowed(l, &b));  /* others are not */
	/* a connection promoted to an authenticated stream stops counting:
	 * any number of subscribers may share one address */
	for (int i = 0; i < 1000; i++) {
		pn_srclimit_release(l, &a);
		assert_true(pn_srclimit_allowed(l, &a));
		assert_int_equal(pn_srclimit_add(l, &a), 0);
	}
	assert_int_equal(pn_srclimit_count(l, &a), 3);
	assert_int_equal(pn_srclimit_total(l), 3);
	for (int i = 0; i < 3; i++)
		pn_srclimit_release(l, &a);
	assert_int_equal(pn_srclimit_count(l, &a), 0);
	assert_int_equal(pn_srclimit_total(l), 0);
	pn_srclimit_release(l, &a); /* unknown source: no underflow */
	assert_int_equal(pn_srclimit_total(l), 0);
	pn_srclimit_free(l);
}

static void test_total(void **state)
{
	struct pn_srclimit *l = NULL;
	char addr[32];

	(void)state;
	assert_int_equal(pn_srclimit_new(2, 10, &l), 0);
	for (int i = 0; i < 10; i++) {
		struct pn_srckey k;

		snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		k = v4(addr);
		assert_true(pn_srclimit_allowed(l, &k));
		assert_int_equal(pn_srclimit_add(l, &k), 0);
	}
	{
		struct pn_srckey k = v4("203.0.113.9");

		assert_false(pn_srclimit_allowed(l, &k)); /* total cap */
	}
	pn_srclimit_free(l); /* frees the remaining entries (LSan) */
}

static void test_keys(void **state)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_un {
		sa_family_t f;
		char p[108];
	} su = {.f = AF_UNIX};
	struct pn_srckey k6, k4 = v4("192.0.2.1"), mapped;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr), 1);
	assert_int_equal(pn_srckey_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &mapped), 0);
	assert_memory_equal(mapped.a, k4.a, 16); /* one space for both families */
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr), 1);
	assert_int_equal(pn_srckey_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &k6), 0);
	assert_memory_not_equal(k6.a, k4.a, 16);
	assert_int_equal(pn_srckey_from_sockaddr((struct sockaddr *)&su, sizeof(su), &k6),
			 -EAFNOSUPPORT);
	assert_int_equal(pn_srckey_from_sockaddr((struct sockaddr *)&s6, 4, &k6), -EAFNOSUPPORT);
	assert_int_equal(pn_srclimit_new(0, 1, &(struct pn_srclimit *){NULL}), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_source),
	    cmocka_unit_test(test_total),
	    cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
