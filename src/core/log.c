#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

#define LOG_MAX_MODULES 32
#define LOG_MODULE_NAME 24
#define LOG_LINE	2048

/*
 * Logging configuration is process-wide state by nature (like syslog);
 * it is set once at startup and read under a lock.
 */
static struct {
	pthread_mutex_t lock;
	int level, format, fd, nmod;
	int journal; /* -1: not yet checked; 0/1: fd is (not) the journal */
	struct {
		char name[LOG_MODULE_NAME];
		int level;
	} mod[LOG_MAX_MODULES];
} g_log = {PTHREAD_MUTEX_INITIALIZER, PN_LOG_INFO, PN_LOG_TEXT, 2, 0, -1, {{"", 0}}};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
/* syslog(3) priorities for the journal's "<N>" prefix: err, warning, info, debug, debug. */
static const int level_prio[] = {3, 4, 6, 7, 7};

int pn_log_fd_is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	/* systemd sets JOURNAL_STREAM="<device>:<inode>" of the stream it connected. */
	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(fd, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pn_log_setup(enum pn_log_level level, enum pn_log_format fmt, int fd)
{
	int journal = pn_log_fd_is_journal(fd);
	pthread_mutex_lock(&g_log.lock);
	g_log.level = level;
	g_log.format = fmt;
	g_log.fd = fd;
	g_log.journal = journal;
	pthread_mutex_unlock(&g_log.lock);
}

void pn_log_set_format(enum pn_log_format fmt)
{
	pthread_mutex_lock(&g_log.lock);
	g_log.format = fmt;
	pthread_mutex_unlock(&g_log.lock);
}

int pn_log_configure(const struct pn_cfg *cfg, char *err, size_t errsz)
{
	const char *spec = pn_cfg_str(cfg, "log", "level");
	int fmt = pn_cfg_enum_index(cfg, "log", "format");

	if (!spec || fmt < 0)
		return pn_cfg_errorf(cfg, "log", "level", err, errsz,
				     "schema lacks PN_LOG_CFG_KEYS");
	if (pn_log_set_spec(spec) != 0)
		return pn_cfg_errorf(cfg, "log", "level", err, errsz,
				     "expected levels like \"info,relay=debug\" "
				     "(error|warn|info|debug|trace), got \"%.64s\"",
				     spec);
	pn_log_set_format(fmt == 1 ? PN_LOG_JSON : PN_LOG_TEXT);
	return 0;
}

int pn_log_format_parse(const char *s)
{
	if (!strcasecmp(s, "text"))
		return PN_LOG_TEXT;
	if (!strcasecmp(s, "json"))
		return PN_LOG_JSON;
	return -1;
}

int pn_log_level_parse(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (!strcasecmp(s, level_names[i]))
			return i;
	if (!strcasecmp(s, "warning"))
		return PN_LOG_WARN;
	return -1;
}

int pn_log_set_spec(const char *spec)
{
	char tmp[512], *save = NULL, *tok;
	int def = -1, n = 0, lv;
	struct {
		char name[LOG_MODULE_NAME];
		int level;
	} mods[LOG_MAX_MODULES];

	if (strlen(spec) >= sizeof(tmp))
		return PN_E_CONFIG;
	strcpy(tmp, spec);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			if ((def = pn_log_level_parse(tok)) < 0)
				return PN_E_CONFIG;
			continue;
		}
		*eq = '\0';
		if ((lv = pn_log_level_parse(eq + 1)) < 0 || !*tok ||
		    strlen(tok) >= LOG_MODULE_NAME || n == LOG_MAX_MODULES)
			return PN_E_CONFIG;
		strcpy(mods[n].name, tok);
		mods[n++].level = lv;
	}
	pthread_mutex_lock(&g_log.lock);
	if (def >= 0)
		g_log.level = def;
	memcpy(g_log.mod, mods, sizeof(mods[0]) * (size_t)n);
	g_log.nmod = n;
	pthread_mutex_unlock(&g_log.lock);
	return 0;
}

int pn_log_enabled(enum pn_log_level level, const char *module)
{
	int lv;
	pthread_mutex_lock(&g_log.lock);
	lv = g_log.level;
	for (int i = 0; i < g_log.nmod; i++)
		if (!strcmp(g_log.mod[i].name, module)) {
			lv = g_log.mod[i].level;
			break;
		}
	pthread_mutex_unlock(&g_log.lock);
	return (int)level <= lv;
}

/*
 * Append a JSON string body (no quotes) for s[0..n), escaping as needed.
 * Stops early rather than overflow, always leaving 2 bytes of `cap` free so
 * the caller can close the string.
 */
static size_t json_escape(char *out, size_t off, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && off + 9 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[off++] = '\\';
			out[off++] = (char)c;
		} else if (c < 0x20) {
			off += (size_t)snprintf(out + off, cap - off, "\\u%04x", c);
		} else {
			out[off++] = (char)c;
		}
	}
	return off;
}

/* Turn "k=v k2=\"a b\"" into ,"k":"v","k2":"a b"; fields without '=' go to "msg". */
static size_t json_fields(char *out, size_t off, size_t cap, const char *s)
{
	while (*s && off + 16 < cap) {
		const char *k, *v;
		size_t kl, vl;
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		k = s;
		while (*s && *s != '=' && *s != ' ')
			s++;
		kl = (size_t)(s - k);
		if (*s != '=') {
			off += (size_t)snprintf(out + off, cap - off, ",\"msg\":\"");
			off = json_escape(out, off, cap, k, kl);
			out[off++] = '"'; /* json_escape left room */
			continue;
		}
		s++;
		if (*s == '"') {
			v = ++s;
			while (*s && *s != '"')
				s++;
			vl = (size_t)(s - v);
			if (*s)
				s++;
		} else {
			v = s;
			while (*s && *s != ' ')
				s++;
			vl = (size_t)(s - v);
		}
		/* Room for the whole key escaped (<= 6 bytes per byte) plus ,"":"": else stop. */
		if (off + 6 * kl + 16 >= cap)
			break;
		out[off++] = ',';
		out[off++] = '"';
		off = json_escape(out, off, cap, k, kl);
		out[off++] = '"';
		out[off++] = ':';
		out[off++] = '"';
		off = json_escape(out, off, cap, v, vl);
		out[off++] = '"'; /* json_escape left room */
	}
	return off;
}

/* Text format: copy s, escaping control bytes so a value cannot forge a line. */
static size_t text_escape(char *out, size_t off, size_t cap, const char *s)
{
	for (; *s && off + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n') {
			out[off++] = '\\';
			out[off++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			off += (size_t)snprintf(out + off, cap - off, "\\x%02x", c);
		} else {
			out[off++] = (char)c;
		}
	}
	return off;
}

void pn_log_vwrite(enum pn_log_level level, const char *module, const char *event, const char *fmt,
		   va_list ap)
{
	char fields[LOG_LINE], line[LOG_LINE * 2], ts[80];
	const size_t cap = sizeof(line) - 2; /* room for '}' and '\n' */
	struct timespec now;
	struct tm tm;
	size_t off = 0;
	int fd, format, journal;
	ssize_t wr;

	if ((int)level < PN_LOG_ERROR)
		level = PN_LOG_ERROR;
	if ((int)level > PN_LOG_TRACE)
		level = PN_LOG_TRACE;
	vsnprintf(fields, sizeof(fields), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	pthread_mutex_lock(&g_log.lock);
	if (g_log.journal < 0) /* first record without pn_log_setup: check stderr once */
		g_log.journal = pn_log_fd_is_journal(g_log.fd);
	fd = g_log.fd;
	format = g_log.format;
	journal = g_log.journal;
	pthread_mutex_unlock(&g_log.lock);

	/* The journal reads "<N>" as the record's priority and stamps its own time. */
	if (journal)
		off = (size_t)snprintf(line, cap, "<%d>", level_prio[level]);
	if (format == PN_LOG_JSON) {
		off += (size_t)snprintf(line + off, cap - off,
					"{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"", ts,
					level_names[level]);
		off = json_escape(line, off, cap, module, strlen(module));
		off += (size_t)snprintf(line + off, cap - off, "\",\"event\":\"");
		off = json_escape(line, off, cap, event, strlen(event));
		line[off++] = '"';
		off = json_fields(line, off, cap, fields);
		line[off++] = '}';
	} else {
		if (journal)
			off += (size_t)snprintf(line + off, cap - off, "%s %s %s ",
						level_names[level], module, event);
		else
			off += (size_t)snprintf(line + off, cap - off, "%s %s %s %s ", ts,
						level_names[level], module, event);
		if (off > cap - 8)
			off = cap - 8;
		off = text_escape(line, off, cap, fields);
		while (off > 0 && line[off - 1] == ' ')
			off--;
	}
	line[off++] = '\n';
	wr = write(fd, line, off);
	(void)wr; /* nowhere to report a failed log write */
}

void pn_log_write(enum pn_log_level level, const char *module, const char *event, const char *fmt,
		  ...)
{
	va_list ap;
	va_start(ap, fmt);
	pn_log_vwrite(level, module, event, fmt, ap);
	va_end(ap);
}
