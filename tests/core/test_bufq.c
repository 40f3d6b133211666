/*
 * pn_bufq: bytes come out as they went in across chunk boundaries, peek
 * at any offset (cursor kept across drops), all-or-nothing appends,
 * memory only for what is queued (an emptied queue holds no chunk),
 * chunks that grow while a queue is fed small appends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bufq.h"

static uint8_t pat(size_t off)
{
	return (uint8_t)(off * 31 + 7);
}

/* The bytes from queue offset off (stream offset base + off) to the end,
 * as peek gives them, equal the pattern. */
static void check_from(struct pn_bufq *q, size_t base, size_t off)
{
	struct iovec v[64];
	size_t nv = pn_bufq_peek(q, off, v, 64), at = base + off, total = 0;

	for (size_t i = 0; i < nv; i++) {
		const uint8_t *p = v[i].iov_base;
		for (size_t k = 0; k < v[i].iov_len; k++)
			assert_int_equal(p[k], pat(at + k));
		at += v[i].iov_len;
		total += v[i].iov_len;
	}
	if (nv < 64)
		assert_int_equal(total, pn_bufq_len(q) - off);
}

static void append_pat(struct pn_bufq *q, size_t *written, size_t n)
{
	uint8_t *b = malloc(n);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = pat(*written + i);
	assert_int_equal(pn_bufq_append(q, b, n), 0);
	*written += n;
	free(b);
}

static void test_order(void **st)
{
	struct pn_bufq q;
	size_t written = 0, dropped = 0;
	/* writes of many sizes (tiny, across chunks, several chunks at once) */
	static const size_t sizes[] = {1, 63, 500, 1, 4096, 16384, 70000, 3, 20000, 17};

	(void)st;
	pn_bufq_init(&q);
	assert_int_equal(pn_bufq_peek(&q, 0, NULL, 0), 0);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			append_pat(&q, &written, sizes[(i + (size_t)round) % 10]);
		assert_int_equal(pn_bufq_len(&q), written - dropped);
		/* peek at several offsets (the cursor moves forward and back) */
		check_from(&q, dropped, pn_bufq_len(&q) / 2);
		check_from(&q, dropped, pn_bufq_len(&q) / 3);
		check_from(&q, dropped, pn_bufq_len(&q) - 1);
		check_from(&q, dropped, 0);
		check_from(&q, dropped, pn_bufq_len(&q) / 2);
		/* drop some from the front: the cursor stays right */
		size_t d = pn_bufq_len(&q) * 2 / 3 + 1;
		pn_bufq_drop(&q, d);
		dropped += d;
		check_from(&q, dropped, pn_bufq_len(&q) / 4);
		check_from(&q, dropped, 0);
	}
	pn_bufq_drop(&q, pn_bufq_len(&q));
	assert_int_equal(pn_bufq_len(&q), 0);
	assert_null(q.head); /* nothing held once empty */
	assert_null(q.tail);
	pn_bufq_fini(&q);
}

static void test_small_chunks(void **st)
{
	struct pn_bufq q;
	uint8_t b[64] = {0};

	(void)st;
	pn_bufq_init(&q);
	/* a small message costs a small chunk, not the largest */
	assert_int_equal(pn_bufq_append(&q, b, sizeof(b)), 0);
	assert_int_equal(pn_bufq_len(&q), 64);
	assert_non_null(q.head);
	assert_true(q.head == q.tail);
	/* the tail's room is used before a new chunk */
	assert_int_equal(pn_bufq_append(&q, b, sizeof(b)), 0);
	assert_true(q.head == q.tail);
	assert_int_equal(pn_bufq_append(&q, b, 0), 0);
	assert_int_equal(pn_bufq_len(&q), 128);
	pn_bufq_drop(&q, 1000); /* more than queued: all */
	assert_int_equal(pn_bufq_len(&q), 0);
	assert_null(q.head);
	pn_bufq_fini(&q);
}

/* A bulk transfer arrives a STREAM frame at a time: chunks double from
 * the tail's size, so 100 frames take a dozen chunks, not 100 (a malloc
 * per frame was 17% of the connector's CPU), and an emptied queue starts
 * small again. */
static void test_growing_chunks(void **st)
{
	struct pn_bufq q;
	struct iovec v[128];
	size_t written = 0, nv;

	(void)st;
	pn_bufq_init(&q);
	for (int i = 0; i < 100; i++)
		append_pat(&q, &written, 1400);
	nv = pn_bufq_peek(&q, 0, v, 128);
	assert_true(nv <= 14);
	check_from(&q, 0, 0);
	check_from(&q, 0, 70000);
	pn_bufq_drop(&q, pn_bufq_len(&q));
	assert_null(q.head);
	/* empty again: a small message gets a small chunk (the next append
	   that needs a new chunk shows the first one was not a large one) */
	append_pat(&q, &written, 64);
	append_pat(&q, &written, 1000);
	assert_int_equal(pn_bufq_peek(&q, 0, v, 128), 2);
	pn_bufq_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_small_chunks),
	    cmocka_unit_test(test_growing_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
