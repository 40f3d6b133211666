#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/secret.h"

static void test_wipe(void **state)
{
	uint8_t key[32];
	(void)state;
	memset(key, 0xa5, sizeof(key));
	pn_wipe(key, sizeof(key));
	for (size_t i = 0; i < sizeof(key); i++)
		assert_int_equal(key[i], 0);
	memset(key, 0xa5, sizeof(key));
	pn_wipe(key, 0); /* zero length touches nothing */
	assert_int_equal(key[0], 0xa5);
	pn_wipe(NULL, 16); /* NULL-safe */
}

static void test_ct_memcmp(void **state)
{
	uint8_t a[64], b[64];
	(void)state;
	memset(a, 0x11, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(pn_ct_memcmp(a, b, sizeof(a)), 0);
	assert_int_equal(pn_ct_memcmp(a, b, 0), 0);
	assert_int_equal(pn_ct_memcmp(NULL, NULL, 0), 0);
	/* A difference anywhere is found, including the first and last byte. */
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		assert_int_not_equal(pn_ct_memcmp(a, b, sizeof(a)), 0);
		/* ... and only bytes inside n count. */
		assert_int_equal(pn_ct_memcmp(a, b, i), 0);
		b[i] ^= 0x80;
	}
	/* Every single-bit difference, and a difference that would cancel in a sum. */
	for (int bit = 0; bit < 8; bit++) {
		b[10] = (uint8_t)(a[10] ^ (1u << bit));
		assert_int_not_equal(pn_ct_memcmp(a, b, sizeof(a)), 0);
	}
	memcpy(b, a, sizeof(b));
	b[0]++;
	b[1]--;
	assert_int_not_equal(pn_ct_memcmp(a, b, sizeof(a)), 0);
	/* The result is 0/1, not an ordering that would leak which byte differed. */
	memcpy(b, a, sizeof(b));
	b[5] = 0xff;
	assert_int_equal(pn_ct_memcmp(a, b, sizeof(a)), 1);
	assert_int_equal(pn_ct_memcmp(b, a, sizeof(a)), 1);
}

static void test_random(void **state)
{
	uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
	(void)state;
	assert_int_equal(pn_random(a, sizeof(a)), 0);
	assert_int_equal(pn_random(b, sizeof(b)), 0);
	/* 2^-256 chance of a false failure. */
	assert_int_not_equal(memcmp(a, zero, sizeof(a)), 0);
	assert_int_not_equal(memcmp(a, b, sizeof(a)), 0);
	assert_int_equal(pn_random(a, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wipe),
	    cmocka_unit_test(test_ct_memcmp),
	    cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
