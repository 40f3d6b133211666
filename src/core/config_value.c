/*
 * Typed configuration values: integers with units, durations, booleans,
 * enums, strings and lists converted from tokens against a key's schema
 * entry, with range checks and one message on the first error.  Internal to
 * core/config.c (declared in config_lex.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/config_lex.h"
#include "core/err.h"
#include "core/secret.h"

/* ---- scalars and messages ---- */

static const char *type_name(enum pn_cfg_type t)
{
	switch (t) {
	case PN_CFG_STR: return "string";
	case PN_CFG_INT: return "integer";
	case PN_CFG_BOOL: return "boolean";
	case PN_CFG_DURATION: return "duration";
	case PN_CFG_ENUM: return "choice";
	case PN_CFG_LIST: return "list";
	}
	return "?";
}

/* ---- scalars ---- */

static int parse_int(const char *s, size_t n, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, lim;
	unsigned base = 10;
	size_t i = 0;

	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	if (i == n)
		return PN_E_MALFORMED;
	/* Magnitude limit: INT64_MAX, or one more for a negative number. */
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return PN_E_MALFORMED;
		if (v > (lim - d) / base)
			return PN_E_TOOBIG;
		v = v * base + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

int pn_cfg_parse_duration(const char *s, size_t len, int64_t *ms)
{
	int64_t total = 0;
	size_t i = 0;

	if (len == 1 && s[0] == '0') {
		*ms = 0;
		return 0;
	}
	if (len == 0)
		return PN_E_MALFORMED;
	while (i < len) {
		uint64_t num = 0;
		int64_t mult, part;
		size_t d0 = i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			/* Bounded so num * 86400000 below cannot overflow either. */
			if (num > (uint64_t)INT64_MAX / 10)
				return PN_E_TOOBIG;
			num = num * 10 + (uint64_t)(s[i++] - '0');
		}
		if (i == d0 || i == len)
			return PN_E_MALFORMED; /* no digits, or no unit */
		if (len - i >= 2 && s[i] == 'm' && s[i + 1] == 's') {
			mult = 1;
			i += 2;
		} else if (s[i] == 's') {
			mult = 1000;
			i++;
		} else if (s[i] == 'm') {
			mult = 60 * 1000;
			i++;
		} else if (s[i] == 'h') {
			mult = 3600 * 1000;
			i++;
		} else if (s[i] == 'd') {
			mult = 86400 * 1000;
			i++;
		} else {
			return PN_E_MALFORMED;
		}
		if (num > (uint64_t)(INT64_MAX / mult))
			return PN_E_TOOBIG;
		part = (int64_t)num * mult;
		if (total > INT64_MAX - part)
			return PN_E_TOOBIG;
		total += part;
	}
	*ms = total;
	return 0;
}

/* Shortest exact rendering of a millisecond count: 90000 -> "90s". */
void pn_cfg_format_duration(char *out, size_t outsz, int64_t ms)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} u[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (ms != 0 && ms % u[i].ms == 0) {
			snprintf(out, outsz, "%" PRId64 "%s", ms / u[i].ms, u[i].unit);
			return;
		}
	snprintf(out, outsz, "%" PRId64 "%s", ms, ms ? "ms" : "");
}

static bool bounded(const struct pn_cfg_key *k)
{
	return k->min != 0 || k->max != 0;
}

/* Find word s[0..n) in "a|b|c"; its index or -1. */
static int enum_index(const char *choices, const char *s, size_t n)
{
	int idx = 0;
	const char *c = choices;
	for (;;) {
		const char *bar = strchr(c, '|');
		size_t l = bar ? (size_t)(bar - c) : strlen(c);
		if (l == n && memcmp(c, s, n) == 0)
			return idx;
		if (!bar)
			return -1;
		c = bar + 1;
		idx++;
	}
}

/* ---- values ---- */

void pn_cfg_value_clear(struct pn_cfg_value *v)
{
	if (v->s) {
		pn_wipe(v->s, strlen(v->s));
		free(v->s);
	}
	for (size_t i = 0; i < v->nlist; i++) {
		pn_wipe(v->list[i], strlen(v->list[i]));
		free(v->list[i]);
	}
	free(v->list);
	free(v->src);
	memset(v, 0, sizeof(*v));
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Convert the scalar in ps->tok for key k into v. */
int pn_cfg_convert_scalar(struct pn_cfg_parser *ps, const struct pn_cfg_key *k, struct pn_cfg_value *v)
{
	char got[64], lo[32], hi[32];
	const char *t = ps->tok;
	size_t n = ps->toklen;
	int line = ps->tok_line;
	int r;

	pn_cfg_quote(got, sizeof(got), t, n);
	switch (k->type) {
	case PN_CFG_STR:
		if (bounded(k) && ((int64_t)n < k->min || (int64_t)n > k->max))
			return pn_cfg_fail(ps, line, k,
					   "expected string of %" PRId64 "..%" PRId64
					   " bytes, got %zu bytes",
					   k->min, k->max, n);
		if (memchr(t, 0, n)) /* cannot happen (prepass, \u0000 refused); belt and braces */
			return pn_cfg_fail(ps, line, k, "NUL in string");
		if (!(v->s = dupn(t, n)))
			return -ENOMEM;
		return 0;
	case PN_CFG_INT:
		r = parse_int(t, n, &v->i);
		if (r == 0 && (!bounded(k) || (v->i >= k->min && v->i <= k->max)))
			return 0;
		if (bounded(k))
			return pn_cfg_fail(ps, line, k,
					   "expected integer %" PRId64 "..%" PRId64 ", got %s",
					   k->min, k->max, got);
		return pn_cfg_fail(ps, line, k, "expected integer%s, got %s",
				   r == PN_E_TOOBIG ? " (64-bit range)" : "", got);
	case PN_CFG_BOOL:
		if ((n == 4 && !memcmp(t, "true", 4)) || (n == 3 && !memcmp(t, "yes", 3)) ||
		    (n == 2 && !memcmp(t, "on", 2))) {
			v->i = 1;
			return 0;
		}
		if ((n == 5 && !memcmp(t, "false", 5)) || (n == 2 && !memcmp(t, "no", 2)) ||
		    (n == 3 && !memcmp(t, "off", 3))) {
			v->i = 0;
			return 0;
		}
		return pn_cfg_fail(ps, line, k, "expected true or false, got %s", got);
	case PN_CFG_DURATION:
		r = pn_cfg_parse_duration(t, n, &v->i);
		if (r == 0 && (!bounded(k) || (v->i >= k->min && v->i <= k->max)))
			return 0;
		if (bounded(k)) {
			pn_cfg_format_duration(lo, sizeof(lo), k->min);
			pn_cfg_format_duration(hi, sizeof(hi), k->max);
			return pn_cfg_fail(ps, line, k,
					   "expected duration %s..%s (e.g. 30s, 5m, 2h), got %s",
					   lo, hi, got);
		}
		return pn_cfg_fail(ps, line, k,
				   "expected duration (e.g. 250ms, 30s, 5m, 2h, 1d)%s, got %s",
				   r == PN_E_TOOBIG ? " in range" : "", got);
	case PN_CFG_ENUM:
		if ((r = enum_index(k->choices, t, n)) < 0)
			return pn_cfg_fail(ps, line, k, "expected one of %s, got %s", k->choices,
					   got);
		v->i = r;
		if (!(v->s = dupn(t, n)))
			return -ENOMEM;
		return 0;
	case PN_CFG_LIST:
		return pn_cfg_fail(ps, line, k, "expected a list like [\"a\", \"b\"], got %s", got);
	}
	return pn_cfg_fail(ps, line, k, "unknown schema type");
}

static int parse_list(struct pn_cfg_parser *ps, const struct pn_cfg_key *k, struct pn_cfg_value *v)
{
	int line = ps->tok_line, r;
	size_t cap = 0;

	for (;;) {
		if ((r = pn_cfg_lex(ps)) != 0)
			return r;
		if (ps->kind == TK_RBRACK)
			break; /* empty list, or trailing comma */
		if (ps->kind != TK_STR && ps->kind != TK_WORD)
			return pn_cfg_fail(ps, line, k,
					   "expected a string or ']' in list, got %s%s",
					   pn_cfg_tk_desc(ps),
					   ps->kind == TK_NL || ps->kind == TK_EOF
					       ? " (a list must fit on one line)"
					       : "");
		if (v->nlist == PN_CFG_MAX_LIST)
			return pn_cfg_fail(ps, line, k, "list too long (limit %d elements)",
					   PN_CFG_MAX_LIST);
		if (v->nlist == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nl = realloc(v->list, ncap * sizeof(*nl));
			if (!nl)
				return -ENOMEM;
			v->list = nl;
			cap = ncap;
		}
		if (!(v->list[v->nlist] = dupn(ps->tok, ps->toklen)))
			return -ENOMEM;
		v->nlist++;
		if ((r = pn_cfg_lex(ps)) != 0)
			return r;
		if (ps->kind == TK_RBRACK)
			break;
		if (ps->kind != TK_COMMA)
			return pn_cfg_fail(ps, line, k, "expected ',' or ']' in list, got %s%s",
					   pn_cfg_tk_desc(ps),
					   ps->kind == TK_NL || ps->kind == TK_EOF
					       ? " (a list must fit on one line)"
					       : "");
	}
	if (bounded(k) && ((int64_t)v->nlist < k->min || (int64_t)v->nlist > k->max))
		return pn_cfg_fail(ps, line, k,
				   "expected %" PRId64 "..%" PRId64 " list elements, got %zu",
				   k->min, k->max, v->nlist);
	return 0;
}

/* value := string | word | '[' list ']' */
int pn_cfg_parse_value(struct pn_cfg_parser *ps, const struct pn_cfg_key *k, struct pn_cfg_value *v)
{
	int r;
	if ((r = pn_cfg_lex(ps)) != 0)
		return r;
	switch (ps->kind) {
	case TK_STR:
	case TK_WORD: return pn_cfg_convert_scalar(ps, k, v);
	case TK_LBRACK:
		if (k->type != PN_CFG_LIST)
			return pn_cfg_fail(ps, ps->tok_line, k, "expected %s, got a list",
					   type_name(k->type));
		return parse_list(ps, k, v);
	case TK_NL:
	case TK_EOF: return pn_cfg_fail(ps, ps->tok_line, k, "missing value after '='");
	default:
		return pn_cfg_fail(ps, ps->tok_line, k, "expected a value, got %s",
				   pn_cfg_tk_desc(ps));
	}
}

/* ---- the grammar ---- */

/* Edit distance, capped: names are <= PN_CFG_MAX_NAME bytes (checked by callers). */
