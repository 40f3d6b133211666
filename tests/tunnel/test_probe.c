/* Keyed probes (codec, MAC, no amplification) and their pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "tunnel/probe.h"
#include "tunnel/probesched.h"

#define MS 1000000ull

static void test_probe_codec(void **st)
{
	uint8_t k1[PN_PROBE_KEY_LEN], k2[PN_PROBE_KEY_LEN], p[PN_PROBE_LEN];
	uint64_t token, txid;
	int type;

	(void)st;
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	pn_probe_build(p, PN_PROBE_REQ, 42, 7, k1);
	assert_true(pn_probe_is(p, sizeof(p)));
	assert_false(pn_probe_is(p, sizeof(p) - 1));
	assert_false((p[0] & 0x40)); /* never a QUIC packet (fixed bit) */
	assert_int_equal(pn_probe_parse(p, sizeof(p), &type, &token, &txid), 0);
	assert_int_equal(type, PN_PROBE_REQ);
	assert_true(token == 42 && txid == 7);
	assert_int_equal(pn_probe_verify(p, sizeof(p), k1), 0);
	assert_int_equal(pn_probe_verify(p, sizeof(p), k2), PN_E_SIGNATURE);
	/* every single bit flip is caught (layout or MAC) */
	for (size_t i = 0; i < sizeof(p) * 8; i++) {
		p[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_true(pn_probe_parse(p, sizeof(p), &type, &token, &txid) != 0 ||
			    pn_probe_verify(p, sizeof(p), k1) != 0);
		p[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	p[4] = 3;
	assert_int_equal(pn_probe_parse(p, sizeof(p), &type, &token, &txid), PN_E_MALFORMED);
}

static void test_answer_same_size(void **st)
{
	uint8_t k[PN_PROBE_KEY_LEN] = {9}, req[PN_PROBE_LEN], ans[PN_PROBE_LEN];

	(void)st;
	pn_probe_build(req, PN_PROBE_REQ, 1, 2, k);
	pn_probe_build(ans, PN_PROBE_ANS, 3, 2, k);
	/* the answer has the probe's size exactly: no amplification */
	assert_int_equal(sizeof(ans), sizeof(req));
}

static void test_sched_pacing(void **st)
{
	struct pn_probesched s;
	unsigned per[3] = {0};
	uint64_t t0 = 1000 * MS, last[3] = {0};

	(void)st;
	pn_probesched_start(&s, 3, t0);
	/* all three at once at the start */
	assert_int_equal(pn_probesched_next(&s, t0), 0);
	assert_int_equal(pn_probesched_next(&s, t0), 1);
	assert_int_equal(pn_probesched_next(&s, t0), 2);
	assert_int_equal(pn_probesched_next(&s, t0), -1);
	assert_true(pn_probesched_expiry(&s) == t0 + 200 * MS);
	/* a 1 ms clock for 7 s: never two probes to one pair within 200 ms,
	   none after 5 s */
	for (uint64_t t = t0 + MS; t < t0 + 7000 * MS; t += MS) {
		int i;
		while ((i = pn_probesched_next(&s, t)) >= 0) {
			assert_true(t - last[i] >= 200 * MS);
			assert_true(t < t0 + 5000 * MS);
			last[i] = t;
			per[i]++;
		}
	}
	for (int i = 0; i < 3; i++)
		assert_true(per[i] >= 23 && per[i] <= 25);
	assert_false(s.active);
	assert_true(pn_probesched_expiry(&s) == UINT64_MAX);
}

static void test_sched_bounds(void **st)
{
	struct pn_probesched s;
	int seen = 0;

	(void)st;
	pn_probesched_start(&s, 100, 0); /* capped */
	assert_int_equal(s.n, PN_P2P_MAX_CANDS);
	while (pn_probesched_next(&s, 0) >= 0)
		seen++;
	assert_int_equal(seen, PN_P2P_MAX_CANDS);
	pn_probesched_stop(&s);
	assert_int_equal(pn_probesched_next(&s, 500 * MS), -1);
	pn_probesched_start(&s, 0, 0);
	assert_int_equal(pn_probesched_next(&s, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_codec),
	    cmocka_unit_test(test_answer_same_size),
	    cmocka_unit_test(test_sched_pacing),
	    cmocka_unit_test(test_sched_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
