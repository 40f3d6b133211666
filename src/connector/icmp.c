/*
 * ICMP echo flows at the connector (flow kind PN_FLOW_ICMP).
 *
 * The connector pings the resource with an unprivileged ICMP socket
 * (SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6: the kernel picks the echo
 * identifier and computes the checksum; it needs the connector's group in
 * net.ipv4.ping_group_range, and no raw-socket privilege).  Such a socket
 * behaves like a connected UDP socket, so it is driven by a libuv UDP
 * handle (uv_udp_open) and the flow is a UDP flow in every other respect:
 * same policy check (protocol ICMP), same idle timeout, same ends.
 *
 * On the tunnel a datagram is PN_FLOW_ICMP_SEQ_LEN bytes of sequence
 * number followed by the echo data, in both directions; which ICMP family
 * carries it is each side's own business (a client may ping the IPv4
 * synthetic address of a name the connector reaches over IPv6).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connector/connector_int.h"
#include "core/buf.h"
#include "core/err.h"

#define ICMP_HDR_LEN 8
#define ICMP4_ECHO 8
#define ICMP4_ECHOREPLY 0
#define ICMP6_ECHO 128
#define ICMP6_ECHOREPLY 129

int pn_cicmp_attempt(struct cflow *cf, const struct addrinfo *ai, struct csock **out)
{
	struct csock *s;
	int fd, r;

	*out = NULL;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC,
		    ai->ai_family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0)
		return uv_translate_sys_error(errno); /* EACCES: not in ping_group_range */
	if (!(s = calloc(1, sizeof(*s)))) {
		close(fd);
		return UV_ENOMEM;
	}
	s->cf = cf;
	if ((r = uv_udp_init(cf->c->cfg.loop, &s->u.udp)) != 0) {
		close(fd);
		free(s);
		return r;
	}
	s->u.h.data = cf;
	if ((r = uv_udp_open(&s->u.udp, fd)) != 0) {
		close(fd); /* not the handle's yet */
		pn_csock_close(s, 1);
		return r;
	}
	if ((r = uv_udp_connect(&s->u.udp, ai->ai_addr)) != 0) {
		pn_csock_close(s, 1);
		return r;
	}
	cf->icmp_family = ai->ai_family;
	*out = s;
	return 0;
}

void pn_cicmp_to_resource(struct cflow *cf, const uint8_t *p, size_t n)
{
	uint8_t pkt[ICMP_HDR_LEN + PN_FLOW_DGRAM_PAYLOAD_MAX];
	uv_buf_t b;

	/* a sequence number at least; the rest is echo data */
	if (n < PN_FLOW_ICMP_SEQ_LEN || n - PN_FLOW_ICMP_SEQ_LEN > sizeof(pkt) - ICMP_HDR_LEN)
		return;
	memset(pkt, 0, ICMP_HDR_LEN);
	pkt[0] = cf->icmp_family == AF_INET6 ? ICMP6_ECHO : ICMP4_ECHO;
	/* code, checksum and identifier: 0 (the kernel fills the latter two) */
	memcpy(pkt + 6, p, PN_FLOW_ICMP_SEQ_LEN);
	memcpy(pkt + ICMP_HDR_LEN, p + PN_FLOW_ICMP_SEQ_LEN, n - PN_FLOW_ICMP_SEQ_LEN);
	b = uv_buf_init((char *)pkt, (unsigned)(ICMP_HDR_LEN + n - PN_FLOW_ICMP_SEQ_LEN));
	if (uv_udp_try_send(&cf->io->u.udp, &b, 1, NULL) >= 0)
		cf->up += n;
}

void pn_cicmp_from_resource(struct cflow *cf, const uint8_t *p, size_t n)
{
	uint8_t out[PN_FLOW_DGRAM_PAYLOAD_MAX];
	uint8_t want = cf->icmp_family == AF_INET6 ? ICMP6_ECHOREPLY : ICMP4_ECHOREPLY;
	size_t dlen;

	/* only echo replies (the socket sees nothing else of other pings) */
	if (n < ICMP_HDR_LEN || p[0] != want || p[1] != 0)
		return;
	dlen = n - ICMP_HDR_LEN;
	if (dlen > sizeof(out) - PN_FLOW_ICMP_SEQ_LEN)
		return; /* larger than a tunnel datagram carries */
	memcpy(out, p + 6, PN_FLOW_ICMP_SEQ_LEN);
	memcpy(out + PN_FLOW_ICMP_SEQ_LEN, p + ICMP_HDR_LEN, dlen);
	if (pn_flow_send_datagram(cf->f, out, dlen + PN_FLOW_ICMP_SEQ_LEN) == 0)
		cf->down += dlen + PN_FLOW_ICMP_SEQ_LEN;
}
