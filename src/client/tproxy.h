#ifndef PN_CLIENT_TPROXY_H
#define PN_CLIENT_TPROXY_H
/*
 * Kernel interception for transparent mode: nftables TPROXY with policy
 * routing, all of it Postern's own and removable by name.
 *
 *   - routing: for each intercepted prefix a rule `to PREFIX lookup
 *     PN_TPROXY_RT_TABLE` (priority PN_TPROXY_RULE_PRIO), and in that table
 *     `local default dev lo src 127.0.0.1` (::1 for IPv6): locally
 *     generated packets to the prefixes are looped back to this host
 *     instead of leaving it, with a loopback source address;
 *   - nftables table `inet PN_TPROXY_TABLE`: in prerouting, packets that
 *     came in on lo for the prefixes are given (TPROXY) to the client's
 *     TCP listener and UDP socket (IP_TRANSPARENT, on 127.0.0.1 / ::1);
 *     packets from other interfaces to them are dropped (nobody else's
 *     traffic is intercepted), and packets of the client's own reply
 *     sockets (PN_TPROXY_MARK) pass; in input, whatever was not handed to a
 *     transparent socket (ICMP, other protocols) is rejected, so the
 *     host never answers for a protected address itself (the ICMP error
 *     cannot leave from an address the host does not own: in effect such
 *     packets go unanswered);
 *   - with `icmp_queue` set: in prerouting, ICMP/ICMPv6 echo requests that
 *     came in on lo for the prefixes are copied to the client (nftables
 *     `log group PN_TPROXY_LOG_GROUP`: NFLOG, which every kernel with
 *     nftables logging has, where NFQUEUE for nftables is often missing)
 *     and dropped; the client (client/transparent_icmp.h) answers them
 *     through the tunnel.
 *
 * One transparent client per host (network namespace): the names are
 * fixed, so a start after a crash finds and removes what the dead run
 * left (pn_tproxy_remove is idempotent and is also called before every
 * install).  Blocking netlink calls; run at start and stop only.
 */
#include <stdint.h>

#define PN_TPROXY_TABLE	     "postern"
#define PN_TPROXY_RT_TABLE   28782
#define PN_TPROXY_RULE_PRIO  28782
#define PN_TPROXY_MAX_PREFIX 256
#define PN_TPROXY_LOG_GROUP  28782 /* NFLOG group of the ICMP echo requests */
/* SO_MARK of the client's own sockets that answer for intercepted
 * addresses (UDP replies): their packets to the application, which may
 * itself use an intercepted address as its source (a local route picks
 * the destination as source), are not intercepted again. */
#define PN_TPROXY_MARK	   0x706e
#define PN_TPROXY_MARK_STR "0x706e"

struct pn_tproxy_spec {
	const char *v4[PN_TPROXY_MAX_PREFIX]; /* "a.b.c.d/p" */
	unsigned nv4;
	const char *v6[PN_TPROXY_MAX_PREFIX]; /* "x::/p" */
	unsigned nv6;
	uint16_t tcp_port, tcp_port6; /* TCP listeners on 127.0.0.1 and ::1 */
	uint16_t udp_port, udp_port6; /* UDP sockets (0: none) */
	int icmp_queue;		      /* echo requests to the client (NFLOG) */
};

/* Remove leftovers, then install.  0, PN_E_CONFIG (bad prefix), -EPERM,
 * -errno; on failure whatever was installed is removed again. */
int pn_tproxy_install(const struct pn_tproxy_spec *s);

/*
 * The prefixes changed (a new access list): `from` is what is installed,
 * `to` what should be (same ports).  Rules for new prefixes are added
 * before the sets take them, and removed prefixes leave the sets before
 * their rules go; the two sets are replaced in one nftables transaction.
 * 0, PN_E_CONFIG, -errno (what was done stays; the caller may reinstall).
 */
int pn_tproxy_update(const struct pn_tproxy_spec *from, const struct pn_tproxy_spec *to);

/* Remove the table, the rules and the routes (what exists).  0 or -errno
 * of the first failure other than "not there". */
int pn_tproxy_remove(void);
#endif
