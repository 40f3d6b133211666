/* Probing through one symmetric NAT; see spray.h. */
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/spray.h"

#define MS 1000000ull

int pn_spray_role(int own_nat, int peer_nat)
{
	/* no NAT on the other side: its own probes reach us, plain probing
	   works; both symmetric: neither side can be guessed (relay) */
	if (own_nat == PN_NAT_EDM && peer_nat == PN_NAT_EIM)
		return PN_SPRAY_HARD;
	if (own_nat == PN_NAT_EIM && peer_nat == PN_NAT_EDM)
		return PN_SPRAY_EASY;
	return PN_SPRAY_NONE;
}

static int add(struct pn_spray *s, uint8_t *seen_map, unsigned port)
{
	if (port < PN_SPRAY_PORT_MIN || port > 65535 || (seen_map[port / 8] & (1u << (port % 8))))
		return 0;
	seen_map[port / 8] |= (uint8_t)(1u << (port % 8));
	s->port[s->n++] = (uint16_t)port;
	return 1;
}

int pn_spray_plan(struct pn_spray *s, const uint16_t *seen, size_t nseen, uint64_t now)
{
	uint8_t map[65536 / 8];
	uint16_t rnd[256];
	unsigned hi = 0;
	int r = 0;

	memset(s, 0, sizeof(*s));
	memset(map, 0, sizeof(map));
	s->start = now;
	for (size_t i = 0; i < nseen; i++)
		if (seen[i] > hi)
			hi = seen[i];
	/* the relays' mappings themselves are taken (and filter for the
	   relays): skip them; then the ports a sequential NAT hands out next */
	for (size_t i = 0; i < nseen; i++)
		map[seen[i] / 8] |= (uint8_t)(1u << (seen[i] % 8));
	if (hi >= PN_SPRAY_PORT_MIN)
		for (unsigned k = 1; k <= PN_SPRAY_PREDICT && s->n < PN_SPRAY_PORTS; k++)
			add(s, map, PN_SPRAY_PORT_MIN +
					    (hi - PN_SPRAY_PORT_MIN + k) % (65536 - PN_SPRAY_PORT_MIN));
	/* random ports, distinct: the range holds 64,512, we take 2,048 */
	while (s->n < PN_SPRAY_PORTS) {
		if (pn_random(rnd, sizeof(rnd)) != 0) {
			r = PN_E_CRYPTO;
			break;
		}
		for (size_t i = 0; i < sizeof(rnd) / sizeof(rnd[0]) && s->n < PN_SPRAY_PORTS; i++)
			add(s, map, rnd[i]);
	}
	pn_wipe(rnd, sizeof(rnd));
	return r;
}

int pn_spray_next(struct pn_spray *s, uint64_t now)
{
	uint64_t allowed;

	if (s->next >= s->n || now < s->start)
		return -1;
	/* one at the start, then PN_SPRAY_RATE per second */
	allowed = 1 + (now - s->start) / (1000 * MS / PN_SPRAY_RATE);
	if (s->next >= allowed)
		return -1;
	return s->port[s->next++];
}

int pn_spray_done(const struct pn_spray *s)
{
	return s->next >= s->n;
}
