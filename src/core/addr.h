#ifndef PN_CORE_ADDR_H
#define PN_CORE_ADDR_H
/*
 * The one address:port parser.  Accepted forms:
 *
 *   host:port        host is a name or an IPv4 address (no ':' in it)
 *   [v6]:port        a bracketed IPv6 address
 *
 * The port is 1..5 decimal digits, nothing else (no sign, no spaces, no
 * hex), at most 65535; 0 only with PN_ADDR_PORT0 (bind to any port).
 */
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define PN_ADDR_PORT0 1u /* accept port 0 */

/* Split s into host (NUL-terminated, brackets removed, 1..hostsz-1 bytes)
 * and port.  *bracketed (may be NULL) is set for the [v6] form, whose host
 * is then checked to be an IPv6 address.  0 or PN_E_MALFORMED. */
int pn_addr_split(const char *s, char *host, size_t hostsz, uint16_t *port, int *bracketed,
		  unsigned flags);

/* A literal IPv4 or IPv6 address with port into *ss (zeroed first).
 * 0 or PN_E_MALFORMED (also for a name). */
int pn_addr_parse(const char *s, struct sockaddr_storage *ss, unsigned flags);

/* Same family, address and port (IPv4, IPv6; other families: 0).  1 or 0. */
int pn_addr_equal(const struct sockaddr *a, const struct sockaddr *b);
#endif
