#ifndef PN_CLIENT_TRANSPARENT_UDP_H
#define PN_CLIENT_TRANSPARENT_UDP_H
/*
 * Intercepted UDP (transparent mode): datagrams the kernel hands over
 * (TPROXY) arrive on one IP_TRANSPARENT socket per family, with their
 * original destination (IP_RECVORIGDSTADDR).  Each (source, destination)
 * pair becomes one UDP flow (pn_ctuns_request, PN_PROTO_UDP; the
 * destination mapped back to its name like TCP); datagrams travel as the
 * flow's QUIC DATAGRAMs.  Replies leave from a socket bound to the
 * original destination and connected to the application, so the
 * application sees them come from the address it sent to (later datagrams
 * of the pair arrive on that socket too).  A pair idle for
 * PN_TUDP_IDLE_MS is closed; at most PN_TUDP_MAX_FLOWS pairs at once (the
 * oldest idle one is dropped for a new one).  Datagrams for a pair that
 * was refused (not granted, denied by the connector) are dropped quietly
 * after one log line.
 */
#include <stdint.h>

#include <uv.h>

#include "client/proxy.h"

#define PN_TUDP_MAX_FLOWS 1024
#define PN_TUDP_IDLE_MS	  60000
#define PN_TUDP_PENDING	  8 /* datagrams held while a flow opens */

struct pn_ctuns;
struct pn_tudp;

/* Sockets on 127.0.0.1:0 and [::1]:0; *port4 / *port6 the bound ports
 * (port6 0 when IPv6 is unavailable).  0, -errno (EPERM without
 * CAP_NET_ADMIN). */
int pn_tudp_new(uv_loop_t *loop, struct pn_ctuns *tuns, pn_proxy_map_fn map, void *map_user,
		struct pn_tudp **out, uint16_t *port4, uint16_t *port6);

void pn_tudp_close(struct pn_tudp *u, void (*cb)(void *arg), void *arg);
#endif
