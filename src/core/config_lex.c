/*
 * The configuration tokenizer: a prepass that rejects hostile bytes, then
 * tokens with line tracking and string escapes, and the error formatter.
 * The grammar and the schema are in config.c.
 */
#include <stdio.h>
#include <string.h>

#include "core/config_lex.h"
#include "core/err.h"
#include "core/hex.h"

/* Quote untrusted text for a message: escapes, and at most ~48 bytes. */
void pn_cfg_quote(char *out, size_t outsz, const char *s, size_t n)
{
	size_t o = 0;
	if (outsz < 8) {
		if (outsz)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 48 || o + 8 >= outsz) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

void pn_cfg_key_name(char *out, size_t outsz, const struct pn_cfg_key *k)
{
	if (k->section[0])
		snprintf(out, outsz, "%s.%s", k->section, k->key);
	else
		snprintf(out, outsz, "%s", k->key);
}

/* "<name>:<line>: [key '<k>': ]<msg>"; line 0 omits the line. */
void pn_cfg_vformat_error(char *err, size_t errsz, const char *name, int line,
			  const struct pn_cfg_key *k, const char *fmt, va_list ap)
{
	char kn[2 * PN_CFG_MAX_NAME + 2];
	size_t o = 0;
	int r;

	if (!err || !errsz)
		return;
	if (line > 0)
		r = snprintf(err, errsz, "%s:%d: ", name, line);
	else
		r = snprintf(err, errsz, "%s: ", name);
	if (r > 0)
		o = (size_t)r < errsz ? (size_t)r : errsz - 1;
	if (k) {
		pn_cfg_key_name(kn, sizeof(kn), k);
		r = snprintf(err + o, errsz - o, "key '%s': ", kn);
		if (r > 0)
			o = o + (size_t)r < errsz ? o + (size_t)r : errsz - 1;
	}
	vsnprintf(err + o, errsz - o, fmt, ap);
}

int pn_cfg_fail(struct pn_cfg_parser *ps, int line, const struct pn_cfg_key *k, const char *fmt,
		...)
{
	va_list ap;
	if (!ps->failed) {
		va_start(ap, fmt);
		pn_cfg_vformat_error(ps->err, ps->errsz, ps->name, line, k, fmt, ap);
		va_end(ap);
		ps->failed = true;
	}
	return PN_E_CONFIG;
}

/* ---- prepass: bytes no line may contain ---- */

int pn_cfg_prepass(struct pn_cfg_parser *ps)
{
	const char *p = ps->p, *ls = p;
	int line = 1;

	/* A UTF-8 byte order mark is harmless; skip it. */
	if (ps->end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		ps->p = ls = p = p + 3;
	for (; p < ps->end; p++) {
		unsigned char c = (unsigned char)*p;
		if ((size_t)(p - ls) >= PN_CFG_MAX_LINE && c != '\n' && c != '\r')
			return pn_cfg_fail(ps, line, NULL, "line too long (limit %d bytes)",
					   PN_CFG_MAX_LINE);
		if (c == '\n') {
			line++;
			ls = p + 1;
		} else if (c == '\r') {
			if (p + 1 == ps->end || p[1] != '\n')
				return pn_cfg_fail(ps, line, NULL, "stray carriage return");
		} else if (c == 0) {
			return pn_cfg_fail(ps, line, NULL, "NUL byte in file");
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return pn_cfg_fail(ps, line, NULL, "control character 0x%02x in file", c);
		}
	}
	return 0;
}

/* ---- tokenizer ---- */

static bool word_char(char c)
{
	return !strchr(" \t\r\n#=[],\"'", c);
}

/* A "..." string with escapes, decoded into ps->tok (never longer than the source). */
static int lex_string(struct pn_cfg_parser *ps)
{
	const char *p = ps->p + 1;
	size_t o = 0;

	for (;;) {
		char c;
		if (p == ps->end || *p == '\n' || *p == '\r')
			return pn_cfg_fail(ps, ps->line, NULL, "unterminated string");
		c = *p++;
		if (c == '"')
			break;
		if (c != '\\') {
			ps->tok[o++] = c;
			continue;
		}
		if (p == ps->end)
			return pn_cfg_fail(ps, ps->line, NULL, "unterminated string");
		c = *p++;
		switch (c) {
		case '"': ps->tok[o++] = '"'; break;
		case '\\': ps->tok[o++] = '\\'; break;
		case '/': ps->tok[o++] = '/'; break;
		case 'n': ps->tok[o++] = '\n'; break;
		case 't': ps->tok[o++] = '\t'; break;
		case 'r': ps->tok[o++] = '\r'; break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = p < ps->end ? pn_hex_digit(*p) : PN_E_MALFORMED;
				if (h < 0)
					return pn_cfg_fail(
					    ps, ps->line, NULL,
					    "invalid \\u escape (need 4 hex digits)");
				cp = cp << 4 | (unsigned)h;
				p++;
			}
			/* NUL would truncate C strings; lone surrogates are not characters. */
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return pn_cfg_fail(ps, ps->line, NULL,
						   "invalid \\u escape (U+%04X not allowed)", cp);
			/* 6 source bytes become at most 3, so tok cannot overflow. */
			if (cp < 0x80) {
				ps->tok[o++] = (char)cp;
			} else if (cp < 0x800) {
				ps->tok[o++] = (char)(0xc0 | cp >> 6);
				ps->tok[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				ps->tok[o++] = (char)(0xe0 | cp >> 12);
				ps->tok[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				ps->tok[o++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default:
			if ((unsigned char)c >= 0x20 && c != 0x7f)
				return pn_cfg_fail(ps, ps->line, NULL,
						   "invalid escape '\\%c' in string", c);
			return pn_cfg_fail(ps, ps->line, NULL, "invalid escape in string");
		}
	}
	ps->tok[o] = '\0';
	ps->toklen = o;
	ps->p = p;
	ps->kind = TK_STR;
	return 0;
}

/* A '...' literal string: no escapes. */
static int lex_literal(struct pn_cfg_parser *ps)
{
	const char *p = ps->p + 1, *s = p;
	while (p < ps->end && *p != '\'' && *p != '\n' && *p != '\r')
		p++;
	if (p == ps->end || *p != '\'')
		return pn_cfg_fail(ps, ps->line, NULL, "unterminated string");
	ps->toklen = (size_t)(p - s); /* the prepass bounds lines, so this fits tok */
	memcpy(ps->tok, s, ps->toklen);
	ps->tok[ps->toklen] = '\0';
	ps->p = p + 1;
	ps->kind = TK_STR;
	return 0;
}

int pn_cfg_lex(struct pn_cfg_parser *ps)
{
	const char *p = ps->p;

	while (p < ps->end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < ps->end && *p == '#')
		while (p < ps->end && *p != '\n')
			p++;
	ps->p = p;
	ps->tok_line = ps->line;
	if (p == ps->end) {
		ps->kind = TK_EOF;
		return 0;
	}
	switch (*p) {
	case '\r': /* the prepass guarantees '\n' follows */
		p++;
		/* fall through */
	case '\n':
		ps->p = p + 1;
		ps->line++;
		ps->kind = TK_NL;
		return 0;
	case '[':
		ps->kind = TK_LBRACK;
		ps->p++;
		return 0;
	case ']':
		ps->kind = TK_RBRACK;
		ps->p++;
		return 0;
	case '=':
		ps->kind = TK_EQ;
		ps->p++;
		return 0;
	case ',':
		ps->kind = TK_COMMA;
		ps->p++;
		return 0;
	case '"': return lex_string(ps);
	case '\'': return lex_literal(ps);
	default: break;
	}
	while (p < ps->end && word_char(*p))
		p++;
	ps->toklen = (size_t)(p - ps->p);
	memcpy(ps->tok, ps->p, ps->toklen);
	ps->tok[ps->toklen] = '\0';
	ps->p = p;
	ps->kind = TK_WORD;
	return 0;
}

const char *pn_cfg_tk_desc(const struct pn_cfg_parser *ps)
{
	switch (ps->kind) {
	case TK_EOF: return "end of file";
	case TK_NL: return "end of line";
	case TK_LBRACK: return "'['";
	case TK_RBRACK: return "']'";
	case TK_EQ: return "'='";
	case TK_COMMA: return "','";
	case TK_STR: return "a string";
	case TK_WORD: return "a word";
	}
	return "?";
}
