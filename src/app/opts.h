#ifndef PN_APP_OPTS_H
#define PN_APP_OPTS_H
/*
 * A role's `run` options as one table, the single source of truth for
 * the command-line flags (getopt), their `--help` text, the schema of the
 * role's configuration file (core/config.h: file:line:key errors), the
 * effective configuration `--check-config` prints, and which keys SIGHUP
 * may change.
 *
 * The file is read first (`--config FILE`), then the flags are applied
 * over it: a flag replaces the file's value; a repeatable flag (a LIST key)
 * adds to the file's list.  SIGHUP (pn_opts_reload) reads the file again,
 * applies the same flags again, applies what can change while running and
 * logs each change that needs a restart.
 */
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"

#define PN_OPT_RELOAD 1u /* a change is applied on SIGHUP */

struct pn_opt {
	const char *flag;	   /* long option without "--" */
	const char *arg;	   /* metavar ("N", "ADDR:PORT"); NULL: the flag takes no
				      argument and sets `value` */
	const char *value;	   /* a no-argument flag's value ("true", "json") */
	const char *section, *key; /* the configuration key it stands for */
	enum pn_cfg_type type;
	int64_t min, max; /* as in struct pn_cfg_key */
	const char *def, *choices;
	const char *unit; /* a bare number given as the flag is in this unit ("s", "ms") */
	unsigned flags;	  /* PN_OPT_* */
	const char *help; /* lines separated by '\n' */
};

/* clang-format off */
#define PN_OPT(fl, metavar, sec, name, ty, ...) \
	{ .flag = (fl), .arg = (metavar), .section = (sec), .key = (name), .type = (ty), __VA_ARGS__ }
/* The [log] section every role has: --log SPEC, --log-json. */
#define PN_OPTS_LOG \
	PN_OPT("log", "SPEC", "log", "level", PN_CFG_STR, .min = 1, .max = 511, .def = "info", \
	       .flags = PN_OPT_RELOAD, .help = "log levels: a default and per-module levels,\n" \
	       "e.g. info or info,relay=debug (error|warn|info|debug|trace)"), \
	PN_OPT("log-json", NULL, "log", "format", PN_CFG_ENUM, .value = "json", \
	       .choices = "text|json", .def = "text", .flags = PN_OPT_RELOAD, \
	       .help = "JSON log lines (file: format = text|json)")
/* --metrics-listen ADDR:PORT: the role's Prometheus listener (off by default). */
#define PN_OPT_METRICS(sec) \
	PN_OPT("metrics-listen", "ADDR:PORT", sec, "metrics_listen", PN_CFG_STR, .min = 1, \
	       .max = 80, .help = "serve Prometheus metrics on http://ADDR:PORT/metrics\n" \
	       "(e.g. 127.0.0.1:9464; default: none = off)")
/* clang-format on */
#define PN_STR_(x) #x
#define PN_STR(x)  PN_STR_(x)

struct pn_opts_flag {
	const struct pn_opt *opt;
	const char *arg;
};

struct pn_opts {
	const char *cmd; /* "postern relay run", for messages */
	const struct pn_opt *tab;
	size_t n;
	struct pn_cfg_key *schema; /* built from tab, outlives every cfg */
	size_t nschema;
	const char *path;	    /* --config FILE, or NULL */
	int check;		    /* --check-config */
	struct pn_opts_flag *flags; /* in command-line order, applied again on reload */
	size_t nflags;
	struct pn_cfg *cfg; /* the configuration started with (the daemon points into it) */
	struct pn_cfg *cur; /* the last one loaded: cfg until a reload */
};

#define PN_OPTS_HELP 1 /* pn_opts_parse: --help was given */

/*
 * Parse argv (argv[0] is the subcommand, getopt style), load --config FILE
 * and apply the flags over it, then the [log] section.  0: o->cfg holds the
 * result; PN_OPTS_HELP; PN_E_CONFIG with one message in err ("FILE:LINE:
 * key 'sec.key': ...", "--flag: key 'sec.key': ...", or a usage message);
 * -ENOMEM.  pn_opts_fini in every case.
 */
int pn_opts_parse(struct pn_opts *o, const char *cmd, const struct pn_opt *tab, size_t n, int argc,
		  char **argv, char *err, size_t errsz);
void pn_opts_fini(struct pn_opts *o);

/* A required key: 0 if it has a value, else PN_E_CONFIG and "FILE: key
 * 'sec.key': required but not set (add it under [sec] or give --flag)". */
int pn_opts_require(const struct pn_opts *o, const char *section, const char *key, char *err,
		    size_t errsz);

/* The options for --help (the built-in --config and --check-config first,
 * --help last), each with its configuration key, default and SIGHUP
 * marker; options start in column `indent`, their help 24 columns on. */
void pn_opts_help(FILE *f, const struct pn_opt *tab, size_t n, int indent);

/* A metrics_listen value (sec.metrics_listen) must be a numeric
 * ADDR:PORT: 0 or PN_E_CONFIG with err. */
int pn_opts_check_metrics(const struct pn_opts *o, const char *section, char *err, size_t errsz);

/* --check-config: the effective configuration in file syntax, every key
 * (unset ones as "# key ="). */
void pn_opts_print(FILE *f, const struct pn_opts *o);

/*
 * SIGHUP: load the file again and apply the flags again.  On an error the
 * running configuration stays and err says why.  Else the [log] section is
 * applied, then apply(new, arg) for the role's other PN_OPT_RELOAD keys
 * (its error, if any, is returned and the new configuration dropped), and
 * the outcome is logged: one "config reload_applied key=..." line per
 * changed reloadable key, one "config reload_ignored key=... reason=..."
 * warning per key that differs from the running configuration but needs a
 * restart, and a summary line.
 */
int pn_opts_reload(struct pn_opts *o, int (*apply)(const struct pn_cfg *cfg, void *arg), void *arg,
		   char *err, size_t errsz);
#endif
