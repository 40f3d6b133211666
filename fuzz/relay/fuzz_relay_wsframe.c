/* Fuzz the WebSocket frame decoder (relay/wsframe.h) from both sides, the
 * input cut at a point the first byte chooses (frames straddle feeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/wire.h"
#include "relay/wsframe.h"

static int on_data(void *user, const uint8_t *p, size_t n)
{
	volatile uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= p[i]; /* every byte handed out must be readable */
	(void)x;
	return 0;
}

static int on_control(void *user, unsigned op, const uint8_t *p, size_t n)
{
	if (n > PN_WS_CTL_MAX || (op != PN_WS_OP_PING && op != PN_WS_OP_PONG && op != PN_WS_OP_CLOSE))
		abort();
	return on_data(user, p, n);
}

static const struct pn_ws_rx_ops ops = {on_data, on_control};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	size_t cut;

	if (size < 1)
		return 0;
	cut = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	if (cut > size)
		cut = size;
	if (!(copy = malloc(size + 1)))
		return 0;
	for (int server = 0; server < 2; server++) {
		struct pn_ws_rx rx = {.server = server, .max_msg = PN_RELAY_MAX_WS_MESSAGE};
		memcpy(copy, data, size);
		if (pn_ws_rx_feed(&rx, copy, cut, &ops, NULL) == 0)
			(void)pn_ws_rx_feed(&rx, copy + cut, size - cut, &ops, NULL);
	}
	free(copy);
	return 0;
}
