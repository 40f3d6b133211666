/*
 * Admission caps of the relay's stream listener (relay/admit.h, sans-I/O):
 * the per-source cap on unauthenticated connections, the oldest pending
 * connection making room when the table is full, release from anywhere in
 * the list, and the cap on authenticated peers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "relay/admit.h"

static void ip(uint8_t out[16], uint8_t last)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff; /* v4-mapped 10.0.0.last */
	out[12] = 10;
	out[15] = last;
}

static void test_per_source_cap(void **st)
{
	struct pn_admit a;
	struct pn_admit_entry e[5];
	uint8_t x[16], y[16];

	(void)st;
	memset(e, 0, sizeof(e));
	ip(x, 1);
	ip(y, 2);
	assert_int_equal(pn_admit_init(&a, 100, 2, 10), 0);
	assert_int_equal(pn_admit_pending(&a, &e[0], x), 0);
	assert_int_equal(pn_admit_pending(&a, &e[1], x), 0);
	assert_int_equal(pn_admit_pending(&a, &e[2], x), PN_E_RELAY_LIMIT);
	assert_null(e[2].ip); /* not pending: nothing to release */
	assert_int_equal(a.refused_pending, 1);
	assert_int_equal(pn_admit_pending(&a, &e[3], y), 0); /* another source */
	assert_int_equal(a.npending, 3);
	/* one of x's handshakes finishes: x may start another */
	pn_admit_release(&a, &e[0]);
	pn_admit_release(&a, &e[0]); /* twice: nothing */
	assert_int_equal(a.npending, 2);
	assert_int_equal(pn_admit_pending(&a, &e[4], x), 0);
	/* every entry of x gone: its counter is freed and starts over */
	pn_admit_release(&a, &e[1]);
	pn_admit_release(&a, &e[4]);
	memset(&e[0], 0, sizeof(e[0]));
	memset(&e[1], 0, sizeof(e[1]));
	assert_int_equal(pn_admit_pending(&a, &e[0], x), 0);
	assert_int_equal(pn_admit_pending(&a, &e[1], x), 0);
	assert_int_equal(a.npending, 3);
	pn_admit_fini(&a);
}

static void test_oldest_makes_room(void **st)
{
	struct pn_admit a;
	struct pn_admit_entry e[5];
	uint8_t x[16];

	(void)st;
	memset(e, 0, sizeof(e));
	assert_int_equal(pn_admit_init(&a, 3, 8, 10), 0);
	for (int i = 0; i < 3; i++) {
		assert_null(pn_admit_make_room(&a));
		ip(x, (uint8_t)i);
		assert_int_equal(pn_admit_pending(&a, &e[i], x), 0);
	}
	/* full: the oldest goes, already released */
	assert_ptr_equal(pn_admit_make_room(&a), &e[0]);
	assert_null(e[0].ip);
	assert_int_equal(a.npending, 2);
	assert_int_equal(a.refused_pending, 1);
	ip(x, 3);
	assert_int_equal(pn_admit_pending(&a, &e[3], x), 0);
	/* a release from the middle keeps the order: e[2] is the oldest after e[1] */
	pn_admit_release(&a, &e[1]);
	ip(x, 4);
	assert_int_equal(pn_admit_pending(&a, &e[4], x), 0);
	assert_ptr_equal(pn_admit_make_room(&a), &e[2]);
	assert_ptr_equal(a.oldest, &e[3]);
	assert_ptr_equal(a.newest, &e[4]);
	pn_admit_release(&a, &e[3]);
	pn_admit_release(&a, &e[4]);
	assert_int_equal(a.npending, 0);
	assert_null(a.oldest);
	assert_null(a.newest);
	pn_admit_fini(&a);

	/* no pending table at all: full, nothing to evict */
	assert_int_equal(pn_admit_init(&a, 0, 8, 10), 0);
	assert_null(pn_admit_make_room(&a));
	assert_int_equal(a.refused_pending, 1);
	pn_admit_fini(&a);
}

static void test_peer_cap(void **st)
{
	struct pn_admit a;

	(void)st;
	assert_int_equal(pn_admit_init(&a, 4, 4, 2), 0);
	assert_int_equal(pn_admit_peer(&a), 0);
	assert_int_equal(pn_admit_peer(&a), 0);
	assert_int_equal(pn_admit_peer(&a), PN_E_RELAY_LIMIT);
	assert_int_equal(a.nconns, 2);
	pn_admit_peer_gone(&a);
	assert_int_equal(pn_admit_peer(&a), 0);
	pn_admit_peer_gone(&a);
	pn_admit_peer_gone(&a);
	pn_admit_peer_gone(&a); /* never below zero */
	assert_int_equal(a.nconns, 0);
	pn_admit_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_source_cap),
	    cmocka_unit_test(test_oldest_makes_room),
	    cmocka_unit_test(test_peer_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
