/* Unit tests: WebSocket framing (relay/wsframe.h): frames under every
 * split of the byte stream, masking from both sides, the protocol checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "relay/wsframe.h"

/* What the decoder reported: data bytes in order, control frames as
 * "op:len:bytes" records in a second log. */
struct sink {
	uint8_t data[300000];
	size_t ndata;
	uint8_t ctl[4096];
	size_t nctl;
	unsigned ncalls;
};

static int on_data(void *user, const uint8_t *p, size_t n)
{
	struct sink *k = user;
	assert_true(k->ndata + n <= sizeof(k->data));
	memcpy(k->data + k->ndata, p, n);
	k->ndata += n;
	k->ncalls++;
	return 0;
}

static int on_control(void *user, unsigned op, const uint8_t *p, size_t n)
{
	struct sink *k = user;
	assert_true(k->nctl + 2 + n <= sizeof(k->ctl));
	k->ctl[k->nctl++] = (uint8_t)op;
	k->ctl[k->nctl++] = (uint8_t)n;
	memcpy(k->ctl + k->nctl, p, n);
	k->nctl += n;
	return 0;
}

static const struct pn_ws_rx_ops ops = {on_data, on_control};

/* Where each frame of the built stream starts (cuts are made around them). */
static size_t fstart[64];
static size_t nfs;

/* Append one frame (FIN unless `more`; masked when key != NULL). */
static size_t put_frame(uint8_t *out, unsigned op, int fin, const uint8_t *p, size_t n,
			const uint8_t *key)
{
	size_t h = pn_ws_frame_hdr(out, op, n, key);
	if (!fin)
		out[0] &= 0x7f;
	pn_ws_mask(out + h, p, n, key ? key : (const uint8_t *)"\0\0\0\0", 0);
	return h + n;
}

/* A stream of frames of every length class, with control frames between
 * the fragments of a message and a text message (ignored); the expected
 * data and control logs. */
static size_t build(uint8_t *wire, int masked, struct sink *want)
{
	static const size_t lens[] = {1, 7, 125, 126, 127, 1000, 65535, 65536, 70001};
	static uint8_t pay[70001];
	uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t w = 0;

	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = (uint8_t)(i * 7 + 3);
	memset(want, 0, sizeof(*want));
	nfs = 0;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		key[0]++;
		fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_BINARY, 1, pay, lens[i], masked ? key : NULL);
		on_data(want, pay, lens[i]);
	}
	/* A fragmented message with a PING and a PONG between its fragments. */
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_BINARY, 0, pay, 300, masked ? key : NULL);
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_PING, 1, (const uint8_t *)"hello", 5, masked ? key : NULL);
	on_control(want, PN_WS_OP_PING, (const uint8_t *)"hello", 5);
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_CONT, 0, pay + 300, 0, masked ? key : NULL);
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_PONG, 1, pay, 125, masked ? key : NULL);
	on_control(want, PN_WS_OP_PONG, pay, 125);
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_CONT, 1, pay + 300, 200, masked ? key : NULL);
	on_data(want, pay, 500);
	/* Text is read and ignored; an empty binary frame is nothing. */
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_TEXT, 1, pay, 50, masked ? key : NULL);
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_BINARY, 1, pay, 0, masked ? key : NULL);
	fstart[nfs++] = w, w += put_frame(wire + w, PN_WS_OP_CLOSE, 1, (const uint8_t *)"\x03\xe8", 2, masked ? key : NULL);
	on_control(want, PN_WS_OP_CLOSE, (const uint8_t *)"\x03\xe8", 2);
	return w;
}

static void check_same(const struct sink *got, const struct sink *want)
{
	assert_int_equal(got->ndata, want->ndata);
	assert_memory_equal(got->data, want->data, want->ndata);
	assert_int_equal(got->nctl, want->nctl);
	assert_memory_equal(got->ctl, want->ctl, want->nctl);
}

/* Feed `wire` in pieces cut at `cuts` (ascending), on a copy (unmasked in place). */
static void feed_cuts(const uint8_t *wire, size_t n, int server, const size_t *cuts, size_t ncuts,
		      struct sink *got)
{
	static uint8_t copy[300000];
	struct pn_ws_rx rx = {.server = server, .max_msg = 100000};
	size_t prev = 0;

	memcpy(copy, wire, n);
	memset(got, 0, sizeof(*got));
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		assert_int_equal(pn_ws_rx_feed(&rx, copy + prev, end - prev, &ops, got), 0);
		prev = end;
	}
}

static void every_split(int masked)
{
	static uint8_t wire[300000];
	static struct sink want, got;
	size_t n = build(wire, masked, &want), cut;

	/* Whole, then cut in two at every position of the headers and around
	 * them (every byte of the stream for the small frames). */
	feed_cuts(wire, n, masked, NULL, 0, &got);
	check_same(&got, &want);
	for (cut = 1; cut < n; cut += (cut < 400 || n - cut < 1200) ? 1 : 97) {
		feed_cuts(wire, n, masked, &cut, 1, &got);
		check_same(&got, &want);
	}
	/* Every position from just before a frame's header to past its mask. */
	for (size_t f = 0; f < nfs; f++)
		for (cut = fstart[f] > 2 ? fstart[f] - 2 : 1; cut < fstart[f] + 20 && cut < n; cut++) {
			feed_cuts(wire, n, masked, &cut, 1, &got);
			check_same(&got, &want);
		}
	/* One byte at a time. */
	{
		static size_t cuts[300000];
		for (size_t i = 0; i + 1 < n; i++)
			cuts[i] = i + 1;
		feed_cuts(wire, n, masked, cuts, n - 1, &got);
		check_same(&got, &want);
	}
}

static void test_every_split_from_client(void **state)
{
	every_split(1); /* the server's view: masked frames */
}

static void test_every_split_from_server(void **state)
{
	every_split(0);
}

static void test_mask(void **state)
{
	uint8_t key[4] = {1, 2, 3, 4}, a[100], b[100], c[100];

	for (int i = 0; i < 100; i++)
		a[i] = (uint8_t)(i * 13);
	/* At any offset, any length: the byte-wise definition. */
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n < 40; n++) {
			pn_ws_mask(b, a, n, key, off);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(b[i], a[i] ^ key[(off + i) % 4]);
			pn_ws_mask(c, b, n, key, off);
			assert_memory_equal(c, a, n);
		}
}

static int feed_one(const uint8_t *frame, size_t n, int server, uint64_t max)
{
	uint8_t copy[64];
	struct pn_ws_rx rx = {.server = server, .max_msg = max};
	static struct sink k;

	assert_true(n <= sizeof(copy));
	memcpy(copy, frame, n);
	memset(&k, 0, sizeof(k));
	return pn_ws_rx_feed(&rx, copy, n, &ops, &k);
}

static void test_refused(void **state)
{
	/* masked frames to a server, unmasked to a client: the right shape */
	static const uint8_t ok_c[] = {0x82, 0x81, 1, 2, 3, 4, 'x'};
	static const uint8_t ok_s[] = {0x82, 0x01, 'x'};
	static const uint8_t rsv[] = {0xc2, 0x01, 'x'};
	static const uint8_t badop[] = {0x83, 0x01, 'x'};
	static const uint8_t badctl[] = {0x8b, 0x00};
	static const uint8_t fragping[] = {0x09, 0x00};
	static const uint8_t longping[] = {0x89, 0x7e, 0x00, 0x7e};
	static const uint8_t cont[] = {0x80, 0x01, 'x'};
	static const uint8_t twice[] = {0x02, 0x01, 'x', 0x82, 0x01, 'y'};
	static const uint8_t huge[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t big[] = {0x82, 0x7e, 0x01, 0x00};
	uint8_t frag_big[2 + 20 + 2] = {0x02, 20};

	assert_int_equal(feed_one(ok_c, sizeof(ok_c), 1, 0), 0);
	assert_int_equal(feed_one(ok_s, sizeof(ok_s), 0, 0), 0);
	assert_int_equal(feed_one(ok_s, sizeof(ok_s), 1, 0), PN_E_MALFORMED); /* unmasked to a server */
	assert_int_equal(feed_one(ok_c, sizeof(ok_c), 0, 0), PN_E_MALFORMED); /* masked to a client */
	assert_int_equal(feed_one(rsv, sizeof(rsv), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(badop, sizeof(badop), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(badctl, sizeof(badctl), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(fragping, sizeof(fragping), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(longping, sizeof(longping), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(cont, sizeof(cont), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(twice, sizeof(twice), 0, 0), PN_E_MALFORMED);
	assert_int_equal(feed_one(huge, sizeof(huge), 0, 0), PN_E_MALFORMED);
	/* the message bound, on one frame and over fragments (before any byte) */
	assert_int_equal(feed_one(big, sizeof(big), 0, 255), PN_E_TOOBIG);
	assert_int_equal(feed_one(big, sizeof(big), 0, 256), 0);
	frag_big[22] = 0x80; /* a final continuation of 20 more: 40 in all */
	frag_big[23] = 20;
	assert_int_equal(feed_one(frag_big, sizeof(frag_big), 0, 39), PN_E_TOOBIG);
	assert_int_equal(feed_one(frag_big, sizeof(frag_big), 0, 40), 0);
}

static int stop_data(void *user, const uint8_t *p, size_t n)
{
	(*(unsigned *)user)++;
	return PN_E_CLOSED;
}

static void test_callback_error_stops(void **state)
{
	static const struct pn_ws_rx_ops o = {stop_data, NULL};
	uint8_t two[] = {0x82, 0x01, 'x', 0x82, 0x01, 'y'};
	struct pn_ws_rx rx = {0};
	unsigned calls = 0;

	assert_int_equal(pn_ws_rx_feed(&rx, two, sizeof(two), &o, &calls), PN_E_CLOSED);
	assert_int_equal(calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_split_from_client),
	    cmocka_unit_test(test_every_split_from_server),
	    cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_callback_error_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
