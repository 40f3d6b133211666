/*
 * GET /v1/openapi.json (public): the admin API's OpenAPI 3.1 description,
 * src/controller/openapi.json embedded at build time.  Every route of the
 * router's tables is in it and nothing else (tests/controller/test_openapi.c).
 */
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/openapi.h"

static int h_openapi(struct pn_req *r)
{
	/* the HTTP layer sends r->raw up to its NUL and frees it */
	r->raw = malloc(pn_openapi_json_len + 1);
	if (!r->raw)
		return pn_api_error(r, 500, "internal", "out of memory");
	memcpy(r->raw, pn_openapi_json, pn_openapi_json_len + 1);
	r->raw_type = "application/json";
	r->status = 200;
	return 0;
}

const struct pn_route pn_openapi_routes[] = {
	{"GET", "openapi.json", PN_A_PUBLIC, h_openapi, NULL},
	{NULL, NULL, 0, NULL, NULL},
};
