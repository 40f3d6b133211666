#ifndef PN_RELAY_WSFRAME_H
#define PN_RELAY_WSFRAME_H
/*
 * WebSocket framing (RFC 6455 section 5), sans-I/O: what the relay's
 * WebSocket carrier needs and nothing more (no extensions).
 *
 * The carrier's binary messages carry one TLS byte stream, so message
 * boundaries mean nothing to it: the decoder hands out payload bytes as
 * they arrive, unmasked in place, without reassembling a message or
 * allocating.  The encoder writes one final frame per call.
 */
#include <stddef.h>
#include <stdint.h>

#define PN_WS_HDR_MAX	 14  /* 2 + 8 (64-bit length) + 4 (mask) */
#define PN_WS_CTL_MAX	 125 /* control frame payload */
#define PN_WS_OP_CONT	 0x0
#define PN_WS_OP_TEXT	 0x1
#define PN_WS_OP_BINARY 0x2
#define PN_WS_OP_CLOSE	 0x8
#define PN_WS_OP_PING	 0x9
#define PN_WS_OP_PONG	 0xa

/*
 * The header of a final (FIN) frame of `opcode` carrying `len` payload
 * bytes into out; with a mask key (a client's frames) the payload must be
 * masked with pn_ws_mask(.., key, 0).  Returns the header length (2..14).
 */
size_t pn_ws_frame_hdr(uint8_t out[PN_WS_HDR_MAX], unsigned opcode, uint64_t len,
		       const uint8_t key[4]);

/* dst[i] = src[i] ^ key[(off + i) % 4] (dst == src allowed): masking and
 * unmasking, `off` being the position in the frame's payload. */
void pn_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t off);

/* Decoder state (caller-owned; zero it, then set `server` and `max_msg`). */
struct pn_ws_rx {
	int server;	  /* 1: frames must be masked (from a client); 0: must not be */
	uint64_t max_msg; /* bound on one data message's total length (0: none) */
	/* private */
	uint8_t hdr[PN_WS_HDR_MAX];
	unsigned hlen, hneed;
	unsigned op, fin, msg_op; /* msg_op: data message in progress (0: none) */
	uint64_t left, off, msg_len;
	uint8_t key[4];
	int masked;
	uint8_t ctl[PN_WS_CTL_MAX];
};

struct pn_ws_rx_ops {
	/* Payload bytes of a binary message (unmasked; valid during the call).
	 * 0, or an error that stops the decoder (returned by pn_ws_rx_feed). */
	int (*data)(void *user, const uint8_t *p, size_t n);
	/* A whole control frame: PN_WS_OP_PING, _PONG or _CLOSE. 0 or an error. */
	int (*control)(void *user, unsigned opcode, const uint8_t *p, size_t n);
};

/*
 * Feed n bytes (any split of the stream: frames may straddle calls).  p is
 * unmasked in place.  Text messages are read and ignored.  Returns 0,
 * PN_E_MALFORMED (reserved bits or opcode, a fragmented or oversized
 * control frame, wrong masking for the side, a continuation outside a
 * message or a new message inside one, a length with its top bit set),
 * PN_E_TOOBIG (a message over max_msg), or a callback's error.  After an
 * error the stream is unusable.
 */
int pn_ws_rx_feed(struct pn_ws_rx *rx, uint8_t *p, size_t n, const struct pn_ws_rx_ops *ops,
		  void *user);
#endif
