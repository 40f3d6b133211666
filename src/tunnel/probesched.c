/* Probe pacing; see probesched.h. */
#include <string.h>

#include "tunnel/probesched.h"

#define MS 1000000ull

void pn_probesched_start(struct pn_probesched *s, size_t n, uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->n = n > PN_P2P_MAX_CANDS ? PN_P2P_MAX_CANDS : n;
	s->active = s->n > 0;
	s->stop_at = now + PN_P2P_PROBE_WINDOW_MS * MS;
	for (size_t i = 0; i < s->n; i++)
		s->next[i] = now;
}

int pn_probesched_next(struct pn_probesched *s, uint64_t now)
{
	if (!s->active)
		return -1;
	if (now >= s->stop_at) {
		s->active = 0;
		return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->next[i] <= now) {
			s->next[i] = now + PN_P2P_PROBE_GAP_MS * MS;
			s->sent[i]++;
			return (int)i;
		}
	return -1;
}

uint64_t pn_probesched_expiry(const struct pn_probesched *s)
{
	uint64_t t = UINT64_MAX;

	if (!s->active)
		return t;
	for (size_t i = 0; i < s->n; i++)
		if (s->next[i] < t)
			t = s->next[i];
	return t < s->stop_at ? t : s->stop_at;
}

void pn_probesched_stop(struct pn_probesched *s)
{
	s->active = 0;
}
