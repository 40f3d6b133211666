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
#include <unistd.h>

#include <uv.h>

#include "app/cmds.h"
#include "app/enroll.h"
#include "app/opts.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "relay/daemon.h"
#include "relay/peerfilter.h"
#include "relay/server.h"

#define U32 .min = 1, .max = 0xffffffff
/* `postern relay run`: flags, --help, the [relay] section of relay.conf. */
static const struct pn_opt run_opts[] = {
    PN_OPT("state", "DIR", "relay", "state", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "enrolled state directory (DIR/ca.crt, cert.pem, key.pem);\n"
		   "with it, run renews the credential with the controller"),
    PN_OPT("ca", "FILE", "relay", "ca", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "the pinned CA certificate (instead of --state)"),
    PN_OPT("cert", "FILE", "relay", "cert", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "this relay's credential (type relay)"),
    PN_OPT("key", "FILE", "relay", "key", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "its private key"),
    PN_OPT("udp", "ADDR:PORT", "relay", "udp", PN_CFG_STR, .min = 1, .max = 80,
	   .help = "UDP port for relayed packets and STUN (e.g. 0.0.0.0:3478)"),
    PN_OPT("tls", "ADDR:PORT", "relay", "tls", PN_CFG_STR, .min = 1, .max = 80,
	   .help = "TLS 1.3 stream listener (e.g. 0.0.0.0:443); also accepts\n"
		   "plain HTTP/1.1 WebSocket upgrades on --ws-path"),
    PN_OPT("ws-path", "PATH", "relay", "ws_path", PN_CFG_STR, .min = 1, .max = 200,
	   .help = "accepted WebSocket path (default: none = no upgrades;\n"
		   "the usual value is " PN_RELAY_WS_DEFAULT_PATH ")"),
    PN_OPT("max-sessions", "N", "relay", "max_sessions", PN_CFG_INT, U32,
	   .def = PN_STR(PN_RELAY_MAX_SESSIONS), .flags = PN_OPT_RELOAD,
	   .help = "global session cap"),
    PN_OPT("max-sessions-per-conn", "N", "relay", "max_sessions_per_conn", PN_CFG_INT, U32,
	   .def = PN_STR(PN_RELAY_MAX_SESSIONS_PER_CONN), .flags = PN_OPT_RELOAD,
	   .help = "sessions one client connection may hold"),
    PN_OPT("session-idle", "S", "relay", "session_idle", PN_CFG_DURATION, .min = 1000,
	   .max = 86400000, .def = PN_STR(PN_RELAY_SESSION_IDLE_MS) "ms", .unit = "s",
	   .flags = PN_OPT_RELOAD, .help = "close sessions idle this long (flag: seconds)"),
    PN_OPT("max-open-rate", "N", "relay", "max_open_rate", PN_CFG_INT, U32,
	   .def = PN_STR(PN_RELAY_MAX_OPEN_PER_SEC), .flags = PN_OPT_RELOAD,
	   .help = "session requests per connection per second"),
    PN_OPT("max-pending", "N", "relay", "max_pending", PN_CFG_INT, U32,
	   .def = PN_STR(PN_RELAY_MAX_PENDING), .flags = PN_OPT_RELOAD,
	   .help = "unauthenticated connections, global"),
    PN_OPT("max-pending-per-ip", "N", "relay", "max_pending_per_ip", PN_CFG_INT, U32,
	   .def = PN_STR(PN_RELAY_MAX_PENDING_PER_IP), .flags = PN_OPT_RELOAD,
	   .help = "unauthenticated connections per source address"),
    PN_OPT("max-conns", "N", "relay", "max_conns", PN_CFG_INT, U32,
	   .def = PN_STR(PN_RELAY_MAX_CONNS), .flags = PN_OPT_RELOAD,
	   .help = "authenticated connections"),
    PN_OPT("stats-interval", "S", "relay", "stats_interval", PN_CFG_DURATION, .min = 0,
	   .max = 86400000, .def = PN_STR(PN_RELAY_STATS_MS) "ms", .unit = "s",
	   .flags = PN_OPT_RELOAD,
	   .help = "stats line in the log this often (flag: seconds; 0 = off)"),
    PN_OPT("workers", "N", "relay", "workers", PN_CFG_INT, .min = 0, .max = 256, .def = "0",
	   .help = "worker threads, each with its own UDP socket and listener\n"
		   "on the same ports (SO_REUSEPORT); 0 = one per online CPU"),
    PN_OPT("no-gso", NULL, "relay", "no_gso", PN_CFG_BOOL, .value = "true", .def = "false",
	   .help = "do not use UDP GSO/GRO"),
    PN_OPT("allow-peer", "CIDR", "relay", "allow_peer", PN_CFG_LIST, .max = PN_RELAY_ALLOW_MAX,
	   .def = "[]",
	   .help = "answer and bind UDP peers in this range although it is\n"
		   "denied by default (repeatable, e.g. 10.0.0.0/8, ::1).\n"
		   "Denied: loopback, link-local, RFC 1918, CGNAT\n"
		   "100.64/10, fc00::/7, multicast, unspecified, reserved\n"
		   "240/4 and this host's own addresses"),
    PN_OPT("renew-after", "S", "relay", "renew_after", PN_CFG_DURATION, .min = 0,
	   .max = 86400000, .def = "0", .unit = "s",
	   .help = "with --state: the first renewal after this long (flag:\n"
		   "seconds; 0 = at two thirds of the lifetime)"),
    PN_OPT_METRICS("relay"),
    PN_OPTS_LOG,
};
#define NOPTS (sizeof(run_opts) / sizeof(run_opts[0]))

const struct pn_opt *pn_cmd_relay_opts(size_t *n)
{
	*n = NOPTS;
	return run_opts;
}

static void usage(FILE *f)
{
	fputs("usage: postern relay run [options]\n"
	      "       postern relay enroll --token T --state DIR\n"
	      "\n"
	      "The relay is the public meeting point of clients and connectors. It\n"
	      "forwards their end-to-end encrypted tunnel packets by random session\n"
	      "id without being able to read them, answers STUN Binding requests,\n"
	      "and never connects to any address a peer names.\n"
	      "\n"
	      "run: serve with a relay credential issued by the network's CA\n",
	      f);
	pn_opts_help(f, run_opts, NOPTS, 2);
	fputs("\n"
	      "enroll: enroll once with a one-time token from the controller\n"
	      "  (postern ctl relay add ...): pins the CA from the token, generates the\n"
	      "  key in DIR and stores the relay credential there.\n"
	      "  --token T                 the one-time enrollment token (pnt1....)\n"
	      "  --state DIR               state directory to create/fill (mode 0700)\n"
	      "  With --state, 'run' also renews the credential with the controller\n"
	      "  (mutual TLS) at two thirds of its lifetime and presents the new one to new\n"
	      "  connections.\n"
	      "\n"
	      "Signals: SIGHUP reads the configuration file again and applies the log\n"
	      "  settings and the limits marked above (addresses and files need a\n"
	      "  restart; each such change is logged as reload_ignored).  SIGUSR1 (or\n"
	      "  the periodic line) logs the counters: sessions peers connectors pending\n"
	      "  opened closed denied udp_rx_pkts udp_rx_bytes fwd_pkts fwd_bytes tx_pkts\n"
	      "  tx_bytes gso_sends stun binds_ok binds_bad binds_challenged drop_malformed\n"
	      "  drop_no_session drop_addr drop_queue drop_amplification drop_denied tx_drops\n"
	      "  refused_pending refused_auth gro gso st_records st_writes workers handoffs\n"
	      "  handoff_drops worker_udp_rx worker_streams worker_handoffs (per worker,\n"
	      "  comma-separated).  SIGINT/SIGTERM stop the relay.\n",
	      f);
}

struct run_ctx {
	struct pn_relay_daemon *d;
	struct pn_opts *opts;
	uv_signal_t sigint, sigterm, sighup;
};

static void on_stop(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;

	PN_LOG_INFO("relay", "stopping", "signal=%d", sig);
	pn_relay_daemon_close(ctx->d, NULL, NULL);
	ctx->d = NULL;
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
	uv_close((uv_handle_t *)&ctx->sighup, NULL);
}

/* The server settings of cfg (addresses point into cfg). */
static void server_config(const struct pn_cfg *cfg, struct pn_relay_server_config *sc)
{
	pn_relay_server_config_default(sc);
	sc->udp_addr = pn_cfg_str(cfg, "relay", "udp");
	sc->tls_addr = pn_cfg_str(cfg, "relay", "tls");
	sc->ws_path = pn_cfg_str(cfg, "relay", "ws_path");
	sc->limits.max_sessions = (uint32_t)pn_cfg_int(cfg, "relay", "max_sessions");
	sc->limits.max_sessions_per_conn =
	    (uint32_t)pn_cfg_int(cfg, "relay", "max_sessions_per_conn");
	sc->limits.session_idle_ms = (uint32_t)pn_cfg_duration_ms(cfg, "relay", "session_idle");
	sc->limits.max_open_per_sec = (uint32_t)pn_cfg_int(cfg, "relay", "max_open_rate");
	sc->max_pending = (uint32_t)pn_cfg_int(cfg, "relay", "max_pending");
	sc->max_pending_per_ip = (uint32_t)pn_cfg_int(cfg, "relay", "max_pending_per_ip");
	sc->max_conns = (uint32_t)pn_cfg_int(cfg, "relay", "max_conns");
	sc->stats_ms = (uint32_t)pn_cfg_duration_ms(cfg, "relay", "stats_interval");
	sc->no_gso = pn_cfg_bool(cfg, "relay", "no_gso");
	sc->workers = (unsigned)pn_cfg_int(cfg, "relay", "workers");
	if (!sc->workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		sc->workers = n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
	}
	{
		const char *const *items;
		size_t n = pn_cfg_list(cfg, "relay", "allow_peer", &items);
		for (size_t i = 0; i < n && i < PN_RELAY_ALLOW_MAX; i++)
			sc->allow_peer[sc->n_allow_peer++] = items[i];
	}
}

/* SIGHUP: the limits; pn_opts_reload logs the rest. */
static int apply_reload(const struct pn_cfg *cfg, void *arg)
{
	struct run_ctx *ctx = arg;
	struct pn_relay_server_config sc;

	server_config(cfg, &sc);
	return pn_relay_server_set_limits(pn_relay_daemon_server(ctx->d), &sc);
}

static void on_hup(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;
	char err[1024];

	(void)sig;
	if (ctx->d && pn_opts_reload(ctx->opts, apply_reload, ctx, err, sizeof(err)) != 0)
		PN_LOG_ERROR("config", "reload_failed", "err=\"%s\"", err);
}

/* Checks the schema cannot express.  0 or PN_E_CONFIG with err. */
static int check(const struct pn_opts *o, char *err, size_t errsz)
{
	const struct pn_cfg *cfg = o->cfg;
	const char *ws = pn_cfg_str(cfg, "relay", "ws_path");

	if (!pn_cfg_str(cfg, "relay", "state") &&
	    (!pn_cfg_str(cfg, "relay", "ca") || !pn_cfg_str(cfg, "relay", "cert") ||
	     !pn_cfg_str(cfg, "relay", "key")))
		return pn_cfg_errorf(cfg, "relay", "state", err, errsz,
				     "need state (--state), or ca, cert and key "
				     "(--ca, --cert, --key)");
	if (!pn_cfg_str(cfg, "relay", "udp") && !pn_cfg_str(cfg, "relay", "tls"))
		return pn_cfg_errorf(cfg, "relay", "udp", err, errsz,
				     "need udp (--udp) and/or tls (--tls)");
	if (pn_opts_check_metrics(o, "relay", err, errsz))
		return PN_E_CONFIG;
	if (ws && (ws[0] != '/' || strpbrk(ws, " \r\n")))
		return pn_cfg_errorf(cfg, "relay", "ws_path", err, errsz,
				     "must be a path like /postern");
	{
		const char *const *items;
		size_t n = pn_cfg_list(cfg, "relay", "allow_peer", &items);
		for (size_t i = 0; i < n; i++) {
			struct pn_relay_cidr cidr;
			if (pn_relay_cidr_parse(items[i], &cidr))
				return pn_cfg_errorf(cfg, "relay", "allow_peer", err, errsz,
						     "bad range '%.80s' (want e.g. 10.0.0.0/8 or "
						     "fd00::/8, host bits zero, or an address)",
						     items[i]);
		}
	}
	return 0;
}

static int run(struct pn_opts *o)
{
	const struct pn_cfg *cfg = o->cfg;
	struct pn_relay_daemon_config dcfg = {0};
	struct run_ctx ctx = {0};
	char err[1024];
	uv_loop_t loop;

	dcfg.state = pn_cfg_str(cfg, "relay", "state");
	dcfg.ca = pn_cfg_str(cfg, "relay", "ca");
	dcfg.cert = pn_cfg_str(cfg, "relay", "cert");
	dcfg.key = pn_cfg_str(cfg, "relay", "key");
	server_config(cfg, &dcfg.server);
	dcfg.renew_after_s = (uint32_t)(pn_cfg_duration_ms(cfg, "relay", "renew_after") / 1000);
	dcfg.metrics_listen = pn_cfg_str(cfg, "relay", "metrics_listen");
	ctx.opts = o;
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
	uv_signal_init(&loop, &ctx.sighup);
	ctx.sigint.data = ctx.sigterm.data = ctx.sighup.data = &ctx;
	uv_signal_start(&ctx.sigint, on_stop, SIGINT);
	uv_signal_start(&ctx.sigterm, on_stop, SIGTERM);
	uv_signal_start(&ctx.sighup, on_hup, SIGHUP);
	/* Ready: a line tests and supervisors can wait for. */
	PN_LOG_INFO("relay", "ready", "udp_port=%d tls_port=%d",
		    pn_relay_server_udp_port(pn_relay_daemon_server(ctx.d)),
		    pn_relay_server_tls_port(pn_relay_daemon_server(ctx.d)));
	(void)pn_sdnotify_ready(&loop, "relay ready");
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct pn_opts o;
	char err[1024];
	int r;

	r = pn_opts_parse(&o, "postern relay run", run_opts, NOPTS, argc, argv, err, sizeof(err));
	if (r == PN_OPTS_HELP) {
		usage(stdout);
		r = 0;
	} else if (r || (r = check(&o, err, sizeof(err)))) {
		fprintf(stderr, "postern relay run: %s\n", err);
		r = 2;
	} else if (o.check) {
		pn_opts_print(stdout, &o);
		r = 0;
	} else {
		r = run(&o);
	}
	pn_opts_fini(&o);
	return r;
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
