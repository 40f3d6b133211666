#ifndef PN_CLIENT_TRANSPARENT_ICMP_H
#define PN_CLIENT_TRANSPARENT_ICMP_H
/*
 * Intercepted ICMP echo (transparent mode).  The kernel cannot hand ICMP
 * to a socket the way TPROXY does for TCP and UDP, so nftables copies an
 * application's echo requests to protected addresses to the client (NFLOG
 * group PN_TPROXY_LOG_GROUP, client/tproxy.h; read over netfilter
 * netlink) and drops them: the host never answers for a protected address
 * itself, with or without a client reading the group.
 *
 * Each (source, destination, echo identifier) becomes one ICMP flow
 * (pn_ctuns_request with PN_PROTO_ICMP: the same access-list check,
 * connector choice and flow ids as TCP/UDP; the destination mapped back
 * to its name); each request travels as one DATAGRAM (sequence + data),
 * the connector pings the resource and sends each reply back, and the
 * client injects the echo reply, from the protected address to the
 * application, through a raw socket (marked PN_TPROXY_MARK, so it is not
 * intercepted again).  Not granted (locally or by the connector): the
 * application gets "administratively prohibited" at once and the refusal
 * is logged once per flow.  A flow idle PN_TICMP_IDLE_MS is closed; at
 * most PN_TICMP_MAX_FLOWS at once.
 */
#include <stdint.h>

#include <uv.h>

#include "client/proxy.h"

#define PN_TICMP_MAX_FLOWS 256
#define PN_TICMP_IDLE_MS   30000
#define PN_TICMP_PENDING   4 /* requests held while a flow opens */

struct pn_ctuns;
struct pn_ticmp;

/* Bind the log group and open the raw sockets.  0, -errno (EPERM without
 * CAP_NET_ADMIN / CAP_NET_RAW; EBUSY: another program has the group). */
int pn_ticmp_new(uv_loop_t *loop, struct pn_ctuns *tuns, pn_proxy_map_fn map, void *map_user,
		 struct pn_ticmp **out);

void pn_ticmp_close(struct pn_ticmp *x, void (*cb)(void *arg), void *arg);
#endif
