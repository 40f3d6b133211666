/*
 * Writes the seeds of fuzz_tunnel_conn (fuzz/tunnel/corpus/conn/NAME):
 *   tunnel_gen_corpus <dir>
 * A real client and server (fzconn.h) handshake in memory; what each side
 * received is written in the fuzzer's format (mode byte, then 16-bit
 * length + datagram): "server" (mode 0, relay path), "server_retry" (mode
 * 2: the Initial, the Retry round trip, the Initial with its token) and
 * "client" (mode 1).  The client's connection ids come from the fixed
 * pn_random sequence, so its Initial keys, and the server's Initial
 * packets, are the same in the fuzzer.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fzconn.h"

static uint8_t tx[PN_TCONN_TX_BUF];

struct rec {
	uint8_t buf[1 << 16];
	size_t len;
};

static void rec_add(struct rec *r, const uint8_t *p, size_t n)
{
	if (r->len + 2 + n > sizeof(r->buf))
		return;
	r->buf[r->len++] = (uint8_t)(n >> 8);
	r->buf[r->len++] = (uint8_t)n;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

static void put(const char *dir, const char *name, const struct rec *r)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(r->buf, 1, r->len, f) != r->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* One handshake; retry: the server checks addresses (Retry first). */
static void run(struct fzc *f, int retry, struct rec *to_sv, struct rec *to_cl)
{
	struct pn_tconn_config ccfg, scfg;
	struct pn_tconn *cl = NULL, *sv = NULL;
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(40000)};
	uint64_t now = FZC_NOW0;

	from.sin_addr.s_addr = htonl(0xc6336407);
	fzc_reset();
	fzc_config(f, PN_TCONN_CLIENT, &ccfg);
	if (pn_tconn_client_new(&ccfg, pn_mempath_path(f->pa), now, &cl))
		exit(1);
	for (int step = 0; step < 400 && !(pn_tconn_handshake_done(cl) && sv &&
					   pn_tconn_handshake_done(sv) && step > 40);
	     step++) {
		struct pn_tconn_tx t = {.buf = tx};

		now += 1000000;
		/* client -> server */
		while (pn_tconn_write(cl, now, &t) == 0 && t.len) {
			for (size_t o = 0; o < t.len; o += t.seg ? t.seg : t.len) {
				size_t n = t.seg && t.len - o > t.seg ? t.seg : t.len - o;
				const uint8_t *p = tx + o;

				rec_add(to_sv, p, n);
				if (!sv) {
					uint8_t rb[PN_PATH_MAX_UDP_PAYLOAD];
					size_t rl = 0;
					int r;

					if (pn_tconn_accept_check(p, n))
						continue;
					fzc_config(f, PN_TCONN_SERVER, &scfg);
					if (retry) {
						r = pn_tconn_retry_check(
						    f->retry_secret, (struct sockaddr *)&from,
						    sizeof(from), p, n, now, rb, sizeof(rb), &rl,
						    &scfg);
						if (r == 1) {
							rec_add(to_cl, rb, rl);
							pn_tconn_read(cl, pn_mempath_path(f->pa),
								      rb, rl, now);
							continue;
						}
						if (r != 0)
							continue;
					}
					if (pn_tconn_server_new(&scfg, pn_mempath_path(f->pb), p, n,
								now, &sv))
						exit(1);
				}
				pn_tconn_read(sv, pn_mempath_path(f->pb), p, n, now);
			}
			t.len = 0;
		}
		/* server -> client */
		while (sv && pn_tconn_write(sv, now, &t) == 0 && t.len) {
			for (size_t o = 0; o < t.len; o += t.seg ? t.seg : t.len) {
				size_t n = t.seg && t.len - o > t.seg ? t.seg : t.len - o;

				rec_add(to_cl, tx + o, n);
				pn_tconn_read(cl, pn_mempath_path(f->pa), tx + o, n, now);
			}
			t.len = 0;
		}
		if (pn_tconn_expiry(cl) <= now)
			pn_tconn_handle_expiry(cl, now);
		if (sv && pn_tconn_expiry(sv) <= now)
			pn_tconn_handle_expiry(sv, now);
	}
	if (!sv || !pn_tconn_handshake_done(cl) || !pn_tconn_handshake_done(sv)) {
		fprintf(stderr, "handshake did not complete\n");
		exit(1);
	}
	pn_tconn_free(cl);
	pn_tconn_free(sv);
}

int main(int argc, char **argv)
{
	struct fzc *f = fzc_get();
	static struct rec sv, cl, svr, clr;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <dir>\n", argv[0]);
		return 2;
	}
	sv.buf[sv.len++] = 0;
	cl.buf[cl.len++] = 1;
	svr.buf[svr.len++] = 2;
	clr.buf[clr.len++] = 1;
	run(f, 0, &sv, &cl);
	run(f, 1, &svr, &clr);
	put(argv[1], "server", &sv);
	put(argv[1], "client", &cl);
	put(argv[1], "server_retry", &svr);
	put(argv[1], "client_retry", &clr);
	return 0;
}
