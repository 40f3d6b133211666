#ifndef PN_CONTROLLER_OBJECTS_H
#define PN_CONTROLLER_OBJECTS_H
/*
 * Generic resource-collection handlers (coll.c): list / get / create /
 * update / delete for one stored kind, parameterized by a builder that
 * validates a request body into row fields and optional hooks.
 */
#include "controller/api.h"

/* ?<param>=<id or name> on a list filters rows by col. */
struct pn_filter_spec {
	const char *param;
	const char *col;
	enum pn_obj kind;
};

struct pn_coll_hooks {
	/* Fill defaults for a new row (before build). */
	void (*defaults)(json_t *row);
	/* Inside the create transaction, after the insert; may add fields to
	 * the response object `resp` (e.g. a one-time token or key). */
	int (*after_create)(struct pn_req *r, const json_t *row, json_t *resp);
	/* Inside the update transaction, after the update. */
	int (*after_update)(struct pn_req *r, const json_t *row, const json_t *set);
	/* Inside the delete transaction, before the delete. */
	int (*before_delete)(struct pn_req *r, const json_t *row);
	/* /v1/<coll>/<ref>/<action>: sets fn and acc, 0 if matched, 1 if not. */
	int (*sub_route)(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc);
};

struct pn_coll {
	const char *path;     /* "networks" */
	enum pn_obj kind;
	const char *singular; /* "network" (audit kind) */
	int (*build)(struct pn_req *r, int create, json_t *row);
	int updatable;
	const struct pn_filter_spec *filters; /* NULL-terminated by param, or NULL */
	const struct pn_coll_hooks *hooks;
};

/* Route /v1/<coll>[/<ref>[/<action>]]; sets r->route_ctx = c. */
int pn_coll_route(struct pn_req *r, const struct pn_coll *c, pn_handler_fn *fn,
		  enum pn_access *acc);
/* The row as the API shows it (secrets dropped, protocols as an array). */
json_t *pn_coll_present(enum pn_obj kind, const json_t *row);
const struct pn_coll *pn_objects_colls(size_t *n);
#endif
