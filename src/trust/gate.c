/*
 * Version gate: per (kind, holder id) the newest policy state seen — a list
 * at version V, or "no list at version V" (from a complete set) — and per
 * kind the version of the newest complete set, which speaks for every
 * holder not in it, recorded or not.  See acl.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "trust/acl.h"

struct slot {
	uint8_t used;
	uint8_t kind;
	uint8_t absent; /* "no list at `version`": only newer lists pass */
	uint8_t mark;	/* scratch for pn_acl_gate_complete */
	uint8_t id[PN_ID_LEN];
	uint64_t version;
};

#define KINDS 3 /* enum pn_acl_kind values are 1 and 2 */

struct pn_acl_gate {
	size_t capacity, count, mask;
	struct slot *slots;
	/* newest complete set per kind: holders it did not hold have no list
	 * at complete_version (has_complete: one was seen) */
	uint64_t complete_version[KINDS];
	uint8_t has_complete[KINDS];
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

/* Would a list at `version` pass slot s (NULL: an unrecorded holder)? */
static int passes(const struct pn_acl_gate *g, unsigned kind, const struct slot *s,
		  uint64_t version)
{
	if (s && s->used)
		return s->absent ? version > s->version : version >= s->version;
	/* Unrecorded: the newest complete set held no list for this holder. */
	return !(kind < KINDS && g->has_complete[kind]) || version > g->complete_version[kind];
}

int pn_acl_gate_check(struct pn_acl_gate *g, const struct pn_acl *acl)
{
	unsigned kind = (unsigned)acl->kind;
	struct slot *s = find(g, kind, acl->holder_id);

	if (!passes(g, kind, s, acl->version))
		return PN_E_STALE_VERSION;
	if (s->used) {
		/* equal is accepted: the same policy re-presented or re-signed */
		s->version = acl->version;
		s->absent = 0;
		return 0;
	}
	if (g->count >= g->capacity)
		return PN_E_NOSPACE; /* fail closed; see acl.h */
	s->used = 1;
	s->kind = (uint8_t)kind;
	memcpy(s->id, acl->holder_id, PN_ID_LEN);
	s->version = acl->version;
	s->absent = 0;
	g->count++;
	return 0;
}

void pn_acl_gate_complete(struct pn_acl_gate *g, enum pn_acl_kind kind, uint64_t version,
			  const uint8_t (*present)[PN_ID_LEN], size_t n)
{
	unsigned k = (unsigned)kind;

	for (size_t i = 0; i < n; i++) {
		struct slot *s = find(g, k, present[i]);
		if (s->used)
			s->mark = 1;
	}
	for (size_t i = 0; i <= g->mask; i++) {
		struct slot *s = &g->slots[i];
		if (!s->used || s->kind != k)
			continue;
		/* A list at `version` accepted earlier but missing from the set
		 * at `version`: the set is the controller's word, fail closed. */
		if (!s->mark && version >= s->version) {
			s->version = version;
			s->absent = 1;
		}
		s->mark = 0;
	}
	if (k < KINDS && (!g->has_complete[k] || version > g->complete_version[k])) {
		g->complete_version[k] = version;
		g->has_complete[k] = 1;
	}
}

uint64_t pn_acl_gate_highest(const struct pn_acl_gate *g, enum pn_acl_kind kind,
			     const uint8_t holder_id[PN_ID_LEN])
{
	const struct slot *s = find(g, (unsigned)kind, holder_id);

	if (s->used)
		return s->version;
	return (unsigned)kind < KINDS && g->has_complete[kind] ? g->complete_version[kind] : 0;
}
