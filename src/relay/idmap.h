#ifndef PN_RELAY_IDMAP_H
#define PN_RELAY_IDMAP_H
/*
 * A hash map from fixed-size binary keys (session ids, peer ids, IP
 * addresses) to objects that hold their own key.  Open addressing with
 * linear probing and backward-shift deletion: O(1) lookups, no allocation
 * except when the table grows (load <= 1/2), no tombstones.  Hashing is
 * keyed with a random seed so remote parties cannot aim keys at one slot.
 */
#include <stddef.h>
#include <stdint.h>

struct pn_idmap {
	void **slot;
	size_t mask; /* capacity - 1 (capacity a power of two) */
	size_t count;
	size_t key_off; /* offset of the key inside each object */
	size_t key_len; /* 1..32 */
	uint64_t seed[2];
};

/* 0, PN_E_INVAL (key_len), -ENOMEM, PN_E_CRYPTO (seed). */
int pn_idmap_init(struct pn_idmap *m, size_t key_off, size_t key_len, size_t initial);
void pn_idmap_fini(struct pn_idmap *m);
/* The object with this key, or NULL. */
void *pn_idmap_get(const struct pn_idmap *m, const uint8_t *key);
/* Insert obj (its key must not be present).  0 or -ENOMEM. */
int pn_idmap_put(struct pn_idmap *m, void *obj);
/* Remove obj (by identity).  0, or PN_E_INVAL if absent. */
int pn_idmap_del(struct pn_idmap *m, void *obj);
/* Iterate: start with *pos = 0; returns the next object or NULL.  Safe
 * against deleting the returned object only if the caller re-visits *pos
 * (the deleting iteration helper below does that). */
void *pn_idmap_next(const struct pn_idmap *m, size_t *pos);
static inline size_t pn_idmap_count(const struct pn_idmap *m)
{
	return m->count;
}
/* Bytes held by the table itself (for memory accounting). */
static inline size_t pn_idmap_bytes(const struct pn_idmap *m)
{
	return (m->mask + 1) * sizeof(void *);
}
#endif
