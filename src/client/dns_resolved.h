#ifndef PN_CLIENT_DNS_RESOLVED_H
#define PN_CLIENT_DNS_RESOLVED_H
/*
 * Host DNS through systemd-resolved (transparent mode), when it runs:
 * split DNS, as resolved means it — a link of Postern's own carries the
 * responder as its DNS server and the protected names as routing domains
 * (`~app.corp.example`; `*.x.corp` and `**.x.corp` give `~x.corp`), with
 * default-route off, so resolved sends only those names to the responder
 * and everything else where it always did.  /etc/resolv.conf is not
 * touched.
 *
 * The link: a TUN device PN_RESOLVED_LINK that the client holds open
 * (resolved only uses links that are up, have a carrier and a routable
 * address: it gets the first address of the synthetic IPv4 range, which
 * is never handed out).  It disappears with the client's descriptor, so a
 * client killed with -9 leaves no link and resolved forgets its DNS
 * settings by itself; start removes a leftover one anyway.  The settings
 * are made with resolvectl (dns, domain, default-route, llmnr, mdns,
 * dnssec) and undone with `resolvectl revert` before the link goes.
 *
 * The responder's upstreams are resolved's own (its resolv.conf in the
 * runtime directory lists the real servers, never the stub): a name under
 * a routing domain that is not protected is forwarded there, not back to
 * resolved (which would route it to us again).
 *
 * Blocking (netlink, fork/exec of resolvectl): start, stop and list
 * changes only.
 */
#include <stddef.h>
#include <sys/socket.h>

#define PN_RESOLVED_LINK	"postern0"
#define PN_RESOLVED_DIR		"/run/systemd/resolve"
#define PN_RESOLVED_CTL		"resolvectl"
#define PN_RESOLVED_MAX_DOMAINS 256
#define PN_RESOLVED_DOMAIN_MAX	(1 + 253 + 1)
#define PN_RESOLVED_MAX_ARGS	(3 + PN_RESOLVED_MAX_DOMAINS)

/* Is this host's DNS run by resolved?  `resolv`'s symlink target (or
 * NULL) and the file's first bytes, and whether resolved's runtime
 * directory has its resolv.conf: managed when the link points into
 * PN_RESOLVED_DIR or the text says "systemd-resolved", and running when
 * the runtime file exists.  1 or 0. */
int pn_resolved_decide(const char *link_target, const char *head, int runtime_present);

/* Read what pn_resolved_decide needs from the files (resolv, rundir). */
int pn_resolved_detect(const char *resolv, const char *rundir);

/* The routing domain of a name pattern ("~app.corp.example"; wildcards
 * give their parent), into out[outsz].  0, PN_E_INVAL (an address or CIDR
 * pattern: no domain), PN_E_NOSPACE. */
int pn_resolved_domain(const char *pattern, char *out, size_t outsz);

/* One resolvectl invocation. */
struct pn_resolved_cmd {
	unsigned argc;
	const char *argv[PN_RESOLVED_MAX_ARGS + 1]; /* NULL-terminated */
};

/*
 * The commands that configure link `ifname` (server "127.0.0.153" or
 * "127.0.0.153:5353"; domains[n] the routing domains, n 0 sent as the one
 * argument "", which clears the list), in order, into cmds[*ncmds] (at
 * most max): dns, domain, default-route false, llmnr false, mdns false,
 * dnssec false.  Strings are borrowed.  0 or PN_E_TOOBIG.
 */
int pn_resolved_plan(const char *ctl, const char *ifname, const char *server,
		     const char *const *domains, unsigned n, struct pn_resolved_cmd *cmds,
		     unsigned max, unsigned *ncmds);

struct pn_resolved;

/*
 * Take over (see top): remove a leftover link, create ours with `addr4`
 * (the synthetic range's first address, dotted quad), set its DNS to the
 * responder at `listen` and the routing domains, read the upstreams from
 * rundir's resolv.conf into ups[*nups] (at most max; `listen` skipped).
 * ctl: the resolvectl program (NULL: PN_RESOLVED_CTL, found in PATH);
 * rundir NULL: PN_RESOLVED_DIR.  0, PN_E_CONFIG (no upstream: resolved
 * knows no DNS server), -errno, PN_E_RESOLVED_CMD (resolvectl failed).
 * On failure nothing is left behind.
 */
int pn_resolved_takeover(const char *ctl, const char *rundir, const char *addr4,
			 const struct sockaddr_storage *listen, const char *const *domains,
			 unsigned n, struct sockaddr_storage *ups, unsigned max, unsigned *nups,
			 struct pn_resolved **out);

/* New routing domains (a new access list).  0 or an error of resolvectl. */
int pn_resolved_set_domains(struct pn_resolved *r, const char *const *domains, unsigned n);

/* Revert the link's settings and remove it; NULL-safe. */
void pn_resolved_restore(struct pn_resolved *r);

/* A leftover link of a killed run (normally gone with its descriptor):
 * reverted and removed.  0 (also when there was none) or -errno. */
int pn_resolved_recover(const char *ctl);
#endif
