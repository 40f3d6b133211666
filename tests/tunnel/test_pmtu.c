/* Path MTU discovery core (tunnel/pmtu.h) driven by synthetic probe
 * acknowledgements, losses, loss episodes and timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/pmtu.h"

#define MS 1000000ull
#define PTO (30 * MS)

/* The path: datagrams up to `mtu` bytes arrive, larger ones are lost. */
struct net {
	size_t mtu;
	uint64_t now;
};

/* Send every probe that is due; ack or lose it as the path would (the
 * ack or loss is reported one RTT later: here at once, clock +10 ms). */
static int pump(struct pn_pmtu *m, struct net *n)
{
	size_t size;
	uint64_t id;
	int sent = 0;
	uint64_t ids[2];
	size_t sizes[2];

	while (sent < 2 && pn_pmtu_want(m, n->now, &size, &id)) {
		pn_pmtu_sent(m, id, size, PTO, n->now);
		ids[sent] = id;
		sizes[sent++] = size;
	}
	n->now += 10 * MS;
	for (int i = 0; i < sent; i++) {
		if (sizes[i] <= n->mtu)
			pn_pmtu_acked(m, ids[i], n->now);
		else
			pn_pmtu_lost(m, ids[i], n->now);
	}
	return sent;
}

static void run_search(struct pn_pmtu *m, struct net *n)
{
	for (int i = 0; i < 40 && m->state == PN_PMTU_SEARCH; i++)
		assert_true(pump(m, n) > 0);
	assert_int_equal(m->state, PN_PMTU_DONE);
}

static void test_full_path(void **st)
{
	struct pn_pmtu m;
	struct net n = {.mtu = 1452, .now = 1000 * MS};
	size_t size;
	uint64_t id;

	(void)st;
	pn_pmtu_init(&m, 1452, n.now);
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
	/* the ceiling first: one probe and done */
	assert_int_equal(pn_pmtu_want(&m, n.now, &size, &id), 1);
	assert_int_equal(size, 1452);
	assert_true(id & PN_PMTU_ID_TAG);
	/* asked again before it is sent: the same probe */
	uint64_t id2;
	assert_int_equal(pn_pmtu_want(&m, n.now, &size, &id2), 1);
	assert_int_equal(id2, id);
	pn_pmtu_sent(&m, id, 1452, PTO, n.now);
	assert_int_equal(pn_pmtu_want(&m, n.now, &size, &id2), 0); /* in flight */
	assert_int_equal(pn_pmtu_expiry(&m), n.now + 100 * MS);	    /* 3 PTO < 100 ms */
	pn_pmtu_acked(&m, id, n.now + 5 * MS);
	assert_int_equal(m.state, PN_PMTU_DONE);
	assert_int_equal(pn_pmtu_size(&m), 1452);
	assert_int_equal(pn_pmtu_expiry(&m), UINT64_MAX); /* at the ceiling: no raise timer */
	/* ids of other datagrams and unknown probes change nothing */
	pn_pmtu_acked(&m, 7, n.now);
	pn_pmtu_lost(&m, PN_PMTU_ID_TAG | 999, n.now);
	assert_int_equal(pn_pmtu_size(&m), 1452);
}

static void test_short_probe(void **st)
{
	struct pn_pmtu m;
	size_t size;
	uint64_t id;

	(void)st;
	/* the packet came out 3 bytes short (packet number length): that
	   length is what is validated, and it counts as the ceiling */
	pn_pmtu_init(&m, 1452, 0);
	assert_int_equal(pn_pmtu_want(&m, 0, &size, &id), 1);
	pn_pmtu_sent(&m, id, 1449, PTO, 0);
	pn_pmtu_acked(&m, id, MS);
	assert_int_equal(pn_pmtu_size(&m), 1449);
	assert_int_equal(m.state, PN_PMTU_DONE);
	assert_int_equal(pn_pmtu_expiry(&m), UINT64_MAX);
}

static void test_binary_search(void **st)
{
	struct pn_pmtu m;
	struct net n = {.mtu = 1280 - 28, .now = 0}; /* a 1,280-byte IPv4 path */

	(void)st;
	pn_pmtu_init(&m, 1452, 0);
	run_search(&m, &n);
	assert_true(pn_pmtu_size(&m) <= 1252);
	assert_true(pn_pmtu_size(&m) > 1252 - PN_PMTU_STEP);
	/* every failed size cost PN_PMTU_TRIES lost probes */
	assert_int_equal(m.probes_lost % PN_PMTU_TRIES, 0);
	/* below the ceiling: searched again after the raise timer */
	assert_int_equal(pn_pmtu_expiry(&m), m.raise_at);
	assert_true(m.raise_at >= n.now + (PN_PMTU_RAISE_MS - 100) * MS);
}

static void test_ceiling_at_base(void **st)
{
	struct pn_pmtu m;
	size_t size;
	uint64_t id;

	(void)st;
	pn_pmtu_init(&m, 1000, 0); /* below the base: the base, nothing to search */
	assert_int_equal(pn_pmtu_want(&m, 0, &size, &id), 0);
	assert_int_equal(m.state, PN_PMTU_DONE);
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
	pn_pmtu_suspect(&m, MS); /* at the base: no checks */
	assert_int_equal(pn_pmtu_want(&m, MS, &size, &id), 0);
}

/* A loss episode starts a check: the current size, then the base size. */
static void check_pair(struct pn_pmtu *m, uint64_t now, uint64_t *big, uint64_t *small,
			 size_t cur)
{
	size_t size;

	assert_int_equal(pn_pmtu_want(m, now, &size, big), 1);
	assert_int_equal(size, cur);
	pn_pmtu_sent(m, *big, size, PTO, now);
	assert_int_equal(pn_pmtu_want(m, now, &size, small), 1);
	assert_int_equal(size, PN_PMTU_BASE);
	pn_pmtu_sent(m, *small, size, PTO, now);
}

static void test_black_hole(void **st)
{
	struct pn_pmtu m;
	struct net n = {.mtu = 1452, .now = 0};
	uint64_t big, small, t0;
	size_t size;
	uint64_t id;

	(void)st;
	pn_pmtu_init(&m, 1452, 0);
	run_search(&m, &n);
	assert_int_equal(pn_pmtu_size(&m), 1452);

	/* congestion, no black hole: the check's large probe gets through */
	n.now += 10000 * MS;
	pn_pmtu_suspect(&m, n.now);
	check_pair(&m, n.now, &big, &small, 1452);
	pn_pmtu_acked(&m, small, n.now + 5 * MS);
	pn_pmtu_acked(&m, big, n.now + 6 * MS);
	assert_int_equal(m.strikes, 0);
	assert_int_equal(pn_pmtu_size(&m), 1452);
	/* checks are rate limited */
	pn_pmtu_suspect(&m, n.now + 7 * MS);
	assert_int_equal(pn_pmtu_want(&m, n.now + 7 * MS, &size, &id), 0);

	/* everything lost (an outage): not a size problem */
	n.now += 1000 * MS;
	pn_pmtu_suspect(&m, n.now);
	check_pair(&m, n.now, &big, &small, 1452);
	pn_pmtu_timeout(&m, n.now + PN_PMTU_PROBE_MIN_MS * MS);
	assert_int_equal(m.strikes, 0);
	assert_int_equal(pn_pmtu_size(&m), 1452);

	/* a 1,280-byte black hole appears: large lost, small through, twice */
	n.now += 1000 * MS;
	t0 = n.now;
	pn_pmtu_suspect(&m, n.now);
	check_pair(&m, n.now, &big, &small, 1452);
	pn_pmtu_acked(&m, small, n.now + 5 * MS);
	assert_int_equal(m.strikes, 0); /* the large one's fate still open */
	pn_pmtu_lost(&m, big, n.now + 6 * MS);
	assert_int_equal(m.strikes, 1);
	assert_int_equal(pn_pmtu_size(&m), 1452);
	/* the second check goes out at once, without another loss episode;
	   its large probe is never acknowledged: the deadline decides */
	n.now += 6 * MS;
	check_pair(&m, n.now, &big, &small, 1452);
	pn_pmtu_acked(&m, small, n.now + 5 * MS);
	assert_int_equal(pn_pmtu_expiry(&m), n.now + PN_PMTU_PROBE_MIN_MS * MS);
	pn_pmtu_timeout(&m, n.now + PN_PMTU_PROBE_MIN_MS * MS);
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
	assert_int_equal(m.black_holes, 1);
	/* bounded: back to the base within 2 checks of 3 PTO (clamped) */
	assert_true(n.now + PN_PMTU_PROBE_MIN_MS * MS - t0 <= 2 * PN_PMTU_PROBE_MAX_MS * MS);

	/* re-probed after the raise timer: still a black hole at 1,252 */
	assert_int_equal(pn_pmtu_expiry(&m), m.raise_at);
	n.now = m.raise_at;
	pn_pmtu_timeout(&m, n.now);
	assert_int_equal(m.state, PN_PMTU_SEARCH);
	n.mtu = 1252;
	run_search(&m, &n);
	assert_true(pn_pmtu_size(&m) <= 1252 && pn_pmtu_size(&m) > 1252 - PN_PMTU_STEP);
	/* the raise timer doubled */
	assert_true(m.raise_at >= n.now + (2 * PN_PMTU_RAISE_MS - 100) * MS);

	/* the path heals: the next search finds the ceiling again */
	n.mtu = 1452;
	n.now = m.raise_at;
	pn_pmtu_timeout(&m, n.now);
	run_search(&m, &n);
	assert_int_equal(pn_pmtu_size(&m), 1452);
	assert_int_equal(pn_pmtu_expiry(&m), UINT64_MAX);
}

/* Nothing gets through (PTOs in a row): the base at once, a search soon. */
static void test_stalled(void **st)
{
	struct pn_pmtu m;
	struct net n = {.mtu = 1452, .now = 0};

	(void)st;
	pn_pmtu_init(&m, 1452, 0);
	run_search(&m, &n);
	uint64_t raise_ms = m.raise_ms;
	pn_pmtu_stalled(&m, n.now);
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
	assert_int_equal(m.black_holes, 1);
	assert_int_equal(pn_pmtu_expiry(&m), n.now + PN_PMTU_STALL_RESEARCH_MS * MS);
	assert_int_equal(m.raise_ms, raise_ms); /* not confirmed: no doubling */
	pn_pmtu_stalled(&m, n.now); /* at the base already: nothing */
	assert_int_equal(m.black_holes, 1);
	/* it was an outage: the search gets the size back with one probe */
	n.now = pn_pmtu_expiry(&m);
	pn_pmtu_timeout(&m, n.now);
	uint64_t sent = m.probes_sent;
	run_search(&m, &n);
	assert_int_equal(pn_pmtu_size(&m), 1452);
	assert_int_equal(m.probes_sent, sent + 1);
	/* it was a black hole: the search finds its size */
	pn_pmtu_stalled(&m, n.now);
	n.now = pn_pmtu_expiry(&m);
	pn_pmtu_timeout(&m, n.now);
	n.mtu = 1252;
	run_search(&m, &n);
	assert_true(pn_pmtu_size(&m) <= 1252 && pn_pmtu_size(&m) > 1252 - PN_PMTU_STEP);
}

static void test_search_probe_timeout(void **st)
{
	struct pn_pmtu m;
	size_t size;
	uint64_t id;

	(void)st;
	pn_pmtu_init(&m, 1452, 0);
	/* no answer at all: each probe times out, each size fails after
	   PN_PMTU_TRIES, and the search ends at the base */
	uint64_t now = 0;
	for (int i = 0; i < 40 && m.state == PN_PMTU_SEARCH; i++) {
		assert_int_equal(pn_pmtu_want(&m, now, &size, &id), 1);
		pn_pmtu_sent(&m, id, size, 10 * PN_PMTU_PROBE_MAX_MS * MS, now); /* clamped */
		assert_int_equal(pn_pmtu_expiry(&m), now + PN_PMTU_PROBE_MAX_MS * MS);
		now += PN_PMTU_PROBE_MAX_MS * MS;
		pn_pmtu_timeout(&m, now);
	}
	assert_int_equal(m.state, PN_PMTU_DONE);
	assert_true(pn_pmtu_size(&m) < PN_PMTU_BASE + PN_PMTU_STEP);
}

static void test_toobig(void **st)
{
	struct pn_pmtu m;
	size_t size;
	uint64_t id;

	(void)st;
	/* the socket refuses the ceiling probe (interface MTU 1400) */
	pn_pmtu_init(&m, 1452, 0);
	assert_int_equal(pn_pmtu_want(&m, 0, &size, &id), 1);
	pn_pmtu_sent(&m, id, size, PTO, 0);
	pn_pmtu_toobig(&m, 1452, MS);
	assert_int_equal(m.hi, 1452);
	assert_int_equal(pn_pmtu_want(&m, MS, &size, &id), 1);
	assert_true(size < 1452);

	/* the size in use is refused (the interface shrank): base at once */
	struct net n = {.mtu = 1452, .now = 0};
	pn_pmtu_init(&m, 1452, 0);
	run_search(&m, &n);
	pn_pmtu_toobig(&m, 1452, n.now);
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
	pn_pmtu_toobig(&m, 1100, n.now); /* below the base: ignored */
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
}

static void test_unsent(void **st)
{
	struct pn_pmtu m;
	size_t size;
	uint64_t id;

	(void)st;
	/* the peer's DATAGRAM limit cannot hold the probe: that size fails */
	pn_pmtu_init(&m, 1452, 0);
	assert_int_equal(pn_pmtu_want(&m, 0, &size, &id), 1);
	pn_pmtu_unsent(&m, id, 0);
	assert_int_equal(m.hi, 1452);
	assert_int_equal(pn_pmtu_size(&m), PN_PMTU_BASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_path),	  cmocka_unit_test(test_short_probe),
	    cmocka_unit_test(test_binary_search), cmocka_unit_test(test_ceiling_at_base),
	    cmocka_unit_test(test_black_hole),	  cmocka_unit_test(test_search_probe_timeout),
	    cmocka_unit_test(test_toobig),	  cmocka_unit_test(test_unsent),
	    cmocka_unit_test(test_stalled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
