/* The SSE parser: chunking, CRLF, multi-line data, comments, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "ctlapi/sse.h"

struct got {
	int n;
	char event[8][32];
	char data[8][64];
};

static int cb(const char *event, const char *data, size_t len, void *arg)
{
	struct got *g = arg;

	if (g->n == 8)
		return 1;
	snprintf(g->event[g->n], sizeof(g->event[0]), "%s", event);
	snprintf(g->data[g->n], sizeof(g->data[0]), "%.*s", (int)len, data);
	g->n++;
	return 0;
}

static const char stream[] = ": hello\n\nid: 1\nevent: policy\ndata: {\"a\":1}\n\n"
			     "event: x\r\ndata: l1\r\ndata:l2\r\n\r\n: keepalive\n\n"
			     "event: revoked\ndata: {}\n\n";

static void check(const struct got *g)
{
	assert_int_equal(g->n, 3);
	assert_string_equal(g->event[0], "policy");
	assert_string_equal(g->data[0], "{\"a\":1}");
	assert_string_equal(g->event[1], "x");
	assert_string_equal(g->data[1], "l1\nl2");
	assert_string_equal(g->event[2], "revoked");
}

static void test_whole_and_bytewise(void **state)
{
	struct pn_sse p;
	struct got g = {0};

	pn_sse_init(&p, 1024);
	assert_int_equal(pn_sse_feed(&p, stream, strlen(stream), cb, &g), 0);
	check(&g);
	pn_sse_fini(&p);
	memset(&g, 0, sizeof(g));
	pn_sse_init(&p, 1024);
	for (size_t i = 0; i < strlen(stream); i++)
		assert_int_equal(pn_sse_feed(&p, stream + i, 1, cb, &g), 0);
	check(&g);
	pn_sse_fini(&p);
}

static void test_bounds_and_reset(void **state)
{
	struct pn_sse p;
	struct got g = {0};
	char big[200];

	memset(big, 'a', sizeof(big));
	pn_sse_init(&p, 64);
	/* an endless line is refused once it passes the bound */
	assert_int_equal(pn_sse_feed(&p, big, sizeof(big), cb, &g), PN_E_TOOBIG);
	pn_sse_reset(&p);
	/* data accumulated over many lines is bounded too */
	for (int i = 0; i < 3; i++)
		if (pn_sse_feed(&p, "data: 0123456789012345678901234\n", 32, cb, &g))
			break;
	assert_int_equal(pn_sse_feed(&p, "data: 0123456789012345678901234\n", 32, cb, &g),
			 PN_E_TOOBIG);
	pn_sse_reset(&p);
	/* a partial event before a reset is never delivered */
	assert_int_equal(pn_sse_feed(&p, "event: a\ndata: x\n", 17, cb, &g), 0);
	pn_sse_reset(&p);
	assert_int_equal(pn_sse_feed(&p, "\n", 1, cb, &g), 0);
	assert_int_equal(g.n, 0);
	pn_sse_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_bytewise),
		cmocka_unit_test(test_bounds_and_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
