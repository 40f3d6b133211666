/*
 * Route a request to its handler and enforce the route's access level
 * before the handler runs: every endpoint declares exactly one level, so
 * an endpoint cannot be added without deciding who may call it.
 */
#include <string.h>

#include "controller/api.h"
#include "controller/console.h"
#include "core/err.h"

typedef int (*route_fn)(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc);

static const route_fn groups[] = {
	pn_console_static_route, /* first: the others expect a /v1/ path (nseg > 0) */
	pn_console_route,
	pn_api_objects_route,
	pn_api_components_route,
	pn_api_admin_route,
	pn_enroll_route,
	pn_oidc_route,
};

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
	*fn = NULL;
	*acc = PN_A_ADMIN;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		int rc = groups[i](r, fn, acc);

		if (rc < 0)
			return rc; /* the group set the response (405) */
		if (rc == 0)
			break;
	}
	if (!*fn)
		return pn_api_error(r, 404, "not_found", "no such endpoint");
	return 0;
}

int pn_router_allow(struct pn_req *r, enum pn_access acc)
{
	if (r->who == PN_P_NONE && !strcmp(r->actor, PN_ACTOR_STORE_DOWN))
		return pn_api_store_error(r, PN_E_STORE_DOWN);
	/* A presented but invalid credential is 401 even on public routes, so a
	 * caller never mistakes a bad key for anonymous access. */
	if (r->who == PN_P_NONE && (acc != PN_A_PUBLIC || !strncmp(r->actor, "refused:key", 11)))
		return pn_api_error(r, 401, "unauthenticated",
				    "missing, unknown, expired or revoked credentials");
	if (pn_console_csrf_check(r))
		return PN_E_API_ANSWERED;
	if (!allowed(r, acc))
		return pn_api_error(r, 403, "forbidden",
				    "these credentials may not use this endpoint");
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
