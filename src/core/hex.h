#ifndef PN_CORE_HEX_H
#define PN_CORE_HEX_H
/* Lowercase hexadecimal: ids, fingerprints, serials, hashes in text. */
#include <stddef.h>
#include <stdint.h>

/* n bytes as 2n lowercase hex digits and a NUL into out[2n + 1]. */
void pn_hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2n hex digits (either case) then NUL into out[n].  0 or
 * PN_E_MALFORMED (out may be partly written). */
int pn_hex_decode(const char *hex, uint8_t *out, size_t n);
/* The value of one hex digit (either case), or PN_E_MALFORMED. */
int pn_hex_digit(char c);
#endif
