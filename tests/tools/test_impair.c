/* The impairment tool's core (tests/tools/impair_core.h): draws, delays,
   release order, duplicates, overflow and counters, with no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "impair_core.h"

#define MS 1000ull

static const struct imp_params HARSH = {
	.loss_ppm = 200000, .dup_ppm = 10000, .reorder_ppm = 250000,
	.delay_us = 300 * MS, .jitter_us = 100 * MS, .dist = IMP_UNIFORM,
};

/* Feed n packets 1 ms apart, releasing what is due as time goes; returns
   the release order of original packets (tags) in *order (n entries max). */
static size_t run(struct imp *m, size_t n, uint64_t *order, uint64_t *dups)
{
	struct imp_event ev;
	struct imp_decision d;
	size_t k = 0;
	uint64_t t;

	*dups = 0;
	for (t = 0; t < n * MS || m->n; t += MS) {
		if (t < n * MS) {
			imp_packet(m, t, t / MS, &d);
			if (d.dup)
				imp_dup(m, t, &d, 1000000 + t / MS);
			assert_true(d.drop || d.held);
		}
		while (imp_pop_due(m, t, &ev)) {
			assert_true(ev.due_us <= t);
			if (ev.kind == IMP_EV_DUP)
				(*dups)++;
			else
				order[k++] = ev.tag;
		}
	}
	return k;
}

static void test_harsh_rates(void **state)
{
	enum { N = 200000 };
	struct imp m;
	uint64_t *order = calloc(N, sizeof(*order)), dups;
	size_t k;
	double drop, reo, dupr, mean;

	(void)state;
	assert_non_null(order);
	assert_int_equal(imp_init(&m, &HARSH, 42, 1 << 20), 0);
	k = run(&m, N, order, &dups);
	drop = (double)m.c.dropped / N;
	dupr = (double)dups / (double)k;
	reo = (double)m.c.reorder_draws / (double)k;
	mean = (double)m.c.delay_sum_us / (double)k / 1000.0;
	assert_int_equal(m.c.seen, N);
	assert_int_equal(k + m.c.dropped, N);
	assert_int_equal(m.c.released, k);
	assert_int_equal(m.c.dups_released, dups);
	assert_true(drop > 0.195 && drop < 0.205);
	assert_true(dupr > 0.008 && dupr < 0.012);
	assert_true(reo > 0.245 && reo < 0.255);
	/* 75% at 300 ± 100 ms, 25% at 0 */
	assert_true(mean > 220 && mean < 230);
	/* with jitter far above the 1 ms gap, many go out of order */
	assert_true(m.c.out_of_order > k / 4);
	assert_int_equal(m.c.overflow, 0);
	assert_true(m.c.max_held > 150 && m.c.max_held < 300);
	imp_free(&m);
	free(order);
}

/* Same seed, same decisions; another seed, others. */
static void test_seeded(void **state)
{
	enum { N = 5000 };
	struct imp a, b, c;
	uint64_t *oa = calloc(N, 8), *ob = calloc(N, 8), *oc = calloc(N, 8), da, db, dc;
	size_t ka, kb, kc;

	(void)state;
	assert_int_equal(imp_init(&a, &HARSH, 7, 1 << 16), 0);
	assert_int_equal(imp_init(&b, &HARSH, 7, 1 << 16), 0);
	assert_int_equal(imp_init(&c, &HARSH, 8, 1 << 16), 0);
	ka = run(&a, N, oa, &da);
	kb = run(&b, N, ob, &db);
	kc = run(&c, N, oc, &dc);
	assert_int_equal(ka, kb);
	assert_int_equal(da, db);
	assert_memory_equal(oa, ob, ka * 8);
	assert_true(ka != kc || memcmp(oa, oc, ka * 8) != 0);
	imp_free(&a);
	imp_free(&b);
	imp_free(&c);
	free(oa);
	free(ob);
	free(oc);
}

/* No jitter, no reorder: FIFO, every packet exactly delay late. */
static void test_fixed_delay_keeps_order(void **state)
{
	struct imp_params p = {.delay_us = 50 * MS};
	struct imp m;
	struct imp_decision d;
	struct imp_event ev;
	uint64_t t, next = 0;

	(void)state;
	assert_int_equal(imp_init(&m, &p, 1, 1024), 0);
	for (t = 0; t < 100 * MS; t += MS) {
		imp_packet(&m, t, t / MS, &d);
		assert_false(d.drop);
		assert_int_equal(d.due_us, t + 50 * MS);
	}
	assert_int_equal(imp_next_due(&m), 50 * MS);
	assert_false(imp_pop_due(&m, 50 * MS - 1, &ev));
	for (t = 50 * MS; t < 200 * MS; t += MS)
		while (imp_pop_due(&m, t, &ev)) {
			assert_int_equal(ev.tag, next);
			assert_int_equal(ev.due_us, next * MS + 50 * MS);
			next++;
		}
	assert_int_equal(next, 100);
	assert_int_equal(m.c.out_of_order, 0);
	assert_int_equal(imp_next_due(&m), UINT64_MAX);
	imp_free(&m);
}

/* Reorder 100% with reorder_delay 0: everything overtakes nothing (all
   immediate); reorder 50% with no jitter: the immediate ones overtake the
   held ones and the held ones are counted out of order. */
static void test_reorder(void **state)
{
	struct imp_params p = {.delay_us = 100 * MS, .reorder_ppm = 500000};
	struct imp m;
	uint64_t order[2000], dups;
	size_t k, i, late = 0;

	(void)state;
	assert_int_equal(imp_init(&m, &p, 3, 4096), 0);
	k = run(&m, 2000, order, &dups);
	assert_int_equal(k, 2000);
	for (i = 1; i < k; i++)
		late += order[i] < order[i - 1];
	assert_true(m.c.reorder_draws > 900 && m.c.reorder_draws < 1100);
	assert_true(m.c.out_of_order > 800);
	assert_true(late > 0);
	imp_free(&m);

	/* late packets: reorder_delay above the delay */
	p.reorder_delay_us = 400 * MS;
	p.reorder_ppm = 100000;
	assert_int_equal(imp_init(&m, &p, 3, 4096), 0);
	k = run(&m, 2000, order, &dups);
	assert_int_equal(k, 2000);
	assert_true(m.c.out_of_order > 150 && m.c.out_of_order < 250);
	imp_free(&m);
}

/* Normal distribution: mean and spread, and never negative. */
static void test_normal(void **state)
{
	struct imp_params p = {.delay_us = 300 * MS, .jitter_us = 100 * MS, .dist = IMP_NORMAL};
	struct imp m;
	struct imp_decision d;
	double sum = 0, sq = 0, x, mean, sd;
	int i, n = 100000, within = 0;

	(void)state;
	assert_int_equal(imp_init(&m, &p, 11, (size_t)n), 0);
	for (i = 0; i < n; i++) {
		imp_packet(&m, 0, (uint64_t)i, &d);
		x = (double)d.due_us / 1000.0;
		assert_true(x >= 0);
		sum += x;
		sq += x * x;
		within += x >= 200 && x <= 400;
	}
	mean = sum / n;
	sd = __builtin_sqrt(sq / n - mean * mean);
	assert_true(mean > 297 && mean < 303);
	assert_true(sd > 97 && sd < 103);
	assert_true(within > n * 0.66 && within < n * 0.70); /* ±1 sigma */
	imp_free(&m);
}

/* The held set full: released at once (fail open) and counted. */
static void test_overflow(void **state)
{
	struct imp_params p = {.delay_us = 10 * MS, .dup_ppm = 1000000};
	struct imp m;
	struct imp_decision d;
	struct imp_event ev;
	int i, held = 0, open = 0, dups = 0;

	(void)state;
	assert_int_equal(imp_init(&m, &p, 5, 8), 0);
	for (i = 0; i < 10; i++) {
		imp_packet(&m, 0, (uint64_t)i, &d);
		assert_false(d.drop);
		assert_true(d.dup);
		d.held ? held++ : open++;
		dups += imp_dup(&m, 0, &d, 100);
	}
	assert_int_equal(held + dups, 8);
	assert_int_equal(m.c.overflow, (uint64_t)(open + (10 - dups)));
	assert_int_equal(m.c.max_held, 8);
	i = 0;
	while (imp_pop_any(&m, &ev))
		i++;
	assert_int_equal(i, 8);
	imp_free(&m);
}

static void test_parse_pct(void **state)
{
	(void)state;
	assert_int_equal(imp_parse_pct("20"), 200000);
	assert_int_equal(imp_parse_pct("20%"), 200000);
	assert_int_equal(imp_parse_pct("0.5"), 5000);
	assert_int_equal(imp_parse_pct("100"), 1000000);
	assert_int_equal(imp_parse_pct("0"), 0);
	assert_int_equal(imp_parse_pct("101"), -1);
	assert_int_equal(imp_parse_pct("-1"), -1);
	assert_int_equal(imp_parse_pct("x"), -1);
	assert_int_equal(imp_parse_pct("5x"), -1);
	assert_int_equal(imp_parse_pct(""), -1);
	assert_int_equal(imp_parse_pct("nan"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_harsh_rates),   cmocka_unit_test(test_seeded),
		cmocka_unit_test(test_fixed_delay_keeps_order), cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_normal),	      cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_parse_pct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
