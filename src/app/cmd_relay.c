/*
 * postern relay: the public zero-knowledge forwarder (src/relay/server.h),
 * run by the relay daemon (src/relay/daemon.h).  This file only parses
 * options and runs the loop.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "app/cmds.h"
#include "app/enroll.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "relay/daemon.h"
#include "relay/server.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: postern relay run [options]\n"
	    "       postern relay enroll --token T --state DIR\n"
	    "\n"
	    "The relay is the public meeting point of clients and connectors. It\n"
	    "forwards their end-to-end encrypted tunnel packets by random session\n"
	    "id without being able to read them, answers STUN Binding requests,\n"
	    "and never connects to any address a peer names.\n"
	    "\n"
	    "run: serve with a relay credential issued by the network's CA\n"
	    "  --state DIR          enrolled state directory (DIR/ca.crt, cert.pem, key.pem)\n"
	    "  --ca FILE            the pinned CA certificate (instead of --state)\n"
	    "  --cert FILE          this relay's credential (type relay)\n"
	    "  --key FILE           its private key\n"
	    "  --udp ADDR:PORT      UDP port for relayed packets and STUN (e.g. 0.0.0.0:3478)\n"
	    "  --tls ADDR:PORT      TLS 1.3 stream listener (e.g. 0.0.0.0:443); also accepts\n"
	    "                       plain HTTP/1.1 WebSocket upgrades on --ws-path\n"
	    "  --ws-path PATH       accepted WebSocket path (default: none = no upgrades;\n"
	    "                       the usual value is " PN_RELAY_WS_DEFAULT_PATH ")\n"
	    "  --max-sessions N     global session cap (default %u)\n"
	    "  --max-sessions-per-conn N  sessions one client connection may hold (default %u)\n"
	    "  --session-idle S     close sessions idle this many seconds (default %u)\n"
	    "  --max-open-rate N    session requests per connection per second (default %u)\n"
	    "  --max-pending N      unauthenticated connections, global (default %u)\n"
	    "  --max-pending-per-ip N  ... per source address (default %u)\n"
	    "  --max-conns N        authenticated connections (default %u)\n"
	    "  --stats-interval S   stats line in the log every S seconds (default %u, 0 = off)\n"
	    "  --no-gso             do not use UDP GSO/GRO\n"
	    "  --log SPEC           log levels, e.g. info or info,relay=debug\n"
	    "  --log-json           JSON log lines\n"
	    "\n"
	    "enroll: enroll once with a one-time token from the controller\n"
	    "  (postern ctl relay add ...): pins the CA from the token, generates the\n"
	    "  key in DIR and stores the relay credential there.\n"
	    "  --token T            the one-time enrollment token (pnt1....)\n"
	    "  --state DIR          state directory to create/fill (mode 0700)\n"
	    "  With --state, 'run' also renews the credential with the controller\n"
	    "  (mutual TLS) at two thirds of its lifetime and presents the new one to new\n"
	    "  connections (--renew-after S: the first renewal after S seconds).\n"
	    "\n"
	    "Metrics: send SIGUSR1 (or wait for the periodic line) to log\n"
	    "  sessions peers connectors pending opened closed denied udp_rx_pkts\n"
	    "  udp_rx_bytes fwd_pkts fwd_bytes tx_pkts tx_bytes gso_sends stun binds_ok\n"
	    "  binds_bad binds_challenged drop_malformed drop_no_session drop_addr drop_queue\n"
	    "  drop_amplification tx_drops refused_pending refused_auth gro gso\n"
	    "SIGINT/SIGTERM stop the relay.\n",
	    PN_RELAY_MAX_SESSIONS, PN_RELAY_MAX_SESSIONS_PER_CONN, PN_RELAY_SESSION_IDLE_MS / 1000,
	    PN_RELAY_MAX_OPEN_PER_SEC, PN_RELAY_MAX_PENDING, PN_RELAY_MAX_PENDING_PER_IP,
	    PN_RELAY_MAX_CONNS, PN_RELAY_STATS_MS / 1000);
}

struct run_ctx {
	struct pn_relay_daemon *d;
	uv_signal_t sigint, sigterm;
};

static void on_stop(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;

	PN_LOG_INFO("relay", "stopping", "signal=%d", sig);
	pn_relay_daemon_close(ctx->d, NULL, NULL);
	ctx->d = NULL;
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 0xffffffffu)
		return PN_E_MALFORMED;
	*out = (uint32_t)v;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, 0, 's'},
	    {"ca", required_argument, 0, 'C'},
	    {"cert", required_argument, 0, 'c'},
	    {"key", required_argument, 0, 'k'},
	    {"udp", required_argument, 0, 'u'},
	    {"tls", required_argument, 0, 't'},
	    {"ws-path", required_argument, 0, 'w'},
	    {"max-sessions", required_argument, 0, 1},
	    {"max-sessions-per-conn", required_argument, 0, 2},
	    {"session-idle", required_argument, 0, 3},
	    {"max-pending", required_argument, 0, 4},
	    {"max-pending-per-ip", required_argument, 0, 5},
	    {"max-conns", required_argument, 0, 6},
	    {"stats-interval", required_argument, 0, 7},
	    {"no-gso", no_argument, 0, 8},
	    {"max-open-rate", required_argument, 0, 11},
	    {"renew-after", required_argument, 0, 12},
	    {"log", required_argument, 0, 9},
	    {"log-json", no_argument, 0, 10},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	struct pn_relay_daemon_config dcfg = {0};
	struct pn_relay_server_config cfg;
	const char *state = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	struct run_ctx ctx = {0};
	uint32_t renew_after = 0;
	char err[1024];
	uv_loop_t loop;
	uint32_t v;
	int c;

	pn_relay_server_config_default(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'C': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'u': cfg.udp_addr = optarg; break;
		case 't': cfg.tls_addr = optarg; break;
		case 'w':
			if (optarg[0] != '/' || strlen(optarg) > 200 || strpbrk(optarg, " \r\n")) {
				fprintf(stderr,
					"postern relay: --ws-path must be a path like /postern\n");
				return 2;
			}
			cfg.ws_path = optarg;
			break;
		case 1:
		case 2:
		case 3:
		case 4:
		case 5:
		case 6:
		case 7:
		case 11:
		case 12:
			if (parse_u32(optarg, &v) || (c != 7 && v == 0)) {
				fprintf(stderr, "postern relay: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 1)
				cfg.limits.max_sessions = v;
			if (c == 2)
				cfg.limits.max_sessions_per_conn = v;
			if (c == 3)
				cfg.limits.session_idle_ms = v * 1000;
			if (c == 4)
				cfg.max_pending = v;
			if (c == 5)
				cfg.max_pending_per_ip = v;
			if (c == 6)
				cfg.max_conns = v;
			if (c == 7)
				cfg.stats_ms = v * 1000;
			if (c == 11)
				cfg.limits.max_open_per_sec = v;
			if (c == 12)
				renew_after = v;
			break;
		case 8: cfg.no_gso = 1; break;
		case 9:
			if (pn_log_set_spec(optarg)) {
				fprintf(stderr, "postern relay: bad --log '%s'\n", optarg);
				return 2;
			}
			break;
		case 10: pn_log_setup(PN_LOG_INFO, PN_LOG_JSON, 2); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((!state && (!ca || !cert || !key)) || (!cfg.udp_addr && !cfg.tls_addr)) {
		fprintf(stderr, "postern relay run: need --ca, --cert, --key (or --state) and "
				"--udp and/or --tls\n");
		return 2;
	}
	dcfg.state = state;
	dcfg.ca = ca;
	dcfg.cert = cert;
	dcfg.key = key;
	dcfg.server = cfg;
	dcfg.renew_after_s = renew_after;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	if (pn_relay_daemon_new(&loop, &dcfg, &ctx.d, err, sizeof(err)) != 0) {
		fprintf(stderr, "postern relay: %s\n", err);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		return 1;
	}
	uv_signal_init(&loop, &ctx.sigint);
	uv_signal_init(&loop, &ctx.sigterm);
	ctx.sigint.data = ctx.sigterm.data = &ctx;
	uv_signal_start(&ctx.sigint, on_stop, SIGINT);
	uv_signal_start(&ctx.sigterm, on_stop, SIGTERM);
	/* Ready: a line tests and supervisors can wait for. */
	PN_LOG_INFO("relay", "ready", "udp_port=%d tls_port=%d",
		    pn_relay_server_udp_port(pn_relay_daemon_server(ctx.d)),
		    pn_relay_server_tls_port(pn_relay_daemon_server(ctx.d)));
	(void)pn_sdnotify_ready(&loop, "relay ready");
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}

int pn_cmd_relay(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "enroll"))
		return pn_app_enroll("relay", argc - 1, argv + 1, usage);
	fprintf(stderr, "postern relay: unknown subcommand '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
