#ifndef PN_CLIENT_PROXY_H
#define PN_CLIENT_PROXY_H
/*
 * The client's rootless front ends (libuv glue over client/tunnels.h):
 *
 *   --forward 127.0.0.1:15432=db.corp.example:5432
 *       every TCP connection accepted on the local address becomes a flow
 *       to the fixed target (ZASentinel's port/target);
 *   --socks 127.0.0.1:1080
 *       a SOCKS5 proxy (client/socks5.h): CONNECT becomes a TCP flow, UDP
 *       ASSOCIATE relays datagrams as UDP flows; names are resolved by the
 *       connector.
 *
 * Destinations not in the access list are refused locally (SOCKS reply
 * 0x02, or a TCP reset for a forward) and logged; the connector checks
 * every flow again.  Every flow is logged with its flow id (the connector
 * logs the same id).  Bytes move with backpressure both ways: the TCP
 * socket is not read while the flow's send ring is full, and the peer gets
 * no flow-control credit until bytes were written to the socket.  A flow
 * that ends with an error resets the TCP connection (never a silent FIN).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

struct pn_ctuns;
struct pn_proxy;

/* 0 or -ENOMEM. */
int pn_proxy_new(uv_loop_t *loop, struct pn_ctuns *tuns, struct pn_proxy **out);

/* Listen for SOCKS5 on "ip:port" / "[v6]:port".  0, PN_E_CONFIG (bad
 * address), -errno (bind/listen). */
int pn_proxy_add_socks(struct pn_proxy *p, const char *listen_addr);

/* Listen on "ip:port=host:port".  0, PN_E_CONFIG, -errno. */
int pn_proxy_add_forward(struct pn_proxy *p, const char *spec);

/*
 * Transparent mode (client/transparent.h): listen on "ip:port" with
 * IP_TRANSPARENT for connections the kernel hands over (nftables TPROXY).
 * A connection's local address is the destination the application asked
 * for; map(user, dst, host, hostsz) names the flow's destination
 * (a protected name for a synthetic address, else the address itself):
 * 0, or < 0 to refuse the connection (reset, logged).  0, PN_E_CONFIG,
 * -errno (bind: EPERM without CAP_NET_ADMIN).
 */
typedef int (*pn_proxy_map_fn)(void *user, const struct sockaddr *dst, char *host,
			       size_t hostsz);
int pn_proxy_add_transparent(struct pn_proxy *p, const char *listen_addr, pn_proxy_map_fn map,
			     void *user, uint16_t *bound_port);

/* Counters and listeners for the status output.  New reference or NULL. */
json_t *pn_proxy_status(const struct pn_proxy *p);

/* Close listeners and connections (open flows are reset); cb(arg) runs
 * from the loop when every handle is released. */
void pn_proxy_close(struct pn_proxy *p, void (*cb)(void *arg), void *arg);
#endif
