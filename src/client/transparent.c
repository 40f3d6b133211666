/* Transparent mode: DNS, host integration, interception; see transparent.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/dns_host.h"
#include "client/dns_pool.h"
#include "client/dns_resolved.h"
#include "client/dns_resolve.h"
#include "client/dns_server.h"
#include "client/proxy.h"
#include "client/tproxy.h"
#include "client/transparent.h"
#include "client/transparent_dns.h"
#include "client/transparent_icmp.h"
#include "client/transparent_udp.h"
#include "client/tunnels.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"
#include "trust/dest.h"

struct pn_transparent {
	uv_loop_t *loop;
	struct pn_ctuns *tuns;
	struct pn_pool *pool;
	struct pn_dnsr core;
	struct pn_dnssrv *dns;
	struct pn_dnssrv_tunnel tdns;
	struct pn_tudp *udp;
	struct pn_ticmp *icmp;
	char state_dir[4096];
	char resolv[4096];
	char dns_listen[80];
	int dns_taken, tproxy_on;
	/* systemd-resolved mode: the link, and its routing domains */
	struct pn_resolved *resolved;
	char resolvectl[256];
	unsigned ndomains;
	char (*domains)[PN_RESOLVED_DOMAIN_MAX];
	uint16_t p4, p6, u4, u6; /* where intercepted flows arrive */
	unsigned ncidr;
	char cidrs[PN_TPROXY_MAX_PREFIX][64];
	void (*stop_cb)(void *);
	void *stop_arg;
	unsigned closing_parts;
};

int pn_transparent_privileged(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff = 0;
	int found = 0;

	if (!f)
		return -EPERM;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	return found && (eff & (1ull << 12)) ? 0 : -EPERM; /* CAP_NET_ADMIN */
}

/* A name is protected when a name or wildcard resource matches it. */
static int is_protected(void *user, const char *name)
{
	struct pn_transparent *t = user;
	const struct pn_acl *acl = pn_ctuns_acl(t->tuns);
	struct pn_dest d;

	if (pn_dest_parse(name, strlen(name), &d) != 0 || d.kind != PN_DEST_NAME)
		return 0;
	for (size_t i = 0; i < acl->nentries; i++) {
		const struct pn_dest_pattern *p = &acl->entries[i].dest;
		if ((p->kind == PN_DEST_NAME || p->kind == PN_DEST_WILD1 ||
		     p->kind == PN_DEST_WILDN) &&
		    pn_dest_match(p, &d))
			return 1;
	}
	return 0;
}

/* The destination of an intercepted connection, as a flow names it. */
static int pn_transparent_map(void *user, const struct sockaddr *dst, char *host, size_t hostsz)
{
	struct pn_transparent *t = user;
	const uint8_t *a;
	const char *name;
	int fam;

	if (dst->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)dst)->sin_addr;
		fam = 4;
	} else if (dst->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)dst)->sin6_addr.s6_addr;
		fam = 6;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
			a += 12;
			fam = 4;
		}
	} else {
		return PN_E_INVAL;
	}
	if (pn_pool_contains(t->pool, fam, a)) {
		if (!(name = pn_pool_name(t->pool, fam, a)))
			return -ENOENT; /* in the range, never handed out */
		snprintf(host, hostsz, "%s", name);
		return 0;
	}
	if (!inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, host, (socklen_t)hostsz))
		return PN_E_INVAL;
	return 0;
}

/* Do prefixes a/pa and b/pb share an address (agree on min(pa, pb) bits)? */
static int overlaps(const uint8_t *a, unsigned pa, const uint8_t *b, unsigned pb)
{
	unsigned n = pa < pb ? pa : pb, i;

	for (i = 0; i + 8 <= n; i += 8)
		if (a[i / 8] != b[i / 8])
			return 0;
	return n % 8 == 0 || ((a[i / 8] ^ b[i / 8]) >> (8 - n % 8)) == 0;
}

/* The host's own loopback is never intercepted: a resource 127.0.0.1 means
 * the connector's loopback (forwards, SOCKS), and taking the client host's
 * would catch its own local traffic (the responder's replies among it). */
static int is_loopback_prefix(const struct pn_dest_pattern *p)
{
	static const uint8_t lo4[4] = {127, 0, 0, 0}, lo6[16] = {[15] = 1};

	return p->kind == PN_DEST_IP4 ? overlaps(p->addr, p->prefix, lo4, 8)
				      : overlaps(p->addr, p->prefix, lo6, 128);
}

static void collect_cidrs(struct pn_transparent *t)
{
	const struct pn_acl *acl = pn_ctuns_acl(t->tuns);

	t->ncidr = 0;
	for (size_t i = 0; i < acl->nentries && t->ncidr < PN_TPROXY_MAX_PREFIX - 2; i++) {
		const struct pn_dest_pattern *p = &acl->entries[i].dest;
		char ip[INET6_ADDRSTRLEN];
		if (p->kind != PN_DEST_IP4 && p->kind != PN_DEST_IP6)
			continue;
		if (is_loopback_prefix(p)) {
			PN_LOG_DEBUG("client", "transparent_cidr_skipped", "why=loopback");
			continue;
		}
		if (!inet_ntop(p->kind == PN_DEST_IP4 ? AF_INET : AF_INET6, p->addr, ip,
			       sizeof(ip)))
			continue;
		snprintf(t->cidrs[t->ncidr], sizeof(t->cidrs[0]), "%s/%u", ip, p->prefix);
		{
			unsigned j = 0;
			while (j < t->ncidr && strcmp(t->cidrs[j], t->cidrs[t->ncidr]) != 0)
				j++;
			if (j == t->ncidr)
				t->ncidr++; /* the same prefix for TCP and UDP: once */
		}
	}
}

static int collect_domains(struct pn_transparent *t);
static int resolved_domains(struct pn_transparent *t, const char **ptr);

/* The interception spec for prefixes cidrs[n] (the synthetic ranges
 * first); s is caller storage. */
static void build_spec(const struct pn_transparent *t, char (*cidrs)[64], unsigned n,
		       struct pn_tproxy_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->v4[s->nv4++] = pn_pool_v4(t->pool);
	if (t->p6 && pn_pool_v6(t->pool)[0])
		s->v6[s->nv6++] = pn_pool_v6(t->pool);
	for (unsigned i = 0; i < n; i++) {
		if (strchr(cidrs[i], ':')) {
			if (t->p6)
				s->v6[s->nv6++] = cidrs[i];
		} else {
			s->v4[s->nv4++] = cidrs[i];
		}
	}
	s->tcp_port = t->p4;
	s->tcp_port6 = t->p6;
	s->udp_port = t->u4;
	s->udp_port6 = t->u6;
	s->icmp_queue = t->icmp != NULL;
}

static int install_tproxy(struct pn_transparent *t)
{
	struct pn_tproxy_spec *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	build_spec(t, t->cidrs, t->ncidr, s);
	r = pn_tproxy_install(s);
	free(s);
	return r;
}

void pn_transparent_acl_changed(struct pn_transparent *t)
{
	char(*old)[64] = NULL;
	struct pn_tproxy_spec *from = NULL, *to = NULL;
	unsigned nold = t ? t->ncidr : 0, same = 0;
	int r;

	if (!t || !t->tproxy_on)
		return;
	if (t->resolved && collect_domains(t)) {
		const char **ptr = calloc(PN_RESOLVED_MAX_DOMAINS, sizeof(*ptr));
		if (ptr) {
			unsigned n = (unsigned)resolved_domains(t, ptr);
			if (pn_resolved_set_domains(t->resolved, ptr, n) == 0)
				PN_LOG_INFO("client", "dns_domains_changed", "mode=resolved domains=%u", n);
			free(ptr);
		}
	}
	if (!(old = malloc(sizeof(t->cidrs))) || !(from = malloc(sizeof(*from))) ||
	    !(to = malloc(sizeof(*to)))) {
		PN_LOG_ERROR("client", "transparent_cidrs_failed", "err=%s", pn_errname(-ENOMEM));
		goto out;
	}
	memcpy(old, t->cidrs, sizeof(t->cidrs));
	collect_cidrs(t);
	for (unsigned i = 0; i < t->ncidr; i++)
		for (unsigned j = 0; j < nold; j++)
			if (!strcmp(t->cidrs[i], old[j])) {
				same++;
				break;
			}
	if (same == t->ncidr && same == nold)
		goto out; /* names may have changed; the routed prefixes did not */
	build_spec(t, old, nold, from);
	build_spec(t, t->cidrs, t->ncidr, to);
	if ((r = pn_tproxy_update(from, to)) != 0 && (r = pn_tproxy_install(to)) != 0) {
		t->tproxy_on = 0; /* nothing of ours is left installed */
		PN_LOG_ERROR("client", "transparent_cidrs_failed", "err=%s", pn_errname(r));
		goto out;
	}
	PN_LOG_INFO("client", "transparent_cidrs_changed", "cidrs=%u before=%u", t->ncidr, nold);
out:
	free(old);
	free(from);
	free(to);
}

/* The routing domains of the list's name resources into t->domains;
 * 1 when they changed. */
static int collect_domains(struct pn_transparent *t)
{
	const struct pn_acl *acl = pn_ctuns_acl(t->tuns);
	char(*d)[PN_RESOLVED_DOMAIN_MAX] = calloc(PN_RESOLVED_MAX_DOMAINS, sizeof(*d));
	unsigned n = 0, same;

	if (!d)
		return 0;
	for (size_t i = 0; i < acl->nentries && n < PN_RESOLVED_MAX_DOMAINS; i++) {
		char pat[PN_RESOLVED_DOMAIN_MAX + 4];
		unsigned j;
		if (pn_dest_pattern_format(&acl->entries[i].dest, pat, sizeof(pat)) != 0 ||
		    pn_resolved_domain(pat, d[n], sizeof(d[n])) != 0)
			continue;
		for (j = 0; j < n && strcmp(d[j], d[n]) != 0; j++)
			;
		if (j == n)
			n++;
	}
	same = t->domains && n == t->ndomains;
	for (unsigned i = 0; same && i < n; i++)
		same = !strcmp(d[i], t->domains[i]);
	free(t->domains);
	t->domains = d;
	t->ndomains = n;
	return !same;
}

static int resolved_domains(struct pn_transparent *t, const char **ptr)
{
	for (unsigned i = 0; i < t->ndomains; i++)
		ptr[i] = t->domains[i];
	return (int)t->ndomains;
}

static void undo_host(struct pn_transparent *t)
{
	/* DNS first: the host is never without a resolver it can reach. */
	if (t->resolved) {
		pn_resolved_restore(t->resolved);
		t->resolved = NULL;
	}
	if (t->dns_taken) {
		pn_dnshost_restore(t->state_dir, t->resolv);
		t->dns_taken = 0;
	}
	if (t->tproxy_on) {
		pn_tproxy_remove();
		t->tproxy_on = 0;
	}
}

static void part_closed(void *arg)
{
	struct pn_transparent *t = arg;

	if (--t->closing_parts > 0)
		return;
	pn_pool_free(t->pool);
	free(t->domains);
	if (t->stop_cb)
		t->stop_cb(t->stop_arg);
	free(t);
}

void pn_transparent_stop(struct pn_transparent *t, void (*cb)(void *arg), void *arg)
{
	if (!t) {
		if (cb)
			cb(arg);
		return;
	}
	undo_host(t);
	PN_LOG_INFO("client", "transparent_stopped", "names=%zu", pn_pool_count(t->pool));
	t->stop_cb = cb;
	t->stop_arg = arg;
	t->closing_parts = 1;
	if (t->dns) {
		t->closing_parts++;
		pn_dnssrv_close(t->dns, part_closed, t);
	}
	if (t->udp) {
		t->closing_parts++;
		pn_tudp_close(t->udp, part_closed, t);
	}
	if (t->icmp) {
		t->closing_parts++;
		pn_ticmp_close(t->icmp, part_closed, t);
	}
	part_closed(t);
}

int pn_transparent_start(uv_loop_t *loop, struct pn_ctuns *tuns, struct pn_proxy *proxy,
			 const struct pn_transparent_opts *o, struct pn_transparent **out)
{
	struct pn_transparent *t;
	struct sockaddr_storage listen, ups[PN_DNSSRV_MAX_UPSTREAMS];
	unsigned nups = 0;
	const char *what = "start";
	int r;

	*out = NULL;
	if (pn_transparent_privileged() != 0) {
		PN_LOG_ERROR("client", "transparent_denied",
			     "why=\"transparent mode needs root or CAP_NET_ADMIN\"");
		return -EPERM;
	}
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->loop = loop;
	t->tuns = tuns;
	snprintf(t->state_dir, sizeof(t->state_dir), "%s", o->state_dir);
	snprintf(t->resolv, sizeof(t->resolv), "%s", o->resolv ? o->resolv : PN_DNSHOST_RESOLV);
	snprintf(t->dns_listen, sizeof(t->dns_listen), "%s",
		 o->dns_listen ? o->dns_listen : PN_TRANSPARENT_DNS_DEFAULT);
	/* 1. What a killed run left behind. */
	what = "recover";
	snprintf(t->resolvectl, sizeof(t->resolvectl), "%s",
		 o->resolvectl ? o->resolvectl : PN_RESOLVED_CTL);
	if ((r = pn_dnshost_recover(t->state_dir, t->resolv)) != 0)
		goto fail;
	if ((r = pn_resolved_recover(t->resolvectl)) != 0)
		PN_LOG_WARN("client", "dns_recover_failed", "mode=resolved err=%s", pn_errname(r));
	if ((r = pn_tproxy_remove()) != 0)
		PN_LOG_WARN("client", "tproxy_cleanup", "err=%s", pn_errname(r));
	/* 2. Pool and the resolver core. */
	what = "pool";
	if ((r = pn_pool_new(o->pool_v4, o->pool_v6 ? o->pool_v6 : PN_POOL_V6_DEFAULT, 0,
			     &t->pool)) != 0) {
		PN_LOG_ERROR("client", "transparent_config", "what=pool v4=%s v6=%s",
			     o->pool_v4 ? o->pool_v4 : PN_POOL_V4_DEFAULT,
			     o->pool_v6 ? o->pool_v6 : PN_POOL_V6_DEFAULT);
		goto fail;
	}
	t->core.pool = t->pool;
	t->core.is_protected = is_protected;
	t->core.user = t;
	t->core.ttl = o->ttl;
	t->core.tunnel = 1; /* other record types: the connector's resolver */
	pn_tdns_hooks(tuns, &t->tdns);
	collect_cidrs(t);
	/* 3. Where intercepted flows arrive. */
	what = "listeners";
	if ((r = pn_proxy_add_transparent(proxy, "127.0.0.1:0", pn_transparent_map, t, &t->p4)) != 0)
		goto fail;
	if (pn_proxy_add_transparent(proxy, "[::1]:0", pn_transparent_map, t, &t->p6) != 0) {
		PN_LOG_WARN("client", "transparent_no_ipv6", "why=\"cannot listen on ::1\"");
		t->p6 = 0;
	}
	what = "udp";
	if ((r = pn_tudp_new(loop, tuns, pn_transparent_map, t, &t->udp, &t->u4, &t->u6)) != 0)
		goto fail;
	/* ICMP echo: without it (no NFQUEUE in this kernel) pings go
	 * unanswered, everything else works */
	if (pn_ticmp_new(loop, tuns, pn_transparent_map, t, &t->icmp) != 0)
		PN_LOG_WARN("client", "transparent_no_icmp", "why=\"cannot bind the ICMP queue\"");
	/* 4. Host DNS, then the responder with the host's resolvers. */
	what = "dns";
	if ((r = pn_addr_parse(t->dns_listen, &listen, 0)) != 0) {
		r = PN_E_CONFIG;
		goto fail;
	}
	{
		const char *mode = o->dns_mode ? o->dns_mode : "auto";
		int use_resolved;
		if (strcmp(mode, "auto") && strcmp(mode, "resolved") && strcmp(mode, "resolv.conf")) {
			PN_LOG_ERROR("client", "transparent_config", "what=dns_mode value=%s", mode);
			r = PN_E_CONFIG;
			goto fail;
		}
		use_resolved = !strcmp(mode, "resolved") ||
			       (!strcmp(mode, "auto") &&
				pn_resolved_detect(t->resolv, o->resolved_dir));
		if (use_resolved) {
			const char **ptr = calloc(PN_RESOLVED_MAX_DOMAINS, sizeof(*ptr));
			char base[64];
			snprintf(base, sizeof(base), "%s", pn_pool_v4(t->pool));
			base[strcspn(base, "/")] = '\0'; /* the range's first address */
			collect_domains(t);
			r = ptr ? pn_resolved_takeover(t->resolvectl, o->resolved_dir, base, &listen,
						       ptr, (unsigned)resolved_domains(t, ptr), ups,
						       PN_DNSSRV_MAX_UPSTREAMS, &nups, &t->resolved)
				: -ENOMEM;
			free(ptr);
			if (r != 0)
				goto fail;
		} else {
			if ((r = pn_dnshost_takeover(t->state_dir, t->resolv, &listen, ups,
						     PN_DNSSRV_MAX_UPSTREAMS, &nups)) != 0) {
				PN_LOG_ERROR("client", "dns_takeover_failed", "file=%s err=%s",
					     t->resolv, pn_errname(r));
				goto fail;
			}
			t->dns_taken = 1;
		}
	}
	{
		struct pn_dnssrv_config dc = {.loop = loop,
					      .listen = &listen,
					      .upstreams = ups,
					      .nupstreams = nups,
					      .core = &t->core,
					      .tunnel = &t->tdns};
		if ((r = pn_dnssrv_new(&dc, &t->dns)) != 0) {
			PN_LOG_ERROR("client", "dns_listen_failed", "addr=%s err=%s", t->dns_listen,
				     pn_errname(r));
			goto fail;
		}
	}
	/* 5. Interception. */
	what = "tproxy";
	if ((r = install_tproxy(t)) != 0)
		goto fail;
	t->tproxy_on = 1;
	PN_LOG_INFO("client", "transparent_started",
		    "dns=%s dns_mode=%s pool_v4=%s pool_v6=%s cidrs=%u upstreams=%u icmp=%d",
		    t->dns_listen, t->resolved ? "resolved" : "resolv.conf", pn_pool_v4(t->pool), pn_pool_v6(t->pool), t->ncidr, nups,
		    t->icmp != NULL);
	*out = t;
	return 0;
fail:
	PN_LOG_ERROR("client", "transparent_start_failed", "what=%s err=%s", what, pn_errname(r));
	/* The listeners added to the proxy close with it; nothing maps
	 * through them after the proxy is closed. */
	pn_transparent_stop(t, NULL, NULL);
	return r;
}

json_t *pn_transparent_status(const struct pn_transparent *t)
{
	json_t *o = json_object(), *c = json_array();

	if (!o || !c) {
		json_decref(o);
		json_decref(c);
		return NULL;
	}
	for (unsigned i = 0; i < t->ncidr; i++)
		json_array_append_new(c, json_string(t->cidrs[i]));
	json_object_set_new(o, "dns_mode", json_string(t->resolved ? "resolved" : "resolv.conf"));
	if (t->resolved) {
		json_t *d = json_array();
		for (unsigned i = 0; d && i < t->ndomains; i++)
			json_array_append_new(d, json_string(t->domains[i]));
		if (d)
			json_object_set_new(o, "routing_domains", d);
	}
	json_object_set_new(o, "dns_listen", json_string(t->dns_listen));
	json_object_set_new(o, "pool_v4", json_string(pn_pool_v4(t->pool)));
	json_object_set_new(o, "pool_v6", json_string(pn_pool_v6(t->pool)));
	json_object_set_new(o, "names", json_integer((json_int_t)pn_pool_count(t->pool)));
	json_object_set_new(o, "cidrs", c);
	{
		json_t *names = json_array();
		for (long i = 1;
		     names && i <= (long)pn_pool_count(t->pool) && i <= PN_TRANSPARENT_STATUS_NAMES;
		     i++) {
			uint8_t a4[4], a6[16];
			char s4[INET_ADDRSTRLEN] = "", s6[INET6_ADDRSTRLEN] = "";
			if (pn_pool_addr4(t->pool, i, a4) == 0)
				inet_ntop(AF_INET, a4, s4, sizeof(s4));
			if (pn_pool_addr6(t->pool, i, a6) == 0)
				inet_ntop(AF_INET6, a6, s6, sizeof(s6));
			json_array_append_new(names, json_pack("{s:s, s:s, s:s}", "name",
							       pn_pool_name_at(t->pool, i), "v4",
							       s4, "v6", s6));
		}
		if (names)
			json_object_set_new(o, "name_list", names);
	}
	if (t->dns)
		json_object_set_new(o, "dns", pn_dnssrv_status(t->dns));
	return o;
}

void pn_transparent_status_print(const json_t *st, FILE *out)
{
	const json_t *n;
	size_t i;

	if (!json_is_object(st))
		return;
	fprintf(out, "\ntransparent: dns %s via %s, synthetic %s %s, names %lld\n",
		json_string_value(json_object_get(st, "dns_mode")),
		json_string_value(json_object_get(st, "dns_listen")),
		json_string_value(json_object_get(st, "pool_v4")),
		json_string_value(json_object_get(st, "pool_v6")),
		(long long)json_integer_value(json_object_get(st, "names")));
	json_array_foreach(json_object_get(st, "cidrs"), i, n)
	    fprintf(out, "  routed %s\n", json_string_value(n));
	json_array_foreach(json_object_get(st, "name_list"), i, n)
	    fprintf(out, "  %-40s %-16s %s\n", json_string_value(json_object_get(n, "name")),
		    json_string_value(json_object_get(n, "v4")),
		    json_string_value(json_object_get(n, "v6")));
}
