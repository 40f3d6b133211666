#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "relay/idmap.h"

static inline const uint8_t *key_of(const struct pn_idmap *m, const void *obj)
{
	return (const uint8_t *)obj + m->key_off;
}

static inline uint64_t mix(uint64_t x)
{
	/* splitmix64 finalizer */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static size_t hash(const struct pn_idmap *m, const uint8_t *k)
{
	uint64_t h = m->seed[0];
	size_t i = 0;

	for (; i + 8 <= m->key_len; i += 8) {
		uint64_t w;
		memcpy(&w, k + i, 8);
		h = mix(h ^ w) + m->seed[1];
	}
	if (i < m->key_len) {
		uint64_t w = 0;
		memcpy(&w, k + i, m->key_len - i);
		h = mix(h ^ w) + m->seed[1];
	}
	return (size_t)mix(h);
}

int pn_idmap_init(struct pn_idmap *m, size_t key_off, size_t key_len, size_t initial)
{
	size_t cap = 16;

	memset(m, 0, sizeof(*m));
	if (key_len == 0 || key_len > 32)
		return PN_E_INVAL;
	while (cap < initial * 2)
		cap <<= 1;
	if (pn_random(m->seed, sizeof(m->seed)))
		return PN_E_CRYPTO;
	m->slot = calloc(cap, sizeof(void *));
	if (!m->slot)
		return -ENOMEM;
	m->mask = cap - 1;
	m->key_off = key_off;
	m->key_len = key_len;
	return 0;
}

void pn_idmap_fini(struct pn_idmap *m)
{
	free(m->slot);
	m->slot = NULL;
	m->count = 0;
}

void *pn_idmap_get(const struct pn_idmap *m, const uint8_t *key)
{
	size_t i = hash(m, key) & m->mask;

	for (;; i = (i + 1) & m->mask) {
		void *o = m->slot[i];
		if (!o)
			return NULL;
		if (!memcmp(key_of(m, o), key, m->key_len))
			return o;
	}
}

static void place(void **slot, size_t mask, size_t h, void *obj)
{
	size_t i = h & mask;

	while (slot[i])
		i = (i + 1) & mask;
	slot[i] = obj;
}

static int grow(struct pn_idmap *m)
{
	size_t cap = (m->mask + 1) * 2;
	void **n = calloc(cap, sizeof(void *));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i <= m->mask; i++)
		if (m->slot[i])
			place(n, cap - 1, hash(m, key_of(m, m->slot[i])), m->slot[i]);
	free(m->slot);
	m->slot = n;
	m->mask = cap - 1;
	return 0;
}

int pn_idmap_put(struct pn_idmap *m, void *obj)
{
	int r;

	/* Keep load <= 1/2 so probe chains stay short. */
	if ((m->count + 1) * 2 > m->mask + 1 && (r = grow(m)))
		return r;
	place(m->slot, m->mask, hash(m, key_of(m, obj)), obj);
	m->count++;
	return 0;
}

int pn_idmap_del(struct pn_idmap *m, void *obj)
{
	size_t i = hash(m, key_of(m, obj)) & m->mask, j;

	while (m->slot[i] != obj) {
		if (!m->slot[i])
			return PN_E_INVAL;
		i = (i + 1) & m->mask;
	}
	/* Backward-shift: move later members of the cluster into the hole. */
	m->slot[i] = NULL;
	for (j = (i + 1) & m->mask; m->slot[j]; j = (j + 1) & m->mask) {
		size_t home = hash(m, key_of(m, m->slot[j])) & m->mask;
		/* Move slot[j] to i if its home is not in (i, j] cyclically. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			m->slot[i] = m->slot[j];
			m->slot[j] = NULL;
			i = j;
		}
	}
	m->count--;
	return 0;
}

void *pn_idmap_next(const struct pn_idmap *m, size_t *pos)
{
	for (; *pos <= m->mask; (*pos)++)
		if (m->slot[*pos])
			return m->slot[(*pos)++];
	return NULL;
}
