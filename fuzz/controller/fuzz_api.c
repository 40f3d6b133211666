/*
 * libFuzzer: untrusted admin API request bodies through the real router,
 * validators and store (SQLite in memory, fuzzctl.h) as an admin would
 * send them.  Input: byte 0 selects endpoint + method, the rest is the
 * body.  Any input must yield a well-formed response (status + JSON),
 * never a crash, and the database must stay consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *method, *path;
} eps[] = {
    {"POST", "networks"},
    {"POST", "resources"},
    {"POST", "groups"},
    {"POST", "users"},
    {"POST", "memberships"},
    {"POST", "policies"},
    {"POST", "connectors"},
    {"POST", "relays"},
    {"POST", "service-accounts"},
    {"POST", "admin-keys"},
    {"PATCH", "resources/db"},
    {"PATCH", "users/alice"},
    {"PATCH", "networks/corp"},
    {"PATCH", "service-accounts/sa"},
    {"POST", "connectors/c1/tokens"},
    {"PATCH", "relays/r1"},
    {"PATCH", "connectors/c1"},
    {"POST", "relays/r1/tokens"},
};
#define NEPS (sizeof(eps) / sizeof(eps[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	struct pn_req r;
	char *slash;
	json_error_t e;

	if (size < 1)
		return 0;
	fz_begin(f);
	fz_req(f, &r, eps[data[0] % NEPS].method);
	r.who = PN_P_ADMIN;
	snprintf(r.segbuf, sizeof(r.segbuf), "%s", eps[data[0] % NEPS].path);
	r.seg[r.nseg++] = r.segbuf;
	while ((slash = strchr(r.seg[r.nseg - 1], '/'))) {
		*slash = '\0';
		r.seg[r.nseg++] = slash + 1;
	}
	/* the HTTP layer's parse: duplicates refused, objects only */
	r.body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &e);
	if (r.body && json_is_object(r.body))
		fz_dispatch(&r);
	json_decref(r.body);
	/* a write that went through must leave the database consistent */
	fz_end(f, r.status >= 200 && r.status < 300);
	return 0;
}
