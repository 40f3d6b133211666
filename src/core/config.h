#ifndef PN_CORE_CONFIG_H
#define PN_CORE_CONFIG_H
/*
 * Configuration files: a small INI/TOML-like syntax (docs/foundation.md has
 * the full grammar) parsed by a hand-written tokenizer and checked against a
 * schema the caller supplies.
 *
 *   # relay.conf
 *   [relay]
 *   listen   = "0.0.0.0:443"     # quoted string (escapes: \" \\ \n \t \r \uXXXX)
 *   state    = /var/lib/postern  # bare word: a string without spaces, #, =, [, ], ", ','
 *   port     = 443               # integer (decimal or 0x hex)
 *   udp      = true              # boolean: true/false, yes/no, on/off
 *   idle     = 5m                # duration: 250ms, 30s, 5m, 2h, 1d, 1h30m
 *   peers    = ["a:1", "b:2"]    # list of strings, on one line
 *
 * Every failure produces exactly one message naming the file, the line and
 * the key, e.g.
 *   relay.conf:12: key 'relay.port': expected integer 1..65535, got "abc"
 * and pn_cfg_load_* return non-zero.  Input is untrusted: hard limits on
 * file size, line length, number of assignments and list length; NUL and
 * control bytes are rejected; nothing the file contains can crash the parser.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits (a file exceeding one is rejected with a message saying so). */
#define PN_CFG_MAX_FILE (1024 * 1024) /* bytes */
#define PN_CFG_MAX_LINE 4096	      /* bytes per line, without the newline */
#define PN_CFG_MAX_KEYS 1024	      /* key = value lines per file */
#define PN_CFG_MAX_LIST 256	      /* elements per list */
#define PN_CFG_MAX_NAME 64	      /* bytes in a section or key name */

enum pn_cfg_type {
	PN_CFG_STR = 1,	 /* quoted string or bare word; min/max bound its length */
	PN_CFG_INT,	 /* int64; min/max bound the value */
	PN_CFG_BOOL,	 /* true/false, yes/no, on/off */
	PN_CFG_DURATION, /* stored in milliseconds; min/max bound it (in ms) */
	PN_CFG_ENUM,	 /* one word out of `choices` ("a|b|c") */
	PN_CFG_LIST,	 /* ["s1", "s2", ...]; min/max bound the element count */
};

/*
 * One schema entry.  `section` is "" for keys before any [section] header.
 * min == max == 0 means "no bound" (beyond the type's own).  `def` is the
 * default in config syntax ("443", "30s", "true", "[\"a\"]"); for STR and
 * ENUM it is taken literally.  A required key must not have a default.
 */
struct pn_cfg_key {
	const char *section;
	const char *key;
	enum pn_cfg_type type;
	bool required;
	int64_t min, max;
	const char *def;
	const char *choices; /* PN_CFG_ENUM only */
};

/*
 * Schema entries without -Wmissing-field-initializers noise:
 *   PN_CFG_KEY("relay", "port", PN_CFG_INT, .min = 1, .max = 65535, .def = "443")
 */
/* clang-format off */
#define PN_CFG_KEY(sec, name, ty, ...) \
	{ .section = (sec), .key = (name), .type = (ty), __VA_ARGS__ }
/* clang-format on */

struct pn_cfg; /* opaque: the loaded, validated configuration */

/*
 * Load and validate `path` against schema[0..n).  On success *out is a new
 * configuration (free with pn_cfg_free) and 0 is returned.  On failure *out
 * is NULL, err holds one NUL-terminated message (truncated to errsz) and the
 * return is PN_E_CONFIG (content), a negative errno (open/read) or
 * PN_E_INVAL (the schema itself is invalid: a programming error).  The
 * configuration keeps a pointer to `schema`: it must outlive it (a static
 * const array does).  Errors: -ENOMEM, -ENOENT/-EACCES/-EISDIR/... (read).
 */
int pn_cfg_load_file(struct pn_cfg **out, const char *path, const struct pn_cfg_key *schema,
		     size_t n, char *err, size_t errsz);
/* The same for text in memory; `name` stands for the file in messages. */
int pn_cfg_load_mem(struct pn_cfg **out, const char *name, const char *text, size_t len,
		    const struct pn_cfg_key *schema, size_t n, char *err, size_t errsz);
/* Frees the configuration, wiping string values (they may hold secrets). NULL-safe. */
void pn_cfg_free(struct pn_cfg *cfg);

/*
 * Typed getters.  They return the value from the file, else the schema
 * default, else zero/false/NULL/empty.  Asking for a key that is not in the
 * schema, or with the wrong type, is a programming error: the getters then
 * return zero/false/NULL/empty too (and pn_cfg_lookup reports -ENOENT).
 */
const char *pn_cfg_str(const struct pn_cfg *cfg, const char *section, const char *key);
int64_t pn_cfg_int(const struct pn_cfg *cfg, const char *section, const char *key);
bool pn_cfg_bool(const struct pn_cfg *cfg, const char *section, const char *key);
int64_t pn_cfg_duration_ms(const struct pn_cfg *cfg, const char *section, const char *key);
/* The enum's word, or its index in `choices` (or -1 if unset without default). */
const char *pn_cfg_enum(const struct pn_cfg *cfg, const char *section, const char *key);
int pn_cfg_enum_index(const struct pn_cfg *cfg, const char *section, const char *key);
/* Number of elements; *items (if not NULL) gets the array, valid until pn_cfg_free. */
size_t pn_cfg_list(const struct pn_cfg *cfg, const char *section, const char *key,
		   const char *const **items);

/*
 * Set a key from outside the file (a command-line flag), as if the file
 * said `key = text` (text taken literally, like a quoted string), after
 * the file was loaded: a scalar replaces the file's value, a LIST gets
 * text appended as one more element (a repeatable flag adds to the file's
 * list).  The schema's checks apply; a failure names `source` instead of
 * the file:
 *   --max-sessions: key 'relay.max_sessions': expected integer 1..100, got "x"
 * and so do later pn_cfg_errorf messages about this key.  0, PN_E_CONFIG,
 * -ENOMEM, or -ENOENT (key not in the schema: a programming error).
 */
int pn_cfg_set(struct pn_cfg *cfg, const char *section, const char *key, const char *text,
	       const char *source, char *err, size_t errsz);

/*
 * Where did a key's value come from?  Returns 1 if it was set in the file
 * (*line, if not NULL, gets its line; 0 when set by
 * pn_cfg_set), 0 if it has a default or no value,
 * -ENOENT if the key is not in the schema.
 */
int pn_cfg_lookup(const struct pn_cfg *cfg, const char *section, const char *key, int *line);
/* The name given at load time (the path for pn_cfg_load_file). */
const char *pn_cfg_name(const struct pn_cfg *cfg);

/*
 * For checks the schema cannot express (e.g. "cert requires key"): writes
 * "<file>:<line>: key '<section>.<key>': <message>" (or "<file>: ..." when
 * the key was not set in the file) into err and returns PN_E_CONFIG.
 */
int pn_cfg_errorf(const struct pn_cfg *cfg, const char *section, const char *key, char *err,
		  size_t errsz, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Parse a duration such as "250ms", "30s", "5m", "2h", "1d" or "1h30m" into
 * milliseconds: 0 or PN_E_MALFORMED / PN_E_TOOBIG (overflow).  A bare "0"
 * is allowed; any other number needs a unit.
 */
int pn_cfg_parse_duration(const char *s, size_t len, int64_t *ms);
/* The shortest exact rendering of a duration in file syntax: 90000 -> "90s", 0 -> "0". */
void pn_cfg_format_duration(char *out, size_t outsz, int64_t ms);
#endif
