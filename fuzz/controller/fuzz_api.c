/*
 * libFuzzer: untrusted API request bodies through the real router,
 * validators and store (SQLite in memory) as an admin would send them.
 * Input: byte 0 selects endpoint + method, the rest is the body.  Any
 * input must yield a well-formed response (status + JSON), never a crash,
 * and the database must stay consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/store.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/ca.h"

static const struct {
	const char *method, *path;
} eps[] = {
	{"POST", "networks"},	  {"POST", "resources"},	{"POST", "groups"},
	{"POST", "users"},	  {"POST", "memberships"},	{"POST", "policies"},
	{"POST", "connectors"},	  {"POST", "relays"},		{"POST", "service-accounts"},
	{"POST", "admin-keys"},	  {"PATCH", "resources/db"},	{"PATCH", "users/alice"},
	{"PATCH", "networks/corp"}, {"PATCH", "service-accounts/sa"}, {"POST", "connectors/c1/tokens"},
};

static struct pn_ctl ctl;

static void seed(void)
{
	static const char *const bodies[][2] = {
		{"networks", "{\"name\":\"corp\"}"},
		{"groups", "{\"name\":\"eng\"}"},
		{"users", "{\"name\":\"alice\"}"},
		{"resources", "{\"name\":\"db\",\"network\":\"corp\",\"address\":\"db.x\","
			      "\"protocols\":[\"tcp/5432\"]}"},
		{"connectors", "{\"name\":\"c1\",\"network\":\"corp\"}"},
		{"service-accounts", "{\"name\":\"sa\",\"groups\":[\"eng\"]}"},
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct pn_req r;

		memset(&r, 0, sizeof(r));
		r.ctl = &ctl;
		r.method = "POST";
		r.seg[0] = bodies[i][0];
		r.nseg = 1;
		r.who = PN_P_ADMIN;
		r.body = json_loads(bodies[i][1], 0, NULL);
		pn_router_dispatch(&r);
		if (r.status != 201)
			abort();
		json_decref(r.body);
		json_decref(r.resp);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_req r;
	char segbuf[64], *slash;
	json_error_t e;

	if (size < 1)
		return 0;
	if (!ctl.ca) {
		pn_log_setup(PN_LOG_ERROR, PN_LOG_TEXT, 2);
		if (pn_ca_new(1700000000, &ctl.ca))
			abort();
		ctl.token_ttl = 60;
		strcpy(ctl.url, "https://fuzz.invalid:1");
	}
	if (pn_store_open_sqlite(":memory:", &ctl.store))
		abort();
	seed();
	memset(&r, 0, sizeof(r));
	r.ctl = &ctl;
	r.who = PN_P_ADMIN;
	r.method = eps[data[0] % (sizeof(eps) / sizeof(eps[0]))].method;
	strcpy(segbuf, eps[data[0] % (sizeof(eps) / sizeof(eps[0]))].path);
	r.seg[r.nseg++] = segbuf;
	while ((slash = strchr(r.seg[r.nseg - 1], '/'))) {
		*slash = '\0';
		r.seg[r.nseg++] = slash + 1;
	}
	/* the HTTP layer's parse: duplicates refused, objects only */
	r.body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &e);
	if (r.body && json_is_object(r.body)) {
		pn_router_dispatch(&r);
		if (!r.resp || r.status < 200 || r.status > 599)
			abort();
		if (r.status >= 400 && !json_object_get(r.resp, "error"))
			abort();
	}
	if (ctl.store->ops->integrity_check(ctl.store->be))
		abort();
	json_decref(r.body);
	json_decref(r.resp);
	pn_store_close(ctl.store);
	ctl.store = NULL;
	return 0;
}
