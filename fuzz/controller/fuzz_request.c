/*
 * libFuzzer: a whole API request as the HTTP layer hands it over, in
 * memory (fuzzctl.h): "METHOD PATH\nAUTHORIZATION\nBODY".  The path goes
 * through pn_api_split_path (URL splitting), the Authorization value
 * through pn_auth_identify_header (API-key parsing and lookup: admin,
 * read-only admin and service-account keys with fixed texts are seeded),
 * then find + allow + handler like http.c.  A response must be well
 * formed, a request without a valid key must never pass an access check
 * above PUBLIC, and the store must stay consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	char head[1024], method[8] = "", *path, *auth, *sp;
	const uint8_t *nl1, *nl2;
	const char *body;
	size_t hl, bl;
	struct pn_req r;
	pn_handler_fn fn;
	enum pn_access acc;
	json_error_t e;
	int wrote = 0;

	/* the head: two lines, NUL-free */
	nl1 = memchr(data, '\n', size);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - data)) : NULL;
	if (!nl2 || (hl = (size_t)(nl2 - data)) >= sizeof(head) || memchr(data, '\0', hl))
		return 0;
	memcpy(head, data, hl);
	head[hl] = '\0';
	head[nl1 - data] = '\0';
	auth = head + (nl1 - data) + 1;
	if (!(sp = strchr(head, ' ')))
		return 0;
	*sp = '\0';
	path = sp + 1;
	body = (const char *)nl2 + 1;
	bl = size - hl - 1;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(head, methods[i]))
			strcpy(method, methods[i]);
	if (!*method)
		return 0;
	fz_begin(f);
	fz_req(f, &r, method);
	r.path = path;
	if (pn_api_split_path(&r, path) == 0) {
		for (unsigned i = 0; i < r.nseg; i++)
			if (!*r.seg[i] || strchr(r.seg[i], '/') || r.seg[i] < r.segbuf ||
			    r.seg[i] >= r.segbuf + sizeof(r.segbuf))
				abort();
		if (*auth)
			pn_auth_identify_header(&r, auth);
		if (strncmp(auth, "Bearer pnak_", 12) && strncmp(auth, "Bearer pnsk_", 12) &&
		    r.who != PN_P_NONE)
			abort(); /* only a well-formed key may identify anyone */
		if (!strcmp(method, "GET") && r.nseg == 2 && !strcmp(r.seg[0], "ctl"))
			goto out; /* the push stream needs a live connection */
		if (pn_router_find(&r, &fn, &acc) == 0 && pn_router_allow(&r, acc) == 0) {
			if (acc != PN_A_PUBLIC && r.who == PN_P_NONE)
				abort();
			if (bl) {
				r.body = json_loadb(body, bl, JSON_REJECT_DUPLICATES, &e);
				if (!r.body || !json_is_object(r.body)) {
					json_decref(r.body);
					goto out;
				}
			}
			fn(&r);
			wrote = r.status >= 200 && r.status < 300 && strcmp(method, "GET");
		}
		if (r.status < 200 || r.status > 599 || (!r.resp && !r.raw))
			abort();
		json_decref(r.body);
		json_decref(r.resp);
		free(r.raw);
	}
out:
	fz_end(f, wrote);
	return 0;
}
