/*
 * Unit tests: denied peer addresses (relay/peerfilter.h) and the core's
 * use of them: a spoofed STUN request, BIND or CONFIRM from a denied
 * source gets no answer and counts drop_denied; --allow-peer lifts it.
 */
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
#include "relay/core.h"
#include "relay/peerfilter.h"
#include "relay/udpmsg.h"

static void addr(struct pn_relay_addr *a, const char *ip, int port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr),
				 1);
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	}
	pn_relay_addr_from_sa(a, (struct sockaddr *)&ss);
}

static int denied(const struct pn_relay_peerfilter *f, const char *ip)
{
	struct pn_relay_addr a;

	addr(&a, ip, 3478);
	return pn_relay_peer_denied(f, &a);
}

static void test_default_ranges(void **state)
{
	static const struct {
		const char *ip;
		int why;
	} cases[] = {
	    {"127.0.0.1", PN_RELAY_DENY_LOOPBACK},
	    {"127.255.255.254", PN_RELAY_DENY_LOOPBACK},
	    {"::1", PN_RELAY_DENY_LOOPBACK},
	    {"0.0.0.0", PN_RELAY_DENY_UNSPECIFIED},
	    {"0.1.2.3", PN_RELAY_DENY_UNSPECIFIED},
	    {"::", PN_RELAY_DENY_UNSPECIFIED},
	    {"169.254.169.254", PN_RELAY_DENY_LINKLOCAL}, /* cloud metadata */
	    {"fe80::1", PN_RELAY_DENY_LINKLOCAL},
	    {"febf::1", PN_RELAY_DENY_LINKLOCAL},
	    {"10.0.0.1", PN_RELAY_DENY_PRIVATE},
	    {"10.255.255.255", PN_RELAY_DENY_PRIVATE},
	    {"172.16.0.1", PN_RELAY_DENY_PRIVATE},
	    {"172.31.255.255", PN_RELAY_DENY_PRIVATE},
	    {"192.168.1.1", PN_RELAY_DENY_PRIVATE},
	    {"100.64.0.1", PN_RELAY_DENY_CGNAT},
	    {"100.127.255.255", PN_RELAY_DENY_CGNAT},
	    {"fc00::1", PN_RELAY_DENY_UNIQUELOCAL},
	    {"fd12:3456::1", PN_RELAY_DENY_UNIQUELOCAL},
	    {"224.0.0.1", PN_RELAY_DENY_MULTICAST},
	    {"239.255.255.250", PN_RELAY_DENY_MULTICAST},
	    {"ff02::1", PN_RELAY_DENY_MULTICAST},
	    {"240.0.0.1", PN_RELAY_DENY_RESERVED},
	    {"255.255.255.255", PN_RELAY_DENY_RESERVED},
	    /* IPv4-mapped: judged as the IPv4 address */
	    {"::ffff:10.1.2.3", PN_RELAY_DENY_PRIVATE},
	    {"::ffff:127.0.0.1", PN_RELAY_DENY_LOOPBACK},
	    {"::ffff:198.51.100.7", PN_RELAY_PEER_OK},
	    /* public (and the edges just outside each range) */
	    {"198.51.100.7", PN_RELAY_PEER_OK},
	    {"8.8.8.8", PN_RELAY_PEER_OK},
	    {"11.0.0.1", PN_RELAY_PEER_OK},
	    {"172.15.255.255", PN_RELAY_PEER_OK},
	    {"172.32.0.0", PN_RELAY_PEER_OK},
	    {"100.63.255.255", PN_RELAY_PEER_OK},
	    {"100.128.0.0", PN_RELAY_PEER_OK},
	    {"169.253.1.1", PN_RELAY_PEER_OK},
	    {"192.169.0.1", PN_RELAY_PEER_OK},
	    {"223.255.255.255", PN_RELAY_PEER_OK},
	    {"2001:db8::1", PN_RELAY_PEER_OK},
	    {"fec0::1", PN_RELAY_PEER_OK},
	    {"fbff::1", PN_RELAY_PEER_OK},
	};
	struct pn_relay_peerfilter f;
	struct pn_relay_addr a;

	(void)state;
	pn_relay_peerfilter_init(&f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = denied(&f, cases[i].ip);
		if (got != cases[i].why)
			fail_msg("%s: got %s, want %s", cases[i].ip, pn_relay_deny_name(got),
				 pn_relay_deny_name(cases[i].why));
	}
	/* port 0 cannot be answered, allowed or not */
	addr(&a, "198.51.100.7", 0);
	assert_int_equal(pn_relay_peer_denied(&f, &a), PN_RELAY_DENY_UNSPECIFIED);
	assert_int_equal(pn_relay_peerfilter_allow(&f, "0.0.0.0/0"), 0);
	assert_int_equal(pn_relay_peer_denied(&f, &a), PN_RELAY_DENY_UNSPECIFIED);
	memset(&a, 0, sizeof(a)); /* no family */
	assert_int_equal(pn_relay_peer_denied(&f, &a), PN_RELAY_DENY_UNSPECIFIED);
}

static void test_allow_and_own(void **state)
{
	struct pn_relay_peerfilter f;
	uint8_t own4[4] = {198, 51, 100, 1}, own6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 9};

	(void)state;
	pn_relay_peerfilter_init(&f);
	assert_int_equal(pn_relay_peerfilter_allow(&f, "10.201.0.0/16"), 0);
	assert_int_equal(pn_relay_peerfilter_allow(&f, "::1"), 0);
	assert_int_equal(pn_relay_peerfilter_allow(&f, "fd00::/8"), 0);
	assert_int_equal(denied(&f, "10.201.1.2"), 0);
	assert_int_equal(denied(&f, "::ffff:10.201.1.2"), 0); /* dual-stack socket */
	assert_int_equal(denied(&f, "10.202.1.2"), PN_RELAY_DENY_PRIVATE);
	assert_int_equal(denied(&f, "::1"), 0);
	assert_int_equal(denied(&f, "127.0.0.1"), PN_RELAY_DENY_LOOPBACK);
	assert_int_equal(denied(&f, "fd00::5"), 0);
	assert_int_equal(denied(&f, "fc00::5"), PN_RELAY_DENY_UNIQUELOCAL);
	/* own addresses: denied although public, unless allowed */
	assert_int_equal(pn_relay_peerfilter_add_own(&f, AF_INET, own4), 0);
	assert_int_equal(pn_relay_peerfilter_add_own(&f, AF_INET6, own6), 0);
	assert_int_equal(denied(&f, "198.51.100.1"), PN_RELAY_DENY_OWN);
	assert_int_equal(denied(&f, "::ffff:198.51.100.1"), PN_RELAY_DENY_OWN);
	assert_int_equal(denied(&f, "2001:db8::9"), PN_RELAY_DENY_OWN);
	assert_int_equal(denied(&f, "198.51.100.2"), 0);
	assert_int_equal(pn_relay_peerfilter_allow(&f, "198.51.100.1/32"), 0);
	assert_int_equal(denied(&f, "198.51.100.1"), 0);
	/* the host's own interfaces: loopback is among them */
	pn_relay_peerfilter_init(&f);
	assert_int_equal(pn_relay_peerfilter_load_own(&f), 0);
	assert_true(f.nown >= 1);
	/* caps */
	pn_relay_peerfilter_init(&f);
	for (int i = 0; i < PN_RELAY_ALLOW_MAX; i++)
		assert_int_equal(pn_relay_peerfilter_allow(&f, "10.0.0.0/8"), 0);
	assert_int_equal(pn_relay_peerfilter_allow(&f, "10.0.0.0/8"), PN_E_TOOBIG);
}

static void test_cidr_parse(void **state)
{
	static const char *const good[] = {
	    "10.0.0.0/8",    "0.0.0.0/0", "::/0",	   "::1",	  "192.168.1.7",
	    "172.16.0.0/12", "fd00::/8",  "2001:db8::/32", "10.1.2.3/32", "fe80::/10"};
	static const char *const bad[] = {
	    "",		  "/8",		  "10.0.0.0/",	   "10.0.0.0/33", "::/129",
	    "10.1.2.3/8", "fd00::1/8",	  "10.0.0.0/-1",   "10.0.0.0/+8", "10.0.0.0/8x",
	    "10.0.0/8",	  "host.example", "10.0.0.0/0008", "[::1]",	  "::1/ 64",
	    "1.2.3.4 "};
	struct pn_relay_cidr c;
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (pn_relay_cidr_parse(good[i], &c))
			fail_msg("refused '%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pn_relay_cidr_parse(bad[i], &c) != PN_E_CONFIG)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(pn_relay_cidr_parse("172.16.0.0/12", &c), 0);
	pn_relay_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "172.16.0.0/12");
	assert_int_equal(pn_relay_cidr_parse("::1", &c), 0);
	pn_relay_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "::1/128");
}

/* ---- the core: nothing is answered to a denied source ---- */

static int no_frame(void *c, const uint8_t *p, size_t n, void *u)
{
	return 0;
}
static int no_data(void *c, const uint8_t *h, size_t hn, const uint8_t *p, size_t n, void *u)
{
	return 0;
}
static int no_udp(const struct pn_relay_addr *to, const struct iovec *iov, int n, void *u)
{
	fail_msg("the core sent UDP");
	return 0;
}
static void no_kick(void *c, int err, void *u)
{
}
static int no_auth(void *c, const uint8_t id[PN_RELAY_ID_LEN], const uint8_t *acl, size_t n,
		   uint64_t now, void *u)
{
	return PN_E_RELAY_NOT_AUTHORIZED;
}
static const struct pn_relay_core_ops ops = {.send_frame = no_frame,
					     .send_data = no_data,
					     .send_udp = no_udp,
					     .kick = no_kick,
					     .authorize = no_auth};

static void test_core_refuses_denied(void **state)
{
	uint8_t req[PN_STUN_REQUEST_LEN], txid[PN_STUN_TXID_LEN] = {1, 2, 3};
	uint8_t reply[PN_RELAY_REPLY_MAX], bind[PN_RELAY_BIND_LEN], confirm[PN_RELAY_CONFIRM_LEN];
	uint8_t sid[PN_RELAY_SID_LEN] = {7}, secret[PN_RELAY_SECRET_LEN] = {0};
	uint8_t cookie[PN_RELAY_COOKIE_LEN] = {0};
	static const char *const spoofed[] = {
	    "127.0.0.1", "10.0.0.5", "192.168.1.1", "169.254.169.254",	"100.64.1.1",
	    "fd00::1",	 "::1",	     "224.0.0.251", "::ffff:172.16.0.9"};
	struct pn_relay_limits lim;
	struct pn_relay_core *core;
	struct pn_relay_peerfilter f;
	struct pn_relay_route rt;
	struct pn_relay_addr a;
	struct sockaddr_storage ss;
	const struct pn_relay_stats *st;

	(void)state;
	pn_relay_limits_default(&lim);
	assert_int_equal(pn_relay_core_new(&lim, &ops, NULL, &core), 0);
	st = pn_relay_core_stats(core);
	pn_relay_peerfilter_init(&f);
	pn_relay_core_set_peerfilter(core, &f);
	pn_stun_build_request(txid, req);
	pn_relay_bind_encode(bind, sid, PN_RELAY_SIDE_CLIENT, 1, secret);
	pn_relay_confirm_encode(confirm, sid, PN_RELAY_SIDE_CLIENT, 1, cookie, secret);
	for (size_t i = 0; i < sizeof(spoofed) / sizeof(spoofed[0]); i++) {
		addr(&a, spoofed[i], 53);
		pn_relay_addr_to_sa(&a, &ss);
		pn_relay_core_udp(core, &a, (struct sockaddr *)&ss, req, sizeof(req), 1, reply,
				  &rt);
		if (rt.kind != PN_RELAY_ROUTE_DROP)
			fail_msg("STUN from %s answered", spoofed[i]);
		pn_relay_core_udp(core, &a, (struct sockaddr *)&ss, bind, sizeof(bind), 1, reply,
				  &rt);
		assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
		pn_relay_core_udp(core, &a, (struct sockaddr *)&ss, confirm, sizeof(confirm), 1,
				  reply, &rt);
		assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	}
	assert_int_equal(st->drop_denied, 3 * (sizeof(spoofed) / sizeof(spoofed[0])));
	assert_int_equal(st->stun, 0);
	assert_int_equal(st->binds_bad, 0); /* refused before any look at the session */
	/* A public source is answered. */
	addr(&a, "198.51.100.7", 5000);
	pn_relay_addr_to_sa(&a, &ss);
	pn_relay_core_udp(core, &a, (struct sockaddr *)&ss, req, sizeof(req), 1, reply, &rt);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	/* Allowed (a lab): answered. */
	assert_int_equal(pn_relay_peerfilter_allow(&f, "10.0.0.0/8"), 0);
	addr(&a, "10.0.0.5", 5000);
	pn_relay_addr_to_sa(&a, &ss);
	pn_relay_core_udp(core, &a, (struct sockaddr *)&ss, req, sizeof(req), 1, reply, &rt);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	assert_int_equal(st->stun, 2);
	pn_relay_core_free(core);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_ranges),
	    cmocka_unit_test(test_allow_and_own),
	    cmocka_unit_test(test_cidr_parse),
	    cmocka_unit_test(test_core_refuses_denied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
