/* Flow protocol codec: see flowproto.h for the wire layouts. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "tunnel/candmsg.h"
#include "tunnel/flowproto.h"

static const char *const code_names[] = {
	"ok",	     "denied",	     "no_acl",	 "bad_acl",  "bad_request",
	"bad_version", "resolve_failed", "refused", "unreachable", "timeout",
	"limit",     "revoked",	     "credential", "reset",  "internal",
	"exhausted",
};

const char *pn_flow_code_name(int code)
{
	if (code < 0 || code > PN_FLOW_CODE_MAX)
		return "unknown";
	return code_names[code];
}

int pn_flow_name_check(char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	/* Empty or longer than a DNS name can be. */
	if (len == 0 || len > PN_FLOW_NAME_MAX)
		return PN_E_BAD_NAME;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0) /* empty label */
				return PN_E_BAD_NAME;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_'))
			return PN_E_BAD_NAME;
		if (++label > PN_FLOW_LABEL_MAX)
			return PN_E_BAD_NAME;
		name[i] = (char)tolower(c);
	}
	if (label == 0) /* "a.." after removing one dot */
		return PN_E_BAD_NAME;
	/* An all-digit last label reads as an address to resolvers ("10.1"):
	   refuse it, as trust/dest.h does. */
	for (size_t i = len - label; i < len; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	return PN_E_BAD_NAME;
}

int pn_flow_dest_parse(struct pn_flow_dest *d, const char *text)
{
	size_t n = strlen(text);
	char tmp[PN_FLOW_NAME_MAX + 2];
	int r;

	memset(d, 0, sizeof(*d));
	if (inet_pton(AF_INET, text, d->u.v4) == 1) {
		d->type = PN_FLOW_ADDR_IPV4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, d->u.v6) == 1) {
		d->type = PN_FLOW_ADDR_IPV6;
		return 0;
	}
	/* +1: a trailing dot is allowed and removed by the check. */
	if (n > PN_FLOW_NAME_MAX + 1)
		return PN_E_BAD_NAME;
	memcpy(tmp, text, n + 1);
	if ((r = pn_flow_name_check(tmp)) != 0)
		return r;
	memcpy(d->u.name, tmp, strlen(tmp) + 1);
	d->type = PN_FLOW_ADDR_NAME;
	return 0;
}

void pn_flow_dest_str(const struct pn_flow_dest *d, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	out[0] = '\0';
	switch (d->type) {
	case PN_FLOW_ADDR_NAME:
		snprintf(out, outsz, "%s", d->u.name);
		break;
	case PN_FLOW_ADDR_IPV4:
		inet_ntop(AF_INET, d->u.v4, out, (socklen_t)outsz);
		break;
	case PN_FLOW_ADDR_IPV6:
		inet_ntop(AF_INET6, d->u.v6, out, (socklen_t)outsz);
		break;
	default:
		snprintf(out, outsz, "?");
	}
}

static int hdr_valid(const struct pn_flow_hdr *h)
{
	char tmp[PN_FLOW_NAME_MAX + 1];

	switch (h->kind) {
	case PN_FLOW_TCP:
	case PN_FLOW_UDP:
		if (h->port == 0 || h->qtype != PN_FLOW_QTYPE_NONE)
			return 0;
		break;
	case PN_FLOW_DNS:
		if (h->port != 0 || h->dest.type != PN_FLOW_ADDR_NAME)
			return 0;
		if (h->qtype != PN_FLOW_QTYPE_A && h->qtype != PN_FLOW_QTYPE_AAAA &&
		    h->qtype != PN_FLOW_QTYPE_ANY)
			return 0;
		break;
	case PN_FLOW_ICMP:
		if (h->port != 0 || h->qtype != PN_FLOW_QTYPE_NONE)
			return 0;
		break;
	case PN_FLOW_DNS_MSG:
		/* a name's records: names only */
		if (h->port != 0 || h->qtype != PN_FLOW_QTYPE_NONE ||
		    h->dest.type != PN_FLOW_ADDR_NAME)
			return 0;
		break;
	default:
		return 0;
	}
	switch (h->dest.type) {
	case PN_FLOW_ADDR_NAME:
		if (!memchr(h->dest.u.name, 0, sizeof(h->dest.u.name)))
			return 0;
		memcpy(tmp, h->dest.u.name, sizeof(tmp));
		/* Must already be in normal form: what is checked is what is sent. */
		return pn_flow_name_check(tmp) == 0 && !strcmp(tmp, h->dest.u.name);
	case PN_FLOW_ADDR_IPV4:
	case PN_FLOW_ADDR_IPV6:
		return 1;
	}
	return 0;
}

/* Reserve the 3-byte prefix; the body length is patched in at the end. */
static int prefix_begin(struct pn_buf *b, size_t *mark)
{
	uint8_t *p;
	int r;

	if ((r = pn_buf_reserve(b, PN_FLOW_PREFIX_LEN, &p)) != 0)
		return r;
	p[0] = PN_FLOW_VERSION;
	*mark = b->wpos;
	return 0;
}

static void prefix_end(struct pn_buf *b, size_t mark)
{
	pn_store_be16(b->data + mark - 2, (uint16_t)(b->wpos - mark));
}

int pn_flow_hdr_encode(struct pn_buf *b, const struct pn_flow_hdr *h)
{
	struct pn_buf save = *b;
	size_t mark;
	int r;

	if (!hdr_valid(h))
		return PN_E_INVAL;
	if ((r = prefix_begin(b, &mark)) != 0)
		goto out;
	if ((r = pn_buf_put_u8(b, h->kind)) != 0 || (r = pn_buf_put_u8(b, 0)) != 0 ||
	    (r = pn_buf_put_u64(b, h->flow_id)) != 0 ||
	    (r = pn_buf_put_bytes(b, h->resource_id, PN_FLOW_RESOURCE_ID_LEN)) != 0 ||
	    (r = pn_buf_put_u8(b, h->dest.type)) != 0)
		goto out;
	switch (h->dest.type) {
	case PN_FLOW_ADDR_NAME:
		r = pn_buf_put_str8(b, h->dest.u.name);
		break;
	case PN_FLOW_ADDR_IPV4:
		r = pn_buf_put_bytes(b, h->dest.u.v4, 4);
		break;
	default:
		r = pn_buf_put_bytes(b, h->dest.u.v6, 16);
	}
	if (r != 0 || (r = pn_buf_put_u16(b, h->port)) != 0 ||
	    (r = pn_buf_put_u8(b, h->qtype)) != 0)
		goto out;
	prefix_end(b, mark);
out:
	if (r != 0) {
		/* Undo a partial write (fixed writers: storage unchanged). */
		b->wpos = save.wpos;
	}
	return r;
}

/*
 * Split off one prefixed message: checks the version and that the declared
 * body length is within `max` before waiting for the body.
 */
static int prefix_get(struct pn_buf *b, size_t max, struct pn_buf *body)
{
	const uint8_t *p = pn_buf_ptr(b);
	size_t n = pn_buf_len(b), blen;

	if (n < PN_FLOW_PREFIX_LEN)
		return n >= 1 && p[0] != PN_FLOW_VERSION ? PN_E_UNSUPPORTED
							 : PN_E_TRUNCATED;
	if (p[0] != PN_FLOW_VERSION)
		return PN_E_UNSUPPORTED;
	blen = pn_load_be16(p + 1);
	/* A peer must not make us buffer more than one bounded message. */
	if (blen > max - PN_FLOW_PREFIX_LEN)
		return PN_E_TOOBIG;
	if (n - PN_FLOW_PREFIX_LEN < blen)
		return PN_E_TRUNCATED;
	pn_buf_skip(b, PN_FLOW_PREFIX_LEN);
	return pn_buf_get_sub(b, blen, body);
}

int pn_flow_hdr_decode(struct pn_buf *b, struct pn_flow_hdr *h)
{
	struct pn_buf save = *b, body;
	uint8_t flags;
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = prefix_get(b, PN_FLOW_HDR_MAX, &body)) != 0)
		goto out;
	if ((r = pn_buf_get_u8(&body, &h->kind)) != 0 ||
	    (r = pn_buf_get_u8(&body, &flags)) != 0 ||
	    (r = pn_buf_get_u64(&body, &h->flow_id)) != 0 ||
	    (r = pn_buf_get_bytes(&body, h->resource_id, PN_FLOW_RESOURCE_ID_LEN)) != 0 ||
	    (r = pn_buf_get_u8(&body, &h->dest.type)) != 0)
		goto bad;
	/* No flags are defined in version 1: refuse rather than ignore. */
	if (flags != 0) {
		r = PN_E_MALFORMED;
		goto out;
	}
	switch (h->dest.type) {
	case PN_FLOW_ADDR_NAME:
		/* str8 caps at sizeof(name)-1 = PN_FLOW_NAME_MAX and refuses NUL. */
		r = pn_buf_get_str8(&body, h->dest.u.name, sizeof(h->dest.u.name));
		if (r == 0) {
			char canon[PN_FLOW_NAME_MAX + 1];
			memcpy(canon, h->dest.u.name, sizeof(canon));
			/* Only the canonical form is accepted: one name, one spelling. */
			if (pn_flow_name_check(canon) != 0 || strcmp(canon, h->dest.u.name) != 0) {
				r = PN_E_BAD_NAME;
				goto out;
			}
		}
		break;
	case PN_FLOW_ADDR_IPV4:
		r = pn_buf_get_bytes(&body, h->dest.u.v4, 4);
		break;
	case PN_FLOW_ADDR_IPV6:
		r = pn_buf_get_bytes(&body, h->dest.u.v6, 16);
		break;
	default:
		r = PN_E_MALFORMED;
		goto out;
	}
	if (r != 0 || (r = pn_buf_get_u16(&body, &h->port)) != 0 ||
	    (r = pn_buf_get_u8(&body, &h->qtype)) != 0)
		goto bad;
	if ((r = pn_buf_expect_end(&body)) != 0)
		goto out;
	if (!hdr_valid(h))
		r = PN_E_MALFORMED;
	goto out;
bad:
	/* Inside a complete body, running short is malformed, not "need more". */
	if (r == PN_E_TRUNCATED || r == PN_E_TOOBIG)
		r = PN_E_MALFORMED;
out:
	if (r != 0)
		*b = save;
	return r;
}

void pn_flow_status_set(struct pn_flow_status *s, uint64_t flow_id, int code,
			const char *text)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->code = (uint8_t)code;
	s->flow_id = flow_id;
	for (i = 0; text && text[i] && i < PN_FLOW_TEXT_MAX; i++)
		s->text[i] = isprint((unsigned char)text[i]) ? text[i] : '?';
	s->text[i] = '\0';
}

static int text_ok(const char *t)
{
	for (; *t; t++)
		if (!isprint((unsigned char)*t))
			return 0;
	return 1;
}

int pn_flow_status_encode(struct pn_buf *b, const struct pn_flow_status *s)
{
	size_t save = b->wpos, mark, tl = strnlen(s->text, sizeof(s->text));
	int r;

	if (s->code > PN_FLOW_CODE_MAX || tl > PN_FLOW_TEXT_MAX || !text_ok(s->text) ||
	    s->naddr > PN_FLOW_DNS_ADDRS_MAX)
		return PN_E_INVAL;
	if ((r = prefix_begin(b, &mark)) != 0)
		goto out;
	if ((r = pn_buf_put_u8(b, s->code)) != 0 ||
	    (r = pn_buf_put_u64(b, s->flow_id)) != 0 ||
	    (r = pn_buf_put_lv8(b, s->text, tl)) != 0 ||
	    (r = pn_buf_put_u8(b, s->naddr)) != 0)
		goto out;
	for (unsigned i = 0; i < s->naddr; i++) {
		const struct pn_flow_addr *a = &s->addr[i];
		if (a->family != 4 && a->family != 6) {
			r = PN_E_INVAL;
			goto out;
		}
		if ((r = pn_buf_put_u8(b, a->family)) != 0 ||
		    (r = pn_buf_put_bytes(b, a->a, a->family == 4 ? 4 : 16)) != 0)
			goto out;
	}
	if ((r = pn_buf_put_u32(b, s->ttl)) != 0)
		goto out;
	prefix_end(b, mark);
out:
	if (r != 0)
		b->wpos = save;
	return r;
}

int pn_flow_status_decode(struct pn_buf *b, struct pn_flow_status *s)
{
	struct pn_buf save = *b, body;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = prefix_get(b, PN_FLOW_STATUS_MAX, &body)) != 0)
		goto out;
	if ((r = pn_buf_get_u8(&body, &s->code)) != 0 ||
	    (r = pn_buf_get_u64(&body, &s->flow_id)) != 0 ||
	    (r = pn_buf_get_str8(&body, s->text, sizeof(s->text))) != 0 ||
	    (r = pn_buf_get_u8(&body, &s->naddr)) != 0)
		goto bad;
	if (s->code > PN_FLOW_CODE_MAX || !text_ok(s->text) ||
	    s->naddr > PN_FLOW_DNS_ADDRS_MAX) { /* bounded answer array */
		r = PN_E_MALFORMED;
		goto out;
	}
	for (unsigned i = 0; i < s->naddr; i++) {
		struct pn_flow_addr *a = &s->addr[i];
		if ((r = pn_buf_get_u8(&body, &a->family)) != 0)
			goto bad;
		if (a->family != 4 && a->family != 6) {
			r = PN_E_MALFORMED;
			goto out;
		}
		if ((r = pn_buf_get_bytes(&body, a->a, a->family == 4 ? 4 : 16)) != 0)
			goto bad;
	}
	if ((r = pn_buf_get_u32(&body, &s->ttl)) != 0)
		goto bad;
	r = pn_buf_expect_end(&body);
	goto out;
bad:
	if (r == PN_E_TRUNCATED || r == PN_E_TOOBIG)
		r = PN_E_MALFORMED;
out:
	if (r != 0)
		*b = save;
	return r;
}

int pn_flow_dgram_encode(uint8_t *out, size_t outsz, uint64_t flow_id,
			 const uint8_t *payload, size_t len, size_t *outlen)
{
	if (len > PN_FLOW_DGRAM_PAYLOAD_MAX || outsz < PN_FLOW_DGRAM_HDR_LEN + len)
		return PN_E_TOOBIG;
	pn_store_be64(out, flow_id);
	if (len)
		memcpy(out + PN_FLOW_DGRAM_HDR_LEN, payload, len);
	*outlen = PN_FLOW_DGRAM_HDR_LEN + len;
	return 0;
}

int pn_flow_dgram_decode(const uint8_t *data, size_t len, uint64_t *flow_id,
			 const uint8_t **payload, size_t *plen)
{
	if (len < PN_FLOW_DGRAM_HDR_LEN)
		return PN_E_TRUNCATED;
	/* Larger than any datagram we send: refuse instead of forwarding. */
	if (len - PN_FLOW_DGRAM_HDR_LEN > PN_FLOW_DGRAM_PAYLOAD_MAX)
		return PN_E_TOOBIG;
	*flow_id = pn_load_be64(data);
	*payload = data + PN_FLOW_DGRAM_HDR_LEN;
	*plen = len - PN_FLOW_DGRAM_HDR_LEN;
	return 0;
}

static int ctl_type_known(uint8_t type)
{
	switch (type) {
	case PN_CTL_ACL:
	case PN_CTL_ACL_OK:
	case PN_CTL_ERROR:
	case PN_CTL_CRED:
	case PN_CTL_CRED_OK:
	case PN_CTL_CANDIDATES:
		return 1;
	}
	return 0;
}

/* Per-type body rules, checked from the prefix alone: 0, PN_E_TOOBIG or
 * PN_E_MALFORMED. */
static int ctl_len_check(uint8_t type, size_t len)
{
	/* Bound what a peer can make us buffer on the control stream. */
	if (len > PN_CTL_BODY_MAX)
		return PN_E_TOOBIG;
	switch (type) {
	case PN_CTL_CRED:
		/* one certificate: never buffer an access list's worth */
		if (len > PN_CTL_CRED_MAX)
			return PN_E_TOOBIG;
		return len == 0 ? PN_E_MALFORMED : 0;
	case PN_CTL_CRED_OK:
		return len == 0 ? 0 : PN_E_MALFORMED;
	case PN_CTL_CANDIDATES:
		return len > PN_CANDMSG_MAX ? PN_E_TOOBIG : 0;
	}
	return 0;
}

int pn_ctl_encode(struct pn_buf *b, uint8_t type, const uint8_t *body, size_t len)
{
	size_t save = b->wpos;
	int r;

	if (!ctl_type_known(type) || ctl_len_check(type, len) != 0)
		return PN_E_INVAL;
	if ((r = pn_buf_put_u8(b, type)) != 0 || (r = pn_buf_put_lv32(b, body, len)) != 0)
		b->wpos = save;
	return r;
}

int pn_ctl_decode(struct pn_buf *b, uint8_t *type, const uint8_t **body, size_t *len)
{
	const uint8_t *p = pn_buf_ptr(b);
	size_t n = pn_buf_len(b), blen;
	int r;

	if (n < 1)
		return PN_E_TRUNCATED;
	if (!ctl_type_known(p[0]))
		return PN_E_MALFORMED;
	if (n < PN_CTL_PREFIX_LEN)
		return PN_E_TRUNCATED;
	blen = pn_load_be32(p + 1);
	if ((r = ctl_len_check(p[0], blen)) != 0)
		return r;
	if (n - PN_CTL_PREFIX_LEN < blen)
		return PN_E_TRUNCATED;
	*type = p[0];
	*body = p + PN_CTL_PREFIX_LEN;
	*len = blen;
	pn_buf_skip(b, PN_CTL_PREFIX_LEN + blen);
	return 0;
}

int pn_ctl_error_encode(struct pn_buf *b, int code, const char *text)
{
	uint8_t tmp[2 + PN_FLOW_TEXT_MAX];
	size_t tl = 0;

	if (code < 0 || code > PN_FLOW_CODE_MAX)
		return PN_E_INVAL;
	tmp[0] = (uint8_t)code;
	for (; text && text[tl] && tl < PN_FLOW_TEXT_MAX; tl++)
		tmp[2 + tl] = isprint((unsigned char)text[tl]) ? (uint8_t)text[tl] : '?';
	tmp[1] = (uint8_t)tl;
	return pn_ctl_encode(b, PN_CTL_ERROR, tmp, 2 + tl);
}

int pn_ctl_error_parse(const uint8_t *body, size_t len, int *code, char *text,
		       size_t textsz)
{
	struct pn_buf b;
	uint8_t c;
	int r;

	pn_buf_init_ro(&b, body, len);
	if ((r = pn_buf_get_u8(&b, &c)) != 0 ||
	    (r = pn_buf_get_str8(&b, text, textsz)) != 0)
		return r == PN_E_TRUNCATED ? PN_E_MALFORMED : r;
	if (c > PN_FLOW_CODE_MAX || !text_ok(text))
		return PN_E_MALFORMED;
	*code = c;
	return pn_buf_expect_end(&b);
}
