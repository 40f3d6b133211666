#ifndef PN_TEST_LIB_PATTERN_H
#define PN_TEST_LIB_PATTERN_H
/*
 * The test byte stream: deterministic bytes a test sends and whose SHA-256
 * the receiving end checks (library pn_testpattern).  Byte i of every
 * stream is tpat()[i % TPAT_LEN].
 */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/crypto.h>

#define TPAT_LEN 65536

const uint8_t *tpat(void);
/* The stream's bytes from offset `off` up to `end` (exclusive) that lie
 * contiguously in the pattern: sets *p, returns how many (0 at the end). */
size_t tpat_at(uint64_t off, uint64_t end, const uint8_t **p);
/* SHA-256 of the first n bytes of the stream. */
void tpat_sha256(uint64_t n, uint8_t out[32]);

/* A receiving end: hashes and counts what arrives. */
struct tpat_sink {
	gnutls_hash_hd_t h;
	uint64_t n;
};
void tpat_sink_init(struct tpat_sink *s);
void tpat_sink_add(struct tpat_sink *s, const void *p, size_t n);
/* The digest of what arrived (the sink is then done; again: no-op). */
void tpat_sink_done(struct tpat_sink *s, uint8_t out[32]);
/* What arrived is the first s->n bytes of the stream (the sink is done). */
int tpat_sink_matches(struct tpat_sink *s);
#endif
