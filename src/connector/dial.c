/*
 * From a flow request to a socket at the resource: asynchronous name
 * resolution (uv_getaddrinfo, on the connector's own network), DNS flows
 * answered with the addresses, and connecting.
 *
 * Connecting tries every address a name has, each attempt with a socket
 * of its own (struct csock), in the manner of happy eyeballs (RFC 8305):
 * addresses interleaved by family starting with the resolver's first
 * choice, a new attempt every CF_DIAL_STAGGER_MS while earlier ones are
 * still pending, the next one at once when one fails, the first to connect
 * wins and the others are closed.  The whole flow has
 * PN_CONNECTOR_CONNECT_MS to connect.
 *
 * Running out of descriptors, memory or buffers is reported to the client
 * as PN_FLOW_EXHAUSTED and logged once per burst with its cause.  A
 * resolver that cannot open /etc/hosts or a socket says only "unknown
 * name", so a failed resolution probes for a free descriptor before it is
 * reported as resolve_failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connector/connector_int.h"
#include "core/err.h"
#include "core/log.h"

#define EXH_BURST_MS 10000 /* one resource_exhausted line per this long */

int pn_cflow_err_exhausted(int err)
{
	return err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOBUFS || err == UV_ENOMEM ||
	       err == UV_EAI_MEMORY;
}

static int map_uv_err(int e)
{
	if (pn_cflow_err_exhausted(e))
		return PN_FLOW_EXHAUSTED;
	switch (e) {
	case UV_ECONNREFUSED:
		return PN_FLOW_REFUSED;
	case UV_ETIMEDOUT:
	case UV_ECANCELED:
		return PN_FLOW_TIMEOUT;
	default: /* ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ... */
		return PN_FLOW_UNREACHABLE;
	}
}

void pn_connector_exhausted(struct pn_connector *c, int err, const char *op)
{
	uint64_t now = uv_now(c->cfg.loop);
	struct rlimit rl = {0, 0};

	c->exh_count++;
	if (c->exh_logged_ms && now - c->exh_logged_ms < EXH_BURST_MS)
		return;
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	/* failures: this one and those not logged since the previous line */
	PN_LOG_WARN("connector", "resource_exhausted",
		    "cause=%s op=%s failures=%" PRIu64 " nofile_soft=%llu nofile_hard=%llu "
		    "detail=\"%s\"",
		    uv_err_name(err), op, c->exh_count, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max, uv_strerror(err));
	c->exh_logged_ms = now ? now : 1;
	c->exh_count = 0;
}

/* Can this process open one more descriptor right now?  0 or a libuv error. */
static int fd_probe(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return uv_translate_sys_error(errno);
	close(fd);
	return 0;
}

static void fail_exhausted(struct cflow *cf, int err, const char *op)
{
	char why[96];

	pn_connector_exhausted(cf->c, err, op);
	snprintf(why, sizeof(why), "connector out of resources (%s: %s)", op, uv_err_name(err));
	pn_cflow_fail(cf, PN_FLOW_EXHAUSTED, why);
}

/* ------------------------------------------------------------ attempts -- */

static void csock_link(struct cflow *cf, struct csock *s)
{
	s->next = cf->att;
	cf->att = s;
}

static void csock_unlink(struct cflow *cf, struct csock *s)
{
	for (struct csock **pp = &cf->att; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = NULL;
}

/* Close every attempt still in flight (their connect callbacks then come
 * with UV_ECANCELED and find them gone). */
void pn_cflow_dial_stop(struct cflow *cf)
{
	while (cf->att) {
		struct csock *s = cf->att;
		cf->att = s->next;
		s->next = NULL;
		pn_csock_close(s, 1);
	}
}

static int attached(const struct cflow *cf, const struct csock *s)
{
	for (const struct csock *a = cf->att; a; a = a->next)
		if (a == s)
			return 1;
	return 0;
}

static void on_dial_timer(uv_timer_t *t);

static void arm_timer(struct cflow *cf)
{
	uint64_t now = uv_now(cf->c->cfg.loop), left;

	if (!cf->ctimer_init) {
		uv_timer_init(cf->c->cfg.loop, &cf->ctimer);
		cf->ctimer.data = cf;
		cf->ctimer_init = 1;
	}
	left = cf->deadline > now ? cf->deadline - now : 0;
	if (cf->nexta < cf->norder && left > CF_DIAL_STAGGER_MS)
		left = CF_DIAL_STAGGER_MS;
	uv_timer_start(&cf->ctimer, on_dial_timer, left, 0);
}

static void on_connect(uv_connect_t *r, int status);

/* Start one TCP attempt to ai: 0, or a libuv error (nothing left open). */
static int tcp_attempt(struct cflow *cf, const struct addrinfo *ai)
{
	struct csock *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return UV_ENOMEM;
	s->cf = cf;
	if ((r = uv_tcp_init_ex(cf->c->cfg.loop, &s->u.tcp, (unsigned)ai->ai_family)) != 0) {
		free(s); /* no socket, nothing registered: nothing to close */
		return r;
	}
	s->u.h.data = cf;
	/* from now on a close — also the kernel's, should this process die —
	   resets the connection; the orderly FIN is an explicit shutdown */
	pn_csock_linger0(s, 1);
	s->creq.data = s;
	if ((r = uv_tcp_connect(&s->creq, &s->u.tcp, ai->ai_addr, on_connect)) != 0) {
		pn_csock_close(s, 1);
		return r;
	}
	s->connecting = 1;
	cf->pending++;
	csock_link(cf, s);
	return 0;
}

/* A UDP "connection": routing decides at once.  0 (flow opened), or a
 * libuv error. */
static int udp_attempt(struct cflow *cf, const struct addrinfo *ai)
{
	struct csock *s;
	int r;

	if (cf->proto == PN_PROTO_ICMP) {
		if ((r = pn_cicmp_attempt(cf, ai, &s)) != 0)
			return r;
		pn_cflow_connected(cf, s);
		return 0;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return UV_ENOMEM;
	s->cf = cf;
	if ((r = uv_udp_init_ex(cf->c->cfg.loop, &s->u.udp, (unsigned)ai->ai_family)) != 0) {
		free(s);
		return r;
	}
	s->u.h.data = cf;
	if ((r = uv_udp_connect(&s->u.udp, ai->ai_addr)) != 0) {
		pn_csock_close(s, 1);
		return r;
	}
	pn_cflow_connected(cf, s);
	return 0;
}

/* Start attempts until one is in flight (TCP) or open (UDP).  0, or the
 * last error once no address is left or resources ran out. */
static int start_next(struct cflow *cf)
{
	int r = cf->dial_err ? cf->dial_err : UV_EADDRNOTAVAIL;

	while (cf->nexta < cf->norder) {
		const struct addrinfo *ai = cf->order[cf->nexta++];
		r = cf->proto == PN_PROTO_TCP ? tcp_attempt(cf, ai) : udp_attempt(cf, ai);
		if (r == 0)
			return 0;
		cf->dial_err = r;
		if (pn_cflow_err_exhausted(r))
			break;
	}
	return r;
}

/* No attempt in flight and start_next failed with r: the flow fails. */
static void dial_failed(struct cflow *cf, int r)
{
	if (pn_cflow_err_exhausted(r))
		fail_exhausted(cf, r, "connect");
	else
		pn_cflow_fail(cf, map_uv_err(r), uv_strerror(r));
}

/* Next step after an attempt failed or the stagger delay passed. */
static void dial_next(struct cflow *cf)
{
	int tcp = cf->proto == PN_PROTO_TCP;
	int r = start_next(cf);

	if (r == 0) {
		if (tcp) /* (a UDP flow is open now, perhaps already gone) */
			arm_timer(cf);
		return;
	}
	if (pn_cflow_err_exhausted(r) || !cf->att) {
		dial_failed(cf, r);
		return;
	}
	arm_timer(cf); /* nothing left to start: wait for those in flight */
}

static void on_dial_timer(uv_timer_t *t)
{
	struct cflow *cf = t->data;

	if (cf->released || cf->st != CF_CONNECTING)
		return;
	if (uv_now(t->loop) >= cf->deadline) {
		pn_cflow_fail(cf, PN_FLOW_TIMEOUT, "connect timed out");
		return;
	}
	dial_next(cf); /* stagger delay over: one more in parallel */
}

static void on_connect(uv_connect_t *r, int status)
{
	struct csock *s = r->data;
	struct cflow *cf = s->cf;

	cf->pending--;
	s->connecting = 0;
	if (cf->released || !attached(cf, s)) {
		pn_cflow_maybe_free(cf); /* closed meanwhile: UV_ECANCELED */
		return;
	}
	csock_unlink(cf, s);
	if (status < 0) {
		pn_csock_close(s, 1);
		cf->dial_err = status;
		if (pn_cflow_err_exhausted(status)) {
			fail_exhausted(cf, status, "connect");
			return;
		}
		dial_next(cf); /* the next address at once */
		return;
	}
	uv_timer_stop(&cf->ctimer);
	pn_cflow_dial_stop(cf); /* the others lost the race */
	uv_tcp_nodelay(&s->u.tcp, 1);
	pn_cflow_connected(cf, s);
}

/* RFC 8305 section 4: alternate families, the resolver's first choice first. */
static void order_addrs(struct cflow *cf)
{
	const struct addrinfo *v6[CF_DIAL_MAX], *v4[CF_DIAL_MAX];
	unsigned n6 = 0, n4 = 0, i6 = 0, i4 = 0;
	int six_first = -1;

	for (const struct addrinfo *ai = cf->ai; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET6 && n6 < CF_DIAL_MAX)
			v6[n6++] = ai;
		else if (ai->ai_family == AF_INET && n4 < CF_DIAL_MAX)
			v4[n4++] = ai;
		else
			continue;
		if (six_first < 0)
			six_first = ai->ai_family == AF_INET6;
	}
	cf->norder = 0;
	while (cf->norder < CF_DIAL_MAX && (i6 < n6 || i4 < n4)) {
		int take6 = i6 < n6 && (i4 >= n4 || (cf->norder % 2 == 0) == (six_first == 1));
		cf->order[cf->norder++] = take6 ? v6[i6++] : v4[i4++];
	}
	cf->nexta = 0;
}

static void dial(struct cflow *cf)
{
	cf->st = CF_CONNECTING;
	cf->deadline = uv_now(cf->c->cfg.loop) + PN_CONNECTOR_CONNECT_MS;
	order_addrs(cf);
	if (cf->norder == 0) {
		pn_cflow_fail(cf, PN_FLOW_RESOLVE_FAILED, "no usable address");
		return;
	}
	dial_next(cf);
}

/* ----------------------------------------------------------------- DNS -- */

static void answer_dns(struct cflow *cf)
{
	struct pn_flow_status st;

	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	st.ttl = 30;
	for (struct addrinfo *ai = cf->ai; ai && st.naddr < PN_FLOW_DNS_ADDRS_MAX; ai = ai->ai_next) {
		struct pn_flow_addr *a = &st.addr[st.naddr];
		int dup = 0;
		if (ai->ai_family == AF_INET && cf->hdr.qtype != PN_FLOW_QTYPE_AAAA) {
			a->family = 4;
			memcpy(a->a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6 && cf->hdr.qtype != PN_FLOW_QTYPE_A) {
			a->family = 6;
			memcpy(a->a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		for (unsigned i = 0; i < st.naddr; i++)
			dup |= st.addr[i].family == a->family && !memcmp(st.addr[i].a, a->a, 16);
		if (!dup)
			st.naddr++;
	}
	pn_connector_flow_event(cf, "start", "allow", "dns");
	if (cf->f)
		pn_flow_respond(cf->f, &st, NULL, NULL);
	cf->f = NULL;
	snprintf(cf->end_reason, sizeof(cf->end_reason), "dns_answered");
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	pn_cflow_release(cf);
}

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res)
{
	struct cflow *cf = r->data;
	int e;

	cf->gai_active = 0;
	cf->pending--;
	cf->ai = res;
	if (cf->released) {
		pn_cflow_maybe_free(cf);
		return;
	}
	if (status < 0 || !res) {
		if (pn_cflow_err_exhausted(status))
			fail_exhausted(cf, status, "resolve");
		else if (status != UV_ECANCELED && (e = fd_probe()) != 0 &&
			 pn_cflow_err_exhausted(e))
			fail_exhausted(cf, e, "resolve"); /* the resolver said "no name" */
		else
			pn_cflow_fail(cf, PN_FLOW_RESOLVE_FAILED, uv_strerror(status));
		return;
	}
	if (cf->hdr.kind == PN_FLOW_DNS) {
		answer_dns(cf);
		return;
	}
	dial(cf);
}

void pn_cflow_start(struct cflow *cf)
{
	struct addrinfo hints;
	char port[8];
	int r;

	if (cf->hdr.kind == PN_FLOW_DNS_MSG) {
		pn_cdnsmsg_start(cf); /* the connector's resolver, on the thread pool */
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = cf->proto == PN_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	snprintf(port, sizeof(port), "%u", cf->hdr.port);
	cf->st = CF_RESOLVING;
	cf->gai.data = cf;
	if (cf->hdr.dest.type != PN_FLOW_ADDR_NAME) {
		/* An address is converted, not resolved (AI_NUMERICHOST: no
		 * I/O): here, not on the thread pool, whose round trip (a
		 * worker woken, then the loop) delayed every flow to an
		 * address (docs/performance.md). */
		struct addrinfo *res = NULL;
		hints.ai_flags = AI_NUMERICHOST;
		r = getaddrinfo(cf->dest,
				cf->hdr.kind == PN_FLOW_DNS || cf->proto == PN_PROTO_ICMP ? NULL : port,
				&hints, &res);
		cf->gai_active = 1;
		cf->pending++;
		on_resolved(&cf->gai,
			    r == 0		 ? 0
			    : r == EAI_MEMORY ? UV_EAI_MEMORY
			    : r == EAI_NONAME ? UV_EAI_NONAME
					      : UV_EAI_FAIL,
			    r == 0 ? res : NULL);
		return;
	}
	r = uv_getaddrinfo(cf->c->cfg.loop, &cf->gai, on_resolved, cf->dest,
			   cf->hdr.kind == PN_FLOW_DNS || cf->proto == PN_PROTO_ICMP ? NULL : port,
			   &hints);
	if (r != 0) {
		if (pn_cflow_err_exhausted(r))
			fail_exhausted(cf, r, "resolve");
		else
			pn_cflow_fail(cf, PN_FLOW_RESOLVE_FAILED, uv_strerror(r));
		return;
	}
	cf->gai_active = 1;
	cf->pending++;
}
