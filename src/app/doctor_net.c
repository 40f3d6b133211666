/* `postern doctor`'s probes (doctor_net.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <uv.h>

#include "app/doctor.h"
#include "app/doctor_net.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/secret.h"
#include "core/stun.h"
#include "relay/frame.h"
#include "relay/stream.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "tunnel/cand.h"
#include "tunnel/natdisc.h"

#define MS 1000000ull

static int64_t ms_until(uint64_t t, uint64_t now)
{
	return t <= now ? 0 : (int64_t)((t - now + MS - 1) / MS);
}

/* ----------------------------------------------------------- resolve -- */

struct resolve_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs, done, err;
	char host[PN_RELAY_HOST_MAX + 1];
	char port[8];
	int socktype;
	struct sockaddr_storage addr;
};

static void job_unref(struct resolve_job *j)
{
	int last;

	pthread_mutex_lock(&j->mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (last) {
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cv);
		free(j);
	}
}

static void *resolve_thread(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = {.ai_socktype = j->socktype}, *res = NULL;
	int e = getaddrinfo(j->host, j->port, &hints, &res);

	pthread_mutex_lock(&j->mu);
	if (e == 0 && res && res->ai_addrlen <= sizeof(j->addr)) {
		memcpy(&j->addr, res->ai_addr, res->ai_addrlen);
		j->err = 0;
	} else {
		j->err = PN_E_RELAY_UNREACHABLE;
	}
	j->done = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (res)
		freeaddrinfo(res);
	job_unref(j);
	return NULL;
}

int pn_doc_resolve(const char *host, uint16_t port, int socktype, unsigned timeout_ms,
		   struct sockaddr_storage *out)
{
	struct resolve_job *j;
	struct timespec ts;
	pthread_attr_t at;
	pthread_t t;
	int r;

	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 2;
	j->socktype = socktype;
	snprintf(j->host, sizeof(j->host), "%s", host);
	snprintf(j->port, sizeof(j->port), "%u", port);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, resolve_thread, j)) {
		pthread_attr_destroy(&at);
		j->refs = 1;
		job_unref(j);
		return -EAGAIN;
	}
	pthread_attr_destroy(&at);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT)
			break;
	r = j->done ? j->err : PN_E_TIMEOUT;
	if (r == 0)
		*out = j->addr;
	pthread_mutex_unlock(&j->mu);
	job_unref(j); /* an abandoned lookup frees the job when it ends */
	return r;
}

/* ------------------------------------------------------------ unix -- */

int pn_doc_unix_answers(const char *path, unsigned timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd pfd;
	uint8_t b[64];
	int fd, ok = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return 0;
	pfd.fd = fd;
	pfd.events = POLLIN;
	/* A unix connect completes at once or fails (a full backlog: EAGAIN). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    poll(&pfd, 1, (int)timeout_ms) == 1 && recv(fd, b, sizeof(b), 0) > 0)
		ok = 1;
	close(fd);
	return ok;
}

/* --------------------------------------------------------------- UDP -- */

static int udp_socket(int family, int dont_fragment)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), v;

	if (fd < 0)
		return -errno;
	if (dont_fragment) {
		/* DF set, the kernel's path-MTU cache ignored: the probe is
		 * sent at its size or refused with EMSGSIZE by our own link. */
		v = family == AF_INET ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE;
		if (family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v))
				      : setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v))) {
			v = -errno;
			close(fd);
			return v;
		}
	}
	return fd;
}

int pn_doc_udp_stun(struct pn_doc_stun *s, size_t n, unsigned timeout_ms, int *nat)
{
	struct sockaddr_storage servers[PN_NATDISC_MAX_SERVERS], local, mapped[PN_NATDISC_MAX_SERVERS];
	struct pn_cand host[PN_P2P_MAX_CANDS];
	struct ifaddrs *ifa = NULL;
	struct pn_natdisc d;
	socklen_t llen = sizeof(local);
	uint64_t start = pn_now_ns(), end = start + timeout_ms * MS, now;
	size_t nhost = 0, nm;
	uint16_t port;
	int fd, r;

	*nat = PN_NAT_UNKNOWN;
	if (n == 0)
		return 0;
	if (n > PN_NATDISC_MAX_SERVERS)
		n = PN_NATDISC_MAX_SERVERS;
	if ((fd = udp_socket(s[0].addr.ss_family, 0)) < 0)
		return fd;
	for (size_t i = 0; i < n; i++)
		servers[i] = s[i].addr;
	if ((r = pn_natdisc_start(&d, servers, n, start)))
		goto out;
	d.deadline = end; /* ours, not the tunnel's 2 s: a loaded host answers late */
	while (!pn_natdisc_done(&d) && (now = pn_now_ns()) < end) {
		struct sockaddr_storage to, from;
		uint8_t req[PN_STUN_REQUEST_LEN], buf[PN_STUN_MAX_MESSAGE];
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t t;
		ssize_t got;

		while (pn_natdisc_next(&d, now, &to, req))
			(void)sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&to,
				     pn_sa_len((struct sockaddr *)&to));
		t = pn_natdisc_expiry(&d);
		(void)poll(&pfd, 1, (int)ms_until(t < end ? t : end, now));
		for (;;) {
			socklen_t fl = sizeof(from);

			got = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (got < 0)
				break;
			now = pn_now_ns();
			if (!pn_natdisc_input(&d, (struct sockaddr *)&from, buf, (size_t)got, now))
				continue;
			for (size_t i = 0; i < n; i++)
				if (d.s[i].answered && !s[i].answered) {
					s[i].answered = 1;
					s[i].mapped = d.s[i].mapped;
					s[i].rtt_ms = (unsigned)((now - start) / MS);
				}
		}
	}
	/* Our host candidates (the socket's port on every interface address):
	 * a relay that saw one of them saw us without a NAT. */
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0 && getifaddrs(&ifa) == 0) {
		port = ntohs(local.ss_family == AF_INET ? ((struct sockaddr_in *)&local)->sin_port
							: ((struct sockaddr_in6 *)&local)->sin6_port);
		nhost = pn_cand_gather(ifa, local.ss_family, port, host, PN_P2P_MAX_CANDS);
		freeifaddrs(ifa);
	}
	d.running = 0; /* what came in by now is the answer */
	*nat = pn_natdisc_result(&d, host, nhost, mapped, PN_NATDISC_MAX_SERVERS, &nm);
out:
	close(fd);
	return r;
}

#define MTU_TRIES 3
#define MTU_GAP_MS 300

int pn_doc_udp_mtu(const struct sockaddr_storage *to, const unsigned *sizes, size_t n,
		   unsigned timeout_ms, int *answered, int *local_too_big)
{
	uint8_t txid[PN_DOC_MTU_NSIZES][PN_STUN_TXID_LEN], buf[PN_STUN_MAX_MESSAGE];
	uint64_t start = pn_now_ns(), end = start + timeout_ms * MS, now;
	unsigned tries = 0;
	size_t pending;
	int fd, r = 0;

	if (n > PN_DOC_MTU_NSIZES)
		n = PN_DOC_MTU_NSIZES;
	for (size_t i = 0; i < n; i++) {
		answered[i] = local_too_big[i] = 0;
		if (sizes[i] > PN_STUN_MAX_MESSAGE || (r = pn_random(txid[i], PN_STUN_TXID_LEN)))
			return r ? r : PN_E_INVAL;
	}
	if ((fd = udp_socket(to->ss_family, 1)) < 0)
		return fd;
	if (connect(fd, (const struct sockaddr *)to, pn_sa_len((const struct sockaddr *)to))) {
		r = -errno;
		goto out;
	}
	while ((now = pn_now_ns()) < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t next = start + (uint64_t)tries * MTU_GAP_MS * MS;
		ssize_t got;

		if (tries < MTU_TRIES && now >= next) {
			for (size_t i = 0; i < n; i++) {
				if (answered[i] || local_too_big[i])
					continue;
				pn_stun_build_probe(txid[i], buf, sizes[i]);
				if (send(fd, buf, sizes[i], 0) < 0 && errno == EMSGSIZE)
					local_too_big[i] = 1;
			}
			tries++;
			next = start + (uint64_t)tries * MTU_GAP_MS * MS;
		}
		pending = 0;
		for (size_t i = 0; i < n; i++)
			pending += !answered[i] && !local_too_big[i];
		if (!pending)
			break;
		(void)poll(&pfd, 1, (int)ms_until(tries < MTU_TRIES && next < end ? next : end, now));
		while ((got = recv(fd, buf, sizeof(buf), 0)) >= 0) {
			struct sockaddr_storage m;

			for (size_t i = 0; i < n; i++)
				if (pn_stun_parse_response(buf, (size_t)got, txid[i], &m) == 0)
					answered[i] = 1;
		}
	}
out:
	close(fd);
	return r;
}

/* ----------------------------------------------------------- streams -- */

struct probe;

struct streams {
	uv_loop_t loop;
	uv_timer_t deadline;
	struct pn_anchor *anchor;
	gnutls_certificate_credentials_t cred, wss_cred;
	uint8_t *rxbuf, *plainbuf;
	int ping, open, expired;
	struct probe **live; /* [i]: the probe of p[i] while its stream is open */
};

struct probe {
	struct streams *ctx;
	struct pn_doc_stream *p;
	size_t i;
	struct pn_rstream *s;
	uint64_t start, ping_at;
	int done;
};

static void probe_end(struct probe *pr, int err)
{
	if (pr->done)
		return;
	pr->done = 1;
	pr->p->err = err;
	pn_rstream_close(pr->s, err ? err : PN_E_CLOSED, 0);
}

static int p_on_ready(struct pn_rstream *s, void *user)
{
	struct probe *pr = user;
	struct pn_cred_info info;
	struct pn_relay_msg ping = {.type = PN_RELAY_F_PING};
	uint8_t tmp[64];
	struct pn_buf b;
	int e;

	pr->p->stage = 1;
	pr->p->ready_ms = (unsigned)((pn_now_ns() - pr->start) / MS);
	/* The relay must prove a relay credential of our CA. */
	e = pn_cred_verify_session(pr->ctx->anchor, pn_rstream_tls(s), PN_CRED_RELAY,
				   (uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &info);
	if (e)
		return e; /* p_on_close reports it */
	pr->p->stage = 2;
	snprintf(pr->p->relay_name, sizeof(pr->p->relay_name), "%s", info.name);
	if (!pr->ctx->ping) {
		probe_end(pr, 0);
		return 0;
	}
	pr->ping_at = pn_now_ns();
	ping.opaque = pr->ping_at;
	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	if ((e = pn_relay_msg_encode(&ping, &b)) || (e = pn_rstream_send(s, tmp, pn_buf_len(&b), 0)))
		return e;
	return 0;
}

static int p_on_frame(struct pn_rstream *s, const struct pn_relay_frame *f, void *user)
{
	struct probe *pr = user;
	struct pn_relay_msg m;
	int e;

	(void)s;
	if ((e = pn_relay_msg_decode(f, &m)))
		return e;
	pn_wipe(m.secret, sizeof(m.secret));
	if (m.type == PN_RELAY_F_PONG && m.opaque == pr->ping_at) {
		pr->p->rtt_ms = (unsigned)((pn_now_ns() - pr->ping_at) / MS);
		probe_end(pr, 0);
	} else if (m.type == PN_RELAY_F_ERROR) {
		/* refused (our credential, limits): the code says why */
		probe_end(pr, m.code ? m.code : PN_E_RELAY_PROTOCOL);
	}
	return 0;
}

static void p_on_close(struct pn_rstream *s, int err, void *user)
{
	struct probe *pr = user;
	struct streams *ctx = pr->ctx;

	(void)s;
	if (!pr->done) {
		pr->done = 1;
		pr->p->err = err ? err : PN_E_CLOSED;
	}
	ctx->live[pr->i] = NULL;
	free(pr);
	ctx->open--;
}

static const struct pn_rstream_ops probe_ops = {
    .on_ready = p_on_ready,
    .on_frame = p_on_frame,
    .on_close = p_on_close,
};

static void on_deadline(uv_timer_t *t)
{
	struct streams *ctx = t->data;

	ctx->expired = 1;
}

/* The proxy's certificate (wss://) is checked like any HTTPS server's. */
static int wss_creds(struct streams *ctx, const char *wss_ca)
{
	int n;

	if (ctx->wss_cred)
		return 0;
	if (gnutls_certificate_allocate_credentials(&ctx->wss_cred))
		return -ENOMEM;
	n = wss_ca ? gnutls_certificate_set_x509_trust_file(ctx->wss_cred, wss_ca,
							    GNUTLS_X509_FMT_PEM)
		   : gnutls_certificate_set_x509_system_trust(ctx->wss_cred);
	return n <= 0 ? PN_E_CONFIG : 0;
}

static int start_probe(struct streams *ctx, struct pn_doc_stream *p, size_t i, const char *wss_ca,
		       unsigned timeout_ms)
{
	struct pn_rstream_config cfg = {.cred = ctx->cred,
					.rxbuf = ctx->rxbuf,
					.plainbuf = ctx->plainbuf,
					.handshake_ms = timeout_ms};
	struct probe *pr;
	int e;

	if (p->ws) {
		cfg.ws = 1;
		cfg.ws_host = p->ws_host;
		cfg.ws_req_path = p->ws_path;
		if (p->wss) {
			if ((e = wss_creds(ctx, wss_ca)))
				return e;
			cfg.wss = 1;
			cfg.wss_name = p->wss_name;
			cfg.wss_cred = ctx->wss_cred;
		}
	}
	if (!(pr = calloc(1, sizeof(*pr))))
		return -ENOMEM;
	pr->ctx = ctx;
	pr->p = p;
	pr->i = i;
	pr->start = pn_now_ns();
	if ((e = pn_rstream_connect(&ctx->loop, (struct sockaddr *)&p->addr, &cfg, &probe_ops, pr,
				    &pr->s))) {
		free(pr);
		return e;
	}
	ctx->live[i] = pr;
	ctx->open++;
	return 0;
}

int pn_doc_streams(const char *ca_pem, const char *cert_pem, const char *key_pem,
		   const char *wss_ca, int ping, struct pn_doc_stream *p, size_t n,
		   unsigned timeout_ms)
{
	struct streams ctx;
	struct pn_key *key = NULL;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ping = ping;
	for (size_t i = 0; i < n; i++)
		p[i].err = PN_E_TIMEOUT, p[i].stage = 0;
	if ((r = uv_loop_init(&ctx.loop)))
		return r;
	uv_timer_init(&ctx.loop, &ctx.deadline);
	ctx.deadline.data = &ctx;
	if (!(ctx.rxbuf = malloc(PN_RSTREAM_RXBUF)) || !(ctx.plainbuf = malloc(PN_RSTREAM_RXBUF)) ||
	    !(ctx.live = calloc(n ? n : 1, sizeof(*ctx.live)))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = pn_anchor_new(ca_pem, strlen(ca_pem), &ctx.anchor)) ||
	    (r = pn_key_load_pem_mem(key_pem, strlen(key_pem), &key)) ||
	    (r = pn_cred_tls_credentials(key, cert_pem, ctx.anchor, &ctx.cred)))
		goto out;
	uv_timer_start(&ctx.deadline, on_deadline, timeout_ms, 0);
	for (size_t i = 0; i < n; i++) {
		int e = start_probe(&ctx, &p[i], i, wss_ca, timeout_ms);

		if (e)
			p[i].err = e;
	}
	/* Until every probe ended or the deadline passed; then whatever is
	 * still open is closed as timed out (its on_close frees it). */
	while (ctx.open && !ctx.expired)
		uv_run(&ctx.loop, UV_RUN_ONCE);
	for (size_t i = 0; i < n; i++)
		if (ctx.live[i])
			probe_end(ctx.live[i], PN_E_TIMEOUT);
	r = 0;
out:
	uv_close((uv_handle_t *)&ctx.deadline, NULL);
	uv_run(&ctx.loop, UV_RUN_DEFAULT);
	uv_loop_close(&ctx.loop);
	if (ctx.cred)
		gnutls_certificate_free_credentials(ctx.cred);
	if (ctx.wss_cred)
		gnutls_certificate_free_credentials(ctx.wss_cred);
	pn_key_free(key);
	pn_anchor_free(ctx.anchor);
	free(ctx.live);
	free(ctx.rxbuf);
	free(ctx.plainbuf);
	return r;
}
