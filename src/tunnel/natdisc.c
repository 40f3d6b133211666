/* Server-reflexive discovery and NAT classification; see natdisc.h. */
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/cand.h"
#include "tunnel/natdisc.h"

#define MS 1000000ull

static const unsigned backoff_ms[PN_NATDISC_TRIES] = {250, 500, 1000, 1000};

int pn_natdisc_start(struct pn_natdisc *d, const struct sockaddr_storage *servers, size_t n,
		     uint64_t now)
{
	memset(d, 0, sizeof(*d));
	d->n = n > PN_NATDISC_MAX_SERVERS ? PN_NATDISC_MAX_SERVERS : n;
	for (size_t i = 0; i < d->n; i++) {
		d->s[i].addr = servers[i];
		d->s[i].next = now;
		if (pn_random(d->s[i].txid, PN_STUN_TXID_LEN) != 0)
			return PN_E_CRYPTO;
	}
	d->running = d->n > 0;
	d->deadline = now + PN_NATDISC_TIMEOUT_MS * MS;
	return 0;
}

static void finish_if_done(struct pn_natdisc *d, uint64_t now)
{
	size_t answered = 0;

	for (size_t i = 0; i < d->n; i++)
		answered += !!d->s[i].answered;
	if (answered == d->n || now >= d->deadline)
		d->running = 0;
}

int pn_natdisc_next(struct pn_natdisc *d, uint64_t now, struct sockaddr_storage *to,
		    uint8_t out[PN_STUN_REQUEST_LEN])
{
	finish_if_done(d, now);
	if (!d->running)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		struct pn_natdisc_srv *s = &d->s[i];
		if (s->answered || s->tries >= PN_NATDISC_TRIES || s->next > now)
			continue;
		s->next = now + backoff_ms[s->tries] * MS;
		s->tries++;
		*to = s->addr;
		pn_stun_build_request(s->txid, out);
		return 1;
	}
	return 0;
}

uint64_t pn_natdisc_expiry(const struct pn_natdisc *d)
{
	uint64_t t = UINT64_MAX;

	if (!d->running)
		return t;
	for (size_t i = 0; i < d->n; i++)
		if (!d->s[i].answered && d->s[i].tries < PN_NATDISC_TRIES && d->s[i].next < t)
			t = d->s[i].next;
	return t < d->deadline ? t : d->deadline;
}

int pn_natdisc_input(struct pn_natdisc *d, const struct sockaddr *from, const uint8_t *p,
		     size_t n, uint64_t now)
{
	for (size_t i = 0; i < d->n; i++) {
		struct pn_natdisc_srv *s = &d->s[i];
		struct sockaddr_storage m;

		/* only from the server we asked, with our transaction id */
		if (!pn_sa_equal((const struct sockaddr *)&s->addr, from))
			continue;
		if (pn_stun_parse_response(p, n, s->txid, &m) != 0)
			continue;
		if (!s->answered) {
			s->answered = 1;
			s->mapped = m;
		}
		finish_if_done(d, now);
		return 1;
	}
	return 0;
}

int pn_natdisc_done(const struct pn_natdisc *d)
{
	return !d->running;
}

int pn_natdisc_result(const struct pn_natdisc *d, const struct pn_cand *local, size_t nlocal,
		      struct sockaddr_storage *mapped, size_t max, size_t *nmapped)
{
	struct pn_cand seen[PN_NATDISC_MAX_SERVERS];
	size_t nseen = 0, answers = 0;
	int own = 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct sockaddr *m = (const struct sockaddr *)&d->s[i].mapped;
		if (!d->s[i].answered)
			continue;
		answers++;
		pn_cand_add(seen, &nseen, PN_NATDISC_MAX_SERVERS, PN_CAND_SRFLX, m);
		for (size_t k = 0; k < nlocal; k++)
			if (pn_sa_equal(m, (const struct sockaddr *)&local[k].addr))
				own = 1;
	}
	*nmapped = 0;
	for (size_t i = 0; i < nseen && *nmapped < max; i++)
		mapped[(*nmapped)++] = seen[i].addr;
	if (answers == 0)
		return d->running || d->n == 0 ? PN_NAT_UNKNOWN : PN_NAT_BLOCKED;
	if (own && nseen == 1)
		return PN_NAT_NONE;
	if (answers < 2)
		return PN_NAT_UNKNOWN;
	return nseen == 1 ? PN_NAT_EIM : PN_NAT_EDM;
}
