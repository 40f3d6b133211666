/* Unit tests: STUN Binding codec (RFC 8489), with the RFC 5769 test vectors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/stun.h"

/* RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};
/* RFC 5769 §2.2: sample IPv4 response, mapped 192.0.2.1:32853. */
static const uint8_t rfc5769_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

static void test_rfc5769(void **state)
{
	uint8_t txid[PN_STUN_TXID_LEN], bad[sizeof(rfc5769_req)];
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	int fpr = 0;

	(void)state;
	assert_int_equal(pn_stun_parse_request(rfc5769_req, sizeof(rfc5769_req), txid, &fpr), 0);
	assert_int_equal(fpr, 1);
	assert_memory_equal(txid, rfc5769_req + 8, 12);
	/* Any flipped bit before the FINGERPRINT is caught by it. */
	memcpy(bad, rfc5769_req, sizeof(bad));
	bad[30] ^= 1;
	assert_int_equal(pn_stun_parse_request(bad, sizeof(bad), txid, &fpr), PN_E_MALFORMED);
	assert_int_equal(
	    pn_stun_parse_response(rfc5769_resp4, sizeof(rfc5769_resp4), rfc5769_resp4 + 8, &ss),
	    0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 32853);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0xc0000201);
	/* A response to someone else's transaction is not ours. */
	assert_int_equal(
	    pn_stun_parse_response(rfc5769_resp4, sizeof(rfc5769_resp4), rfc5769_req + 9, &ss),
	    PN_E_INVAL);
	/* A request is not a response and vice versa. */
	assert_int_equal(
	    pn_stun_parse_response(rfc5769_req, sizeof(rfc5769_req), rfc5769_req + 8, &ss),
	    PN_E_UNSUPPORTED);
	assert_int_equal(pn_stun_parse_request(rfc5769_resp4, sizeof(rfc5769_resp4), txid, &fpr),
			 PN_E_UNSUPPORTED);
}

static void test_roundtrip_v4_v6(void **state)
{
	uint8_t txid[PN_STUN_TXID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		got[PN_STUN_TXID_LEN];
	uint8_t req[PN_STUN_REQUEST_LEN], resp[PN_STUN_RESPONSE_MAX];
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(40000)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	struct sockaddr_storage m;
	size_t len;
	int fpr;

	(void)state;
	inet_pton(AF_INET, "10.201.1.2", &a4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1234", &a6.sin6_addr);
	pn_stun_build_request(txid, req);
	assert_int_equal(pn_stun_parse_request(req, sizeof(req), got, &fpr), 0);
	assert_int_equal(fpr, 1);
	assert_memory_equal(got, txid, sizeof(txid));

	assert_int_equal(
	    pn_stun_build_response(txid, (struct sockaddr *)&a4, 1, resp, sizeof(req), &len), 0);
	assert_int_equal(len, 40);
	assert_int_equal(pn_stun_parse_response(resp, len, txid, &m), 0);
	assert_memory_equal(&((struct sockaddr_in *)&m)->sin_addr, &a4.sin_addr, 4);
	assert_int_equal(((struct sockaddr_in *)&m)->sin_port, a4.sin_port);

	assert_int_equal(
	    pn_stun_build_response(txid, (struct sockaddr *)&a6, 1, resp, sizeof(req), &len), 0);
	assert_int_equal(len, 52);
	assert_int_equal(pn_stun_parse_response(resp, len, txid, &m), 0);
	assert_memory_equal(&((struct sockaddr_in6 *)&m)->sin6_addr, &a6.sin6_addr, 16);
	assert_int_equal(((struct sockaddr_in6 *)&m)->sin6_port, a6.sin6_port);
}

static void test_no_amplification(void **state)
{
	uint8_t txid[PN_STUN_TXID_LEN] = {0}, resp[PN_STUN_RESPONSE_MAX];
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	size_t len;

	(void)state;
	/* A bare 20-byte request cannot be answered without amplification. */
	assert_int_equal(pn_stun_build_response(txid, (struct sockaddr *)&a4, 0, resp, 20, &len),
			 PN_E_NOSPACE);
	/* 32 bytes: the answer fits without FINGERPRINT, and is dropped to fit. */
	assert_int_equal(pn_stun_build_response(txid, (struct sockaddr *)&a4, 1, resp, 32, &len),
			 0);
	assert_int_equal(len, 32);
	assert_int_equal(pn_stun_build_response(txid, (struct sockaddr *)&a6, 1, resp, 44, &len),
			 0);
	assert_int_equal(len, 44);
	assert_int_equal(pn_stun_build_response(txid, (struct sockaddr *)&a6, 1, resp, 43, &len),
			 PN_E_NOSPACE);
}

static void test_malformed(void **state)
{
	uint8_t txid[PN_STUN_TXID_LEN] = {0}, m[64], big[PN_STUN_MAX_MESSAGE + 4] = {0};
	int fpr;

	(void)state;
	pn_stun_build_request(txid, m);
	/* Length field disagreeing with the datagram. */
	m[3] ^= 4;
	assert_int_equal(pn_stun_parse_request(m, sizeof(m), txid, &fpr), PN_E_MALFORMED);
	m[3] ^= 4;
	/* An attribute running past the end. */
	m[22] = 0x01;
	assert_int_equal(pn_stun_parse_request(m, sizeof(m), txid, &fpr), PN_E_MALFORMED);
	m[22] = 0;
	/* Not a multiple of 4, too short, bad cookie, too long. */
	assert_int_equal(pn_stun_parse_request(m, 22, txid, &fpr), PN_E_MALFORMED);
	assert_int_equal(pn_stun_parse_request(m, 12, txid, &fpr), PN_E_MALFORMED);
	m[4] ^= 1;
	assert_int_equal(pn_stun_parse_request(m, sizeof(m), txid, &fpr), PN_E_MALFORMED);
	assert_int_equal(pn_stun_parse_request(big, sizeof(big), txid, &fpr), PN_E_TOOBIG);
}

/* Path-MTU probes (postern doctor): full-size padded requests are parsed
 * and answered with the usual small response; bad sizes are refused. */
static void test_mtu_probe(void **state)
{
	static const size_t sizes[] = {PN_STUN_REQUEST_LEN, 1200, 1280, 1400, 1452, 1472, 1500};
	uint8_t txid[PN_STUN_TXID_LEN], got[PN_STUN_TXID_LEN], p[PN_STUN_MAX_MESSAGE + 4];
	uint8_t resp[PN_STUN_RESPONSE_MAX];
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(4242)};
	struct sockaddr_storage mapped;
	size_t len;
	int fpr;

	(void)state;
	memset(txid, 0x5a, sizeof(txid));
	a4.sin_addr.s_addr = htonl(0x0a000001);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(pn_stun_build_probe(txid, p, sizes[i]), 0);
		assert_int_equal(pn_stun_parse_request(p, sizes[i], got, &fpr), 0);
		assert_memory_equal(got, txid, sizeof(txid));
		assert_int_equal(fpr, 0);
		assert_int_equal(pn_stun_build_response(got, (struct sockaddr *)&a4, 1, resp,
							sizeof(resp), &len),
				 0);
		assert_int_equal(pn_stun_parse_response(resp, len, txid, &mapped), 0);
	}
	assert_int_equal(pn_stun_build_probe(txid, p, 1201), PN_E_INVAL);
	assert_int_equal(pn_stun_build_probe(txid, p, 60), PN_E_INVAL);
	assert_int_equal(pn_stun_build_probe(txid, p, PN_STUN_MAX_MESSAGE + 4), PN_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc5769),
	    cmocka_unit_test(test_roundtrip_v4_v6),
	    cmocka_unit_test(test_no_amplification),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_mtu_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
