/* core/dlsyms.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loads),
	    cmocka_unit_test(test_library_missing),
	    cmocka_unit_test(test_symbol_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
