/*
 * postern connector: usage and option parsing.  The daemon is
 * src/connector/daemon.c; the relay-session bridge below feeds relay
 * sessions into the connector's endpoint.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "app/cmds.h"
#include "app/enroll.h"
#include "connector/connector.h"
#include "connector/daemon.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "relay/rclient.h"
#include "relay/rpath.h"
#include "trust/cred.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: postern connector run [options]\n"
		"       postern connector enroll --token TOKEN --state DIR\n"
		"\n"
		"The connector sits inside a private network, accepts tunnels from\n"
		"clients, checks every client and every flow against the client's\n"
		"signed access list and its own, and proxies allowed flows.\n"
		"\n"
		"run:\n"
		"  --state DIR          enrolled state (ca.crt, key.pem, cert.pem, acl.bin);\n"
		"                       with controller.json: push channel + flow reports\n"
		"  --ca FILE --cert FILE --key FILE --acl FILE\n"
		"                       the same as separate files (instead of --state)\n"
		"  --listen-udp ADDR:PORT  direct UDP socket for tunnels (e.g. 0.0.0.0:4433)\n"
		"  --relay SPEC         register with a relay (repeatable); SPEC is a comma\n"
		"                       list of tls=HOST:PORT, udp=HOST:PORT, ws=URL, name=N;\n"
		"                       ws=ws://H:P/PATH or wss://H:P/PATH (TLS to a proxy);\n"
		"                       default with --state: the relays in DIR/relays.json\n"
		"  --wss-ca FILE        CA certificates (PEM) for wss:// proxies' certificates\n"
		"                       (default: the system's trust store)\n"
		"  --client-acls DIR    signed client lists (*.bin) applied on start and SIGHUP\n"
		"                       (what the controller pushes; for tests and offline use)\n"
		"  --revoked FILE       revoked credentials, one per line: holder id (32 hex)\n"
		"                       or serial:HEX; applied on start and SIGHUP\n"
		"  --window BYTES       per-flow window and send buffer (default %u)\n"
		"  --max-flows N        concurrent flows per client tunnel (default %u); a\n"
		"                       client whose tunnel is full uses another connector\n"
		"  --log SPEC           log levels, e.g. info or info,tunnel=debug\n"
		"  --log-json           JSON log lines\n"
		"SIGHUP reloads --acl (or DIR/acl.bin), --client-acls and --revoked and\n"
		"closes every open flow the new lists no longer allow.\n"
		"\n"
		"enroll: consume a one-time token from `postern ctl connector add` and\n"
		"  write the state directory.\n",
		PN_TEP_WINDOW_DEFAULT, PN_TEP_MAX_FLOWS_DEFAULT);
}

struct run_ctx {
	uv_loop_t *loop;
	struct pn_connector_daemon *d;
	struct pn_connector *conn; /* the daemon's, for the relay bridge */
	uv_signal_t sigint, sigterm, sighup;
	int stopping;
};

static void on_hup(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;

	(void)sig;
	PN_LOG_INFO("connector", "reload", "signal=SIGHUP");
	if (!ctx->stopping)
		pn_connector_daemon_reload(ctx->d);
}

/* The daemon is stopping (signal, or its credential was revoked): the
 * bridge lets go of the connector, the signals close. */
static void stopping(void *arg)
{
	struct run_ctx *ctx = arg;

	if (ctx->stopping)
		return;
	ctx->stopping = 1;
	ctx->conn = NULL;
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
	uv_close((uv_handle_t *)&ctx->sighup, NULL);
}

static void on_stop(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;

	if (ctx->stopping)
		return;
	PN_LOG_INFO("connector", "stopping", "signal=%d", sig);
	stopping(ctx);
	pn_connector_daemon_close(ctx->d, NULL, NULL);
	ctx->d = NULL;
}

/* ------------------------------------------------------------- relays -- */

/* A client's relay session: hand it to the endpoint as a path
 * (relay/rpath.h); its datagrams and its end go there directly. */
static void r_session_new(struct pn_rsession *s, const uint8_t cid[PN_RELAY_ID_LEN], void *user)
{
	struct run_ctx *ctx = user;
	char hex[PN_ID_HEX_LEN + 1];
	struct pn_path *p;

	pn_id_hex(cid, hex);
	if (ctx->stopping || !ctx->conn || pn_rsession_path(s, &p) != 0 ||
	    pn_tep_accept_path(pn_connector_tep(ctx->conn), p) != 0) {
		pn_rsession_close(s);
		return;
	}
	PN_LOG_DEBUG("connector", "relay_session", "client=%s relay=%s", hex,
		     pn_rrelay_name(pn_rsession_relay(s)));
}

static void r_state(struct pn_rrelay *r, enum pn_rrelay_state st, int err, void *user)
{
	(void)user;
	PN_LOG_INFO("connector", "relay_state", "relay=%s state=%s err=%s", pn_rrelay_name(r),
		    st == PN_RRELAY_READY ? "ready" : st == PN_RRELAY_DOWN ? "down" : "connecting",
		    err ? pn_errname(err) : "-");
}

static const struct pn_rclient_ops relay_ops = {
	.session_new = r_session_new,
	.relay_state = r_state,
};

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, 0, 's'},
		{"ca", required_argument, 0, 'C'},
		{"cert", required_argument, 0, 'c'},
		{"key", required_argument, 0, 'k'},
		{"acl", required_argument, 0, 'a'},
		{"listen-udp", required_argument, 0, 'u'},
		{"client-acls", required_argument, 0, 'A'},
		{"revoked", required_argument, 0, 'R'},
		{"window", required_argument, 0, 'w'},
		{"max-flows", required_argument, 0, 'm'},
		{"relay", required_argument, 0, 'r'},
		{"wss-ca", required_argument, 0, 3},
		{"log", required_argument, 0, 1},
		{"log-json", no_argument, 0, 2},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct pn_connector_daemon_config cfg;
	struct sockaddr_storage udp;
	const char *relay_specs[PN_CONNECTOR_RELAYS_MAX];
	struct run_ctx ctx;
	char err[1024];
	int c, r, cfg_error;

	memset(&ctx, 0, sizeof(ctx));
	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg.state = optarg; break;
		case 'C': cfg.ca = optarg; break;
		case 'c': cfg.cert = optarg; break;
		case 'k': cfg.key = optarg; break;
		case 'a': cfg.acl = optarg; break;
		case 'A': cfg.client_acl_dir = optarg; break;
		case 'R': cfg.revoked_path = optarg; break;
		case 'w': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);
			if (!*optarg || *end || v > (1ul << 30)) {
				fprintf(stderr, "postern connector: bad --window %s\n", optarg);
				return 2;
			}
			cfg.tunables.stream_window = cfg.tunables.stream_sndbuf = v;
			break;
		}
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > (1ul << 24)) {
				fprintf(stderr, "postern connector: --max-flows 1..%lu\n", 1ul << 24);
				return 2;
			}
			cfg.tunables.max_flows = (unsigned)v;
			break;
		}
		case 'r':
			if (cfg.nrelay_specs == PN_CONNECTOR_RELAYS_MAX) {
				fprintf(stderr, "postern connector: at most %d relays\n",
					PN_CONNECTOR_RELAYS_MAX);
				return 2;
			}
			relay_specs[cfg.nrelay_specs++] = optarg;
			break;
		case 'u':
			if (pn_addr_parse(optarg, &udp, PN_ADDR_PORT0) != 0) {
				fprintf(stderr, "postern connector: bad --listen-udp %s\n", optarg);
				return 2;
			}
			cfg.listen_udp = (struct sockaddr *)&udp;
			break;
		case 1:
			if (pn_log_set_spec(optarg)) {
				fprintf(stderr, "postern connector: bad --log %s\n", optarg);
				return 2;
			}
			break;
		case 2: pn_log_setup(PN_LOG_INFO, PN_LOG_JSON, 2); break;
		case 3: cfg.wss_ca = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfg.state && (!cfg.ca || !cfg.cert || !cfg.key || !cfg.acl)) {
		fprintf(stderr, "postern connector run: need --state DIR or --ca --cert --key --acl\n");
		return 2;
	}
	if (!cfg.listen_udp && !cfg.nrelay_specs && !cfg.state)
		fprintf(stderr, "postern connector run: no --listen-udp and no --relay: no tunnels\n");
	cfg.relay_specs = relay_specs;
	cfg.relay_ops = &relay_ops;
	cfg.relay_user = &ctx;
	cfg.stopping = stopping;
	cfg.arg = &ctx;
	ctx.loop = uv_default_loop();
	if ((r = pn_connector_daemon_new(ctx.loop, &cfg, &ctx.d, err, sizeof(err), &cfg_error))) {
		fprintf(stderr, "postern connector: %s\n", err);
		uv_run(ctx.loop, UV_RUN_DEFAULT); /* what was opened closes */
		return cfg_error ? 2 : 1;
	}
	ctx.conn = pn_connector_daemon_connector(ctx.d);
	uv_signal_init(ctx.loop, &ctx.sigint);
	uv_signal_init(ctx.loop, &ctx.sigterm);
	uv_signal_init(ctx.loop, &ctx.sighup);
	ctx.sigint.data = ctx.sigterm.data = ctx.sighup.data = &ctx;
	uv_signal_start(&ctx.sigint, on_stop, SIGINT);
	uv_signal_start(&ctx.sigterm, on_stop, SIGTERM);
	uv_signal_start(&ctx.sighup, on_hup, SIGHUP);
	{
		int port = pn_connector_daemon_udp_port(ctx.d);
		char a[16] = "-";
		if (port)
			snprintf(a, sizeof(a), "%d", port);
		PN_LOG_INFO("connector", "ready", "udp_port=%s", a);
	}
	(void)pn_sdnotify_ready(ctx.loop, "connector ready");
	uv_run(ctx.loop, UV_RUN_DEFAULT);
	return 0;
}

int pn_cmd_connector(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "enroll"))
		return pn_app_enroll("connector", argc - 1, argv + 1, usage);
	fprintf(stderr, "postern connector: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
