/* Host DNS through systemd-resolved; see dns_resolved.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "client/dns_host.h"
#include "client/dns_resolved.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"

extern char **environ;

struct pn_resolved {
	char ctl[256];
	char server[64];
	int tun; /* the link lives while this is open */
};

/* ------------------------------------------------------------ decision -- */

int pn_resolved_decide(const char *link_target, const char *head, int runtime_present)
{
	int managed = 0;

	if (link_target && strstr(link_target, "/run/systemd/resolve/"))
		managed = 1; /* stub-resolv.conf or resolv.conf of resolved */
	if (head && strstr(head, "systemd-resolved"))
		managed = 1; /* its header in a copied file */
	return managed && runtime_present;
}

int pn_resolved_detect(const char *resolv, const char *rundir)
{
	char target[4096], head[1024], rf[4200];
	ssize_t n;
	int fd, have;
	struct stat st;

	n = readlink(resolv, target, sizeof(target) - 1);
	if (n >= 0)
		target[n] = '\0';
	head[0] = '\0';
	if ((fd = open(resolv, O_RDONLY | O_CLOEXEC)) >= 0) {
		ssize_t k = read(fd, head, sizeof(head) - 1);
		head[k > 0 ? k : 0] = '\0';
		close(fd);
	}
	snprintf(rf, sizeof(rf), "%s/resolv.conf", rundir ? rundir : PN_RESOLVED_DIR);
	have = stat(rf, &st) == 0 && S_ISREG(st.st_mode);
	return pn_resolved_decide(n >= 0 ? target : NULL, head, have);
}

int pn_resolved_domain(const char *pattern, char *out, size_t outsz)
{
	const char *p = pattern;
	int k;

	if (!strncmp(p, "**.", 3))
		p += 3;
	else if (!strncmp(p, "*.", 2))
		p += 2;
	/* addresses and CIDRs route by IP, not by name */
	if (!*p || strchr(p, '/') || strchr(p, ':') || strspn(p, "0123456789.") == strlen(p))
		return PN_E_INVAL;
	k = snprintf(out, outsz, "~%s", p);
	return k < 0 || (size_t)k >= outsz ? PN_E_NOSPACE : 0;
}

static int cmd(struct pn_resolved_cmd *c, unsigned *ncmds, unsigned max, const char *ctl,
	       const char *verb, const char *ifname, const char *a, const char *b)
{
	if (*ncmds >= max)
		return PN_E_TOOBIG;
	c += *ncmds;
	c->argc = 0;
	c->argv[c->argc++] = ctl;
	c->argv[c->argc++] = verb;
	c->argv[c->argc++] = ifname;
	if (a)
		c->argv[c->argc++] = a;
	if (b)
		c->argv[c->argc++] = b;
	c->argv[c->argc] = NULL;
	(*ncmds)++;
	return 0;
}

int pn_resolved_plan(const char *ctl, const char *ifname, const char *server,
		     const char *const *domains, unsigned n, struct pn_resolved_cmd *cmds,
		     unsigned max, unsigned *ncmds)
{
	struct pn_resolved_cmd *d;
	int r;

	*ncmds = 0;
	if (n > PN_RESOLVED_MAX_DOMAINS)
		return PN_E_TOOBIG;
	if ((r = cmd(cmds, ncmds, max, ctl, "dns", ifname, server, NULL)) != 0)
		return r;
	if (*ncmds >= max)
		return PN_E_TOOBIG;
	d = &cmds[(*ncmds)++];
	d->argc = 0;
	d->argv[d->argc++] = ctl;
	d->argv[d->argc++] = "domain";
	d->argv[d->argc++] = ifname;
	for (unsigned i = 0; i < n; i++)
		d->argv[d->argc++] = domains[i];
	if (n == 0)
		d->argv[d->argc++] = ""; /* clears the list */
	d->argv[d->argc] = NULL;
	/* only the routing domains come to us; no multicast name services
	   and no DNSSEC validation of synthetic answers on our link */
	if ((r = cmd(cmds, ncmds, max, ctl, "default-route", ifname, "false", NULL)) != 0 ||
	    (r = cmd(cmds, ncmds, max, ctl, "llmnr", ifname, "false", NULL)) != 0 ||
	    (r = cmd(cmds, ncmds, max, ctl, "mdns", ifname, "false", NULL)) != 0 ||
	    (r = cmd(cmds, ncmds, max, ctl, "dnssec", ifname, "false", NULL)) != 0)
		return r;
	return 0;
}

/* ---------------------------------------------------------- execution -- */

static int run(const struct pn_resolved_cmd *c)
{
	pid_t pid;
	int st, r;

	r = posix_spawnp(&pid, c->argv[0], NULL, NULL, (char *const *)c->argv, environ);
	if (r != 0) {
		PN_LOG_ERROR("client", "resolvectl_failed", "verb=%s err=%s", c->argv[1],
			     pn_errname(-r));
		return -r;
	}
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		PN_LOG_ERROR("client", "resolvectl_failed", "verb=%s status=%d", c->argv[1],
			     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return PN_E_RESOLVED_CMD;
	}
	return 0;
}

static int run_all(const struct pn_resolved_cmd *c, unsigned n)
{
	int r;

	for (unsigned i = 0; i < n; i++)
		if ((r = run(&c[i])) != 0)
			return r;
	return 0;
}

static int revert(const char *ctl)
{
	struct pn_resolved_cmd c = {.argc = 3, .argv = {ctl, "revert", PN_RESOLVED_LINK, NULL}};
	return run(&c);
}

/* One rtnetlink request, wait for its ack.  0 or -errno. */
static int nl_do(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	ssize_t n;
	int r = 0;

	if (!nl)
		return -errno;
	nlh->nlmsg_seq = 1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ||
	    (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0 ||
	    mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		r = -errno;
	mnl_socket_close(nl);
	return r;
}

static int link_del(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, PN_RESOLVED_LINK);
	return nl_do(nlh);
}

/* Up, with addr4/32. */
static int link_setup(unsigned idx, const char *addr4)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct ifinfomsg *ifi;
	struct in_addr a;
	int r;

	if (inet_pton(AF_INET, addr4, &a) != 1)
		return PN_E_CONFIG;
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = idx;
	mnl_attr_put(nlh, IFA_LOCAL, 4, &a);
	mnl_attr_put(nlh, IFA_ADDRESS, 4, &a);
	if ((r = nl_do(nlh)) != 0)
		return r;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_do(nlh);
}

/* The TUN link, held by the returned descriptor. */
static int link_open(const char *addr4, int *fd_out)
{
	struct ifreq ifr;
	int fd, r;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", PN_RESOLVED_LINK);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = link_setup(if_nametoindex(PN_RESOLVED_LINK), addr4)) != 0) {
		close(fd); /* the link goes with it */
		return r;
	}
	*fd_out = fd;
	return 0;
}

int pn_resolved_recover(const char *ctl)
{
	int r;

	if (!if_nametoindex(PN_RESOLVED_LINK))
		return 0;
	PN_LOG_WARN("client", "dns_recover", "mode=resolved link=%s why=\"left by a previous run\"",
		    PN_RESOLVED_LINK);
	(void)revert(ctl ? ctl : PN_RESOLVED_CTL);
	r = link_del();
	return r == -ENODEV ? 0 : r;
}

static int apply(struct pn_resolved *rs, const char *const *domains, unsigned n, int all)
{
	struct pn_resolved_cmd *c = calloc(6, sizeof(*c));
	unsigned nc;
	int r;

	if (!c)
		return -ENOMEM;
	r = pn_resolved_plan(rs->ctl, PN_RESOLVED_LINK, rs->server, domains, n, c, 6, &nc);
	if (r == 0)
		r = all ? run_all(c, nc) : run(&c[1]); /* [1]: domain */
	free(c);
	return r;
}

int pn_resolved_takeover(const char *ctl, const char *rundir, const char *addr4,
			 const struct sockaddr_storage *listen, const char *const *domains,
			 unsigned n, struct sockaddr_storage *ups, unsigned max, unsigned *nups,
			 struct pn_resolved **out)
{
	struct pn_resolved *rs;
	char ip[INET6_ADDRSTRLEN], *text = NULL;
	size_t tlen;
	unsigned port;
	int r;

	*out = NULL;
	*nups = 0;
	if (!(rs = calloc(1, sizeof(*rs))))
		return -ENOMEM;
	rs->tun = -1;
	snprintf(rs->ctl, sizeof(rs->ctl), "%s", ctl ? ctl : PN_RESOLVED_CTL);
	if (listen->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)listen)->sin_addr, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in *)listen)->sin_port);
		snprintf(rs->server, sizeof(rs->server), port == 53 ? "%s" : "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)listen)->sin6_addr, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in6 *)listen)->sin6_port);
		snprintf(rs->server, sizeof(rs->server), port == 53 ? "%s" : "[%s]:%u", ip, port);
	}
	/* resolved's real servers (never its stub) */
	r = pn_file_read_at(rundir ? rundir : PN_RESOLVED_DIR, "resolv.conf", PN_DNSHOST_MAX, &text,
			    &tlen);
	if (r == 0)
		r = pn_dnshost_parse(text, listen, ups, max, nups);
	free(text);
	if (r == 0 && *nups == 0)
		r = PN_E_CONFIG;
	if (r != 0) {
		PN_LOG_ERROR("client", "dns_takeover_failed",
			     "mode=resolved err=%s why=\"no upstream DNS server in resolved's "
			     "resolv.conf\"",
			     pn_errname(r));
		free(rs);
		return r;
	}
	(void)pn_resolved_recover(rs->ctl);
	if ((r = link_open(addr4, &rs->tun)) != 0) {
		PN_LOG_ERROR("client", "dns_takeover_failed", "mode=resolved what=link err=%s",
			     pn_errname(r));
		free(rs);
		return r;
	}
	if ((r = apply(rs, domains, n, 1)) != 0) {
		pn_resolved_restore(rs);
		return r;
	}
	PN_LOG_INFO("client", "dns_takeover", "mode=resolved link=%s server=%s domains=%u upstreams=%u",
		    PN_RESOLVED_LINK, rs->server, n, *nups);
	*out = rs;
	return 0;
}

int pn_resolved_set_domains(struct pn_resolved *r, const char *const *domains, unsigned n)
{
	return r ? apply(r, domains, n, 0) : 0;
}

void pn_resolved_restore(struct pn_resolved *r)
{
	if (!r)
		return;
	(void)revert(r->ctl);
	if (r->tun >= 0)
		close(r->tun); /* the link goes with its last descriptor */
	free(r);
}
