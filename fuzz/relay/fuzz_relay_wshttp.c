/* Fuzz the WebSocket upgrade request/response head parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/wire.h"
#include "relay/wshttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char head[PN_RELAY_MAX_HTTP_REQUEST + 1], accept[PN_WS_ACCEPT_LEN + 1];

	/* The glue hands over at most this much, NUL-terminated, without NULs. */
	if (size > PN_RELAY_MAX_HTTP_REQUEST || memchr(data, 0, size))
		return 0;
	memcpy(head, data, size);
	head[size] = '\0';
	(void)pn_ws_parse_request(head, "/postern", accept);
	(void)pn_ws_check_response(head, "dGhlIHNhbXBsZSBub25jZQ==");
	return 0;
}
