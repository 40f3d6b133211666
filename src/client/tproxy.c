/* nftables TPROXY + policy routing for transparent mode; see tproxy.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <nftables/libnftables.h>

#include "client/nft_dl.h"
#include "client/tproxy.h"
#include "core/err.h"
#include "core/log.h"

/* ------------------------------------------------------- rtnetlink -- */

/* One request, wait for its ack.  0 or -errno from the kernel. */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned portid = mnl_socket_get_portid(nl);
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0)
		return -errno;
	return 0;
}

static int parse_prefix(const char *s, int fam, uint8_t *addr, unsigned *plen)
{
	char a[64];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long p;

	if (!slash || (size_t)(slash - s) >= sizeof(a))
		return PN_E_CONFIG;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	if (inet_pton(fam, a, addr) != 1)
		return PN_E_CONFIG;
	p = strtoul(slash + 1, &end, 10);
	if (*end || p > (fam == AF_INET ? 32u : 128u))
		return PN_E_CONFIG;
	*plen = (unsigned)p;
	return 0;
}

static uint32_t seq_next(void)
{
	static uint32_t seq;
	if (!seq)
		seq = (uint32_t)time(NULL);
	return ++seq;
}

/* ip rule add/del [to PREFIX] lookup T priority P. */
static int nl_rule(struct mnl_socket *nl, int add, int fam, const uint8_t *dst, unsigned dlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nlh->nlmsg_seq = seq_next();
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)fam;
	frh->action = FR_ACT_TO_TBL;
	frh->table = RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, PN_TPROXY_RT_TABLE);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, PN_TPROXY_RULE_PRIO);
	if (dst) {
		frh->dst_len = (uint8_t)dlen;
		mnl_attr_put(nlh, FRA_DST, fam == AF_INET ? 4 : 16, dst);
	}
	return nl_talk(nl, nlh);
}

/* ip route add/del local default dev lo table T. */
static int nl_route(struct mnl_socket *nl, int add, int fam)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	unsigned lo = if_nametoindex("lo");

	if (!lo)
		return -ENODEV;
	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	nlh->nlmsg_seq = seq_next();
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)fam;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_HOST;
	rtm->rtm_type = RTN_LOCAL;
	mnl_attr_put_u32(nlh, RTA_TABLE, PN_TPROXY_RT_TABLE);
	mnl_attr_put_u32(nlh, RTA_OIF, lo);
	if (add) {
		/* The application's source: loopback (not the destination
		 * itself, which no device owns: connect would fail). */
		if (fam == AF_INET) {
			struct in_addr a = {htonl(INADDR_LOOPBACK)};
			mnl_attr_put(nlh, RTA_PREFSRC, 4, &a);
		} else {
			mnl_attr_put(nlh, RTA_PREFSRC, 16, &in6addr_loopback);
		}
	}
	return nl_talk(nl, nlh);
}

static int nl_open(struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);

	*out = NULL;
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	*out = nl;
	return 0;
}

/* -------------------------------------------------------- nftables -- */

static int nft_run(const char *cmd)
{
	struct nft_ctx *ctx;
	char err[256];
	int r;

	/* libnftables is loaded here, at the first rule change (nft_dl.h) */
	if ((r = pn_nft_load(err, sizeof(err)))) {
		PN_LOG_ERROR("client", "nft_unavailable", "msg=\"%s\"", err);
		return r;
	}
	if (!(ctx = nft_ctx_new(NFT_CTX_DEFAULT)))
		return -ENOMEM;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	r = nft_run_cmd_from_buffer(ctx, cmd);
	if (r != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		char one[240];
		size_t i;
		snprintf(one, sizeof(one), "%s", e ? e : "");
		for (i = 0; one[i]; i++)
			if (one[i] == '\n' || one[i] == '"')
				one[i] = ' ';
		PN_LOG_WARN("client", "nft_failed", "err=\"%s\"", one);
		r = -EPERM;
	}
	nft_ctx_free(ctx);
	return r;
}

/* "{ a, b }" of the prefixes into out. */
static int set_text(const char *const *p, unsigned n, char *out, size_t outsz)
{
	size_t o = 0;
	int k = snprintf(out, outsz, "{ ");
	if (k < 0 || (size_t)k >= outsz)
		return PN_E_TOOBIG;
	o = (size_t)k;
	for (unsigned i = 0; i < n; i++) {
		k = snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", p[i]);
		if (k < 0 || (size_t)k >= outsz - o)
			return PN_E_TOOBIG;
		o += (size_t)k;
	}
	k = snprintf(out + o, outsz - o, " }");
	if (k < 0 || (size_t)k >= outsz - o)
		return PN_E_TOOBIG;
	return 0;
}

int pn_tproxy_remove(void)
{
	struct mnl_socket *nl;
	int r, first = 0;

	/* "add" first makes "delete" succeed when the table is not there. */
	r = nft_run("add table inet " PN_TPROXY_TABLE "\ndelete table inet " PN_TPROXY_TABLE "\n");
	if (r)
		first = r;
	if ((r = nl_open(&nl)) != 0)
		return first ? first : r;
	for (int fam = 0; fam < 2; fam++) {
		int f = fam ? AF_INET6 : AF_INET;
		/* Every rule of ours, whatever its destination. */
		for (int i = 0; i < 4 * PN_TPROXY_MAX_PREFIX; i++) {
			r = nl_rule(nl, 0, f, NULL, 0);
			if (r == -ENOENT || r == -ESRCH)
				break;
			if (r) {
				if (!first)
					first = r;
				break;
			}
		}
		r = nl_route(nl, 0, f);
		if (r && r != -ESRCH && r != -ENOENT && !first)
			first = r;
	}
	mnl_socket_close(nl);
	return first;
}

static int has_prefix(const char *const *list, unsigned n, const char *p)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(list[i], p))
			return 1;
	return 0;
}

/* Add (add=1) the rules of `a` missing from `b`, or delete (add=0) them. */
static int rules_diff(struct mnl_socket *nl, int add, const struct pn_tproxy_spec *a,
		      const struct pn_tproxy_spec *b)
{
	int r;

	for (unsigned i = 0; i < a->nv4 + a->nv6; i++) {
		int v6 = i >= a->nv4;
		const char *p = v6 ? a->v6[i - a->nv4] : a->v4[i];
		uint8_t addr[16];
		unsigned plen;
		if (v6 ? has_prefix(b->v6, b->nv6, p) : has_prefix(b->v4, b->nv4, p))
			continue;
		if ((r = parse_prefix(p, v6 ? AF_INET6 : AF_INET, addr, &plen)) != 0)
			return r;
		r = nl_rule(nl, add, v6 ? AF_INET6 : AF_INET, addr, plen);
		if (r != 0 && !(add ? r == -EEXIST : (r == -ENOENT || r == -ESRCH)))
			return r;
	}
	return 0;
}

int pn_tproxy_update(const struct pn_tproxy_spec *from, const struct pn_tproxy_spec *to)
{
	struct mnl_socket *nl = NULL;
	size_t cap = 4096 + 64 * (to->nv4 + to->nv6);
	char *cmd = NULL, *s4 = NULL, *s6 = NULL;
	int r;

	if (!(cmd = malloc(cap)) || !(s4 = malloc(cap)) || !(s6 = malloc(cap))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = set_text(to->v4, to->nv4, s4, cap)) != 0 ||
	    (r = set_text(to->v6, to->nv6, s6, cap)) != 0 || (r = nl_open(&nl)) != 0)
		goto out;
	/* 1. routes to the new prefixes loop back to us */
	if ((r = rules_diff(nl, 1, to, from)) != 0)
		goto out;
	if (to->nv4 && !from->nv4 && (r = nl_route(nl, 1, AF_INET)) != 0)
		goto out;
	if (to->nv6 && !from->nv6 && (r = nl_route(nl, 1, AF_INET6)) != 0)
		goto out;
	/* 2. the sets, at once */
	{
		int k = snprintf(cmd, cap,
				 "flush set inet " PN_TPROXY_TABLE " v4\n"
				 "flush set inet " PN_TPROXY_TABLE " v6\n"
				 "%s%s%s%s%s%s",
				 to->nv4 ? "add element inet " PN_TPROXY_TABLE " v4 " : "",
				 to->nv4 ? s4 : "", to->nv4 ? "\n" : "",
				 to->nv6 ? "add element inet " PN_TPROXY_TABLE " v6 " : "",
				 to->nv6 ? s6 : "", to->nv6 ? "\n" : "");
		if (k < 0 || (size_t)k >= cap) {
			r = PN_E_TOOBIG;
			goto out;
		}
	}
	if ((r = nft_run(cmd)) != 0)
		goto out;
	/* 3. prefixes no longer intercepted route as before */
	r = rules_diff(nl, 0, from, to);
out:
	if (nl)
		mnl_socket_close(nl);
	if (r)
		PN_LOG_ERROR("client", "tproxy_update_failed", "err=%s", pn_errname(r));
	else
		PN_LOG_INFO("client", "tproxy_updated", "prefixes_v4=%u prefixes_v6=%u", to->nv4,
			    to->nv6);
	free(cmd);
	free(s4);
	free(s6);
	return r;
}

int pn_tproxy_install(const struct pn_tproxy_spec *s)
{
	struct mnl_socket *nl = NULL;
	size_t cap = 4096 + 64 * (s->nv4 + s->nv6);
	char *cmd = NULL, *s4 = NULL, *s6 = NULL;
	int r;

	(void)pn_tproxy_remove();
	if (!(cmd = malloc(cap)) || !(s4 = malloc(cap)) || !(s6 = malloc(cap))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = set_text(s->v4, s->nv4, s4, cap)) != 0 ||
	    (r = set_text(s->v6, s->nv6, s6, cap)) != 0)
		goto out;
	if ((r = nl_open(&nl)) != 0)
		goto out;
	for (unsigned i = 0; i < s->nv4 + s->nv6; i++) {
		int fam = i < s->nv4 ? AF_INET : AF_INET6;
		const char *p = i < s->nv4 ? s->v4[i] : s->v6[i - s->nv4];
		uint8_t a[16];
		unsigned plen;
		if ((r = parse_prefix(p, fam, a, &plen)) != 0)
			goto out;
		if ((r = nl_rule(nl, 1, fam, a, plen)) != 0 && r != -EEXIST)
			goto out;
	}
	if (s->nv4 && (r = nl_route(nl, 1, AF_INET)) != 0)
		goto out;
	if (s->nv6 && (r = nl_route(nl, 1, AF_INET6)) != 0)
		goto out;
	{
		char udp4[128] = "", udp6[128] = "", icmp[256] = "";
		int k;
		if (s->icmp_queue)
			snprintf(icmp, sizeof(icmp),
				 "    ip daddr @v4 icmp type echo-request log group %u drop\n"
				 "    ip6 daddr @v6 icmpv6 type echo-request log group %u drop\n",
				 PN_TPROXY_LOG_GROUP, PN_TPROXY_LOG_GROUP);
		if (s->udp_port) {
			snprintf(
			    udp4, sizeof(udp4),
			    "    ip daddr @v4 meta l4proto udp tproxy ip to 127.0.0.1:%u accept\n",
			    s->udp_port);
			snprintf(
			    udp6, sizeof(udp6),
			    "    ip6 daddr @v6 meta l4proto udp tproxy ip6 to [::1]:%u accept\n",
			    s->udp_port6 ? s->udp_port6 : s->udp_port);
		}
		k = snprintf(cmd, cap,
			     "table inet " PN_TPROXY_TABLE " {\n"
			     "  set v4 { type ipv4_addr; flags interval; %s%s%s }\n"
			     "  set v6 { type ipv6_addr; flags interval; %s%s%s }\n"
			     "  chain pre {\n"
			     "    type filter hook prerouting priority mangle; policy accept;\n"
			     "    iifname != \"lo\" ip daddr @v4 drop\n"
			     "    iifname != \"lo\" ip6 daddr @v6 drop\n"
			     "    meta mark " PN_TPROXY_MARK_STR " accept\n"
			     "    ip daddr @v4 meta l4proto tcp tproxy ip to 127.0.0.1:%u accept\n"
			     "    ip6 daddr @v6 meta l4proto tcp tproxy ip6 to [::1]:%u accept\n"
			     "%s%s%s"
			     "  }\n"
			     "  chain in {\n"
			     "    type filter hook input priority filter; policy accept;\n"
			     "    ip daddr @v4 meta l4proto != { tcp%s } reject with icmpx "
			     "admin-prohibited\n"
			     "    ip6 daddr @v6 meta l4proto != { tcp%s } reject with icmpx "
			     "admin-prohibited\n"
			     "  }\n"
			     "}\n",
			     s->nv4 ? "elements = " : "", s->nv4 ? s4 : "", s->nv4 ? ";" : "",
			     s->nv6 ? "elements = " : "", s->nv6 ? s6 : "", s->nv6 ? ";" : "",
			     s->tcp_port, s->tcp_port6 ? s->tcp_port6 : s->tcp_port, udp4, udp6, icmp,
			     s->udp_port ? ", udp" : "", s->udp_port ? ", udp" : "");
		if (k < 0 || (size_t)k >= cap) {
			r = PN_E_TOOBIG;
			goto out;
		}
	}
	r = nft_run(cmd);
out:
	if (nl)
		mnl_socket_close(nl);
	if (r) {
		PN_LOG_ERROR("client", "tproxy_install_failed", "err=%s", pn_errname(r));
		(void)pn_tproxy_remove();
	} else {
		PN_LOG_INFO("client", "tproxy_installed",
			    "table=inet:%s rt_table=%u prefixes_v4=%u prefixes_v6=%u tcp_port=%u "
			    "udp_port=%u",
			    PN_TPROXY_TABLE, PN_TPROXY_RT_TABLE, s->nv4, s->nv6, s->tcp_port,
			    s->udp_port);
	}
	free(cmd);
	free(s4);
	free(s6);
	return r;
}
