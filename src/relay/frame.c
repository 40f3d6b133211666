#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "relay/frame.h"

int pn_relay_frame_next(const uint8_t *p, size_t n, struct pn_relay_frame *f, size_t *used)
{
	size_t len;

	if (n < PN_RELAY_FRAME_HDR)
		return PN_E_TRUNCATED;
	if (p[0] < PN_RELAY_F_REGISTER || p[0] > PN_RELAY_F_LAST)
		return PN_E_MALFORMED;
	/* A u16 cannot exceed PN_RELAY_MAX_FRAME_BODY; wait for the whole body. */
	len = pn_load_be16(p + 1);
	if (len > n - PN_RELAY_FRAME_HDR)
		return PN_E_TRUNCATED;
	f->type = p[0];
	f->body = p + PN_RELAY_FRAME_HDR;
	f->len = len;
	*used = PN_RELAY_FRAME_HDR + len;
	return 0;
}

int pn_relay_msg_decode(const struct pn_relay_frame *f, struct pn_relay_msg *m)
{
	struct pn_buf b;
	uint32_t u;
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->type = f->type;
	pn_buf_init_ro(&b, f->body, f->len);
	switch (f->type) {
	case PN_RELAY_F_REGISTER: break;
	case PN_RELAY_F_REGISTERED:
		if ((r = pn_buf_get_u32(&b, &m->keepalive_ms)) ||
		    (r = pn_buf_get_u32(&b, &m->idle_ms)))
			return r;
		break;
	case PN_RELAY_F_OPEN:
		if ((r = pn_buf_get_u32(&b, &m->tag)) ||
		    (r = pn_buf_get_bytes(&b, m->id, PN_RELAY_ID_LEN)))
			return r;
		/* The ACL is verified later; bound it before anything looks at it. */
		if ((r = pn_buf_get_lv16(&b, PN_RELAY_MAX_ACL, &m->acl, &m->acl_len)))
			return r;
		if (m->acl_len == 0)
			return PN_E_MALFORMED;
		break;
	case PN_RELAY_F_OPENED:
		if ((r = pn_buf_get_u32(&b, &m->tag)) ||
		    (r = pn_buf_get_bytes(&b, m->sid, PN_RELAY_SID_LEN)) ||
		    (r = pn_buf_get_bytes(&b, m->secret, PN_RELAY_SECRET_LEN)) ||
		    (r = pn_buf_get_u32(&b, &m->idle_ms)))
			return r;
		break;
	case PN_RELAY_F_SESSION:
		if ((r = pn_buf_get_bytes(&b, m->sid, PN_RELAY_SID_LEN)) ||
		    (r = pn_buf_get_bytes(&b, m->id, PN_RELAY_ID_LEN)) ||
		    (r = pn_buf_get_bytes(&b, m->secret, PN_RELAY_SECRET_LEN)) ||
		    (r = pn_buf_get_u32(&b, &m->idle_ms)))
			return r;
		break;
	case PN_RELAY_F_CLOSE:
		if ((r = pn_buf_get_bytes(&b, m->sid, PN_RELAY_SID_LEN)) ||
		    (r = pn_buf_get_u32(&b, &u)))
			return r;
		m->code = (int32_t)u;
		break;
	case PN_RELAY_F_ERROR:
		if ((r = pn_buf_get_u32(&b, &m->tag)) || (r = pn_buf_get_u32(&b, &u)))
			return r;
		m->code = (int32_t)u;
		break;
	case PN_RELAY_F_PING:
	case PN_RELAY_F_PONG:
		if ((r = pn_buf_get_u64(&b, &m->opaque)))
			return r;
		break;
	case PN_RELAY_F_DATA:
		if ((r = pn_buf_get_bytes(&b, m->sid, PN_RELAY_SID_LEN)))
			return r;
		m->payload_len = pn_buf_len(&b);
		/* Same limit as UDP so either side can move the session between carriers. */
		if (m->payload_len == 0)
			return PN_E_MALFORMED;
		if (m->payload_len > PN_RELAY_MAX_PAYLOAD)
			return PN_E_TOOBIG;
		pn_buf_get_view(&b, m->payload_len, &m->payload);
		break;
	case PN_RELAY_F_RENEW:
		/* Bounded before anything parses it; verified by the relay. */
		if ((r = pn_buf_get_lv16(&b, PN_RELAY_MAX_CERT, &m->cert, &m->cert_len)))
			return r;
		if (m->cert_len == 0)
			return PN_E_MALFORMED;
		break;
	case PN_RELAY_F_RENEWED:
		if ((r = pn_buf_get_u64(&b, &m->not_after)))
			return r;
		break;
	default: return PN_E_MALFORMED;
	}
	return pn_buf_expect_end(&b);
}

int pn_relay_msg_encode(const struct pn_relay_msg *m, struct pn_buf *out)
{
	uint8_t body[PN_RELAY_ID_LEN + PN_RELAY_SID_LEN + PN_RELAY_SECRET_LEN + 16];
	struct pn_buf b;
	size_t save = out->wpos;
	const uint8_t *tail = NULL;
	size_t tail_len = 0;
	int r = 0;

	pn_buf_init_wr(&b, body, sizeof(body));
	switch (m->type) {
	case PN_RELAY_F_REGISTER: break;
	case PN_RELAY_F_REGISTERED:
		r = pn_buf_put_u32(&b, m->keepalive_ms) ?: pn_buf_put_u32(&b, m->idle_ms);
		break;
	case PN_RELAY_F_OPEN:
		if (m->acl_len == 0 || m->acl_len > PN_RELAY_MAX_ACL)
			return PN_E_INVAL;
		r = pn_buf_put_u32(&b, m->tag) ?: pn_buf_put_bytes(&b, m->id, PN_RELAY_ID_LEN) ?:
		    pn_buf_put_u16(&b, (uint16_t)m->acl_len);
		tail = m->acl;
		tail_len = m->acl_len;
		break;
	case PN_RELAY_F_OPENED:
		r = pn_buf_put_u32(&b, m->tag) ?: pn_buf_put_bytes(&b, m->sid, PN_RELAY_SID_LEN) ?:
		    pn_buf_put_bytes(&b, m->secret, PN_RELAY_SECRET_LEN) ?: pn_buf_put_u32(&b, m->idle_ms);
		break;
	case PN_RELAY_F_SESSION:
		r = pn_buf_put_bytes(&b, m->sid, PN_RELAY_SID_LEN) ?: pn_buf_put_bytes(&b, m->id, PN_RELAY_ID_LEN) ?:
		    pn_buf_put_bytes(&b, m->secret, PN_RELAY_SECRET_LEN) ?: pn_buf_put_u32(&b, m->idle_ms);
		break;
	case PN_RELAY_F_CLOSE:
		r = pn_buf_put_bytes(&b, m->sid, PN_RELAY_SID_LEN)
			?: pn_buf_put_u32(&b, (uint32_t)m->code);
		break;
	case PN_RELAY_F_ERROR:
		r = pn_buf_put_u32(&b, m->tag) ?: pn_buf_put_u32(&b, (uint32_t)m->code);
		break;
	case PN_RELAY_F_PING:
	case PN_RELAY_F_PONG: r = pn_buf_put_u64(&b, m->opaque); break;
	case PN_RELAY_F_DATA:
		if (m->payload_len == 0 || m->payload_len > PN_RELAY_MAX_PAYLOAD)
			return PN_E_INVAL;
		r = pn_buf_put_bytes(&b, m->sid, PN_RELAY_SID_LEN);
		tail = m->payload;
		tail_len = m->payload_len;
		break;
	case PN_RELAY_F_RENEW:
		if (m->cert_len == 0 || m->cert_len > PN_RELAY_MAX_CERT)
			return PN_E_INVAL;
		r = pn_buf_put_u16(&b, (uint16_t)m->cert_len);
		tail = m->cert;
		tail_len = m->cert_len;
		break;
	case PN_RELAY_F_RENEWED: r = pn_buf_put_u64(&b, m->not_after); break;
	default: return PN_E_INVAL;
	}
	if (r)
		return PN_E_INTERNAL;
	if ((r = pn_buf_put_u8(out, m->type)) ||
	    (r = pn_buf_put_u16(out, (uint16_t)(pn_buf_len(&b) + tail_len))) ||
	    (r = pn_buf_put_bytes(out, pn_buf_ptr(&b), pn_buf_len(&b))) ||
	    (r = pn_buf_put_bytes(out, tail, tail_len))) {
		out->wpos = save; /* all or nothing (a grown buffer keeps its storage) */
		goto out;
	}
out:
	pn_wipe(body, sizeof(body));
	return r;
}

void pn_relay_data_frame_hdr(uint8_t out[PN_RELAY_DATA_FRAME_HDR],
			     const uint8_t sid[PN_RELAY_SID_LEN], size_t n)
{
	out[0] = PN_RELAY_F_DATA;
	pn_store_be16(out + 1, (uint16_t)(PN_RELAY_SID_LEN + n));
	memcpy(out + 3, sid, PN_RELAY_SID_LEN);
}
