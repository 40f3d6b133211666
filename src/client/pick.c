/* Connector choice; see pick.h. */
#include <stddef.h>

#include "client/pick.h"
#include "core/err.h"

#define PICK_MAX       16
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 30000u

uint64_t pn_pick_backoff_ms(unsigned nfail)
{
	uint64_t ms = BACKOFF_MIN_MS;

	while (nfail-- > 1 && ms < BACKOFF_MAX_MS)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static int better_up(const struct pn_pick_cand *a, const struct pn_pick_cand *b)
{
	/* Unknown RTT (0) sorts after any measured one. */
	uint64_t ra = a->rtt_us ? a->rtt_us : UINT64_MAX, rb = b->rtt_us ? b->rtt_us : UINT64_MAX;

	if (ra != rb)
		return ra < rb;
	return a->flows < b->flows;
}

static int full(const struct pn_pick_cand *c)
{
	return c->max_flows != 0 && c->flows >= c->max_flows;
}

int pn_pick(const struct pn_pick_cand *c, size_t n, uint64_t now_ms, uint32_t salt)
{
	int up = -1, connecting = -1, nfull = 0;
	size_t idle[PICK_MAX], nidle = 0;

	if (!c || n > PICK_MAX)
		return PN_E_INVAL;
	for (size_t i = 0; i < n; i++) {
		switch (c[i].state) {
		case PN_PICK_UP:
			if (full(&c[i]))
				nfull++;
			else if (up < 0 || better_up(&c[i], &c[up]))
				up = (int)i;
			break;
		case PN_PICK_CONNECTING:
			if (full(&c[i]))
				nfull++;
			else if (connecting < 0)
				connecting = (int)i;
			break;
		case PN_PICK_FAILED:
			if (now_ms < c[i].retry_at_ms)
				break;
			/* backoff over: as good as idle */
			__attribute__((fallthrough));
		case PN_PICK_IDLE: idle[nidle++] = i; break;
		}
	}
	if (up >= 0)
		return up;
	if (connecting >= 0)
		return connecting;
	if (nidle == 0)
		return nfull ? PN_E_TUN_LIMIT : PN_E_NO_CONNECTOR;
	return (int)idle[salt % nidle];
}
