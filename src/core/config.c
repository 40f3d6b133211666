/*
 * Configuration loader: a recursive-descent parser for the line grammar
 * over the tokenizer in config_lex.c, schema checks, defaults and the typed
 * getters (values converted in config_value.c) against the
 * caller's schema.  The first error stops
 * everything and leaves one message in the caller's buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/config_lex.h"
#include "core/err.h"
#include "core/file.h"
#include "core/secret.h"

struct pn_cfg {
	char *name;
	const struct pn_cfg_key *schema;
	size_t n;
	struct pn_cfg_value *v; /* one per schema entry */
};

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[PN_CFG_MAX_NAME + 1];

	if (la > PN_CFG_MAX_NAME || lb > PN_CFG_MAX_NAME)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], t;
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			t = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (t + 1 < row[j])
				row[j] = t + 1;
			diag = t;
		}
	}
	return row[lb];
}

/*
 * A " (did you mean 'x'?)" hint for a misspelt name: the closest section
 * (section == NULL) or key of `section`, within 2 edits.
 */
static void suggest(char *out, size_t outsz, const struct pn_cfg *cfg, const char *section,
		    const char *name)
{
	const char *best = NULL;
	size_t bd = 3;
	out[0] = '\0';
	for (size_t i = 0; i < cfg->n; i++) {
		const struct pn_cfg_key *k = &cfg->schema[i];
		const char *cand = section ? k->key : k->section;
		size_t d;
		if ((section && strcmp(k->section, section)) || !cand[0])
			continue;
		if ((d = edit_distance(name, cand)) < bd) {
			bd = d;
			best = cand;
		}
	}
	if (best)
		snprintf(out, outsz, section ? " (did you mean '%s'?)" : " (did you mean [%s]?)",
			 best);
}

static bool valid_name(const char *s, size_t n, bool dots)
{
	if (n == 0 || n > PN_CFG_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || (dots && c == '.')))
			return false;
	}
	return true;
}

static int expect_eol(struct pn_cfg_parser *ps, const char *after)
{
	int r;
	if ((r = pn_cfg_lex(ps)) != 0)
		return r;
	if (ps->kind != TK_NL && ps->kind != TK_EOF)
		return pn_cfg_fail(ps, ps->tok_line, NULL, "expected end of line after %s, got %s",
				   after, pn_cfg_tk_desc(ps));
	return 0;
}

static int parse_section(struct pn_cfg_parser *ps)
{
	char got[64], hint[PN_CFG_MAX_NAME + 24];
	int line = ps->tok_line, r;
	size_t i;

	if ((r = pn_cfg_lex(ps)) != 0)
		return r;
	if (ps->kind != TK_WORD)
		return pn_cfg_fail(ps, line, NULL, "expected a section name after '[', got %s",
				   pn_cfg_tk_desc(ps));
	pn_cfg_quote(got, sizeof(got), ps->tok, ps->toklen);
	if (!valid_name(ps->tok, ps->toklen, true))
		return pn_cfg_fail(ps, line, NULL, "invalid section name %s", got);
	for (i = 0; i < ps->cfg->n; i++)
		if (!strcmp(ps->cfg->schema[i].section, ps->tok))
			break;
	if (i == ps->cfg->n) {
		suggest(hint, sizeof(hint), ps->cfg, NULL, ps->tok);
		return pn_cfg_fail(ps, line, NULL, "unknown section [%s]%s", ps->tok, hint);
	}
	if (ps->sec_line[i])
		return pn_cfg_fail(ps, line, NULL, "duplicate section [%s] (first at line %d)",
				   ps->tok, ps->sec_line[i]);
	ps->sec_line[i] = line;
	ps->section = ps->cfg->schema[i].section;
	if ((r = pn_cfg_lex(ps)) != 0)
		return r;
	if (ps->kind != TK_RBRACK)
		return pn_cfg_fail(ps, line, NULL, "expected ']' after section name, got %s",
				   pn_cfg_tk_desc(ps));
	return expect_eol(ps, "section header");
}

static int parse_assignment(struct pn_cfg_parser *ps)
{
	char got[64], hint[PN_CFG_MAX_NAME + 24];
	const struct pn_cfg_key *k = NULL;
	struct pn_cfg_value *v;
	int line = ps->tok_line, r;
	size_t i;

	pn_cfg_quote(got, sizeof(got), ps->tok, ps->toklen);
	if (!valid_name(ps->tok, ps->toklen, false))
		return pn_cfg_fail(ps, line, NULL,
				   "invalid key name %s (letters, digits, '_' and '-')", got);
	for (i = 0; i < ps->cfg->n; i++)
		if (!strcmp(ps->cfg->schema[i].section, ps->section) &&
		    !strcmp(ps->cfg->schema[i].key, ps->tok)) {
			k = &ps->cfg->schema[i];
			break;
		}
	if (!k) {
		suggest(hint, sizeof(hint), ps->cfg, ps->section, ps->tok);
		if (ps->section[0])
			return pn_cfg_fail(ps, line, NULL, "unknown key '%s.%s'%s", ps->section,
					   ps->tok, hint);
		return pn_cfg_fail(ps, line, NULL, "unknown key '%s'%s", ps->tok,
				   hint[0] ? hint : " (top level; is a [section] header missing?)");
	}
	if ((r = pn_cfg_lex(ps)) != 0)
		return r;
	if (ps->kind != TK_EQ)
		return pn_cfg_fail(ps, line, k, "expected '=' after the key, got %s",
				   pn_cfg_tk_desc(ps));
	v = &ps->cfg->v[i];
	if (v->set)
		return pn_cfg_fail(ps, line, k, "duplicate key (first set at line %d)", v->line);
	if (++ps->nkeys > PN_CFG_MAX_KEYS)
		return pn_cfg_fail(ps, line, NULL, "too many keys (limit %d)", PN_CFG_MAX_KEYS);
	pn_cfg_value_clear(v); /* drop the default */
	if ((r = pn_cfg_parse_value(ps, k, v)) != 0)
		return r;
	v->set = v->has = true;
	v->line = line;
	return expect_eol(ps, "value");
}

static int parse_file(struct pn_cfg_parser *ps)
{
	int r;
	if ((r = pn_cfg_prepass(ps)) != 0)
		return r;
	for (;;) {
		if ((r = pn_cfg_lex(ps)) != 0)
			return r;
		switch (ps->kind) {
		case TK_EOF: return 0;
		case TK_NL: continue;
		case TK_LBRACK: r = parse_section(ps); break;
		case TK_WORD: r = parse_assignment(ps); break;
		case TK_STR:
			return pn_cfg_fail(ps, ps->tok_line, NULL,
					   "expected a key or [section], got a string"
					   " (keys are not quoted)");
		default:
			return pn_cfg_fail(ps, ps->tok_line, NULL,
					   "expected a key or [section], got %s",
					   pn_cfg_tk_desc(ps));
		}
		if (r)
			return r;
	}
}

/* ---- schema ---- */

static int schema_error(char *err, size_t errsz, const struct pn_cfg_key *k, const char *why)
{
	char kn[2 * PN_CFG_MAX_NAME + 2] = "?";
	if (k && k->section && k->key)
		pn_cfg_key_name(kn, sizeof(kn), k);
	if (err && errsz)
		snprintf(err, errsz, "schema: key '%s': %s", kn, why);
	return PN_E_INVAL;
}

static int check_schema(const struct pn_cfg_key *schema, size_t n, char *err, size_t errsz)
{
	for (size_t i = 0; i < n; i++) {
		const struct pn_cfg_key *k = &schema[i];
		if (!k->section || !k->key)
			return schema_error(err, errsz, NULL, "NULL section or key");
		if ((k->section[0] && !valid_name(k->section, strlen(k->section), true)) ||
		    !valid_name(k->key, strlen(k->key), false))
			return schema_error(err, errsz, k, "invalid name");
		if (k->type < PN_CFG_STR || k->type > PN_CFG_LIST)
			return schema_error(err, errsz, k, "invalid type");
		if (k->required && k->def)
			return schema_error(err, errsz, k, "required key with a default");
		if (k->min > k->max)
			return schema_error(err, errsz, k, "min > max");
		if (k->type == PN_CFG_ENUM && (!k->choices || !k->choices[0]))
			return schema_error(err, errsz, k, "enum without choices");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(schema[j].section, k->section) &&
			    !strcmp(schema[j].key, k->key))
				return schema_error(err, errsz, k, "listed twice");
	}
	return 0;
}

/* Defaults are parsed with the file's own value grammar (STR/ENUM literally). */
static int apply_defaults(struct pn_cfg *cfg, char *err, size_t errsz)
{
	struct pn_cfg_parser *ps;
	int r = 0;

	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n && r == 0; i++) {
		const struct pn_cfg_key *k = &cfg->schema[i];
		struct pn_cfg_value *v = &cfg->v[i];
		size_t dl;
		if (!k->def)
			continue;
		dl = strlen(k->def);
		if (dl > PN_CFG_MAX_LINE) {
			r = schema_error(err, errsz, k, "default too long");
			break;
		}
		memset(ps, 0, offsetof(struct pn_cfg_parser, tok));
		ps->name = "schema default";
		ps->line = 0; /* no line numbers in messages about defaults */
		ps->err = err;
		ps->errsz = errsz;
		if (k->type == PN_CFG_STR || k->type == PN_CFG_ENUM) {
			memcpy(ps->tok, k->def, dl + 1);
			ps->toklen = dl;
			r = pn_cfg_convert_scalar(ps, k, v);
		} else {
			ps->p = k->def;
			ps->end = k->def + dl;
			if ((r = pn_cfg_prepass(ps)) == 0 && (r = pn_cfg_parse_value(ps, k, v)) == 0)
				r = expect_eol(ps, "value");
		}
		if (r == PN_E_CONFIG)
			r = PN_E_INVAL; /* a bad default is the programmer's error */
		v->has = r == 0;
	}
	free(ps);
	return r;
}

/* ---- public ---- */

static int too_large(const char *name, char *err, size_t errsz)
{
	if (err && errsz)
		snprintf(err, errsz, "%s: file too large (limit %d bytes)", name, PN_CFG_MAX_FILE);
	return PN_E_CONFIG;
}

int pn_cfg_load_mem(struct pn_cfg **out, const char *name, const char *text, size_t len,
		    const struct pn_cfg_key *schema, size_t n, char *err, size_t errsz)
{
	struct pn_cfg *cfg = NULL;
	struct pn_cfg_parser *ps = NULL;
	int r;

	*out = NULL;
	if (err && errsz)
		err[0] = '\0';
	if (!name)
		name = "<config>";
	if (!text) /* never form NULL + 0 below */
		text = "";
	if ((r = check_schema(schema, n, err, errsz)) != 0)
		goto out;
	if (len > PN_CFG_MAX_FILE) {
		r = too_large(name, err, errsz);
		goto out;
	}
	r = -ENOMEM;
	if (!(cfg = calloc(1, sizeof(*cfg))) || !(cfg->name = strdup(name)) ||
	    !(cfg->v = calloc(n ? n : 1, sizeof(*cfg->v))) || !(ps = calloc(1, sizeof(*ps))) ||
	    !(ps->sec_line = calloc(n ? n : 1, sizeof(int))))
		goto out;
	cfg->schema = schema;
	cfg->n = n;
	if ((r = apply_defaults(cfg, err, errsz)) != 0)
		goto out;
	ps->name = name;
	ps->p = text;
	ps->end = text + len;
	ps->line = 1;
	ps->err = err;
	ps->errsz = errsz;
	ps->cfg = cfg;
	ps->section = "";
	if ((r = parse_file(ps)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (schema[i].required && !cfg->v[i].set) {
			if (schema[i].section[0])
				r = pn_cfg_fail(ps, 0, &schema[i],
						"required but not set (add it under [%s])",
						schema[i].section);
			else
				r = pn_cfg_fail(ps, 0, &schema[i], "required but not set");
			goto out;
		}
	*out = cfg;
	cfg = NULL;
	r = 0;
out:
	if (r == -ENOMEM && err && errsz && !err[0])
		snprintf(err, errsz, "%s: out of memory", name);
	if (ps) {
		free(ps->sec_line);
		pn_wipe(ps->tok, sizeof(ps->tok)); /* may have held a secret value */
		free(ps);
	}
	pn_cfg_free(cfg);
	return r;
}

int pn_cfg_load_file(struct pn_cfg **out, const char *path, const struct pn_cfg_key *schema,
		     size_t n, char *err, size_t errsz)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = pn_file_read(path, PN_CFG_MAX_FILE, &text, &len);
	if (r == PN_E_TOOBIG)
		return too_large(path, err, errsz);
	if (r) {
		if (err && errsz)
			snprintf(err, errsz, "%s: cannot read: %s", path, pn_strerror(r));
		return r;
	}
	r = pn_cfg_load_mem(out, path, text, len, schema, n, err, errsz);
	pn_wipe_free(text, len);
	return r;
}

void pn_cfg_free(struct pn_cfg *cfg)
{
	if (!cfg)
		return;
	if (cfg->v)
		for (size_t i = 0; i < cfg->n; i++)
			pn_cfg_value_clear(&cfg->v[i]);
	free(cfg->v);
	free(cfg->name);
	free(cfg);
}

static const struct pn_cfg_value *find(const struct pn_cfg *cfg, const char *section, const char *key,
				enum pn_cfg_type type, const struct pn_cfg_key **kp)
{
	if (!cfg || !section || !key)
		return NULL;
	for (size_t i = 0; i < cfg->n; i++) {
		const struct pn_cfg_key *k = &cfg->schema[i];
		if (!strcmp(k->section, section) && !strcmp(k->key, key)) {
			if (type && k->type != type)
				return NULL;
			if (kp)
				*kp = k;
			return &cfg->v[i];
		}
	}
	return NULL;
}

const char *pn_cfg_str(const struct pn_cfg *cfg, const char *section, const char *key)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_STR, NULL);
	return v && v->has ? v->s : NULL;
}

int64_t pn_cfg_int(const struct pn_cfg *cfg, const char *section, const char *key)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_INT, NULL);
	return v && v->has ? v->i : 0;
}

bool pn_cfg_bool(const struct pn_cfg *cfg, const char *section, const char *key)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_BOOL, NULL);
	return v && v->has && v->i;
}

int64_t pn_cfg_duration_ms(const struct pn_cfg *cfg, const char *section, const char *key)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_DURATION, NULL);
	return v && v->has ? v->i : 0;
}

const char *pn_cfg_enum(const struct pn_cfg *cfg, const char *section, const char *key)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_ENUM, NULL);
	return v && v->has ? v->s : NULL;
}

int pn_cfg_enum_index(const struct pn_cfg *cfg, const char *section, const char *key)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_ENUM, NULL);
	return v && v->has ? (int)v->i : -1;
}

size_t pn_cfg_list(const struct pn_cfg *cfg, const char *section, const char *key,
		   const char *const **items)
{
	const struct pn_cfg_value *v = find(cfg, section, key, PN_CFG_LIST, NULL);
	if (items)
		*items = v ? (const char *const *)v->list : NULL;
	return v ? v->nlist : 0;
}

int pn_cfg_set(struct pn_cfg *cfg, const char *section, const char *key, const char *text,
	       const char *source, char *err, size_t errsz)
{
	struct pn_cfg_parser *ps = NULL;
	struct pn_cfg_value nv = {0}, *v = NULL;
	const struct pn_cfg_key *k = NULL;
	size_t len = strlen(text), i;
	char *src = NULL, **nl;
	int r;

	if (err && errsz)
		err[0] = '\0';
	for (i = 0; cfg && i < cfg->n; i++)
		if (!strcmp(cfg->schema[i].section, section) && !strcmp(cfg->schema[i].key, key)) {
			k = &cfg->schema[i];
			v = &cfg->v[i];
			break;
		}
	if (!k) {
		if (err && errsz)
			snprintf(err, errsz, "%s: no key '%s.%s' in the schema", source, section,
				 key);
		return -ENOENT;
	}
	r = -ENOMEM;
	if (!(ps = calloc(1, sizeof(*ps))) || !(src = strdup(source)))
		goto out;
	ps->name = source;
	ps->err = err;
	ps->errsz = errsz;
	ps->cfg = cfg;
	/* The same limits as a line of the file: length, control bytes. */
	if (len > PN_CFG_MAX_LINE) {
		r = pn_cfg_fail(ps, 0, k, "value too long (limit %d bytes)", PN_CFG_MAX_LINE);
		goto out;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
			r = pn_cfg_fail(ps, 0, k, "control byte in value");
			goto out;
		}
	memcpy(ps->tok, text, len + 1);
	ps->toklen = len;
	if (k->type == PN_CFG_LIST) {
		if (!v->set) /* a flag adds to the file's list, not to the default */
			pn_cfg_value_clear(v);
		if (v->nlist == PN_CFG_MAX_LIST ||
		    ((k->min || k->max) && (int64_t)v->nlist + 1 > k->max)) {
			r = pn_cfg_fail(ps, 0, k, "too many elements (limit %" PRId64 ")",
					k->min || k->max ? k->max : (int64_t)PN_CFG_MAX_LIST);
			goto out;
		}
		if (!(nl = realloc(v->list, (v->nlist + 1) * sizeof(*nl))))
			goto out;
		v->list = nl;
		if (!(v->list[v->nlist] = strdup(text)))
			goto out;
		v->nlist++;
	} else {
		if ((r = pn_cfg_convert_scalar(ps, k, &nv)) != 0)
			goto out;
		pn_cfg_value_clear(v);
		*v = nv;
		memset(&nv, 0, sizeof(nv));
	}
	free(v->src);
	v->src = src;
	src = NULL;
	v->set = v->has = true;
	v->line = 0;
	r = 0;
out:
	if (r == -ENOMEM && err && errsz && !err[0])
		snprintf(err, errsz, "%s: out of memory", source);
	pn_cfg_value_clear(&nv);
	free(src);
	if (ps) {
		pn_wipe(ps->tok, sizeof(ps->tok));
		free(ps);
	}
	return r;
}

int pn_cfg_lookup(const struct pn_cfg *cfg, const char *section, const char *key, int *line)
{
	const struct pn_cfg_value *v = find(cfg, section, key, 0, NULL);
	if (!v)
		return -ENOENT;
	if (line)
		*line = v->set ? v->line : 0;
	return v->set ? 1 : 0;
}

const char *pn_cfg_name(const struct pn_cfg *cfg)
{
	return cfg ? cfg->name : NULL;
}

int pn_cfg_errorf(const struct pn_cfg *cfg, const char *section, const char *key, char *err,
		  size_t errsz, const char *fmt, ...)
{
	const struct pn_cfg_key *k = NULL;
	const struct pn_cfg_value *v = find(cfg, section, key, 0, &k);
	struct pn_cfg_key tmp = {.section = section ? section : "", .key = key ? key : "?"};
	const char *name = "<config>";
	va_list ap;

	va_start(ap, fmt);
	if (v && v->src)
		name = v->src; /* set by a flag, not the file */
	else if (cfg && cfg->name)
		name = cfg->name;
	pn_cfg_vformat_error(err, errsz, name, v && v->set ? v->line : 0, k ? k : &tmp, fmt, ap);
	va_end(ap);
	return PN_E_CONFIG;
}
