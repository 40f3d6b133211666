/* Denied peer addresses: default ranges, allowed ranges, own addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "relay/peerfilter.h"

static const char *const deny_names[] = {
    "ok",    "unspecified",  "loopback",  "link-local", "private",
    "cgnat", "unique-local", "multicast", "reserved",	"own",
};

const char *pn_relay_deny_name(int why)
{
	if (why < 0 || (size_t)why >= sizeof(deny_names) / sizeof(deny_names[0]))
		return "?";
	return deny_names[why];
}

/* Does ip (family's length) fall in c? */
static int in_cidr(const struct pn_relay_cidr *c, int family, const uint8_t *ip)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->family != family)
		return 0;
	if (memcmp(c->ip, ip, full))
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((ip[full] & mask) != c->ip[full])
			return 0;
	}
	return 1;
}

static int deny_v4(const uint8_t *a)
{
	if (a[0] == 0)
		return PN_RELAY_DENY_UNSPECIFIED;
	if (a[0] == 127)
		return PN_RELAY_DENY_LOOPBACK;
	if (a[0] == 169 && a[1] == 254)
		return PN_RELAY_DENY_LINKLOCAL;
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
		return PN_RELAY_DENY_PRIVATE;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return PN_RELAY_DENY_CGNAT;
	if ((a[0] & 0xf0) == 224)
		return PN_RELAY_DENY_MULTICAST;
	if ((a[0] & 0xf0) == 240)
		return PN_RELAY_DENY_RESERVED;
	return PN_RELAY_PEER_OK;
}

static int deny_v6(const uint8_t *a)
{
	static const uint8_t zero[16];

	if (!memcmp(a, zero, 16))
		return PN_RELAY_DENY_UNSPECIFIED;
	if (!memcmp(a, zero, 15) && a[15] == 1)
		return PN_RELAY_DENY_LOOPBACK;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return PN_RELAY_DENY_LINKLOCAL;
	if ((a[0] & 0xfe) == 0xfc)
		return PN_RELAY_DENY_UNIQUELOCAL;
	if (a[0] == 0xff)
		return PN_RELAY_DENY_MULTICAST;
	return PN_RELAY_PEER_OK;
}

static int is_v4mapped(const uint8_t *a)
{
	static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pre, 12);
}

int pn_relay_peer_denied(const struct pn_relay_peerfilter *f, const struct pn_relay_addr *a)
{
	int family = a->family, why;
	const uint8_t *ip = a->ip;

	if (family == AF_INET6 && is_v4mapped(ip)) {
		family = AF_INET;
		ip = a->ip + 12;
	}
	if (family == AF_INET)
		why = deny_v4(ip);
	else if (family == AF_INET6)
		why = deny_v6(ip);
	else
		return PN_RELAY_DENY_UNSPECIFIED;
	if (!why && a->port == 0)
		why = PN_RELAY_DENY_UNSPECIFIED;
	for (unsigned i = 0; !why && i < f->nown; i++)
		if (in_cidr(&f->own[i], family, ip))
			why = PN_RELAY_DENY_OWN;
	if (!why)
		return PN_RELAY_PEER_OK;
	if (a->port == 0) /* nothing can be sent to port 0, allowed or not */
		return why;
	for (unsigned i = 0; i < f->nallow; i++)
		if (in_cidr(&f->allow[i], family, ip) ||
		    (family != a->family && in_cidr(&f->allow[i], a->family, a->ip)))
			return PN_RELAY_PEER_OK;
	return why;
}

int pn_relay_cidr_parse(const char *s, struct pn_relay_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits;
	unsigned max;

	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return PN_E_CONFIG;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, out->ip) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->ip) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return PN_E_CONFIG;
	}
	bits = max;
	if (slash) {
		char *end;
		const char *d = slash + 1;

		if (*d < '0' || *d > '9' || strlen(d) > 3)
			return PN_E_CONFIG;
		bits = strtoul(d, &end, 10);
		if (*end || bits > max)
			return PN_E_CONFIG;
	}
	out->bits = (uint8_t)bits;
	/* host bits must be zero: "10.1.2.3/8" is a typo, not a range */
	for (unsigned i = 0; i < max / 8; i++) {
		unsigned lo = i * 8;
		uint8_t mask = lo >= bits	? 0
			       : bits >= lo + 8 ? 0xff
						: (uint8_t)(0xff << (lo + 8 - bits));

		if (out->ip[i] & (uint8_t)~mask)
			return PN_E_CONFIG;
	}
	return 0;
}

void pn_relay_cidr_format(const struct pn_relay_cidr *c, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->ip, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, n, "%s/%u", host, c->bits);
}

void pn_relay_peerfilter_init(struct pn_relay_peerfilter *f)
{
	memset(f, 0, sizeof(*f));
}

int pn_relay_peerfilter_allow(struct pn_relay_peerfilter *f, const char *cidr)
{
	struct pn_relay_cidr c;

	if (pn_relay_cidr_parse(cidr, &c))
		return PN_E_CONFIG;
	if (f->nallow == PN_RELAY_ALLOW_MAX)
		return PN_E_TOOBIG;
	f->allow[f->nallow++] = c;
	return 0;
}

int pn_relay_peerfilter_add_own(struct pn_relay_peerfilter *f, int family, const void *ip)
{
	struct pn_relay_cidr *c;

	if (family != AF_INET && family != AF_INET6)
		return PN_E_INVAL;
	if (f->nown == PN_RELAY_OWN_MAX)
		return PN_E_TOOBIG;
	c = &f->own[f->nown++];
	memset(c, 0, sizeof(*c));
	c->family = (uint16_t)family;
	c->bits = family == AF_INET ? 32 : 128;
	memcpy(c->ip, ip, family == AF_INET ? 4 : 16);
	if (family == AF_INET6 && is_v4mapped(c->ip)) { /* keep it as IPv4 */
		memmove(c->ip, c->ip + 12, 4);
		memset(c->ip + 4, 0, 12);
		c->family = AF_INET;
		c->bits = 32;
	}
	return 0;
}

int pn_relay_peerfilter_load_own(struct pn_relay_peerfilter *f)
{
	struct pn_relay_peerfilter tmp = *f;
	struct ifaddrs *ifs, *i;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	tmp.nown = 0;
	for (i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa)
			continue;
		if (sa->sa_family == AF_INET)
			pn_relay_peerfilter_add_own(&tmp, AF_INET,
						    &((const struct sockaddr_in *)sa)->sin_addr);
		else if (sa->sa_family == AF_INET6)
			pn_relay_peerfilter_add_own(&tmp, AF_INET6,
						    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	}
	freeifaddrs(ifs);
	memcpy(f->own, tmp.own, sizeof(f->own));
	f->nown = tmp.nown;
	return 0;
}
