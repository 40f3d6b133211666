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
#include "app/opts.h"
#include "connector/connector.h"
#include "connector/daemon.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "relay/rclient.h"
#include "relay/rpath.h"
#include "trust/cred.h"

/* `postern connector run`: flags, --help, the [connector] section. */
static const struct pn_opt run_opts[] = {
    PN_OPT("state", "DIR", "connector", "state", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "enrolled state (ca.crt, key.pem, cert.pem, acl.bin);\n"
		   "with controller.json: push channel + flow reports"),
    PN_OPT("ca", "FILE", "connector", "ca", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "the pinned CA certificate (instead of --state)"),
    PN_OPT("cert", "FILE", "connector", "cert", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "this connector's credential"),
    PN_OPT("key", "FILE", "connector", "key", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "its private key"),
    PN_OPT("acl", "FILE", "connector", "acl", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "its signed access list (reloaded on SIGHUP)"),
    PN_OPT("listen-udp", "ADDR:PORT", "connector", "listen_udp", PN_CFG_STR, .min = 1,
	   .max = 80, .help = "direct UDP socket for tunnels (e.g. 0.0.0.0:4433)"),
    PN_OPT("relay", "SPEC", "connector", "relays", PN_CFG_LIST,
	   .max = PN_CONNECTOR_RELAYS_MAX, .def = "[]",
	   .help = "register with a relay (repeatable); SPEC is a comma\n"
		   "list of tls=HOST:PORT, udp=HOST:PORT, ws=URL, name=N;\n"
		   "ws=ws://H:P/PATH or wss://H:P/PATH (TLS to a proxy);\n"
		   "default with --state: the relays in DIR/relays.json"),
    PN_OPT("wss-ca", "FILE", "connector", "wss_ca", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "CA certificates (PEM) for wss:// proxies' certificates\n"
		   "(default: the system's trust store)"),
    PN_OPT("client-acls", "DIR", "connector", "client_acls", PN_CFG_STR, .min = 1,
	   .max = 4095,
	   .help = "signed client lists (*.bin) applied on start and SIGHUP\n"
		   "(what the controller pushes; for tests and offline use)"),
    PN_OPT("revoked", "FILE", "connector", "revoked", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "revoked credentials, one per line: holder id (32 hex)\n"
		   "or serial:HEX; applied on start and SIGHUP"),
    PN_OPT("window", "BYTES", "connector", "window", PN_CFG_INT, .min = 1, .max = 1 << 30,
	   .help = "per-flow window and send buffer (default 4 MiB)"),
    PN_OPT("max-flows", "N", "connector", "max_flows", PN_CFG_INT, .min = 1, .max = 1 << 24,
	   .def = PN_STR(PN_TEP_MAX_FLOWS_DEFAULT),
	   .help = "concurrent flows per client tunnel; a client whose\n"
		   "tunnel is full uses another connector"),
    PN_OPT_METRICS("connector"),
    PN_OPTS_LOG,
};
#define NOPTS (sizeof(run_opts) / sizeof(run_opts[0]))

const struct pn_opt *pn_cmd_connector_opts(size_t *n)
{
	*n = NOPTS;
	return run_opts;
}

static void usage(FILE *f)
{
	fputs("usage: postern connector run [options]\n"
	      "       postern connector enroll --token TOKEN --state DIR\n"
	      "\n"
	      "The connector sits inside a private network, accepts tunnels from\n"
	      "clients, checks every client and every flow against the client's\n"
	      "signed access list and its own, and proxies allowed flows.\n"
	      "\n"
	      "run: give --state DIR, or --ca, --cert, --key and --acl\n",
	      f);
	pn_opts_help(f, run_opts, NOPTS, 2);
	fputs("\n"
	      "SIGHUP reads the configuration file again (the log settings change;\n"
	      "other changed keys need a restart and are logged as reload_ignored),\n"
	      "reloads the files of --acl (or DIR/acl.bin), --client-acls and\n"
	      "--revoked and closes every open flow the new lists no longer allow.\n"
	      "\n"
	      "enroll: consume a one-time token from `postern ctl connector add` and\n"
	      "  write the state directory.\n"
	      "  --token TOKEN             the one-time enrollment token (pnt1....)\n"
	      "  --state DIR               state directory to create/fill (mode 0700)\n",
	      f);
}

struct run_ctx {
	uv_loop_t *loop;
	struct pn_connector_daemon *d;
	struct pn_connector *conn; /* the daemon's, for the relay bridge */
	uv_signal_t sigint, sigterm, sighup;
	int stopping;
	struct pn_opts *opts;
};

static void on_hup(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;

	char err[1024];

	(void)sig;
	PN_LOG_INFO("connector", "reload", "signal=SIGHUP");
	if (ctx->stopping)
		return;
	/* The log settings (others need a restart), then the list files. */
	if (pn_opts_reload(ctx->opts, NULL, NULL, err, sizeof(err)) != 0)
		PN_LOG_ERROR("config", "reload_failed", "err=\"%s\"", err);
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

/* Checks the schema cannot express.  0 or PN_E_CONFIG with err. */
static int check(const struct pn_opts *o, struct sockaddr_storage *udp, char *err, size_t errsz)
{
	const struct pn_cfg *cfg = o->cfg;
	const char *listen = pn_cfg_str(cfg, "connector", "listen_udp");

	if (!pn_cfg_str(cfg, "connector", "state") &&
	    (!pn_cfg_str(cfg, "connector", "ca") || !pn_cfg_str(cfg, "connector", "cert") ||
	     !pn_cfg_str(cfg, "connector", "key") || !pn_cfg_str(cfg, "connector", "acl")))
		return pn_cfg_errorf(cfg, "connector", "state", err, errsz,
				     "need state (--state), or ca, cert, key and acl "
				     "(--ca, --cert, --key, --acl)");
	if (listen && pn_addr_parse(listen, udp, PN_ADDR_PORT0) != 0)
		return pn_cfg_errorf(cfg, "connector", "listen_udp", err, errsz,
				     "expected ADDR:PORT, got \"%.80s\"", listen);
	return pn_opts_check_metrics(o, "connector", err, errsz);
}

static int run(struct pn_opts *o, const struct sockaddr_storage *udp)
{
	const struct pn_cfg *cfg = o->cfg;
	struct pn_connector_daemon_config dc;
	const char *const *relays;
	struct run_ctx ctx;
	char err[1024];
	int r, cfg_error;

	memset(&ctx, 0, sizeof(ctx));
	memset(&dc, 0, sizeof(dc));
	ctx.opts = o;
	dc.state = pn_cfg_str(cfg, "connector", "state");
	dc.ca = pn_cfg_str(cfg, "connector", "ca");
	dc.cert = pn_cfg_str(cfg, "connector", "cert");
	dc.key = pn_cfg_str(cfg, "connector", "key");
	dc.acl = pn_cfg_str(cfg, "connector", "acl");
	dc.client_acl_dir = pn_cfg_str(cfg, "connector", "client_acls");
	dc.revoked_path = pn_cfg_str(cfg, "connector", "revoked");
	dc.wss_ca = pn_cfg_str(cfg, "connector", "wss_ca");
	dc.metrics_listen = pn_cfg_str(cfg, "connector", "metrics_listen");
	dc.tunables.stream_window = dc.tunables.stream_sndbuf =
	    (size_t)pn_cfg_int(cfg, "connector", "window");
	dc.tunables.max_flows = (unsigned)pn_cfg_int(cfg, "connector", "max_flows");
	dc.nrelay_specs = pn_cfg_list(cfg, "connector", "relays", &relays);
	dc.relay_specs = relays;
	if (pn_cfg_str(cfg, "connector", "listen_udp"))
		dc.listen_udp = (const struct sockaddr *)udp;
	if (!dc.listen_udp && !dc.nrelay_specs && !dc.state)
		fprintf(stderr, "postern connector run: no --listen-udp and no --relay: no tunnels\n");
	dc.relay_ops = &relay_ops;
	dc.relay_user = &ctx;
	dc.stopping = stopping;
	dc.arg = &ctx;
	ctx.loop = uv_default_loop();
	if ((r = pn_connector_daemon_new(ctx.loop, &dc, &ctx.d, err, sizeof(err), &cfg_error))) {
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

static int cmd_run(int argc, char **argv)
{
	struct sockaddr_storage udp;
	struct pn_opts o;
	char err[1024];
	int r;

	r = pn_opts_parse(&o, "postern connector run", run_opts, NOPTS, argc, argv, err,
			  sizeof(err));
	if (r == PN_OPTS_HELP) {
		usage(stdout);
		r = 0;
	} else if (r || (r = check(&o, &udp, err, sizeof(err)))) {
		fprintf(stderr, "postern connector run: %s\n", err);
		r = 2;
	} else if (o.check) {
		pn_opts_print(stdout, &o);
		r = 0;
	} else {
		r = run(&o, &udp);
	}
	pn_opts_fini(&o);
	return r;
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
