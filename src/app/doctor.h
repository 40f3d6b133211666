#ifndef PN_APP_DOCTOR_H
#define PN_APP_DOCTOR_H
/*
 * `postern doctor`: the report and the rules that turn measurements into
 * ok / warn / fail (no I/O here: tests/app/test_doctor.c drives it).  The
 * probes are in doctor_net.c, the command in cmd_doctor.c.
 *
 * Thresholds (docs/operations.md, "Troubleshooting with postern doctor"):
 *   clock skew against the controller  warn above 30 s, fail above 5 min
 *   credential                        fail when expired; warn when less
 *                                     than a day and less than a quarter
 *                                     of its lifetime is left (renewal,
 *                                     due at two thirds, is overdue)
 *   path MTU (largest answered UDP     fail when no probe of at least
 *   probe)                            1200 bytes came back, warn below 1280
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pn_doc_status {
	PN_DOC_OK = 0,
	PN_DOC_WARN = 1,
	PN_DOC_FAIL = 2,
	PN_DOC_SKIP = 3, /* not applicable or not measurable here */
};

#define PN_DOC_MAX_CHECKS 64
#define PN_DOC_SKEW_WARN_MS  30000
#define PN_DOC_SKEW_FAIL_MS  300000
#define PN_DOC_EXPIRY_WARN_S 86400
#define PN_DOC_MTU_MIN	     1200 /* QUIC's minimum UDP payload */
#define PN_DOC_MTU_OK	     1280

/* The UDP payload sizes probed for the path MTU, largest first: a
 * 1500-byte IPv4 link carries 1472, IPv6 1452, PPPoE 1452/1432 ... */
#define PN_DOC_MTU_SIZES {1472, 1452, 1400, 1280, 1200}
#define PN_DOC_MTU_NSIZES 5

struct pn_doc_check {
	char name[64];
	enum pn_doc_status st;
	char value[200];
	char advice[600]; /* what to do; "" when all is well */
};

struct pn_doc_report {
	char role[16];
	size_t n;
	struct pn_doc_check c[PN_DOC_MAX_CHECKS];
};

/* A new check named `name` (status ok, no value): NULL when the report is
 * full (the caller's checks are bounded well below). */
struct pn_doc_check *pn_doc_add(struct pn_doc_report *r, const char *name);
void pn_doc_set(struct pn_doc_check *c, enum pn_doc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pn_doc_advise(struct pn_doc_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *pn_doc_status_name(enum pn_doc_status st); /* "ok", "warn", "fail", "skip" */

/* Rules. */
enum pn_doc_status pn_doc_skew_status(int64_t skew_ms);
/* not_before/not_after/now in unix seconds. */
enum pn_doc_status pn_doc_expiry_status(int64_t now, int64_t not_before, int64_t not_after);
/*
 * The path MTU from the probes: sizes[i] answered[i] (n of them).
 * *largest = the largest answered size (0 if none).  Status: fail if none
 * of at least PN_DOC_MTU_MIN came back, warn below PN_DOC_MTU_OK.
 */
enum pn_doc_status pn_doc_mtu_status(const unsigned *sizes, const int *answered, size_t n,
				     unsigned *largest);
/* A duration for people: "42 s", "12 min", "5 h 3 min", "3 d 4 h". */
void pn_doc_duration(int64_t s, char *out, size_t outsz);

/* Output: the table for people, or the same as one JSON document. */
void pn_doc_print_table(const struct pn_doc_report *r, FILE *f);
int pn_doc_print_json(const struct pn_doc_report *r, FILE *f);
/* 0 when no check failed, else 1 (the command's exit status). */
int pn_doc_exit_code(const struct pn_doc_report *r);
#endif
