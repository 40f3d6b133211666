/* core/dlsyms.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/dlsyms.h"
#include "core/err.h"

/* A library that is present: every name resolved, loaded once. */
static void test_loads(void **state)
{
	static const char *const names[] = {"strlen", "memcpy", NULL};
	void *syms[2] = {0};
	struct pn_dlsyms d = {
	    .soname = "libc.so.6", .package = "libc6", .names = names, .syms = syms};
	size_t (*len)(const char *);
	char err[256] = "";

	(void)state;
	assert_int_equal(pn_dlsyms_load(&d, err, sizeof(err)), 0);
	assert_non_null(syms[0]);
	assert_non_null(syms[1]);
	len = (size_t(*)(const char *))syms[0];
	assert_int_equal(len("postern"), 7);
	assert_int_equal(pn_dlsyms_load(&d, NULL, 0), 0); /* remembered */
	assert_string_equal(err, "");
}

/* A library that is absent: a message naming it and its package, and the
 * failure remembered (no second attempt, same answer). */
static void test_library_missing(void **state)
{
	static const char *const names[] = {"pn_nothing", NULL};
	void *syms[1] = {0};
	struct pn_dlsyms d = {.soname = "libpostern-absent.so.9",
			      .package = "libpostern-absent9",
			      .names = names,
			      .syms = syms};
	char err[256] = "";

	(void)state;
	assert_int_equal(pn_dlsyms_load(&d, err, sizeof(err)), PN_E_LIBRARY);
	assert_non_null(strstr(err, "libpostern-absent.so.9"));
	assert_non_null(strstr(err, "package libpostern-absent9"));
	assert_null(syms[0]);
	memset(err, 0, sizeof(err));
	assert_int_equal(pn_dlsyms_load(&d, err, sizeof(err)), PN_E_LIBRARY);
	assert_non_null(strstr(err, "libpostern-absent.so.9"));
}

/* A symbol that is absent: a message naming it, no half-filled table. */
static void test_symbol_missing(void **state)
{
	static const char *const names[] = {"strlen", "pn_no_such_symbol", NULL};
	void *syms[2] = {0};
	struct pn_dlsyms d = {
	    .soname = "libc.so.6", .package = "libc6", .names = names, .syms = syms};
	char err[256] = "";

	(void)state;
	assert_int_equal(pn_dlsyms_load(&d, err, sizeof(err)), PN_E_LIBRARY);
	assert_non_null(strstr(err, "pn_no_such_symbol"));
	assert_non_null(strstr(err, "libc.so.6"));
	assert_non_null(strstr(err, "libc6"));
	assert_null(syms[0]);
	assert_null(syms[1]);
}

static int init_calls;

static int init_ok(void *const *syms, char *msg, size_t msgsz)
{
	(void)msg;
	(void)msgsz;
	init_calls++;
	return syms[0] ? 0 : -1; /* runs after every name resolved */
}

static int init_fails(void *const *syms, char *msg, size_t msgsz)
{
	(void)syms;
	init_calls++;
	snprintf(msg, msgsz, "global init failed (package libc6)");
	return -1;
}

/* The init hook (libcurl's curl_global_init): run once, after the
 * symbols, and its failure fails the load, remembered, table cleared. */
static void test_init(void **state)
{
	static const char *const names[] = {"strlen", NULL};
	void *syms[1] = {0};
	struct pn_dlsyms ok = {.soname = "libc.so.6",
			       .package = "libc6",
			       .names = names,
			       .syms = syms,
			       .init = init_ok};
	struct pn_dlsyms bad = {.soname = "libc.so.6",
				.package = "libc6",
				.names = names,
				.syms = syms,
				.init = init_fails};
	char err[256] = "";

	(void)state;
	init_calls = 0;
	assert_int_equal(pn_dlsyms_load(&ok, err, sizeof(err)), 0);
	assert_int_equal(pn_dlsyms_load(&ok, err, sizeof(err)), 0);
	assert_int_equal(init_calls, 1);
	assert_non_null(syms[0]);
	init_calls = 0;
	assert_int_equal(pn_dlsyms_load(&bad, err, sizeof(err)), PN_E_LIBRARY);
	assert_non_null(strstr(err, "global init failed (package libc6)"));
	assert_null(syms[0]);
	assert_int_equal(pn_dlsyms_load(&bad, NULL, 0), PN_E_LIBRARY);
	assert_int_equal(init_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loads),
	    cmocka_unit_test(test_library_missing),
	    cmocka_unit_test(test_symbol_missing),
	    cmocka_unit_test(test_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
