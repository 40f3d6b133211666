/*
 * pn_turnq: work queued during a loop turn runs in that same turn, after
 * the turn's callbacks (no second poll, no timer), once per node however
 * often it was added; a removed node does not run; an empty queue leaves
 * no active handle (the loop can end); work queued by work runs too;
 * after close, adding runs the work at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/turnq.h"

struct obj {
	int runs;
	uint64_t ran_in_turn, ran_ns;
	struct pn_turnq_node turn;
	struct obj *chain; /* queued by this one's work */
};

static struct pn_turnq *the_q;
static uint64_t turn_no; /* counted by a prepare handle: one per loop turn */

static void work(struct pn_turnq_node *n)
{
	struct obj *o = PN_TURNQ_OWNER(n, struct obj, turn);

	o->runs++;
	o->ran_in_turn = turn_no;
	o->ran_ns = uv_hrtime();
	if (o->chain)
		pn_turnq_add(the_q, &o->chain->turn);
}

static void on_prepare(uv_prepare_t *h)
{
	(void)h;
	turn_no++;
}

struct env {
	uv_loop_t loop;
	uv_prepare_t prep;
	struct pn_turnq q;
	struct obj a, b, c, d;
	uint64_t added_in_turn, added_ns;
};

static void on_timer(uv_timer_t *t)
{
	struct env *e = t->data;

	e->added_in_turn = turn_no;
	e->added_ns = uv_hrtime();
	pn_turnq_add(&e->q, &e->a.turn);
	pn_turnq_add(&e->q, &e->a.turn); /* twice: runs once */
	pn_turnq_add(&e->q, &e->b.turn);
	pn_turnq_add(&e->q, &e->c.turn);
	pn_turnq_remove(&e->q, &e->c.turn); /* taken back: never runs */
	assert_true(uv_is_active((uv_handle_t *)&e->q.check));
}

/* The work queued from the timer (before the poll) must not wait for
   the poll to return: only this timer would end that wait. */
static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	fail_msg("queued work did not run: the loop blocked in its poll");
}

static void closed(uv_handle_t *h)
{
	int *n = h->data;
	(*n)++;
}

static void test_same_turn(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	uv_timer_t t, dog;
	int nclosed = 0;

	(void)state;
	assert_non_null(e);
	the_q = &e->q;
	turn_no = 0;
	assert_int_equal(uv_loop_init(&e->loop), 0);
	uv_prepare_init(&e->loop, &e->prep);
	uv_prepare_start(&e->prep, on_prepare);
	uv_unref((uv_handle_t *)&e->prep);
	pn_turnq_init(&e->loop, &e->q, work);
	e->q.check.data = &nclosed;
	/* an empty queue keeps nothing active */
	assert_false(uv_is_active((uv_handle_t *)&e->q.check));
	e->a.chain = &e->d; /* a's work queues d: d runs in the same pass */
	uv_timer_init(&e->loop, &t);
	t.data = e;
	uv_timer_start(&t, on_timer, 1, 0);
	uv_timer_init(&e->loop, &dog);
	uv_timer_start(&dog, on_watchdog, 3000, 0);
	uv_unref((uv_handle_t *)&dog); /* fires only if the loop blocks */
	/* the loop ends by itself: once the timer fired and the queue ran,
	   nothing is active */
	assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(e->a.runs, 1);
	assert_int_equal(e->b.runs, 1);
	assert_int_equal(e->c.runs, 0);
	assert_int_equal(e->d.runs, 1);
	/* the turn that fired the timer ran the work (its prepare phase,
	   between the timers and the check, counted once): no further turn */
	assert_int_equal(e->a.ran_in_turn, e->added_in_turn + 1);
	assert_int_equal(e->b.ran_in_turn, e->added_in_turn + 1);
	assert_int_equal(e->d.ran_in_turn, e->added_in_turn + 1);
	/* and the poll between did not block (it would until the watchdog's
	   3 s: 1 s is a bound no loaded machine reaches) */
	assert_true(e->d.ran_ns - e->added_ns < 1000000000ull);
	assert_false(e->a.turn.queued);
	assert_false(uv_is_active((uv_handle_t *)&e->q.check));

	/* queued when closing: dropped, not run; added after: runs at once */
	pn_turnq_add(&e->q, &e->b.turn);
	pn_turnq_close(&e->q, closed);
	assert_false(e->b.turn.queued);
	assert_int_equal(e->b.runs, 1);
	pn_turnq_add(&e->q, &e->c.turn);
	assert_int_equal(e->c.runs, 1);
	assert_false(e->c.turn.queued);
	uv_close((uv_handle_t *)&t, NULL);
	uv_close((uv_handle_t *)&dog, NULL);
	uv_close((uv_handle_t *)&e->prep, NULL);
	assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(nclosed, 1);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_turn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
