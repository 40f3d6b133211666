/* SOCKS5 server codec (RFC 1928); see socks5.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/socks5.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/err.h"

void pn_socks5_srv_init(struct pn_socks5_srv *s)
{
	memset(s, 0, sizeof(*s));
	s->state = PN_SOCKS5_S_GREETING;
}

/*
 * A DNS name as the connector will resolve it: 1..253 characters of
 * letters, digits, '-', '_' and '.', labels of 1..63, one optional trailing
 * dot (dropped).  Lower-cased in place.  Anything else cannot be a host
 * name, so refusing it here keeps junk out of access checks and logs.
 */
static int name_normalize(char *name)
{
	size_t n = strlen(name), label = 0;

	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n == 0 || n > 253)
		return PN_E_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0)
				return PN_E_MALFORMED;
			label = 0;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			name[i] = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_'))
			return PN_E_MALFORMED;
		if (++label > 63)
			return PN_E_MALFORMED;
	}
	return 0;
}

/* Turn a validated name that spells an address literal into that address. */
static void name_to_literal(struct pn_socks5_addr *a)
{
	uint8_t tmp[16];

	if (inet_pton(AF_INET, a->u.name, tmp) == 1) {
		a->atyp = PN_SOCKS5_ATYP_IPV4;
		memcpy(a->u.v4, tmp, 4);
	}
}

/*
 * Parse ATYP, address and port from b.  Returns 0, PN_E_TRUNCATED (need
 * more), PN_E_SOCKS_ATYP or PN_E_MALFORMED.
 */
static int addr_get(struct pn_buf *b, struct pn_socks5_addr *a)
{
	const uint8_t *p;
	size_t n;
	uint8_t atyp;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = pn_buf_get_u8(b, &atyp)) != 0)
		return r;
	a->atyp = atyp;
	switch (atyp) {
	case PN_SOCKS5_ATYP_IPV4: r = pn_buf_get_bytes(b, a->u.v4, 4); break;
	case PN_SOCKS5_ATYP_IPV6: r = pn_buf_get_bytes(b, a->u.v6, 16); break;
	case PN_SOCKS5_ATYP_DOMAIN:
		/* A u8 length can never exceed the 255-byte name buffer. */
		if ((r = pn_buf_get_lv8(b, PN_SOCKS5_MAX_NAME, &p, &n)) != 0)
			return r;
		if (memchr(p, '\0', n))
			return PN_E_MALFORMED;
		memcpy(a->u.name, p, n);
		a->u.name[n] = '\0';
		break;
	default:
		/* Unknown type: its length is unknown, nothing after it parses. */
		return PN_E_SOCKS_ATYP;
	}
	if (r != 0)
		return r;
	if ((r = pn_buf_get_u16(b, &a->port)) != 0)
		return r;
	if (atyp == PN_SOCKS5_ATYP_DOMAIN) {
		if (name_normalize(a->u.name) != 0)
			return PN_E_MALFORMED;
		name_to_literal(a);
	}
	return 0;
}

static int addr_put(struct pn_buf *out, const struct pn_socks5_addr *a)
{
	static const struct pn_socks5_addr zero = {.atyp = PN_SOCKS5_ATYP_IPV4};
	int r;

	if (!a)
		a = &zero;
	switch (a->atyp) {
	case PN_SOCKS5_ATYP_IPV4:
		if ((r = pn_buf_put_u8(out, a->atyp)) || (r = pn_buf_put_bytes(out, a->u.v4, 4)))
			return r;
		break;
	case PN_SOCKS5_ATYP_IPV6:
		if ((r = pn_buf_put_u8(out, a->atyp)) || (r = pn_buf_put_bytes(out, a->u.v6, 16)))
			return r;
		break;
	case PN_SOCKS5_ATYP_DOMAIN:
		if ((r = pn_buf_put_u8(out, a->atyp)) || (r = pn_buf_put_str8(out, a->u.name)))
			return r;
		break;
	default: return PN_E_INVAL;
	}
	return pn_buf_put_u16(out, a->port);
}

static size_t addr_wire_len(const struct pn_socks5_addr *a)
{
	if (!a || a->atyp == PN_SOCKS5_ATYP_IPV4)
		return 1 + 4 + 2;
	if (a->atyp == PN_SOCKS5_ATYP_IPV6)
		return 1 + 16 + 2;
	return 1 + 1 + strlen(a->u.name) + 2;
}

int pn_socks5_reply_encode(struct pn_buf *out, uint8_t rep, const struct pn_socks5_addr *bnd)
{
	if (rep > PN_SOCKS5_REP_ATYP_UNSUPPORTED)
		return PN_E_INVAL;
	if (bnd && bnd->atyp != PN_SOCKS5_ATYP_IPV4 && bnd->atyp != PN_SOCKS5_ATYP_IPV6 &&
	    bnd->atyp != PN_SOCKS5_ATYP_DOMAIN)
		return PN_E_INVAL;
	/* All or nothing: check room first so a failed put leaves no half reply. */
	if (pn_buf_avail(out) < 3 + addr_wire_len(bnd))
		return PN_E_NOSPACE;
	pn_buf_put_u8(out, PN_SOCKS5_VERSION);
	pn_buf_put_u8(out, rep);
	pn_buf_put_u8(out, 0);
	return addr_put(out, bnd);
}

/* Refuse the request with `rep` and close; returns err. */
static int refuse(struct pn_socks5_srv *s, struct pn_buf *out, uint8_t rep, int err)
{
	int r = pn_socks5_reply_encode(out, rep, NULL);

	s->state = PN_SOCKS5_S_CLOSED;
	return r ? r : err;
}

/* Try to parse the greeting in msg[0..have).  Returns bytes used, 0 = need
 * more, or negative error (state CLOSED, reply in out). */
static int greeting(struct pn_socks5_srv *s, struct pn_buf *out)
{
	struct pn_buf b;
	const uint8_t *methods;
	size_t n;
	uint8_t ver;
	int r;

	pn_buf_init_ro(&b, s->msg, s->have);
	if (pn_buf_get_u8(&b, &ver) != 0)
		return 0;
	if (ver != PN_SOCKS5_VERSION) {
		/* Not SOCKS5 (SOCKS4, HTTP, noise): no reply we could send is
		 * meaningful to it; just close. */
		s->state = PN_SOCKS5_S_CLOSED;
		return PN_E_MALFORMED;
	}
	r = pn_buf_get_lv8(&b, 255, &methods, &n);
	if (r == PN_E_TRUNCATED)
		return 0;
	if (r != 0)
		return r;
	if (pn_buf_avail(out) < 2)
		return PN_E_NOSPACE;
	pn_buf_put_u8(out, PN_SOCKS5_VERSION);
	if (n == 0 || !memchr(methods, PN_SOCKS5_METHOD_NOAUTH, n)) {
		pn_buf_put_u8(out, PN_SOCKS5_METHOD_NONE_ACCEPTABLE);
		s->state = PN_SOCKS5_S_CLOSED;
		return PN_E_SOCKS_NOAUTH;
	}
	pn_buf_put_u8(out, PN_SOCKS5_METHOD_NOAUTH);
	s->state = PN_SOCKS5_S_REQUEST;
	return (int)(s->have - pn_buf_len(&b));
}

static int request(struct pn_socks5_srv *s, struct pn_buf *out, struct pn_socks5_request *req)
{
	struct pn_buf b;
	uint8_t ver, cmd, rsv;
	int r;

	if (pn_buf_avail(out) < PN_SOCKS5_MAX_REPLY)
		return PN_E_NOSPACE;
	pn_buf_init_ro(&b, s->msg, s->have);
	if (pn_buf_get_u8(&b, &ver) || pn_buf_get_u8(&b, &cmd) || pn_buf_get_u8(&b, &rsv))
		return 0;
	if (ver != PN_SOCKS5_VERSION || rsv != 0)
		return refuse(s, out, PN_SOCKS5_REP_GENERAL_FAILURE, PN_E_MALFORMED);
	r = addr_get(&b, &req->dst);
	if (r == PN_E_TRUNCATED)
		return 0;
	if (r == PN_E_SOCKS_ATYP)
		return refuse(s, out, PN_SOCKS5_REP_ATYP_UNSUPPORTED, r);
	if (r != 0)
		return refuse(s, out, PN_SOCKS5_REP_GENERAL_FAILURE, r);
	/* The whole request is parsed before the command is judged, so a
	 * refused command still consumes exactly its own bytes. */
	if (cmd != PN_SOCKS5_CMD_CONNECT && cmd != PN_SOCKS5_CMD_UDP_ASSOCIATE)
		return refuse(s, out, PN_SOCKS5_REP_CMD_UNSUPPORTED, PN_E_SOCKS_COMMAND);
	if (cmd == PN_SOCKS5_CMD_CONNECT && req->dst.port == 0)
		return refuse(s, out, PN_SOCKS5_REP_GENERAL_FAILURE, PN_E_MALFORMED);
	req->cmd = cmd;
	s->state = PN_SOCKS5_S_WAIT_REPLY;
	return (int)(s->have - pn_buf_len(&b));
}

int pn_socks5_srv_feed(struct pn_socks5_srv *s, const uint8_t *in, size_t len, size_t *consumed,
		       struct pn_buf *out, struct pn_socks5_request *req)
{
	size_t used = 0;

	*consumed = 0;
	while (used < len) {
		size_t before, take, cap;
		int r;

		if (s->state != PN_SOCKS5_S_GREETING && s->state != PN_SOCKS5_S_REQUEST)
			return used ? PN_SOCKS5_EV_NEED_MORE : PN_E_INVAL;
		cap = s->state == PN_SOCKS5_S_GREETING ? PN_SOCKS5_MAX_GREETING
						       : PN_SOCKS5_MAX_REQUEST;
		/* Take only what fits in the largest possible message; a
		 * message cannot be longer, so the parse below always decides
		 * once msg[] is full. */
		before = s->have;
		take = len - used;
		if (take > cap - before)
			take = cap - before;
		memcpy(s->msg + before, in + used, take);
		s->have += take;

		r = s->state == PN_SOCKS5_S_GREETING ? greeting(s, out) : request(s, out, req);
		if (r < 0) {
			*consumed = used + take;
			s->have = 0;
			return r;
		}
		if (r == 0) {
			if (take == 0) /* cannot happen: msg[] holds any message */
				return PN_E_INTERNAL;
			used += take;
			*consumed = used;
			continue;
		}
		/* r bytes of msg[] formed the message; the rest is not ours yet. */
		used += (size_t)r - before;
		*consumed = used;
		s->have = 0;
		if (s->state == PN_SOCKS5_S_WAIT_REPLY)
			return PN_SOCKS5_EV_REQUEST;
	}
	return PN_SOCKS5_EV_NEED_MORE;
}

int pn_socks5_srv_reply(struct pn_socks5_srv *s, struct pn_buf *out, uint8_t rep,
			const struct pn_socks5_addr *bnd)
{
	int r;

	if (s->state != PN_SOCKS5_S_WAIT_REPLY)
		return PN_E_INVAL;
	if ((r = pn_socks5_reply_encode(out, rep, bnd)) != 0)
		return r;
	s->state = rep == PN_SOCKS5_REP_OK ? PN_SOCKS5_S_OPEN : PN_SOCKS5_S_CLOSED;
	return 0;
}

uint8_t pn_socks5_rep_from_err(int err)
{
	switch (err) {
	case 0: return PN_SOCKS5_REP_OK;
	case PN_E_DENIED:
	case PN_E_NOT_GRANTED:
	case -EACCES:
	case -EPERM: return PN_SOCKS5_REP_NOT_ALLOWED;
	case PN_E_NO_CONNECTOR:
	case PN_E_TUNNEL_LOST:
	case -ENETUNREACH:
	case -ENETDOWN: return PN_SOCKS5_REP_NET_UNREACHABLE;
	case -EHOSTUNREACH:
	case -EHOSTDOWN:
	case -ENOENT: /* name does not resolve at the connector */
	case -ETIMEDOUT:
	case PN_E_TIMEOUT: return PN_SOCKS5_REP_HOST_UNREACHABLE;
	case -ECONNREFUSED:
	case -ECONNRESET: return PN_SOCKS5_REP_REFUSED;
	case PN_E_SOCKS_COMMAND:
	case PN_E_UNSUPPORTED: return PN_SOCKS5_REP_CMD_UNSUPPORTED;
	case PN_E_SOCKS_ATYP: return PN_SOCKS5_REP_ATYP_UNSUPPORTED;
	default: return PN_SOCKS5_REP_GENERAL_FAILURE;
	}
}

const char *pn_socks5_rep_name(uint8_t rep)
{
	static const char *const names[] = {
	    "ok",      "general_failure", "not_allowed",     "net_unreachable",	 "host_unreachable",
	    "refused", "ttl_expired",	  "cmd_unsupported", "atyp_unsupported",
	};
	return rep < sizeof(names) / sizeof(names[0]) ? names[rep] : "unknown";
}

int pn_socks5_udp_parse(const uint8_t *pkt, size_t len, struct pn_socks5_addr *dst,
			const uint8_t **payload, size_t *plen)
{
	struct pn_buf b;
	uint16_t rsv;
	uint8_t frag;
	int r;

	pn_buf_init_ro(&b, pkt, len);
	if ((r = pn_buf_get_u16(&b, &rsv)) || (r = pn_buf_get_u8(&b, &frag)))
		return r;
	if (rsv != 0)
		return PN_E_MALFORMED;
	/* Reassembly would need a timer and a buffer per association for a
	 * feature no common client uses: RFC 1928 allows dropping these. */
	if (frag != 0)
		return PN_E_SOCKS_FRAG;
	if ((r = addr_get(&b, dst)) != 0)
		return r;
	*payload = pn_buf_ptr(&b);
	*plen = pn_buf_len(&b);
	return 0;
}

int pn_socks5_udp_build(struct pn_buf *out, const struct pn_socks5_addr *src,
			const uint8_t *payload, size_t plen)
{
	if (!src)
		return PN_E_INVAL;
	if (src->atyp != PN_SOCKS5_ATYP_IPV4 && src->atyp != PN_SOCKS5_ATYP_IPV6 &&
	    src->atyp != PN_SOCKS5_ATYP_DOMAIN)
		return PN_E_INVAL;
	if (pn_buf_avail(out) < 3 + addr_wire_len(src) + plen)
		return PN_E_NOSPACE;
	pn_buf_put_u16(out, 0);
	pn_buf_put_u8(out, 0);
	addr_put(out, src);
	return pn_buf_put_bytes(out, payload, plen);
}

char *pn_socks5_addr_host(const struct pn_socks5_addr *a, char *out, size_t outsz)
{
	char tmp[INET6_ADDRSTRLEN];

	if (outsz == 0)
		return out;
	switch (a->atyp) {
	case PN_SOCKS5_ATYP_IPV4:
		inet_ntop(AF_INET, a->u.v4, tmp, sizeof(tmp));
		snprintf(out, outsz, "%s", tmp);
		break;
	case PN_SOCKS5_ATYP_IPV6:
		inet_ntop(AF_INET6, a->u.v6, tmp, sizeof(tmp));
		snprintf(out, outsz, "%s", tmp);
		break;
	case PN_SOCKS5_ATYP_DOMAIN: snprintf(out, outsz, "%s", a->u.name); break;
	default: snprintf(out, outsz, "?");
	}
	return out;
}

char *pn_socks5_addr_str(const struct pn_socks5_addr *a, char *out, size_t outsz)
{
	char host[PN_SOCKS5_MAX_NAME + 1];

	pn_socks5_addr_host(a, host, sizeof(host));
	if (a->atyp == PN_SOCKS5_ATYP_IPV6)
		snprintf(out, outsz, "[%s]:%u", host, a->port);
	else
		snprintf(out, outsz, "%s:%u", host, a->port);
	return out;
}

int pn_socks5_addr_from_host(struct pn_socks5_addr *a, const char *host, uint16_t port)
{
	char tmp[PN_SOCKS5_MAX_NAME + 1];
	size_t n = strlen(host);

	memset(a, 0, sizeof(*a));
	a->port = port;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return PN_E_MALFORMED;
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		a->atyp = PN_SOCKS5_ATYP_IPV6;
		return inet_pton(AF_INET6, tmp, a->u.v6) == 1 ? 0 : PN_E_MALFORMED;
	}
	if (inet_pton(AF_INET6, host, a->u.v6) == 1) {
		a->atyp = PN_SOCKS5_ATYP_IPV6;
		return 0;
	}
	if (inet_pton(AF_INET, host, a->u.v4) == 1) {
		a->atyp = PN_SOCKS5_ATYP_IPV4;
		return 0;
	}
	if (n > PN_SOCKS5_MAX_NAME)
		return PN_E_MALFORMED;
	a->atyp = PN_SOCKS5_ATYP_DOMAIN;
	memcpy(a->u.name, host, n + 1);
	return name_normalize(a->u.name);
}

int pn_socks5_addr_parse(struct pn_socks5_addr *a, const char *hostport)
{
	char host[PN_SOCKS5_MAX_NAME + 1];
	uint16_t port;

	/* the one host:port parser: a bare IPv6 address needs brackets */
	if (pn_addr_split(hostport, host, sizeof(host), &port, NULL, 0))
		return PN_E_MALFORMED;
	return pn_socks5_addr_from_host(a, host, port);
}
