/*
 * libFuzzer harness for transparent mode's ICMP echo parser: the input is
 * an IP packet as the kernel hands it over.  Invariants: a parsed request's
 * data lies inside the input; the reply and the "prohibited" built from it
 * fit and parse back as an IP packet of the right length.
 */
#include <stdint.h>
#include <stdlib.h>

#include "client/icmp_pkt.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_icmp_echo e;
	uint8_t out[PN_ICMP_PKT_MAX];
	size_t n;

	if (pn_icmp_parse_request(data, size, &e) != 0)
		return 0;
	if (e.data < data || e.data + e.dlen > data + size || (e.family != 4 && e.family != 6))
		abort();
	if (pn_icmp_build_reply(&e, e.seq, e.data, e.dlen, out, sizeof(out), &n) == 0 &&
	    (n > sizeof(out) ||
	     (e.family == 4 ? pn_load_be16(out + 2) != n : pn_load_be16(out + 4) + 40u != n)))
		abort();
	if (pn_icmp_build_prohibited(&e, data, size, out, sizeof(out), &n) == 0 &&
	    (n > sizeof(out) ||
	     (e.family == 4 ? pn_load_be16(out + 2) != n : pn_load_be16(out + 4) + 40u != n)))
		abort();
	return 0;
}
