#ifndef PN_CORE_BUF_H
#define PN_CORE_BUF_H
/*
 * pn_buf: the bounded buffer through which every untrusted byte is parsed
 * and every wire message is built.  Modelled on OpenSSH's sshbuf.
 *
 * A buffer is a window [rpos, wpos) over storage of `cap` bytes:
 *   - a reader (pn_buf_init_ro) wraps bytes it does not own; getters consume
 *     from rpos and fail with PN_E_TRUNCATED instead of reading past wpos;
 *   - a writer over fixed storage (pn_buf_init_wr) fails with PN_E_NOSPACE
 *     when full;
 *   - a dynamic writer (pn_buf_init_dyn) grows on the heap up to a hard `max`
 *     and fails with PN_E_TOOBIG beyond it; pn_buf_fini frees (and wipes) it.
 * A failed get or put leaves the buffer unchanged.  All multi-byte integers
 * are big-endian (network order).
 *
 * The struct is visible so buffers can live on the stack; treat its fields
 * as private and use the accessors.
 */
#include <stddef.h>
#include <stdint.h>

struct pn_buf {
	uint8_t *data;
	size_t rpos, wpos, cap, max;
	unsigned flags;
};

void pn_buf_init_ro(struct pn_buf *b, const void *data, size_t len);
void pn_buf_init_wr(struct pn_buf *b, void *storage, size_t cap);
/* Returns 0 or -ENOMEM.  `max` is the hard size limit (>= initial). */
int pn_buf_init_dyn(struct pn_buf *b, size_t initial, size_t max);
/* Frees dynamic storage after wiping it; NULL-safe; idempotent. */
void pn_buf_fini(struct pn_buf *b);

/* Unread bytes. */
size_t pn_buf_len(const struct pn_buf *b);
/* Pointer to the first unread byte (valid until the next put on a dyn buf). */
const uint8_t *pn_buf_ptr(const struct pn_buf *b);
/* Bytes that can still be written before NOSPACE/TOOBIG. */
size_t pn_buf_avail(const struct pn_buf *b);
/* Forget consumed bytes; for dynamic and fixed writers reused as queues. */
void pn_buf_compact(struct pn_buf *b);
/* Empty the buffer (rpos = wpos = 0). */
void pn_buf_reset(struct pn_buf *b);

/* Readers: 0, or PN_E_TRUNCATED with nothing consumed. */
int pn_buf_get_u8(struct pn_buf *b, uint8_t *v);
int pn_buf_get_u16(struct pn_buf *b, uint16_t *v);
int pn_buf_get_u32(struct pn_buf *b, uint32_t *v);
int pn_buf_get_u64(struct pn_buf *b, uint64_t *v);
int pn_buf_get_bytes(struct pn_buf *b, void *out, size_t n);
int pn_buf_skip(struct pn_buf *b, size_t n);
/* Zero-copy: *p points into the buffer's storage for n bytes. */
int pn_buf_get_view(struct pn_buf *b, size_t n, const uint8_t **p);
/* Consume n bytes and wrap them as a read-only sub-buffer. */
int pn_buf_get_sub(struct pn_buf *b, size_t n, struct pn_buf *sub);
/*
 * Length-prefixed fields (u8/u16/u32 length, then bytes).  A length above
 * `max` fails with PN_E_TOOBIG before anything is consumed; a length past
 * the end fails with PN_E_TRUNCATED.
 */
int pn_buf_get_lv8(struct pn_buf *b, size_t max, const uint8_t **p, size_t *n);
int pn_buf_get_lv16(struct pn_buf *b, size_t max, const uint8_t **p, size_t *n);
int pn_buf_get_lv32(struct pn_buf *b, size_t max, const uint8_t **p, size_t *n);
/*
 * A u8/u16-prefixed string copied NUL-terminated into out[outsz].  Fails
 * with PN_E_TOOBIG if it does not fit and PN_E_MALFORMED if it contains NUL.
 */
int pn_buf_get_str8(struct pn_buf *b, char *out, size_t outsz);
int pn_buf_get_str16(struct pn_buf *b, char *out, size_t outsz);
/* 0 if fully consumed, else PN_E_MALFORMED (trailing garbage). */
int pn_buf_expect_end(const struct pn_buf *b);

/* Writers: 0, or PN_E_NOSPACE / PN_E_TOOBIG / -ENOMEM with nothing written. */
int pn_buf_put_u8(struct pn_buf *b, uint8_t v);
int pn_buf_put_u16(struct pn_buf *b, uint16_t v);
int pn_buf_put_u32(struct pn_buf *b, uint32_t v);
int pn_buf_put_u64(struct pn_buf *b, uint64_t v);
int pn_buf_put_bytes(struct pn_buf *b, const void *p, size_t n);
int pn_buf_put_lv8(struct pn_buf *b, const void *p, size_t n);
int pn_buf_put_lv16(struct pn_buf *b, const void *p, size_t n);
int pn_buf_put_lv32(struct pn_buf *b, const void *p, size_t n);
int pn_buf_put_str8(struct pn_buf *b, const char *s);
int pn_buf_put_str16(struct pn_buf *b, const char *s);
/* Reserve n bytes at the write position; *p is where to write them. */
int pn_buf_reserve(struct pn_buf *b, size_t n, uint8_t **p);

/* Unaligned big-endian helpers for code that already checked the length. */
static inline uint16_t pn_load_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t pn_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t pn_load_be64(const uint8_t *p)
{
	return (uint64_t)pn_load_be32(p) << 32 | pn_load_be32(p + 4);
}
static inline void pn_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void pn_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void pn_store_be64(uint8_t *p, uint64_t v)
{
	pn_store_be32(p, (uint32_t)(v >> 32));
	pn_store_be32(p + 4, (uint32_t)v);
}
#endif
