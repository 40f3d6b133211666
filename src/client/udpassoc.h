#ifndef PN_CLIENT_UDPASSOC_H
#define PN_CLIENT_UDPASSOC_H
/*
 * One SOCKS5 UDP association (RFC 1928 section 7), libuv glue: a UDP
 * socket bound next to the SOCKS listener; datagrams from the SOCKS client
 * (only from the control connection's IP address) are unwrapped and sent
 * on a UDP flow per destination; datagrams coming back are wrapped with
 * the destination as source and sent to the client.  Destinations not in
 * the access list are dropped and logged once.  Lives as long as the
 * control connection.
 */
#include <sys/socket.h>
#include <uv.h>

struct pn_ctuns;
struct pn_udpassoc;

/* Max destinations (flows) per association. */
#define PN_UDPASSOC_MAX_FLOWS 64

/*
 * Bind a UDP socket on local_ip (port ignored) for a client at client_ip
 * (port ignored).  *bound gets the address to put in the SOCKS reply.
 * 0, -errno, -ENOMEM.
 */
int pn_udpassoc_new(uv_loop_t *loop, struct pn_ctuns *t, const struct sockaddr *local_ip,
		    const struct sockaddr *client_ip, const char *label, struct pn_udpassoc **out,
		    struct sockaddr_storage *bound);

/* End the association: its flows are closed and it is freed from the loop. */
void pn_udpassoc_close(struct pn_udpassoc *u);
#endif
