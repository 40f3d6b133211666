/*
 * Many push subscribers on one controller, from one source address, and
 * revocation latency to all of them.
 *
 *   usage: bench_push_subscribers [SUBSCRIBERS=10000] [DEVICES=200]
 *                                 [CONNECTORS=10] [CHANGES=5]
 *
 * A real controller runs in a child process (HTTPS on 127.0.0.1, SQLite in
 * a temporary directory), so its memory and threads can be read from
 * /proc.  This process logs in DEVICES client devices of one service
 * account (ctlapi, each with its own key and credential) and enrolls
 * CONNECTORS connectors, then opens SUBSCRIBERS push streams
 * (GET /v1/ctl/stream, mutual TLS 1.3) from 127.0.0.1 on one epoll loop:
 * one per connector, the rest spread over the devices' credentials.  It
 * then makes CHANGES grant changes through the admin API (alternately
 * removing and restoring the service account's grant: every device's
 * access list changes) and measures, for each subscriber, the time from
 * the start of the admin call to the event carrying the new policy
 * version.
 *
 * Prints: controller RSS and threads before and after the streams opened
 * (memory per subscriber), p50/p99/max latency over every subscriber and
 * change, the load average.  Exit 0 only if every subscriber received
 * every change (the integration test runs a smaller instance for that).
 * Environment: PN_BENCH_TIMEOUT_S (per phase, default 120).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "admin.h"
#include "controller/controller.h"
#include "core/fdlimit.h"
#include "ctlapi/ctlapi.h"

#define INFLIGHT_MAX 64 /* connections being set up at once (the per-source cap is 128) */
#define LINE_KEEP    48 /* of each SSE line only the start matters (id:, event:) */

enum cstate { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_SEND, C_HEADERS, C_BODY };
enum chunk { K_SIZE, K_DATA, K_CRLF };

struct conn {
	int fd, cred;
	enum cstate st;
	gnutls_session_t s;
	size_t req_off;
	char hdr[1024];
	size_t hdr_len;
	enum chunk k;
	uint64_t left;
	char szline[24];
	size_t szlen;
	char line[LINE_KEEP];
	size_t linelen;
	uint64_t cur_id;
	int ev_policy, ev_revoked;
	uint64_t version; /* newest policy version received */
	double t_hit;	  /* when it reached the target version (ms) */
	double retry_at;
	unsigned reconnects;
};

struct bench {
	int ep;
	struct conn *c;
	int n;
	gnutls_certificate_credentials_t *creds;
	int ncreds;
	uint16_t port;
	int inflight, up;
	int *queue; /* connections waiting to (re)connect */
	int qhead, qtail, qcap;
	uint64_t target;
	int hits;
	unsigned failures;
};

static const char *g_url, *g_ca;
static char g_key[PN_CONTROLLER_KEY_MAX];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- admin API (blocking libcurl) ---- */

static long call(const char *method, const char *path, const char *body, json_t **out)
{
	const struct bench_admin a = {g_url, g_ca, g_key};

	return bench_admin_call(&a, method, path, body, out);
}

static uint64_t policy_version(void)
{
	json_t *j = NULL;
	uint64_t v = 0;

	if (call("GET", "/v1/status", NULL, &j) == 200)
		v = (uint64_t)json_integer_value(json_object_get(j, "policy_version"));
	json_decref(j);
	return v;
}

/* The admin change runs on its own thread so the subscriber loop keeps
 * timestamping events while the call is in flight. */
struct change {
	pthread_t t;
	int add;
	long status;
	volatile int done;
};

static void *change_main(void *arg)
{
	struct change *ch = arg;

	if (ch->add) {
		ch->status =
		    call("POST", "/v1/policies", "{\"group\":\"eng\",\"resource\":\"db\"}", NULL);
	} else {
		json_t *j = NULL;
		char p[128];

		call("GET", "/v1/policies?group=eng", NULL, &j);
		snprintf(p, sizeof(p), "/v1/policies/%s",
			 json_string_value(json_object_get(
			     json_array_get(json_object_get(j, "policies"), 0), "id")));
		json_decref(j);
		ch->status = call("DELETE", p, NULL, NULL);
	}
	ch->done = 1;
	return NULL;
}

/* ---- /proc of the controller ---- */

static long proc_field_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* CPU time (user + system) a process used so far, in ms. */
static double proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* fields after the command name */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void loadavg(char *out, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");

	double a = 0, b = 0, c = 0;

	if (f) {
		if (fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
			a = b = c = 0;
		fclose(f);
	}
	snprintf(out, n, "%.2f %.2f %.2f", a, b, c);
}

/* ---- subscribers ---- */

static void enqueue(struct bench *b, int i, double delay_ms)
{
	b->c[i].retry_at = now_ms() + delay_ms;
	b->queue[b->qtail] = i;
	b->qtail = (b->qtail + 1) % b->qcap;
}

static void conn_close(struct bench *b, struct conn *c, int retry)
{
	int was_up = c->st == C_BODY;

	if (c->s) {
		gnutls_deinit(c->s);
		c->s = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->st != C_IDLE && c->st != C_BODY)
		b->inflight--;
	if (was_up)
		b->up--;
	c->st = C_IDLE;
	if (retry) {
		c->reconnects++;
		enqueue(b, (int)(c - b->c), 50 + (double)(random() % 200));
	}
}

static void want(struct bench *b, struct conn *c, int out)
{
	struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN,
				 .data.u32 = (uint32_t)(c - b->c)};

	epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int conn_start(struct bench *b, struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(b->port)};
	struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - b->c)};
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -errno;
	}
	c->st = C_CONNECTING;
	c->hdr_len = c->req_off = c->linelen = c->szlen = 0;
	c->k = K_SIZE;
	c->ev_policy = c->ev_revoked = 0;
	b->inflight++;
	epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void sse_line(struct bench *b, struct conn *c)
{
	c->line[c->linelen < LINE_KEEP ? c->linelen : LINE_KEEP - 1] = '\0';
	if (c->linelen && c->line[c->linelen - 1] == '\r')
		c->line[c->linelen - 1] = '\0';
	if (!c->line[0]) { /* end of an event */
		if (c->ev_policy && c->cur_id > c->version) {
			c->version = c->cur_id;
			if (b->target && !c->t_hit && c->version >= b->target) {
				c->t_hit = now_ms();
				b->hits++;
			}
		}
		if (c->ev_revoked)
			b->failures++;
		c->ev_policy = c->ev_revoked = 0;
	} else if (!strncmp(c->line, "id: ", 4)) {
		c->cur_id = strtoull(c->line + 4, NULL, 10);
	} else if (!strcmp(c->line, "event: policy")) {
		c->ev_policy = 1;
	} else if (!strcmp(c->line, "event: revoked")) {
		c->ev_revoked = 1;
	}
	c->linelen = 0;
}

/* Body bytes: HTTP/1.1 chunked transfer coding around server-sent events. */
static int body(struct bench *b, struct conn *c, const char *p, size_t n)
{
	while (n) {
		if (c->k == K_SIZE || c->k == K_CRLF) {
			char ch = *p++;

			n--;
			if (ch != '\n') {
				if (c->k == K_SIZE && c->szlen < sizeof(c->szline) - 1)
					c->szline[c->szlen++] = ch;
				continue;
			}
			if (c->k == K_CRLF) {
				c->k = K_SIZE;
				continue;
			}
			c->szline[c->szlen] = '\0';
			c->szlen = 0;
			c->left = strtoull(c->szline, NULL, 16);
			if (!c->left)
				return -1; /* last chunk: the server ended the stream */
			c->k = K_DATA;
			continue;
		}
		while (n && c->left) {
			char ch = *p++;

			n--;
			c->left--;
			if (ch == '\n')
				sse_line(b, c);
			else if (c->linelen < LINE_KEEP)
				c->line[c->linelen++] = ch;
			else
				c->linelen = LINE_KEEP; /* keep only the start */
		}
		if (!c->left)
			c->k = K_CRLF;
	}
	return 0;
}

static void conn_io(struct bench *b, struct conn *c)
{
	static char buf[65536];
	int rc;

	switch (c->st) {
	case C_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			conn_close(b, c, 1);
			return;
		}
		if (gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) ||
		    gnutls_priority_set_direct(c->s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL) ||
		    gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, b->creds[c->cred]) ||
		    gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, "localhost", 9)) {
			conn_close(b, c, 1);
			return;
		}
		gnutls_session_set_verify_cert(c->s, "localhost", 0);
		gnutls_transport_set_int(c->s, c->fd);
		c->st = C_HANDSHAKE;
	} /* fall through */
	case C_HANDSHAKE:
		rc = gnutls_handshake(c->s);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
			want(b, c, gnutls_record_get_direction(c->s));
			return;
		}
		if (rc < 0) {
			conn_close(b, c, 1); /* refused (per-source cap) or reset */
			return;
		}
		c->st = C_SEND;
		c->req_off = 0;
		/* fall through */
	case C_SEND: {
		char req[256];
		int len = snprintf(req, sizeof(req),
				   "GET /v1/ctl/stream?since=%llu HTTP/1.1\r\nHost: localhost\r\n"
				   "Accept: text/event-stream\r\n\r\n",
				   (unsigned long long)c->version);
		ssize_t w;

		while (c->req_off < (size_t)len) {
			w = gnutls_record_send(c->s, req + c->req_off, (size_t)len - c->req_off);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
				want(b, c, 1);
				return;
			}
			if (w < 0) {
				conn_close(b, c, 1);
				return;
			}
			c->req_off += (size_t)w;
		}
		c->st = C_HEADERS;
		want(b, c, 0);
	} /* fall through */
	case C_HEADERS:
	case C_BODY:
		for (;;) {
			ssize_t r = gnutls_record_recv(c->s, buf, sizeof(buf));
			const char *p = buf;
			size_t n;

			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				return;
			if (r <= 0) { /* stream ended (recycled) or reset: reconnect */
				conn_close(b, c, 1);
				return;
			}
			n = (size_t)r;
			if (c->st == C_HEADERS) {
				char *end;
				size_t take = n;

				if (take > sizeof(c->hdr) - 1 - c->hdr_len)
					take = sizeof(c->hdr) - 1 - c->hdr_len;
				memcpy(c->hdr + c->hdr_len, p, take);
				c->hdr_len += take;
				c->hdr[c->hdr_len] = '\0';
				end = strstr(c->hdr, "\r\n\r\n");
				if (!end) {
					if (c->hdr_len == sizeof(c->hdr) - 1) {
						conn_close(b, c, 1);
						return;
					}
					continue;
				}
				if (strncmp(c->hdr, "HTTP/1.1 200", 12)) {
					fprintf(stderr, "stream refused: %.40s\n", c->hdr);
					b->failures++;
					conn_close(b, c, 1);
					return;
				}
				/* the rest of this record is body */
				size_t used = (size_t)(end + 4 - c->hdr) - (c->hdr_len - take);

				p += used;
				n -= used;
				c->st = C_BODY;
				b->inflight--;
				b->up++;
			}
			if (body(b, c, p, n)) {
				conn_close(b, c, 1);
				return;
			}
		}
	case C_IDLE: break;
	}
}

/* Run the loop until cond() holds or timeout; starts queued connections. */
static int run(struct bench *b, int (*cond)(struct bench *), double timeout_ms, volatile int *also)
{
	double end = now_ms() + timeout_ms;
	struct epoll_event evs[256];

	while (!(cond(b) && (!also || *also))) {
		int n;

		if (now_ms() > end)
			return -1;
		while (b->inflight < INFLIGHT_MAX && b->qhead != b->qtail) {
			int i = b->queue[b->qhead];

			if (b->c[i].retry_at > now_ms())
				break;
			b->qhead = (b->qhead + 1) % b->qcap;
			if (conn_start(b, &b->c[i]))
				enqueue(b, i, 100);
		}
		n = epoll_wait(b->ep, evs, 256, 20);
		for (int k = 0; k < n; k++)
			conn_io(b, &b->c[evs[k].data.u32]);
	}
	return 0;
}

static int all_up(struct bench *b)
{
	for (int i = 0; i < b->n; i++)
		if (b->c[i].st != C_BODY || b->c[i].version < b->target)
			return 0;
	return 1;
}

static int all_hit(struct bench *b)
{
	return b->hits == b->n;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return a < c ? -1 : a > c;
}

/* ---- the controller, in a child process ---- */

static pid_t controller_child(const char *data, int *stop_fd)
{
	int up[2], down[2];
	pid_t pid;

	if (pipe(up) || pipe(down))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct pn_controller_init_opts o = {0};
		struct pn_controller *ctl = NULL;
		char logp[256], c;
		int lf;

		close(up[0]);
		close(down[1]);
		snprintf(logp, sizeof(logp), "%s.log", data);
		lf = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (lf >= 0)
			dup2(lf, 2);
		o.data_dir = data;
		o.listen = "127.0.0.1:0";
		o.hostnames = "localhost";
		if (pn_controller_init(&o, g_key) || pn_controller_start(data, NULL, &ctl))
			_exit(1);
		dprintf(up[1], "%s\n%s\n", pn_controller_url(ctl), g_key);
		close(up[1]);
		while (read(down[0], &c, 1) > 0) {
		}
		pn_controller_stop(ctl);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	{
		FILE *f = fdopen(up[0], "r");
		static char url[256];

		if (!f || !fgets(url, sizeof(url), f) || !fgets(g_key, sizeof(g_key), f)) {
			fprintf(stderr, "controller did not start (see %s.log)\n", data);
			return -1;
		}
		fclose(f);
		url[strcspn(url, "\n")] = '\0';
		g_key[strcspn(g_key, "\n")] = '\0';
		g_url = url;
	}
	*stop_fd = down[1];
	return pid;
}

int main(int argc, char **argv)
{
	int nsub = argc > 1 ? atoi(argv[1]) : 10000;
	int ndev = argc > 2 ? atoi(argv[2]) : 200;
	int nconn = argc > 3 ? atoi(argv[3]) : 10;
	int nchg = argc > 4 ? atoi(argv[4]) : 5;
	const char *tos = getenv("PN_BENCH_TIMEOUT_S");
	double timeout = (tos ? atof(tos) : 120) * 1000, t0, t_setup;
	char dir[] = "/tmp/pn-bench-push-XXXXXX", data[128], ca[160], path[256], la0[64], la1[64];
	struct bench b = {.ep = -1};
	double *lat = NULL, *last = NULL, cpu_ctl = 0, cpu_self = 0;
	size_t nlat = 0;
	long rss0, rss1, thr0, thr1;
	int stop_fd = -1, rc = 1, fd0, fd1;
	char *sakey = NULL;
	json_t *j = NULL;
	pid_t pid;

	if (nsub < 1 || nsub > 200000 || ndev < 1 || ndev > 10000 || nconn < 0 || nconn > 1000 ||
	    nconn >= nsub || nchg < 1 || nchg > 1000 || !mkdtemp(dir))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	(void)pn_fdlimit_raise_to(PN_FDLIMIT_SERVER_WANT, NULL, NULL);
	loadavg(la0, sizeof(la0));
	snprintf(data, sizeof(data), "%s/ctl", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", data);
	g_ca = ca;
	pid = controller_child(data, &stop_fd);
	if (pid < 0)
		return 1;
	pn_ctlapi_global_init();
	call("POST", "/v1/networks", "{\"name\":\"corp\"}", NULL);
	call("POST", "/v1/resources",
	     "{\"name\":\"db\",\"network\":\"corp\",\"address\":"
	     "\"db.corp.example\",\"protocols\":[\"tcp/5432\"]}",
	     NULL);
	call("POST", "/v1/groups", "{\"name\":\"eng\"}", NULL);
	call("POST", "/v1/service-accounts", "{\"name\":\"ci\",\"groups\":[\"eng\"]}", &j);
	if (json_string_value(json_object_get(j, "api_key")))
		sakey = strdup(json_string_value(json_object_get(j, "api_key")));
	json_decref(j);
	if (!sakey ||
	    call("POST", "/v1/policies", "{\"group\":\"eng\",\"resource\":\"db\"}", NULL) != 201) {
		fprintf(stderr, "setup failed\n");
		goto out;
	}
	b.ncreds = nconn + ndev;
	b.creds = calloc((size_t)b.ncreds, sizeof(*b.creds));
	t_setup = now_ms();
	for (int i = 0; i < b.ncreds; i++) {
		char cert[300], key[300];

		if (i < nconn) {
			char body[128], *tok;

			snprintf(body, sizeof(body), "{\"name\":\"c%d\",\"network\":\"corp\"}", i);
			call("POST", "/v1/connectors", body, &j);
			tok =
			    json_string_value(json_object_get(j, "enrollment_token"))
				? strdup(json_string_value(json_object_get(j, "enrollment_token")))
				: NULL;
			json_decref(j);
			snprintf(path, sizeof(path), "%s/connector-%d", dir, i);
			if (!tok || pn_ctlapi_enroll(path, tok)) {
				fprintf(stderr, "enrollment %d failed\n", i);
				free(tok);
				goto out;
			}
			free(tok);
		} else {
			snprintf(path, sizeof(path), "%s/client-%d", dir, i - nconn);
			if (pn_ctlapi_login(path, g_url, ca, sakey)) {
				fprintf(stderr, "login %d failed\n", i - nconn);
				goto out;
			}
		}
		snprintf(cert, sizeof(cert), "%s/cert.pem", path);
		snprintf(key, sizeof(key), "%s/key.pem", path);
		if (gnutls_certificate_allocate_credentials(&b.creds[i]) ||
		    gnutls_certificate_set_x509_trust_file(b.creds[i], ca, GNUTLS_X509_FMT_PEM) <
			1 ||
		    gnutls_certificate_set_x509_key_file(b.creds[i], cert, key,
							 GNUTLS_X509_FMT_PEM)) {
			fprintf(stderr, "credential %d unusable\n", i);
			goto out;
		}
	}
	t_setup = now_ms() - t_setup;
	b.n = nsub;
	b.c = calloc((size_t)nsub, sizeof(*b.c));
	b.qcap = nsub + 1;
	b.queue = calloc((size_t)b.qcap, sizeof(int));
	lat = calloc((size_t)nsub * (size_t)nchg, sizeof(*lat));
	last = calloc((size_t)nchg, sizeof(*last));
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	b.port = (uint16_t)atoi(strrchr(g_url, ':') + 1);
	if (!b.c || !b.queue || !lat || !last || b.ep < 0)
		goto out;
	rss0 = proc_field_kb(pid, "VmRSS");
	thr0 = proc_field_kb(pid, "Threads");
	fd0 = -1;
	{
		char p[64];

		snprintf(p, sizeof(p), "ls /proc/%d/fd | wc -l", (int)pid);
		FILE *f = popen(p, "r");

		if (f && fscanf(f, "%d", &fd0) != 1)
			fd0 = -1;
		if (f)
			pclose(f);
	}
	/* connectors first (one stream each), then devices round-robin */
	for (int i = 0; i < nsub; i++) {
		b.c[i].fd = -1;
		b.c[i].cred = i < nconn ? i : nconn + (i - nconn) % ndev;
		enqueue(&b, i, 0);
	}
	b.target = policy_version();
	t0 = now_ms();
	if (run(&b, all_up, timeout, NULL)) {
		fprintf(stderr, "only %d of %d subscribers up within %.0f s\n", b.up, nsub,
			timeout / 1000);
		goto out;
	}
	t0 = now_ms() - t0;
	sleep(2); /* let the controller settle before reading its memory */
	rss1 = proc_field_kb(pid, "VmRSS");
	thr1 = proc_field_kb(pid, "Threads");
	fd1 = -1;
	{
		char p[64];

		snprintf(p, sizeof(p), "ls /proc/%d/fd | wc -l", (int)pid);
		FILE *f = popen(p, "r");

		if (f && fscanf(f, "%d", &fd1) != 1)
			fd1 = -1;
		if (f)
			pclose(f);
	}
	printf("controller: %d push subscribers from 127.0.0.1 (%d connectors, %d client devices"
	       " sharing %d credentials), all up in %.1f s (credentials issued in %.1f s)\n",
	       nsub, nconn, nsub - nconn, ndev, t0 / 1000, t_setup / 1000);
	{
		unsigned rec = 0;

		for (int i = 0; i < nsub; i++)
			rec += b.c[i].reconnects;
		printf("  connection retries while opening (per-source cap on handshakes): %u\n",
		       rec);
	}
	printf("  controller RSS %ld -> %ld KiB: %.1f KiB per subscriber; threads %ld -> %ld;"
	       " descriptors %d -> %d\n",
	       rss0, rss1, (double)(rss1 - rss0) / nsub, thr0, thr1, fd0, fd1);
	for (int k = 0; k < nchg; k++) {
		struct change ch = {.add = k % 2 == 1};
		double start;

		b.target = policy_version() + 1;
		b.hits = 0;
		for (int i = 0; i < nsub; i++) {
			b.c[i].t_hit = 0;
			if (b.c[i].version >= b.target) { /* cannot happen: no change yet */
				b.c[i].t_hit = now_ms();
				b.hits++;
			}
		}
		double c0 = proc_cpu_ms(pid), s0 = proc_cpu_ms(getpid());

		start = now_ms();
		pthread_create(&ch.t, NULL, change_main, &ch);
		if (run(&b, all_hit, timeout, &ch.done)) {
			fprintf(stderr, "change %d: %d of %d subscribers got it within %.0f s\n", k,
				b.hits, nsub, timeout / 1000);
			pthread_join(ch.t, NULL);
			goto out;
		}
		pthread_join(ch.t, NULL);
		cpu_ctl += proc_cpu_ms(pid) - c0;
		cpu_self += proc_cpu_ms(getpid()) - s0;
		if (ch.status != 200 && ch.status != 201 && ch.status != 204) {
			fprintf(stderr, "change %d: HTTP %ld\n", k, ch.status);
			goto out;
		}
		for (int i = 0; i < nsub; i++) {
			lat[nlat++] = b.c[i].t_hit - start;
			if (b.c[i].t_hit - start > last[k])
				last[k] = b.c[i].t_hit - start;
		}
		sleep(1);
	}
	qsort(lat, nlat, sizeof(*lat), cmp);
	qsort(last, (size_t)nchg, sizeof(*last), cmp);
	loadavg(la1, sizeof(la1));
	printf("revocation latency (admin call start -> subscriber holds the new version), %d"
	       " changes x %d subscribers:\n"
	       "  p50 %.0f ms  p99 %.0f ms  max %.0f ms  (goal p99 <= 1000 ms); last subscriber"
	       " per change: median %.0f ms\n",
	       nchg, nsub, lat[nlat / 2], lat[(nlat * 99) / 100], lat[nlat - 1], last[nchg / 2]);
	printf("  CPU time per change: controller %.0f ms, this process (%d TLS subscribers) %.0f "
	       "ms\n",
	       cpu_ctl / nchg, nsub, cpu_self / nchg);
	printf("  load average before %s, after %s (%ld cores)\n", la0, la1,
	       sysconf(_SC_NPROCESSORS_ONLN));
	rc = b.failures ? 1 : 0;
	if (b.failures)
		fprintf(stderr, "%u streams refused or revoked\n", b.failures);
out:
	for (int i = 0; i < b.n; i++)
		conn_close(&b, &b.c[i], 0);
	if (stop_fd >= 0)
		close(stop_fd);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (rc) {
		snprintf(path, sizeof(path), "tail -20 %s.log >&2", data);
		if (system(path)) {
		}
	}
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path)) {
	}
	for (int i = 0; i < b.ncreds && b.creds; i++)
		if (b.creds[i])
			gnutls_certificate_free_credentials(b.creds[i]);
	if (b.ep >= 0)
		close(b.ep);
	free(b.creds);
	free(b.c);
	free(b.queue);
	free(lat);
	free(last);
	free(sakey);
	return rc;
}
