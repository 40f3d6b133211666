/*
 * Route a request to its handler and enforce the route's access level
 * before the handler runs: every endpoint declares exactly one level, so
 * an endpoint cannot be added without deciding who may call it.  Routes
 * are rows of each handler group's table (struct pn_route), so the list
 * of what is served is data: the OpenAPI test walks it (pn_router_route).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "controller/api.h"
#include "controller/console.h"
#include "core/err.h"

static const struct pn_route *const tables[] = {
	pn_console_routes, pn_objects_routes, pn_components_routes, pn_admin_routes,
	pn_enroll_routes,  pn_oidc_routes,    pn_openapi_routes,    pn_metrics_routes,
};

const struct pn_route *pn_router_route(size_t i)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct pn_route *rt = tables[t]; rt->method; rt++)
			if (i-- == 0)
				return rt;
	}
	return NULL;
}

/* Does r's path (its segments) fit the route's pattern? */
static int path_match(const char *pat, const struct pn_req *r)
{
	unsigned i = 0;

	for (const char *p = pat; *p; i++) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (i >= r->nseg)
			return 0;
		if (p[0] != '{' && (strlen(r->seg[i]) != n || memcmp(r->seg[i], p, n)))
			return 0;
		p += e ? n + 1 : n;
	}
	return i == r->nseg;
}

static int allowed(const struct pn_req *r, enum pn_access acc)
{
	switch (acc) {
	case PN_A_PUBLIC:
		return 1;
	case PN_A_READ:
		return r->who == PN_P_ADMIN || r->who == PN_P_READONLY;
	case PN_A_ADMIN:
		return r->who == PN_P_ADMIN;
	case PN_A_SERVICE:
		return r->who == PN_P_SERVICE;
	case PN_A_COMPONENT:
		return r->who == PN_P_COMPONENT;
	}
	return 0;
}

int pn_router_find(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc)
{
	const struct pn_route *rt;
	size_t off = 0;
	int rc;

	*fn = NULL;
	*acc = PN_A_ADMIN;
	if (!r->nseg) { /* not under /v1/: the console's files, or nothing */
		if ((rc = pn_console_static_route(r, fn, acc)) < 0)
			return rc; /* it set the response (405) */
		if (!*fn)
			return pn_api_error(r, 404, "not_found", "no such endpoint");
		return 0;
	}
	r->hdr_buf[0] = '\0';
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (rt = tables[t]; rt->method; rt++) {
			int n;

			if (!path_match(rt->path, r))
				continue;
			if (!strcmp(rt->method, r->method)) {
				*fn = rt->fn;
				*acc = rt->acc;
				r->route_ctx = rt->ctx;
				return 0;
			}
			/* the path exists with other methods: collect them for Allow */
			n = snprintf(r->hdr_buf + off, sizeof(r->hdr_buf) - off, "%s%s",
				     off ? ", " : "", rt->method);
			if (n > 0 && (size_t)n < sizeof(r->hdr_buf) - off)
				off += (size_t)n;
		}
	}
	if (!off)
		return pn_api_error(r, 404, "not_found", "no such endpoint");
	pn_api_header(r, "Allow", r->hdr_buf);
	return pn_api_error(r, 405, "method_not_allowed",
			    "%.16s is not supported on this endpoint (%s)", r->method, r->hdr_buf);
}

/* A refusal for the metrics (the field at offset off of ctl->stats). */
static void count_denial(struct pn_req *r, size_t off)
{
	if (r->ctl) /* unit tests route without a controller */
		atomic_fetch_add((atomic_uint_least64_t *)((char *)&r->ctl->stats + off), 1);
}

int pn_router_allow(struct pn_req *r, enum pn_access acc)
{
	if (r->who == PN_P_NONE && !strcmp(r->actor, PN_ACTOR_STORE_DOWN)) {
		count_denial(r, offsetof(struct pn_ctl_stats, store_down));
		return pn_api_store_error(r, PN_E_STORE_DOWN);
	}
	/* A presented but invalid credential is 401 even on public routes, so a
	 * caller never mistakes a bad key for anonymous access. */
	if (r->who == PN_P_NONE && (acc != PN_A_PUBLIC || !strncmp(r->actor, "refused:key", 11))) {
		count_denial(r, offsetof(struct pn_ctl_stats, unauthenticated));
		return pn_api_error(r, 401, "unauthenticated",
				    "missing, unknown, expired or revoked credentials");
	}
	if (pn_console_csrf_check(r)) {
		count_denial(r, offsetof(struct pn_ctl_stats, forbidden));
		return PN_E_API_ANSWERED;
	}
	if (!allowed(r, acc)) {
		count_denial(r, offsetof(struct pn_ctl_stats, forbidden));
		return pn_api_error(r, 403, "forbidden",
				    "these credentials may not use this endpoint");
	}
	return 0;
}

int pn_router_dispatch(struct pn_req *r)
{
	pn_handler_fn fn;
	enum pn_access acc;
	int rc;

	if ((rc = pn_router_find(r, &fn, &acc)) || (rc = pn_router_allow(r, acc)))
		return rc;
	return fn(r);
}
