#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"

static void test_roundtrip(void **state)
{
	uint8_t st[64];
	struct pn_buf w, r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	char s[16];

	(void)state;
	pn_buf_init_wr(&w, st, sizeof(st));
	assert_int_equal(pn_buf_put_u8(&w, 0xab), 0);
	assert_int_equal(pn_buf_put_u16(&w, 0x1234), 0);
	assert_int_equal(pn_buf_put_u32(&w, 0xdeadbeef), 0);
	assert_int_equal(pn_buf_put_u64(&w, 0x0102030405060708ull), 0);
	assert_int_equal(pn_buf_put_str8(&w, "hello"), 0);
	assert_int_equal(pn_buf_len(&w), 1 + 2 + 4 + 8 + 6);
	assert_int_equal(st[1], 0x12); /* big-endian on the wire */

	pn_buf_init_ro(&r, pn_buf_ptr(&w), pn_buf_len(&w));
	assert_int_equal(pn_buf_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(pn_buf_get_u16(&r, &u16), 0);
	assert_int_equal(u16, 0x1234);
	assert_int_equal(pn_buf_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(pn_buf_get_u64(&r, &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(pn_buf_get_str8(&r, s, sizeof(s)), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(pn_buf_expect_end(&r), 0);
}

static void test_truncation_consumes_nothing(void **state)
{
	const uint8_t in[3] = {1, 2, 3};
	struct pn_buf r;
	uint32_t v;

	(void)state;
	pn_buf_init_ro(&r, in, sizeof(in));
	assert_int_equal(pn_buf_get_u32(&r, &v), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_len(&r), 3);
	assert_int_equal(pn_buf_expect_end(&r), PN_E_MALFORMED);
}

static void test_lv_limits(void **state)
{
	/* declared length 0x0100 > cap 16: TOOBIG before looking at data */
	const uint8_t big[] = {0x01, 0x00, 'a'};
	/* declared length 5 but only 2 bytes follow */
	const uint8_t shortb[] = {0x00, 0x05, 'a', 'b'};
	const uint8_t nul[] = {3, 'a', 0, 'b'};
	struct pn_buf r;
	const uint8_t *p;
	size_t n;
	char s[8];

	(void)state;
	pn_buf_init_ro(&r, big, sizeof(big));
	assert_int_equal(pn_buf_get_lv16(&r, 16, &p, &n), PN_E_TOOBIG);
	assert_int_equal(pn_buf_len(&r), sizeof(big));
	pn_buf_init_ro(&r, shortb, sizeof(shortb));
	assert_int_equal(pn_buf_get_lv16(&r, 16, &p, &n), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_len(&r), sizeof(shortb));
	pn_buf_init_ro(&r, nul, sizeof(nul));
	assert_int_equal(pn_buf_get_str8(&r, s, sizeof(s)), PN_E_MALFORMED);
	assert_int_equal(pn_buf_len(&r), sizeof(nul));
	pn_buf_init_ro(&r, nul, sizeof(nul));
	assert_int_equal(pn_buf_get_str8(&r, s, 3), PN_E_TOOBIG);
}

static void test_fixed_writer_full(void **state)
{
	uint8_t st[3];
	struct pn_buf w;

	(void)state;
	pn_buf_init_wr(&w, st, sizeof(st));
	assert_int_equal(pn_buf_put_u16(&w, 1), 0);
	assert_int_equal(pn_buf_put_u16(&w, 2), PN_E_NOSPACE);
	assert_int_equal(pn_buf_len(&w), 2);
	assert_int_equal(pn_buf_put_u8(&w, 3), 0);
	assert_int_equal(pn_buf_avail(&w), 0);
}

static void test_readonly_rejects_writes(void **state)
{
	const uint8_t in[4] = {0};
	struct pn_buf r;
	(void)state;
	pn_buf_init_ro(&r, in, sizeof(in));
	assert_int_equal(pn_buf_put_u8(&r, 1), PN_E_NOSPACE);
}

static void test_dynamic_growth_and_cap(void **state)
{
	struct pn_buf d;
	uint8_t chunk[100];

	(void)state;
	memset(chunk, 7, sizeof(chunk));
	assert_int_equal(pn_buf_init_dyn(&d, 8, 1000), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(pn_buf_put_bytes(&d, chunk, sizeof(chunk)), 0);
	assert_int_equal(pn_buf_len(&d), 1000);
	assert_int_equal(pn_buf_put_u8(&d, 1), PN_E_TOOBIG);
	assert_int_equal(pn_buf_skip(&d, 400), 0);
	pn_buf_compact(&d);
	assert_int_equal(pn_buf_len(&d), 600);
	assert_int_equal(pn_buf_put_bytes(&d, chunk, 100), 0);
	pn_buf_fini(&d);
	pn_buf_fini(&d); /* idempotent */
	pn_buf_fini(NULL);
}

static void test_sub_buffer(void **state)
{
	const uint8_t in[] = {0, 2, 0xaa, 0xbb, 0xcc};
	struct pn_buf r, sub;
	uint16_t n;
	uint8_t v;

	(void)state;
	pn_buf_init_ro(&r, in, sizeof(in));
	assert_int_equal(pn_buf_get_u16(&r, &n), 0);
	assert_int_equal(pn_buf_get_sub(&r, n, &sub), 0);
	assert_int_equal(pn_buf_get_u8(&sub, &v), 0);
	assert_int_equal(pn_buf_get_u8(&sub, &v), 0);
	assert_int_equal(v, 0xbb);
	assert_int_equal(pn_buf_get_u8(&sub, &v), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_len(&r), 1);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(pn_strerror(PN_E_TRUNCATED), "input truncated");
	assert_string_equal(pn_errname(PN_E_EXPIRED), "PN_E_EXPIRED");
	assert_string_equal(pn_strerror(-12), "Cannot allocate memory");
	assert_string_equal(pn_errname(-12), "ENOMEM");
	assert_string_equal(pn_strerror(-99999), "unknown error");
	assert_string_equal(pn_strerror(0), "success");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncation_consumes_nothing),
		cmocka_unit_test(test_lv_limits),
		cmocka_unit_test(test_fixed_writer_full),
		cmocka_unit_test(test_readonly_rejects_writes),
		cmocka_unit_test(test_dynamic_growth_and_cap),
		cmocka_unit_test(test_sub_buffer),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
