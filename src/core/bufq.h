#ifndef PN_CORE_BUFQ_H
#define PN_CORE_BUFQ_H
/*
 * pn_bufq: a byte FIFO in chunks allocated as bytes are appended and freed
 * as they are dropped from the front, so the memory it holds follows the
 * bytes queued, not a maximum.  Bytes never move once appended: a pointer
 * from pn_bufq_peek stays valid until those bytes are dropped (a libuv
 * write or ngtcp2's unacknowledged stream data may point into it).
 *
 * Chunks are sized to the append (powers of two from PN_BUFQ_CHUNK_MIN up
 * to PN_BUFQ_CHUNK_MAX), so a small message costs a small chunk; each new
 * chunk of a non-empty queue is at least twice its tail's size, so a queue
 * fed many small appends (STREAM frames) soon allocates the largest.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PN_BUFQ_CHUNK_MIN 512
#define PN_BUFQ_CHUNK_MAX (16u * 1024)

struct pn_bufq_chunk;

struct pn_bufq {
	struct pn_bufq_chunk *head, *tail;
	size_t head_off; /* bytes of head already dropped */
	size_t len;	 /* bytes queued */
	/* a cursor for pn_bufq_peek: the chunk holding queue offset cur_base */
	struct pn_bufq_chunk *cur;
	size_t cur_base;
};

void pn_bufq_init(struct pn_bufq *q);
/* Frees every chunk. */
void pn_bufq_fini(struct pn_bufq *q);
static inline size_t pn_bufq_len(const struct pn_bufq *q)
{
	return q->len;
}
/* Append a copy of n bytes (all or nothing).  0 or -ENOMEM. */
int pn_bufq_append(struct pn_bufq *q, const void *p, size_t n);
/* Up to maxv vectors over the bytes from queue offset off (0: the front)
 * to the end; the number filled (0 if off >= len). */
size_t pn_bufq_peek(struct pn_bufq *q, size_t off, struct iovec *v, size_t maxv);
/* Drop n bytes from the front (n <= len), freeing emptied chunks. */
void pn_bufq_drop(struct pn_bufq *q, size_t n);
#endif
