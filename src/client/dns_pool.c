/* Synthetic address pool; see dns_pool.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/dns_pool.h"
#include "core/err.h"

struct pn_pool {
	uint8_t v4[4], v6[16];
	unsigned p4, p6;
	int has_v6;
	char v4s[64], v6s[80];
	size_t max, n;
	char **names;  /* names[idx], idx 1..n */
	size_t tabsz;  /* hash table slots (power of two, > 2 * max) */
	uint32_t *tab; /* slot -> idx (0 empty) */
};

static int parse_cidr(const char *s, int fam, uint8_t *addr, unsigned *prefix)
{
	char buf[80];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long p;
	size_t alen = fam == AF_INET ? 4 : 16;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return PN_E_CONFIG;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (inet_pton(fam, buf, addr) != 1)
		return PN_E_CONFIG;
	p = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || p > alen * 8)
		return PN_E_CONFIG;
	/* Host bits must be zero. */
	for (size_t bit = p; bit < alen * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return PN_E_CONFIG;
	*prefix = (unsigned)p;
	return 0;
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

int pn_pool_new(const char *v4, const char *v6, unsigned max, struct pn_pool **out)
{
	struct pn_pool *p;
	size_t hosts;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	if (parse_cidr(v4 ? v4 : PN_POOL_V4_DEFAULT, AF_INET, p->v4, &p->p4) != 0 || p->p4 < 8 ||
	    p->p4 > 30)
		goto bad;
	if (v6 && *v6) {
		if (parse_cidr(v6, AF_INET6, p->v6, &p->p6) != 0 || p->p6 < 16 || p->p6 > 112)
			goto bad;
		p->has_v6 = 1;
	}
	snprintf(p->v4s, sizeof(p->v4s), "%s", v4 ? v4 : PN_POOL_V4_DEFAULT);
	snprintf(p->v6s, sizeof(p->v6s), "%s", p->has_v6 ? v6 : "");
	hosts = ((size_t)1 << (32 - p->p4)) - 2; /* not .0, not the last */
	p->max = max ? max : PN_POOL_MAX_DEFAULT;
	if (p->max > hosts)
		p->max = hosts;
	if (p->max > (1u << 24))
		p->max = 1u << 24;
	for (p->tabsz = 16; p->tabsz < 2 * p->max + 2; p->tabsz <<= 1)
		;
	if (!(p->tab = calloc(p->tabsz, sizeof(*p->tab))) ||
	    !(p->names = calloc(p->max + 1, sizeof(*p->names)))) {
		pn_pool_free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
bad:
	free(p);
	return PN_E_CONFIG;
}

void pn_pool_free(struct pn_pool *p)
{
	if (!p)
		return;
	if (p->names)
		for (size_t i = 1; i <= p->n; i++)
			free(p->names[i]);
	free(p->names);
	free(p->tab);
	free(p);
}

long pn_pool_get(struct pn_pool *p, const char *name)
{
	size_t mask = p->tabsz - 1, s = hash(name) & mask;

	for (; p->tab[s]; s = (s + 1) & mask)
		if (strcmp(p->names[p->tab[s]], name) == 0)
			return (long)p->tab[s];
	if (p->n >= p->max)
		return PN_E_TOOBIG;
	if (!(p->names[p->n + 1] = strdup(name)))
		return -ENOMEM;
	p->n++;
	p->tab[s] = (uint32_t)p->n;
	return (long)p->n;
}

static void add_index(uint8_t *a, size_t alen, unsigned long idx)
{
	for (size_t i = alen; i-- > 0 && idx;) {
		unsigned long v = a[i] + (idx & 0xff);
		a[i] = (uint8_t)v;
		idx = (idx >> 8) + (v >> 8);
	}
}

int pn_pool_addr4(const struct pn_pool *p, long idx, uint8_t out[4])
{
	if (idx < 1 || (size_t)idx > p->n)
		return PN_E_INVAL;
	memcpy(out, p->v4, 4);
	add_index(out, 4, (unsigned long)idx);
	return 0;
}

int pn_pool_addr6(const struct pn_pool *p, long idx, uint8_t out[16])
{
	if (!p->has_v6 || idx < 1 || (size_t)idx > p->n)
		return PN_E_INVAL;
	memcpy(out, p->v6, 16);
	add_index(out, 16, (unsigned long)idx);
	return 0;
}

static int in_prefix(const uint8_t *base, unsigned prefix, const uint8_t *a)
{
	for (unsigned bit = 0; bit < prefix; bit++)
		if ((base[bit / 8] ^ a[bit / 8]) & (0x80 >> (bit % 8)))
			return 0;
	return 1;
}

int pn_pool_contains(const struct pn_pool *p, int family, const uint8_t *addr)
{
	if (family == 4)
		return in_prefix(p->v4, p->p4, addr);
	if (family == 6)
		return p->has_v6 && in_prefix(p->v6, p->p6, addr);
	return 0;
}

const char *pn_pool_name(const struct pn_pool *p, int family, const uint8_t *addr)
{
	uint64_t idx = 0;
	size_t alen = family == 4 ? 4 : 16;
	const uint8_t *base = family == 4 ? p->v4 : p->v6;

	if (!pn_pool_contains(p, family, addr))
		return NULL;
	/* The index sits in the low bytes: the offset from the base, and the
	 * ranges are at most 2^24 names, so the last 4 bytes hold it. */
	for (size_t i = 0; i < alen; i++) {
		uint8_t d = (uint8_t)(addr[i] - base[i]); /* base host bits are 0 */
		if (i < alen - 4) {
			if (d)
				return NULL;
			continue;
		}
		idx = (idx << 8) | d;
	}
	if (idx < 1 || idx > p->n)
		return NULL;
	return p->names[idx];
}

const char *pn_pool_v4(const struct pn_pool *p)
{
	return p->v4s;
}

const char *pn_pool_v6(const struct pn_pool *p)
{
	return p->v6s;
}

size_t pn_pool_count(const struct pn_pool *p)
{
	return p->n;
}

const char *pn_pool_name_at(const struct pn_pool *p, long idx)
{
	return idx >= 1 && (size_t)idx <= p->n ? p->names[idx] : NULL;
}
