/* Version gate: highest policy version seen per (kind, holder id). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "trust/acl.h"

struct slot {
	uint8_t used;
	uint8_t kind;
	uint8_t id[PN_ID_LEN];
	uint64_t version;
};

struct pn_acl_gate {
	size_t capacity, count, mask;
	struct slot *slots;
};

int pn_acl_gate_new(size_t capacity, struct pn_acl_gate **out)
{
	struct pn_acl_gate *g;
	size_t n = 16;

	*out = NULL;
	if (capacity < 1 || capacity > (1u << 24))
		return PN_E_INVAL;
	/* Load factor <= 1/2 keeps linear probing short. */
	while (n < capacity * 2)
		n *= 2;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->slots = calloc(n, sizeof(*g->slots));
	if (!g->slots) {
		free(g);
		return -ENOMEM;
	}
	g->capacity = capacity;
	g->mask = n - 1;
	*out = g;
	return 0;
}

void pn_acl_gate_free(struct pn_acl_gate *g)
{
	if (!g)
		return;
	free(g->slots);
	free(g);
}

/* Ids are random (CA-assigned), so their bytes are already a good hash. */
static size_t slot_index(const struct pn_acl_gate *g, unsigned kind, const uint8_t id[PN_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	h ^= (uint64_t)kind * 0x9e3779b97f4a7c15ull;
	h *= 0xff51afd7ed558ccdull;
	return (size_t)(h >> 17) & g->mask;
}

static struct slot *find(const struct pn_acl_gate *g, unsigned kind, const uint8_t id[PN_ID_LEN])
{
	size_t i = slot_index(g, kind, id);

	for (;;) {
		struct slot *s = &g->slots[i];

		if (!s->used || (s->kind == kind && memcmp(s->id, id, PN_ID_LEN) == 0))
			return s;
		i = (i + 1) & g->mask;
	}
}

int pn_acl_gate_check(struct pn_acl_gate *g, const struct pn_acl *acl)
{
	struct slot *s = find(g, (unsigned)acl->kind, acl->holder_id);

	if (s->used) {
		if (acl->version < s->version)
			return PN_E_STALE_VERSION;
		s->version = acl->version; /* equal is accepted: same policy re-presented */
		return 0;
	}
	if (g->count >= g->capacity)
		return PN_E_NOSPACE; /* fail closed; see acl.h */
	s->used = 1;
	s->kind = (uint8_t)acl->kind;
	memcpy(s->id, acl->holder_id, PN_ID_LEN);
	s->version = acl->version;
	g->count++;
	return 0;
}

uint64_t pn_acl_gate_highest(const struct pn_acl_gate *g, enum pn_acl_kind kind,
			     const uint8_t holder_id[PN_ID_LEN])
{
	const struct slot *s = find(g, (unsigned)kind, holder_id);

	return s->used ? s->version : 0;
}
