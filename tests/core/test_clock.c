#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"

static void test_monotonic(void **state)
{
	uint64_t a = pn_now_ns(), b;
	(void)state;
	for (int i = 0; i < 1000; i++) {
		b = pn_now_ns();
		assert_true(b >= a);
		a = b;
	}
	usleep(2000);
	b = pn_now_ns();
	assert_true(b - a >= 2 * PN_NS_PER_MS);
	/* The same clock libuv uses: uv_hrtime() and ours agree (slack for a loaded CI box). */
	a = uv_hrtime();
	b = pn_now_ns();
	assert_true(b >= a && b - a < 2 * PN_NS_PER_S);
}

static void test_wall(void **state)
{
	int64_t s = pn_wall_s(), ms = pn_wall_ms();
	time_t t = time(NULL);
	(void)state;
	assert_true(s >= 1700000000); /* after 2023: the clock is set */
	/* time() reads the kernel's coarse clock, up to a tick behind
	   CLOCK_REALTIME: just after a second turns it may still say the one
	   before (failed once in CI under ASan with t - s == -1) */
	assert_true(t - s >= -1 && t - s <= 1);
	assert_true(ms / 1000 - s >= 0 && ms / 1000 - s <= 1);
}

static void test_timeout_ms(void **state)
{
	(void)state;
	assert_true(pn_timeout_ms(PN_NO_DEADLINE, 5) == UINT64_MAX);
	assert_int_equal(pn_timeout_ms(100, 200), 0);
	assert_int_equal(pn_timeout_ms(200, 200), 0);
	assert_int_equal(pn_timeout_ms(201, 200), 1); /* rounds up: never early */
	assert_int_equal(pn_timeout_ms(200 + PN_NS_PER_MS, 200), 1);
	assert_int_equal(pn_timeout_ms(201 + PN_NS_PER_MS, 200), 2);
	assert_int_equal(pn_timeout_ms(5 * PN_NS_PER_S, 0), 5000);
	assert_true(pn_timeout_ms(UINT64_MAX - 1, 0) == (UINT64_MAX - 1) / PN_NS_PER_MS + 1);
}

/* A stand-in for a sans-I/O core: a list of deadlines it reports in turn. */
struct fake_core {
	struct pn_deadline d;
	uint64_t deadlines[4];
	uint64_t fired_at[4];
	int n, next, closed;
};

static void on_deadline(struct pn_deadline *d, uint64_t now)
{
	struct fake_core *c = d->data;
	assert_true(now >= c->deadlines[c->next]); /* never early */
	assert_true(pn_deadline_get(d) == PN_NO_DEADLINE);
	c->fired_at[c->next++] = now;
	if (c->next < c->n)
		assert_int_equal(pn_deadline_set(d, c->deadlines[c->next]), 0);
}

static void on_close(struct pn_deadline *d)
{
	((struct fake_core *)d->data)->closed++;
}

static void setup_core(uv_loop_t *loop, struct fake_core *c)
{
	*c = (struct fake_core){0};
	assert_int_equal(pn_deadline_init(loop, &c->d, on_deadline), 0);
	c->d.data = c;
	assert_true(pn_deadline_get(&c->d) == PN_NO_DEADLINE);
}

static void finish(uv_loop_t *loop, struct fake_core *c)
{
	pn_deadline_close(&c->d, on_close);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(c->closed, 1);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void test_deadline_rearm(void **state)
{
	uv_loop_t loop;
	struct fake_core c;
	uint64_t t0;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	setup_core(&loop, &c);
	t0 = pn_now_ns();
	c.n = 3;
	c.deadlines[0] = t0 + 5 * PN_NS_PER_MS + 123; /* not on a millisecond */
	c.deadlines[1] = t0 + 12 * PN_NS_PER_MS;
	c.deadlines[2] = t0 + 20 * PN_NS_PER_MS;
	assert_int_equal(pn_deadline_set(&c.d, c.deadlines[0]), 0);
	assert_true(pn_deadline_get(&c.d) == c.deadlines[0]);
	assert_int_equal(pn_deadline_set(&c.d, c.deadlines[0]), 0); /* idempotent */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(c.next, 3);
	for (int i = 0; i < 3; i++)
		assert_true(c.fired_at[i] >= c.deadlines[i] &&
			    c.fired_at[i] < c.deadlines[i] + 5 * PN_NS_PER_S);
	finish(&loop, &c);
}

static void test_deadline_disarm_and_replace(void **state)
{
	uv_loop_t loop;
	struct fake_core c;
	uint64_t t0;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	setup_core(&loop, &c);
	t0 = pn_now_ns();
	/* Disarmed: the loop has nothing to wait for and nothing fires. */
	c.n = 1;
	c.deadlines[0] = t0 + 10 * PN_NS_PER_MS;
	assert_int_equal(pn_deadline_set(&c.d, c.deadlines[0]), 0);
	assert_int_equal(pn_deadline_set(&c.d, PN_NO_DEADLINE), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(c.next, 0);
	/* A later deadline replaced by an earlier one fires at the earlier one. */
	c.deadlines[0] = t0 + 15 * PN_NS_PER_MS;
	assert_int_equal(pn_deadline_set(&c.d, t0 + 10 * PN_NS_PER_S), 0);
	assert_int_equal(pn_deadline_set(&c.d, c.deadlines[0]), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(c.next, 1);
	assert_true(c.fired_at[0] - t0 < 5 * PN_NS_PER_S);
	/* A deadline in the past fires on the next iteration. */
	c.next = 0;
	c.deadlines[0] = t0;
	assert_int_equal(pn_deadline_set(&c.d, t0), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(c.next, 1);
	finish(&loop, &c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_monotonic),
	    cmocka_unit_test(test_wall),
	    cmocka_unit_test(test_timeout_ms),
	    cmocka_unit_test(test_deadline_rearm),
	    cmocka_unit_test(test_deadline_disarm_and_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
