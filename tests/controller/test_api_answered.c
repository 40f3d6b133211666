/* Handlers and helpers that have answered return PN_E_API_ANSWERED (never a
 * bare -1 or an errno), and a store error never overwrites an answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "controller/api.h"
#include "core/err.h"

static void reset(struct pn_req *r)
{
	json_decref(r->resp);
	json_decref(r->body);
	memset(r, 0, sizeof(*r));
}

static const char *code_of(const struct pn_req *r)
{
	return json_string_value(json_object_get(json_object_get(r->resp, "error"), "code"));
}

static void test_error_answers(void **state)
{
	struct pn_req r = {0};

	(void)state;
	assert_int_equal(pn_api_error(&r, 400, "bad", "x=%d", 1), PN_E_API_ANSWERED);
	assert_int_equal(r.status, 400);
	assert_string_equal(code_of(&r), "bad");
	assert_int_equal(pn_api_done(&r), PN_E_API_ANSWERED);
	/* A message quoting bytes that are not UTF-8 (a percent-encoded path
	 * segment) still gives a JSON answer (found by fuzz_controller_request). */
	assert_int_equal(pn_api_error(&r, 404, "not_found", "no resource '%s'", "t\xe2"),
			 PN_E_API_ANSWERED);
	assert_int_equal(r.status, 404);
	assert_non_null(r.resp);
	assert_string_equal(code_of(&r), "not_found");
	assert_int_equal(pn_api_error(&r, 400, "bad", "x=%d", 1), PN_E_API_ANSWERED);
	/* A helper's answer travels up as a code: the store mapping keeps it. */
	assert_int_equal(pn_api_store_error(&r, PN_E_API_ANSWERED), PN_E_API_ANSWERED);
	assert_int_equal(r.status, 400);
	assert_string_equal(code_of(&r), "bad");
	assert_int_equal(pn_api_store_error(&r, PN_E_STORE_CONFLICT), PN_E_API_ANSWERED);
	assert_int_equal(r.status, 409);
	assert_int_equal(pn_api_ok(&r, 200, json_object()), 0);
	assert_int_equal(pn_api_done(&r), 0);
	assert_int_equal(pn_api_ok(&r, 200, NULL), PN_E_API_ANSWERED); /* out of memory: 500 */
	assert_int_equal(r.status, 500);
	reset(&r);
	assert_int_equal(pn_api_done(&r), PN_E_API_ANSWERED); /* no response at all */
}

static void test_validators_answer(void **state)
{
	static const char *const allowed[] = {"name", NULL};
	struct pn_req r = {0};
	const char *s;
	char *text = NULL;
	json_t *bad = json_pack("[s]", "tcp/0");

	(void)state;
	r.body = json_pack("{s:s,s:i}", "name", "a", "extra", 1);
	assert_int_equal(pn_api_only_fields(&r, allowed), PN_E_API_ANSWERED);
	assert_string_equal(code_of(&r), "unknown_field");
	reset(&r);
	r.body = json_pack("{s:i}", "name", 5);
	assert_int_equal(pn_api_str(&r, "name", 1, 64, 1, &s), PN_E_API_ANSWERED);
	assert_string_equal(code_of(&r), "invalid_type");
	reset(&r);
	assert_int_equal(pn_api_protocols(&r, bad, &text), PN_E_API_ANSWERED);
	assert_null(text);
	assert_int_equal(r.status, 400);
	reset(&r);
	assert_int_equal(pn_api_hostport(&r, "udp", "no port"), PN_E_API_ANSWERED);
	assert_int_equal(r.status, 400);
	reset(&r);
	/* The router's refusals are answers too. */
	strcpy(r.actor, "");
	assert_int_equal(pn_router_allow(&r, PN_A_ADMIN), PN_E_API_ANSWERED);
	assert_int_equal(r.status, 401);
	reset(&r);
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_answers),
	    cmocka_unit_test(test_validators_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
