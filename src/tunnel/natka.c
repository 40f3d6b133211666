/* NAT keepalive interval; see natka.h. */
#include <string.h>

#include "tunnel/natka.h"

void pn_natka_init(struct pn_natka *k)
{
	memset(k, 0, sizeof(*k));
	k->interval_ms = PN_P2P_KEEPALIVE_MS;
}

void pn_natka_lost(struct pn_natka *k, uint64_t gap_ms, uint64_t now_ms)
{
	k->lost_at_ms = 0;
	if (gap_ms < PN_P2P_IDLE_GAP_MS)
		return; /* a path with traffic was cut: not an expiry */
	k->lost_at_ms = now_ms ? now_ms : 1;
	k->lost_gap_ms = gap_ms;
}

int pn_natka_direct(struct pn_natka *k, uint64_t now_ms)
{
	uint64_t v;

	if (!k->lost_at_ms)
		return 0;
	if (now_ms - k->lost_at_ms > PN_P2P_EXPIRY_CONFIRM_MS) {
		k->lost_at_ms = 0; /* back too late to blame the NAT */
		return 0;
	}
	k->lost_at_ms = 0;
	v = k->lost_gap_ms / 3;
	if (v < PN_P2P_KEEPALIVE_MIN_MS)
		v = PN_P2P_KEEPALIVE_MIN_MS;
	if (v < k->interval_ms)
		k->interval_ms = v;
	k->expiries++;
	return 1;
}
