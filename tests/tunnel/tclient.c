/*
 * pn-tclient: a test client on the tunnel endpoint API (tunnel/endpoint.h),
 * for the namespace integration tests and the benchmark.
 *
 *   pn-tclient --ca F --cert F --key F --acl F --connector HEXID
 *              (--udp IP:PORT | --relay tls=IP:PORT[,udp=IP:PORT][,ws=URL])
 *              [--migrate-udp IP:PORT --migrate-after MS] [--pmtu-max BYTES] CMD...
 *
 *   hash DEST PORT BYTES   TCP flow through an echo server: send BYTES of a
 *                          pseudo-random pattern, half-close, read the echo;
 *                          prints sha256 of both and Gbit/s; exit 0 if equal
 *   sink DEST PORT BYTES   send BYTES to a discard-style server (no echo read)
 *   open DEST PORT         open a TCP flow and report its status
 *   hold DEST PORT SECS    keep a TCP flow busy (echo) until it closes or
 *                          SECS pass; prints the close code and unix time
 *   udp DEST PORT N        N datagrams through a UDP echo; prints replies
 *   dns NAME               ask the connector to resolve NAME
 *   raw HEX                open a flow whose header is the given bytes
 *   http DEST PORT PATH    HTTP/1.0 GET; prints the status line and size
 *   storm N PAR            N tunnel handshakes (--udp), PAR at a time, each
 *                          expected to be refused: prints a count per
 *                          reason (err, peer code, text up to its first
 *                          space); exit 0 if all N were refused, 7 if any
 *                          came up or could not be tried
 *
 * Every status line is "key=value ..." on stdout.  Exit: 0 ok, 3 flow
 * refused (status line says why), 4 tunnel failed, 5 data mismatch.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <uv.h>

#include "core/err.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "relay/rpath.h"
#include "tunnel/endpoint.h"
#include "tunnel/session.h"

#define PATTERN (1u << 20)

static struct {
	uv_loop_t *loop;
	struct pn_tep *ep;
	struct pn_tunnel *t;
	struct pn_flow *f;
	const char *cmd;
	char **args;
	int nargs;
	uint8_t *pattern;
	uint64_t to_send, sent, rcvd;
	gnutls_hash_hd_t hs, hr;
	int exit_code, done, echo;
	uint64_t t0, t_end;
	unsigned dgrams_sent, dgrams_rcvd;
	uv_timer_t timer, mtimer;
	uint64_t hold_until;
	struct pn_rclient *rc;
	struct pn_rsession *rs;
	struct sockaddr_storage migrate_to;
	int migrate;
	unsigned migrate_after_ms;
	struct pn_tunnel_config tc;
	const char *ca_pem, *cert_pem, *key_pem;
	char http_line[256];
	size_t http_len;
} G;

static double unix_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void finish(int code)
{
	if (G.done)
		return;
	G.done = 1;
	G.exit_code = code;
	uv_timer_stop(&G.timer);
	if (G.migrate) {
		uv_timer_stop(&G.mtimer);
		uv_close((uv_handle_t *)&G.mtimer, NULL);
	}
	if (G.f)
		pn_flow_close(G.f, PN_FLOW_OK);
	G.f = NULL;
	if (G.t)
		pn_tunnel_close(G.t, PN_FLOW_OK);
	G.t = NULL;
	uv_close((uv_handle_t *)&G.timer, NULL);
	pn_tep_close(G.ep, NULL, NULL);
	if (G.rc)
		pn_rclient_close(G.rc, NULL, NULL);
	G.rc = NULL;
}

static void hex32(const uint8_t *d, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void pump(struct pn_flow *f)
{
	while (G.sent < G.to_send) {
		size_t pos = (size_t)(G.sent % PATTERN), n = PATTERN - pos;
		ssize_t w;
		if (n > G.to_send - G.sent)
			n = (size_t)(G.to_send - G.sent);
		w = pn_flow_write(f, G.pattern + pos, n);
		if (w <= 0)
			return;
		if (G.echo) /* hash: both directions checked; sink: no hashing cost */
			gnutls_hash(G.hs, G.pattern + pos, (size_t)w);
		G.sent += (uint64_t)w;
	}
	if (strcmp(G.cmd, "hold"))
		pn_flow_shutdown(f);
}

static void on_migrate(uv_timer_t *h);

static void on_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)u;
	printf("status=%s flow=%016" PRIx64 " text=\"%s\"", pn_flow_code_name(st->code),
	       pn_flow_id(f), st->text);
	for (unsigned i = 0; i < st->naddr; i++) {
		char a[64];
		uv_inet_ntop(st->addr[i].family == 4 ? AF_INET : AF_INET6, st->addr[i].a, a,
			     sizeof(a));
		printf(" addr=%s", a);
	}
	printf("\n");
	fflush(stdout);
	if (st->code != PN_FLOW_OK) {
		G.f = NULL; /* closed follows */
		return;
	}
	G.t0 = uv_hrtime();
	/* --migrate-after counts from the flow's start (the tunnel is up) */
	if (G.migrate)
		uv_timer_start(&G.mtimer, on_migrate, G.migrate_after_ms, 0);
	if (!strcmp(G.cmd, "http")) {
		char rq[512];
		int n = snprintf(rq, sizeof(rq), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", G.args[3],
				 G.args[1]);
		if (n > 0 && (size_t)n < sizeof(rq) && pn_flow_write(f, rq, (size_t)n) == n)
			pn_flow_shutdown(f);
		return;
	}
	if (!strcmp(G.cmd, "open")) {
		finish(0);
		return;
	}
	if (!strcmp(G.cmd, "udp")) {
		for (unsigned i = 0; i < (unsigned)atoi(G.args[3]); i++)
			if (pn_flow_send_datagram(f, "ping-postern", 12) == 0)
				G.dgrams_sent++;
	}
}

static void on_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)u;
	if (G.echo)
		gnutls_hash(G.hr, p, n);
	for (size_t i = 0; !strcmp(G.cmd, "http") && i < n && G.http_len < sizeof(G.http_line) - 1;
	     i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			G.http_len = sizeof(G.http_line) - 1; /* first line complete */
			break;
		}
		G.http_line[G.http_len++] = (char)p[i];
	}
	G.rcvd += n;
	pn_flow_consumed(f, n);
}

static void on_eof(struct pn_flow *f, void *u)
{
	(void)f, (void)u;
	G.t_end = uv_hrtime();
}

static void on_writable(struct pn_flow *f, void *u)
{
	(void)u;
	if (!strcmp(G.cmd, "http"))
		return; /* the request goes out with the status */
	pump(f);
}

static void on_dgram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)f, (void)u, (void)p, (void)n;
	G.dgrams_rcvd++;
	if (G.dgrams_rcvd == G.dgrams_sent) {
		printf("udp sent=%u received=%u\n", G.dgrams_sent, G.dgrams_rcvd);
		finish(0);
	}
}

static void on_closed(struct pn_flow *f, int code, void *u)
{
	uint8_t ds[32], dr[32];
	char hs[65], hr[65];
	double secs;

	(void)u;
	G.f = NULL;
	if (!strcmp(G.cmd, "hold")) {
		printf("closed code=%s t=%.3f sent=%" PRIu64 "\n", pn_flow_code_name(code),
		       unix_time(), G.sent);
		finish(code == PN_FLOW_OK ? 0 : 3);
		return;
	}
	if (code != PN_FLOW_OK) {
		printf("closed code=%s flow=%016" PRIx64 "\n", pn_flow_code_name(code), pn_flow_id(f));
		/* a tunnel failure is reported (exit 4) by on_tunnel */
		if (!pn_tunnel_is_dead(pn_flow_tunnel(f)))
			finish(3);
		return;
	}
	if (!strcmp(G.cmd, "http")) {
		printf("http_status=\"%s\" bytes=%" PRIu64 "\n", G.http_line, G.rcvd);
		finish(!strncmp(G.http_line, "HTTP/1.", 7) ? 0 : 5);
		return;
	}
	if (!strcmp(G.cmd, "hash") || !strcmp(G.cmd, "sink")) {
		gnutls_hash_deinit(G.hs, ds);
		gnutls_hash_deinit(G.hr, dr);
		hex32(ds, hs);
		hex32(dr, hr);
		if (!G.t_end)
			G.t_end = uv_hrtime();
		secs = (G.t_end - G.t0) / 1e9;
		printf("flow=%016" PRIx64 " sent=%" PRIu64 " received=%" PRIu64
		       " sent_sha256=%s received_sha256=%s secs=%.3f gbps=%.3f\n",
		       pn_flow_id(f), G.sent, G.rcvd, hs, hr, secs,
		       secs > 0 ? (double)(G.sent + G.rcvd) * 8 / secs / 1e9 : 0.0);
		G.hs = G.hr = NULL;
		if (!strcmp(G.cmd, "sink"))
			finish(G.sent == G.to_send ? 0 : 5);
		else
			finish(G.sent == G.to_send && G.rcvd == G.sent && !strcmp(hs, hr) ? 0 : 5);
		return;
	}
	finish(0);
}

static const struct pn_flow_ops fops = {
	.status = on_status, .data = on_data, .eof = on_eof, .writable = on_writable,
	.datagram = on_dgram, .closed = on_closed,
};

static void on_tunnel(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	(void)u;
	if (st == PN_TUNNEL_UP) {
		printf("tunnel=up\n");
		fflush(stdout);
		return;
	}
	if (st == PN_TUNNEL_CLOSED) {
		int code;
		const char *text;
		pn_tunnel_end_reason(t, &code, &text);
		printf("tunnel=closed err=%s peer_code=%s text=\"%s\"\n", pn_errname(err),
		       code >= 0 ? pn_flow_code_name(code) : "-", text);
		G.t = NULL;
		G.f = NULL;
		finish(4);
	}
}

static const struct pn_tunnel_ops tops = {.state = on_tunnel};

/* ---------------------------------------------------------- storm -- */

static struct {
	unsigned total, par, started, ended, up, failed;
	struct {
		char key[160];
		unsigned n;
	} why[16];
	unsigned nwhy;
} S;

static void storm_next(void);

static void storm_count(const char *key)
{
	unsigned i;

	for (i = 0; i < S.nwhy && strcmp(S.why[i].key, key); i++)
		;
	if (i == S.nwhy && S.nwhy < 16)
		snprintf(S.why[S.nwhy++].key, sizeof(S.why[0].key), "%s", key);
	if (i < S.nwhy)
		S.why[i].n++;
}

static void storm_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	(void)u;
	if (st == PN_TUNNEL_UP) {
		S.up++; /* a refused client got a tunnel: the test fails */
		storm_count("up");
		S.ended++;
		pn_tunnel_close(t, PN_FLOW_OK); /* (no CLOSED callback after this) */
		storm_next();
		return;
	}
	if (st == PN_TUNNEL_CLOSED) {
		int code;
		const char *text;
		char key[160], word[64];
		size_t n;
		pn_tunnel_end_reason(t, &code, &text);
		n = strcspn(text, " ");
		snprintf(word, sizeof(word), "%.*s", (int)(n < sizeof(word) ? n : sizeof(word) - 1),
			 text);
		snprintf(key, sizeof(key), "err=%s peer_code=%s text=\"%s\"", pn_errname(err),
			 code >= 0 ? pn_flow_code_name(code) : "-", word);
		storm_count(key);
		S.ended++;
		storm_next();
	}
}

static const struct pn_tunnel_ops storm_ops = {.state = storm_state};

static void storm_next(void)
{
	while (!G.done && S.started < S.total && S.started - S.ended < S.par) {
		struct pn_tunnel *t;
		S.started++;
		G.tc.ops = &storm_ops;
		if (pn_tunnel_open(G.ep, &G.tc, &t) != 0) {
			S.failed++;
			S.ended++;
			storm_count("open_failed");
		}
	}
	if (!G.done && S.ended == S.total) {
		printf("storm total=%u refused=%u up=%u failed=%u\n", S.total,
		       S.total - S.up - S.failed, S.up, S.failed);
		for (unsigned i = 0; i < S.nwhy; i++)
			printf("storm_reason count=%u %s\n", S.why[i].n, S.why[i].key);
		fflush(stdout);
		finish(S.up || S.failed ? 7 : 0);
	}
}

static void on_migrate(uv_timer_t *h)
{
	struct pn_tunnel_info ti;
	int r;

	(void)h;
	if (!G.t)
		return;
	r = pn_tunnel_migrate_udp(G.t, (struct sockaddr *)&G.migrate_to);
	pn_tunnel_info(G.t, &ti);
	printf("migrate=%s from=%s\n", r ? pn_errname(r) : "started", pn_path_kind_name(ti.path));
	fflush(stdout);
}

static int start_cmd(void);

static void r_ready(struct pn_rsession *s, int status, void *user)
{
	int r;

	(void)user;
	if (status != 0) {
		printf("relay=failed err=%s\n", pn_errname(status));
		G.rs = NULL;
		finish(4);
		return;
	}
	printf("relay=ready transport=%u\n", pn_rsession_transport(s));
	G.tc.udp_peer = NULL;
	if ((r = pn_rsession_path(s, &G.tc.path)) != 0 ||
	    (r = pn_tunnel_open(G.ep, &G.tc, &G.t)) != 0) {
		printf("tunnel=failed err=%s\n", pn_errname(r));
		finish(4);
		return;
	}
	if (start_cmd() != 0)
		finish(2);
}

static void r_closed(struct pn_rsession *s, int reason, void *user)
{
	(void)user, (void)reason;
	if (s == G.rs)
		G.rs = NULL;
}

static const struct pn_rclient_ops rops = {
	.session_ready = r_ready, .session_closed = r_closed,
};

static void on_timer(uv_timer_t *h)
{
	(void)h;
	if (!strcmp(G.cmd, "udp")) {
		printf("udp sent=%u received=%u\n", G.dgrams_sent, G.dgrams_rcvd);
		finish(G.dgrams_rcvd > 0 ? 0 : 5);
		return;
	}
	if (!strcmp(G.cmd, "hold")) {
		printf("closed code=none t=%.3f sent=%" PRIu64 "\n", unix_time(), G.sent);
		finish(0);
		return;
	}
	if (!strcmp(G.cmd, "storm"))
		printf("storm timeout started=%u ended=%u\n", S.started, S.ended);
	printf("timeout\n");
	finish(6);
}

/* hold: keep a trickle of data going so a revocation is seen mid-transfer */
static void hold_tick(uv_timer_t *h)
{
	(void)h;
	if (G.f && uv_hrtime() < G.hold_until) {
		G.to_send += 4096;
		pump(G.f);
		uv_timer_start(&G.timer, hold_tick, 10, 0);
	} else if (G.f) {
		on_timer(h);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	if (len)
		*len = (size_t)n;
	fclose(f);
	return b;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	size_t hl;

	if (!colon || (hl = (size_t)(colon - s)) >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, hl);
		host[strlen(host) - 1] = '\0';
	}
	if (uv_ip4_addr(host, atoi(colon + 1), (struct sockaddr_in *)ss) == 0 ||
	    uv_ip6_addr(host, atoi(colon + 1), (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ca", required_argument, 0, 'C'}, {"cert", required_argument, 0, 'c'},
		{"key", required_argument, 0, 'k'}, {"acl", required_argument, 0, 'a'},
		{"connector", required_argument, 0, 'n'}, {"udp", required_argument, 0, 'u'},
		{"timeout", required_argument, 0, 't'}, {"relay", required_argument, 0, 'r'},
		{"migrate-udp", required_argument, 0, 'm'},
		{"migrate-after", required_argument, 0, 'M'}, {"pmtu-max", required_argument, 0, 'P'},
		{0, 0, 0, 0},
	};
	const char *ca = NULL, *cert = NULL, *key = NULL, *acl = NULL, *conn = NULL, *udp = NULL;
	char *relay = NULL;
	struct pn_anchor *anchor;
	struct pn_key *k;
	struct pn_tep_config cfg;
	struct sockaddr_storage peer;
	char *cert_pem, *acl_bytes;
	size_t acl_len;
	unsigned timeout_s = 60;
	size_t pmtu_max = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'C': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'a': acl = optarg; break;
		case 'n': conn = optarg; break;
		case 'u': udp = optarg; break;
		case 't': timeout_s = (unsigned)atoi(optarg); break;
		case 'r': relay = optarg; break;
		case 'm':
			if (parse_addr(optarg, &G.migrate_to) != 0)
				return 2;
			G.migrate = 1;
			break;
		case 'M': G.migrate_after_ms = (unsigned)atoi(optarg); break;
		case 'P': pmtu_max = strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (!ca || !cert || !key || !acl || !conn || (!udp && !relay) || optind >= argc) {
		fprintf(stderr, "usage: see the top of tests/tunnel/tclient.c\n");
		return 2;
	}
	G.cmd = argv[optind];
	G.echo = !strcmp(G.cmd, "hash");
	G.args = argv + optind;
	G.nargs = argc - optind;
	if ((r = pn_anchor_load_file(ca, &anchor)) || (r = pn_key_load_pem_file(key, &k))) {
		fprintf(stderr, "pn-tclient: %s\n", pn_strerror(r));
		return 2;
	}
	cert_pem = slurp(cert, NULL);
	acl_bytes = slurp(acl, &acl_len);
	if (!cert_pem || !acl_bytes || (udp && parse_addr(udp, &peer) != 0)) {
		fprintf(stderr, "pn-tclient: bad --cert/--acl/--udp\n");
		return 2;
	}
	G.pattern = malloc(PATTERN);
	gnutls_rnd(GNUTLS_RND_NONCE, G.pattern, PATTERN);
	gnutls_hash_init(&G.hs, GNUTLS_DIG_SHA256);
	gnutls_hash_init(&G.hr, GNUTLS_DIG_SHA256);

	G.loop = uv_default_loop();
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = G.loop;
	cfg.role = PN_TEP_CLIENT;
	cfg.pmtu_max = pmtu_max;
	cfg.anchor = anchor;
	cfg.key = k;
	cfg.cert_pem = cert_pem;
	if ((r = pn_tep_new(&cfg, &G.ep))) {
		fprintf(stderr, "pn-tclient: endpoint: %s\n", pn_strerror(r));
		return 2;
	}
	memset(&G.tc, 0, sizeof(G.tc));
	if (pn_id_parse(conn, G.tc.connector_id) != 0) {
		fprintf(stderr, "pn-tclient: bad --connector id\n");
		return 2;
	}
	G.tc.acl = (uint8_t *)acl_bytes;
	G.tc.acl_len = acl_len;
	G.tc.ops = &tops;
	uv_timer_init(G.loop, &G.timer);
	uv_timer_start(&G.timer, on_timer, (uint64_t)timeout_s * 1000, 0);
	if (G.migrate)
		uv_timer_init(G.loop, &G.mtimer); /* started with the flow (on_status) */
	if (relay) {
		struct pn_rclient_config rcfg = {0};
		struct pn_rrelay_config rr = {0};
		struct pn_rrelay *rrelay;
		char *save = NULL, *tok;
		G.ca_pem = slurp(ca, NULL);
		G.key_pem = slurp(key, NULL);
		rcfg.mode = PN_RCLIENT_CLIENT;
		rcfg.ca_pem = G.ca_pem;
		rcfg.cert_pem = cert_pem;
		rcfg.key_pem = G.key_pem;
		rcfg.ops = &rops;
		for (tok = strtok_r(relay, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!strncmp(tok, "tls=", 4))
				rr.tls_addr = tok + 4;
			else if (!strncmp(tok, "udp=", 4))
				rr.udp_addr = tok + 4;
			else if (!strncmp(tok, "ws=", 3))
				rr.ws_url = tok + 3;
		}
		rr.name = "test-relay";
		if ((r = pn_rclient_new(G.loop, &rcfg, &G.rc)) ||
		    (r = pn_rclient_add_relay(G.rc, &rr, &rrelay)) ||
		    (r = pn_rclient_open(G.rc, rrelay, G.tc.connector_id, G.tc.acl, G.tc.acl_len, NULL,
					 &G.rs))) {
			fprintf(stderr, "pn-tclient: relay: %s\n", pn_strerror(r));
			return 4;
		}
	} else if (!strcmp(G.cmd, "storm")) {
		if (G.nargs != 3 || atoi(G.args[1]) <= 0 || atoi(G.args[2]) <= 0) {
			fprintf(stderr, "pn-tclient: storm N PAR\n");
			return 2;
		}
		S.total = (unsigned)atoi(G.args[1]);
		S.par = (unsigned)atoi(G.args[2]);
		G.tc.udp_peer = (struct sockaddr *)&peer;
		storm_next();
	} else {
		G.tc.udp_peer = (struct sockaddr *)&peer;
		if ((r = pn_tunnel_open(G.ep, &G.tc, &G.t))) {
			fprintf(stderr, "pn-tclient: tunnel: %s\n", pn_strerror(r));
			return 4;
		}
		if (start_cmd() != 0)
			return 2;
	}
	uv_run(G.loop, UV_RUN_DEFAULT);
	fflush(stdout);
	pn_anchor_free(anchor);
	pn_key_free(k);
	free(cert_pem);
	free(acl_bytes);
	free(G.pattern);
	free((void *)G.ca_pem);
	free((void *)G.key_pem);
	if (G.hs)
		gnutls_hash_deinit(G.hs, NULL);
	if (G.hr)
		gnutls_hash_deinit(G.hr, NULL);
	uv_loop_close(G.loop);
	return G.exit_code;
}

/* Open the flow the command asks for on G.t. */
static int start_cmd(void)
{
	struct pn_flow_req req;
	int r;

	memset(&req, 0, sizeof(req));
	if (!strcmp(G.cmd, "raw") && G.nargs == 2) {
		size_t n = strlen(G.args[1]) / 2;
		uint8_t *b = malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			sscanf(G.args[1] + 2 * i, "%2hhx", &b[i]);
		r = pn_flow_open_raw(G.t, b, n, 0x5eed, &fops, NULL, &G.f);
		free(b);
	} else if (!strcmp(G.cmd, "dns") && G.nargs == 2) {
		req.hdr.kind = PN_FLOW_DNS;
		req.hdr.qtype = PN_FLOW_QTYPE_ANY;
		r = pn_flow_dest_parse(&req.hdr.dest, G.args[1]);
		if (!r)
			r = pn_flow_open(G.t, &req, &fops, NULL, &G.f);
	} else if (G.nargs >= 3) {
		req.hdr.kind = !strcmp(G.cmd, "udp") ? PN_FLOW_UDP : PN_FLOW_TCP;
		if (!strcmp(G.cmd, "udp") && G.nargs != 4) {
			fprintf(stderr, "pn-tclient: udp DEST PORT N\n");
			return 2;
		}
		req.hdr.port = (uint16_t)atoi(G.args[2]);
		r = pn_flow_dest_parse(&req.hdr.dest, G.args[1]);
		if (!r)
			r = pn_flow_open(G.t, &req, &fops, NULL, &G.f);
		if (!r && (!strcmp(G.cmd, "hash") || !strcmp(G.cmd, "sink")) && G.nargs == 4) {
			G.to_send = strtoull(G.args[3], NULL, 0);
			pump(G.f);
		}
		if (!r && !strcmp(G.cmd, "hold") && G.nargs == 4) {
			G.hold_until = uv_hrtime() + strtoull(G.args[3], NULL, 0) * 1000000000ull;
			uv_timer_start(&G.timer, hold_tick, 10, 0);
		}
		if (!r && !strcmp(G.cmd, "udp"))
			uv_timer_start(&G.timer, on_timer, 3000, 0);
		if (!r && !strcmp(G.cmd, "http") && G.nargs != 4) {
			fprintf(stderr, "pn-tclient: http DEST PORT PATH\n");
			return 2;
		}
	} else {
		fprintf(stderr, "pn-tclient: bad command\n");
		return 2;
	}
	if (r) {
		fprintf(stderr, "pn-tclient: flow: %s\n", pn_strerror(r));
		return r;
	}
	if (G.f)
		printf("flow_open flow=%016" PRIx64 "\n", pn_flow_id(G.f));
	fflush(stdout);
	return 0;
}
