/* Path helpers shared by every path provider and user (core/path.h). */
#include <netinet/in.h>
#include <string.h>

#include "core/path.h"
#include "core/secret.h"

const char *pn_path_kind_name(enum pn_path_kind k)
{
	switch (k) {
	case PN_PATH_DIRECT:
		return "direct";
	case PN_PATH_RELAY_UDP:
		return "relay-udp";
	case PN_PATH_RELAY_TLS:
		return "relay-tls";
	case PN_PATH_RELAY_WS:
		return "relay-ws";
	case PN_PATH_MEMORY:
		return "memory";
	default:
		return "none";
	}
}

void pn_path_synth_addrs(struct pn_path *p)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6}, b;
	uint8_t r[10];

	/* 100::/64 is the discard prefix: these addresses name a path for
	 * ngtcp2's path comparison and are never used for I/O.  Random low
	 * bits keep pairs distinct without shared state. */
	pn_random(r, sizeof(r));
	a.sin6_addr.s6_addr[0] = 0x01;
	memcpy(&a.sin6_addr.s6_addr[8], r, 8);
	b = a;
	b.sin6_addr.s6_addr[15] ^= 0x01;
	a.sin6_port = (uint16_t)(r[8] << 8 | r[9]);
	b.sin6_port = (uint16_t)~a.sin6_port;
	memset(&p->local, 0, sizeof(p->local));
	memset(&p->remote, 0, sizeof(p->remote));
	memcpy(&p->local, &a, sizeof(a));
	memcpy(&p->remote, &b, sizeof(b));
	p->local_len = p->remote_len = sizeof(a);
}

void pn_path_attach(struct pn_path *p, const struct pn_path_sink *sink, void *user)
{
	p->sink = sink;
	p->sink_user = user;
}

void pn_path_release(struct pn_path *p)
{
	if (!p)
		return;
	p->sink = NULL;
	p->sink_user = NULL;
	if (p->ops->release)
		p->ops->release(p);
}

void pn_path_input(struct pn_path *p, const uint8_t *data, size_t n)
{
	if (p->sink && p->sink->recv)
		p->sink->recv(p, data, n, p->sink_user);
}

void pn_path_lost(struct pn_path *p, int err)
{
	const struct pn_path_sink *s = p->sink;

	if (s && s->lost)
		s->lost(p, err, p->sink_user);
}
