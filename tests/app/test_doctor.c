/*
 * src/app/doctor.c: the rules that turn `postern doctor`'s measurements
 * into ok / warn / fail, and the table and JSON it prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "app/doctor.h"

static void test_skew(void **state)
{
	(void)state;
	assert_int_equal(pn_doc_skew_status(0), PN_DOC_OK);
	assert_int_equal(pn_doc_skew_status(30000), PN_DOC_OK);
	assert_int_equal(pn_doc_skew_status(30001), PN_DOC_WARN);
	assert_int_equal(pn_doc_skew_status(-30001), PN_DOC_WARN);
	assert_int_equal(pn_doc_skew_status(300000), PN_DOC_WARN);
	assert_int_equal(pn_doc_skew_status(300001), PN_DOC_FAIL);
	assert_int_equal(pn_doc_skew_status(-600000), PN_DOC_FAIL);
}

static void test_expiry(void **state)
{
	const int64_t now = 1800000000;

	(void)state;
	/* A 1 h credential: fine until renewal is overdue (less than a quarter left). */
	assert_int_equal(pn_doc_expiry_status(now, now - 600, now + 3000), PN_DOC_OK);
	assert_int_equal(pn_doc_expiry_status(now, now - 2900, now + 800), PN_DOC_WARN);
	assert_int_equal(pn_doc_expiry_status(now, now - 3600, now), PN_DOC_FAIL);
	assert_int_equal(pn_doc_expiry_status(now, now - 7200, now - 1), PN_DOC_FAIL);
	/* A week-long one: warned within its last day. */
	assert_int_equal(pn_doc_expiry_status(now, now - 5 * 86400, now + 2 * 86400), PN_DOC_OK);
	assert_int_equal(pn_doc_expiry_status(now, now - 6 * 86400, now + 86399), PN_DOC_WARN);
}

static void test_mtu(void **state)
{
	static const unsigned sizes[PN_DOC_MTU_NSIZES] = PN_DOC_MTU_SIZES;
	int all[PN_DOC_MTU_NSIZES] = {1, 1, 1, 1, 1}, pppoe[PN_DOC_MTU_NSIZES] = {0, 1, 1, 1, 1};
	int small[PN_DOC_MTU_NSIZES] = {0, 0, 0, 0, 1}, none[PN_DOC_MTU_NSIZES] = {0};
	unsigned best;

	(void)state;
	assert_int_equal(pn_doc_mtu_status(sizes, all, PN_DOC_MTU_NSIZES, &best), PN_DOC_OK);
	assert_int_equal(best, 1472);
	assert_int_equal(pn_doc_mtu_status(sizes, pppoe, PN_DOC_MTU_NSIZES, &best), PN_DOC_OK);
	assert_int_equal(best, 1452);
	assert_int_equal(pn_doc_mtu_status(sizes, small, PN_DOC_MTU_NSIZES, &best), PN_DOC_WARN);
	assert_int_equal(best, 1200);
	assert_int_equal(pn_doc_mtu_status(sizes, none, PN_DOC_MTU_NSIZES, &best), PN_DOC_FAIL);
	assert_int_equal(best, 0);
}

static void test_duration(void **state)
{
	char b[32];

	(void)state;
	pn_doc_duration(42, b, sizeof(b));
	assert_string_equal(b, "42 s");
	pn_doc_duration(3000, b, sizeof(b));
	assert_string_equal(b, "50 min");
	pn_doc_duration(5 * 3600 + 180, b, sizeof(b));
	assert_string_equal(b, "5 h 3 min");
	pn_doc_duration(-(4 * 86400 + 3600), b, sizeof(b));
	assert_string_equal(b, "-4 d 1 h");
}

/* The same report as a table and as JSON; exit 1 only with a failure. */
static void test_output(void **state)
{
	struct pn_doc_report *r = calloc(1, sizeof(*r));
	struct pn_doc_check *c;
	char *buf = NULL;
	size_t len = 0;
	json_t *j;
	FILE *f;

	(void)state;
	assert_non_null(r);
	snprintf(r->role, sizeof(r->role), "client");
	pn_doc_set(pn_doc_add(r, "clock skew"), PN_DOC_OK, "%+.1f s", 0.2);
	c = pn_doc_add(r, "relay r1 udp");
	pn_doc_set(c, PN_DOC_WARN, "slow");
	assert_int_equal(pn_doc_exit_code(r), 0);
	c = pn_doc_add(r, "controller");
	pn_doc_set(c, PN_DOC_FAIL, "unreachable \"x\"");
	pn_doc_advise(c, "start it");
	pn_doc_set(pn_doc_add(r, "path mtu"), PN_DOC_SKIP, "not measured \x1b[2J\xc3\xa9");
	assert_string_equal(r->c[3].value, "not measured ?[2J??");
	assert_int_equal(pn_doc_exit_code(r), 1);

	assert_non_null(f = open_memstream(&buf, &len));
	pn_doc_print_table(r, f);
	fclose(f);
	assert_non_null(strstr(buf, "CHECK         STATUS VALUE\n"));
	assert_non_null(strstr(buf, "controller    fail   unreachable \"x\"\n"));
	assert_non_null(strstr(buf, "              -> start it\n"));
	assert_non_null(strstr(buf, "1 ok, 1 warn, 1 fail, 1 skipped\n"));
	free(buf);

	buf = NULL;
	assert_non_null(f = open_memstream(&buf, &len));
	assert_int_equal(pn_doc_print_json(r, f), 0);
	fclose(f);
	assert_non_null(j = json_loads(buf, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "role")), "client");
	assert_int_equal(json_integer_value(json_object_get(j, "fail")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "checks")), 4);
	{
		json_t *x = json_array_get(json_object_get(j, "checks"), 2);
		assert_string_equal(json_string_value(json_object_get(x, "status")), "fail");
		assert_string_equal(json_string_value(json_object_get(x, "advice")), "start it");
		assert_null(json_object_get(json_array_get(json_object_get(j, "checks"), 0),
					    "advice"));
	}
	json_decref(j);
	free(buf);

	/* Full: no more checks, nothing written past the end. */
	while (r->n < PN_DOC_MAX_CHECKS)
		assert_non_null(pn_doc_add(r, "x"));
	assert_null(pn_doc_add(r, "one too many"));
	pn_doc_set(NULL, PN_DOC_OK, "ignored");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_skew),     cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_mtu),	     cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
