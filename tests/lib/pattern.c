/* The test byte stream (see pattern.h). */
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

static uint8_t bytes[TPAT_LEN];
static int filled;

const uint8_t *tpat(void)
{
	if (!filled) {
		for (size_t i = 0; i < TPAT_LEN; i++)
			bytes[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
		filled = 1;
	}
	return bytes;
}

size_t tpat_at(uint64_t off, uint64_t end, const uint8_t **p)
{
	size_t pos = (size_t)(off % TPAT_LEN), n = TPAT_LEN - pos;

	*p = tpat() + pos;
	if (off >= end)
		return 0;
	return end - off < n ? (size_t)(end - off) : n;
}

void tpat_sha256(uint64_t n, uint8_t out[32])
{
	struct tpat_sink s;

	tpat_sink_init(&s);
	for (uint64_t off = 0; off < n;) {
		const uint8_t *p;
		size_t k = tpat_at(off, n, &p);

		tpat_sink_add(&s, p, k);
		off += k;
	}
	tpat_sink_done(&s, out);
}

void tpat_sink_init(struct tpat_sink *s)
{
	memset(s, 0, sizeof(*s));
	if (gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256) != 0)
		abort();
}

void tpat_sink_add(struct tpat_sink *s, const void *p, size_t n)
{
	if (s->h)
		gnutls_hash(s->h, p, n);
	s->n += n;
}

void tpat_sink_done(struct tpat_sink *s, uint8_t out[32])
{
	if (s->h)
		gnutls_hash_deinit(s->h, out);
	s->h = NULL;
}

int tpat_sink_matches(struct tpat_sink *s)
{
	uint8_t got[32], want[32];

	if (!s->h)
		return 0;
	tpat_sink_done(s, got);
	tpat_sha256(s->n, want);
	return memcmp(got, want, 32) == 0;
}
