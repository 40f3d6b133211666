#ifndef PN_CORE_LOG_H
#define PN_CORE_LOG_H
/*
 * Leveled, structured logging.  A record is (level, module, event, fields):
 *
 *   PN_LOG_INFO("relay", "session_open", "sid=%016llx client=%s", sid, id);
 *
 * prints, in text format,
 *   2026-11-22T03:40:00.123Z INFO relay session_open sid=... client=...
 * and in JSON format one object per line with "ts", "level", "module",
 * "event" and one member per key=value field (values quoted by the
 * formatter; a value with spaces must be written as key="a b").
 *
 * Never log per packet.  Protocol cores return codes and do not log.
 * Thread-safe: one write(2) per record.  Records are cut at ~2 KiB; text
 * output escapes control bytes in fields (\n, \xNN) so no value can forge a
 * log line, JSON output is always one valid object per line.
 *
 * journald: when the output fd is the stream systemd connected to the
 * journal (JOURNAL_STREAM="<dev>:<ino>" matches fstat(fd)), each record is
 * prefixed with the syslog priority "<N>" (ERROR=3, WARN=4, INFO=6,
 * DEBUG/TRACE=7) and the text format drops its own timestamp.
 */
#include <stdarg.h>
#include <stddef.h>

#include "core/config.h"

enum pn_log_level {
	PN_LOG_ERROR = 0,
	PN_LOG_WARN = 1,
	PN_LOG_INFO = 2,
	PN_LOG_DEBUG = 3,
	PN_LOG_TRACE = 4,
};

enum pn_log_format { PN_LOG_TEXT = 0, PN_LOG_JSON = 1 };

/*
 * Global default level, output format and fd (default: INFO, text, 2).
 * Also decides whether fd is the journal (see above).
 */
void pn_log_setup(enum pn_log_level level, enum pn_log_format fmt, int fd);
/* Change only the output format (keeps levels and fd), e.g. for --log-json. */
void pn_log_set_format(enum pn_log_format fmt);
/* 1 if fd is the journal stream named by $JOURNAL_STREAM, else 0. */
int pn_log_fd_is_journal(int fd);
/* Parse "text|json"; returns the format or -1. */
int pn_log_format_parse(const char *s);
/*
 * Per-module overrides from a spec such as "info,relay=debug,tunnel=trace"
 * (the first bare level sets the default).  Returns 0 or PN_E_CONFIG.
 */
int pn_log_set_spec(const char *spec);
/* Parse "error|warn|info|debug|trace"; returns the level or -1. */
int pn_log_level_parse(const char *s);
/* Would a record at this level for this module be written? */
int pn_log_enabled(enum pn_log_level level, const char *module);

/*
 * A [log] section for a role's config schema:
 *   [log]
 *   level  = "info,relay=debug"   # a spec as for pn_log_set_spec
 *   format = json                 # text | json
 * List PN_LOG_CFG_KEYS in the schema, then call pn_log_configure() after
 * loading: 0, or PN_E_CONFIG with "<file>:<line>: key 'log.level': ..." in err.
 * Command-line flags applied afterwards override it.
 */
#define PN_LOG_CFG_KEYS                                                                            \
	PN_CFG_KEY("log", "level", PN_CFG_STR, .min = 1, .max = 511, .def = "info"),               \
	    PN_CFG_KEY("log", "format", PN_CFG_ENUM, .choices = "text|json", .def = "text")
int pn_log_configure(const struct pn_cfg *cfg, char *err, size_t errsz);

void pn_log_write(enum pn_log_level level, const char *module, const char *event, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
void pn_log_vwrite(enum pn_log_level level, const char *module, const char *event, const char *fmt,
		   va_list ap) __attribute__((format(printf, 4, 0)));

#define PN_LOG_(lvl, mod, ev, ...)                                                                 \
	do {                                                                                       \
		if (pn_log_enabled(lvl, mod))                                                      \
			pn_log_write(lvl, mod, ev, __VA_ARGS__);                                   \
	} while (0)
#define PN_LOG_ERROR(mod, ev, ...) PN_LOG_(PN_LOG_ERROR, mod, ev, __VA_ARGS__)
#define PN_LOG_WARN(mod, ev, ...)  PN_LOG_(PN_LOG_WARN, mod, ev, __VA_ARGS__)
#define PN_LOG_INFO(mod, ev, ...)  PN_LOG_(PN_LOG_INFO, mod, ev, __VA_ARGS__)
#define PN_LOG_DEBUG(mod, ev, ...) PN_LOG_(PN_LOG_DEBUG, mod, ev, __VA_ARGS__)
#define PN_LOG_TRACE(mod, ev, ...) PN_LOG_(PN_LOG_TRACE, mod, ev, __VA_ARGS__)
#endif
