/* Unit tests for transparent mode's ICMP echo packets (client/icmp_pkt.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/icmp_pkt.h"
#include "core/buf.h"
#include "core/err.h"

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n >= 2; p += 2, n -= 2)
		s += pn_load_be16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* 10.0.0.1 -> 100.96.0.5 echo request id 0x4242 seq 7, "hello" */
static size_t req4(uint8_t *p)
{
	static const uint8_t h[] = {0x45, 0, 0, 33, 0, 1, 0x40, 0, 64, 1, 0, 0,
				    10,	  0, 0, 1,  100, 96, 0, 5};
	memcpy(p, h, 20);
	memset(p + 20, 0, 8);
	p[20] = 8;
	pn_store_be16(p + 24, 0x4242);
	pn_store_be16(p + 26, 7);
	memcpy(p + 28, "hello", 5);
	return 33;
}

static size_t req6(uint8_t *p)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	pn_store_be16(p + 4, 13);
	p[6] = 58;
	p[7] = 64;
	p[23] = 1;	   /* src ::1 */
	p[24] = 0xfd;	   /* dst fd7a::5 */
	p[25] = 0x7a;
	p[39] = 5;
	memset(p + 40, 0, 8);
	p[40] = 128;
	pn_store_be16(p + 44, 0x4242);
	pn_store_be16(p + 46, 9);
	memcpy(p + 48, "hello", 5);
	return 53;
}

static void test_parse(void **st)
{
	uint8_t p[100];
	struct pn_icmp_echo e;
	size_t n;
	(void)st;
	n = req4(p);
	assert_int_equal(pn_icmp_parse_request(p, n, &e), 0);
	assert_int_equal(e.family, 4);
	assert_int_equal(e.id, 0x4242);
	assert_int_equal(e.seq, 7);
	assert_int_equal(e.dlen, 5);
	assert_memory_equal(e.data, "hello", 5);
	assert_int_equal(e.dst[0], 100);
	/* every truncation is refused, never read past */
	for (size_t k = 0; k < n; k++)
		assert_int_not_equal(pn_icmp_parse_request(p, k, &e), 0);
	/* total length beyond the bytes, header length too short / too long */
	p[3] = 200;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_MALFORMED);
	n = req4(p);
	p[0] = 0x44;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_MALFORMED);
	p[0] = 0x4f;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_MALFORMED);
	/* a fragment, another protocol, an echo reply: not ours */
	n = req4(p);
	p[6] = 0x20;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_UNSUPPORTED);
	n = req4(p);
	p[9] = 17;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_UNSUPPORTED);
	n = req4(p);
	p[20] = 0;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_UNSUPPORTED);
	/* IPv6 */
	n = req6(p);
	assert_int_equal(pn_icmp_parse_request(p, n, &e), 0);
	assert_int_equal(e.family, 6);
	assert_int_equal(e.seq, 9);
	assert_int_equal(e.dlen, 5);
	for (size_t k = 0; k < n; k++)
		assert_int_not_equal(pn_icmp_parse_request(p, k, &e), 0);
	p[6] = 0; /* hop-by-hop header first: not answered */
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_UNSUPPORTED);
	n = req6(p);
	pn_store_be16(p + 4, 200);
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_MALFORMED);
	p[0] = 0x50;
	assert_int_equal(pn_icmp_parse_request(p, n, &e), PN_E_MALFORMED);
}

static void test_build(void **st)
{
	uint8_t p[100], out[PN_ICMP_PKT_MAX];
	struct pn_icmp_echo e, r;
	size_t n, len;
	uint32_t ph;
	(void)st;
	/* IPv4 reply: addresses swapped, id kept, both checksums valid */
	n = req4(p);
	assert_int_equal(pn_icmp_parse_request(p, n, &e), 0);
	assert_int_equal(pn_icmp_build_reply(&e, 7, (const uint8_t *)"hello", 5, out, sizeof(out),
					     &len),
			 0);
	assert_int_equal(len, 33);
	assert_memory_equal(out + 12, p + 16, 4);
	assert_memory_equal(out + 16, p + 12, 4);
	assert_int_equal(out[20], 0);
	assert_int_equal(pn_load_be16(out + 24), 0x4242);
	assert_int_equal(csum(out, 20, 0), 0xffff);
	assert_int_equal(csum(out + 20, 13, 0), 0xffff);
	/* too small an output */
	assert_int_equal(pn_icmp_build_reply(&e, 7, (const uint8_t *)"hello", 5, out, 30, &len),
			 PN_E_NOSPACE);
	/* prohibited: type 3 code 13, quoting header + 8 bytes */
	assert_int_equal(pn_icmp_build_prohibited(&e, p, n, out, sizeof(out), &len), 0);
	assert_int_equal(len, 20 + 8 + 28);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 13);
	assert_memory_equal(out + 28, p, 28);
	assert_int_equal(csum(out + 20, len - 20, 0), 0xffff);
	/* IPv6 reply: checksum over the pseudo-header */
	n = req6(p);
	assert_int_equal(pn_icmp_parse_request(p, n, &e), 0);
	assert_int_equal(pn_icmp_build_reply(&e, 9, (const uint8_t *)"hello", 5, out, sizeof(out),
					     &len),
			 0);
	assert_int_equal(len, 53);
	assert_int_equal(out[40], 129);
	assert_memory_equal(out + 8, p + 24, 16);
	ph = csum(out + 8, 32, 0) + 13 + 58;
	assert_int_equal(csum(out + 40, 13, ph), 0xffff);
	assert_int_equal(pn_icmp_build_prohibited(&e, p, n, out, sizeof(out), &len), 0);
	assert_int_equal(out[40], 1);
	assert_int_equal(out[41], 1);
	assert_int_equal(len, 40 + 8 + n);
	/* a reply parses back as what it is (not a request) */
	assert_int_equal(pn_icmp_parse_request(out, len, &r), PN_E_UNSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
