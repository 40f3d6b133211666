/* Path helpers shared by every path implementation. */
#include <netinet/in.h>
#include <string.h>

#include "core/secret.h"
#include "tunnel/path.h"

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
