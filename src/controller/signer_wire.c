/* The CA signer's frames (signer_wire.h): every length checked. */
#include <errno.h>
#include <string.h>

#include "controller/signer_wire.h"
#include "core/err.h"

static int known_op(unsigned op)
{
	return op == PN_SIGNER_OP_PING || op == PN_SIGNER_OP_CRED || op == PN_SIGNER_OP_ACL;
}

const char *pn_signer_op_name(unsigned op)
{
	switch (op) {
	case PN_SIGNER_OP_PING: return "ping";
	case PN_SIGNER_OP_CRED: return "cred";
	case PN_SIGNER_OP_ACL: return "acl";
	default: return "unknown";
	}
}

int pn_signer_hdr_decode(const uint8_t *p, size_t len, struct pn_signer_hdr *h)
{
	if (len < PN_SIGNER_HDR_LEN)
		return PN_E_TRUNCATED;
	if (pn_load_be16(p) != PN_SIGNER_MAGIC)
		return PN_E_MALFORMED;
	if (p[2] != PN_SIGNER_VERSION)
		return PN_E_UNSUPPORTED;
	if (!known_op(p[3]))
		return PN_E_MALFORMED;
	h->op = p[3];
	h->seq = pn_load_be32(p + 4);
	h->body_len = pn_load_be32(p + 8);
	/* The reader allocates body_len: bounded before anything else. */
	if (h->body_len > PN_SIGNER_BODY_MAX)
		return PN_E_TOOBIG;
	return 0;
}

/* Header of a whole frame of exactly len bytes; b is left on the body. */
static int frame_open(const uint8_t *p, size_t len, struct pn_signer_hdr *h, struct pn_buf *b)
{
	int r = pn_signer_hdr_decode(p, len, h);

	if (r < 0)
		return r;
	if ((size_t)h->body_len != len - PN_SIGNER_HDR_LEN)
		return (size_t)h->body_len > len - PN_SIGNER_HDR_LEN ? PN_E_TRUNCATED
								      : PN_E_MALFORMED;
	pn_buf_init_ro(b, p + PN_SIGNER_HDR_LEN, h->body_len);
	return 0;
}

/* Header with a body_len patched once the body is written. */
static int frame_begin(struct pn_buf *out, unsigned op, uint32_t seq, uint8_t **hdr)
{
	int r = pn_buf_reserve(out, PN_SIGNER_HDR_LEN, hdr);

	if (r < 0)
		return r;
	pn_store_be16(*hdr, PN_SIGNER_MAGIC);
	(*hdr)[2] = PN_SIGNER_VERSION;
	(*hdr)[3] = (uint8_t)op;
	pn_store_be32(*hdr + 4, seq);
	pn_store_be32(*hdr + 8, 0);
	return 0;
}

static int frame_end(struct pn_buf *out, size_t start)
{
	size_t body = pn_buf_len(out) - start - PN_SIGNER_HDR_LEN;

	if (body > PN_SIGNER_BODY_MAX)
		return PN_E_TOOBIG;
	/* the reserved header may have moved with a dynamic buffer's growth */
	pn_store_be32((uint8_t *)(uintptr_t)pn_buf_ptr(out) + start + 8, (uint32_t)body);
	return 0;
}

static int valid_type(unsigned t)
{
	return t == PN_CRED_CLIENT || t == PN_CRED_CONNECTOR || t == PN_CRED_RELAY;
}

static int get_cred(struct pn_buf *b, struct pn_signer_req *q)
{
	struct pn_cred_info *ci = &q->info;
	uint8_t type, ng;
	int r;

	if ((r = pn_buf_get_u8(b, &type)) < 0)
		return r;
	if (!valid_type(type))
		return PN_E_MALFORMED;
	ci->type = (enum pn_cred_type)type;
	/* each string's length is bounded by its array (PN_*_MAX + NUL) */
	if ((r = pn_buf_get_bytes(b, ci->id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_get_str8(b, ci->name, sizeof(ci->name))) < 0 ||
	    (r = pn_buf_get_str8(b, ci->user, sizeof(ci->user))) < 0 ||
	    (r = pn_buf_get_u8(b, &ng)) < 0)
		return r;
	/* group count bounded by the fixed array it fills */
	if (ng > PN_GROUPS_MAX)
		return PN_E_TOOBIG;
	for (unsigned i = 0; i < ng; i++)
		if ((r = pn_buf_get_str8(b, ci->groups[i], sizeof(ci->groups[i]))) < 0)
			return r;
	ci->ngroups = ng;
	if ((r = pn_buf_get_u64(b, &ci->policy_version)) < 0 ||
	    (r = pn_buf_get_u32(b, &q->lifetime_s)) < 0 ||
	    (r = pn_buf_get_bytes(b, q->pubkey, sizeof(q->pubkey))) < 0)
		return r;
	return 0;
}

int pn_signer_req_decode(const uint8_t *p, size_t len, struct pn_signer_req *q)
{
	struct pn_signer_hdr h;
	struct pn_buf b;
	int r;

	memset(q, 0, sizeof(*q));
	if ((r = frame_open(p, len, &h, &b)) < 0)
		return r;
	q->op = h.op;
	q->seq = h.seq;
	switch (h.op) {
	case PN_SIGNER_OP_PING: break;
	case PN_SIGNER_OP_CRED:
		if ((r = get_cred(&b, q)) < 0)
			return r;
		break;
	case PN_SIGNER_OP_ACL:
		/* the whole body is the list; its own decoder checks the rest */
		if (h.body_len < PN_SIGNER_ACL_MIN)
			return PN_E_TRUNCATED;
		if (h.body_len > PN_SIGNER_ACL_MAX)
			return PN_E_TOOBIG;
		q->acl = pn_buf_ptr(&b);
		q->acl_len = h.body_len;
		return 0;
	}
	return pn_buf_expect_end(&b) < 0 ? PN_E_MALFORMED : 0;
}

static int put_str8(struct pn_buf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	return n > max ? PN_E_INVAL : pn_buf_put_lv8(b, s, n);
}

int pn_signer_req_encode(const struct pn_signer_req *q, struct pn_buf *out)
{
	const struct pn_cred_info *ci = &q->info;
	size_t start = pn_buf_len(out);
	uint8_t *hdr;
	int r;

	if (!known_op(q->op))
		return PN_E_INVAL;
	if ((r = frame_begin(out, q->op, q->seq, &hdr)) < 0)
		return r;
	switch (q->op) {
	case PN_SIGNER_OP_PING: break;
	case PN_SIGNER_OP_CRED:
		if (!valid_type(ci->type) || ci->ngroups > PN_GROUPS_MAX)
			return PN_E_INVAL;
		if ((r = pn_buf_put_u8(out, (uint8_t)ci->type)) < 0 ||
		    (r = pn_buf_put_bytes(out, ci->id, PN_ID_LEN)) < 0 ||
		    (r = put_str8(out, ci->name, PN_NAME_MAX)) < 0 ||
		    (r = put_str8(out, ci->user, PN_USER_MAX)) < 0 ||
		    (r = pn_buf_put_u8(out, (uint8_t)ci->ngroups)) < 0)
			return r;
		for (unsigned i = 0; i < ci->ngroups; i++)
			if ((r = put_str8(out, ci->groups[i], PN_GROUP_MAX)) < 0)
				return r;
		if ((r = pn_buf_put_u64(out, ci->policy_version)) < 0 ||
		    (r = pn_buf_put_u32(out, q->lifetime_s)) < 0 ||
		    (r = pn_buf_put_bytes(out, q->pubkey, sizeof(q->pubkey))) < 0)
			return r;
		break;
	case PN_SIGNER_OP_ACL:
		if (q->acl_len < PN_SIGNER_ACL_MIN || q->acl_len > PN_SIGNER_ACL_MAX)
			return PN_E_INVAL;
		if ((r = pn_buf_put_bytes(out, q->acl, q->acl_len)) < 0)
			return r;
		break;
	}
	return frame_end(out, start);
}

int pn_signer_resp_decode(const uint8_t *p, size_t len, struct pn_signer_resp *s)
{
	struct pn_signer_hdr h;
	struct pn_buf b;
	const uint8_t *v;
	uint32_t st;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = frame_open(p, len, &h, &b)) < 0)
		return r;
	s->op = h.op;
	s->seq = h.seq;
	if ((r = pn_buf_get_u32(&b, &st)) < 0)
		return r;
	s->status = (int32_t)st;
	/* a status is 0 or an error code, never positive */
	if (s->status > 0)
		return PN_E_MALFORMED;
	if (s->status == 0) {
		switch (h.op) {
		case PN_SIGNER_OP_PING:
			r = pn_buf_get_bytes(&b, s->fpr, PN_FPR_LEN);
			break;
		case PN_SIGNER_OP_CRED:
			if ((r = pn_buf_get_bytes(&b, s->serial, sizeof(s->serial))) < 0 ||
			    (r = pn_buf_get_u64(&b, &s->not_before)) < 0 ||
			    (r = pn_buf_get_u64(&b, &s->not_after)) < 0 ||
			    (r = pn_buf_get_lv16(&b, PN_CRED_PEM_MAX, &v, &s->pem_len)) < 0)
				return r;
			if (s->pem_len == 0 || memchr(v, 0, s->pem_len))
				return PN_E_MALFORMED;
			s->pem = (const char *)v;
			break;
		case PN_SIGNER_OP_ACL: r = pn_buf_get_bytes(&b, s->sig, PN_SIG_LEN); break;
		}
		if (r < 0)
			return r;
	}
	return pn_buf_expect_end(&b) < 0 ? PN_E_MALFORMED : 0;
}

int pn_signer_resp_encode(const struct pn_signer_resp *s, struct pn_buf *out)
{
	size_t start = pn_buf_len(out);
	uint8_t *hdr;
	int r;

	if (!known_op(s->op) || s->status > 0)
		return PN_E_INVAL;
	if ((r = frame_begin(out, s->op, s->seq, &hdr)) < 0 ||
	    (r = pn_buf_put_u32(out, (uint32_t)s->status)) < 0)
		return r;
	if (s->status == 0) {
		switch (s->op) {
		case PN_SIGNER_OP_PING: r = pn_buf_put_bytes(out, s->fpr, PN_FPR_LEN); break;
		case PN_SIGNER_OP_CRED:
			if (!s->pem_len || s->pem_len > PN_CRED_PEM_MAX)
				return PN_E_INVAL;
			if ((r = pn_buf_put_bytes(out, s->serial, sizeof(s->serial))) < 0 ||
			    (r = pn_buf_put_u64(out, s->not_before)) < 0 ||
			    (r = pn_buf_put_u64(out, s->not_after)) < 0)
				return r;
			r = pn_buf_put_lv16(out, s->pem, s->pem_len);
			break;
		case PN_SIGNER_OP_ACL: r = pn_buf_put_bytes(out, s->sig, PN_SIG_LEN); break;
		}
		if (r < 0)
			return r;
	}
	return frame_end(out, start);
}
