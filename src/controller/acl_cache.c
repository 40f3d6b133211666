/* Signed access-list cache (see acl_cache.h): chained hash table + mutex. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "controller/acl_cache.h"

#define BUCKETS 1024

struct entry {
	struct entry *next;
	char *key, *b64;
	uint64_t version;
	int64_t expires;
};

struct pn_acl_cache {
	pthread_mutex_t m;
	unsigned n, max;
	struct entry *b[BUCKETS];
};

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % BUCKETS;
}

int pn_acl_cache_new(unsigned max_entries, struct pn_acl_cache **out)
{
	struct pn_acl_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->m, NULL);
	c->max = max_entries ? max_entries : 1;
	*out = c;
	return 0;
}

static void clear(struct pn_acl_cache *c)
{
	for (unsigned i = 0; i < BUCKETS; i++) {
		while (c->b[i]) {
			struct entry *e = c->b[i];

			c->b[i] = e->next;
			free(e->key);
			free(e->b64);
			free(e);
		}
	}
	c->n = 0;
}

void pn_acl_cache_free(struct pn_acl_cache *c)
{
	if (!c)
		return;
	clear(c);
	pthread_mutex_destroy(&c->m);
	free(c);
}

char *pn_acl_cache_get(struct pn_acl_cache *c, const char *key, uint64_t version, int64_t now,
		       int64_t min_left)
{
	char *out = NULL;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->m);
	for (struct entry *e = c->b[hash(key)]; e; e = e->next)
		if (!strcmp(e->key, key)) {
			if (e->version == version && e->expires - now >= min_left)
				out = strdup(e->b64);
			break;
		}
	pthread_mutex_unlock(&c->m);
	return out;
}

void pn_acl_cache_put(struct pn_acl_cache *c, const char *key, uint64_t version, int64_t expires,
		      const char *b64)
{
	unsigned h;
	struct entry *e;
	char *k2, *b2;

	if (!c)
		return;
	h = hash(key);
	pthread_mutex_lock(&c->m);
	for (e = c->b[h]; e; e = e->next)
		if (!strcmp(e->key, key))
			break;
	if (e && version < e->version)
		goto out; /* never replace a newer list with an older one */
	b2 = strdup(b64);
	if (!b2)
		goto out;
	if (e) {
		free(e->b64);
	} else {
		if (c->n >= c->max)
			clear(c); /* bounded: start over rather than grow */
		e = calloc(1, sizeof(*e));
		k2 = e ? strdup(key) : NULL;
		if (!k2) {
			free(e);
			free(b2);
			goto out;
		}
		e->key = k2;
		e->next = c->b[h];
		c->b[h] = e;
		c->n++;
	}
	e->b64 = b2;
	e->version = version;
	e->expires = expires;
out:
	pthread_mutex_unlock(&c->m);
}
