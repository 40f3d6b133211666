/* Unit tests for core/swriter.h over a real socket pair on a libuv loop:
 * bytes arrive in order across many appends, the first bytes go out at
 * once and what arrives meanwhile in one write, consumed reports add up
 * to what was written, the FIN comes after every byte, the window refuses
 * an append past it, and failures (peer gone, request refused at once,
 * stream closed under a write) reach the right callback or none. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/swriter.h"

#define SMALL_SNDBUF 4096 /* so that writes back up without a reader */

struct h {
	uv_loop_t loop;
	uv_pipe_t out; /* the writer's stream */
	uv_pipe_t in;  /* the peer's end, read through libuv (peer_read) */
	int peer_fd;
	int in_open;
	struct pn_swriter w;
	size_t appended; /* bytes accepted by pn_swriter_append */

	/* callbacks seen */
	unsigned nconsumed, ndrained, nerr, nfin;
	size_t consumed_sum, consumed_first;
	int err, fin;
	size_t consumed_at_fin;
	int stop_on_error; /* behave like the glue: stop and close on error */

	/* the peer */
	size_t rxlen;
	int rx_eof;
	size_t rx_at_eof;
	uint8_t rxbuf[65536];
};

/* The byte at stream offset i: a reordered, lost or repeated piece shows. */
static uint8_t pat(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void fill(uint8_t *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(off + i);
}

static void on_consumed(size_t n, void *user)
{
	struct h *h = user;

	assert_true(n > 0);
	if (h->nconsumed++ == 0)
		h->consumed_first = n;
	h->consumed_sum += n;
	/* what was written was appended, in order */
	assert_true(h->consumed_sum <= h->appended);
}

static void on_drained(void *user)
{
	struct h *h = user;

	assert_false(pn_swriter_busy(&h->w));
	assert_int_equal(pn_swriter_len(&h->w), 0);
	assert_int_equal(h->consumed_sum, h->appended);
	h->ndrained++;
}

static void on_error(int err, void *user)
{
	struct h *h = user;

	assert_int_not_equal(err, UV_ECANCELED);
	h->nerr++;
	h->err = err;
	if (h->stop_on_error) {
		pn_swriter_stop(&h->w);
		uv_close((uv_handle_t *)&h->out, NULL);
	}
}

static void on_fin(int status, void *user)
{
	struct h *h = user;

	h->nfin++;
	h->fin = status;
	h->consumed_at_fin = h->consumed_sum;
}

static const struct pn_swriter_ops ops = {
    .consumed = on_consumed,
    .drained = on_drained,
    .error = on_error,
    .fin = on_fin,
};

static void h_init(struct h *h, size_t window, int small_sndbuf)
{
	int sv[2], sz = SMALL_SNDBUF;

	memset(h, 0, sizeof(*h));
	assert_int_equal(uv_loop_init(&h->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	if (small_sndbuf)
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	assert_int_equal(uv_pipe_init(&h->loop, &h->out, 0), 0);
	assert_int_equal(uv_pipe_open(&h->out, sv[0]), 0);
	h->peer_fd = sv[1];
	pn_swriter_init(&h->w, window, PN_SWRITER_VECS_MAX, &ops, h);
	pn_swriter_start(&h->w, (uv_stream_t *)&h->out);
}

static void h_fini(struct h *h)
{
	pn_swriter_stop(&h->w);
	if (!uv_is_closing((uv_handle_t *)&h->out))
		uv_close((uv_handle_t *)&h->out, NULL);
	if (h->in_open && !uv_is_closing((uv_handle_t *)&h->in))
		uv_close((uv_handle_t *)&h->in, NULL);
	else if (!h->in_open && h->peer_fd >= 0)
		close(h->peer_fd);
	uv_run(&h->loop, UV_RUN_DEFAULT);
	/* every handle and request is done */
	assert_int_equal(uv_loop_close(&h->loop), 0);
	pn_swriter_fini(&h->w);
}

/* Append n bytes of the pattern; the result of pn_swriter_append. */
static int append(struct h *h, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	int r;

	assert_non_null(p);
	fill(p, h->appended, n);
	r = pn_swriter_append(&h->w, p, n);
	free(p);
	if (r == 0)
		h->appended += n;
	return r;
}

/* Bytes the peer can take right now without the loop (raw recv), checked
 * against the pattern. */
static size_t peer_take_now(struct h *h)
{
	size_t got = 0;
	ssize_t n;

	while ((n = recv(h->peer_fd, h->rxbuf, sizeof(h->rxbuf), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			assert_int_equal(h->rxbuf[i], pat(h->rxlen + (size_t)i));
		h->rxlen += (size_t)n;
		got += (size_t)n;
	}
	if (n == 0) {
		h->rx_eof = 1;
		h->rx_at_eof = h->rxlen;
	} else
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return got;
}

static void peer_alloc(uv_handle_t *hd, size_t hint, uv_buf_t *b)
{
	struct h *h = hd->data;

	(void)hint;
	*b = uv_buf_init((char *)h->rxbuf, sizeof(h->rxbuf));
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct h *h = s->data;

	if (n == UV_EOF) {
		assert_false(h->rx_eof);
		h->rx_eof = 1;
		h->rx_at_eof = h->rxlen;
		uv_read_stop(s);
		return;
	}
	assert_true(n >= 0);
	for (ssize_t i = 0; i < n; i++)
		assert_int_equal((uint8_t)b->base[i], pat(h->rxlen + (size_t)i));
	h->rxlen += (size_t)n;
}

/* The peer reads through the loop from now on. */
static void peer_start(struct h *h)
{
	assert_int_equal(uv_pipe_init(&h->loop, &h->in, 0), 0);
	assert_int_equal(uv_pipe_open(&h->in, h->peer_fd), 0);
	h->in.data = h;
	h->in_open = 1;
	assert_int_equal(uv_read_start((uv_stream_t *)&h->in, peer_alloc, peer_read), 0);
}

typedef int (*pred_fn)(struct h *h);

/* Run the loop until pred holds (fails after about 10 s). */
static void run_until(struct h *h, pred_fn pred)
{
	uint64_t end = uv_hrtime() + 10000000000ull;

	while (!pred(h)) {
		assert_true(uv_hrtime() < end);
		uv_run(&h->loop, UV_RUN_NOWAIT);
	}
}

static int all_consumed(struct h *h)
{
	return h->consumed_sum == h->appended && !pn_swriter_busy(&h->w);
}

static int got_error(struct h *h)
{
	return h->nerr > 0;
}

static int peer_eof(struct h *h)
{
	return h->rx_eof;
}

/* The first bytes are in the socket when append returns; what comes
 * while that write is in flight goes out in one write when it completes. */
static void test_first_at_once_rest_batched(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, 0, 0);
	assert_int_equal(append(&h, 100), 0);
	assert_true(pn_swriter_busy(&h.w));
	assert_int_equal(peer_take_now(&h), 100);
	assert_int_equal(append(&h, 200), 0);
	assert_int_equal(append(&h, 300), 0);
	assert_int_equal(append(&h, 0), 0);
	assert_int_equal(pn_swriter_len(&h.w), 600); /* the first 100 still in flight */
	assert_int_equal(peer_take_now(&h), 0);	     /* the rest waits for that write */
	run_until(&h, all_consumed);
	assert_int_equal(h.nconsumed, 2);
	assert_int_equal(h.consumed_first, 100);
	assert_int_equal(h.consumed_sum, 600);
	assert_int_equal(h.ndrained, 1);
	assert_int_equal(peer_take_now(&h), 500);
	assert_int_equal(h.nerr + h.nfin, 0);
	assert_false(h.rx_eof);
	h_fini(&h);
}

/* Many appends under flow control (credit back only as bytes are
 * consumed) against a slow socket: every byte arrives in order, the
 * consumed reports add up to it, writes batch, the FIN comes last. */
static void test_many_appends_in_order(void **state)
{
	const size_t window = 256 * 1024, total = 4u << 20;
	uint64_t end = uv_hrtime() + 20000000000ull;
	unsigned nappends = 0, seed = 1;
	struct h h;

	(void)state;
	h_init(&h, window, 1);
	peer_start(&h);
	while (!h.rx_eof) {
		assert_true(uv_hrtime() < end);
		/* the producer: everything the credit allows, in odd pieces */
		while (h.appended < total) {
			size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 20000;
			if (n > total - h.appended)
				n = total - h.appended;
			if (n > window - (h.appended - h.consumed_sum))
				break; /* no credit: wait for consumed */
			assert_int_equal(append(&h, n), 0);
			assert_true(pn_swriter_len(&h.w) <= window);
			nappends++;
			if (h.appended == total)
				pn_swriter_eof(&h.w);
		}
		uv_run(&h.loop, UV_RUN_ONCE);
	}
	assert_int_equal(h.rxlen, total);
	assert_int_equal(h.rx_at_eof, total);
	assert_int_equal(h.consumed_sum, total);
	assert_true(h.nconsumed < nappends); /* batched */
	assert_true(h.ndrained >= 1);
	run_until(&h, all_consumed);
	assert_int_equal(h.nfin, 1);
	assert_int_equal(h.fin, 0);
	assert_int_equal(h.consumed_at_fin, total);
	assert_int_equal(h.nerr, 0);
	h_fini(&h);
}

static int fin_seen(struct h *h)
{
	return h->nfin > 0;
}

/* The end asked for while bytes wait: no FIN until every byte is out. */
static void test_fin_after_everything(void **state)
{
	const size_t total = 1u << 20;
	struct h h;

	(void)state;
	h_init(&h, 0, 1);
	for (int i = 0; i < 16; i++)
		assert_int_equal(append(&h, total / 16), 0);
	pn_swriter_eof(&h.w);
	pn_swriter_eof(&h.w); /* idempotent */
	for (int i = 0; i < 20; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	assert_true(pn_swriter_busy(&h.w)); /* the socket is full */
	assert_int_equal(h.nfin, 0);
	assert_true(peer_take_now(&h) < total);
	assert_false(h.rx_eof);
	peer_start(&h);
	run_until(&h, peer_eof);
	assert_int_equal(h.rx_at_eof, total);
	run_until(&h, fin_seen);
	assert_int_equal(h.nfin, 1);
	assert_int_equal(h.fin, 0);
	assert_int_equal(h.consumed_at_fin, total);
	assert_int_equal(h.nerr, 0);
	h_fini(&h);
}

/* With nothing queued the end is a FIN at once. */
static void test_fin_when_idle(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, 0, 0);
	pn_swriter_eof(&h.w);
	run_until(&h, fin_seen);
	assert_int_equal(h.fin, 0);
	peer_take_now(&h);
	assert_true(h.rx_eof);
	assert_int_equal(h.rx_at_eof, 0);
	assert_int_equal(h.nconsumed + h.ndrained + h.nerr, 0);
	h_fini(&h);
}

/* An append past the window is refused whole; credit makes room again. */
static void test_window(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, 1000, 0);
	assert_int_equal(append(&h, 600), 0);
	assert_int_equal(append(&h, 401), PN_E_TOOBIG);
	assert_int_equal(pn_swriter_len(&h.w), 600);
	assert_int_equal(append(&h, 400), 0);
	assert_int_equal(pn_swriter_len(&h.w), 1000);
	assert_int_equal(append(&h, 1), PN_E_TOOBIG);
	/* a length that would wrap a careless sum: refused before any read */
	assert_int_equal(pn_swriter_append(&h.w, h.rxbuf, SIZE_MAX), PN_E_TOOBIG);
	run_until(&h, all_consumed);
	assert_int_equal(pn_swriter_len(&h.w), 0);
	assert_int_equal(append(&h, 1000), 0);
	run_until(&h, all_consumed);
	/* exactly the accepted bytes, in order (the refused ones never went) */
	assert_int_equal(peer_take_now(&h), 2000);
	assert_int_equal(h.consumed_sum, 2000);
	h_fini(&h);
}

/* Writing to a peer that closed fails (EPIPE): ops.error, no credit. */
static void test_peer_closed(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, 0, 0);
	h.stop_on_error = 1;
	close(h.peer_fd);
	h.peer_fd = -1;
	assert_int_equal(append(&h, 100), 0);
	pn_swriter_eof(&h.w); /* waits behind the failing write: never sent */
	run_until(&h, got_error);
	assert_int_equal(h.err, UV_EPIPE);
	assert_int_equal(h.nerr, 1);
	assert_int_equal(h.nconsumed + h.ndrained + h.nfin, 0);
	h_fini(&h);
	assert_int_equal(h.nerr, 1);
}

static void on_ext_shutdown(uv_shutdown_t *r, int status)
{
	(void)r, (void)status;
}

/* Requests libuv refuses at once (the stream is shut already) are
 * reported from within the call. */
static void test_refused_at_once(void **state)
{
	uv_shutdown_t sh;
	struct h h;

	(void)state;
	h_init(&h, 0, 0);
	assert_int_equal(uv_shutdown(&sh, (uv_stream_t *)&h.out, on_ext_shutdown), 0);
	pn_swriter_eof(&h.w);
	assert_int_equal(h.nfin, 1);
	assert_true(h.fin < 0);
	assert_int_equal(append(&h, 10), 0);
	assert_int_equal(h.nerr, 1);
	assert_true(h.err < 0);
	assert_false(pn_swriter_busy(&h.w));
	assert_int_equal(h.nconsumed, 0);
	h_fini(&h);
	assert_int_equal(h.nerr, 1);
	assert_int_equal(h.nfin, 1);
}

/* The stream closed under a write in flight: its cancellation is never an
 * error, stopped or not, and a stopped writer calls nothing. */
static void closed_under_write(int stop)
{
	struct h h;

	h_init(&h, 0, 1);
	assert_int_equal(append(&h, 1u << 20), 0);
	pn_swriter_eof(&h.w);
	for (int i = 0; i < 5; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	assert_true(pn_swriter_busy(&h.w));
	if (stop)
		pn_swriter_stop(&h.w);
	uv_close((uv_handle_t *)&h.out, NULL);
	if (stop)
		assert_int_equal(append(&h, 10), 0); /* queued, never written */
	uv_run(&h.loop, UV_RUN_DEFAULT);
	assert_false(pn_swriter_busy(&h.w));
	assert_int_equal(h.nconsumed + h.ndrained + h.nerr + h.nfin, 0);
	h_fini(&h);
}

static void test_closed_under_write(void **state)
{
	(void)state;
	closed_under_write(1);
	closed_under_write(0);
}

/* Stopped with a write done but not yet reported: nothing is reported,
 * no FIN asked for (the glue is closing). */
static void test_stop_silences(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, 0, 0);
	assert_int_equal(append(&h, 100), 0);
	assert_int_equal(peer_take_now(&h), 100);
	pn_swriter_stop(&h.w);
	pn_swriter_eof(&h.w);
	for (int i = 0; i < 5; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	assert_false(pn_swriter_busy(&h.w));
	assert_int_equal(pn_swriter_len(&h.w), 0);
	assert_int_equal(h.nconsumed + h.ndrained + h.nerr + h.nfin, 0);
	peer_take_now(&h);
	assert_false(h.rx_eof);
	h_fini(&h);
	/* and a FIN asked for, then stopped before it completed */
	h_init(&h, 0, 0);
	pn_swriter_eof(&h.w);
	pn_swriter_stop(&h.w);
	for (int i = 0; i < 5; i++)
		uv_run(&h.loop, UV_RUN_NOWAIT);
	assert_int_equal(h.nfin, 0);
	h_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_at_once_rest_batched),
	    cmocka_unit_test(test_many_appends_in_order),
	    cmocka_unit_test(test_fin_after_everything),
	    cmocka_unit_test(test_fin_when_idle),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_peer_closed),
	    cmocka_unit_test(test_refused_at_once),
	    cmocka_unit_test(test_closed_under_write),
	    cmocka_unit_test(test_stop_silences),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemons do: EPIPE, not a signal */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
