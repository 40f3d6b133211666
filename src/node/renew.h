#ifndef PN_NODE_RENEW_H
#define PN_NODE_RENEW_H
/*
 * The one renewal policy of every role (sans-I/O: times in, delays out).
 *
 * Schedule: renew once two thirds of the credential's lifetime (counted
 * from its issuance, not its backdated start) have passed, leaving a
 * third to retry in.  After a failure: retry after 1 s, then doubling, up
 * to a tenth of the lifetime clamped to 1..30 s.  A success (a newer
 * credential adopted) starts over from the new credential.  Without a
 * known lifetime (the credential did not verify, e.g. expired) the first
 * attempt is at once and retries back off up to 30 s.
 */
#include <stdint.h>

#define PN_RENEW_RETRY_MIN_MS 1000u
#define PN_RENEW_RETRY_MAX_MS 30000u

struct pn_renew_policy {
	uint64_t first_ms;     /* > 0: the first attempt this long after start */
	uint64_t cap_ms;       /* > 0: no planned wait longer than this */
	uint32_t retry_min_ms; /* 0: PN_RENEW_RETRY_MIN_MS (tests shorten it) */
};

struct pn_renew {
	struct pn_renew_policy pol;
	uint64_t issued_s, not_after_s; /* 0, 0: unknown */
	unsigned failures;
	int first_done;
};

void pn_renew_init(struct pn_renew *r, const struct pn_renew_policy *pol, uint64_t issued_s,
		   uint64_t not_after_s);
/* A newer credential was adopted: plan from it, failures forgotten. */
void pn_renew_adopted(struct pn_renew *r, uint64_t issued_s, uint64_t not_after_s);
/* An attempt failed (controller, or nothing adoptable came back). */
void pn_renew_failed(struct pn_renew *r);
/* How long to wait (ms) before the next attempt, at wall time now_ms. */
uint64_t pn_renew_delay_ms(struct pn_renew *r, uint64_t now_ms);
/* The retry wait after `failures` failures (>= 1). */
uint64_t pn_renew_backoff_ms(const struct pn_renew *r, unsigned failures);
#endif
