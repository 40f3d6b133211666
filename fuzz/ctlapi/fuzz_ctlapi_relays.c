/* The relay list parser: the input is tried as relays.json and, NUL-
 * terminated, as a --relay spec, an endpoint and a WebSocket URL.  Every
 * accepted entry must re-validate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ctlapi/relays.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_relay_entry out[PN_RELAYS_MAX], e;
	struct pn_relay_endpoint ep;
	struct pn_relay_wsurl u;
	const char *why;
	size_t n = 0;
	char *s;

	if (pn_relays_parse_json((const char *)data, size, out, PN_RELAYS_MAX, &n, NULL, NULL) == 0)
		for (size_t i = 0; i < n; i++) {
			if ((*out[i].udp && pn_relay_endpoint_parse(out[i].udp, &ep, NULL)) ||
			    (*out[i].tls && pn_relay_endpoint_parse(out[i].tls, &ep, NULL)) ||
			    (*out[i].ws && pn_relay_wsurl_parse(out[i].ws, &u, NULL)))
				abort();
		}
	if (size > 2048 || !(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pn_relay_spec_parse(s, &e, &why) == 0 && *e.ws && pn_relay_wsurl_parse(e.ws, &u, NULL))
		abort();
	(void)pn_relay_endpoint_parse(s, &ep, &why);
	if (pn_relay_wsurl_parse(s, &u, &why) == 0 && (u.path[0] != '/' || !u.ep.port))
		abort();
	free(s);
	return 0;
}
