#ifndef PN_CORE_CONFIG_LEX_H
#define PN_CORE_CONFIG_LEX_H
/*
 * Internal to core/config.c and config_value.c: the parser state, the typed
 * value, the prepass that rejects
 * hostile bytes, the line-tracking tokenizer and the one-message error
 * formatter.  Not for other modules (use core/config.h).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

enum pn_cfg_tk { TK_EOF, TK_NL, TK_LBRACK, TK_RBRACK, TK_EQ, TK_COMMA, TK_STR, TK_WORD };

struct pn_cfg_parser {
	const char *name;
	const char *p, *end;
	int line;
	char *err;
	size_t errsz;
	bool failed;
	struct pn_cfg *cfg;
	const char *section; /* current section ("" before any header) */
	int *sec_line;	     /* per schema index: line of its section header */
	int nkeys;
	enum pn_cfg_tk kind; /* last token */
	int tok_line;	     /* line of the last token */
	size_t toklen;
	char tok[PN_CFG_MAX_LINE + 1]; /* decoded text of the last STR/WORD */
};

/* Quote untrusted text for a message: escaped, at most ~48 bytes shown. */
void pn_cfg_quote(char *out, size_t outsz, const char *s, size_t n);
/* "section.key" (or "key" at top level). */
void pn_cfg_key_name(char *out, size_t outsz, const struct pn_cfg_key *k);
/* "<name>:<line>: [key '<k>': ]<msg>" into err; line 0 omits the line. */
void pn_cfg_vformat_error(char *err, size_t errsz, const char *name, int line,
			  const struct pn_cfg_key *k, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
/* Record the first error of this parse (later ones are dropped); returns PN_E_CONFIG. */
int pn_cfg_fail(struct pn_cfg_parser *ps, int line, const struct pn_cfg_key *k, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
/* Reject NUL, control bytes, lone CR and over-long lines; skips a UTF-8 BOM. */
int pn_cfg_prepass(struct pn_cfg_parser *ps);
/* Next token into ps->kind (and ps->tok/toklen for strings and words): 0 or PN_E_CONFIG. */
int pn_cfg_lex(struct pn_cfg_parser *ps);
/* "end of line", "'='", "a word", ... for messages about the last token. */
const char *pn_cfg_tk_desc(const struct pn_cfg_parser *ps);
/* One key's value (config_value.c converts, config.c stores and reads). */
struct pn_cfg_value {
	bool set; /* assigned in the file or by pn_cfg_set */
	bool has; /* set or defaulted */
	int line;  /* 0 when set by pn_cfg_set */
	char *src; /* pn_cfg_set's source ("--port"), or NULL */
	int64_t i; /* INT, DURATION (ms), BOOL, ENUM index */
	char *s;   /* STR, ENUM */
	char **list;
	size_t nlist;
};

/* Free what a value holds and mark it unset. */
void pn_cfg_value_clear(struct pn_cfg_value *v);
/* Convert the last token (ps->tok) to k's scalar type into v: 0 or PN_E_CONFIG. */
int pn_cfg_convert_scalar(struct pn_cfg_parser *ps, const struct pn_cfg_key *k,
			  struct pn_cfg_value *v);
/* Parse the value of an assignment (scalar or list) up to the end of line. */
int pn_cfg_parse_value(struct pn_cfg_parser *ps, const struct pn_cfg_key *k,
		       struct pn_cfg_value *v);
#endif
