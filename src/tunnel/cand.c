/* Candidates: host addresses and the address filter; see cand.h. */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "tunnel/cand.h"

const char *pn_nat_kind_name(int k)
{
	switch (k) {
	case PN_NAT_NONE:
		return "none";
	case PN_NAT_EIM:
		return "eim";
	case PN_NAT_EDM:
		return "edm";
	case PN_NAT_BLOCKED:
		return "udp-blocked";
	default:
		return "unknown";
	}
}

socklen_t pn_sa_len(const struct sockaddr *a)
{
	return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int pn_sa_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return 0;
}

static uint16_t sa_port(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

int pn_sa_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return pn_sa_same_ip(a, b) && sa_port(a) == sa_port(b);
}

void pn_sa_str(const struct sockaddr *a, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof(ip));
		snprintf(out, outsz, "%s:%u", ip, sa_port(a));
	} else if (a->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof(ip));
		snprintf(out, outsz, "[%s]:%u", ip, sa_port(a));
	} else {
		snprintf(out, outsz, "-");
	}
}

static int v4_ok(uint32_t h)
{
	if ((h >> 24) == 0 || (h >> 24) == 127) /* this network, loopback */
		return 0;
	if ((h >> 28) == 0xe)			/* multicast 224/4 */
		return 0;
	if (h == 0xffffffffu)			/* limited broadcast */
		return 0;
	if ((h >> 16) == 0xa9fe)		/* link-local 169.254/16 */
		return 0;
	return 1;
}

int pn_cand_addr_ok(const struct sockaddr *a)
{
	if (!a || sa_port(a) == 0)
		return 0;
	if (a->sa_family == AF_INET)
		return v4_ok(ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr));
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(x) || IN6_IS_ADDR_LOOPBACK(x) ||
		    IN6_IS_ADDR_MULTICAST(x) || IN6_IS_ADDR_LINKLOCAL(x) || IN6_IS_ADDR_SITELOCAL(x))
			return 0;
		if (IN6_IS_ADDR_V4MAPPED(x) || IN6_IS_ADDR_V4COMPAT(x)) {
			uint32_t h;
			memcpy(&h, x->s6_addr + 12, 4);
			return v4_ok(ntohl(h));
		}
		return 1;
	}
	return 0;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it
 * names, into v4; 1 if it was one. */
static int unmap_v4(const struct sockaddr *a, struct sockaddr_in *v4)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;

	if (a->sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
		return 0;
	memset(v4, 0, sizeof(*v4));
	v4->sin_family = AF_INET;
	v4->sin_port = a6->sin6_port;
	memcpy(&v4->sin_addr, a6->sin6_addr.s6_addr + 12, 4);
	return 1;
}

int pn_cand_remote_ok(const struct sockaddr *a, const struct sockaddr_storage *relays, size_t n)
{
	struct sockaddr_in v4;

	if (!pn_cand_addr_ok(a))
		return 0;
	/* a relay named in its IPv4-mapped form is still the relay */
	if (unmap_v4(a, &v4))
		a = (const struct sockaddr *)&v4;
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_in r4;
		const struct sockaddr *r = (const struct sockaddr *)&relays[i];
		if (unmap_v4(r, &r4))
			r = (const struct sockaddr *)&r4;
		if (pn_sa_same_ip(a, r))
			return 0;
	}
	return 1;
}

int pn_cand_add(struct pn_cand *list, size_t *n, size_t max, int type, const struct sockaddr *a)
{
	for (size_t i = 0; i < *n; i++)
		if (pn_sa_equal((const struct sockaddr *)&list[i].addr, a))
			return 0;
	if (*n >= max)
		return 0;
	memset(&list[*n], 0, sizeof(list[*n]));
	list[*n].type = (uint8_t)type;
	memcpy(&list[*n].addr, a, pn_sa_len(a));
	(*n)++;
	return 1;
}

size_t pn_cand_gather(const struct ifaddrs *ifa, int family, uint16_t port, struct pn_cand *out,
		      size_t max)
{
	size_t n = 0;

	for (; ifa; ifa = ifa->ifa_next) {
		struct sockaddr_storage ss;

		if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
			continue;
		if (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		if (family != AF_UNSPEC && ifa->ifa_addr->sa_family != family)
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, ifa->ifa_addr, pn_sa_len(ifa->ifa_addr));
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		else {
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
			((struct sockaddr_in6 *)&ss)->sin6_scope_id = 0;
			((struct sockaddr_in6 *)&ss)->sin6_flowinfo = 0;
		}
		if (!pn_cand_addr_ok((struct sockaddr *)&ss))
			continue;
		pn_cand_add(out, &n, max, PN_CAND_HOST, (struct sockaddr *)&ss);
	}
	return n;
}
