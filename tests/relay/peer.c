/*
 * pn-relay-peer: a test peer on the relay client library (relay/rclient.h).
 *
 *   pn-relay-peer connector --pki DIR --cred conn --relay SPEC [--relay SPEC...]
 *       registers with every relay, echoes every datagram back on its session.
 *   pn-relay-peer client --pki DIR --cred client --acl FILE --to conn|HEX --relay SPEC
 *       [--count N] [--size S] [--expect ok|ERRNAME] [--expect-transport udp|tls|ws]
 *       [--timeout S] [--sessions K] [--vary] [--window W]
 *       opens K sessions to the connector and checks N echoed datagrams per session.
 *       --vary: datagram sizes vary (runs of equal sizes, shorter and longer
 *       ones between) from 8 to S bytes: every boundary must survive batching.
 *       --window W: datagrams in flight per session (default 32; nothing is
 *       resent, so a lost one stalls its session).
 *   pn-relay-peer stun --udp ADDR [--send short]
 *       prints the server-reflexive address (a 20-byte unpadded request must get no answer).
 *   pn-relay-peer raw --pki DIR --cred client --tls ADDR --send garbage|oversize|truncated|badopen
 *       sends a malformed frame after TLS and expects the relay to close the stream.
 *   pn-relay-peer raw ... --send open --acl FILE --to conn --expect ERRNAME
 *       sends OPEN without the client library's own checks; the relay must refuse it.
 *   pn-relay-peer raw ... --send renew --renew-cred NAME [--expect ok|ERRNAME]
 *       re-presents NAME.crt (RENEW) on the connection: ok = RENEWED; a refusal
 *       must come as ERROR and the relay must then close the connection.
 *   --wss-ca FILE: trust anchors for wss:// relay URLs (default: system store).
 *   --from-prepare MS: client: one datagram at a time, each sent from a libuv
 *       prepare callback (as the tunnel endpoint's flush sends), with no other
 *       timer of its own running; fails when the median round trip exceeds
 *       MS (--count at most 256 in this mode).  A send
 *       the library defers to "later in this loop iteration" must not wait
 *       for the next poll to time out.
 *
 * SPEC: comma-separated tls=IP:PORT, udp=IP:PORT, ws=ws://IP:PORT/path, only=udp|tls|ws
 * (repeatable) Prints one result line; exit 0 when the expectation holds.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "relay/frame.h"
#include "relay/rclient.h"
#include "relay/stream.h"
#include "core/stun.h"
#include "relay/server.h"
#include "trust/cred.h"
#include "trust/key.h"

#define MAX_RELAYS 4
#define MAX_SESS   4096

static uv_loop_t *loop;
static struct pn_rclient *rc;
static const char *pki = ".";
static int exit_code = 1;
static uint64_t count = 100, size = 1000, timeout_s = 15, window = 32;
static int vary;
static const char *expect = "ok", *expect_transport;
static unsigned nsessions = 1;
static void *acl_keep, *hex_keep;
static uint64_t prep_max_ms; /* --from-prepare */
static uint64_t prep_t0, prep_worst, prep_rtt[256];
static unsigned prep_n;
static uv_prepare_t pprep;

static char *slurp(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", pki, name);
	if (!(f = fopen(path, "rb")))
		f = fopen(name, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

struct relay_spec {
	char tls[64], udp[64], ws[160];
	unsigned only;
};

static void parse_spec(const char *s, struct relay_spec *r)
{
	char tmp[512], *save, *tok;

	memset(r, 0, sizeof(*r));
	snprintf(tmp, sizeof(tmp), "%s", s);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tls=", 4))
			snprintf(r->tls, sizeof(r->tls), "%s", tok + 4);
		else if (!strncmp(tok, "udp=", 4))
			snprintf(r->udp, sizeof(r->udp), "%s", tok + 4);
		else if (!strncmp(tok, "ws=", 3))
			snprintf(r->ws, sizeof(r->ws), "%s", tok + 3);
		else if (!strcmp(tok, "only=udp"))
			r->only |= PN_RT_UDP;
		else if (!strcmp(tok, "only=tls"))
			r->only |= PN_RT_TLS;
		else if (!strcmp(tok, "only=ws"))
			r->only |= PN_RT_WS;
	}
}

static const char *tname(unsigned t)
{
	return t == PN_RT_UDP ? "udp" : t == PN_RT_TLS ? "tls" : t == PN_RT_WS ? "ws" : "none";
}

/* ---- connector: echo ---- */

static void c_new(struct pn_rsession *s, const uint8_t cid[PN_RELAY_ID_LEN], void *user)
{
	char hex[PN_ID_HEX_LEN + 1];
	pn_id_hex(cid, hex);
	printf("session client=%s\n", hex);
	fflush(stdout);
}

static void c_closed(struct pn_rsession *s, int reason, void *user)
{
}

static void c_dgram(struct pn_rsession *s, const uint8_t *p, size_t n, void *user)
{
	pn_rsession_send(s, p, n);
}

static void relay_state(struct pn_rrelay *r, enum pn_rrelay_state st, int err, void *user)
{
	printf("relay %s state=%d err=%s\n", pn_rrelay_name(r), st, err ? pn_errname(err) : "0");
	fflush(stdout);
}

/* ---- client ---- */

struct csess {
	struct pn_rsession *s;
	uint64_t sent, got, bad;
	int ready;
};
static struct csess sess[MAX_SESS];
static unsigned nready, nfailed;
static uv_timer_t tick, deadline;
static int sending;

static void finish(int code)
{
	exit_code = code;
	uv_stop(loop);
}

static void report(void)
{
	uint64_t sent = 0, got = 0, bad = 0;
	unsigned tr = nready ? pn_rsession_transport(sess[0].s) : 0;

	for (unsigned i = 0; i < nsessions; i++) {
		sent += sess[i].sent;
		got += sess[i].got;
		bad += sess[i].bad;
	}
	printf("result sessions=%u ready=%u sent=%llu got=%llu bad=%llu transport=%s\n", nsessions,
	       nready, (unsigned long long)sent, (unsigned long long)got, (unsigned long long)bad,
	       tname(tr));
	fflush(stdout);
	if (bad || got < sent * 95 / 100 || got == 0)
		finish(1);
	else if (expect_transport && strcmp(expect_transport, tname(tr)))
		finish(1);
	else
		finish(0);
}

static void on_pprep(uv_prepare_t *h);

/* The size of datagram `seq`: S, or with --vary runs of 5 equal sizes
 * with a short and a long one between (GSO batches end on a short one). */
static size_t size_of(uint64_t seq)
{
	static const unsigned pct[] = {100, 100, 100, 100, 100, 3, 100, 60, 60, 60, 100, 1};
	size_t n;

	if (!vary)
		return size;
	n = size * pct[(seq + seq / 97) % 12] / 100;
	return n < 8 ? 8 : n;
}

static void fill(uint8_t *p, size_t n, uint64_t seq)
{
	memcpy(p, &seq, 8);
	for (size_t i = 8; i < n; i++)
		p[i] = (uint8_t)(seq + i);
}

static void k_dgram(struct pn_rsession *s, const uint8_t *p, size_t n, void *user)
{
	struct csess *cs = pn_rsession_user(s);
	uint8_t tmp[PN_RELAY_MAX_PAYLOAD];
	uint64_t seq;

	if (n < 8) {
		cs->bad++;
		return;
	}
	memcpy(&seq, p, 8);
	if (n != size_of(seq)) {
		cs->bad++;
		return;
	}
	fill(tmp, n, seq);
	if (memcmp(tmp, p, n)) {
		cs->bad++;
	} else {
		cs->got++;
		if (prep_max_ms) {
			uint64_t d = uv_hrtime() - prep_t0;
			if (d > prep_worst)
				prep_worst = d;
			if (prep_n < 256)
				prep_rtt[prep_n++] = d;
			uv_prepare_start(&pprep, on_pprep);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void on_pprep(uv_prepare_t *h)
{
	struct csess *cs = &sess[0];
	uint8_t buf[PN_RELAY_MAX_PAYLOAD];

	uv_prepare_stop(h);
	if (cs->sent >= count) {
		uint64_t p50;
		qsort(prep_rtt, prep_n, sizeof(prep_rtt[0]), cmp_u64);
		p50 = prep_n ? prep_rtt[prep_n / 2] : UINT64_MAX;
		printf("prepare_rtt_p50_ms=%.1f max_ms=%.1f\n", (double)p50 / 1e6,
		       (double)prep_worst / 1e6);
		if (p50 > prep_max_ms * 1000000u)
			cs->bad++;
		report();
		return;
	}
	fill(buf, size, cs->sent);
	prep_t0 = uv_hrtime();
	if (pn_rsession_send(cs->s, buf, size) == 0)
		cs->sent++;
}

static void on_tick(uv_timer_t *t)
{
	uint8_t buf[PN_RELAY_MAX_PAYLOAD];
	int all_done = 1, all_transport = 1;

	if (nready + nfailed < nsessions || nfailed)
		return; /* still opening, or finished with an error */
	if (!sending) {
		/* Wait for the expected transport (UDP binds take a round trip). */
		for (unsigned i = 0; i < nsessions; i++)
			if (expect_transport &&
			    strcmp(tname(pn_rsession_transport(sess[i].s)), expect_transport))
				all_transport = 0;
		if (!all_transport)
			return;
		sending = 1;
		if (prep_max_ms) {
			/* No other timer may wake the loop (the deadline aside). */
			uv_timer_stop(&tick);
			uv_prepare_start(&pprep, on_pprep);
			return;
		}
	}
	for (unsigned i = 0; i < nsessions; i++) {
		struct csess *cs = &sess[i];
		/* A window of datagrams in flight per session (--window, 32). */
		while (cs->sent < count && cs->sent - cs->got < window) {
			fill(buf, size_of(cs->sent), cs->sent);
			if (pn_rsession_send(cs->s, buf, size_of(cs->sent)))
				break;
			cs->sent++;
		}
		if (cs->got + cs->bad < cs->sent || cs->sent < count)
			all_done = 0;
	}
	if (all_done)
		report();
}

static void on_deadline(uv_timer_t *t)
{
	printf("timeout\n");
	report();
	if (exit_code == 0)
		exit_code = 0;
}

static void k_ready(struct pn_rsession *s, int status, void *user)
{
	struct csess *cs = pn_rsession_user(s);

	if (status) {
		printf("open_error %s\n", pn_errname(status));
		fflush(stdout);
		nfailed++;
		cs->s = NULL;
		if (strcmp(expect, "ok"))
			finish(strcmp(expect, pn_errname(status)) ? 1 : 0);
		else
			finish(1);
		return;
	}
	cs->ready = 1;
	nready++;
	if (strcmp(expect, "ok")) {
		printf("open_ok (expected %s)\n", expect);
		finish(1);
	}
}

static const struct pn_rclient_ops conn_ops = {
    .session_new = c_new,
    .session_closed = c_closed,
    .datagram = c_dgram,
    .relay_state = relay_state,
};
static const struct pn_rclient_ops client_ops = {
    .session_ready = k_ready,
    .session_closed = c_closed,
    .datagram = k_dgram,
    .relay_state = relay_state,
};

/* ---- raw: malformed frames ---- */

static const char *raw_kind, *renew_cred;
static int raw_result = -1;
static uint8_t *raw_acl, raw_to[PN_RELAY_ID_LEN];
static size_t raw_acl_len;
static uint8_t rx1[PN_RSTREAM_RXBUF], rx2[PN_RSTREAM_RXBUF];

static int raw_ready(struct pn_rstream *s, void *user)
{
	uint8_t b[4096];
	size_t n = 0;

	memset(b, 0x41, sizeof(b));
	if (!strcmp(raw_kind, "garbage")) {
		b[0] = 0xff; /* unknown frame type */
		b[1] = 0;
		b[2] = 4;
		n = 7;
	} else if (!strcmp(raw_kind, "oversize")) {
		b[0] = PN_RELAY_F_DATA; /* payload above PN_RELAY_MAX_PAYLOAD */
		b[1] = (uint8_t)(3000 >> 8);
		b[2] = (uint8_t)(3000 & 0xff);
		n = 3003;
	} else if (!strcmp(raw_kind, "truncated")) {
		b[0] = PN_RELAY_F_OPEN; /* OPEN whose body is shorter than its fields */
		b[1] = 0;
		b[2] = 6;
		n = 9;
	} else if (!strcmp(raw_kind, "open")) {
		/* A well-formed OPEN: the relay itself must refuse it (expect). */
		struct pn_relay_msg m = {
		    .type = PN_RELAY_F_OPEN, .tag = 1, .acl = raw_acl, .acl_len = raw_acl_len};
		struct pn_buf ob;
		static uint8_t big[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
		memcpy(m.id, raw_to, PN_RELAY_ID_LEN);
		pn_buf_init_wr(&ob, big, sizeof(big));
		if (pn_relay_msg_encode(&m, &ob))
			return PN_E_INVAL;
		printf("raw sent OPEN\n");
		fflush(stdout);
		return pn_rstream_send(s, big, pn_buf_len(&ob), 0);
	} else if (!strcmp(raw_kind, "renew")) {
		char cname[256];
		char *pem;
		gnutls_datum_t in, der;
		struct pn_relay_msg m = {.type = PN_RELAY_F_RENEW};
		struct pn_buf ob;
		static uint8_t big[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
		int r;

		snprintf(cname, sizeof(cname), "%s.crt", renew_cred);
		pem = slurp(cname, NULL);
		in.data = (unsigned char *)pem;
		in.size = (unsigned)strlen(pem);
		if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &der))
			return PN_E_INVAL;
		free(pem);
		m.cert = der.data;
		m.cert_len = der.size;
		pn_buf_init_wr(&ob, big, sizeof(big));
		r = pn_relay_msg_encode(&m, &ob);
		gnutls_free(der.data);
		if (r)
			return PN_E_INVAL;
		printf("raw sent RENEW %s\n", renew_cred);
		fflush(stdout);
		return pn_rstream_send(s, big, pn_buf_len(&ob), 0);
	} else if (!strcmp(raw_kind, "badopen")) {
		b[0] = PN_RELAY_F_SESSION; /* a relay->peer frame sent by a peer */
		b[1] = 0;
		b[2] = 60;
		n = 63;
	}
	printf("raw sent %s (%zu bytes)\n", raw_kind, n);
	fflush(stdout);
	return pn_rstream_send(s, b, n, 0);
}

static int raw_frame(struct pn_rstream *s, const struct pn_relay_frame *f, void *user)
{
	struct pn_relay_msg m;

	if (pn_relay_msg_decode(f, &m))
		return 0;
	if (m.type == PN_RELAY_F_RENEWED) {
		printf("relay renewed not_after=%llu\n", (unsigned long long)m.not_after);
		fflush(stdout);
		raw_result = strcmp(expect, "ok") ? 1 : 0;
		pn_rstream_close(s, PN_E_CLOSED, 0);
		return 0;
	}
	if (m.type != PN_RELAY_F_ERROR)
		return 0;
	printf("relay error %s\n", pn_errname(m.code));
	fflush(stdout);
	raw_result = strcmp(expect, pn_errname(m.code)) ? 1 : 0;
	/* A refused RENEW: the relay must close the connection itself. */
	if (strcmp(raw_kind, "renew"))
		pn_rstream_close(s, PN_E_CLOSED, 0);
	return 0;
}

static void raw_close(struct pn_rstream *s, int err, void *user)
{
	printf("raw closed: %s\n", pn_errname(err));
	fflush(stdout);
	if (raw_result >= 0)
		finish(raw_result);
	else if (!strcmp(raw_kind, "renew")) /* closed without an answer */
		finish(1);
	else if (strcmp(expect, "ok")) /* refused in the handshake (alert) */
		finish(strcmp(expect, pn_errname(err)) ? 1 : 0);
	else
		finish(err == PN_E_CLOSED ? 0 : 1);
}

static const struct pn_rstream_ops raw_ops = {raw_ready, raw_frame, raw_close, NULL};

static int run_raw(const char *cred, const char *tls, const char *aclf, const char *to)
{
	char kname[256], cname[256];
	char *key_pem, *cert_pem, *ca_pem = slurp("ca.crt", NULL);
	struct pn_anchor *a;
	struct pn_key *k;
	gnutls_certificate_credentials_t gc;
	struct pn_rstream_config cfg = {0};
	struct pn_rstream *s;
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	char host[64];
	int port;

	char *idhex = NULL;

	if (!strcmp(raw_kind, "open")) {
		char idname[256];
		if (!aclf)
			return 2;
		raw_acl = (uint8_t *)slurp(aclf, &raw_acl_len);
		snprintf(idname, sizeof(idname), "%s.id", to);
		idhex = slurp(idname, NULL);
		idhex[PN_ID_HEX_LEN] = 0;
		if (pn_id_parse(idhex, raw_to))
			return 2;
	}
	snprintf(kname, sizeof(kname), "%s.key", cred);
	snprintf(cname, sizeof(cname), "%s.crt", cred);
	key_pem = slurp(kname, NULL);
	cert_pem = slurp(cname, NULL);
	if (pn_anchor_new(ca_pem, strlen(ca_pem), &a) ||
	    pn_key_load_pem_mem(key_pem, strlen(key_pem), &k) ||
	    pn_cred_tls_credentials(k, cert_pem, a, &gc))
		return 2;
	if (sscanf(tls, "%63[^:]:%d", host, &port) != 2 || uv_ip4_addr(host, port, s4))
		return 2;
	cfg.cred = gc;
	cfg.rxbuf = rx1;
	cfg.plainbuf = rx2;
	if (pn_rstream_connect(loop, (struct sockaddr *)&ss, &cfg, &raw_ops, NULL, &s))
		return 2;
	uv_run(loop, UV_RUN_DEFAULT);
	uv_run(loop, UV_RUN_DEFAULT); /* let the stream's handles finish closing */
	uv_loop_close(loop);
	gnutls_certificate_free_credentials(gc);
	pn_key_free(k);
	pn_anchor_free(a);
	free(key_pem);
	free(cert_pem);
	free(ca_pem);
	free(raw_acl);
	free(idhex);
	return exit_code;
}

static int run_stun(const char *udp, int short_req)
{
	uint8_t req[PN_STUN_REQUEST_LEN], resp[600], txid[PN_STUN_TXID_LEN];
	struct sockaddr_storage ss, mapped;
	struct timeval tv = {1, 0};
	char ip[64];
	ssize_t n;
	int fd;

	if (pn_relay_parse_addr(udp, &ss))
		return 2;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sizeof(ss)))
		return 2;
	for (int i = 0; i < 3; i++) {
		gnutls_rnd(GNUTLS_RND_NONCE, txid, sizeof(txid));
		pn_stun_build_request(txid, req);
		if (short_req) { /* a bare 20-byte header: the answer would be larger */
			req[2] = 0;
			req[3] = 0;
		}
		send(fd, req, short_req ? PN_STUN_HDR : sizeof(req), 0);
		n = recv(fd, resp, sizeof(resp), 0);
		if (n <= 0)
			continue;
		if (n > (ssize_t)(short_req ? PN_STUN_HDR : sizeof(req))) {
			printf("stun amplification: %zd bytes answered\n", n);
			return 1;
		}
		if (pn_stun_parse_response(resp, (size_t)n, txid, &mapped))
			return 1;
		uv_ip_name((struct sockaddr *)&mapped, ip, sizeof(ip));
		printf("stun mapped %s:%d (%zd bytes)\n", ip,
		       ntohs(((struct sockaddr_in *)&mapped)->sin_port), n);
		return short_req ? 1 : 0;
	}
	printf("stun no answer\n");
	return short_req ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pki", required_argument, 0, 'p'},
	    {"cred", required_argument, 0, 'c'},
	    {"acl", required_argument, 0, 'a'},
	    {"to", required_argument, 0, 't'},
	    {"relay", required_argument, 0, 'r'},
	    {"count", required_argument, 0, 'n'},
	    {"size", required_argument, 0, 's'},
	    {"expect", required_argument, 0, 'e'},
	    {"expect-transport", required_argument, 0, 'x'},
	    {"timeout", required_argument, 0, 'T'},
	    {"sessions", required_argument, 0, 'k'},
	    {"tls", required_argument, 0, 'L'},
	    {"send", required_argument, 0, 'S'},
	    {"udp", required_argument, 0, 'U'},
	    {"renew-cred", required_argument, 0, 'N'},
	    {"wss-ca", required_argument, 0, 'W'},
	    {"from-prepare", required_argument, 0, 'P'},
	    {"vary", no_argument, 0, 'V'},
	    {"window", required_argument, 0, 'w'},
	    {0, 0, 0, 0},
	};
	struct relay_spec specs[MAX_RELAYS];
	struct pn_rrelay *relays[MAX_RELAYS];
	const char *mode, *cred = NULL, *aclf = NULL, *to = "conn", *tls = NULL;
	int nrelays = 0, c;
	struct pn_rclient_config cfg = {0};
	char kname[256], cname[256];
	uint8_t cid[PN_RELAY_ID_LEN];

	if (argc < 2)
		return 2;
	mode = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pki = optarg; break;
		case 'c': cred = optarg; break;
		case 'a': aclf = optarg; break;
		case 't': to = optarg; break;
		case 'r':
			if (nrelays < MAX_RELAYS)
				parse_spec(optarg, &specs[nrelays++]);
			break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 's': size = strtoull(optarg, NULL, 10); break;
		case 'V': vary = 1; break;
		case 'e': expect = optarg; break;
		case 'x': expect_transport = optarg; break;
		case 'T': timeout_s = strtoull(optarg, NULL, 10); break;
		case 'w': window = strtoull(optarg, NULL, 10) ? strtoull(optarg, NULL, 10) : 1; break;
		case 'k': nsessions = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'L': tls = optarg; break;
		case 'S': raw_kind = optarg; break;
		case 'U': tls = optarg; break;
		case 'N': renew_cred = optarg; break;
		case 'W': cfg.wss_ca_file = optarg; break;
		case 'P': prep_max_ms = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!strcmp(mode, "stun"))
		return tls ? run_stun(tls, raw_kind && !strcmp(raw_kind, "short")) : 2;
	if (size < 8 || size > PN_RELAY_MAX_PAYLOAD || !cred || nsessions < 1 ||
	    nsessions > MAX_SESS)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	pn_log_set_spec(getenv("PN_LOG") ? getenv("PN_LOG") : "warn");
	loop = uv_default_loop();
	if (!strcmp(mode, "raw")) {
		if (!tls || !raw_kind || (!strcmp(raw_kind, "renew") && !renew_cred))
			return 2;
		return run_raw(cred, tls, aclf, to);
	}
	snprintf(kname, sizeof(kname), "%s.key", cred);
	snprintf(cname, sizeof(cname), "%s.crt", cred);
	cfg.ca_pem = slurp("ca.crt", NULL);
	cfg.cert_pem = slurp(cname, NULL);
	cfg.key_pem = slurp(kname, NULL);
	cfg.mode = !strcmp(mode, "connector") ? PN_RCLIENT_CONNECTOR : PN_RCLIENT_CLIENT;
	cfg.ops = cfg.mode == PN_RCLIENT_CONNECTOR ? &conn_ops : &client_ops;
	if ((c = pn_rclient_new(loop, &cfg, &rc))) {
		/* The library refuses a bad own credential up front. */
		printf("local_error %s\n", pn_errname(c));
		free((void *)cfg.ca_pem);
		free((void *)cfg.cert_pem);
		free((void *)cfg.key_pem);
		return strcmp(expect, pn_errname(c)) ? 2 : 0;
	}
	for (int i = 0; i < nrelays; i++) {
		struct pn_rrelay_config rcfg = {
		    .name = specs[i].tls[0] ? specs[i].tls : specs[i].ws,
		    .tls_addr = specs[i].tls[0] ? specs[i].tls : NULL,
		    .udp_addr = specs[i].udp[0] ? specs[i].udp : NULL,
		    .ws_url = specs[i].ws[0] ? specs[i].ws : NULL,
		    .transports = specs[i].only,
		};
		if ((c = pn_rclient_add_relay(rc, &rcfg, &relays[i]))) {
			fprintf(stderr, "add_relay: %s\n", pn_strerror(c));
			return 2;
		}
	}
	if (cfg.mode == PN_RCLIENT_CONNECTOR) {
		uv_run(loop, UV_RUN_DEFAULT);
		return 0;
	}
	/* client */
	{
		char idname[256], *hex = NULL;
		size_t acl_len;
		uint8_t *acl;

		if (!aclf || !nrelays)
			return 2;
		if (strlen(to) == PN_ID_HEX_LEN && pn_id_parse(to, cid) == 0) {
		} else {
			snprintf(idname, sizeof(idname), "%s.id", to);
			hex = slurp(idname, NULL);
			hex[PN_ID_HEX_LEN] = 0;
			if (pn_id_parse(hex, cid))
				return 2;
		}
		acl = (uint8_t *)slurp(aclf, &acl_len);
		acl_keep = acl;
		hex_keep = hex;
		for (unsigned i = 0; i < nsessions; i++)
			if (pn_rclient_open(rc, relays[0], cid, acl, acl_len, &sess[i], &sess[i].s))
				return 2;
	}
	uv_timer_init(loop, &tick);
	uv_timer_init(loop, &deadline);
	uv_prepare_init(loop, &pprep);
	uv_timer_start(&tick, on_tick, 5, 5);
	uv_timer_start(&deadline, on_deadline, timeout_s * 1000, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	/* Tear everything down so LSan checks the library's close path too. */
	for (unsigned i = 0; i < nsessions; i++)
		if (sess[i].s && sess[i].ready)
			pn_rsession_close(sess[i].s);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_close((uv_handle_t *)&pprep, NULL);
	uv_close((uv_handle_t *)&deadline, NULL);
	pn_rclient_close(rc, NULL, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	free((void *)cfg.ca_pem);
	free((void *)cfg.cert_pem);
	free((void *)cfg.key_pem);
	free(acl_keep);
	free(hex_keep);
	return exit_code;
}
