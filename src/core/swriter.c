/* A flow's bytes into a local stream socket, one write at a time; see
 * swriter.h. */
#include <errno.h>

#include "core/err.h"
#include "core/swriter.h"

void pn_swriter_init(struct pn_swriter *w, size_t window, unsigned maxv,
		     const struct pn_swriter_ops *ops, void *user)
{
	*w = (struct pn_swriter){0};
	pn_bufq_init(&w->q);
	w->window = window;
	w->maxv = maxv < 1 ? 1 : maxv > PN_SWRITER_VECS_MAX ? PN_SWRITER_VECS_MAX : maxv;
	w->ops = ops;
	w->user = user;
}

static void on_shutdown(uv_shutdown_t *r, int status)
{
	struct pn_swriter *w = r->data;

	/* stopped: the stream is closing (UV_ECANCELED) and nobody listens */
	if (w->stream && w->ops->fin)
		w->ops->fin(status, w->user);
}

/* The FIN goes once nothing is queued or in flight: after every byte. */
static void maybe_shutdown(struct pn_swriter *w)
{
	int r;

	if (!w->eof || w->shut_sent || !w->stream || w->inflight || pn_bufq_len(&w->q))
		return;
	w->shut_sent = 1;
	w->sreq.data = w;
	if ((r = uv_shutdown(&w->sreq, w->stream, on_shutdown)) != 0 && w->ops->fin)
		w->ops->fin(r, w->user);
}

static void on_write(uv_write_t *r, int status);

/* Hand everything queued to libuv in one write, unless one is in flight.
 * 0, or 1 if libuv refused it (reported: the caller may be gone). */
static int kick(struct pn_swriter *w)
{
	struct iovec iv[PN_SWRITER_VECS_MAX];
	uv_buf_t b[PN_SWRITER_VECS_MAX];
	size_t n = 0, nv;
	int r;

	if (w->inflight || !w->stream || pn_bufq_len(&w->q) == 0)
		return 0;
	nv = pn_bufq_peek(&w->q, 0, iv, w->maxv);
	for (size_t i = 0; i < nv; i++) {
		/* a vector is one chunk: at most PN_BUFQ_CHUNK_MAX bytes */
		b[i] = uv_buf_init(iv[i].iov_base, (unsigned)iv[i].iov_len);
		n += iv[i].iov_len;
	}
	w->wreq.data = w;
	if ((r = uv_write(&w->wreq, w->stream, b, (unsigned)nv, on_write)) != 0) {
		w->ops->error(r, w->user);
		return 1;
	}
	w->inflight = n;
	return 0;
}

static void on_write(uv_write_t *r, int status)
{
	struct pn_swriter *w = r->data;
	size_t n = w->inflight;

	w->inflight = 0;
	pn_bufq_drop(&w->q, n);
	/* stopped: the stream is closing (UV_ECANCELED, or an error that
	 * came first) and nobody listens */
	if (!w->stream)
		return;
	if (status < 0) {
		if (status != UV_ECANCELED)
			w->ops->error(status, w->user);
		return;
	}
	w->ops->consumed(n, w->user);
	if (!w->stream || kick(w))
		return;
	if (!w->inflight && w->ops->drained) {
		w->ops->drained(w->user);
		if (!w->stream)
			return;
	}
	maybe_shutdown(w);
}

void pn_swriter_start(struct pn_swriter *w, uv_stream_t *s)
{
	w->stream = s;
	if (kick(w) == 0)
		maybe_shutdown(w);
}

int pn_swriter_append(struct pn_swriter *w, const void *p, size_t n)
{
	int r;

	/* the window bounds what a peer can make us hold (len <= window) */
	if (w->window && n > w->window - pn_bufq_len(&w->q))
		return PN_E_TOOBIG;
	if ((r = pn_bufq_append(&w->q, p, n)) != 0)
		return r;
	(void)kick(w);
	return 0;
}

void pn_swriter_eof(struct pn_swriter *w)
{
	w->eof = 1;
	maybe_shutdown(w);
}

void pn_swriter_stop(struct pn_swriter *w)
{
	w->stream = NULL;
}

void pn_swriter_fini(struct pn_swriter *w)
{
	pn_bufq_fini(&w->q);
	w->inflight = 0;
}
