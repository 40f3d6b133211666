#ifndef PN_CLIENT_TRANSPARENT_H
#define PN_CLIENT_TRANSPARENT_H
/*
 * Transparent mode (`postern client run --transparent`, Linux, root or
 * CAP_NET_ADMIN): any application reaches a protected resource by its
 * name or address, with no proxy settings.  Ties together
 *
 *   - the local DNS responder (client/dns_server.h) with the synthetic
 *     address pool (client/dns_pool.h): names matching a name or wildcard
 *     resource of the access list get synthetic addresses, every other
 *     query goes untouched to the host's original resolvers;
 *   - host DNS integration: through systemd-resolved when it runs (a link
 *     of ours with the responder as DNS server and the protected names as
 *     routing domains, client/dns_resolved.h), else /etc/resolv.conf
 *     points at the responder while the client runs (client/dns_host.h);
 *   - kernel interception (client/tproxy.h): TCP and UDP to the synthetic
 *     ranges and to the address/CIDR resources of the access list are
 *     handed to the client (TPROXY);
 *   - the flows: a TCP connection (client/proxy.h transparent listener)
 *     or UDP datagrams (client/transparent_udp.c) to a synthetic address
 *     become flows to the name it stands for, to a CIDR resource flows to
 *     the address; through the same tunnels, checks and flow ids as SOCKS
 *     flows (pn_ctuns_request).
 *
 * ICMP echo to protected addresses (client/transparent_icmp.h) goes
 * through the tunnel as well; records other than A/AAAA of protected
 * names are asked of the connector's resolver (client/transparent_dns.h).
 *
 * Start undoes first what a run killed with -9 left behind (resolv.conf
 * backup in the state directory; Postern's nftables table, rules and
 * routes).  Stop restores the host's DNS first, then removes the
 * interception.
 */
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

struct pn_ctuns;
struct pn_proxy;
struct pn_transparent;

#define PN_TRANSPARENT_DNS_DEFAULT "127.0.0.153:53"

struct pn_transparent_opts {
	const char *state_dir;
	const char *dns_listen; /* NULL: PN_TRANSPARENT_DNS_DEFAULT */
	const char *pool_v4;	/* NULL: PN_POOL_V4_DEFAULT */
	const char *pool_v6;	/* NULL: PN_POOL_V6_DEFAULT; "" none */
	const char *resolv;	/* NULL: /etc/resolv.conf */
	/* "auto" (NULL): systemd-resolved when it runs, else resolv.conf;
	 * "resolved" or "resolv.conf" to choose (client/dns_resolved.h) */
	const char *dns_mode;
	const char *resolvectl;	  /* NULL: resolvectl in PATH */
	const char *resolved_dir; /* NULL: /run/systemd/resolve */
	uint32_t ttl;		/* 0: PN_DNSR_TTL_DEFAULT */
};

/* 0 when this process may install the interception (CAP_NET_ADMIN in its
 * effective set), else -EPERM. */
int pn_transparent_privileged(void);

/*
 * Start (see top).  `tuns` and `proxy` are borrowed and must outlive t.
 * 0, -EPERM (not privileged; logged with what is needed), PN_E_CONFIG,
 * -errno.  On failure the host is left as it was.
 */
int pn_transparent_start(uv_loop_t *loop, struct pn_ctuns *tuns, struct pn_proxy *proxy,
			 const struct pn_transparent_opts *o, struct pn_transparent **out);

/* The access list changed (pn_ctuns_set_acl): protected names follow at
 * once (they are looked up per query); here the routed address/CIDR
 * resources are brought in line: a new one is intercepted from now on, a
 * removed one no longer (open flows to it end by the connector's checks).
 * NULL-safe. */
void pn_transparent_acl_changed(struct pn_transparent *t);

/* Names (the first PN_TRANSPARENT_STATUS_NAMES with their addresses),
 * ranges, routed CIDRs, DNS mode and counters for `client status`.  New
 * reference. */
#define PN_TRANSPARENT_STATUS_NAMES 1000
json_t *pn_transparent_status(const struct pn_transparent *t);

/* The human-readable lines of that object (NULL: nothing printed). */
void pn_transparent_status_print(const json_t *st, FILE *out);

/* Restore DNS, remove the interception, close; cb(arg) from the loop
 * when done.  NULL-safe (cb then runs at once). */
void pn_transparent_stop(struct pn_transparent *t, void (*cb)(void *arg), void *arg);
#endif
