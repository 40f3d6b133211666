/*
 * tsink: the receiving end of the tunnel's memory-to-memory benchmark.
 * A connector-role endpoint (tunnel/endpoint.h, real QUIC + mTLS + access
 * list check) whose flows discard what they receive and finish when the
 * client finishes.  The sender is tests/tunnel/pn-tclient `sink`.
 *
 *   tsink --ca F --cert F --key F --listen IP:PORT [--window BYTES] [--pmtu-max BYTES]
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "core/err.h"
#include "trust/acl.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "tunnel/endpoint.h"

static struct pn_anchor *anchor;
static uint64_t total;

static void s_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	(void)p, (void)u;
	total += n;
	pn_flow_consumed(f, n);
}

static void s_eof(struct pn_flow *f, void *u)
{
	(void)u;
	pn_flow_shutdown(f);
}

static void s_closed(struct pn_flow *f, int code, void *u)
{
	uint64_t tx, rx;

	(void)u;
	pn_flow_bytes(f, &tx, &rx);
	printf("flow=%016" PRIx64 " received=%" PRIu64 " code=%s\n", pn_flow_id(f), rx,
	       pn_flow_code_name(code));
	fflush(stdout);
}

static const struct pn_flow_ops sops = {.data = s_data, .eof = s_eof, .closed = s_closed};

static int s_acl(struct pn_tunnel *t, const uint8_t *acl, size_t len, char *why, size_t whysz,
		 void *u)
{
	struct pn_acl a;
	int r;

	(void)u;
	pn_acl_init(&a, PN_ACL_CLIENT);
	r = pn_acl_verify(anchor, acl, len, (uint64_t)time(NULL), &a);
	if (r == 0)
		r = pn_acl_check_holder(&a, pn_tunnel_peer(t));
	pn_acl_fini(&a);
	if (r) {
		snprintf(why, whysz, "%s", pn_strerror(r));
		return PN_FLOW_BAD_ACL;
	}
	return PN_FLOW_OK;
}

static void s_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h,
		      void *u)
{
	struct pn_flow_status st;

	(void)t, (void)h, (void)u;
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	pn_flow_respond(f, &st, &sops, NULL);
}

static const struct pn_tep_server_ops server_ops = {.acl = s_acl, .flow_request = s_request};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if ((b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) == (size_t)n)
		b[n] = '\0';
	fclose(f);
	return b;
}

static void on_term(uv_signal_t *h, int sig)
{
	(void)sig;
	uv_stop(h->loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ca", required_argument, 0, 'C'}, {"cert", required_argument, 0, 'c'},
		{"key", required_argument, 0, 'k'}, {"listen", required_argument, 0, 'l'},
		{"window", required_argument, 0, 'w'}, {"pmtu-max", required_argument, 0, 'p'},
		{0, 0, 0, 0},
	};
	const char *ca = NULL, *cert = NULL, *key = NULL, *listen = NULL;
	struct pn_tep_config cfg;
	struct pn_tep *ep;
	struct pn_key *k;
	struct sockaddr_in sa;
	uv_signal_t sig;
	char host[64], *colon;
	int c, r;

	memset(&cfg, 0, sizeof(cfg));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'C': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'l': listen = optarg; break;
		case 'w': cfg.stream_window = cfg.stream_sndbuf = strtoul(optarg, NULL, 0); break;
		case 'p': cfg.pmtu_max = strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (!ca || !cert || !key || !listen || !(colon = strrchr(listen, ':')) ||
	    (size_t)(colon - listen) >= sizeof(host)) {
		fprintf(stderr, "usage: tsink --ca F --cert F --key F --listen IP:PORT\n");
		return 2;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	if (uv_ip4_addr(host, atoi(colon + 1), &sa) != 0)
		return 2;
	if ((r = pn_anchor_load_file(ca, &anchor)) || (r = pn_key_load_pem_file(key, &k))) {
		fprintf(stderr, "tsink: %s\n", pn_strerror(r));
		return 2;
	}
	cfg.loop = uv_default_loop();
	cfg.role = PN_TEP_CONNECTOR;
	cfg.anchor = anchor;
	cfg.key = k;
	cfg.cert_pem = slurp(cert);
	cfg.server_ops = &server_ops;
	if (!cfg.cert_pem || (r = pn_tep_new(&cfg, &ep)) ||
	    (r = pn_tep_listen_udp(ep, (struct sockaddr *)&sa))) {
		fprintf(stderr, "tsink: %s\n", pn_strerror(r));
		return 1;
	}
	uv_signal_init(cfg.loop, &sig);
	uv_signal_start(&sig, on_term, SIGTERM);
	printf("tsink ready\n");
	fflush(stdout);
	uv_run(cfg.loop, UV_RUN_DEFAULT);
	printf("tsink total=%" PRIu64 "\n", total);
	return 0;
}
