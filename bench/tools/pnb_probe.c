/* pnb_probe: the latency probe of scripts/bench.sh in C, the same for every
 * path (bench/peers/probe.py's subcommands and output lines, without the
 * interpreter's cost in the figures: probe.py's own time per round trip
 * was of the order of the tunnels' it measured).
 *
 *   pnb_probe echo PORT [BIND]       TCP echo server (epoll, one thread,
 *                                    any number of connections; prints
 *                                    `port: N` once listening: PORT 0
 *                                    takes a free one)
 *   pnb_probe udp-echo PORT [BIND]   UDP echo server
 *   pnb_probe rr HOST PORT N         N round trips of 64 bytes on one
 *                                    connection after 20 warm-ups:
 *                                    p50_us, p99_us
 *   pnb_probe newflow HOST PORT N    N times (after 3 warm-ups): connect,
 *                                    one 64-byte round trip, close:
 *                                    p50_us, p99_us (HOST resolved once,
 *                                    before the warm-ups)
 *   pnb_probe firstbyte HOST PORT T0|- TIMEOUT
 *                                    connect (0.1 s timeout) + one round
 *                                    trip, retried every 1 ms until it
 *                                    succeeds: `ms: N` since T0 (a
 *                                    CLOCK_REALTIME time in seconds) or
 *                                    `ms: timeout` (exit 1) after TIMEOUT
 *                                    seconds; T0 "-": print `ready: 1`,
 *                                    then read T0 from stdin
 *   pnb_probe firstbytes HOST PORT TIMEOUT
 *                                    `ready: 1`, then firstbyte once per
 *                                    line of stdin (each line a T0)
 *   pnb_probe stats                  numbers from stdin (any other word is
 *                                    a failed run): n, failures, p50, p99,
 *                                    max, max_over_p50
 *
 * Output lines are `key: value`.  Standalone (POSIX sockets, epoll): a
 * bench tool, not part of Postern. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN 64
#define BUF_LEN 65536

static const char MSG[MSG_LEN] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* probe.py's pct: the sorted values' [min(n - 1, int(n * p))] */
static double pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)((double)n * p);
	return v[i < n ? i : n - 1];
}

static void print_p50_p99(double *lat, size_t n)
{
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("p50_us: %.0f\n", pct(lat, n, 0.5));
	printf("p99_us: %.0f\n", pct(lat, n, 0.99));
}

static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > 65535) {
		fprintf(stderr, "pnb_probe: bad port %s\n", s);
		exit(2);
	}
	return (int)v;
}

static double parse_num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (end == s || *end != '\0') {
		fprintf(stderr, "pnb_probe: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

/* ---- servers ---- */

static int bind_socket(int type, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			goto bad;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			goto bad;
		len = sizeof(*a);
	}
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "pnb_probe: bind %s:%d: %s\n", addr, port, strerror(errno));
		exit(1);
	}
	return fd;
bad:
	fprintf(stderr, "pnb_probe: bad address %s\n", addr);
	exit(2);
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* One echo connection.  Bytes are echoed from a shared read buffer; only
 * what the socket would not take right away is kept (pend), and reading
 * stops until it has gone: no buffer per idle connection. */
struct econn {
	int fd;
	char *pend;
	size_t off, len;
};

static void econn_close(int ep, struct econn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Writes what is pending; 1: all written, 0: the socket is full, -1: error. */
static int econn_flush(struct econn *c)
{
	while (c->off < c->len) {
		ssize_t w = send(c->fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 0 : -1;
		c->off += (size_t)w;
	}
	free(c->pend);
	c->pend = NULL;
	c->off = c->len = 0;
	return 1;
}

/* Reads and echoes until the socket is empty; -1: close the connection. */
static int econn_echo(int ep, struct econn *c, char *buf)
{
	for (;;) {
		ssize_t r = recv(c->fd, buf, BUF_LEN, 0), w;
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		w = send(c->fd, buf, (size_t)r, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (w < 0)
			w = 0;
		if (w < r) { /* the rest once the socket drains; stop reading */
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
			c->len = (size_t)(r - w);
			c->off = 0;
			c->pend = malloc(c->len);
			if (!c->pend)
				return -1;
			memcpy(c->pend, buf + w, c->len);
			return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -1 : 0;
		}
	}
}

static int echo_server(int port, const char *addr)
{
	static char buf[BUF_LEN];
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	int ls = bind_socket(SOCK_STREAM | SOCK_NONBLOCK, addr, port), ep, one = 1;

	if (listen(ls, 4096) < 0 || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("pnb_probe: listen");
		return 1;
	}
	ev.data.ptr = NULL; /* the listening socket */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0) {
		perror("pnb_probe: epoll_ctl");
		return 1;
	}
	printf("port: %d\n", bound_port(ls));
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1), i;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("pnb_probe: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct econn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event cev = { .events = EPOLLIN };
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					cev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
						close(fd);
						free(c);
						continue;
					}
					/* a client's first bytes may be there already */
					if (econn_echo(ep, c, buf) < 0)
						econn_close(ep, c);
				}
				if (errno == EMFILE || errno == ENFILE) /* keep serving the others */
					usleep(1000);
				continue;
			}
			if (c->pend) {
				int f = econn_flush(c);
				struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
				if (f < 0 || (f == 1 && epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev) < 0)) {
					econn_close(ep, c);
					continue;
				}
				if (f == 0)
					continue;
			}
			if (econn_echo(ep, c, buf) < 0)
				econn_close(ep, c);
		}
	}
}

static _Noreturn void udp_echo(int port, const char *addr)
{
	static char buf[BUF_LEN];
	int s = bind_socket(SOCK_DGRAM, addr, port);
	printf("port: %d\n", bound_port(s));
	fflush(stdout);
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (r >= 0)
			sendto(s, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
	}
}

/* ---- clients ---- */

static struct addrinfo *resolve(const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	char ps[8];
	int e;

	snprintf(ps, sizeof(ps), "%d", port);
	e = getaddrinfo(host, ps, &hints, &res);
	if (e != 0) {
		fprintf(stderr, "pnb_probe: %s: %s\n", host, gai_strerror(e));
		return NULL;
	}
	return res;
}

static void set_io_timeout(int fd, double secs)
{
	struct timeval tv = { .tv_sec = (time_t)secs,
			      .tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6) };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* One address: a non-blocking connect waited for up to timeout_ms, then a
 * blocking socket with TCP_NODELAY; -1 on failure (errno set). */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	int err = 0;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int r;
		if (errno != EINPROGRESS)
			goto fail;
		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			goto fail;
		if (err) {
			errno = err;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, 0) < 0)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Every address of the list in turn (as Python's create_connection). */
static int connect_addrs(const struct addrinfo *res, int timeout_ms)
{
	const struct addrinfo *ai;
	int fd = -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms);
	return fd;
}

/* Sends the 64-byte message and reads its echo; 0 or -1. */
static int round_trip(int fd)
{
	char buf[MSG_LEN];
	size_t got = 0;
	if (send(fd, MSG, MSG_LEN, MSG_NOSIGNAL) != MSG_LEN)
		return -1;
	while (got < MSG_LEN) {
		ssize_t r = recv(fd, buf + got, MSG_LEN - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static double *alloc_lat(long n)
{
	double *lat;
	if (n <= 0) {
		fprintf(stderr, "pnb_probe: N must be > 0\n");
		exit(2);
	}
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat) {
		fprintf(stderr, "pnb_probe: out of memory\n");
		exit(1);
	}
	return lat;
}

static int rr(const char *host, int port, long n)
{
	struct addrinfo *res = resolve(host, port);
	double *lat = alloc_lat(n), t;
	long i;
	int fd;

	if (!res)
		return 1;
	fd = connect_addrs(res, 5000);
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "pnb_probe: connect %s:%d: %s\n", host, port, strerror(errno));
		return 1;
	}
	set_io_timeout(fd, 5.0);
	for (i = 0; i < 20 + n; i++) {
		t = now_s(CLOCK_MONOTONIC);
		if (round_trip(fd) < 0) {
			fprintf(stderr, "pnb_probe: round trip %ld: %s\n", i, strerror(errno));
			return 1;
		}
		if (i >= 20)
			lat[i - 20] = (now_s(CLOCK_MONOTONIC) - t) * 1e6;
	}
	close(fd);
	print_p50_p99(lat, (size_t)n);
	free(lat);
	return 0;
}

static int newflow(const char *host, int port, long n)
{
	struct addrinfo *res = resolve(host, port);
	double *lat = alloc_lat(n), t, dt;
	long i;

	if (!res)
		return 1;
	for (i = 0; i < n + 3; i++) {
		int fd;
		t = now_s(CLOCK_MONOTONIC);
		fd = connect_addrs(res, 5000);
		if (fd < 0) {
			fprintf(stderr, "pnb_probe: connect %s:%d: %s\n", host, port, strerror(errno));
			return 1;
		}
		set_io_timeout(fd, 5.0);
		if (round_trip(fd) < 0) {
			fprintf(stderr, "pnb_probe: flow %ld: %s\n", i, strerror(errno));
			return 1;
		}
		dt = (now_s(CLOCK_MONOTONIC) - t) * 1e6;
		close(fd);
		if (i >= 3) /* the first few warm caches and sessions */
			lat[i - 3] = dt;
	}
	freeaddrinfo(res);
	print_p50_p99(lat, (size_t)n);
	free(lat);
	return 0;
}

static int firstbyte(const char *host, int port, double t0, double timeout)
{
	double deadline = now_s(CLOCK_REALTIME) + timeout;
	struct timespec ms = { 0, 1000000 };

	while (now_s(CLOCK_REALTIME) < deadline) {
		/* Resolved at every try: a protected name resolves only once
		 * the client is up.  A short connect timeout: a SYN lost while
		 * the tunnel comes up would otherwise cost TCP's 1 s
		 * retransmission timer, which measures the kernel, not the
		 * tunnel. */
		struct addrinfo *res = resolve(host, port);
		int fd = res ? connect_addrs(res, 100) : -1, ok = 0;
		if (res)
			freeaddrinfo(res);
		if (fd >= 0) {
			set_io_timeout(fd, 2.0);
			ok = round_trip(fd) == 0;
			close(fd);
		}
		if (ok) {
			printf("ms: %.0f\n", (now_s(CLOCK_REALTIME) - t0) * 1000);
			return 0;
		}
		nanosleep(&ms, NULL);
	}
	printf("ms: timeout\n");
	return 1;
}

static void ready(void)
{
	printf("ready: 1\n");
	fflush(stdout);
}

static int firstbytes(const char *host, int port, double timeout)
{
	char line[256];
	ready();
	while (fgets(line, sizeof(line), stdin))
		firstbyte(host, port, parse_num(line), timeout);
	return 0;
}

static int stats(void)
{
	size_t n = 0, cap = 256, fails = 0;
	double *v = malloc(cap * sizeof(*v)), p50;
	char w[256];

	if (!v)
		return 1;
	while (scanf("%255s", w) == 1) {
		char *end;
		double x = strtod(w, &end);
		if (end == w || *end != '\0') {
			fails++;
			continue;
		}
		if (n == cap) {
			double *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv)
				return 1;
			v = nv;
			cap *= 2;
		}
		v[n++] = x;
	}
	printf("n: %zu\n", n);
	printf("failures: %zu\n", fails);
	if (!n) {
		free(v);
		return 1;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	p50 = pct(v, n, 0.5);
	printf("p50: %.0f\n", p50);
	printf("p99: %.0f\n", pct(v, n, 0.99));
	printf("max: %.0f\n", v[n - 1]);
	if (p50 > 0)
		printf("max_over_p50: %.2f\n", v[n - 1] / p50);
	else
		printf("max_over_p50: inf\n");
	free(v);
	return 0;
}

static int usage(void)
{
	fputs("usage: pnb_probe echo PORT [BIND] | udp-echo PORT [BIND] | rr HOST PORT N |\n"
	      "       newflow HOST PORT N | firstbyte HOST PORT T0|- TIMEOUT |\n"
	      "       firstbytes HOST PORT TIMEOUT | stats\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	/* every line reaches a caller reading a pipe at once */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "echo") && (argc == 3 || argc == 4))
		return echo_server(parse_port(argv[2]), argc > 3 ? argv[3] : "0.0.0.0");
	if (!strcmp(cmd, "udp-echo") && (argc == 3 || argc == 4))
		udp_echo(parse_port(argv[2]), argc > 3 ? argv[3] : "0.0.0.0");
	if (!strcmp(cmd, "rr") && argc == 5)
		return rr(argv[2], parse_port(argv[3]), (long)parse_num(argv[4]));
	if (!strcmp(cmd, "newflow") && argc == 5)
		return newflow(argv[2], parse_port(argv[3]), (long)parse_num(argv[4]));
	if (!strcmp(cmd, "firstbyte") && argc == 6) {
		char line[256];
		double t0;
		if (!strcmp(argv[4], "-")) {
			ready();
			if (!fgets(line, sizeof(line), stdin))
				return 2;
			t0 = parse_num(line);
		} else {
			t0 = parse_num(argv[4]);
		}
		return firstbyte(argv[2], parse_port(argv[3]), t0, parse_num(argv[5]));
	}
	if (!strcmp(cmd, "firstbytes") && argc == 5)
		return firstbytes(argv[2], parse_port(argv[3]), parse_num(argv[4]));
	if (!strcmp(cmd, "stats") && argc == 2)
		return stats();
	return usage();
}
