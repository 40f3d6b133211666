/*
 * Per-source and total caps on unauthenticated connections (srclimit.h).
 * A chained hash of sources with at least one counted connection; an entry
 * goes away with its last connection, so the table never holds more
 * entries than the total cap allows connections (plus the few a race
 * between allowed() and add() on several loop threads lets through).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "controller/srclimit.h"
#include "core/secret.h"

#define SRC_BUCKETS 1024 /* power of two */

struct src {
	struct src *next;
	struct pn_srckey k;
	unsigned n;
};

struct pn_srclimit {
	pthread_mutex_t m;
	unsigned per_source, cap;
	size_t total;
	uint32_t seed;
	struct src *b[SRC_BUCKETS];
};

int pn_srclimit_new(unsigned per_source, unsigned total, struct pn_srclimit **out)
{
	struct pn_srclimit *l;

	if (!per_source || !total)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->m, NULL);
	l->per_source = per_source;
	l->cap = total;
	/* a secret seed: a remote peer cannot aim at one bucket */
	if (pn_random(&l->seed, sizeof(l->seed)))
		l->seed = (uint32_t)(uintptr_t)l;
	*out = l;
	return 0;
}

void pn_srclimit_free(struct pn_srclimit *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < SRC_BUCKETS; i++) {
		struct src *s = l->b[i], *n;

		for (; s; s = n) {
			n = s->next;
			free(s);
		}
	}
	pthread_mutex_destroy(&l->m);
	free(l);
}

int pn_srckey_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct pn_srckey *out)
{
	memset(out, 0, sizeof(*out));
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		out->a[10] = 0xff;
		out->a[11] = 0xff;
		memcpy(out->a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(out->a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static size_t bucket(const struct pn_srclimit *l, const struct pn_srckey *k)
{
	uint32_t h = 2166136261u ^ l->seed; /* FNV-1a */

	for (size_t i = 0; i < sizeof(k->a); i++)
		h = (h ^ k->a[i]) * 16777619u;
	return h & (SRC_BUCKETS - 1);
}

static struct src **find(struct pn_srclimit *l, const struct pn_srckey *k)
{
	struct src **pp = &l->b[bucket(l, k)];

	while (*pp && memcmp((*pp)->k.a, k->a, sizeof(k->a)))
		pp = &(*pp)->next;
	return pp;
}

int pn_srclimit_allowed(struct pn_srclimit *l, const struct pn_srckey *k)
{
	struct src *s;
	int ok;

	pthread_mutex_lock(&l->m);
	s = *find(l, k);
	ok = l->total < l->cap && (!s || s->n < l->per_source);
	pthread_mutex_unlock(&l->m);
	return ok;
}

int pn_srclimit_add(struct pn_srclimit *l, const struct pn_srckey *k)
{
	struct src **pp, *s;
	int rc = 0;

	pthread_mutex_lock(&l->m);
	pp = find(l, k);
	if (!*pp) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		s->k = *k;
		*pp = s;
	}
	(*pp)->n++;
	l->total++;
out:
	pthread_mutex_unlock(&l->m);
	return rc;
}

void pn_srclimit_release(struct pn_srclimit *l, const struct pn_srckey *k)
{
	struct src **pp, *s;

	pthread_mutex_lock(&l->m);
	pp = find(l, k);
	s = *pp;
	if (s) { /* never released more often than added */
		l->total--;
		if (--s->n == 0) {
			*pp = s->next;
			free(s);
		}
	}
	pthread_mutex_unlock(&l->m);
}

size_t pn_srclimit_total(struct pn_srclimit *l)
{
	size_t n;

	pthread_mutex_lock(&l->m);
	n = l->total;
	pthread_mutex_unlock(&l->m);
	return n;
}

unsigned pn_srclimit_count(struct pn_srclimit *l, const struct pn_srckey *k)
{
	struct src *s;
	unsigned n;

	pthread_mutex_lock(&l->m);
	s = *find(l, k);
	n = s ? s->n : 0;
	pthread_mutex_unlock(&l->m);
	return n;
}
