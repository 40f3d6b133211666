/*
 * One option table per role: flags, --help, the config schema, the
 * effective configuration and SIGHUP (see opts.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "app/opts.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"

#define NO_FILE	   "command line"
#define VAL_CONFIG 1
#define VAL_CHECK  2
#define VAL_TAB	   1000

static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return PN_E_CONFIG;
}

static int build_schema(struct pn_opts *o)
{
	if (!(o->schema = calloc(o->n ? o->n : 1, sizeof(*o->schema))))
		return -ENOMEM;
	for (size_t i = 0; i < o->n; i++) {
		const struct pn_opt *t = &o->tab[i];
		struct pn_cfg_key *k = &o->schema[o->nschema++];

		k->section = t->section;
		k->key = t->key;
		k->type = t->type;
		k->min = t->min;
		k->max = t->max;
		k->def = t->def;
		k->choices = t->choices;
	}
	return 0;
}

/* "30" for a flag in seconds means "30s"; anything else is taken as written. */
static const char *with_unit(const struct pn_opt *t, const char *arg, char *buf, size_t n)
{
	size_t len = strlen(arg);

	if (!t->unit || !len || strspn(arg, "0123456789") != len || len + 8 > n)
		return arg;
	snprintf(buf, n, "%s%s", arg, t->unit);
	return buf;
}

/* The file (or nothing), then the flags over it, then the [log] section. */
static int load(struct pn_opts *o, struct pn_cfg **out, char *err, size_t errsz)
{
	struct pn_cfg *cfg = NULL;
	char flag[80], buf[64];
	int r;

	if (o->path)
		r = pn_cfg_load_file(&cfg, o->path, o->schema, o->nschema, err, errsz);
	else
		r = pn_cfg_load_mem(&cfg, NO_FILE, "", 0, o->schema, o->nschema, err, errsz);
	if (r)
		return r == PN_E_CONFIG || r == -ENOMEM ? r : PN_E_CONFIG;
	for (size_t i = 0; i < o->nflags; i++) {
		const struct pn_opt *t = o->flags[i].opt;
		const char *v = t->arg ? with_unit(t, o->flags[i].arg, buf, sizeof(buf)) : t->value;

		snprintf(flag, sizeof(flag), "--%s", t->flag);
		if ((r = pn_cfg_set(cfg, t->section, t->key, v, flag, err, errsz)) != 0)
			goto out;
	}
	*out = cfg;
	return 0;
out:
	pn_cfg_free(cfg);
	return r == -ENOMEM ? r : PN_E_CONFIG;
}

int pn_opts_parse(struct pn_opts *o, const char *cmd, const struct pn_opt *tab, size_t n, int argc,
		  char **argv, char *err, size_t errsz)
{
	struct option *lo = NULL;
	size_t nlo = 0;
	int c, r;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->tab = tab;
	o->n = n;
	err[0] = '\0';
	r = -ENOMEM;
	if (build_schema(o) || !(lo = calloc(n + 4, sizeof(*lo))) ||
	    !(o->flags = calloc((size_t)argc + 1, sizeof(*o->flags))))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (tab[i].flag)
			lo[nlo++] = (struct option){tab[i].flag,
						    tab[i].arg ? required_argument : no_argument,
						    NULL, VAL_TAB + (int)i};
	lo[nlo++] = (struct option){"config", required_argument, NULL, VAL_CONFIG};
	lo[nlo++] = (struct option){"check-config", no_argument, NULL, VAL_CHECK};
	lo[nlo++] = (struct option){"help", no_argument, NULL, 'h'};
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			r = PN_OPTS_HELP;
			goto out;
		} else if (c == VAL_CONFIG) {
			if (o->path) {
				r = fail(err, errsz, "--config given twice");
				goto out;
			}
			o->path = optarg;
		} else if (c == VAL_CHECK) {
			o->check = 1;
		} else if (c >= VAL_TAB && (size_t)(c - VAL_TAB) < n) {
			o->flags[o->nflags].opt = &tab[c - VAL_TAB];
			o->flags[o->nflags++].arg = optarg;
		} else if (c == ':') {
			r = fail(err, errsz, "%s needs an argument (see --help)", argv[optind - 1]);
			goto out;
		} else {
			r = fail(err, errsz, "unknown option '%s' (see --help)", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		r = fail(err, errsz, "unexpected argument '%s' (see --help)", argv[optind]);
		goto out;
	}
	if ((r = load(o, &o->cfg, err, errsz)) != 0 || (r = pn_log_configure(o->cfg, err, errsz)))
		goto out;
	o->cur = o->cfg;
out:
	free(lo);
	return r;
}

void pn_opts_fini(struct pn_opts *o)
{
	if (o->cur != o->cfg)
		pn_cfg_free(o->cur);
	pn_cfg_free(o->cfg);
	free(o->flags);
	free(o->schema);
	memset(o, 0, sizeof(*o));
}

static const struct pn_opt *by_key(const struct pn_opts *o, const char *section, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->tab[i].section, section) && !strcmp(o->tab[i].key, key))
			return &o->tab[i];
	return NULL;
}

/* Does the key have a value (from the file, a flag or a default)? */
static bool has_value(const struct pn_cfg *cfg, const struct pn_opt *t)
{
	if (t->type == PN_CFG_STR)
		return pn_cfg_str(cfg, t->section, t->key) != NULL;
	if (t->type == PN_CFG_LIST)
		return true;
	return t->def || pn_cfg_lookup(cfg, t->section, t->key, NULL) == 1;
}

int pn_opts_require(const struct pn_opts *o, const char *section, const char *key, char *err,
		    size_t errsz)
{
	const struct pn_opt *t = by_key(o, section, key);
	char alt[96] = "";

	if (!t || has_value(o->cfg, t))
		return 0;
	if (t->flag)
		snprintf(alt, sizeof(alt), " or give --%s", t->flag);
	return pn_cfg_errorf(o->cfg, section, key, err, errsz,
			     "required but not set (add it under [%s]%s)", section, alt);
}

int pn_opts_check_metrics(const struct pn_opts *o, const char *section, char *err, size_t errsz)
{
	const char *v = pn_cfg_str(o->cfg, section, "metrics_listen");
	struct sockaddr_storage ss;

	if (!v || pn_addr_parse(v, &ss, PN_ADDR_PORT0) == 0)
		return 0;
	return pn_cfg_errorf(o->cfg, section, "metrics_listen", err, errsz,
			     "want a numeric address and port, e.g. 127.0.0.1:9464 or [::1]:9464");
}

/* ------------------------------------------------------------ printing -- */

static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The value in file syntax. */
static void put_value(FILE *f, const struct pn_cfg *cfg, const struct pn_opt *t)
{
	const char *const *items;
	char d[32];
	size_t n;

	switch (t->type) {
	case PN_CFG_STR: put_quoted(f, pn_cfg_str(cfg, t->section, t->key)); break;
	case PN_CFG_INT: fprintf(f, "%" PRId64, pn_cfg_int(cfg, t->section, t->key)); break;
	case PN_CFG_BOOL: fputs(pn_cfg_bool(cfg, t->section, t->key) ? "true" : "false", f); break;
	case PN_CFG_DURATION:
		pn_cfg_format_duration(d, sizeof(d), pn_cfg_duration_ms(cfg, t->section, t->key));
		fputs(d, f);
		break;
	case PN_CFG_ENUM: fputs(pn_cfg_enum(cfg, t->section, t->key), f); break;
	case PN_CFG_LIST:
		n = pn_cfg_list(cfg, t->section, t->key, &items);
		fputc('[', f);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputs(", ", f);
			put_quoted(f, items[i]);
		}
		fputc(']', f);
		break;
	}
}

void pn_opts_print(FILE *f, const struct pn_opts *o)
{
	const char *sec = NULL;

	fprintf(f, "# effective configuration of %s (%s%s, then flags)\n", o->cmd,
		o->path ? "file " : "no file", o->path ? o->path : "");
	for (size_t i = 0; i < o->n; i++) {
		const struct pn_opt *t = &o->tab[i];

		if (!sec || strcmp(sec, t->section))
			fprintf(f, "\n[%s]\n", sec = t->section);
		if (!has_value(o->cfg, t)) {
			fprintf(f, "# %s =\n", t->key);
			continue;
		}
		fprintf(f, "%s = ", t->key);
		put_value(f, o->cfg, t);
		fputc('\n', f);
	}
}

/* The default as a person reads it: durations normalised ("180000ms" -> "3m"). */
static void put_default(FILE *f, const struct pn_opt *t)
{
	int64_t ms;
	char d[32];

	if (t->type == PN_CFG_DURATION && !pn_cfg_parse_duration(t->def, strlen(t->def), &ms)) {
		pn_cfg_format_duration(d, sizeof(d), ms);
		fputs(d, f);
	} else if (t->type == PN_CFG_STR) {
		put_quoted(f, t->def);
	} else {
		fputs(t->def, f);
	}
}

/* "  --flag ARG    help" with the help in a column of its own. */
static void put_option(FILE *f, int indent, const char *head, const char *help)
{
	const char *p = help, *nl;
	int col = indent + 24, w = fprintf(f, "%*s%s", indent, "", head);

	for (;;) {
		nl = strchr(p, '\n');
		if (w >= col) {
			fputc('\n', f);
			w = 0;
		}
		fprintf(f, "%*s%.*s\n", col - w, "", nl ? (int)(nl - p) : (int)strlen(p), p);
		w = 0;
		if (!nl)
			break;
		p = nl + 1;
	}
}

void pn_opts_help(FILE *f, const struct pn_opt *tab, size_t n, int indent)
{
	char head[96];

	put_option(f, indent, "--config FILE",
		   "read the options from FILE (postern.conf(5));\n"
		   "flags given here override it");
	put_option(f, indent, "--check-config",
		   "check FILE and the flags, print the effective\n"
		   "configuration and exit (0 valid, 2 invalid)");
	for (size_t i = 0; i < n; i++) {
		const struct pn_opt *t = &tab[i];

		snprintf(head, sizeof(head), "--%s%s%s", t->flag, t->arg ? " " : "",
			 t->arg ? t->arg : "");
		put_option(f, indent, head, t->help);
		fprintf(f, "%*s[%s] %s", indent + 24, "", t->section, t->key);
		if (t->def) {
			fputs(" = ", f);
			put_default(f, t);
		}
		fputs(t->flags & PN_OPT_RELOAD ? "  (SIGHUP reloads it)\n" : "\n", f);
	}
	put_option(f, indent, "-h, --help", "this text");
}

/* ---------------------------------------------------------- reloading -- */

static bool same_value(const struct pn_cfg *a, const struct pn_cfg *b, const struct pn_opt *t)
{
	const char *const *ia, *const *ib;
	const char *sa, *sb;
	size_t na, nb;

	if (has_value(a, t) != has_value(b, t))
		return false;
	switch (t->type) {
	case PN_CFG_STR:
	case PN_CFG_ENUM:
		sa = t->type == PN_CFG_STR ? pn_cfg_str(a, t->section, t->key)
					   : pn_cfg_enum(a, t->section, t->key);
		sb = t->type == PN_CFG_STR ? pn_cfg_str(b, t->section, t->key)
					   : pn_cfg_enum(b, t->section, t->key);
		return (!sa && !sb) || (sa && sb && !strcmp(sa, sb));
	case PN_CFG_INT:
		return pn_cfg_int(a, t->section, t->key) == pn_cfg_int(b, t->section, t->key);
	case PN_CFG_BOOL:
		return pn_cfg_bool(a, t->section, t->key) == pn_cfg_bool(b, t->section, t->key);
	case PN_CFG_DURATION:
		return pn_cfg_duration_ms(a, t->section, t->key) ==
		       pn_cfg_duration_ms(b, t->section, t->key);
	case PN_CFG_LIST:
		na = pn_cfg_list(a, t->section, t->key, &ia);
		nb = pn_cfg_list(b, t->section, t->key, &ib);
		if (na != nb)
			return false;
		for (size_t i = 0; i < na; i++)
			if (strcmp(ia[i], ib[i]))
				return false;
		return true;
	}
	return false;
}

int pn_opts_reload(struct pn_opts *o, int (*apply)(const struct pn_cfg *cfg, void *arg), void *arg,
		   char *err, size_t errsz)
{
	struct pn_cfg *nc = NULL;
	unsigned applied = 0, ignored = 0;
	int r;

	if ((r = load(o, &nc, err, errsz)) != 0)
		return r;
	/* Levels and format first: a bad [log] section leaves everything as it was. */
	if ((r = pn_log_configure(nc, err, errsz)) != 0 || (apply && (r = apply(nc, arg)) != 0)) {
		pn_log_configure(o->cur, NULL, 0);
		pn_cfg_free(nc);
		if (r != PN_E_CONFIG && !err[0])
			snprintf(err, errsz, "%s", pn_strerror(r));
		return r;
	}
	for (size_t i = 0; i < o->n; i++) {
		const struct pn_opt *t = &o->tab[i];

		if (t->flags & PN_OPT_RELOAD) {
			if (same_value(o->cur, nc, t))
				continue;
			PN_LOG_INFO("config", "reload_applied", "key=%s.%s", t->section, t->key);
			applied++;
		} else if (!same_value(o->cfg, nc, t)) {
			PN_LOG_WARN("config", "reload_ignored",
				    "key=%s.%s reason=\"needs a restart; still running with the "
				    "value it started with\"",
				    t->section, t->key);
			ignored++;
		}
	}
	PN_LOG_INFO("config", "reloaded", "file=%s applied=%u restart_needed=%u",
		    o->path ? o->path : "-", applied, ignored);
	if (o->cur != o->cfg)
		pn_cfg_free(o->cur);
	o->cur = nc;
	return 0;
}
