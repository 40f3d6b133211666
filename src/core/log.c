#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

#define LOG_MAX_MODULES 32
#define LOG_MODULE_NAME 24
#define LOG_LINE 2048

/*
 * Logging configuration is process-wide state by nature (like syslog);
 * it is set once at startup and read under a lock.
 */
static struct {
	pthread_mutex_t lock;
	int level, format, fd, nmod;
	struct {
		char name[LOG_MODULE_NAME];
		int level;
	} mod[LOG_MAX_MODULES];
} g_log = {PTHREAD_MUTEX_INITIALIZER, PN_LOG_INFO, PN_LOG_TEXT, 2, 0, {{"", 0}}};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void pn_log_setup(enum pn_log_level level, enum pn_log_format fmt, int fd)
{
	pthread_mutex_lock(&g_log.lock);
	g_log.level = level;
	g_log.format = fmt;
	g_log.fd = fd;
	pthread_mutex_unlock(&g_log.lock);
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

/* Append a JSON string body (no quotes) for s[0..n), escaping as needed. */
static size_t json_escape(char *out, size_t off, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && off + 7 < cap; i++) {
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
			if (off + 2 < cap)
				out[off++] = '"';
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
		if (off + 4 >= cap)
			break;
		out[off++] = ',';
		out[off++] = '"';
		off = json_escape(out, off, cap, k, kl);
		if (off + 4 >= cap)
			break;
		out[off++] = '"';
		out[off++] = ':';
		out[off++] = '"';
		off = json_escape(out, off, cap, v, vl);
		if (off + 2 < cap)
			out[off++] = '"';
	}
	return off;
}

void pn_log_vwrite(enum pn_log_level level, const char *module, const char *event,
		   const char *fmt, va_list ap)
{
	char fields[LOG_LINE], line[LOG_LINE * 2], ts[80];
	struct timespec now;
	struct tm tm;
	size_t off;
	int fd, format;
	ssize_t wr;

	vsnprintf(fields, sizeof(fields), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	pthread_mutex_lock(&g_log.lock);
	fd = g_log.fd;
	format = g_log.format;
	pthread_mutex_unlock(&g_log.lock);

	if (format == PN_LOG_JSON) {
		off = (size_t)snprintf(line, sizeof(line),
				       "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"event\":\"%s\"",
				       ts, level_names[level], module, event);
		if (off >= sizeof(line))
			off = sizeof(line) - 3;
		off = json_fields(line, off, sizeof(line) - 3, fields);
		line[off++] = '}';
	} else {
		off = (size_t)snprintf(line, sizeof(line) - 2, "%s %s %s %s %s", ts,
				       level_names[level], module, event, fields);
		if (off > sizeof(line) - 3)
			off = sizeof(line) - 3;
	}
	line[off++] = '\n';
	wr = write(fd, line, off);
	(void)wr; /* nowhere to report a failed log write */
}

void pn_log_write(enum pn_log_level level, const char *module, const char *event,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pn_log_vwrite(level, module, event, fmt, ap);
	va_end(ap);
}
