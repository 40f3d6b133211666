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
};

struct pn_coll {
	const char *path;     /* "networks" */
	enum pn_obj kind;
	const char *singular; /* "network" (audit kind) */
	int (*build)(struct pn_req *r, int create, json_t *row);
	const struct pn_filter_spec *filters; /* NULL-terminated by param, or NULL */
	const struct pn_coll_hooks *hooks;
};

/* The generic handlers; r->route_ctx is the struct pn_coll. */
int pn_coll_list(struct pn_req *r);
int pn_coll_create(struct pn_req *r);
int pn_coll_get(struct pn_req *r);
int pn_coll_update(struct pn_req *r);
int pn_coll_delete(struct pn_req *r);
/* Route table rows (struct pn_route) of a collection at `list` ("networks")
 * whose objects are at `item` ("networks/{ref}"), handled by coll c:
 * list and get (READ), create and delete (ADMIN); with _PATCH also update. */
#define PN_COLL_ROUTES(list, item, c)                                                             \
	{"GET", list, PN_A_READ, pn_coll_list, c}, {"POST", list, PN_A_ADMIN, pn_coll_create, c},  \
	    {"GET", item, PN_A_READ, pn_coll_get, c},                                              \
	    {"DELETE", item, PN_A_ADMIN, pn_coll_delete, c}
#define PN_COLL_ROUTES_PATCH(list, item, c)                                                       \
	PN_COLL_ROUTES(list, item, c), {"PATCH", item, PN_A_ADMIN, pn_coll_update, c}
/* The row as the API shows it (secrets dropped, protocols as an array). */
json_t *pn_coll_present(enum pn_obj kind, const json_t *row);
#endif
