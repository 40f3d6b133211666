#ifndef PN_CORE_METRICS_H
#define PN_CORE_METRICS_H
/*
 * A metrics registry and its Prometheus text exposition (format 0.0.4),
 * sans-I/O.  A daemon builds one per scrape on its own thread: it declares
 * its families, fills them from the counters it already keeps (status and
 * stats structures, atomics), renders, and frees.  Nothing here keeps
 * values between scrapes, locks, or does I/O.
 *
 *   # HELP postern_relay_sessions Relay sessions open now.
 *   # TYPE postern_relay_sessions gauge
 *   postern_relay_sessions 3
 *   # HELP postern_relay_drops_total Datagrams dropped, by reason.
 *   # TYPE postern_relay_drops_total counter
 *   postern_relay_drops_total{reason="malformed"} 0
 *
 * Deterministic: families are rendered sorted by name, series sorted by
 * their label values (label by label), whatever order they were filled in.
 * Bounded: at most PN_METRICS_FAMILIES_MAX families, each with at most
 * PN_METRICS_LABELS_MAX label names and the max_series it declared
 * (<= PN_METRICS_SERIES_MAX); a series past that is refused (and counted
 * in pn_metrics_refused), so a label fed from outside can never make the
 * output grow without bound.  Label values are escaped (\\, \", \n) and at
 * most PN_METRICS_VALUE_MAX bytes; HELP text is escaped (\\, \n).
 */
#include <stddef.h>
#include <stdint.h>

#define PN_METRICS_FAMILIES_MAX 256
#define PN_METRICS_LABELS_MAX	4
#define PN_METRICS_SERIES_MAX	1024
#define PN_METRICS_NAME_MAX	127
#define PN_METRICS_VALUE_MAX	128
#define PN_METRICS_TEXT_MAX	(4u << 20)
#define PN_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum pn_metric_type {
	PN_METRIC_COUNTER = 1,
	PN_METRIC_GAUGE = 2,
};

struct pn_metrics;

/* 0 and *out, or -ENOMEM. */
int pn_metrics_new(struct pn_metrics **out);
/* NULL-safe. */
void pn_metrics_free(struct pn_metrics *m);

/*
 * Declare a family.  name: [a-zA-Z_:][a-zA-Z0-9_:]*, at most
 * PN_METRICS_NAME_MAX bytes, not declared before; help: one line of text
 * (escaped on output).  labels: NULL or "" for none, else comma-separated
 * label names ([a-zA-Z_][a-zA-Z0-9_]*, not starting "__", distinct, at most
 * PN_METRICS_LABELS_MAX).  max_series: how many distinct label value sets
 * the family may hold (1..PN_METRICS_SERIES_MAX; ignored without labels).
 * A family without labels starts with its one series at 0, so it is always
 * exposed.  name is copied; help is borrowed until pn_metrics_free.
 * 0, PN_E_INVAL (a bad or duplicate name, bad labels or max_series),
 * PN_E_TOOBIG (PN_METRICS_FAMILIES_MAX reached), -ENOMEM.
 */
int pn_metrics_family(struct pn_metrics *m, const char *name, enum pn_metric_type type,
		      const char *help, const char *labels, unsigned max_series);

/* Several families from a table (stops at the first error). */
struct pn_metric_def {
	const char *name;
	enum pn_metric_type type;
	const char *labels; /* NULL: none */
	unsigned max_series;
	const char *help;
};
int pn_metrics_declare(struct pn_metrics *m, const struct pn_metric_def *defs, size_t n);

/*
 * Set (pn_metrics_set) or add to (pn_metrics_add; a new series starts at
 * 0) the series of family `name` with these label values, one per label
 * name in the declared order (NULL for a family without labels).  Values
 * are copied.  0, PN_E_INVAL (no such family, a NULL value or a counter set
 * below zero), PN_E_TOOBIG (a value longer than PN_METRICS_VALUE_MAX, or a
 * new series past max_series: counted in pn_metrics_refused), -ENOMEM.
 */
int pn_metrics_set(struct pn_metrics *m, const char *name, const char *const *values, double v);
int pn_metrics_add(struct pn_metrics *m, const char *name, const char *const *values, double v);
/* One label: shorthands for the above with values = {value}. */
int pn_metrics_set1(struct pn_metrics *m, const char *name, const char *value, double v);
int pn_metrics_add1(struct pn_metrics *m, const char *name, const char *value, double v);

/* Series refused so far (past a family's max_series or a value too long). */
uint64_t pn_metrics_refused(const struct pn_metrics *m);

/*
 * Counts by reason for a labelled counter, kept by a daemon between
 * scrapes (on its loop thread): the first PN_METRICS_REASONS_MAX distinct
 * reasons get a slot each, later new ones are counted as "other", so the
 * label set stays bounded whatever the reasons are.  Zero-initialise.
 */
#define PN_METRICS_REASONS_MAX 16
#define PN_METRICS_REASON_LEN  40
struct pn_metrics_reasons {
	char name[PN_METRICS_REASONS_MAX][PN_METRICS_REASON_LEN];
	uint64_t n[PN_METRICS_REASONS_MAX];
	unsigned used;
	uint64_t other;
};
/* Count one (reason truncated to PN_METRICS_REASON_LEN - 1 bytes; NULL or
 * "" counts as "unknown"). */
void pn_metrics_reason_count(struct pn_metrics_reasons *r, const char *reason);
/* Set family `name` (one label) from r: one series per reason. */
int pn_metrics_set_reasons(struct pn_metrics *m, const char *name,
			   const struct pn_metrics_reasons *r);

/*
 * The exposition text (sorts the series in place): *out (heap,
 * NUL-terminated, *len bytes without the NUL; free()).  0, PN_E_TOOBIG (longer than PN_METRICS_TEXT_MAX), -ENOMEM.
 */
int pn_metrics_render(struct pn_metrics *m, char **out, size_t *len);
#endif
