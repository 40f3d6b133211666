#ifndef PN_CORE_SWRITER_H
#define PN_CORE_SWRITER_H
/*
 * pn_swriter: a flow's bytes on their way into a local stream socket (the
 * client's application connection, the connector's resource connection),
 * with the flow's credit returned only as bytes reach the socket.
 *
 *   - Appended bytes are copied into a queue (core/bufq.h: memory follows
 *     the bytes queued) bounded by a window: an append that would take the
 *     queue past it is refused whole (a peer ignoring flow control).
 *   - One uv_write at a time, over vectors into the queue: the first bytes
 *     of a burst go out at once (libuv writes synchronously when its own
 *     queue is empty); what arrives while that write is in flight goes
 *     out together when it completes, so a write(2) carries everything
 *     that arrived meanwhile instead of one write per QUIC packet.
 *   - A completed write drops its bytes and reports them (ops.consumed:
 *     the caller returns the flow's credit), then the next write starts.
 *   - The end (pn_swriter_eof) becomes a uv_shutdown (FIN) only once no
 *     byte is queued or in flight: the FIN always follows the last byte.
 *
 * No allocation per write: the write and shutdown requests are embedded.
 * The caller owns the stream and the memory: it embeds the writer in an
 * object that outlives the stream's close callback (libuv calls a
 * request's callback, with UV_ECANCELED if it was cut short, before the
 * close callback of its handle).
 *
 * Callbacks run on the loop thread, from libuv's callbacks or, when libuv
 * refuses a request at once, from within pn_swriter_append/_eof/_start.
 * None runs after pn_swriter_stop, so a callback may stop the writer and
 * close the stream.
 */
#include <stddef.h>
#include <uv.h>

#include "core/bufq.h"

/* The most vectors one write may carry (queue chunks of up to
 * PN_BUFQ_CHUNK_MAX bytes each). */
#define PN_SWRITER_VECS_MAX 64

struct pn_swriter_ops {
	/* A write of n bytes completed: they are in the socket (return the
	 * flow's credit).  Required. */
	void (*consumed)(size_t n, void *user);
	/* A write completed and nothing is queued or in flight now (called
	 * after consumed; before the FIN is asked for).  May be NULL. */
	void (*drained)(void *user);
	/* A write failed (libuv's error; the application or resource went
	 * away): the caller resets the flow.  Never UV_ECANCELED, never
	 * after pn_swriter_stop.  Required. */
	void (*error)(int err, void *user);
	/* The FIN asked for by pn_swriter_eof: 0 once uv_shutdown completed,
	 * or libuv's error if it failed.  May be NULL (ignored). */
	void (*fin)(int status, void *user);
};

/* Treat the fields as private; the struct is visible to be embedded. */
struct pn_swriter {
	uv_stream_t *stream; /* NULL before start and after stop */
	struct pn_bufq q;    /* bytes not yet written, those in flight first */
	size_t inflight;     /* bytes of q in the write in flight (0: none) */
	size_t window;	     /* the most bytes q may hold; 0: no limit */
	unsigned maxv;	     /* vectors per write */
	int eof, shut_sent;
	const struct pn_swriter_ops *ops;
	void *user;
	uv_write_t wreq;
	uv_shutdown_t sreq;
};

/*
 * An idle writer with no stream: bytes appended queue until pn_swriter_start.
 * `window`: the most bytes it holds (queued and in flight; the flow's
 * receive window), 0 for no limit.  `maxv`: vectors per write, 1 to
 * PN_SWRITER_VECS_MAX (clamped).
 */
void pn_swriter_init(struct pn_swriter *w, size_t window, unsigned maxv,
		     const struct pn_swriter_ops *ops, void *user);
/* Write into s from now on (starting with what is queued). */
void pn_swriter_start(struct pn_swriter *w, uv_stream_t *s);
/*
 * Queue a copy of n bytes and write them if no write is in flight.
 * 0, PN_E_TOOBIG if they would take the writer past its window, or
 * -ENOMEM; nothing is queued on failure.  A write libuv refuses at once
 * is reported through ops.error (from within this call).
 */
int pn_swriter_append(struct pn_swriter *w, const void *p, size_t n);
/* The flow ended cleanly: a FIN (uv_shutdown) once every byte is written.
 * Idempotent. */
void pn_swriter_eof(struct pn_swriter *w);
/* The caller is closing the stream: no write, shutdown or callback from
 * now on (requests in flight complete silently).  Idempotent. */
void pn_swriter_stop(struct pn_swriter *w);
/* Free the queue (once the stream's close callback ran). */
void pn_swriter_fini(struct pn_swriter *w);

/* Bytes held: queued and in flight. */
static inline size_t pn_swriter_len(const struct pn_swriter *w)
{
	return pn_bufq_len(&w->q);
}
/* A write is in flight. */
static inline int pn_swriter_busy(const struct pn_swriter *w)
{
	return w->inflight != 0;
}
#endif
