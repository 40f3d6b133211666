/* DNS messages, sans I/O; see dns_msg.h. */
#include <string.h>

#include "core/dns_msg.h"
#include "core/buf.h"
#include "core/err.h"

static int name_byte_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/*
 * Compression pointers: every pointer must point strictly before the start
 * of the segment it ends (the name's start, or the previous pointer's
 * target), so the sequence of targets strictly decreases and can never
 * loop; PN_DNS_MAX_HOPS bounds the work besides.
 */
int pn_dns_name_read(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outsz, int *odd)
{
	size_t pos = *off, seg_start = *off, end_after = 0, wire = 0, o = 0;
	unsigned hops = 0;
	int jumped = 0;

	*odd = 0;
	if (outsz < PN_DNS_PNAME_MAX + 1)
		return PN_E_INVAL;
	out[0] = '\0';
	for (;;) {
		uint8_t l;
		if (pos >= len)
			return PN_E_TRUNCATED;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;
			if (pos + 1 >= len)
				return PN_E_TRUNCATED;
			target = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
			if (target >= seg_start || ++hops > PN_DNS_MAX_HOPS)
				return PN_E_MALFORMED;
			if (!jumped) {
				end_after = pos + 2;
				jumped = 1;
			}
			pos = seg_start = target;
			continue;
		}
		if (l & 0xc0)
			return PN_E_MALFORMED; /* 01 / 10 label types */
		wire += 1u + l;
		if (wire > PN_DNS_NAME_WIRE_MAX)
			return PN_E_TOOBIG;
		if (l == 0) {
			pos++;
			break;
		}
		if (pos + 1 + l > len)
			return PN_E_TRUNCATED;
		if (!*odd) {
			if (o + (o ? 1u : 0u) + l > PN_DNS_PNAME_MAX) {
				*odd = 1; /* 254/255-byte wire names: no presentation form we use */
			} else {
				if (o)
					out[o++] = '.';
				for (size_t i = 0; i < l; i++) {
					uint8_t c = msg[pos + 1 + i];
					if (!name_byte_ok(c)) {
						*odd = 1;
						break;
					}
					out[o++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
				}
			}
		}
		pos += 1u + l;
	}
	if (*odd)
		o = 0;
	out[o] = '\0';
	*off = jumped ? end_after : pos;
	return 0;
}

int pn_dns_name_write(const char *name, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t n = strlen(name), o = 0, i = 0;

	if (n > PN_DNS_PNAME_MAX)
		return PN_E_BAD_NAME;
	while (i < n) {
		size_t j = i;
		while (j < n && name[j] != '.')
			j++;
		if (j == i || j - i > 63)
			return PN_E_BAD_NAME;
		if (o + 1 + (j - i) > outsz)
			return PN_E_NOSPACE;
		out[o++] = (uint8_t)(j - i);
		memcpy(out + o, name + i, j - i);
		o += j - i;
		i = j + 1;
		if (j + 1 == n)
			return PN_E_BAD_NAME; /* trailing dot: give names without it */
	}
	if (o + 1 > outsz)
		return PN_E_NOSPACE;
	out[o++] = 0;
	*outlen = o;
	return 0;
}

static int parse_hdr(const uint8_t *msg, size_t len, struct pn_dns_msg *m)
{
	if (len < PN_DNS_HDR_LEN)
		return PN_E_TRUNCATED;
	m->id = pn_load_be16(msg);
	m->flags = pn_load_be16(msg + 2);
	m->qdcount = pn_load_be16(msg + 4);
	m->ancount = pn_load_be16(msg + 6);
	m->nscount = pn_load_be16(msg + 8);
	m->arcount = pn_load_be16(msg + 10);
	return 0;
}

/* One resource record at *off; section 0 answer, 1 authority, 2 additional. */
static int parse_rr(const uint8_t *msg, size_t len, size_t *off, int section, struct pn_dns_msg *m)
{
	char name[PN_DNS_PNAME_MAX + 1];
	int odd, r;
	size_t start = *off;
	uint16_t type, cls, rdlen;
	uint32_t ttl;
	struct pn_buf b;

	if ((r = pn_dns_name_read(msg, len, off, name, sizeof(name), &odd)) != 0)
		return r;
	pn_buf_init_ro(&b, msg + *off, len - *off);
	if ((r = pn_buf_get_u16(&b, &type)) != 0 || (r = pn_buf_get_u16(&b, &cls)) != 0 ||
	    (r = pn_buf_get_u32(&b, &ttl)) != 0 || (r = pn_buf_get_u16(&b, &rdlen)) != 0)
		return r;
	if (pn_buf_len(&b) < rdlen)
		return PN_E_TRUNCATED;
	if (type == PN_DNS_T_OPT) {
		/* OPT: root name, additional section, once (RFC 6891 6.1.1). */
		if (section != 2 || m->edns || msg[start] != 0)
			return PN_E_MALFORMED;
		m->edns = 1;
		m->edns_udp = cls;
		m->edns_ext_rcode = (uint8_t)(ttl >> 24);
		m->edns_version = (uint8_t)(ttl >> 16);
		m->edns_flags = (uint16_t)ttl;
		/* Options: u16 code, u16 length, data; must tile rdata exactly. */
		{
			struct pn_buf o;
			pn_buf_init_ro(&o, pn_buf_ptr(&b), rdlen);
			while (pn_buf_len(&o) > 0) {
				uint16_t code, olen;
				if (pn_buf_get_u16(&o, &code) != 0 ||
				    pn_buf_get_u16(&o, &olen) != 0 || pn_buf_skip(&o, olen) != 0)
					return PN_E_MALFORMED;
			}
		}
	} else if (section == 0 && cls == PN_DNS_CLASS_IN &&
		   ((type == PN_DNS_T_A && rdlen == 4) || (type == PN_DNS_T_AAAA && rdlen == 16))) {
		if (m->nanswer_addrs < PN_DNS_MAX_ANSWERS) {
			memset(m->answer_addrs[m->nanswer_addrs], 0, 16);
			memcpy(m->answer_addrs[m->nanswer_addrs], pn_buf_ptr(&b), rdlen);
			m->answer_fam[m->nanswer_addrs] = type == PN_DNS_T_A ? 4 : 6;
			m->nanswer_addrs++;
		}
	} else if ((type == PN_DNS_T_A && rdlen != 4 && cls == PN_DNS_CLASS_IN) ||
		   (type == PN_DNS_T_AAAA && rdlen != 16 && cls == PN_DNS_CLASS_IN)) {
		return PN_E_MALFORMED;
	}
	*off += 10u + rdlen;
	return 0;
}

int pn_dns_parse(const uint8_t *msg, size_t len, struct pn_dns_msg *m)
{
	size_t off = PN_DNS_HDR_LEN;
	unsigned total;
	int r;

	memset(m, 0, sizeof(*m));
	if (len > PN_DNS_MSG_MAX)
		return PN_E_TOOBIG;
	if ((r = parse_hdr(msg, len, m)) != 0)
		return r;
	/* Each question takes >= 5 bytes, each record >= 11: counts that
	 * cannot fit are refused before any work. */
	if ((size_t)m->qdcount * 5 + ((size_t)m->ancount + m->nscount + m->arcount) * 11 >
	    len - PN_DNS_HDR_LEN)
		return PN_E_TRUNCATED;
	for (unsigned i = 0; i < m->qdcount; i++) {
		char name[PN_DNS_PNAME_MAX + 1];
		int odd;
		if ((r = pn_dns_name_read(msg, len, &off, name, sizeof(name), &odd)) != 0)
			return r;
		if (off + 4 > len)
			return PN_E_TRUNCATED;
		if (i == 0) {
			memcpy(m->qname, name, sizeof(name));
			m->name_odd = odd;
			m->qtype = pn_load_be16(msg + off);
			m->qclass = pn_load_be16(msg + off + 2);
		}
		off += 4;
	}
	total = (unsigned)m->ancount + m->nscount + m->arcount;
	for (unsigned i = 0; i < total; i++) {
		int section = i < m->ancount ? 0 : i < (unsigned)m->ancount + m->nscount ? 1 : 2;
		if ((r = parse_rr(msg, len, &off, section, m)) != 0)
			return r;
	}
	if (off != len)
		return PN_E_MALFORMED;
	return 0;
}

size_t pn_dns_udp_limit(const struct pn_dns_msg *q)
{
	if (!q->edns || q->edns_udp <= PN_DNS_UDP_MIN)
		return PN_DNS_UDP_MIN;
	return q->edns_udp > 4096 ? 4096 : q->edns_udp;
}

static int put_opt(struct pn_buf *b, int ext_rcode)
{
	int r;
	if ((r = pn_buf_put_u8(b, 0)) != 0 || (r = pn_buf_put_u16(b, PN_DNS_T_OPT)) != 0 ||
	    (r = pn_buf_put_u16(b, PN_DNS_EDNS_UDP)) != 0 ||
	    (r = pn_buf_put_u32(b, (uint32_t)ext_rcode << 24)) != 0 ||
	    (r = pn_buf_put_u16(b, 0)) != 0)
		return r;
	return 0;
}

int pn_dns_reply(const struct pn_dns_msg *q, int rcode, const struct pn_dns_rr *rr, unsigned n,
		 uint32_t ttl, size_t max, uint8_t *out, size_t outsz, size_t *outlen)
{
	uint8_t qn[PN_DNS_NAME_WIRE_MAX];
	size_t qnlen, base, lim = max < outsz ? max : outsz;
	struct pn_buf b;
	uint16_t flags;
	int r, edns_bad = q->edns && q->edns_version != 0;

	if (n > PN_DNS_MAX_ANSWERS || rcode < 0 || rcode > 15)
		return PN_E_INVAL;
	for (unsigned i = 0; i < n; i++)
		if (rr[i].type != PN_DNS_T_A && rr[i].type != PN_DNS_T_AAAA)
			return PN_E_INVAL;
	if ((r = pn_dns_name_write(q->qname, qn, sizeof(qn), &qnlen)) != 0)
		return r;
	if (edns_bad) {
		/* RFC 6891 6.1.3: unknown EDNS version -> BADVERS (16), no answers. */
		n = 0;
		rcode = 0;
	}
	flags = (uint16_t)(PN_DNS_F_QR | PN_DNS_F_AA | PN_DNS_F_RA | (q->flags & 0x7800) |
			   (q->flags & PN_DNS_F_RD) | (rcode & 0xf));
	pn_buf_init_wr(&b, out, outsz);
	if ((r = pn_buf_put_u16(&b, q->id)) != 0 || (r = pn_buf_put_u16(&b, flags)) != 0 ||
	    (r = pn_buf_put_u16(&b, 1)) != 0 || (r = pn_buf_put_u16(&b, (uint16_t)n)) != 0 ||
	    (r = pn_buf_put_u16(&b, 0)) != 0 || (r = pn_buf_put_u16(&b, q->edns ? 1 : 0)) != 0 ||
	    (r = pn_buf_put_bytes(&b, qn, qnlen)) != 0 || (r = pn_buf_put_u16(&b, q->qtype)) != 0 ||
	    (r = pn_buf_put_u16(&b, q->qclass)) != 0)
		return r;
	base = pn_buf_len(&b);
	{
		/* Does everything fit the requester's limit?  Each answer is a
		 * pointer to the question (2) + 10 + rdata. */
		size_t need = base + (q->edns ? 11u : 0u);
		for (unsigned i = 0; i < n; i++)
			need += 12u + (rr[i].type == PN_DNS_T_A ? 4u : 16u);
		if (need > lim) {
			if (base + (q->edns ? 11u : 0u) > lim)
				return PN_E_NOSPACE;
			n = 0;
			flags |= PN_DNS_F_TC;
			pn_store_be16(out + 2, flags);
			pn_store_be16(out + 6, 0);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		size_t alen = rr[i].type == PN_DNS_T_A ? 4 : 16;
		if ((r = pn_buf_put_u16(&b, 0xc000 | PN_DNS_HDR_LEN)) != 0 ||
		    (r = pn_buf_put_u16(&b, rr[i].type)) != 0 ||
		    (r = pn_buf_put_u16(&b, PN_DNS_CLASS_IN)) != 0 ||
		    (r = pn_buf_put_u32(&b, ttl)) != 0 ||
		    (r = pn_buf_put_u16(&b, (uint16_t)alen)) != 0 ||
		    (r = pn_buf_put_bytes(&b, rr[i].addr, alen)) != 0)
			return r;
	}
	if (q->edns && (r = put_opt(&b, edns_bad ? 1 : 0)) != 0)
		return r;
	*outlen = pn_buf_len(&b);
	return 0;
}

int pn_dns_error_reply(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t outsz,
		       size_t *outlen)
{
	uint16_t flags = 0;

	if (len < 2)
		return PN_E_TRUNCATED;
	if (outsz < PN_DNS_HDR_LEN)
		return PN_E_NOSPACE;
	if (len >= 4)
		flags = (uint16_t)(pn_load_be16(msg + 2) & (0x7800 | PN_DNS_F_RD));
	memset(out, 0, PN_DNS_HDR_LEN);
	memcpy(out, msg, 2);
	pn_store_be16(out + 2, (uint16_t)(flags | PN_DNS_F_QR | PN_DNS_F_RA | (rcode & 0xf)));
	*outlen = PN_DNS_HDR_LEN;
	return 0;
}

int pn_dns_query(uint16_t id, const char *name, uint16_t qtype, uint16_t edns_udp, uint8_t *out,
		 size_t outsz, size_t *outlen)
{
	uint8_t qn[PN_DNS_NAME_WIRE_MAX];
	size_t qnlen;
	struct pn_buf b;
	int r;

	if ((r = pn_dns_name_write(name, qn, sizeof(qn), &qnlen)) != 0)
		return r;
	pn_buf_init_wr(&b, out, outsz);
	if ((r = pn_buf_put_u16(&b, id)) != 0 || (r = pn_buf_put_u16(&b, PN_DNS_F_RD)) != 0 ||
	    (r = pn_buf_put_u16(&b, 1)) != 0 || (r = pn_buf_put_u16(&b, 0)) != 0 ||
	    (r = pn_buf_put_u16(&b, 0)) != 0 || (r = pn_buf_put_u16(&b, edns_udp ? 1 : 0)) != 0 ||
	    (r = pn_buf_put_bytes(&b, qn, qnlen)) != 0 || (r = pn_buf_put_u16(&b, qtype)) != 0 ||
	    (r = pn_buf_put_u16(&b, PN_DNS_CLASS_IN)) != 0)
		return r;
	if (edns_udp) {
		if ((r = pn_buf_put_u8(&b, 0)) != 0 ||
		    (r = pn_buf_put_u16(&b, PN_DNS_T_OPT)) != 0 ||
		    (r = pn_buf_put_u16(&b, edns_udp)) != 0 || (r = pn_buf_put_u32(&b, 0)) != 0 ||
		    (r = pn_buf_put_u16(&b, 0)) != 0)
			return r;
	}
	*outlen = pn_buf_len(&b);
	return 0;
}
