/* pn-relay-bench: the coturn side (TURN, RFC 8656, long-term credentials):
 * Allocate and ChannelBind per client socket, then ChannelData at full
 * rate through blast() (relay_bench.c). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <nettle/hmac.h>
#include <nettle/md5.h>

#include "core/buf.h"
#include "relay/server.h"

#include "relay_bench.h"

/* ---- coturn: TURN (RFC 8656) with long-term credentials ---- */

#define STUN_MAGIC 0x2112A442u

struct stunb {
	uint8_t b[512];
	size_t n;
};

static void st_init(struct stunb *m, uint16_t type, uint8_t txid[12])
{
	gnutls_rnd(GNUTLS_RND_NONCE, txid, 12);
	pn_store_be16(m->b, type);
	pn_store_be16(m->b + 2, 0);
	pn_store_be32(m->b + 4, STUN_MAGIC);
	memcpy(m->b + 8, txid, 12);
	m->n = 20;
}

static void st_attr(struct stunb *m, uint16_t t, const void *v, size_t len)
{
	pn_store_be16(m->b + m->n, t);
	pn_store_be16(m->b + m->n + 2, (uint16_t)len);
	memcpy(m->b + m->n + 4, v, len);
	memset(m->b + m->n + 4 + len, 0, (4 - len % 4) % 4);
	m->n += 4 + ((len + 3) & ~(size_t)3);
	pn_store_be16(m->b + 2, (uint16_t)(m->n - 20));
}

static uint8_t lt_key[16];

/* MESSAGE-INTEGRITY: HMAC-SHA1 with MD5(user:realm:pass) over the message
 * whose length already counts the MI attribute (RFC 8489 §14.5). */
static void st_integrity(struct stunb *m)
{
	struct hmac_sha1_ctx h;
	uint8_t mac[20];

	pn_store_be16(m->b + 2, (uint16_t)(m->n - 20 + 24));
	hmac_sha1_set_key(&h, sizeof(lt_key), lt_key);
	hmac_sha1_update(&h, m->n, m->b);
	hmac_sha1_digest(&h, sizeof(mac), mac);
	st_attr(m, 0x0008, mac, sizeof(mac));
}

static const uint8_t *st_find(const uint8_t *p, size_t n, uint16_t type, size_t *len)
{
	size_t off = 20;
	while (off + 4 <= n) {
		uint16_t t = pn_load_be16(p + off), l = pn_load_be16(p + off + 2);
		if (off + 4 + l > n)
			return NULL;
		if (t == type) {
			*len = l;
			return p + off + 4;
		}
		off += 4 + ((l + 3u) & ~3u);
	}
	return NULL;
}

static char nonce[256];
static size_t nonce_len;

static ssize_t transact(int fd, const struct sockaddr_in *to, struct stunb *m, uint8_t *resp,
			size_t cap)
{
	for (int i = 0; i < 5; i++) {
		sendto(fd, m->b, m->n, 0, (const struct sockaddr *)to, sizeof(*to));
		ssize_t n = recv(fd, resp, cap, 0);
		if (n >= 20 && !memcmp(resp + 8, m->b + 8, 12))
			return n;
	}
	return -1;
}

static void put_xor_addr(uint8_t out[8], const struct sockaddr_in *a)
{
	out[0] = 0;
	out[1] = 1;
	pn_store_be16(out + 2, (uint16_t)(ntohs(a->sin_port) ^ (STUN_MAGIC >> 16)));
	pn_store_be32(out + 4, ntohl(a->sin_addr.s_addr) ^ STUN_MAGIC);
}

/* Allocate + ChannelBind(0x4000 -> peer) from fd.  0 or -1. */
static int turn_setup(int fd, const struct sockaddr_in *srv, const struct sockaddr_in *peer)
{
	uint8_t txid[12], resp[1024], rt[4] = {17, 0, 0, 0}, ch[4] = {0x40, 0x00, 0, 0}, xa[8];
	struct stunb m;
	ssize_t n;
	size_t l;
	const uint8_t *v;

	set_timeout(fd, 500);
	for (int attempt = 0; attempt < 2; attempt++) {
		st_init(&m, 0x0003, txid);
		st_attr(&m, 0x0019, rt, 4);
		if (nonce_len) {
			st_attr(&m, 0x0006, turn_user, strlen(turn_user));
			st_attr(&m, 0x0014, realm, strlen(realm));
			st_attr(&m, 0x0015, nonce, nonce_len);
			st_integrity(&m);
		}
		if ((n = transact(fd, srv, &m, resp, sizeof(resp))) < 0)
			return -1;
		if (pn_load_be16(resp) == 0x0103)
			break;
		/* 401/438: take the nonce and retry authenticated. */
		if (!(v = st_find(resp, (size_t)n, 0x0015, &l)) || l >= sizeof(nonce))
			return -1;
		memcpy(nonce, v, l);
		nonce_len = l;
		if (attempt == 1)
			return -1;
	}
	st_init(&m, 0x0009, txid);
	st_attr(&m, 0x000C, ch, 4);
	put_xor_addr(xa, peer);
	st_attr(&m, 0x0012, xa, 8);
	st_attr(&m, 0x0006, turn_user, strlen(turn_user));
	st_attr(&m, 0x0014, realm, strlen(realm));
	st_attr(&m, 0x0015, nonce, nonce_len);
	st_integrity(&m);
	if ((n = transact(fd, srv, &m, resp, sizeof(resp))) < 0 || pn_load_be16(resp) != 0x0109)
		return -1;
	return 0;
}

int run_coturn(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in A, B, *srv = (struct sockaddr_in *)&ss;
	struct md5_ctx md5;
	char kbuf[256];
	int fb, *fds;
	unsigned ok = 0;

	if (pn_relay_parse_addr(server, &ss))
		die("address");
	snprintf(kbuf, sizeof(kbuf), "%s:%s:%s", turn_user, realm, pass);
	md5_init(&md5);
	md5_update(&md5, strlen(kbuf), (const uint8_t *)kbuf);
	md5_digest(&md5, sizeof(lt_key), lt_key);
	fb = udp_sock(&B);
	fds = calloc(nsess, sizeof(int));
	tx_fds = calloc(ntx, sizeof(int));
	unsigned nflows = 0;
	for (unsigned i = 0; i < nsess; i++) {
		/* A fresh socket per attempt: a half-made allocation is not retried. */
		for (int tries = 0; tries < 3; tries++) {
			fds[i] = udp_sock(&A);
			if (turn_setup(fds[i], srv, &B) == 0) {
				ok++;
				if (nflows < ntx)
					tx_fds[nflows++] = fds[i];
				break;
			}
			close(fds[i]);
		}
	}
	/* A few lost transactions must not spoil a 10k run: count what holds. */
	if (ok == 0 || ok < nsess - nsess / 100 || (!idle && nflows < ntx)) {
		fprintf(stderr, "coturn: %u of %u allocations\n", ok, nsess);
		return 1;
	}
	fprintf(stderr, "coturn: %u allocations with a channel bound\n", ok);
	if (idle) {
		nsess = ok;
		hold();
		return 0;
	}
	/* ChannelData: channel 0x4000, length, payload (a multiple of 4 needs no padding). */
	pkt_len = 4 + size;
	npk = 1;
	pkts = calloc(ntx, sizeof(*pkts));
	pkts[0] = calloc(1, pkt_len);
	pn_store_be16(pkts[0], 0x4000);
	pn_store_be16(pkts[0] + 2, (uint16_t)size);
	for (unsigned f = 1; f < ntx; f++)
		pkts[f] = pkts[0]; /* every allocation: its own channel 0x4000 */
	rx_fd = fb;
	memcpy(&tx_to, srv, sizeof(tx_to));
	blast();
	return 0;
}

