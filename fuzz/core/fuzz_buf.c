/*
 * Drives every pn_buf getter from fuzz input, then checks a round trip:
 * each value read is written back with the matching putter and must read
 * back identically.  Input: a stream of (op byte, operands...) parsed
 * through the buffer under test itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 1024

struct rec {
	uint8_t op;
	uint64_t v;
	const uint8_t *p;
	size_t n;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

/* Errors a getter may return; anything else is a bug. */
static void check_get_err(int r)
{
	check(r == 0 || r == PN_E_TRUNCATED || r == PN_E_TOOBIG || r == PN_E_MALFORMED ||
	      r == PN_E_INVAL);
}

static int do_get(struct pn_buf *b, uint8_t op, uint16_t param, struct rec *rec)
{
	uint8_t u8, tmp[256];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	struct pn_buf sub;
	char s[256];
	int r = -1;

	rec->op = op;
	switch (op) {
	case 0:
		r = pn_buf_get_u8(b, &u8);
		rec->v = u8;
		break;
	case 1:
		r = pn_buf_get_u16(b, &u16);
		rec->v = u16;
		break;
	case 2:
		r = pn_buf_get_u32(b, &u32);
		rec->v = u32;
		break;
	case 3:
		r = pn_buf_get_u64(b, &u64);
		rec->v = u64;
		break;
	case 4:
		rec->n = param & 0xff;
		rec->p = pn_buf_ptr(b);
		r = pn_buf_get_bytes(b, tmp, rec->n);
		if (r == 0)
			check(memcmp(tmp, rec->p, rec->n) == 0);
		break;
	case 5:
		rec->n = param;
		r = pn_buf_skip(b, param);
		break;
	case 6:
		rec->n = param;
		r = pn_buf_get_view(b, param, &rec->p);
		break;
	case 7:
		rec->n = param;
		r = pn_buf_get_sub(b, param, &sub);
		if (r == 0) {
			rec->p = pn_buf_ptr(&sub);
			check(pn_buf_len(&sub) == param);
			while (pn_buf_get_u16(&sub, &u16) == 0)
				;
			check(pn_buf_len(&sub) <= 1);
		}
		break;
	case 8: r = pn_buf_get_lv8(b, param, &rec->p, &rec->n); break;
	case 9: r = pn_buf_get_lv16(b, param, &rec->p, &rec->n); break;
	case 10: r = pn_buf_get_lv32(b, param, &rec->p, &rec->n); break;
	case 11:
	case 12:
		r = op == 11 ? pn_buf_get_str8(b, s, param % sizeof(s))
			     : pn_buf_get_str16(b, s, param % sizeof(s));
		if (r == 0) {
			rec->n = strlen(s);
			check(rec->n < param % sizeof(s));
			/* The string is the bytes just before rpos. */
			check(memcmp(pn_buf_ptr(b) - rec->n, s, rec->n) == 0);
			rec->p = pn_buf_ptr(b) - rec->n;
		}
		break;
	default:
		r = pn_buf_expect_end(b);
		check(r == 0 ? pn_buf_len(b) == 0 : pn_buf_len(b) > 0);
		return -1; /* nothing to replay */
	}
	check_get_err(r);
	return r;
}

static void do_put(struct pn_buf *w, const struct rec *rec)
{
	int r = 0;
	switch (rec->op) {
	case 0: r = pn_buf_put_u8(w, (uint8_t)rec->v); break;
	case 1: r = pn_buf_put_u16(w, (uint16_t)rec->v); break;
	case 2: r = pn_buf_put_u32(w, (uint32_t)rec->v); break;
	case 3: r = pn_buf_put_u64(w, rec->v); break;
	case 4:
	case 6:
	case 7: r = pn_buf_put_bytes(w, rec->p, rec->n); break;
	case 5: break; /* skipped bytes are not replayed */
	case 8: r = pn_buf_put_lv8(w, rec->p, rec->n); break;
	case 9: r = pn_buf_put_lv16(w, rec->p, rec->n); break;
	case 10: r = pn_buf_put_lv32(w, rec->p, rec->n); break;
	case 11: r = pn_buf_put_lv8(w, rec->p, rec->n); break;
	case 12: r = pn_buf_put_lv16(w, rec->p, rec->n); break;
	}
	check(r == 0);
}

static void replay(struct pn_buf *rd, const struct rec *rec)
{
	uint8_t u8, tmp[256];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p = NULL;
	size_t n = 0;

	switch (rec->op) {
	case 0: check(pn_buf_get_u8(rd, &u8) == 0 && u8 == rec->v); break;
	case 1: check(pn_buf_get_u16(rd, &u16) == 0 && u16 == rec->v); break;
	case 2: check(pn_buf_get_u32(rd, &u32) == 0 && u32 == rec->v); break;
	case 3: check(pn_buf_get_u64(rd, &u64) == 0 && u64 == rec->v); break;
	case 4:
		check(pn_buf_get_bytes(rd, tmp, rec->n) == 0 && memcmp(tmp, rec->p, rec->n) == 0);
		break;
	case 5: break;
	case 6:
	case 7:
		check(pn_buf_get_view(rd, rec->n, &p) == 0 && memcmp(p, rec->p, rec->n) == 0);
		break;
	case 8:
	case 11: check(pn_buf_get_lv8(rd, rec->n, &p, &n) == 0 && n == rec->n); break;
	case 9:
	case 12: check(pn_buf_get_lv16(rd, rec->n, &p, &n) == 0 && n == rec->n); break;
	case 10: check(pn_buf_get_lv32(rd, rec->n, &p, &n) == 0 && n == rec->n); break;
	}
	if (rec->op >= 8 && n)
		check(memcmp(p, rec->p, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rec recs[MAX_OPS];
	struct pn_buf in, w, rd;
	size_t nrec = 0;
	uint8_t op;

	pn_buf_init_ro(&in, data, size);
	if (pn_buf_init_dyn(&w, 0, 1 << 20) != 0)
		return 0;
	while (nrec < MAX_OPS && pn_buf_get_u8(&in, &op) == 0) {
		uint16_t param = 0;
		size_t before = pn_buf_len(&in);
		op %= 14;
		/* Ops with a size operand read it (u16) from the stream too. */
		if (op >= 4 && op <= 12 && pn_buf_get_u16(&in, &param) != 0)
			break;
		before = pn_buf_len(&in);
		if (do_get(&in, op, param, &recs[nrec]) == 0)
			do_put(&w, &recs[nrec++]);
		else
			check(pn_buf_len(&in) == before); /* a failed get consumes nothing */
	}
	/* Everything read comes back identically from what we wrote. */
	pn_buf_init_ro(&rd, pn_buf_ptr(&w), pn_buf_len(&w));
	for (size_t i = 0; i < nrec; i++)
		replay(&rd, &recs[i]);
	check(pn_buf_expect_end(&rd) == 0);
	pn_buf_fini(&w);
	return 0;
}
