/* Metrics registry and Prometheus text exposition.  See metrics.h. */
#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

struct series {
	char *values[PN_METRICS_LABELS_MAX]; /* heap copies, one per label */
	double v;
};

struct family {
	char name[PN_METRICS_NAME_MAX + 1];
	const char *help;
	enum pn_metric_type type;
	char labels[PN_METRICS_LABELS_MAX][PN_METRICS_NAME_MAX + 1];
	unsigned nlabels, max_series;
	struct series *series;
	unsigned nseries, cap;
};

struct pn_metrics {
	struct family *fam[PN_METRICS_FAMILIES_MAX];
	unsigned nfam;
	uint64_t refused;
};

int pn_metrics_new(struct pn_metrics **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void family_free(struct family *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->nseries; i++)
		for (unsigned l = 0; l < f->nlabels; l++)
			free(f->series[i].values[l]);
	free(f->series);
	free(f);
}

void pn_metrics_free(struct pn_metrics *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nfam; i++)
		family_free(m->fam[i]);
	free(m);
}

uint64_t pn_metrics_refused(const struct pn_metrics *m)
{
	return m->refused;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A metric name (colons allowed) or a label name (no colons), n bytes. */
static int valid_name(const char *s, size_t n, int colon)
{
	if (!n || n > PN_METRICS_NAME_MAX || !(is_alpha(s[0]) || (colon && s[0] == ':')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && !(colon && s[i] == ':'))
			return 0;
	return 1;
}

static struct family *find(const struct pn_metrics *m, const char *name)
{
	for (unsigned i = 0; i < m->nfam; i++)
		if (!strcmp(m->fam[i]->name, name))
			return m->fam[i];
	return NULL;
}

/* Split "a,b" into f->labels.  0 or PN_E_INVAL. */
static int parse_labels(struct family *f, const char *labels)
{
	const char *p = labels;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		/* "__" names are reserved to Prometheus itself */
		if (f->nlabels == PN_METRICS_LABELS_MAX || !valid_name(p, n, 0) ||
		    (n >= 2 && p[0] == '_' && p[1] == '_'))
			return PN_E_INVAL;
		memcpy(f->labels[f->nlabels], p, n);
		f->labels[f->nlabels][n] = '\0';
		for (unsigned i = 0; i < f->nlabels; i++)
			if (!strcmp(f->labels[i], f->labels[f->nlabels]))
				return PN_E_INVAL;
		f->nlabels++;
		p = e ? e + 1 : NULL;
		if (e && !*p) /* trailing comma */
			return PN_E_INVAL;
	}
	return 0;
}

int pn_metrics_family(struct pn_metrics *m, const char *name, enum pn_metric_type type,
		      const char *help, const char *labels, unsigned max_series)
{
	struct family *f = NULL;
	int r = PN_E_INVAL;

	if (!name || !help || !valid_name(name, strlen(name), 1) || find(m, name) ||
	    (type != PN_METRIC_COUNTER && type != PN_METRIC_GAUGE))
		return PN_E_INVAL;
	if (m->nfam == PN_METRICS_FAMILIES_MAX)
		return PN_E_TOOBIG;
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	memcpy(f->name, name, strlen(name) + 1);
	f->help = help;
	f->type = type;
	if ((r = parse_labels(f, labels)) != 0)
		goto out;
	f->max_series = f->nlabels ? max_series : 1;
	r = PN_E_INVAL;
	if (!f->max_series || f->max_series > PN_METRICS_SERIES_MAX)
		goto out;
	r = -ENOMEM;
	f->cap = f->nlabels ? 4 : 1;
	if (!(f->series = calloc(f->cap, sizeof(*f->series))))
		goto out;
	if (!f->nlabels)
		f->nseries = 1; /* always exposed, at 0 until set */
	m->fam[m->nfam++] = f;
	f = NULL; /* transferred */
	r = 0;
out:
	family_free(f);
	return r;
}

int pn_metrics_declare(struct pn_metrics *m, const struct pn_metric_def *defs, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++)
		if ((r = pn_metrics_family(m, defs[i].name, defs[i].type, defs[i].help, defs[i].labels,
					   defs[i].max_series)) != 0)
			return r;
	return 0;
}

static struct series *series_get(struct pn_metrics *m, struct family *f,
				 const char *const *values, int *err)
{
	struct series *s;

	if (!f->nlabels)
		return &f->series[0];
	for (unsigned l = 0; l < f->nlabels; l++) {
		if (!values || !values[l]) {
			*err = PN_E_INVAL;
			return NULL;
		}
		if (strlen(values[l]) > PN_METRICS_VALUE_MAX) {
			m->refused++;
			*err = PN_E_TOOBIG;
			return NULL;
		}
	}
	for (unsigned i = 0; i < f->nseries; i++) {
		unsigned l = 0;

		while (l < f->nlabels && !strcmp(f->series[i].values[l], values[l]))
			l++;
		if (l == f->nlabels)
			return &f->series[i];
	}
	if (f->nseries == f->max_series) {
		m->refused++;
		*err = PN_E_TOOBIG;
		return NULL;
	}
	if (f->nseries == f->cap) {
		unsigned cap = f->cap * 2 > f->max_series ? f->max_series : f->cap * 2;
		struct series *ns = realloc(f->series, cap * sizeof(*ns));

		if (!ns) {
			*err = -ENOMEM;
			return NULL;
		}
		f->series = ns;
		f->cap = cap;
	}
	s = &f->series[f->nseries];
	memset(s, 0, sizeof(*s));
	for (unsigned l = 0; l < f->nlabels; l++) {
		if (!(s->values[l] = strdup(values[l]))) {
			while (l--)
				free(s->values[l]);
			*err = -ENOMEM;
			return NULL;
		}
	}
	f->nseries++;
	return s;
}

static int update(struct pn_metrics *m, const char *name, const char *const *values, double v,
		  int add)
{
	struct family *f = find(m, name);
	struct series *s;
	int err = 0;

	if (!f)
		return PN_E_INVAL;
	if (!(s = series_get(m, f, values, &err)))
		return err;
	if (add)
		v += s->v;
	/* a counter never goes below zero (a NaN is let through: unknown) */
	if (f->type == PN_METRIC_COUNTER && v < 0)
		return PN_E_INVAL;
	s->v = v;
	return 0;
}

int pn_metrics_set(struct pn_metrics *m, const char *name, const char *const *values, double v)
{
	return update(m, name, values, v, 0);
}

int pn_metrics_add(struct pn_metrics *m, const char *name, const char *const *values, double v)
{
	return update(m, name, values, v, 1);
}

int pn_metrics_set1(struct pn_metrics *m, const char *name, const char *value, double v)
{
	return update(m, name, &value, v, 0);
}

int pn_metrics_add1(struct pn_metrics *m, const char *name, const char *value, double v)
{
	return update(m, name, &value, v, 1);
}

void pn_metrics_reason_count(struct pn_metrics_reasons *r, const char *reason)
{
	char label[PN_METRICS_REASON_LEN];

	snprintf(label, sizeof(label), "%s", reason && *reason ? reason : "unknown");
	for (unsigned i = 0; i < r->used; i++)
		if (!strcmp(r->name[i], label)) {
			r->n[i]++;
			return;
		}
	if (r->used == PN_METRICS_REASONS_MAX) {
		r->other++;
		return;
	}
	memcpy(r->name[r->used], label, sizeof(label));
	r->n[r->used++] = 1;
}

int pn_metrics_set_reasons(struct pn_metrics *m, const char *name,
			   const struct pn_metrics_reasons *r)
{
	int rc;

	for (unsigned i = 0; i < r->used; i++)
		if ((rc = pn_metrics_set1(m, name, r->name[i], (double)r->n[i])) != 0)
			return rc;
	if (r->other)
		return pn_metrics_set1(m, name, "other", (double)r->other);
	return 0;
}

/* ------------------------------------------------------------ rendering -- */

static int put(struct pn_buf *b, const char *s)
{
	return pn_buf_put_bytes(b, s, strlen(s));
}

/* Escape: backslash and newline always, the double quote in label values. */
static int put_escaped(struct pn_buf *b, const char *s, int quote)
{
	int r = 0;

	for (; *s && !r; s++) {
		if (*s == '\\')
			r = put(b, "\\\\");
		else if (*s == '\n')
			r = put(b, "\\n");
		else if (quote && *s == '"')
			r = put(b, "\\\"");
		else
			r = pn_buf_put_u8(b, (uint8_t)*s);
	}
	return r;
}

/* Integers as integers; anything else with as few digits as read back exactly. */
static int put_value(struct pn_buf *b, double v)
{
	char t[40];

	if (isnan(v))
		return put(b, "NaN");
	if (isinf(v))
		return put(b, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(t, sizeof(t), "%.0f", v);
	else if (snprintf(t, sizeof(t), "%.15g", v), strtod(t, NULL) != v)
		snprintf(t, sizeof(t), "%.17g", v);
	return put(b, t);
}

static int cmp_fam(const void *a, const void *b)
{
	return strcmp((*(const struct family *const *)a)->name,
		      (*(const struct family *const *)b)->name);
}

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	for (unsigned l = 0; l < PN_METRICS_LABELS_MAX && x->values[l]; l++) {
		int c = strcmp(x->values[l], y->values[l]);

		if (c)
			return c;
	}
	return 0;
}

static int render_family(struct pn_buf *b, struct family *f)
{
	int r;

	if ((r = put(b, "# HELP ")) || (r = put(b, f->name)) || (r = put(b, " ")) ||
	    (r = put_escaped(b, f->help, 0)) || (r = put(b, "\n# TYPE ")) ||
	    (r = put(b, f->name)) ||
	    (r = put(b, f->type == PN_METRIC_COUNTER ? " counter\n" : " gauge\n")))
		return r;
	/* sorted in place: the order of filling does not show */
	if (f->nlabels)
		qsort(f->series, f->nseries, sizeof(*f->series), cmp_series);
	for (unsigned i = 0; i < f->nseries; i++) {
		const struct series *s = &f->series[i];

		if ((r = put(b, f->name)))
			return r;
		for (unsigned l = 0; l < f->nlabels; l++)
			if ((r = put(b, l ? "," : "{")) || (r = put(b, f->labels[l])) ||
			    (r = put(b, "=\"")) || (r = put_escaped(b, s->values[l], 1)) ||
			    (r = put(b, "\"")))
				return r;
		if ((f->nlabels && (r = put(b, "}"))) || (r = put(b, " ")) ||
		    (r = put_value(b, s->v)) || (r = put(b, "\n")))
			return r;
	}
	return 0;
}

int pn_metrics_render(struct pn_metrics *m, char **out, size_t *len)
{
	struct family *sorted[PN_METRICS_FAMILIES_MAX];
	struct pn_buf b;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = pn_buf_init_dyn(&b, 4096, PN_METRICS_TEXT_MAX)) != 0)
		return r;
	memcpy(sorted, m->fam, m->nfam * sizeof(sorted[0]));
	qsort(sorted, m->nfam, sizeof(sorted[0]), cmp_fam);
	for (unsigned i = 0; i < m->nfam; i++)
		if ((r = render_family(&b, sorted[i])) != 0)
			goto out;
	r = -ENOMEM;
	if (!(*out = malloc(pn_buf_len(&b) + 1)))
		goto out;
	memcpy(*out, pn_buf_ptr(&b), pn_buf_len(&b));
	(*out)[pn_buf_len(&b)] = '\0';
	*len = pn_buf_len(&b);
	r = 0;
out:
	pn_buf_fini(&b);
	return r;
}
