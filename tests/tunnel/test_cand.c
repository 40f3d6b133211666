/* Candidates: gathering from an interface list, the address filter (our
 * own and the peer's), and the candidate message codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <net/if.h>

#include "core/err.h"
#include "tunnel/cand.h"
#include "tunnel/candmsg.h"

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
		a->sin6_port = htons(port);
	} else {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
		a->sin_port = htons(port);
	}
	return ss;
}

static int ok(const char *ip, uint16_t port)
{
	struct sockaddr_storage s = sa(ip, port);
	return pn_cand_addr_ok((struct sockaddr *)&s);
}

static void test_addr_filter(void **st)
{
	(void)st;
	assert_true(ok("192.0.2.7", 4433));
	assert_true(ok("10.1.2.3", 1));
	assert_true(ok("2001:db8::1", 4433));
	assert_false(ok("192.0.2.7", 0));        /* no port */
	assert_false(ok("127.0.0.1", 4433));     /* loopback */
	assert_false(ok("127.9.9.9", 4433));
	assert_false(ok("::1", 4433));
	assert_false(ok("::ffff:127.0.0.1", 4433));
	assert_false(ok("0.0.0.0", 4433));       /* unspecified */
	assert_false(ok("::", 4433));
	assert_false(ok("224.0.0.251", 5353));   /* multicast */
	assert_false(ok("239.1.1.1", 4433));
	assert_false(ok("ff02::1", 4433));
	assert_false(ok("255.255.255.255", 4433));
	assert_false(ok("169.254.1.1", 4433));   /* link-local */
	assert_false(ok("fe80::1", 4433));
}

static void test_remote_not_relay(void **st)
{
	struct sockaddr_storage relays[2] = {sa("198.51.100.1", 3478), sa("2001:db8::53", 3478)};
	struct sockaddr_storage a;

	(void)st;
	a = sa("198.51.100.1", 9999); /* the relay's address, any port */
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	a = sa("2001:db8::53", 1);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	a = sa("127.0.0.1", 4433);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	a = sa("198.51.100.2", 3478);
	assert_true(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	/* the relay in its IPv4-mapped IPv6 form, and a relay given so */
	a = sa("::ffff:198.51.100.1", 4433);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	relays[1] = sa("::ffff:203.0.113.9", 3478);
	a = sa("203.0.113.9", 1);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	/* loopback and multicast in every form */
	a = sa("::ffff:127.0.0.1", 4433);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	a = sa("::ffff:224.0.0.1", 4433);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
	a = sa("ff05::2", 4433);
	assert_false(pn_cand_remote_ok((struct sockaddr *)&a, relays, 2));
}

static void test_gather(void **st)
{
	struct sockaddr_storage s[8] = {sa("127.0.0.1", 0),  sa("10.0.0.5", 0),
					sa("fe80::1", 0),    sa("2001:db8::5", 0),
					sa("10.0.0.5", 0),   sa("192.0.2.9", 0),
					sa("224.0.0.1", 0),  sa("169.254.3.3", 0)};
	unsigned flags[8] = {IFF_UP | IFF_LOOPBACK, IFF_UP, IFF_UP, IFF_UP, IFF_UP, 0, IFF_UP, IFF_UP};
	struct ifaddrs ifa[9];
	struct pn_cand c[PN_P2P_MAX_CANDS];
	size_t n;

	(void)st;
	memset(ifa, 0, sizeof(ifa));
	for (int i = 0; i < 8; i++) {
		ifa[i].ifa_next = &ifa[i + 1];
		ifa[i].ifa_name = "eth0";
		ifa[i].ifa_flags = flags[i];
		ifa[i].ifa_addr = (struct sockaddr *)&s[i];
	}
	ifa[8].ifa_name = "noaddr"; /* an interface without an address */
	ifa[8].ifa_flags = IFF_UP;
	n = pn_cand_gather(ifa, AF_UNSPEC, 4433, c, PN_P2P_MAX_CANDS);
	/* loopback, link-local, down, multicast and the duplicate are out */
	assert_int_equal(n, 2);
	struct sockaddr_storage e0 = sa("10.0.0.5", 4433), e1 = sa("2001:db8::5", 4433);
	assert_true(pn_sa_equal((struct sockaddr *)&c[0].addr, (struct sockaddr *)&e0));
	assert_true(pn_sa_equal((struct sockaddr *)&c[1].addr, (struct sockaddr *)&e1));
	assert_int_equal(c[0].type, PN_CAND_HOST);
	assert_int_equal(pn_cand_gather(ifa, AF_INET, 4433, c, PN_P2P_MAX_CANDS), 1);
	assert_int_equal(pn_cand_gather(ifa, AF_INET6, 4433, c, PN_P2P_MAX_CANDS), 1);
	assert_int_equal(pn_cand_gather(ifa, AF_UNSPEC, 4433, c, 1), 1); /* max */
}

static void test_gather_max(void **st)
{
	struct sockaddr_storage s[40];
	struct ifaddrs ifa[40];
	struct pn_cand c[PN_P2P_MAX_CANDS];
	char ip[32];

	(void)st;
	memset(ifa, 0, sizeof(ifa));
	for (int i = 0; i < 40; i++) {
		snprintf(ip, sizeof(ip), "10.9.%d.1", i);
		s[i] = sa(ip, 0);
		ifa[i].ifa_next = i < 39 ? &ifa[i + 1] : NULL;
		ifa[i].ifa_flags = IFF_UP;
		ifa[i].ifa_addr = (struct sockaddr *)&s[i];
	}
	assert_int_equal(pn_cand_gather(ifa, AF_UNSPEC, 1, c, PN_P2P_MAX_CANDS), PN_P2P_MAX_CANDS);
}

static void mkmsg(struct pn_candmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->nat = PN_NAT_EIM;
	m->gen = 7;
	m->token = 0x1122334455667788ull;
	memset(m->key, 0x5a, sizeof(m->key));
	m->c[0].type = PN_CAND_HOST;
	m->c[0].addr = sa("10.0.0.5", 4433);
	m->c[1].type = PN_CAND_SRFLX;
	m->c[1].addr = sa("2001:db8::9", 61000);
	m->n = 2;
}

static void test_msg_roundtrip(void **st)
{
	struct pn_candmsg m, g;
	uint8_t buf[PN_CANDMSG_MAX];
	struct pn_buf w;

	(void)st;
	mkmsg(&m);
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_candmsg_encode(&w, &m), 0);
	assert_int_equal(pn_buf_len(&w), PN_CANDMSG_FIXED + 2 + 4 + 2 + 2 + 16 + 2);
	assert_int_equal(pn_candmsg_decode(buf, pn_buf_len(&w), &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.nat, PN_NAT_EIM);
	assert_int_equal(g.gen, 7);
	assert_true(g.token == m.token);
	assert_memory_equal(g.key, m.key, sizeof(m.key));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(g.c[i].type, m.c[i].type);
		assert_true(pn_sa_equal((struct sockaddr *)&g.c[i].addr, (struct sockaddr *)&m.c[i].addr));
	}
	/* every truncation is refused, never read past the end */
	for (size_t n = 0; n < pn_buf_len(&w); n++)
		assert_int_not_equal(pn_candmsg_decode(buf, n, &g), 0);
}

static void test_msg_refusals(void **st)
{
	struct pn_candmsg m, g;
	uint8_t buf[PN_CANDMSG_MAX + 8];
	struct pn_buf w;
	size_t len;

	(void)st;
	mkmsg(&m);
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_candmsg_encode(&w, &m), 0);
	len = pn_buf_len(&w);
	buf[0] = 2; /* version */
	assert_int_equal(pn_candmsg_decode(buf, len, &g), PN_E_UNSUPPORTED);
	buf[0] = 1;
	buf[3] = PN_P2P_MAX_CANDS + 1; /* count beyond the limit */
	assert_int_equal(pn_candmsg_decode(buf, len, &g), PN_E_MALFORMED);
	buf[3] = 2;
	buf[PN_CANDMSG_FIXED] = 9; /* candidate type */
	assert_int_equal(pn_candmsg_decode(buf, len, &g), PN_E_MALFORMED);
	buf[PN_CANDMSG_FIXED] = PN_CAND_HOST;
	buf[PN_CANDMSG_FIXED + 1] = 5; /* family */
	assert_int_equal(pn_candmsg_decode(buf, len, &g), PN_E_MALFORMED);
	buf[PN_CANDMSG_FIXED + 1] = 4;
	buf[len] = 0; /* trailing byte */
	assert_int_equal(pn_candmsg_decode(buf, len + 1, &g), PN_E_MALFORMED);
	assert_int_equal(pn_candmsg_decode(buf, len, &g), 0);
	m.n = PN_P2P_MAX_CANDS + 1;
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_candmsg_encode(&w, &m), PN_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_filter), cmocka_unit_test(test_remote_not_relay),
	    cmocka_unit_test(test_gather),      cmocka_unit_test(test_gather_max),
	    cmocka_unit_test(test_msg_roundtrip), cmocka_unit_test(test_msg_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
