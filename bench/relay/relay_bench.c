/*
 * pn-relay-bench: one load generator for the Postern relay and for coturn,
 * so both forward the same load on the same machine in the same run.
 *
 *   pn-relay-bench postern --pki DIR --tls IP:P --udp IP:P --src IP
 *                  [--sessions K] [--flows F] [--size S] [--seconds T] [--gso] [--idle]
 *   pn-relay-bench coturn --server IP:P --src IP --user U --pass P --realm R
 *                  [--sessions K] [--flows F] [--size S] [--seconds T] [--gso] [--idle]
 *
 * Forwarding (the coturn side in relay_bench_turn.c): one sender thread blasts datagrams of S payload bytes from
 * socket A through the relay (Postern: DATA on a session bound by BIND;
 * coturn: ChannelData on an allocation with a channel bound to the peer)
 * with sendmmsg (or UDP GSO, up to 64 segments per send, with --gso); one
 * receiver thread counts what arrives at socket B (the other side).
 * --flows F: the sender sends from F sockets (F source ports, a batch from
 * each in turn), each with its own session(s) (coturn: its own
 * allocation), so a relay that spreads sources over workers can.
 * Prints "result pps=.. gbps=.. sent=.. recv=.." over T seconds after a
 * one-second warm-up; with --cpu-pid PID (the relay's process) also the
 * relay's busy cores over that interval and the rates per busy core
 * (pps_core, gbps_core) and CPU-seconds per million packets.
 *
 * rclient mode (pn-relay-bench rclient --pki DIR --tls IP:P --udp IP:P
 * [--ws URL] [--only udp|tls|ws] [--size S] [--seconds T]): the relay
 * client library on both ends in one process and loop (client sends,
 * connector counts): the relayed path as the tunnel sees it.
 *
 * --idle: set up K sessions (Postern: K sessions over one client and one
 * connector TLS connection, both sides bound over UDP; coturn: K
 * allocations from K client sockets, each with a channel bound), print
 * "ready K" and hold them until stdin closes, so the caller can read the
 * relay's RSS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <uv.h>

#include "core/buf.h"
#include "core/err.h"
#include "relay/frame.h"
#include "relay/rclient.h"
#include "relay/server.h"
#include "relay/stream.h"
#include "relay/udpmsg.h"
#include "trust/cred.h"
#include "trust/key.h"

#include "relay_bench.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define BATCH 64

static const char *pki = ".", *tls_addr, *udp_addr, *src = "0.0.0.0";
const char *server, *turn_user = "u", *pass = "p", *realm = "lab";
unsigned nsess = 1, size = 1200;
static unsigned seconds = 5;
static int use_gso;
int idle;

static _Atomic uint64_t rx_pkts, rx_bytes, tx_pkts;
static _Atomic int stop;

void die(const char *m)
{
	fprintf(stderr, "pn-relay-bench: %s (%s)\n", m, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int udp_sock(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 8 << 20;
	socklen_t l = sizeof(*bound);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(bound, 0, sizeof(*bound));
	bound->sin_family = AF_INET;
	inet_pton(AF_INET, src, &bound->sin_addr);
	if (bind(fd, (struct sockaddr *)bound, sizeof(*bound)) ||
	    getsockname(fd, (struct sockaddr *)bound, &l))
		die("bind");
	return fd;
}

void set_timeout(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- receiver / sender threads ---- */

int rx_fd;

static void *receiver(void *arg)
{
	static uint8_t buf[BATCH][2048];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int n;

	set_timeout(rx_fd, 200);
	while (!stop) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(rx_fd, mm, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		uint64_t b = 0;
		for (int i = 0; i < n; i++)
			b += mm[i].msg_len;
		rx_pkts += (uint64_t)n;
		rx_bytes += b;
	}
	return NULL;
}

/* The sender cycles over its `ntx` sockets (flows), a batch from each in
 * turn; flow f sends its `npk` prebuilt datagrams pkts[f * npk ...] (one
 * per session of that flow). */
int *tx_fds;
unsigned ntx = 1;
struct sockaddr_in tx_to;
uint8_t **pkts;
size_t pkt_len;
unsigned npk;

static void *sender(void *arg)
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	unsigned k = 0, f = 0;
	static uint8_t gso_buf[64 * 2048];
	char ctl[CMSG_SPACE(sizeof(uint16_t))];
	/* A GSO send carries at most 64 segments and 64 KiB. */
	unsigned segs = (unsigned)(65000 / pkt_len) < 64 ? (unsigned)(65000 / pkt_len) : 64;

	while (!stop) {
		int tx_fd = tx_fds[f];
		uint8_t **fp = pkts + (size_t)f * npk;
		f = (f + 1) % ntx;
		if (use_gso) {
			/* 64 equal segments to the same destination in one send. */
			struct msghdr mh = {0};
			struct iovec v = {gso_buf, segs * pkt_len};
			struct cmsghdr *cm;
			for (unsigned i = 0; i < segs; i++)
				memcpy(gso_buf + (size_t)i * pkt_len, fp[k], pkt_len);
			k = (k + 1) % npk;
			mh.msg_name = &tx_to;
			mh.msg_namelen = sizeof(tx_to);
			mh.msg_iov = &v;
			mh.msg_iovlen = 1;
			mh.msg_control = ctl;
			mh.msg_controllen = sizeof(ctl);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			*(uint16_t *)CMSG_DATA(cm) = (uint16_t)pkt_len;
			if (sendmsg(tx_fd, &mh, 0) > 0)
				tx_pkts += segs;
			continue;
		}
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = fp[k];
			iov[i].iov_len = pkt_len;
			k = (k + 1) % npk;
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_name = &tx_to;
			mm[i].msg_hdr.msg_namelen = sizeof(tx_to);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int n = sendmmsg(tx_fd, mm, BATCH, 0);
		if (n > 0)
			tx_pkts += (uint64_t)n;
	}
	return NULL;
}

/* CPU seconds (user + system) of process `pid` so far, or -1. */
static int cpu_pid;
static double cpu_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields 14 and 15 (utime, stime), counted after the ")" of the name */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void blast(void)
{
	pthread_t rt, st;
	uint64_t r0, b0, r1, b1, t0;
	double a, b, c0 = -1, c1 = -1;

	pthread_create(&rt, NULL, receiver, NULL);
	pthread_create(&st, NULL, sender, NULL);
	sleep(1); /* warm-up */
	r0 = rx_pkts;
	b0 = rx_bytes;
	t0 = tx_pkts;
	a = now_s();
	if (cpu_pid)
		c0 = cpu_of(cpu_pid);
	sleep(seconds);
	r1 = rx_pkts;
	b1 = rx_bytes;
	b = now_s();
	if (cpu_pid)
		c1 = cpu_of(cpu_pid);
	stop = 1;
	pthread_join(st, NULL);
	pthread_join(rt, NULL);
	double pps = (double)(r1 - r0) / (b - a);
	(void)b0;
	(void)b1;
	/* Goodput: payload bits delivered (headers of either protocol excluded). */
	printf("result pps=%.0f gbps=%.3f payload=%u sent=%llu recv=%llu", pps,
	       pps * size * 8 / 1e9, size, (unsigned long long)(tx_pkts - t0),
	       (unsigned long long)(r1 - r0));
	/* The relay's CPU over the same interval: cores busy, and the rates
	 * per busy core (the machine is shared with the generator). */
	if (c0 >= 0 && c1 > c0) {
		double cores = (c1 - c0) / (b - a);
		printf(" cores=%.2f pps_core=%.0f gbps_core=%.3f cpus_per_mpkt=%.2f", cores,
		       pps / cores, pps * size * 8 / 1e9 / cores,
		       (c1 - c0) / ((double)(r1 - r0) / 1e6));
	}
	printf("\n");
	fflush(stdout);
}

void hold(void)
{
	char c;
	printf("ready %u\n", nsess);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
}

/* ---- Postern: control over TLS (the real stream glue), data over UDP ---- */

static uv_loop_t loop;
static struct pn_rstream *cs, *ks;
static int c_ready, k_registered;
static unsigned opened, sessions_seen, open_sent, errors;
struct psess {
	uint8_t sid[PN_RELAY_SID_LEN];
	uint8_t secret[PN_RELAY_SECRET_LEN];
};
static struct psess *copen, *ksess;
static uint8_t *acl;
static size_t acl_len;
static uint8_t conn_id[PN_RELAY_ID_LEN];
static uint8_t rx1[PN_RSTREAM_RXBUF], rx2[PN_RSTREAM_RXBUF];

static void send_msg(struct pn_rstream *s, const struct pn_relay_msg *m)
{
	static uint8_t tmp[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
	struct pn_buf b;

	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	if (pn_relay_msg_encode(m, &b) == 0)
		pn_rstream_send(s, tmp, pn_buf_len(&b), 0);
}

static void pump_opens(void)
{
	/* Keep a bounded number of OPENs in flight (the stream's egress is bounded). */
	while (c_ready && k_registered && open_sent < nsess && open_sent - opened - errors < 128) {
		struct pn_relay_msg m = {
		    .type = PN_RELAY_F_OPEN, .tag = open_sent + 1, .acl = acl, .acl_len = acl_len};
		memcpy(m.id, conn_id, sizeof(conn_id));
		send_msg(cs, &m);
		open_sent++;
	}
	if (opened + errors == nsess && sessions_seen == opened)
		uv_stop(&loop);
}

static int s_ready(struct pn_rstream *s, void *user)
{
	if (user == &ks) {
		struct pn_relay_msg m = {.type = PN_RELAY_F_REGISTER};
		send_msg(s, &m);
	} else {
		c_ready = 1;
		pump_opens();
	}
	return 0;
}

static int s_frame(struct pn_rstream *s, const struct pn_relay_frame *f, void *user)
{
	struct pn_relay_msg m;

	if (pn_relay_msg_decode(f, &m))
		return 0;
	if (m.type == PN_RELAY_F_REGISTERED) {
		k_registered = 1;
	} else if (m.type == PN_RELAY_F_OPENED && m.tag >= 1 && m.tag <= nsess) {
		memcpy(copen[m.tag - 1].sid, m.sid, PN_RELAY_SID_LEN);
		memcpy(copen[m.tag - 1].secret, m.secret, PN_RELAY_SECRET_LEN);
		opened++;
	} else if (m.type == PN_RELAY_F_SESSION && sessions_seen < nsess) {
		memcpy(ksess[sessions_seen].sid, m.sid, PN_RELAY_SID_LEN);
		memcpy(ksess[sessions_seen].secret, m.secret, PN_RELAY_SECRET_LEN);
		sessions_seen++;
	} else if (m.type == PN_RELAY_F_ERROR) {
		if (errors++ < 3)
			fprintf(stderr, "relay error tag=%u %s\n", m.tag, pn_errname(m.code));
	} else if (m.type == PN_RELAY_F_PING) {
		m.type = PN_RELAY_F_PONG;
		send_msg(s, &m);
	}
	pump_opens();
	return 0;
}

static void s_close(struct pn_rstream *s, int err, void *user)
{
	fprintf(stderr, "stream closed: %s\n", pn_errname(err));
	if (!stop)
		exit(1);
}

static const struct pn_rstream_ops sops = {s_ready, s_frame, s_close, NULL};

static char *slurp(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	long n;
	char *b;

	snprintf(path, sizeof(path), "%s/%s", pki, name);
	if (!(f = fopen(path, "rb")))
		die(path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("read");
	b[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return b;
}

static gnutls_certificate_credentials_t creds(struct pn_anchor *a, const char *base)
{
	char n1[64], n2[64];
	struct pn_key *k;
	gnutls_certificate_credentials_t c = NULL;
	char *kp, *cp;

	snprintf(n1, sizeof(n1), "%s.key", base);
	snprintf(n2, sizeof(n2), "%s.crt", base);
	kp = slurp(n1, NULL);
	cp = slurp(n2, NULL);
	if (pn_key_load_pem_mem(kp, strlen(kp), &k) || pn_cred_tls_credentials(k, cp, a, &c))
		die("credential");
	return c;
}

static int cmp_sid(const void *a, const void *b)
{
	return memcmp(a, b, PN_RELAY_SID_LEN);
}

static void *loop_thread(void *arg)
{
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

static void keepalive_cb(uv_timer_t *t)
{
	struct pn_relay_msg m = {.type = PN_RELAY_F_PING};
	send_msg(cs, &m);
	send_msg(ks, &m);
}

/* BIND every session from fd as `side`; retry the unanswered ones. */
static void bind_all(int fd, const struct sockaddr_in *to, struct psess *ss, unsigned cnt,
		     enum pn_relay_side side)
{
	uint8_t b[PN_RELAY_BIND_LEN], r[64];
	char *done = calloc(cnt, 1);
	unsigned left = cnt;

	set_timeout(fd, 300);
	for (int round = 0; round < 20 && left; round++) {
		for (unsigned i = 0, inflight = 0; i < cnt; i++) {
			if (done[i])
				continue;
			pn_relay_bind_encode(b, ss[i].sid, side, (uint64_t)round + 1, ss[i].secret);
			sendto(fd, b, sizeof(b), 0, (const struct sockaddr *)to, sizeof(*to));
			/* Drain answers as we go so the socket buffer never overflows. */
			if (++inflight % 256 == 0 || i == cnt - 1) {
				ssize_t n;
				while ((n = recv(fd, r, sizeof(r),
						 inflight % 256 == 0 ? MSG_DONTWAIT : 0)) > 0) {
					struct psess key;
					memcpy(key.sid, r + 1, PN_RELAY_SID_LEN);
					struct psess *hit =
					    bsearch(&key, ss, cnt, sizeof(*ss), cmp_sid);
					if (n == PN_RELAY_CHALLENGE_LEN &&
					    r[0] == PN_RELAY_UDP_CHALLENGE && hit &&
					    !done[hit - ss]) {
						/* Return routability: echo the cookie in a CONFIRM.
						 */
						uint8_t cf[PN_RELAY_CONFIRM_LEN];
						pn_relay_confirm_encode(
						    cf, hit->sid, side,
						    pn_relay_challenge_counter(r),
						    pn_relay_challenge_cookie(r), hit->secret);
						sendto(fd, cf, sizeof(cf), 0,
						       (const struct sockaddr *)to, sizeof(*to));
					}
					if (n == PN_RELAY_BIND_OK_LEN &&
					    r[0] == PN_RELAY_UDP_BIND_OK && hit &&
					    !done[hit - ss]) {
						done[hit - ss] = 1;
						left--;
					}
				}
			}
		}
	}
	free(done);
	if (left) {
		fprintf(stderr, "%u sessions not bound\n", left);
		exit(1);
	}
}

static int run_postern(void)
{
	struct pn_anchor *a;
	struct pn_rstream_config cfg = {0};
	struct sockaddr_storage tss, uss;
	struct sockaddr_in A, B;
	char *idhex, *ca;
	uv_timer_t ka;
	pthread_t lt;
	int fa, fb;

	ca = slurp("ca.crt", NULL);
	if (pn_anchor_new(ca, strlen(ca), &a))
		die("anchor");
	acl = (uint8_t *)slurp("client.acl", &acl_len);
	idhex = slurp("conn.id", NULL);
	idhex[PN_ID_HEX_LEN] = 0;
	pn_id_parse(idhex, conn_id);
	copen = calloc(nsess, sizeof(*copen));
	ksess = calloc(nsess, sizeof(*ksess));
	if (pn_relay_parse_addr(tls_addr, &tss) || pn_relay_parse_addr(udp_addr, &uss))
		die("address");
	uv_loop_init(&loop);
	cfg.rxbuf = rx1;
	cfg.plainbuf = rx2;
	cfg.max_egress = 4 << 20;
	cfg.cred = creds(a, "conn");
	if (pn_rstream_connect(&loop, (struct sockaddr *)&tss, &cfg, &sops, &ks, &ks))
		die("connect");
	cfg.cred = creds(a, "client");
	if (pn_rstream_connect(&loop, (struct sockaddr *)&tss, &cfg, &sops, &cs, &cs))
		die("connect");
	uv_run(&loop, UV_RUN_DEFAULT);
	if (errors || opened != nsess) {
		fprintf(stderr, "opened %u of %u\n", opened, nsess);
		return 1;
	}
	/* Both sides by sid, so BIND answers can be matched. */
	qsort(copen, nsess, sizeof(*copen), cmp_sid);
	qsort(ksess, nsess, sizeof(*ksess), cmp_sid);
	uv_timer_init(&loop, &ka);
	uv_timer_start(&ka, keepalive_cb, 10000, 10000);
	pthread_create(&lt, NULL, loop_thread, NULL);

	/* Flow f (its own socket, so its own source port) binds the client
	 * side of sessions [f * m, (f + 1) * m) of the sorted list. */
	unsigned m = nsess / ntx;
	tx_fds = calloc(ntx, sizeof(int));
	for (unsigned f = 0; f < ntx; f++) {
		tx_fds[f] = fa = udp_sock(&A);
		bind_all(fa, (struct sockaddr_in *)&uss, copen + (size_t)f * m, m,
			 PN_RELAY_SIDE_CLIENT);
	}
	fb = udp_sock(&B);
	bind_all(fb, (struct sockaddr_in *)&uss, ksess, nsess, PN_RELAY_SIDE_CONNECTOR);
	fprintf(stderr, "postern: %u sessions open and bound\n", nsess);
	if (idle) {
		hold();
		return 0;
	}
	pkt_len = PN_RELAY_DATA_HDR + size;
	npk = m;
	pkts = calloc(nsess, sizeof(*pkts));
	for (unsigned i = 0; i < npk * ntx; i++) {
		pkts[i] = calloc(1, pkt_len);
		pkts[i][0] = PN_RELAY_UDP_DATA;
		memcpy(pkts[i] + 1, copen[i].sid, PN_RELAY_SID_LEN);
	}
	rx_fd = fb;
	memcpy(&tx_to, &uss, sizeof(tx_to));
	blast();
	return 0;
}

/* ---- rclient: the library path the tunnel uses (client lib -> relay -> connector lib) ---- */

static const char *ws_url, *only;
static struct pn_rclient *rk, *rcn;
static struct pn_rsession *rs;
static uv_idle_t pump;
static uv_timer_t rtimer;
static uint64_t r_sent, r_recv, r_mark_recv, r_mark_sent;
static double r_mark_t;
static int r_phase; /* 0 opening, 1 warm-up, 2 measuring */
static uint8_t r_payload[PN_RELAY_MAX_PAYLOAD];

static unsigned want_transport(void)
{
	return !only		      ? PN_RT_UDP
	       : !strcmp(only, "tls") ? PN_RT_TLS
	       : !strcmp(only, "ws")  ? PN_RT_WS
				      : PN_RT_UDP;
}

static void r_pump(uv_idle_t *h)
{
	/* Offer a burst per loop iteration; the library batches it (GSO). */
	for (int i = 0; i < 64; i++) {
		if (pn_rsession_send(rs, r_payload, size))
			break;
		r_sent++;
	}
}

static void r_tick(uv_timer_t *t)
{
	if (r_phase == 0 && rs && pn_rsession_transport(rs) == want_transport()) {
		r_phase = 1;
		uv_idle_start(&pump, r_pump);
		uv_timer_start(&rtimer, r_tick, 1000, 0);
		return;
	}
	if (r_phase == 1) {
		r_phase = 2;
		r_mark_recv = r_recv;
		r_mark_sent = r_sent;
		r_mark_t = now_s();
		uv_timer_start(&rtimer, r_tick, seconds * 1000, 0);
		return;
	}
	if (r_phase == 2) {
		double dt = now_s() - r_mark_t, pps = (double)(r_recv - r_mark_recv) / dt;
		printf("result pps=%.0f gbps=%.3f payload=%u sent=%llu recv=%llu transport=%s\n",
		       pps, pps * size * 8 / 1e9, size, (unsigned long long)(r_sent - r_mark_sent),
		       (unsigned long long)(r_recv - r_mark_recv), only ? only : "udp");
		fflush(stdout);
		exit(0);
	}
}

static void r_new(struct pn_rsession *s, const uint8_t cid[PN_RELAY_ID_LEN], void *user)
{
}
static void r_ready(struct pn_rsession *s, int status, void *user)
{
	if (status) {
		fprintf(stderr, "open: %s\n", pn_errname(status));
		exit(1);
	}
}
static void r_closed(struct pn_rsession *s, int reason, void *user)
{
	fprintf(stderr, "session closed: %s\n", pn_errname(reason));
	exit(1);
}
static void r_dgram(struct pn_rsession *s, const uint8_t *p, size_t n, void *user)
{
	r_recv++;
}
static const struct pn_rclient_ops r_conn_ops = {
    .session_new = r_new, .session_closed = r_closed, .datagram = r_dgram};
static const struct pn_rclient_ops r_client_ops = {
    .session_ready = r_ready, .session_closed = r_closed, .datagram = r_dgram};

static int run_rclient(void)
{
	struct pn_rclient_config cfg = {0};
	struct pn_rrelay_config rcfg = {0};
	struct pn_rrelay *r1, *r2;
	uint8_t cid[PN_RELAY_ID_LEN];
	size_t acl_n;
	uint8_t *a;
	char *hex;

	uv_loop_init(&loop);
	cfg.ca_pem = slurp("ca.crt", NULL);
	cfg.mode = PN_RCLIENT_CONNECTOR;
	cfg.cert_pem = slurp("conn.crt", NULL);
	cfg.key_pem = slurp("conn.key", NULL);
	cfg.ops = &r_conn_ops;
	if (pn_rclient_new(&loop, &cfg, &rcn))
		die("rclient connector");
	cfg.mode = PN_RCLIENT_CLIENT;
	cfg.cert_pem = slurp("client.crt", NULL);
	cfg.key_pem = slurp("client.key", NULL);
	cfg.ops = &r_client_ops;
	if (pn_rclient_new(&loop, &cfg, &rk))
		die("rclient client");
	rcfg.tls_addr = tls_addr;
	rcfg.udp_addr = udp_addr;
	rcfg.ws_url = ws_url;
	rcfg.transports = want_transport() == PN_RT_UDP ? PN_RT_ALL : want_transport();
	if (pn_rclient_add_relay(rcn, &rcfg, &r1) || pn_rclient_add_relay(rk, &rcfg, &r2))
		die("add relay");
	a = (uint8_t *)slurp("client.acl", &acl_n);
	hex = slurp("conn.id", NULL);
	hex[PN_ID_HEX_LEN] = 0;
	pn_id_parse(hex, cid);
	/* Open once the connector is registered. */
	for (int i = 0; i < 100 && pn_rrelay_state(r1) != PN_RRELAY_READY; i++)
		uv_run(&loop, UV_RUN_ONCE);
	if (pn_rclient_open(rk, r2, cid, a, acl_n, NULL, &rs))
		die("open");
	uv_idle_init(&loop, &pump);
	uv_timer_init(&loop, &rtimer);
	uv_timer_start(&rtimer, r_tick, 50, 50);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pki", 1, 0, 'p'},	   {"tls", 1, 0, 't'},	   {"udp", 1, 0, 'u'},
	    {"server", 1, 0, 'S'}, {"src", 1, 0, 's'},	   {"sessions", 1, 0, 'k'},
	    {"size", 1, 0, 'z'},   {"seconds", 1, 0, 'T'}, {"gso", 0, 0, 'g'},
	    {"idle", 0, 0, 'i'},   {"user", 1, 0, 'U'},	   {"pass", 1, 0, 'P'},
	    {"realm", 1, 0, 'R'},  {"ws", 1, 0, 'W'},	   {"only", 1, 0, 'O'},
	    {"cpu-pid", 1, 0, 'C'}, {"flows", 1, 0, 'F'},	   {0, 0, 0, 0},
	};
	struct rlimit rl = {65536, 65536};
	const char *mode;
	int c;

	if (argc < 2)
		return 2;
	mode = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pki = optarg; break;
		case 't': tls_addr = optarg; break;
		case 'u': udp_addr = optarg; break;
		case 'S': server = optarg; break;
		case 's': src = optarg; break;
		case 'k': nsess = (unsigned)atoi(optarg); break;
		case 'z': size = (unsigned)atoi(optarg); break;
		case 'T': seconds = (unsigned)atoi(optarg); break;
		case 'g': use_gso = 1; break;
		case 'i': idle = 1; break;
		case 'U': turn_user = optarg; break;
		case 'P': pass = optarg; break;
		case 'R': realm = optarg; break;
		case 'W': ws_url = optarg; break;
		case 'O': only = optarg; break;
		case 'C': cpu_pid = atoi(optarg); break;
		case 'F': ntx = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!nsess || !ntx || ntx > 1024 || size < 16 || size > PN_RELAY_MAX_PAYLOAD)
		return 2;
	/* Every flow carries as many sessions (at least one). */
	if (!idle)
		nsess = (nsess < ntx ? ntx : nsess) / ntx * ntx;
	signal(SIGPIPE, SIG_IGN);
	setrlimit(RLIMIT_NOFILE, &rl);
	if (!strcmp(mode, "postern") && tls_addr && udp_addr)
		return run_postern();
	if (!strcmp(mode, "rclient") && (tls_addr || ws_url))
		return run_rclient();
	if (!strcmp(mode, "coturn") && server)
		return run_coturn();
	return 2;
}
