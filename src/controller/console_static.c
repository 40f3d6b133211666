/*
 * The console's static files, served under /console/ from the binary
 * itself: the files in src/controller/console/ are turned into C arrays at
 * build time (cmake/embed_files.cmake -> console_files.c), so nothing is
 * installed beside the binary and nothing is fetched from elsewhere.
 *
 * Every file is sent with a strict Content-Security-Policy: scripts,
 * styles and API calls only from this origin, no inline script or style,
 * no framing, no plugins, forms only to this origin.
 */
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/console.h"

#define CONSOLE_CSP                                                                                \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                \
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

int pn_console_path(const char *url)
{
	return url && !strncmp(url, "/console", 8) && (url[8] == '\0' || url[8] == '/');
}

static void security_headers(struct pn_req *r)
{
	pn_api_header(r, "Content-Security-Policy", CONSOLE_CSP);
	pn_api_header(r, "X-Content-Type-Options", "nosniff");
	pn_api_header(r, "X-Frame-Options", "DENY");
	pn_api_header(r, "Referrer-Policy", "no-referrer");
	pn_api_header(r, "Cache-Control", "no-cache");
}

static int h_static(struct pn_req *r)
{
	const char *name = r->path + 8;

	security_headers(r);
	if (*name == '\0') { /* "/console": the app lives under "/console/" */
		pn_api_header(r, "Location", "/console/");
		r->raw = strdup("");
		r->raw_type = "text/plain";
		r->status = r->raw ? 308 : 0;
		return r->raw ? 0 : pn_api_error(r, 500, "internal", "out of memory");
	}
	name++; /* past '/' */
	if (*name == '\0')
		name = "index.html";
	for (size_t i = 0; i < pn_console_nfiles; i++) {
		const struct pn_console_file *f = &pn_console_files[i];

		if (strcmp(f->name, name))
			continue;
		/* the HTTP layer sends r->raw up to its NUL and frees it: the
		 * embedded files are text (the generator refuses NUL bytes) */
		r->raw = malloc(f->len + 1);
		if (!r->raw)
			return pn_api_error(r, 500, "internal", "out of memory");
		memcpy(r->raw, f->data, f->len);
		r->raw[f->len] = '\0';
		r->raw_type = f->type;
		r->status = 200;
		return 0;
	}
	return pn_api_error(r, 404, "not_found", "no such console file");
}

int pn_console_static_route(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc)
{
	if (r->nseg)
		return 1; /* an API path */
	if (!pn_console_path(r->path))
		return 0; /* neither: 404 */
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		return pn_api_error(r, 405, "method_not_allowed",
				    "console files are read with GET");
	}
	*fn = h_static, *acc = PN_A_PUBLIC;
	return 0;
}
