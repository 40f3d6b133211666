/*
 * libFuzzer: arbitrary packets to a live tunnel connection, as ngtcp2's own
 * packet fuzzer does, on a fixed clock (fzconn.h).  Input: a mode byte,
 * then datagrams, each a 16-bit big-endian length and its bytes:
 *   mode 0  server (connector) on a relay path: the first datagram that
 *           passes pn_tconn_accept_check creates the connection (as the
 *           endpoint does), every datagram is read;
 *   mode 1  client: a connection to the pinned connector is started, its
 *           first flight written, then every datagram is read as if from
 *           the connector;
 *   mode 2  server on a UDP socket: an Initial must first pass the
 *           address-validation check (pn_tconn_retry_check: Retry tokens).
 * After each datagram the connection writes everything it has and the
 * clock moves 1 ms (timers run when due).  Seeds (corpus/conn) are real
 * handshakes recorded by tunnel_gen_corpus.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "fzconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t txbuf[PN_TCONN_TX_BUF];

/* Write everything the connection has (bounded), run its timer if due. */
static int pump(struct pn_tconn *c, uint64_t now)
{
	struct pn_tconn_tx tx = {.buf = txbuf};

	for (int i = 0; i < 32; i++) {
		tx.len = 0;
		if (pn_tconn_write(c, now, &tx) != 0)
			return -1;
		if (tx.len == 0)
			break;
		if (tx.len > PN_TCONN_TX_BUF || (tx.npkts > 1 && tx.seg == 0))
			abort();
	}
	if (pn_tconn_expiry(c) <= now && pn_tconn_handle_expiry(c, now) != 0)
		return -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fzc *f = fzc_get();
	struct pn_tconn_config cfg;
	struct pn_tconn *c = NULL;
	struct pn_tconn_tx tx = {.buf = txbuf};
	struct pn_path *path;
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(40000)};
	uint64_t now = FZC_NOW0;
	size_t off = 1;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	fzc_reset();
	from.sin_addr.s_addr = htonl(0xc6336407); /* 198.51.100.7 */
	if (mode == 1) {
		path = pn_mempath_path(f->pa);
		fzc_config(f, PN_TCONN_CLIENT, &cfg);
		if (pn_tconn_client_new(&cfg, path, now, &c) != 0)
			abort();
		if (pump(c, now))
			goto out;
	} else {
		path = pn_mempath_path(f->pb);
	}
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		const uint8_t *p = data + off + 2;

		if (n > size - off - 2)
			break;
		off += 2 + n;
		now += 1000000;
		if (!c) {
			uint8_t retry[PN_PATH_MAX_UDP_PAYLOAD];
			size_t rlen = 0;
			int r;

			if (pn_tconn_accept_check(p, n) != 0)
				continue;
			fzc_config(f, PN_TCONN_SERVER, &cfg);
			if (mode == 2) {
				r = pn_tconn_retry_check(f->retry_secret, (struct sockaddr *)&from,
							 sizeof(from), p, n, now, retry,
							 sizeof(retry), &rlen, &cfg);
				if (r == 1 && (rlen == 0 || rlen >= n))
					abort(); /* a Retry is never larger than the Initial */
				if (r != 0)
					continue;
			}
			if (pn_tconn_server_new(&cfg, path, p, n, now, &c) != 0)
				continue;
		}
		if (pn_tconn_read(c, path, p, n, now) != 0)
			break;
		if (pump(c, now))
			break;
	}
out:
	if (c) {
		pn_tconn_close(c, 0, "fuzz", now, &tx);
		pn_tconn_free(c);
	}
	return 0;
}
