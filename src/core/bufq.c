/* Chunked byte FIFO; see bufq.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bufq.h"

struct pn_bufq_chunk {
	struct pn_bufq_chunk *next;
	size_t cap, used;
	uint8_t data[];
};

void pn_bufq_init(struct pn_bufq *q)
{
	memset(q, 0, sizeof(*q));
}

void pn_bufq_fini(struct pn_bufq *q)
{
	while (q->head) {
		struct pn_bufq_chunk *k = q->head;
		q->head = k->next;
		free(k);
	}
	pn_bufq_init(q);
}

/* The chunk for an append of n more bytes: a power of two (header
 * included) between the limits, at least twice the tail's (min: 0 for
 * none).  A queue that keeps growing (a bulk transfer, one STREAM frame
 * at a time) reaches the largest chunks after a few appends instead of a
 * malloc per frame; what is allocated stays within about twice what is
 * queued, and a small message on an empty queue gets a small chunk. */
static struct pn_bufq_chunk *chunk_new(size_t n, size_t min)
{
	size_t sz = PN_BUFQ_CHUNK_MIN;
	struct pn_bufq_chunk *k;

	while (sz < PN_BUFQ_CHUNK_MAX && (sz < n + sizeof(*k) || sz < min))
		sz *= 2;
	if (!(k = malloc(sz)))
		return NULL;
	k->next = NULL;
	k->cap = sz - sizeof(*k);
	k->used = 0;
	return k;
}

int pn_bufq_append(struct pn_bufq *q, const void *p, size_t n)
{
	const uint8_t *s = p;
	struct pn_bufq_chunk *first = NULL, *last = NULL, *k;
	size_t left = n, room;

	if (n == 0)
		return 0;
	/* what fits the tail's free room, then new chunks (linked only once
	   all were allocated: all or nothing) */
	room = q->tail ? q->tail->cap - q->tail->used : 0;
	if (room > left)
		room = left;
	left -= room;
	while (left > 0) {
		size_t take;
		struct pn_bufq_chunk *prev = last ? last : q->tail;
		if (!(k = chunk_new(left, prev ? 2 * (prev->cap + sizeof(*prev)) : 0))) {
			while (first) {
				k = first->next;
				free(first);
				first = k;
			}
			return -ENOMEM;
		}
		take = left < k->cap ? left : k->cap;
		memcpy(k->data, s + room + (n - room - left), take);
		k->used = take;
		left -= take;
		if (last)
			last->next = k;
		else
			first = k;
		last = k;
	}
	if (room) {
		memcpy(q->tail->data + q->tail->used, s, room);
		q->tail->used += room;
	}
	if (first) {
		if (q->tail)
			q->tail->next = first;
		else
			q->head = first;
		q->tail = last;
	}
	q->len += n;
	return 0;
}

size_t pn_bufq_peek(struct pn_bufq *q, size_t off, struct iovec *v, size_t maxv)
{
	struct pn_bufq_chunk *k;
	size_t base, nv = 0;

	if (off >= q->len || maxv == 0)
		return 0;
	/* queue offset of chunk k's first byte is base - (k == head ? head_off : 0) */
	if (q->cur && off >= q->cur_base) {
		k = q->cur;
		base = q->cur_base;
	} else {
		k = q->head;
		base = 0;
	}
	for (;;) {
		size_t start = k == q->head ? q->head_off : 0;
		size_t avail = k->used - start;
		if (off < base + avail)
			break;
		base += avail;
		k = k->next;
	}
	q->cur = k;
	q->cur_base = base;
	for (; k && nv < maxv; k = k->next) {
		size_t start = (k == q->head ? q->head_off : 0);
		size_t skip = off > base ? off - base : 0;
		size_t avail = k->used - start;
		if (skip < avail) {
			v[nv].iov_base = k->data + start + skip;
			v[nv].iov_len = avail - skip;
			nv++;
		}
		base += avail;
	}
	return nv;
}

void pn_bufq_drop(struct pn_bufq *q, size_t n)
{
	size_t dropped;
	int cur_freed = 0;

	if (n > q->len)
		n = q->len;
	dropped = n;
	q->len -= n;
	while (n > 0 && q->head) {
		struct pn_bufq_chunk *k = q->head;
		size_t avail = k->used - q->head_off;
		if (n < avail) {
			q->head_off += n;
			break;
		}
		n -= avail;
		q->head = k->next;
		q->head_off = 0;
		if (!q->head)
			q->tail = NULL;
		cur_freed |= k == q->cur;
		free(k);
	}
	/* the cursor's chunk moved `dropped` bytes closer to the front (or is gone) */
	if (cur_freed || !q->cur) {
		q->cur = NULL;
		q->cur_base = 0;
	} else {
		q->cur_base = q->cur_base >= dropped ? q->cur_base - dropped : 0;
	}
}
