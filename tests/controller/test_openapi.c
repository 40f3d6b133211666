/*
 * The OpenAPI document (src/controller/openapi.json, served at
 * /v1/openapi.json) against the router's own route tables:
 *   - every route the router serves (pn_router_route) is documented, with
 *     the access level the router enforces (x-postern-access) and the
 *     matching security requirement;
 *   - every documented operation is found by the real router
 *     (pn_router_find on a request built from the documented path), with
 *     that same access level;
 *   - the document is OpenAPI 3.1 with unique operation ids and every path
 *     parameter declared.
 * The schema validation proper is done by a real validator
 * (tests/openapi, npm @apidevtools/swagger-parser).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/api.h"
#include "controller/openapi.h"

static const char *access_name(enum pn_access a)
{
	switch (a) {
	case PN_A_PUBLIC: return "PUBLIC";
	case PN_A_READ: return "READ";
	case PN_A_ADMIN: return "ADMIN";
	case PN_A_SERVICE: return "SERVICE";
	case PN_A_COMPONENT: return "COMPONENT";
	}
	return "?";
}

static json_t *load_doc(void)
{
	json_error_t e;
	json_t *doc = json_loadb(pn_openapi_json, pn_openapi_json_len, JSON_REJECT_DUPLICATES, &e);

	if (!doc)
		fail_msg("openapi.json: line %d: %s", e.line, e.text);
	return doc;
}

static void lower(const char *in, char *out, size_t n)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < n; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

/* The security requirement a route of this access level must document. */
static void check_security(const json_t *op, enum pn_access acc, const char *what)
{
	const json_t *sec = json_object_get(op, "security");
	const char *want = acc == PN_A_READ || acc == PN_A_ADMIN ? "adminKey"
			   : acc == PN_A_SERVICE			? "serviceKey"
			   : acc == PN_A_COMPONENT			? "componentCert"
								: NULL;

	if (!json_is_array(sec))
		fail_msg("%s: no security array", what);
	if (!want) {
		if (json_array_size(sec) != 0)
			fail_msg("%s: a public route must have an empty security array", what);
		return;
	}
	if (!json_object_get(json_array_get(sec, 0), want))
		fail_msg("%s: security must start with %s", what, want);
}

static void test_routes_documented(void **state)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	const struct pn_route *rt;
	size_t i;

	(void)state;
	for (i = 0; (rt = pn_router_route(i)); i++) {
		char path[256], m[16], what[300];
		const json_t *op;
		const char *acc;

		snprintf(path, sizeof(path), "/v1/%s", rt->path);
		lower(rt->method, m, sizeof(m));
		snprintf(what, sizeof(what), "%s %s", rt->method, path);
		op = json_object_get(json_object_get(paths, path), m);
		if (!op)
			fail_msg("the router serves %s: not in openapi.json", what);
		acc = json_string_value(json_object_get(op, "x-postern-access"));
		if (!acc || strcmp(acc, access_name(rt->acc)))
			fail_msg("%s: documented access %s, the router enforces %s", what,
				 acc ? acc : "(none)", access_name(rt->acc));
		check_security(op, rt->acc, what);
	}
	assert_true(i > 50); /* the tables are really walked */
	json_decref(doc);
}

/* Build a request for a documented path ("{x}" segments get a value) and
 * ask the real router for it. */
static void find(const char *method, const char *path, pn_handler_fn *fn, enum pn_access *acc,
		 unsigned *status)
{
	struct pn_req r;
	char *p, *save = NULL;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.path = path;
	assert_int_equal(strncmp(path, "/v1/", 4), 0);
	snprintf(r.segbuf, sizeof(r.segbuf), "%s", path + 4);
	for (p = strtok_r(r.segbuf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		assert_true(r.nseg < sizeof(r.seg) / sizeof(r.seg[0]));
		if (p[0] == '{')
			p = "0123456789abcdef0123456789abcdef";
		r.seg[r.nseg++] = p;
	}
	pn_router_find(&r, fn, acc);
	*status = r.status;
	json_decref(r.resp);
}

static void test_documented_routes_exist(void **state)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths"), *item, *op, *ids;
	const char *path, *m;
	size_t nops = 0;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	ids = json_object();
	json_object_foreach(paths, path, item)
	{
		json_object_foreach(item, m, op)
		{
			char method[16], what[300];
			const char *id = json_string_value(json_object_get(op, "operationId"));
			const char *acc = json_string_value(json_object_get(op, "x-postern-access"));
			pn_handler_fn fn = NULL;
			enum pn_access a;
			unsigned status = 0;
			size_t i;

			for (i = 0; m[i] && i + 1 < sizeof(method); i++)
				method[i] = (char)(m[i] >= 'a' && m[i] <= 'z' ? m[i] - 32 : m[i]);
			method[i] = '\0';
			snprintf(what, sizeof(what), "%s %s", method, path);
			find(method, path, &fn, &a, &status);
			if (!fn)
				fail_msg("openapi.json documents %s: the router answers %u", what,
					 status);
			if (!acc || strcmp(acc, access_name(a)))
				fail_msg("%s: documented access %s, the router enforces %s", what,
					 acc ? acc : "(none)", access_name(a));
			if (!id || json_object_get(ids, id))
				fail_msg("%s: operationId missing or not unique", what);
			json_object_set_new(ids, id, json_true());
			/* every {param} of the path is declared */
			for (const char *b = strchr(path, '{'); b; b = strchr(b + 1, '{')) {
				const char *e = strchr(b, '}');
				const json_t *ps = json_object_get(op, "parameters"), *pv;
				size_t k;
				int found = 0;

				assert_non_null(e);
				json_array_foreach(ps, k, pv)
				{
					const char *n = json_string_value(json_object_get(pv, "name"));

					found |= n && strlen(n) == (size_t)(e - b - 1) &&
						 !strncmp(n, b + 1, (size_t)(e - b - 1)) &&
						 !strcmp(json_string_value(json_object_get(pv, "in")),
							 "path");
				}
				if (!found)
					fail_msg("%s: path parameter %.*s not declared", what,
						 (int)(e - b + 1), b);
			}
			nops++;
		}
	}
	assert_true(nops > 50);
	json_decref(ids);
	json_decref(doc);
}

/* The check above would catch an undocumented route: a path the router
 * does not serve is refused by it (404), one with another method 405. */
static void test_router_refuses_unknown(void **state)
{
	pn_handler_fn fn = NULL;
	enum pn_access a;
	unsigned status = 0;

	(void)state;
	find("GET", "/v1/no-such-thing", &fn, &a, &status);
	assert_null(fn);
	assert_int_equal(status, 404);
	find("PUT", "/v1/networks", &fn, &a, &status);
	assert_null(fn);
	assert_int_equal(status, 405);
	find("PATCH", "/v1/policies/{id}", &fn, &a, &status);
	assert_null(fn);
	assert_int_equal(status, 405);
	find("GET", "/v1/networks/{ref}/extra", &fn, &a, &status);
	assert_null(fn);
	assert_int_equal(status, 404);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_documented),
		cmocka_unit_test(test_documented_routes_exist),
		cmocka_unit_test(test_router_refuses_unknown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
