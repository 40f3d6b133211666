/*
 * Destination and pattern parsers (flow requests name destinations as
 * untrusted text).  Properties: a parsed pattern is canonical
 * (pn_dest_pattern_check), formats and re-parses to the same pattern; a
 * parsed destination formats and re-parses to the same destination, and
 * matches itself as an exact pattern when it is a name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "trust/dest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[PN_DEST_TEXT_MAX + 2], out[PN_DEST_TEXT_MAX + 8];
	struct pn_dest d, d2;
	struct pn_dest_pattern p, p2;

	if (pn_dest_parse((const char *)data, size, &d) == 0) {
		if (pn_dest_format(&d, out, sizeof(out)) != 0 ||
		    pn_dest_parse(out, strlen(out), &d2) != 0 || memcmp(&d, &d2, sizeof(d)) != 0)
			abort();
		if (d.kind == PN_DEST_NAME) {
			if (pn_dest_pattern_parse(out, &p) != 0 || !pn_dest_match(&p, &d))
				abort();
		}
	}
	if (size > PN_DEST_TEXT_MAX + 1)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pn_dest_pattern_parse(text, &p) == 0) {
		if (pn_dest_pattern_check(&p) != 0 ||
		    pn_dest_pattern_format(&p, out, sizeof(out)) != 0 ||
		    pn_dest_pattern_parse(out, &p2) != 0 || memcmp(&p, &p2, sizeof(p)) != 0)
			abort();
	}
	return 0;
}
