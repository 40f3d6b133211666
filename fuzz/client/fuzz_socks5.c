/*
 * libFuzzer harness for the SOCKS5 server codec: the first byte picks a
 * chunk size, the rest is fed as a client's byte stream in chunks of that
 * size (exercising incremental parsing); the same bytes are also parsed as
 * a UDP ASSOCIATE datagram.  Invariants checked: consumed never exceeds
 * the input, replies fit the promised bound, a request always carries a
 * valid command and, for names, a NUL-terminated lower-case name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/socks5.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_socks5_srv s;
	struct pn_socks5_request req;
	struct pn_socks5_addr a;
	uint8_t outst[PN_SOCKS5_MAX_REPLY * 4];
	struct pn_buf out;
	const uint8_t *p;
	size_t chunk, pos = 0, n;
	char str[300];

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 16 + 1;
	data++;
	size--;

	if (pn_socks5_udp_parse(data, size, &a, &p, &n) == 0) {
		if (p < data || p + n != data + size)
			abort();
		pn_socks5_addr_str(&a, str, sizeof(str));
	}

	pn_socks5_srv_init(&s);
	while (pos < size) {
		size_t take = size - pos < chunk ? size - pos : chunk, c = 0;
		int r;

		pn_buf_init_wr(&out, outst, sizeof(outst));
		r = pn_socks5_srv_feed(&s, data + pos, take, &c, &out, &req);
		if (c > take)
			abort();
		if (pn_buf_len(&out) > PN_SOCKS5_MAX_REPLY)
			abort();
		pos += c;
		if (r < 0)
			break;
		if (r == PN_SOCKS5_EV_REQUEST) {
			if (req.cmd != PN_SOCKS5_CMD_CONNECT &&
			    req.cmd != PN_SOCKS5_CMD_UDP_ASSOCIATE)
				abort();
			if (req.dst.atyp == PN_SOCKS5_ATYP_DOMAIN) {
				if (strnlen(req.dst.u.name, sizeof(req.dst.u.name)) >=
				    sizeof(req.dst.u.name))
					abort();
				for (const char *q = req.dst.u.name; *q; q++)
					if (*q >= 'A' && *q <= 'Z')
						abort();
			}
			pn_socks5_addr_str(&req.dst, str, sizeof(str));
			if (pn_socks5_srv_reply(&s, &out, (uint8_t)(pos % 9), &req.dst) != 0)
				abort();
			break;
		}
		if (c != take)
			abort();
	}
	return 0;
}
