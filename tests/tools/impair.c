/*
 * pn-impair: a netem stand-in for the tests, on a kernel without netem
 * (and without nftables' `queue` expression: the xtables NFQUEUE target,
 * through iptables, feeds it).  Run it in a router namespace; every packet
 * the queue rule sends it gets loss, delay, reordering and duplication as
 * impair_core.h describes, with a seeded generator.
 *
 *   pn-impair --queue N [--loss PCT] [--delay MS] [--jitter MS]
 *             [--dist uniform|normal] [--reorder PCT] [--reorder-delay MS]
 *             [--dup PCT] [--seed N] [--queue-maxlen N] [--fail-open]
 *             [--stats-interval S]
 *
 *   iptables -A FORWARD -i h-cli -p udp -j NFQUEUE --queue-num N
 *
 * Delay holds the verdict: the kernel keeps the packet until a verdict for
 * its id, and verdicts may come in any order.  A duplicate is a copy of the
 * packet sent through a raw socket (IPv4; it leaves by the OUTPUT hook, so
 * a FORWARD rule does not queue it again).  Packets longer than the copy
 * range are still decided and released whole (the kernel keeps them).
 *
 * Prints "impair ready queue=N" when bound, and on SIGTERM/SIGINT releases
 * what it holds and prints one line of counters, with the kernel's own for
 * the queue (/proc/net/netfilter/nfnetlink_queue): packets the kernel
 * numbered but never delivered here (queue full: dropped, or accepted with
 * --fail-open; or lost to a full socket buffer) show as unseen=.
 * SIGUSR1 prints the counters without stopping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#include "impair_core.h"

static volatile sig_atomic_t stop, dump;
static struct {
	struct imp m;
	struct nfq_q_handle *qh;
	int raw;
	unsigned queue;
	uint64_t dup_sent, dup_failed, dup_skipped, verdict_failed, t0;
} G;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_sig(int s)
{
	if (s == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

struct copy {
	size_t len;
	uint8_t b[];
};

static void send_copy(struct copy *cp)
{
	struct sockaddr_in to;
	const struct iphdr *ip = (const void *)cp->b;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	memcpy(&to.sin_addr, &ip->daddr, 4);
	if (sendto(G.raw, cp->b, cp->len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)cp->len)
		G.dup_sent++;
	else
		G.dup_failed++;
}

static void release(const struct imp_event *ev)
{
	if (ev->kind == IMP_EV_DUP) {
		struct copy *cp = (struct copy *)(uintptr_t)ev->tag;
		send_copy(cp);
		free(cp);
		return;
	}
	if (nfq_set_verdict(G.qh, (uint32_t)ev->tag, NF_ACCEPT, 0, NULL) < 0)
		G.verdict_failed++;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg, struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	struct imp_decision d;
	unsigned char *pl = NULL;
	int len;
	uint32_t id;
	uint64_t now = now_us();

	(void)nfmsg;
	(void)data;
	if (!ph)
		return 0;
	id = ntohl(ph->packet_id);
	len = nfq_get_payload(nfa, &pl);
	imp_packet(&G.m, now, id, &d);
	if (d.drop)
		return nfq_set_verdict(qh, id, NF_DROP, 0, NULL) < 0 ? (G.verdict_failed++, 0) : 0;
	if (!d.held && nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) < 0)
		G.verdict_failed++;
	if (d.dup) {
		struct copy *cp;
		/* a whole IPv4 packet only (the copy range may cut a big one) */
		if (len < (int)sizeof(struct iphdr) || (pl[0] >> 4) != 4 ||
		    ((size_t)pl[2] << 8 | pl[3]) != (size_t)len || !(cp = malloc(sizeof(*cp) + (size_t)len))) {
			G.dup_skipped++;
			return 0;
		}
		cp->len = (size_t)len;
		memcpy(cp->b, pl, (size_t)len);
		if (!imp_dup(&G.m, now, &d, (uint64_t)(uintptr_t)cp))
			free(cp);
	}
	return 0;
}

/* The kernel's line for our queue: numbered packets and its drops. */
static void kernel_stats(char *out, size_t n)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned q, portid, total, mode, range, qdrop, udrop, seq, one;

	snprintf(out, n, "kernel=unknown");
	if (!f)
		return;
	while (fscanf(f, "%u %u %u %u %u %u %u %u %u", &q, &portid, &total, &mode, &range, &qdrop,
		      &udrop, &seq, &one) == 9) {
		if (q != G.queue)
			continue;
		snprintf(out, n, "kernel_numbered=%u kernel_queue_dropped=%u kernel_user_dropped=%u unseen=%" PRId64,
			 seq, qdrop, udrop, (int64_t)seq - (int64_t)G.m.c.seen);
		break;
	}
	fclose(f);
}

static void print_counters(const char *what)
{
	const struct imp_counters *c = &G.m.c;
	char ks[200];
	double secs = (double)(now_us() - G.t0) / 1e6;

	kernel_stats(ks, sizeof(ks));
	printf("impair %s queue=%u secs=%.1f seen=%" PRIu64 " dropped=%" PRIu64 " drop_pct=%.2f released=%" PRIu64
	       " held=%zu max_held=%" PRIu64 " mean_delay_ms=%.1f reorder_draws=%" PRIu64 " out_of_order=%" PRIu64
	       " out_of_order_pct=%.2f dups=%" PRIu64 " dup_sent=%" PRIu64 " dup_failed=%" PRIu64
	       " dup_skipped=%" PRIu64 " overflow=%" PRIu64 " verdict_failed=%" PRIu64 " %s\n",
	       what, G.queue, secs, c->seen, c->dropped, c->seen ? 100.0 * (double)c->dropped / (double)c->seen : 0.0,
	       c->released, G.m.n, c->max_held,
	       c->released ? (double)c->delay_sum_us / (double)c->released / 1000.0 : 0.0, c->reorder_draws,
	       c->out_of_order, c->released ? 100.0 * (double)c->out_of_order / (double)c->released : 0.0, c->dups,
	       G.dup_sent, G.dup_failed, G.dup_skipped, c->overflow, G.verdict_failed, ks);
	fflush(stdout);
}

static int num_arg(const char *s, double max, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !(*v >= 0) || *v > max ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pn-impair --queue N [--loss PCT] [--delay MS] [--jitter MS] [--dist uniform|normal]\n"
			"       [--reorder PCT] [--reorder-delay MS] [--dup PCT] [--seed N] [--queue-maxlen N]\n"
			"       [--fail-open] [--stats-interval S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"queue", required_argument, 0, 'q'},	      {"loss", required_argument, 0, 'l'},
		{"delay", required_argument, 0, 'd'},	      {"jitter", required_argument, 0, 'j'},
		{"dist", required_argument, 0, 'D'},	      {"reorder", required_argument, 0, 'r'},
		{"reorder-delay", required_argument, 0, 'R'}, {"dup", required_argument, 0, 'u'},
		{"seed", required_argument, 0, 's'},	      {"queue-maxlen", required_argument, 0, 'm'},
		{"fail-open", no_argument, 0, 'f'},	      {"stats-interval", required_argument, 0, 'i'},
		{0, 0, 0, 0}};
	struct imp_params p = {0};
	struct nfq_handle *h;
	struct sigaction sa;
	struct imp_event ev;
	uint64_t seed = 1, next_stats = UINT64_MAX, stats_us = 0;
	uint32_t maxlen = 65536;
	int c, fd, fail_open = 0, have_q = 0, one = 1;
	int64_t pct;
	double v;
	static char buf[1 << 17];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (num_arg(optarg, 65535, &v))
				usage();
			G.queue = (unsigned)v;
			have_q = 1;
			break;
		case 'l':
		case 'r':
		case 'u':
			if ((pct = imp_parse_pct(optarg)) < 0)
				usage();
			*(c == 'l' ? &p.loss_ppm : c == 'r' ? &p.reorder_ppm : &p.dup_ppm) = (uint32_t)pct;
			break;
		case 'd':
		case 'j':
		case 'R':
			if (num_arg(optarg, 600000, &v))
				usage();
			*(c == 'd' ? &p.delay_us : c == 'j' ? &p.jitter_us : &p.reorder_delay_us) = (uint64_t)(v * 1000);
			break;
		case 'D':
			if (!strcmp(optarg, "uniform"))
				p.dist = IMP_UNIFORM;
			else if (!strcmp(optarg, "normal"))
				p.dist = IMP_NORMAL;
			else
				usage();
			break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'm':
			if (num_arg(optarg, 1 << 20, &v) || v < 1)
				usage();
			maxlen = (uint32_t)v;
			break;
		case 'f': fail_open = 1; break;
		case 'i':
			if (num_arg(optarg, 3600, &v))
				usage();
			stats_us = (uint64_t)(v * 1e6);
			break;
		default: usage();
		}
	}
	if (!have_q || optind != argc)
		usage();
	if (imp_init(&G.m, &p, seed, (size_t)maxlen * 2) != 0) { /* room for copies too */
		fprintf(stderr, "impair: out of memory\n");
		return 1;
	}
	G.raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (G.raw < 0) {
		perror("impair: raw socket");
		return 1;
	}
	h = nfq_open();
	if (!h || !(G.qh = nfq_create_queue(h, (uint16_t)G.queue, on_packet, NULL))) {
		perror("impair: nfq_open/nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(G.qh, NFQNL_COPY_PACKET, 0xffff) < 0 || nfq_set_queue_maxlen(G.qh, maxlen) < 0) {
		perror("impair: nfq_set_mode/maxlen");
		return 1;
	}
	if (fail_open && nfq_set_queue_flags(G.qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
		perror("impair: fail-open");
		return 1;
	}
	fd = nfq_fd(h);
	nfnl_rcvbufsiz(nfq_nfnlh(h), 16u << 20);
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	G.t0 = now_us();
	if (stats_us)
		next_stats = G.t0 + stats_us;
	printf("impair ready queue=%u loss_ppm=%u delay_ms=%.1f jitter_ms=%.1f dist=%s reorder_ppm=%u "
	       "reorder_delay_ms=%.1f dup_ppm=%u seed=%" PRIu64 " maxlen=%u fail_open=%d\n",
	       G.queue, p.loss_ppm, (double)p.delay_us / 1000, (double)p.jitter_us / 1000,
	       p.dist == IMP_NORMAL ? "normal" : "uniform", p.reorder_ppm, (double)p.reorder_delay_us / 1000,
	       p.dup_ppm, seed, maxlen, fail_open);
	fflush(stdout);

	while (!stop) {
		struct pollfd pfd = {fd, POLLIN, 0};
		uint64_t t = now_us(), due = imp_next_due(&G.m);
		int timeout = 1000;
		ssize_t n;

		if (due != UINT64_MAX)
			timeout = due <= t ? 0 : (int)((due - t + 999) / 1000);
		if (next_stats != UINT64_MAX && (next_stats <= t || (int)((next_stats - t) / 1000) < timeout))
			timeout = next_stats <= t ? 0 : (int)((next_stats - t) / 1000);
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
			break;
		/* drain the socket, then release whatever is due */
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			nfq_handle_packet(h, buf, (int)n);
		t = now_us();
		while (imp_pop_due(&G.m, t, &ev))
			release(&ev);
		if (dump || (next_stats != UINT64_MAX && t >= next_stats)) {
			dump = 0;
			print_counters("stats");
			if (stats_us)
				next_stats = t + stats_us;
		}
	}
	/* release what is held (the kernel would drop it with the queue) */
	while (imp_pop_any(&G.m, &ev))
		release(&ev);
	print_counters("exit");
	nfq_destroy_queue(G.qh);
	nfq_close(h);
	close(G.raw);
	imp_free(&G.m);
	return 0;
}
