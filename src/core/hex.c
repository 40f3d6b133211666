#include "core/err.h"
#include "core/hex.h"

void pn_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int pn_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return PN_E_MALFORMED;
}

int pn_hex_decode(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		/* A NUL is not a digit: a short string stops here, never reading
		 * past its end. */
		if ((hi = pn_hex_digit(hex[2 * i])) < 0 || (lo = pn_hex_digit(hex[2 * i + 1])) < 0)
			return PN_E_MALFORMED;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : PN_E_MALFORMED;
}
