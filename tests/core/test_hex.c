/* core/hex.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/hex.h"

static void test_roundtrip(void **state)
{
	const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	uint8_t back[sizeof(in)];
	char hex[2 * sizeof(in) + 1];

	(void)state;
	pn_hex_encode(in, sizeof(in), hex);
	assert_string_equal(hex, "00017f80abff");
	assert_int_equal(pn_hex_decode(hex, back, sizeof(back)), 0);
	assert_memory_equal(in, back, sizeof(in));
	assert_int_equal(pn_hex_decode("00017F80ABFF", back, sizeof(back)), 0);
	assert_memory_equal(in, back, sizeof(in));
	pn_hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
}

static void test_decode_refuses(void **state)
{
	static const char *const bad[] = {
	    "",		     /* short */
	    "0001",	     /* short */
	    "00017f80abf",   /* odd length, NUL as the last digit */
	    "00017f80abff0", /* long */
	    "00017f80abfg",  /* not a digit */
	    "00017f80ab f",  /* space */
	    "0x017f80abff",  /* prefix */
	};
	uint8_t out[6];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pn_hex_decode(bad[i], out, sizeof(out)), PN_E_MALFORMED);
	assert_int_equal(pn_hex_digit('g'), PN_E_MALFORMED);
	assert_int_equal(pn_hex_digit('\0'), PN_E_MALFORMED);
	assert_int_equal(pn_hex_digit('F'), 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_decode_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
