#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"

/* Under ASan, let malloc return NULL so the -ENOMEM paths can be tested. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

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

/* Every getter on too little input: PN_E_TRUNCATED and nothing consumed. */
static void test_every_getter_truncates(void **state)
{
	const uint8_t in[7] = {1, 2, 3, 4, 5, 6, 7};
	struct pn_buf r, sub;
	uint8_t u8, out[8];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;
	size_t n;
	char s[8];

	(void)state;
	pn_buf_init_ro(&r, in, 0);
	assert_int_equal(pn_buf_get_u8(&r, &u8), PN_E_TRUNCATED);
	pn_buf_init_ro(&r, in, 1);
	assert_int_equal(pn_buf_get_u16(&r, &u16), PN_E_TRUNCATED);
	pn_buf_init_ro(&r, in, 3);
	assert_int_equal(pn_buf_get_u32(&r, &u32), PN_E_TRUNCATED);
	pn_buf_init_ro(&r, in, 7);
	assert_int_equal(pn_buf_get_u64(&r, &u64), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_get_bytes(&r, out, 8), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_skip(&r, 8), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_skip(&r, SIZE_MAX), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_get_view(&r, 8, &p), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_get_sub(&r, 8, &sub), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_len(&r), 7);
	/* lv: prefix itself missing. */
	pn_buf_init_ro(&r, in, 0);
	assert_int_equal(pn_buf_get_lv8(&r, 10, &p, &n), PN_E_TRUNCATED);
	pn_buf_init_ro(&r, in, 1);
	assert_int_equal(pn_buf_get_lv16(&r, 10, &p, &n), PN_E_TRUNCATED);
	pn_buf_init_ro(&r, in, 3);
	assert_int_equal(pn_buf_get_lv32(&r, 10, &p, &n), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_len(&r), 3);
	pn_buf_init_ro(&r, in, 1);
	assert_int_equal(pn_buf_get_str16(&r, s, sizeof(s)), PN_E_TRUNCATED);
	/* lv: body short. in[0] = 1: lv8 needs 1 byte after the prefix. */
	pn_buf_init_ro(&r, in, 1);
	assert_int_equal(pn_buf_get_lv8(&r, 10, &p, &n), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_get_str8(&r, s, sizeof(s)), PN_E_TRUNCATED);
	assert_int_equal(pn_buf_len(&r), 1);
	/* Zero-length reads succeed even on an empty, storage-less buffer. */
	pn_buf_init_ro(&r, NULL, 0);
	assert_int_equal(pn_buf_get_view(&r, 0, &p), 0);
	assert_non_null(p);
	assert_int_equal(pn_buf_get_bytes(&r, out, 0), 0);
	assert_int_equal(pn_buf_expect_end(&r), 0);
	assert_non_null(pn_buf_ptr(&r));
}

static void test_lv32_and_str16(void **state)
{
	const uint8_t big32[] = {0x00, 0x01, 0x00, 0x00, 'x'};
	const uint8_t ok32[] = {0, 0, 0, 2, 'h', 'i', 9};
	const uint8_t str16[] = {0, 3, 'a', 'b', 'c'};
	const uint8_t nul16[] = {0, 2, 'a', 0};
	struct pn_buf r;
	const uint8_t *p;
	size_t n;
	char s[4];

	(void)state;
	pn_buf_init_ro(&r, big32, sizeof(big32));
	assert_int_equal(pn_buf_get_lv32(&r, 65535, &p, &n), PN_E_TOOBIG);
	assert_int_equal(pn_buf_len(&r), sizeof(big32));
	pn_buf_init_ro(&r, ok32, sizeof(ok32));
	assert_int_equal(pn_buf_get_lv32(&r, 2, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "hi", 2);
	assert_int_equal(pn_buf_len(&r), 1);
	pn_buf_init_ro(&r, str16, sizeof(str16));
	assert_int_equal(pn_buf_get_str16(&r, s, 3), PN_E_TOOBIG); /* needs 4 with the NUL */
	assert_int_equal(pn_buf_get_str16(&r, s, 0), PN_E_INVAL);
	assert_int_equal(pn_buf_get_str8(&r, s, 0), PN_E_INVAL);
	assert_int_equal(pn_buf_len(&r), sizeof(str16));
	assert_int_equal(pn_buf_get_str16(&r, s, sizeof(s)), 0);
	assert_string_equal(s, "abc");
	pn_buf_init_ro(&r, nul16, sizeof(nul16));
	assert_int_equal(pn_buf_get_str16(&r, s, sizeof(s)), PN_E_MALFORMED);
	assert_int_equal(pn_buf_len(&r), sizeof(nul16));
}

/* Every putter on a full fixed writer: PN_E_NOSPACE and nothing written. */
static void test_every_putter_full(void **state)
{
	uint8_t st[8], *p;
	struct pn_buf w;

	(void)state;
	memset(st, 0xee, sizeof(st));
	pn_buf_init_wr(&w, st, sizeof(st));
	assert_int_equal(pn_buf_put_bytes(&w, "1234567", 7), 0);
	assert_int_equal(pn_buf_put_u16(&w, 1), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_u32(&w, 1), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_u64(&w, 1), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_bytes(&w, "ab", 2), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_lv8(&w, "a", 1), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_lv16(&w, "", 0), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_lv32(&w, "", 0), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_str8(&w, "a"), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_str16(&w, ""), PN_E_NOSPACE);
	assert_int_equal(pn_buf_reserve(&w, 2, &p), PN_E_NOSPACE);
	assert_int_equal(pn_buf_reserve(&w, SIZE_MAX, &p), PN_E_NOSPACE);
	assert_int_equal(pn_buf_len(&w), 7);
	assert_int_equal(st[7], 0xee); /* untouched */
	assert_int_equal(pn_buf_put_lv8(&w, "", 0), 0);
	assert_int_equal(st[7], 0);
	assert_int_equal(pn_buf_avail(&w), 0);
	/* Reset makes a writer reusable; compact keeps unread bytes. */
	pn_buf_reset(&w);
	assert_int_equal(pn_buf_len(&w), 0);
	assert_int_equal(pn_buf_avail(&w), 8);
	assert_int_equal(pn_buf_put_u32(&w, 0x01020304), 0);
	assert_int_equal(pn_buf_skip(&w, 3), 0);
	pn_buf_compact(&w);
	assert_int_equal(pn_buf_len(&w), 1);
	assert_int_equal(pn_buf_ptr(&w)[0], 4);
	assert_int_equal(pn_buf_avail(&w), 7);
}

static void test_length_prefix_limits(void **state)
{
	static uint8_t big[70000];
	char str[300];
	uint8_t st[16];
	struct pn_buf w, d;

	(void)state;
	memset(str, 'a', sizeof(str) - 1);
	str[sizeof(str) - 1] = '\0';
	assert_int_equal(pn_buf_init_dyn(&d, 0, 1 << 20), 0);
	assert_int_equal(pn_buf_put_lv8(&d, big, 256), PN_E_TOOBIG);
	assert_int_equal(pn_buf_put_lv16(&d, big, 65536), PN_E_TOOBIG);
	/* The length check comes before any read of the source. */
	assert_int_equal(pn_buf_put_lv32(&d, big, (size_t)UINT32_MAX + 1), PN_E_TOOBIG);
	assert_int_equal(pn_buf_put_str8(&d, str), PN_E_TOOBIG);
	assert_int_equal(pn_buf_len(&d), 0);
	assert_int_equal(pn_buf_put_lv8(&d, big, 255), 0);
	assert_int_equal(pn_buf_put_lv16(&d, big, 65535), 0);
	assert_int_equal(pn_buf_put_str16(&d, str), 0);
	assert_int_equal(pn_buf_len(&d), 256 + 65537 + 301);
	pn_buf_fini(&d);
	pn_buf_init_wr(&w, st, sizeof(st));
	assert_int_equal(pn_buf_put_lv16(&w, big, 15), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_lv16(&w, big, 14), 0);
}

static void test_readonly_everything(void **state)
{
	const uint8_t in[4] = {1, 2, 3, 4};
	struct pn_buf r;
	uint8_t *p;
	uint16_t v;

	(void)state;
	pn_buf_init_ro(&r, in, sizeof(in));
	assert_int_equal(pn_buf_avail(&r), 0);
	assert_int_equal(pn_buf_put_u16(&r, 1), PN_E_NOSPACE);
	assert_int_equal(pn_buf_put_bytes(&r, "", 0), PN_E_NOSPACE);
	assert_int_equal(pn_buf_reserve(&r, 0, &p), PN_E_NOSPACE);
	assert_int_equal(pn_buf_get_u16(&r, &v), 0);
	pn_buf_compact(&r); /* no-op on read-only storage */
	assert_int_equal(pn_buf_len(&r), 2);
	assert_int_equal(pn_buf_ptr(&r)[0], 3);
	pn_buf_reset(&r); /* a reader's reset consumes everything */
	assert_int_equal(pn_buf_len(&r), 0);
	assert_int_equal(pn_buf_expect_end(&r), 0);
	assert_int_equal(in[0], 1);
}

static void test_dynamic_edges(void **state)
{
	struct pn_buf d;
	uint8_t *p;

	(void)state;
	/* initial > max is clamped to max. */
	assert_int_equal(pn_buf_init_dyn(&d, 100, 10), 0);
	assert_int_equal(pn_buf_avail(&d), 10);
	assert_int_equal(pn_buf_put_bytes(&d, "0123456789", 10), 0);
	assert_int_equal(pn_buf_put_u8(&d, 1), PN_E_TOOBIG);
	assert_int_equal(pn_buf_reserve(&d, SIZE_MAX, &p), PN_E_TOOBIG);
	pn_buf_fini(&d);
	/* No initial storage: empty reads and zero-length writes are fine. */
	assert_int_equal(pn_buf_init_dyn(&d, 0, 16), 0);
	assert_int_equal(pn_buf_len(&d), 0);
	assert_non_null(pn_buf_ptr(&d));
	assert_int_equal(pn_buf_reserve(&d, 0, &p), 0);
	assert_int_equal(pn_buf_put_u64(&d, 7), 0);
	assert_int_equal(pn_buf_put_u64(&d, 8), 0);
	assert_int_equal(pn_buf_put_u8(&d, 9), PN_E_TOOBIG);
	assert_int_equal(pn_buf_len(&d), 16);
	pn_buf_fini(&d);
	/* Allocation failure: -ENOMEM, buffer unchanged and still usable. */
	assert_int_equal(pn_buf_init_dyn(&d, SIZE_MAX / 2, SIZE_MAX), -ENOMEM);
	assert_int_equal(pn_buf_init_dyn(&d, 0, SIZE_MAX), 0);
	assert_int_equal(pn_buf_put_u8(&d, 1), 0);
	assert_int_equal(pn_buf_reserve(&d, SIZE_MAX / 2, &p), -ENOMEM);
	assert_int_equal(pn_buf_len(&d), 1);
	assert_int_equal(pn_buf_put_u8(&d, 2), 0);
	assert_int_equal(pn_buf_ptr(&d)[1], 2);
	pn_buf_fini(&d);
}

static void test_be_helpers(void **state)
{
	uint8_t b[8];
	(void)state;
	pn_store_be16(b, 0xa1b2);
	assert_int_equal(b[0], 0xa1);
	assert_int_equal(pn_load_be16(b), 0xa1b2);
	pn_store_be32(b, 0xa1b2c3d4);
	assert_int_equal(b[3], 0xd4);
	assert_int_equal(pn_load_be32(b), 0xa1b2c3d4);
	pn_store_be64(b, 0xa1b2c3d4e5f60718ull);
	assert_int_equal(b[7], 0x18);
	assert_true(pn_load_be64(b) == 0xa1b2c3d4e5f60718ull);
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
	    cmocka_unit_test(test_every_getter_truncates),
	    cmocka_unit_test(test_lv32_and_str16),
	    cmocka_unit_test(test_every_putter_full),
	    cmocka_unit_test(test_length_prefix_limits),
	    cmocka_unit_test(test_readonly_everything),
	    cmocka_unit_test(test_dynamic_edges),
	    cmocka_unit_test(test_be_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
