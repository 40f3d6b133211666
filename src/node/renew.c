/* The renewal schedule.  See renew.h. */
#include "node/renew.h"

#include <string.h>

void pn_renew_init(struct pn_renew *r, const struct pn_renew_policy *pol, uint64_t issued_s,
		   uint64_t not_after_s)
{
	memset(r, 0, sizeof(*r));
	if (pol)
		r->pol = *pol;
	if (!r->pol.retry_min_ms)
		r->pol.retry_min_ms = PN_RENEW_RETRY_MIN_MS;
	pn_renew_adopted(r, issued_s, not_after_s);
}

void pn_renew_adopted(struct pn_renew *r, uint64_t issued_s, uint64_t not_after_s)
{
	if (not_after_s > issued_s) {
		r->issued_s = issued_s;
		r->not_after_s = not_after_s;
	} else {
		r->issued_s = r->not_after_s = 0;
	}
	r->failures = 0;
}

void pn_renew_failed(struct pn_renew *r)
{
	if (r->failures < 64)
		r->failures++;
}

uint64_t pn_renew_backoff_ms(const struct pn_renew *r, unsigned failures)
{
	uint64_t cap = PN_RENEW_RETRY_MAX_MS, ms = r->pol.retry_min_ms;

	if (r->not_after_s) {
		cap = (r->not_after_s - r->issued_s) * 1000 / 10;
		if (cap < PN_RENEW_RETRY_MIN_MS)
			cap = PN_RENEW_RETRY_MIN_MS;
		if (cap > PN_RENEW_RETRY_MAX_MS)
			cap = PN_RENEW_RETRY_MAX_MS;
	}
	if (cap < ms)
		cap = ms;
	for (unsigned i = 1; i < failures && ms < cap; i++)
		ms *= 2;
	return ms < cap ? ms : cap;
}

uint64_t pn_renew_delay_ms(struct pn_renew *r, uint64_t now_ms)
{
	uint64_t at_ms, ms;

	if (r->failures)
		return pn_renew_backoff_ms(r, r->failures);
	if (!r->first_done && r->pol.first_ms) {
		r->first_done = 1;
		return r->pol.first_ms;
	}
	r->first_done = 1;
	if (!r->not_after_s)
		return 0;
	at_ms = (r->issued_s + (r->not_after_s - r->issued_s) * 2 / 3) * 1000;
	ms = at_ms > now_ms ? at_ms - now_ms : 0;
	if (r->pol.cap_ms && ms > r->pol.cap_ms)
		ms = r->pol.cap_ms;
	return ms;
}
