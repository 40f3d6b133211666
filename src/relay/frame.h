#ifndef PN_RELAY_FRAME_H
#define PN_RELAY_FRAME_H
/*
 * Stream framing (TLS / WebSocket carriers): type u8, len u16, body.
 * Sans-I/O: split a byte stream into frames, decode and encode bodies.
 * Layouts are in relay/wire.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "relay/wire.h"

/* One frame, viewing the caller's bytes. */
struct pn_relay_frame {
	uint8_t type;
	const uint8_t *body;
	size_t len;
};

/*
 * Take one frame from the front of p[0..n).  Returns 0 with *f and *used
 * (header + body), PN_E_TRUNCATED if more bytes are needed (nothing
 * used), or PN_E_MALFORMED for an unknown type (the stream is unusable).
 */
int pn_relay_frame_next(const uint8_t *p, size_t n, struct pn_relay_frame *f, size_t *used);

/* A decoded frame body.  Fields not in the type's layout are zero. */
struct pn_relay_msg {
	uint8_t type;
	uint32_t tag;
	int32_t code;
	uint32_t keepalive_ms, idle_ms;
	uint64_t opaque;
	uint8_t sid[PN_RELAY_SID_LEN];
	uint8_t id[PN_RELAY_ID_LEN];
	uint8_t secret[PN_RELAY_SECRET_LEN];
	const uint8_t *acl; /* OPEN: views the frame body */
	size_t acl_len;
	const uint8_t *payload; /* DATA: views the frame body */
	size_t payload_len;
	const uint8_t *cert; /* RENEW: views the frame body */
	size_t cert_len;
	uint64_t not_after; /* RENEWED */
};

/*
 * Decode a frame body by its type's layout.  0, PN_E_TRUNCATED (body too
 * short), PN_E_MALFORMED (trailing bytes, empty DATA / ACL / cert),
 * PN_E_TOOBIG (ACL, payload or cert above the limits).  The caller wipes m->secret when done.
 */
int pn_relay_msg_decode(const struct pn_relay_frame *f, struct pn_relay_msg *m);

/*
 * Append m as a complete frame (header + body) to out.  0, PN_E_NOSPACE /
 * PN_E_TOOBIG (out full), PN_E_INVAL (unknown type, oversize ACL/payload).
 */
int pn_relay_msg_encode(const struct pn_relay_msg *m, struct pn_buf *out);

/* The 11-byte header of a DATA frame carrying n payload bytes. */
#define PN_RELAY_DATA_FRAME_HDR (PN_RELAY_FRAME_HDR + PN_RELAY_SID_LEN)
void pn_relay_data_frame_hdr(uint8_t out[PN_RELAY_DATA_FRAME_HDR],
			     const uint8_t sid[PN_RELAY_SID_LEN], size_t n);
#endif
