/* `postern doctor`: the report and its rules (doctor.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/doctor.h"
#include "core/err.h"

/* Values quote files, names and peers' words: printable ASCII only, so
 * that the table cannot carry terminal escapes and the JSON stays valid. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

struct pn_doc_check *pn_doc_add(struct pn_doc_report *r, const char *name)
{
	struct pn_doc_check *c;

	if (r->n >= PN_DOC_MAX_CHECKS)
		return NULL;
	c = &r->c[r->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	printable(c->name);
	return c;
}

void pn_doc_set(struct pn_doc_check *c, enum pn_doc_status st, const char *fmt, ...)
{
	va_list ap;

	if (!c)
		return;
	c->st = st;
	va_start(ap, fmt);
	vsnprintf(c->value, sizeof(c->value), fmt, ap);
	va_end(ap);
	printable(c->value);
}

void pn_doc_advise(struct pn_doc_check *c, const char *fmt, ...)
{
	va_list ap;

	if (!c)
		return;
	va_start(ap, fmt);
	vsnprintf(c->advice, sizeof(c->advice), fmt, ap);
	va_end(ap);
	printable(c->advice);
}

const char *pn_doc_status_name(enum pn_doc_status st)
{
	switch (st) {
	case PN_DOC_OK: return "ok";
	case PN_DOC_WARN: return "warn";
	case PN_DOC_FAIL: return "fail";
	case PN_DOC_SKIP: return "skip";
	}
	return "?";
}

enum pn_doc_status pn_doc_skew_status(int64_t skew_ms)
{
	int64_t a = skew_ms < 0 ? -skew_ms : skew_ms;

	if (a > PN_DOC_SKEW_FAIL_MS)
		return PN_DOC_FAIL;
	if (a > PN_DOC_SKEW_WARN_MS)
		return PN_DOC_WARN;
	return PN_DOC_OK;
}

enum pn_doc_status pn_doc_expiry_status(int64_t now, int64_t not_before, int64_t not_after)
{
	int64_t left = not_after - now, life = not_after - not_before;

	if (left <= 0)
		return PN_DOC_FAIL;
	/* Short-lived credentials always have less than a day: only when the
	 * renewal (at two thirds of the lifetime) is overdue is that news. */
	if (left < PN_DOC_EXPIRY_WARN_S && (life <= 0 || left < life / 4))
		return PN_DOC_WARN;
	return PN_DOC_OK;
}

enum pn_doc_status pn_doc_mtu_status(const unsigned *sizes, const int *answered, size_t n,
				     unsigned *largest)
{
	*largest = 0;
	for (size_t i = 0; i < n; i++)
		if (answered[i] && sizes[i] > *largest)
			*largest = sizes[i];
	if (*largest < PN_DOC_MTU_MIN)
		return PN_DOC_FAIL;
	if (*largest < PN_DOC_MTU_OK)
		return PN_DOC_WARN;
	return PN_DOC_OK;
}

void pn_doc_duration(int64_t s, char *out, size_t outsz)
{
	const char *sign = s < 0 ? "-" : "";

	if (s < 0)
		s = -s;
	if (s < 120)
		snprintf(out, outsz, "%s%lld s", sign, (long long)s);
	else if (s < 7200)
		snprintf(out, outsz, "%s%lld min", sign, (long long)(s / 60));
	else if (s < 3 * 86400)
		snprintf(out, outsz, "%s%lld h %lld min", sign, (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else
		snprintf(out, outsz, "%s%lld d %lld h", sign, (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
}

void pn_doc_print_table(const struct pn_doc_report *r, FILE *f)
{
	size_t w = 5, count[4] = {0};

	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->c[i].name) > w)
			w = strlen(r->c[i].name);
	fprintf(f, "%-*s  %-6s %s\n", (int)w, "CHECK", "STATUS", "VALUE");
	for (size_t i = 0; i < r->n; i++) {
		const struct pn_doc_check *c = &r->c[i];

		count[c->st]++;
		fprintf(f, "%-*s  %-6s %s\n", (int)w, c->name, pn_doc_status_name(c->st), c->value);
		if (c->advice[0])
			fprintf(f, "%*s  -> %s\n", (int)w, "", c->advice);
	}
	fprintf(f, "%zu ok, %zu warn, %zu fail, %zu skipped\n", count[PN_DOC_OK],
		count[PN_DOC_WARN], count[PN_DOC_FAIL], count[PN_DOC_SKIP]);
}

int pn_doc_print_json(const struct pn_doc_report *r, FILE *f)
{
	json_t *doc = json_object(), *arr = json_array();
	size_t count[4] = {0};
	char *s = NULL;
	int rc = -ENOMEM;

	if (!doc || !arr)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const struct pn_doc_check *c = &r->c[i];
		json_t *o = json_pack("{s:s, s:s, s:s}", "name", c->name, "status",
				      pn_doc_status_name(c->st), "value", c->value);

		count[c->st]++;
		if (!o || (c->advice[0] && json_object_set_new(o, "advice", json_string(c->advice))) ||
		    json_array_append_new(arr, o))
			goto out;
	}
	if (json_object_set_new(doc, "role", json_string(r->role)) ||
	    json_object_set(doc, "checks", arr) ||
	    json_object_set_new(doc, "ok", json_integer((json_int_t)count[PN_DOC_OK])) ||
	    json_object_set_new(doc, "warn", json_integer((json_int_t)count[PN_DOC_WARN])) ||
	    json_object_set_new(doc, "fail", json_integer((json_int_t)count[PN_DOC_FAIL])) ||
	    json_object_set_new(doc, "skip", json_integer((json_int_t)count[PN_DOC_SKIP])) ||
	    !(s = json_dumps(doc, JSON_INDENT(2))))
		goto out;
	fprintf(f, "%s\n", s);
	rc = 0;
out:
	free(s);
	json_decref(arr);
	json_decref(doc);
	return rc;
}

int pn_doc_exit_code(const struct pn_doc_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->c[i].st == PN_DOC_FAIL)
			return 1;
	return 0;
}
