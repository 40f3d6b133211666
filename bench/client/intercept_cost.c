/*
 * What interception costs, without the tunnel (docs/client.md, "TPROXY or
 * TUN"): one process, two threads, a TCP stream of 64 KiB writes, CPU time
 * of the whole process (user + system, which includes the loopback or TUN
 * receive work the kernel does in the sender's context) per byte.
 *
 *   pn-intercept-cost lo     SECS              to 127.0.0.1 (a port-forward / SOCKS
 *                                              client's kernel path)
 *   pn-intercept-cost tproxy SECS ADDR PORT LPORT  to ADDR:PORT, taken by an
 *                                              IP_TRANSPARENT listener on 127.0.0.1:LPORT
 *                                              (the rules are the caller's: intercept.sh)
 *   pn-intercept-cost tun    SECS MTU          to 10.250.0.2:5201 routed into a TUN
 *                                              device read by the second thread, which
 *                                              answers as a minimal TCP receiver would
 *                                              (SYN-ACK, one cumulative ACK per batch of
 *                                              packets read; no checksum verification,
 *                                              no reassembly, no copy: a lower bound on
 *                                              what a TUN design adds before its own
 *                                              userspace TCP stack)
 *   pn-intercept-cost conn-lo|conn-tproxy SECS [ADDR PORT LPORT]
 *                                              connect + accept + close per second
 *
 * Prints `mode=... bytes=... gbps=... cpu_ns_per_byte=...` (or conns_per_s,
 * cpu_us_per_conn).  Needs root for tproxy and tun.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static volatile int stop;
static double secs;
static int lfd = -1, tunfd = -1;
static unsigned long long received;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 +
	       (double)r.ru_stime.tv_sec + (double)r.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int listener(int port, int transparent)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (transparent && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) != 0)
		die("IP_TRANSPARENT");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0)
		die("listen");
	return fd;
}

/* The receiving side of lo/tproxy: accept one, read 64 KiB at a time. */
static void *sink(void *arg)
{
	static char buf[CHUNK];
	int c = accept(lfd, NULL, NULL);
	ssize_t n;

	(void)arg;
	if (c < 0)
		die("accept");
	while ((n = read(c, buf, sizeof(buf))) > 0)
		received += (unsigned long long)n;
	close(c);
	return NULL;
}

static void stream(const char *ip, int port, const char *mode)
{
	static char buf[CHUNK];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double t0, c0, t1, c1;

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	t0 = now();
	c0 = cpu();
	{
		struct timeval tv = {1, 0}; /* a stalled stream ends the run */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	while (now() - t0 < secs)
		if (write(fd, buf, sizeof(buf)) < 0 && errno != EAGAIN && errno != EINTR)
			die("write");
	shutdown(fd, SHUT_WR);
	(void)c0;
	t1 = now();
	c1 = cpu();
	(void)c1;
	stop = 1;
	close(fd);
	{
		/* let the reader finish; the CPU is the whole process's */
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	c1 = cpu();
	printf("mode=%s bytes=%llu secs=%.2f gbps=%.2f cpu_s=%.2f cpu_ns_per_byte=%.3f\n", mode,
	       received, t1 - t0, (double)received * 8 / (t1 - t0) / 1e9, c1 - c0,
	       (c1 - c0) * 1e9 / (double)received);
}

/* ------------------------------------------------------------- TUN -- */

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (i < n)
		s += (uint32_t)(b[i] << 8);
	return s;
}

/* An IPv4 TCP packet from the original's destination to its source. */
static size_t tcp_answer(const uint8_t *in, uint32_t seq, uint32_t ack, uint8_t flags, int syn,
			 unsigned mss, uint8_t *out)
{
	const struct iphdr *ii = (const void *)in;
	const struct tcphdr *it = (const void *)(in + ii->ihl * 4);
	struct iphdr *oi = (void *)out;
	struct tcphdr *ot = (void *)(out + 20);
	size_t tl = syn ? 20 + 8 : 20;
	uint8_t pseudo[12];
	uint32_t s;

	memset(out, 0, 20 + tl);
	oi->version = 4;
	oi->ihl = 5;
	oi->tot_len = htons((uint16_t)(20 + tl));
	oi->ttl = 64;
	oi->protocol = IPPROTO_TCP;
	oi->saddr = ii->daddr;
	oi->daddr = ii->saddr;
	oi->check = htons(csum_fold(csum_add(0, oi, 20)));
	ot->source = it->dest;
	ot->dest = it->source;
	ot->seq = htonl(seq);
	ot->ack_seq = htonl(ack);
	ot->doff = (uint16_t)(tl / 4);
	((uint8_t *)ot)[13] = flags;
	ot->window = htons(65535);
	if (syn) {
		uint8_t *o = (uint8_t *)ot + 20;
		o[0] = 2, o[1] = 4, o[2] = (uint8_t)(mss >> 8), o[3] = (uint8_t)mss; /* MSS */
		o[4] = 1, o[5] = 3, o[6] = 3, o[7] = 7;				    /* WS 7 */
	}
	memcpy(pseudo, &oi->saddr, 4);
	memcpy(pseudo + 4, &oi->daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = (uint8_t)(tl >> 8);
	pseudo[11] = (uint8_t)tl;
	s = csum_add(csum_add(0, pseudo, 12), ot, tl);
	ot->check = htons(csum_fold(s));
	return 20 + tl;
}

static int tun_open(int mtu)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s;
	char cmd[256];

	if (fd < 0)
		die("/dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "pnic0");
	if (ioctl(fd, TUNSETIFF, &ifr) != 0)
		die("TUNSETIFF");
	s = socket(AF_INET, SOCK_DGRAM, 0);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) != 0)
		die("SIOCSIFMTU");
	close(s);
	snprintf(cmd, sizeof(cmd),
		 "ip addr add 10.250.0.1/32 peer 10.250.0.2/32 dev pnic0 && "
		 "ip link set pnic0 txqueuelen 10000 up");
	if (system(cmd) != 0)
		die("ip");
	return fd;
}

/* The minimal receiver behind the TUN device. */
static void *tun_peer(void *arg)
{
	static uint8_t pkt[65536 + 64], out[128];
	unsigned mss = (unsigned)(intptr_t)arg;
	uint32_t rcv_nxt = 0, my_seq = 12345;
	int established = 0;
	struct pollfd p = {.fd = tunfd, .events = POLLIN};
	uint8_t last[64];

	fcntl(tunfd, F_SETFL, O_NONBLOCK);
	while (!stop) {
		int got = 0;
		ssize_t n;
		if (poll(&p, 1, 100) <= 0)
			continue;
		while (got < 64 && (n = read(tunfd, pkt, sizeof(pkt))) > 0) {
			const struct iphdr *ip = (const void *)pkt;
			const struct tcphdr *t;
			size_t hl, dl;
			if (n < 40 || ip->version != 4 || ip->protocol != IPPROTO_TCP)
				continue;
			hl = (size_t)ip->ihl * 4;
			t = (const void *)(pkt + hl);
			dl = (size_t)ntohs(ip->tot_len) - hl - (size_t)t->doff * 4;
			if (t->syn) {
				size_t o = tcp_answer(pkt, my_seq, ntohl(t->seq) + 1, 0x12, 1, mss, out);
				rcv_nxt = ntohl(t->seq) + 1;
				my_seq++;
				if (write(tunfd, out, o) < 0)
					die("tun write");
				continue;
			}
			if (t->fin) {
				size_t o;
				rcv_nxt = ntohl(t->seq) + (uint32_t)dl + 1;
				o = tcp_answer(pkt, my_seq, rcv_nxt, 0x14, 0, mss, out); /* RST|ACK */
				if (write(tunfd, out, o) < 0)
					die("tun write");
				continue;
			}
			established = 1;
			/* A packet the device dropped (its queue full) is
			 * acknowledged anyway: only bytes read are counted,
			 * and the sender never stalls in retransmissions. */
			if (dl && (int32_t)(ntohl(t->seq) + (uint32_t)dl - rcv_nxt) > 0) {
				rcv_nxt = ntohl(t->seq) + (uint32_t)dl;
				received += dl;
			}
			memcpy(last, pkt, 40);
			got++;
		}
		if (got && established) {
			size_t o = tcp_answer(last, my_seq, rcv_nxt, 0x10, 0, mss, out);
			if (write(tunfd, out, o) < 0 && errno != EAGAIN)
				die("tun write");
		}
	}
	return NULL;
}

static void conns(const char *mode, const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	double t0 = now(), c0 = cpu(), t1, c1;
	unsigned long n = 0;
	struct linger lg = {1, 0};

	inet_pton(AF_INET, ip, &a.sin_addr);
	while (now() - t0 < secs) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), c;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			die("connect");
		if ((c = accept(lfd, NULL, NULL)) < 0)
			die("accept");
		/* RST: no TIME_WAIT piling up over the run */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		close(c);
		n++;
	}
	t1 = now();
	c1 = cpu();
	printf("mode=%s conns=%lu conns_per_s=%.0f cpu_us_per_conn=%.2f\n", mode, n,
	       (double)n / (t1 - t0), (c1 - c0) * 1e6 / (double)n);
}

int main(int argc, char **argv)
{
	pthread_t th;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of intercept_cost.c\n");
		return 2;
	}
	secs = atof(argv[2]);
	if (!strcmp(argv[1], "lo")) {
		lfd = listener(15201, 0);
		pthread_create(&th, NULL, sink, NULL);
		stream("127.0.0.1", 15201, "lo");
	} else if (!strcmp(argv[1], "tproxy") && argc >= 6) {
		lfd = listener(atoi(argv[5]), 1);
		pthread_create(&th, NULL, sink, NULL);
		stream(argv[3], atoi(argv[4]), "tproxy");
	} else if (!strcmp(argv[1], "tun") && argc >= 4) {
		int mtu = atoi(argv[3]);
		char m[32];
		tunfd = tun_open(mtu);
		pthread_create(&th, NULL, tun_peer, (void *)(intptr_t)(mtu - 40));
		snprintf(m, sizeof(m), "tun-mtu%d", mtu);
		stream("10.250.0.2", 5201, m);
	} else if (!strcmp(argv[1], "conn-lo")) {
		lfd = listener(15202, 0);
		conns("conn-lo", "127.0.0.1", 15202);
		return 0;
	} else if (!strcmp(argv[1], "conn-tproxy") && argc >= 6) {
		lfd = listener(atoi(argv[5]), 1);
		conns("conn-tproxy", argv[3], atoi(argv[4]));
		return 0;
	} else {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	pthread_join(th, NULL);
	return 0;
}
