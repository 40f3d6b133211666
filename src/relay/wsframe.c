/* WebSocket framing, sans-I/O (relay/wsframe.h). */
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "relay/wsframe.h"

size_t pn_ws_frame_hdr(uint8_t out[PN_WS_HDR_MAX], unsigned opcode, uint64_t len,
		       const uint8_t key[4])
{
	size_t h = 2;

	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] = 126;
		pn_store_be16(out + 2, (uint16_t)len);
		h = 4;
	} else {
		out[1] = 127;
		pn_store_be64(out + 2, len);
		h = 10;
	}
	if (key) {
		out[1] |= 0x80;
		memcpy(out + h, key, 4);
		h += 4;
	}
	return h;
}

void pn_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t off)
{
	uint8_t k[8];
	uint64_t w, kw;
	size_t i = 0;

	/* The key rotated to this offset, twice: eight bytes at a time. */
	for (unsigned j = 0; j < 8; j++)
		k[j] = key[(off + j) & 3];
	memcpy(&kw, k, 8);
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= kw;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = (uint8_t)(src[i] ^ k[i & 7]);
}

/* Bytes of header still needed once the first two are known. */
static unsigned hdr_len(const uint8_t h[2])
{
	unsigned l = h[1] & 0x7f, n = 2;

	n += l == 126 ? 2 : l == 127 ? 8 : 0;
	return n + ((h[1] & 0x80) ? 4 : 0);
}

/* A complete header in rx->hdr: check it, start the frame. */
static int frame_start(struct pn_ws_rx *rx)
{
	const uint8_t *h = rx->hdr;
	unsigned op = h[0] & 0x0f, l7 = h[1] & 0x7f;
	uint64_t len = l7;
	unsigned pos = 2;

	if (h[0] & 0x70) /* RSV1-3: no extension was negotiated */
		return PN_E_MALFORMED;
	rx->masked = !!(h[1] & 0x80);
	if (rx->masked != !!rx->server) /* section 5.1: clients mask, servers do not */
		return PN_E_MALFORMED;
	if (l7 == 126) {
		len = pn_load_be16(h + 2);
		pos = 4;
	} else if (l7 == 127) {
		len = pn_load_be64(h + 2);
		pos = 10;
		if (len >> 63) /* section 5.2: the most significant bit must be 0 */
			return PN_E_MALFORMED;
	}
	if (rx->masked)
		memcpy(rx->key, h + pos, 4);
	rx->op = op;
	rx->fin = !!(h[0] & 0x80);
	rx->left = len;
	rx->off = 0;
	if (op >= 0x8) {
		/* Control frames: PING, PONG, CLOSE only; final, short. */
		if ((op != PN_WS_OP_CLOSE && op != PN_WS_OP_PING && op != PN_WS_OP_PONG) ||
		    !rx->fin || len > PN_WS_CTL_MAX)
			return PN_E_MALFORMED;
		return 0;
	}
	if (op == PN_WS_OP_CONT) {
		if (!rx->msg_op)
			return PN_E_MALFORMED;
	} else if (op == PN_WS_OP_TEXT || op == PN_WS_OP_BINARY) {
		if (rx->msg_op)
			return PN_E_MALFORMED;
		rx->msg_op = op;
		rx->msg_len = 0;
	} else {
		return PN_E_MALFORMED;
	}
	/* The bound holds for the whole message, checked before any byte of it. */
	if (rx->max_msg && len > rx->max_msg - rx->msg_len)
		return PN_E_TOOBIG;
	rx->msg_len += len;
	return 0;
}

/* The current frame is complete. */
static int frame_end(struct pn_ws_rx *rx, const struct pn_ws_rx_ops *ops, void *user)
{
	rx->hlen = 0;
	if (rx->op >= 0x8)
		return ops->control(user, rx->op, rx->ctl, (size_t)rx->off);
	if (rx->fin)
		rx->msg_op = 0;
	return 0;
}

int pn_ws_rx_feed(struct pn_ws_rx *rx, uint8_t *p, size_t n, const struct pn_ws_rx_ops *ops,
		  void *user)
{
	int r;

	while (n) {
		if (rx->hlen < 2 || rx->hlen < rx->hneed) {
			/* Header bytes: at most PN_WS_HDR_MAX, gathered across calls. */
			if (rx->hlen < 2) {
				rx->hdr[rx->hlen++] = *p++;
				n--;
				if (rx->hlen == 2)
					rx->hneed = hdr_len(rx->hdr);
			} else {
				size_t k = rx->hneed - rx->hlen < n ? rx->hneed - rx->hlen : n;
				memcpy(rx->hdr + rx->hlen, p, k);
				rx->hlen += (unsigned)k;
				p += k;
				n -= k;
			}
			if (rx->hlen < 2 || rx->hlen < rx->hneed)
				continue;
			if ((r = frame_start(rx)))
				return r;
			if (rx->left == 0 && (r = frame_end(rx, ops, user)))
				return r;
			continue;
		}
		/* Payload: in place, as much as this call has. */
		size_t k = rx->left < n ? (size_t)rx->left : n;
		if (rx->masked)
			pn_ws_mask(p, p, k, rx->key, rx->off);
		if (rx->op >= 0x8) {
			memcpy(rx->ctl + rx->off, p, k); /* off + k <= PN_WS_CTL_MAX */
		} else if (rx->msg_op == PN_WS_OP_BINARY && (r = ops->data(user, p, k))) {
			return r;
		}
		rx->off += k;
		rx->left -= k;
		p += k;
		n -= k;
		if (rx->left == 0 && (r = frame_end(rx, ops, user)))
			return r;
	}
	return 0;
}
