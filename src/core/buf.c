#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/secret.h"

enum { BUF_RO = 1, BUF_DYN = 2 };

void pn_buf_init_ro(struct pn_buf *b, const void *data, size_t len)
{
	/* The cast drops const; BUF_RO makes every put fail. */
	b->data = (uint8_t *)(uintptr_t)data;
	b->rpos = 0;
	b->wpos = b->cap = b->max = len;
	b->flags = BUF_RO;
}

void pn_buf_init_wr(struct pn_buf *b, void *storage, size_t cap)
{
	b->data = storage;
	b->rpos = b->wpos = 0;
	b->cap = b->max = cap;
	b->flags = 0;
}

int pn_buf_init_dyn(struct pn_buf *b, size_t initial, size_t max)
{
	memset(b, 0, sizeof(*b));
	if (initial > max)
		initial = max;
	if (initial) {
		b->data = malloc(initial);
		if (!b->data)
			return -ENOMEM;
	}
	b->cap = initial;
	b->max = max;
	b->flags = BUF_DYN;
	return 0;
}

void pn_buf_fini(struct pn_buf *b)
{
	if (!b)
		return;
	if ((b->flags & BUF_DYN) && b->data) {
		pn_wipe(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

size_t pn_buf_len(const struct pn_buf *b)
{
	return b->wpos - b->rpos;
}

const uint8_t *pn_buf_ptr(const struct pn_buf *b)
{
	return b->data ? b->data + b->rpos : (const uint8_t *)"";
}

size_t pn_buf_avail(const struct pn_buf *b)
{
	if (b->flags & BUF_RO)
		return 0;
	return b->max - b->wpos;
}

void pn_buf_compact(struct pn_buf *b)
{
	if (b->flags & BUF_RO || b->rpos == 0)
		return;
	memmove(b->data, b->data + b->rpos, b->wpos - b->rpos);
	b->wpos -= b->rpos;
	b->rpos = 0;
}

void pn_buf_reset(struct pn_buf *b)
{
	if (b->flags & BUF_RO)
		b->rpos = b->wpos;
	else
		b->rpos = b->wpos = 0;
}

/* ---- readers ---- */

int pn_buf_get_view(struct pn_buf *b, size_t n, const uint8_t **p)
{
	if (n > b->wpos - b->rpos)
		return PN_E_TRUNCATED;
	/* An empty buffer may have no storage: never form NULL + offset. */
	if (p)
		*p = b->data ? b->data + b->rpos : (const uint8_t *)"";
	b->rpos += n;
	return 0;
}

int pn_buf_skip(struct pn_buf *b, size_t n)
{
	return pn_buf_get_view(b, n, NULL);
}

int pn_buf_get_bytes(struct pn_buf *b, void *out, size_t n)
{
	const uint8_t *p;
	int r = pn_buf_get_view(b, n, &p);
	if (r == 0 && n)
		memcpy(out, p, n);
	return r;
}

int pn_buf_get_sub(struct pn_buf *b, size_t n, struct pn_buf *sub)
{
	const uint8_t *p;
	int r = pn_buf_get_view(b, n, &p);
	if (r == 0)
		pn_buf_init_ro(sub, p, n);
	return r;
}

int pn_buf_get_u8(struct pn_buf *b, uint8_t *v)
{
	const uint8_t *p;
	int r = pn_buf_get_view(b, 1, &p);
	if (r == 0)
		*v = p[0];
	return r;
}

int pn_buf_get_u16(struct pn_buf *b, uint16_t *v)
{
	const uint8_t *p;
	int r = pn_buf_get_view(b, 2, &p);
	if (r == 0)
		*v = pn_load_be16(p);
	return r;
}

int pn_buf_get_u32(struct pn_buf *b, uint32_t *v)
{
	const uint8_t *p;
	int r = pn_buf_get_view(b, 4, &p);
	if (r == 0)
		*v = pn_load_be32(p);
	return r;
}

int pn_buf_get_u64(struct pn_buf *b, uint64_t *v)
{
	const uint8_t *p;
	int r = pn_buf_get_view(b, 8, &p);
	if (r == 0)
		*v = pn_load_be64(p);
	return r;
}

/* Shared by the lv getters: prefix of `w` bytes, then the body. */
static int get_lv(struct pn_buf *b, unsigned w, size_t max, const uint8_t **p, size_t *n)
{
	size_t avail = b->wpos - b->rpos, len;
	const uint8_t *s;

	if (avail < w)
		return PN_E_TRUNCATED;
	s = b->data + b->rpos; /* avail >= w > 0, so data is not NULL */
	len = w == 1 ? s[0] : w == 2 ? pn_load_be16(s) : pn_load_be32(s);
	/* Check the declared length against the caller's cap before the data. */
	if (len > max)
		return PN_E_TOOBIG;
	if (len > avail - w)
		return PN_E_TRUNCATED;
	*p = s + w;
	*n = len;
	b->rpos += w + len;
	return 0;
}

int pn_buf_get_lv8(struct pn_buf *b, size_t max, const uint8_t **p, size_t *n)
{
	return get_lv(b, 1, max, p, n);
}

int pn_buf_get_lv16(struct pn_buf *b, size_t max, const uint8_t **p, size_t *n)
{
	return get_lv(b, 2, max, p, n);
}

int pn_buf_get_lv32(struct pn_buf *b, size_t max, const uint8_t **p, size_t *n)
{
	return get_lv(b, 4, max, p, n);
}

static int get_str(struct pn_buf *b, unsigned w, char *out, size_t outsz)
{
	struct pn_buf save = *b;
	const uint8_t *p;
	size_t n;
	int r;

	if (outsz == 0)
		return PN_E_INVAL;
	if ((r = get_lv(b, w, outsz - 1, &p, &n)) != 0)
		return r;
	if (memchr(p, 0, n)) {
		*b = save;
		return PN_E_MALFORMED;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int pn_buf_get_str8(struct pn_buf *b, char *out, size_t outsz)
{
	return get_str(b, 1, out, outsz);
}

int pn_buf_get_str16(struct pn_buf *b, char *out, size_t outsz)
{
	return get_str(b, 2, out, outsz);
}

int pn_buf_expect_end(const struct pn_buf *b)
{
	return b->rpos == b->wpos ? 0 : PN_E_MALFORMED;
}

/* ---- writers ---- */

int pn_buf_reserve(struct pn_buf *b, size_t n, uint8_t **p)
{
	if (b->flags & BUF_RO)
		return PN_E_NOSPACE;
	if (n > b->max - b->wpos)
		return (b->flags & BUF_DYN) ? PN_E_TOOBIG : PN_E_NOSPACE;
	if (n > b->cap - b->wpos) {
		/* Only dynamic buffers get here: cap < max. Grow geometrically. */
		size_t need = b->wpos + n, ncap = b->cap ? b->cap : 64;
		uint8_t *nd;
		while (ncap < need)
			ncap = ncap > b->max / 2 ? b->max : ncap * 2;
		if (ncap > b->max)
			ncap = b->max;
		nd = malloc(ncap);
		if (!nd)
			return -ENOMEM;
		if (b->data) {
			memcpy(nd, b->data, b->wpos);
			pn_wipe(b->data, b->cap);
			free(b->data);
		}
		b->data = nd;
		b->cap = ncap;
	}
	/* A zero-length reserve on a storage-less dyn buffer: no NULL + offset. */
	*p = b->data ? b->data + b->wpos : NULL;
	b->wpos += n;
	return 0;
}

int pn_buf_put_bytes(struct pn_buf *b, const void *src, size_t n)
{
	uint8_t *p;
	int r = pn_buf_reserve(b, n, &p);
	if (r == 0 && n)
		memcpy(p, src, n);
	return r;
}

int pn_buf_put_u8(struct pn_buf *b, uint8_t v)
{
	return pn_buf_put_bytes(b, &v, 1);
}

int pn_buf_put_u16(struct pn_buf *b, uint16_t v)
{
	uint8_t t[2];
	pn_store_be16(t, v);
	return pn_buf_put_bytes(b, t, 2);
}

int pn_buf_put_u32(struct pn_buf *b, uint32_t v)
{
	uint8_t t[4];
	pn_store_be32(t, v);
	return pn_buf_put_bytes(b, t, 4);
}

int pn_buf_put_u64(struct pn_buf *b, uint64_t v)
{
	uint8_t t[8];
	pn_store_be64(t, v);
	return pn_buf_put_bytes(b, t, 8);
}

static int put_lv(struct pn_buf *b, unsigned w, const void *src, size_t n)
{
	uint8_t *p;
	int r;

	if ((w == 1 && n > UINT8_MAX) || (w == 2 && n > UINT16_MAX) || (w == 4 && n > UINT32_MAX))
		return PN_E_TOOBIG;
	if ((r = pn_buf_reserve(b, w + n, &p)) != 0)
		return r;
	if (w == 1)
		p[0] = (uint8_t)n;
	else if (w == 2)
		pn_store_be16(p, (uint16_t)n);
	else
		pn_store_be32(p, (uint32_t)n);
	if (n)
		memcpy(p + w, src, n);
	return 0;
}

int pn_buf_put_lv8(struct pn_buf *b, const void *p, size_t n)
{
	return put_lv(b, 1, p, n);
}

int pn_buf_put_lv16(struct pn_buf *b, const void *p, size_t n)
{
	return put_lv(b, 2, p, n);
}

int pn_buf_put_lv32(struct pn_buf *b, const void *p, size_t n)
{
	return put_lv(b, 4, p, n);
}

int pn_buf_put_str8(struct pn_buf *b, const char *s)
{
	return put_lv(b, 1, s, strlen(s));
}

int pn_buf_put_str16(struct pn_buf *b, const char *s)
{
	return put_lv(b, 2, s, strlen(s));
}
