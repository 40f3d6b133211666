/* Server-reflexive discovery: retransmission, answers only from the
 * server asked with our transaction id, and the NAT classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "core/stun.h"
#include "tunnel/cand.h"
#include "tunnel/natdisc.h"

#define MS 1000000ull

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	a->sin_port = htons(port);
	return ss;
}

/* The server i answers the request it got, seeing us as `mapped`. */
static int answer(struct pn_natdisc *d, size_t i, const struct sockaddr_storage *mapped,
		  const struct sockaddr_storage *from, uint64_t now)
{
	uint8_t resp[PN_STUN_RESPONSE_MAX];
	size_t len;

	assert_int_equal(pn_stun_build_response(d->s[i].txid, (const struct sockaddr *)mapped, 1,
						resp, sizeof(resp), &len), 0);
	return pn_natdisc_input(d, (const struct sockaddr *)from, resp, len, now);
}

static void test_retransmit_and_timeout(void **st)
{
	struct pn_natdisc d;
	struct sockaddr_storage srv[2] = {sa("198.51.100.1", 3478), sa("198.51.100.2", 3478)}, to,
				m[4];
	uint8_t req[PN_STUN_REQUEST_LEN];
	unsigned sent = 0;
	size_t nm;

	(void)st;
	assert_int_equal(pn_natdisc_start(&d, srv, 2, 0), 0);
	for (uint64_t t = 0; t <= 3000 * MS; t += 10 * MS)
		while (pn_natdisc_next(&d, t, &to, req))
			sent++;
	assert_int_equal(sent, 2 * PN_NATDISC_TRIES);
	assert_true(pn_natdisc_done(&d));
	assert_int_equal(pn_natdisc_result(&d, NULL, 0, m, 4, &nm), PN_NAT_BLOCKED);
	assert_int_equal(nm, 0);
}

static void test_classify(void **st)
{
	struct sockaddr_storage srv[2] = {sa("198.51.100.1", 3478), sa("198.51.100.2", 3478)}, to,
				m[4], map1 = sa("203.0.113.5", 40000), map2 = sa("203.0.113.5", 40001),
				other = sa("198.51.100.9", 3478);
	struct pn_cand local = {.type = PN_CAND_HOST};
	uint8_t req[PN_STUN_REQUEST_LEN];
	struct pn_natdisc d;
	size_t nm;

	(void)st;
	/* same mapping from both relays: endpoint-independent */
	assert_int_equal(pn_natdisc_start(&d, srv, 2, 0), 0);
	while (pn_natdisc_next(&d, 0, &to, req))
		;
	assert_int_equal(pn_natdisc_result(&d, NULL, 0, m, 4, &nm), PN_NAT_UNKNOWN);
	assert_int_equal(answer(&d, 0, &map1, &srv[0], MS), 1);
	assert_false(pn_natdisc_done(&d));
	assert_int_equal(pn_natdisc_result(&d, NULL, 0, m, 4, &nm), PN_NAT_UNKNOWN);
	assert_int_equal(nm, 1);
	/* an answer from another address, or for server 1 from server 0, is not taken */
	assert_int_equal(answer(&d, 1, &map2, &other, MS), 0);
	assert_int_equal(answer(&d, 1, &map2, &srv[0], MS), 0);
	assert_int_equal(answer(&d, 1, &map1, &srv[1], MS), 1);
	assert_true(pn_natdisc_done(&d));
	assert_int_equal(pn_natdisc_result(&d, NULL, 0, m, 4, &nm), PN_NAT_EIM);
	assert_int_equal(nm, 1);

	/* different mappings: endpoint-dependent, both are reported */
	assert_int_equal(pn_natdisc_start(&d, srv, 2, 0), 0);
	assert_int_equal(answer(&d, 0, &map1, &srv[0], MS), 1);
	assert_int_equal(answer(&d, 1, &map2, &srv[1], MS), 1);
	assert_int_equal(pn_natdisc_result(&d, NULL, 0, m, 4, &nm), PN_NAT_EDM);
	assert_int_equal(nm, 2);

	/* our own address seen: no NAT */
	local.addr = map1;
	assert_int_equal(pn_natdisc_start(&d, srv, 2, 0), 0);
	assert_int_equal(answer(&d, 0, &map1, &srv[0], MS), 1);
	assert_int_equal(answer(&d, 1, &map1, &srv[1], MS), 1);
	assert_int_equal(pn_natdisc_result(&d, &local, 1, m, 4, &nm), PN_NAT_NONE);

	/* garbage is not consumed */
	assert_int_equal(pn_natdisc_input(&d, (struct sockaddr *)&srv[0], req, 3, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retransmit_and_timeout),
	    cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
