#ifndef PN_CORE_SECRET_H
#define PN_CORE_SECRET_H
/* Secret hygiene: wiping that the compiler cannot elide, constant-time compare. */
#include <stddef.h>
#include <stdint.h>

/* Overwrite n bytes with zeros; never optimised away.  NULL-safe. */
void pn_wipe(void *p, size_t n);
/* Wipe n bytes, then free(p).  NULL-safe. */
void pn_wipe_free(void *p, size_t n);
/* Wipe a heap string (its strlen), then free it.  NULL-safe. */
void pn_wipe_free_str(char *s);
/* 0 if equal.  Time depends only on n, never on the contents. */
int pn_ct_memcmp(const void *a, const void *b, size_t n);
/* Fill with cryptographically strong random bytes: 0 or PN_E_CRYPTO. */
int pn_random(void *p, size_t n);
#endif
