/* Probing through one symmetric NAT: roles, the port plan (prediction,
 * distinct random ports, range), pacing, and the odds of a hit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/secret.h"
#include "tunnel/spray.h"

#define MS 1000000ull

static void test_roles(void **st)
{
	(void)st;
	assert_int_equal(pn_spray_role(PN_NAT_EDM, PN_NAT_EIM), PN_SPRAY_HARD);
	assert_int_equal(pn_spray_role(PN_NAT_EIM, PN_NAT_EDM), PN_SPRAY_EASY);
	/* plain probing works, or nothing does */
	assert_int_equal(pn_spray_role(PN_NAT_EDM, PN_NAT_EDM), PN_SPRAY_NONE);
	assert_int_equal(pn_spray_role(PN_NAT_EIM, PN_NAT_EIM), PN_SPRAY_NONE);
	assert_int_equal(pn_spray_role(PN_NAT_NONE, PN_NAT_EDM), PN_SPRAY_NONE);
	assert_int_equal(pn_spray_role(PN_NAT_EDM, PN_NAT_NONE), PN_SPRAY_NONE);
	assert_int_equal(pn_spray_role(PN_NAT_EDM, PN_NAT_UNKNOWN), PN_SPRAY_NONE);
	assert_int_equal(pn_spray_role(PN_NAT_UNKNOWN, PN_NAT_EDM), PN_SPRAY_NONE);
	assert_int_equal(pn_spray_role(PN_NAT_EDM, PN_NAT_BLOCKED), PN_SPRAY_NONE);
}

static void check_plan(const struct pn_spray *s, const uint16_t *seen, size_t nseen)
{
	static uint8_t map[65536];

	memset(map, 0, sizeof(map));
	assert_int_equal(s->n, PN_SPRAY_PORTS);
	for (size_t i = 0; i < s->n; i++) {
		assert_true(s->port[i] >= PN_SPRAY_PORT_MIN);
		assert_int_equal(map[s->port[i]], 0); /* each port once per window */
		map[s->port[i]] = 1;
	}
	for (size_t i = 0; i < nseen; i++)
		assert_int_equal(map[seen[i]], 0); /* the relays' own mappings */
}

static void test_plan(void **st)
{
	struct pn_spray s;
	uint16_t seen[2] = {40000, 40002}, top[2] = {65535, 65400}, low[1] = {80};

	(void)st;
	assert_int_equal(pn_spray_plan(&s, seen, 2, 0), 0);
	check_plan(&s, seen, 2);
	/* prediction first: the ports after the highest mapping seen */
	assert_int_equal(s.port[0], 40003);
	for (unsigned k = 0; k < PN_SPRAY_PREDICT; k++)
		assert_int_equal(s.port[k], 40003 + k);
	/* wrapping at the top of the range */
	assert_int_equal(pn_spray_plan(&s, top, 2, 0), 0);
	check_plan(&s, top, 2);
	assert_int_equal(s.port[0], PN_SPRAY_PORT_MIN);
	/* nothing to predict from: random ports only */
	assert_int_equal(pn_spray_plan(&s, NULL, 0, 0), 0);
	check_plan(&s, NULL, 0);
	assert_int_equal(pn_spray_plan(&s, low, 1, 0), 0);
	check_plan(&s, NULL, 0);
	/* two plans differ (random part) */
	{
		struct pn_spray t;
		assert_int_equal(pn_spray_plan(&t, NULL, 0, 0), 0);
		assert_memory_not_equal(s.port, t.port, sizeof(s.port));
	}
}

static void test_pacing(void **st)
{
	struct pn_spray s;
	uint64_t t0 = 1000 * MS;
	size_t n = 0;

	(void)st;
	assert_int_equal(pn_spray_plan(&s, NULL, 0, t0), 0);
	assert_int_equal(pn_spray_next(&s, t0 - 1), -1);
	while (pn_spray_next(&s, t0) >= 0)
		n++;
	assert_int_equal(n, 1); /* one at once */
	while (pn_spray_next(&s, t0 + 100 * MS) >= 0)
		n++;
	assert_int_equal(n, 1 + 100 * PN_SPRAY_RATE / 1000); /* the rate */
	for (uint64_t t = t0 + 100 * MS; t <= t0 + 5000 * MS; t += 50 * MS)
		while (pn_spray_next(&s, t) >= 0)
			n++;
	assert_int_equal(n, PN_SPRAY_PORTS); /* all of them within the window */
	assert_true(pn_spray_done(&s));
	assert_true((PN_SPRAY_PORTS - 1) * 1000ull / PN_SPRAY_RATE < 5000);
}

/* A simulated symmetric NAT: PN_SPRAY_SOCKETS random distinct mappings;
 * a window hits when one planned port is one of them. */
static void test_odds(void **st)
{
	static uint8_t map[65536];
	unsigned miss = 0;

	(void)st;
	for (int trial = 0; trial < 100; trial++) {
		struct pn_spray s;
		uint16_t r;
		size_t k = 0;
		int hit = 0;
		memset(map, 0, sizeof(map));
		while (k < PN_SPRAY_SOCKETS) {
			assert_int_equal(pn_random(&r, sizeof(r)), 0);
			if (r >= PN_SPRAY_PORT_MIN && !map[r])
				map[r] = 1, k++;
		}
		assert_int_equal(pn_spray_plan(&s, NULL, 0, 0), 0);
		for (size_t i = 0; i < s.n && !hit; i++)
			hit = map[s.port[i]];
		miss += !hit;
	}
	/* P(miss) ~ 3e-4 per window: 4 misses in 100 would be ~3e-8 */
	assert_true(miss <= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles),
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_pacing),
	    cmocka_unit_test(test_odds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
