#include "core/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/err.h"

static int parse_port(const char *s, uint16_t *out, unsigned flags)
{
	uint32_t v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 5)
			return PN_E_MALFORMED;
		v = v * 10 + (uint32_t)(s[n] - '0');
	}
	if (n == 0 || v > 65535 || (v == 0 && !(flags & PN_ADDR_PORT0)))
		return PN_E_MALFORMED;
	*out = (uint16_t)v;
	return 0;
}

int pn_addr_split(const char *s, char *host, size_t hostsz, uint16_t *port, int *bracketed,
		  unsigned flags)
{
	const char *h, *colon;
	size_t hl;
	uint8_t a6[16];
	int br = 0;

	if (!s || !host || hostsz < 2 || !port)
		return PN_E_MALFORMED;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return PN_E_MALFORMED;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
		br = 1;
	} else {
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':'))
			return PN_E_MALFORMED; /* none, or an unbracketed IPv6 address */
		h = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostsz)
		return PN_E_MALFORMED;
	if (parse_port(colon + 1, port, flags))
		return PN_E_MALFORMED;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (br && inet_pton(AF_INET6, host, a6) != 1) {
		host[0] = '\0';
		return PN_E_MALFORMED;
	}
	if (bracketed)
		*bracketed = br;
	return 0;
}

int pn_addr_parse(const char *s, struct sockaddr_storage *ss, unsigned flags)
{
	char host[INET6_ADDRSTRLEN + 1];
	uint16_t port;
	int br;

	memset(ss, 0, sizeof(*ss));
	if (pn_addr_split(s, host, sizeof(host), &port, &br, flags))
		return PN_E_MALFORMED;
	if (br) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
	}
	return 0;
bad:
	memset(ss, 0, sizeof(*ss));
	return PN_E_MALFORMED;
}

int pn_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return 0;
}
