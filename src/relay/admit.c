/* Admission caps of the relay's stream listener (relay/admit.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "relay/admit.h"

struct pn_admit_ip {
	uint8_t ip[16];
	uint32_t n;
};

int pn_admit_init(struct pn_admit *a, uint32_t max_pending, uint32_t max_per_ip,
		  uint32_t max_conns)
{
	memset(a, 0, sizeof(*a));
	a->max_pending = max_pending;
	a->max_per_ip = max_per_ip;
	a->max_conns = max_conns;
	return pn_idmap_init(&a->ips, offsetof(struct pn_admit_ip, ip), 16, 64);
}

void pn_admit_fini(struct pn_admit *a)
{
	struct pn_admit_ip *ip;
	size_t pos = 0;

	while ((ip = pn_idmap_next(&a->ips, &pos)))
		free(ip);
	pn_idmap_fini(&a->ips);
}

struct pn_admit_entry *pn_admit_make_room(struct pn_admit *a)
{
	struct pn_admit_entry *old = a->oldest;

	if (a->npending < a->max_pending)
		return NULL;
	a->refused_pending++;
	if (old)
		pn_admit_release(a, old);
	return old;
}

int pn_admit_pending(struct pn_admit *a, struct pn_admit_entry *e, const uint8_t ip[16])
{
	struct pn_admit_ip *c = pn_idmap_get(&a->ips, ip);

	if (c && c->n >= a->max_per_ip) {
		a->refused_pending++;
		a->refused_per_ip++;
		return PN_E_RELAY_LIMIT;
	}
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return -ENOMEM;
		memcpy(c->ip, ip, 16);
		if (pn_idmap_put(&a->ips, c)) {
			free(c);
			return -ENOMEM;
		}
	}
	c->n++;
	e->ip = c;
	a->npending++;
	e->older = a->newest;
	e->newer = NULL;
	if (a->newest)
		a->newest->newer = e;
	else
		a->oldest = e;
	a->newest = e;
	return 0;
}

void pn_admit_release(struct pn_admit *a, struct pn_admit_entry *e)
{
	if (!e->ip)
		return;
	if (e->newer)
		e->newer->older = e->older;
	else
		a->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		a->oldest = e->newer;
	e->newer = e->older = NULL;
	a->npending--;
	if (--e->ip->n == 0) {
		pn_idmap_del(&a->ips, e->ip);
		free(e->ip);
	}
	e->ip = NULL;
}

int pn_admit_peer(struct pn_admit *a)
{
	if (a->nconns >= a->max_conns)
		return PN_E_RELAY_LIMIT;
	a->nconns++;
	return 0;
}

void pn_admit_peer_gone(struct pn_admit *a)
{
	if (a->nconns)
		a->nconns--;
}
