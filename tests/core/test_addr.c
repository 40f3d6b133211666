#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "core/addr.h"
#include "core/err.h"

static void test_split(void **state)
{
	char host[64];
	uint16_t port = 0;
	int br = -1;
	(void)state;
	assert_int_equal(pn_addr_split("relay.example:443", host, sizeof(host), &port, &br, 0), 0);
	assert_string_equal(host, "relay.example");
	assert_int_equal(port, 443);
	assert_int_equal(br, 0);
	assert_int_equal(pn_addr_split("[::1]:65535", host, sizeof(host), &port, &br, 0), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	assert_int_equal(br, 1);
	assert_int_equal(pn_addr_split("h:0", host, sizeof(host), &port, NULL, PN_ADDR_PORT0), 0);
	assert_int_equal(port, 0);
}

static void test_split_refuses(void **state)
{
	static const char *bad[] = {
	    "",
	    ":80",
	    "host",
	    "host:",
	    "host:0",
	    "host:65536",
	    "host:99999999999",
	    "host:+80",
	    "host:-1",
	    "host: 80",
	    "host:80 ",
	    "host:0x50",
	    "host:8a",
	    "::1:80",
	    "[::1]80",
	    "[::1]:",
	    "[]:80",
	    "[example]:80",
	    "[1.2.3.4]:80",
	    "host:000080",
	    NULL,
	};
	char host[64];
	uint16_t port;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pn_addr_split(bad[i], host, sizeof(host), &port, NULL, 0),
				 PN_E_MALFORMED);
	/* a host longer than the caller's buffer */
	assert_int_equal(pn_addr_split("abcdefgh:1", host, 8, &port, NULL, 0), PN_E_MALFORMED);
	assert_int_equal(pn_addr_split("abcdefg:1", host, 8, &port, NULL, 0), 0);
}

static void test_parse(void **state)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
	(void)state;
	assert_int_equal(pn_addr_parse("127.0.0.1:4433", &ss, 0), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 4433);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(pn_addr_parse("[fd00::2]:3478", &ss, 0), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 3478);
	assert_int_equal(pn_addr_parse("0.0.0.0:0", &ss, PN_ADDR_PORT0), 0);
	assert_int_equal(pn_addr_parse("0.0.0.0:0", &ss, 0), PN_E_MALFORMED);
	assert_int_equal(pn_addr_parse("localhost:80", &ss, 0), PN_E_MALFORMED);
	assert_int_equal(pn_addr_parse("1.2.3:80", &ss, 0), PN_E_MALFORMED);
	assert_int_equal(pn_addr_parse("127.0.0.1:80x", &ss, 0), PN_E_MALFORMED);
	assert_int_equal(ss.ss_family, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_split_refuses),
	    cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
