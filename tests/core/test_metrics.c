/* core/metrics.h and the sans-I/O half of core/metrics_http.h */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/metrics.h"
#include "core/metrics_http.h"

static char *render(struct pn_metrics *m)
{
	char *t = NULL;
	size_t n = 0;

	assert_int_equal(pn_metrics_render(m, &t, &n), 0);
	assert_int_equal(strlen(t), n);
	return t;
}

/* Exact text: families by name, series by label values, whatever the
 * order of filling; integers as integers; HELP before TYPE. */
static void test_exact(void **state)
{
	struct pn_metrics *m;
	char *t;

	(void)state;
	assert_int_equal(pn_metrics_new(&m), 0);
	assert_int_equal(pn_metrics_family(m, "pn_z_total", PN_METRIC_COUNTER, "Zs.", NULL, 0), 0);
	assert_int_equal(pn_metrics_family(m, "pn_a", PN_METRIC_GAUGE, "As by kind.", "kind,dir", 8),
			 0);
	assert_int_equal(pn_metrics_family(m, "pn_empty", PN_METRIC_GAUGE, "None yet.", "x", 2), 0);
	assert_int_equal(pn_metrics_set(m, "pn_a", (const char *[]){"relay", "up"}, 2), 0);
	assert_int_equal(pn_metrics_add(m, "pn_a", (const char *[]){"direct", "up"}, 1), 0);
	assert_int_equal(pn_metrics_add(m, "pn_a", (const char *[]){"direct", "up"}, 1.5), 0);
	assert_int_equal(pn_metrics_set(m, "pn_a", (const char *[]){"direct", "down"}, -3), 0);
	assert_int_equal(pn_metrics_add(m, "pn_z_total", NULL, 12345678901234.0), 0);
	t = render(m);
	assert_string_equal(t, "# HELP pn_a As by kind.\n"
			       "# TYPE pn_a gauge\n"
			       "pn_a{kind=\"direct\",dir=\"down\"} -3\n"
			       "pn_a{kind=\"direct\",dir=\"up\"} 2.5\n"
			       "pn_a{kind=\"relay\",dir=\"up\"} 2\n"
			       "# HELP pn_empty None yet.\n"
			       "# TYPE pn_empty gauge\n"
			       "# HELP pn_z_total Zs.\n"
			       "# TYPE pn_z_total counter\n"
			       "pn_z_total 12345678901234\n");
	free(t);
	pn_metrics_free(m);
}

static void test_values(void **state)
{
	struct pn_metrics *m;
	char *t;

	(void)state;
	assert_int_equal(pn_metrics_new(&m), 0);
	assert_int_equal(pn_metrics_family(m, "v", PN_METRIC_GAUGE, "h", "k", 8), 0);
	pn_metrics_set1(m, "v", "a", 0.1);
	pn_metrics_set1(m, "v", "b", NAN);
	pn_metrics_set1(m, "v", "c", INFINITY);
	pn_metrics_set1(m, "v", "d", -INFINITY);
	pn_metrics_set1(m, "v", "e", 1e300);
	pn_metrics_set1(m, "v", "f", 0.000125);
	t = render(m);
	assert_string_equal(t, "# HELP v h\n# TYPE v gauge\n"
			       "v{k=\"a\"} 0.1\n"
			       "v{k=\"b\"} NaN\n"
			       "v{k=\"c\"} +Inf\n"
			       "v{k=\"d\"} -Inf\n"
			       "v{k=\"e\"} 1e+300\n"
			       "v{k=\"f\"} 0.000125\n");
	free(t);
	pn_metrics_free(m);
}

/* Label values: \\, \" and \n escaped; HELP: \\ and \n (a quote stays). */
static void test_escaping(void **state)
{
	struct pn_metrics *m;
	char *t;

	(void)state;
	assert_int_equal(pn_metrics_new(&m), 0);
	assert_int_equal(pn_metrics_family(m, "e", PN_METRIC_GAUGE, "a \\ \"q\"\nb", "v", 4), 0);
	assert_int_equal(pn_metrics_set1(m, "e", "x\\y\"z\nw", 1), 0);
	t = render(m);
	assert_string_equal(t, "# HELP e a \\\\ \"q\"\\nb\n# TYPE e gauge\n"
			       "e{v=\"x\\\\y\\\"z\\nw\"} 1\n");
	free(t);
	pn_metrics_free(m);
}

static void test_refusals(void **state)
{
	static char fnames[PN_METRICS_FAMILIES_MAX][16]; /* borrowed by the registry */
	struct pn_metrics *m;
	char big[PN_METRICS_VALUE_MAX + 2], name[16];

	(void)state;
	assert_int_equal(pn_metrics_new(&m), 0);
	/* names */
	assert_int_equal(pn_metrics_family(m, "", PN_METRIC_GAUGE, "h", NULL, 0), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "1a", PN_METRIC_GAUGE, "h", NULL, 0), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "a-b", PN_METRIC_GAUGE, "h", NULL, 0), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "a b", PN_METRIC_GAUGE, "h", NULL, 0), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "a:b_c", PN_METRIC_GAUGE, "h", NULL, 0), 0);
	assert_int_equal(pn_metrics_family(m, "a:b_c", PN_METRIC_GAUGE, "h", NULL, 0), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "t", 7, "h", NULL, 0), PN_E_INVAL);
	/* labels */
	assert_int_equal(pn_metrics_family(m, "l1", PN_METRIC_GAUGE, "h", "a:b", 4), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "l2", PN_METRIC_GAUGE, "h", "__x", 4), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "l3", PN_METRIC_GAUGE, "h", "a,a", 4), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "l4", PN_METRIC_GAUGE, "h", "a,", 4), PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "l5", PN_METRIC_GAUGE, "h", "a,b,c,d,e", 4),
			 PN_E_INVAL);
	assert_int_equal(pn_metrics_family(m, "l6", PN_METRIC_GAUGE, "h", "a", 0), PN_E_INVAL);
	assert_int_equal(
	    pn_metrics_family(m, "l7", PN_METRIC_GAUGE, "h", "a", PN_METRICS_SERIES_MAX + 1),
	    PN_E_INVAL);
	/* bounded series: the third distinct value is refused and counted */
	assert_int_equal(pn_metrics_family(m, "c_total", PN_METRIC_COUNTER, "h", "r", 2), 0);
	assert_int_equal(pn_metrics_add1(m, "c_total", "a", 1), 0);
	assert_int_equal(pn_metrics_add1(m, "c_total", "b", 1), 0);
	assert_int_equal(pn_metrics_add1(m, "c_total", "c", 1), PN_E_TOOBIG);
	assert_int_equal(pn_metrics_add1(m, "c_total", "a", 1), 0); /* existing: fine */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pn_metrics_add1(m, "c_total", big, 1), PN_E_TOOBIG);
	assert_int_equal(pn_metrics_refused(m), 2);
	/* counters never negative; unknown family; missing values */
	assert_int_equal(pn_metrics_set1(m, "c_total", "a", -1), PN_E_INVAL);
	assert_int_equal(pn_metrics_set(m, "nope", NULL, 1), PN_E_INVAL);
	assert_int_equal(pn_metrics_set(m, "c_total", NULL, 1), PN_E_INVAL);
	assert_int_equal(pn_metrics_set1(m, "c_total", NULL, 1), PN_E_INVAL);
	pn_metrics_free(m);
	/* the family cap */
	assert_int_equal(pn_metrics_new(&m), 0);
	for (int i = 0; i < PN_METRICS_FAMILIES_MAX; i++) {
		snprintf(fnames[i], sizeof(fnames[i]), "f%d", i);
		assert_int_equal(pn_metrics_family(m, fnames[i], PN_METRIC_GAUGE, "h", NULL, 0), 0);
	}
	snprintf(name, sizeof(name), "one_more");
	assert_int_equal(pn_metrics_family(m, name, PN_METRIC_GAUGE, "h", NULL, 0), PN_E_TOOBIG);
	pn_metrics_free(m);
}

/* The output cap: a registry whose text would pass PN_METRICS_TEXT_MAX. */
static void test_text_cap(void **state)
{
	static char names[PN_METRICS_FAMILIES_MAX][16];
	char v[PN_METRICS_VALUE_MAX + 1];
	struct pn_metrics *m;
	char *t = (char *)1;
	size_t n = 1;

	(void)state;
	memset(v, 'v', sizeof(v) - 1);
	assert_int_equal(pn_metrics_new(&m), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		assert_int_equal(pn_metrics_family(m, names[i], PN_METRIC_GAUGE, "h", "a",
						   PN_METRICS_SERIES_MAX),
				 0);
		for (int j = 0; j < PN_METRICS_SERIES_MAX; j++) {
			snprintf(v + PN_METRICS_VALUE_MAX - 8, 9, "%08d", j);
			assert_int_equal(pn_metrics_set1(m, names[i], v, j), 0);
		}
	}
	assert_int_equal(pn_metrics_render(m, &t, &n), PN_E_TOOBIG);
	assert_null(t);
	assert_int_equal(n, 0);
	pn_metrics_free(m);
}

static void test_http_parse(void **state)
{
	static const struct {
		const char *req;
		int want;
	} cases[] = {
	    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
	    {"GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200},
	    {"GET /metrics HTTP/1.1\n\n", 200},
	    {"GET /metrics HTTP/1.1\r\nHost: x\r\n", 0},
	    {"GET /metrics", 0},
	    {"", 0},
	    {"POST /metrics HTTP/1.1\r\n\r\n", 405},
	    {"HEAD /metrics HTTP/1.1\r\n\r\n", 405},
	    {"GETX /metrics HTTP/1.1\r\n\r\n", 405},
	    {"GET / HTTP/1.1\r\n\r\n", 404},
	    {"GET /metricsx HTTP/1.1\r\n\r\n", 404},
	    {"GET /v1/metrics HTTP/1.1\r\n\r\n", 404},
	    {"GET /metrics HTTP/2.0\r\n\r\n", 400},
	    {"GET /metrics HTTP/1.1x\r\n\r\n", 400},
	    {"GET  /metrics HTTP/1.1\r\n\r\n", 400},
	    {" GET /metrics HTTP/1.1\r\n\r\n", 400},
	    {"GET /metrics\r\n\r\n", 400},
	    {"\r\n\r\n", 400},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = pn_mhttp_parse(cases[i].req, strlen(cases[i].req));
		if (got != cases[i].want)
			fail_msg("case %zu \"%s\": %d, want %d", i, cases[i].req, got,
				 cases[i].want);
	}
}

static void test_http_response(void **state)
{
	char *out;
	size_t n;
	const char *body = "a 1\n";

	(void)state;
	assert_int_equal(pn_mhttp_response(200, body, strlen(body), &out, &n), 0);
	assert_true(n > strlen(body));
	assert_memory_equal(out, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(out, "Content-Length: 4\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_memory_equal(out + n - 8, "\r\n\r\na 1\n", 8);
	free(out);
	assert_int_equal(pn_mhttp_response(405, NULL, 0, &out, &n), 0);
	assert_memory_equal(out, "HTTP/1.1 405 Method Not Allowed\r\n", 33);
	assert_true(memmem(out, n, "Allow: GET\r\n", 12) != NULL);
	free(out);
	assert_int_equal(pn_mhttp_response(431, NULL, 0, &out, &n), 0);
	assert_memory_equal(out, "HTTP/1.1 431 ", 13);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact),	  cmocka_unit_test(test_values),
	    cmocka_unit_test(test_escaping),	  cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_text_cap),	  cmocka_unit_test(test_http_parse),
	    cmocka_unit_test(test_http_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
