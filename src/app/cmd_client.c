/*
 * postern client: login with a service-account key, run the SOCKS5 and
 * port-forward front ends over tunnels to connectors, show status.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "app/cmds.h"
#include "app/opts.h"
#include "client/daemon.h"
#include "client/oidc_login.h"
#include "client/status.h"
#include "core/config.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "core/secret.h"
#include "ctlapi/ctlapi.h"
#include "relay/rclient.h"

static const char usage_text[] =
    "usage: postern client <command> [options]\n"
    "\n"
    "The user side of Postern: holds a short-lived credential and a signed\n"
    "access list, and carries the traffic of local applications to the\n"
    "resources they are granted, through one tunnel per connector.\n"
    "\n"
    "commands:\n"
    "  login   obtain a client credential: as a person through the identity\n"
    "          provider (default), or with a service-account API key\n"
    "          --controller URL          controller API, e.g. https://10.0.0.1:8443\n"
    "          --ca FILE                 the Postern CA certificate to pin (PEM)\n"
    "          --state DIR               state directory to create (0700)\n"
    "          --service-account-key K   the API key (or @FILE to read it from FILE)\n"
    "          --device                  no browser here: print a code to enter on\n"
    "                                    another device (OAuth device grant)\n"
    "          --provider NAME           identity provider, if the controller has several\n"
    "          --timeout S               give up after S seconds (default 300)\n"
    "          The browser login opens $BROWSER or xdg-open (the URL is printed\n"
    "          too) and waits on 127.0.0.1 for the provider's redirect.\n"
    "  renew   renew the credential now (people: the identity provider is asked)\n"
    "          --state DIR\n"
    "  run     serve local front ends until SIGINT/SIGTERM, with these options:\n";

static const char usage_tail[] =
    "  status  show the running client's tunnels: connector, path (relay over\n"
    "          UDP/TLS/WebSocket, or direct), RTT, bytes, flows\n"
    "          --state DIR               state directory of the running client\n"
    "          --json                    print the raw JSON document\n"
    "\n"
    "Destinations outside the access list are refused locally (SOCKS reply\n"
    "0x02 \"not allowed by ruleset\"; a reset for a forward) and the connector\n"
    "checks every flow again.\n"
    "\n"
    "SIGHUP reads the --config file again: the log settings change; other\n"
    "changed keys need a restart and are logged as reload_ignored.\n"
    "\n"
    "examples:\n"
    "  postern client login --controller https://ctl:8443 --ca ca.crt \\\n"
    "      --service-account-key @sa.key --state ~/.postern\n"
    "  postern client run --state ~/.postern --socks 127.0.0.1:1080 \\\n"
    "      --forward 127.0.0.1:15432=db.corp.example:5432\n"
    "  curl --socks5-hostname 127.0.0.1:1080 http://app.corp.example/\n"
    "  postern client status --state ~/.postern\n";

/* `postern client run`: flags, --help, the [client] section of client.conf. */
static const struct pn_opt run_opts[] = {
    PN_OPT("state", "DIR", "client", "state", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "state directory written by login (required)"),
    PN_OPT("socks", "ADDR:PORT", "client", "socks", PN_CFG_LIST, .max = PN_CLIENT_MAX_LISTEN,
	   .def = "[]",
	   .help = "SOCKS5 proxy (CONNECT, UDP ASSOCIATE; names resolved\n"
		   "by the connector); repeatable"),
    PN_OPT("forward", "LADDR:LPORT=HOST:PORT", "client", "forward", PN_CFG_LIST,
	   .max = PN_CLIENT_MAX_LISTEN, .def = "[]",
	   .help = "local port-forward to HOST:PORT; repeatable"),
    PN_OPT("transport", "udp|tls|ws|all", "client", "transport", PN_CFG_ENUM,
	   .choices = "all|udp|tls|ws|tcp", .def = "all",
	   .help = "relay transports to use (all: UDP, falling back to\n"
		   "TLS, then WebSocket; tcp = tls)"),
    PN_OPT("wss-ca", "FILE", "client", "wss_ca", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "CA certificates (PEM) for the certificates of wss://\n"
		   "relay proxies (default: system store)"),
    PN_OPT("direct", "ID=IP:PORT", "client", "direct", PN_CFG_LIST,
	   .max = PN_CLIENT_MAX_LISTEN, .def = "[]",
	   .help = "reach connector ID directly over UDP at IP:PORT (the\n"
		   "connector's direct socket) instead of through a relay;\n"
		   "repeatable"),
    PN_OPT("idle-timeout", "MS", "client", "idle_timeout", PN_CFG_DURATION, .min = 1000,
	   .max = 600000, .def = "30s", .unit = "ms",
	   .help = "end a silent tunnel after this long (flag: ms); on a\n"
		   "direct path this bounds failure detection"),
    PN_OPT("max-flows", "N", "client", "max_flows", PN_CFG_INT, .min = 1,
	   .max = PN_CLIENT_MAX_FLOWS_MAX, .def = "65536",
	   .help = "concurrent flows per tunnel; a full tunnel sends new\n"
		   "flows to another connector of the network"),
    PN_OPT("renew-interval", "S", "client", "renew_interval", PN_CFG_DURATION, .min = 0,
	   .max = 86400000, .def = "0", .unit = "s",
	   .help = "renew the credential at least this often (flag:\n"
		   "seconds; 0: at two thirds of its lifetime; else >= 2s)"),
    PN_OPT("transparent", NULL, "client", "transparent", PN_CFG_BOOL, .value = "true",
	   .def = "false",
	   .help = "transparent access (root or CAP_NET_ADMIN): a local\n"
		   "DNS responder gives protected names synthetic\n"
		   "addresses, resolv.conf points at it, and the kernel\n"
		   "hands traffic to them and to address/CIDR resources\n"
		   "to the client"),
    PN_OPT("dns-listen", "ADDR:PORT", "client", "dns_listen", PN_CFG_STR, .min = 1, .max = 80,
	   .help = "the responder's loopback address (default\n127.0.0.153:53)"),
    PN_OPT("dns-mode", "auto|resolved|resolv.conf", "client", "dns_mode", PN_CFG_STR, .min = 1,
	   .max = 16,
	   .help = "host DNS: through systemd-resolved (split DNS on a\n"
		   "link of ours) or resolv.conf; auto (default):\n"
		   "resolved when it runs"),
    PN_OPT("pool-v4", "CIDR", "client", "pool_v4", PN_CFG_STR, .min = 1, .max = 80,
	   .help = "synthetic IPv4 range (default 100.96.0.0/12)"),
    PN_OPT("pool-v6", "CIDR|none", "client", "pool_v6", PN_CFG_STR, .min = 1, .max = 80,
	   .help = "synthetic IPv6 range (default fd7a:7073:746e::/48)"),
    PN_OPT("offline", NULL, "client", "offline", PN_CFG_BOOL, .value = "true", .def = "false",
	   .help = "do not contact the controller (no renewal and no\n"
		   "policy updates; until expiry)"),
    PN_OPT_METRICS("client"),
    PN_OPTS_LOG,
};
#define NOPTS (sizeof(run_opts) / sizeof(run_opts[0]))

const struct pn_opt *pn_cmd_client_opts(size_t *n)
{
	*n = NOPTS;
	return run_opts;
}

static int usage(int code)
{
	FILE *f = code ? stderr : stdout;

	fputs(usage_text, f);
	pn_opts_help(f, run_opts, NOPTS, 10);
	fputs(usage_tail, f);
	return code;
}

static int is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h") || !strcmp(s, "help");
}

/* "@FILE" reads the key from a file (keeps it out of ps and shell history). */
static char *key_arg(const char *arg)
{
	char *buf;
	size_t n;

	if (arg[0] != '@')
		return strdup(arg);
	if (pn_file_read(arg + 1, 1024, &buf, &n))
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static int cmd_login(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"controller", required_argument, NULL, 'c'},
	    {"service-account-key", required_argument, NULL, 'k'},
	    {"ca", required_argument, NULL, 'a'},
	    {"state", required_argument, NULL, 's'},
	    {"device", no_argument, NULL, 'd'},
	    {"provider", required_argument, NULL, 'p'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pn_oidc_login_opts lo = {0};
	const char *url = NULL, *ca = NULL, *state = NULL, *key = NULL;
	char *k, *end;
	long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': url = optarg; break;
		case 'k': key = optarg; break;
		case 'a': ca = optarg; break;
		case 's': state = optarg; break;
		case 'd': lo.device = 1; break;
		case 'p': lo.provider = optarg; break;
		case 't':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 3600) {
				fprintf(stderr, "postern client login: --timeout 1..3600 s\n");
				return 2;
			}
			lo.timeout_s = (unsigned)v;
			break;
		case 'h': return usage(0);
		default: return usage(2);
		}
	}
	if (!url || !ca || !state) {
		fprintf(stderr, "postern client login: --controller, --ca and --state are required\n");
		return 2;
	}
	if (!key) {
		lo.state_dir = state;
		lo.url = url;
		lo.ca_file = ca;
		if ((r = pn_ctlapi_global_init()) == 0)
			r = pn_client_oidc_login(&lo);
		if (r != 0) {
			fprintf(stderr, "postern client login: %s (%s)\n", pn_strerror(r),
				pn_errname(r));
			return 1;
		}
		printf("logged in: credential, access list and relay list written to %s\n", state);
		return 0;
	}
	if (lo.device || lo.provider) {
		fprintf(stderr, "postern client login: --device/--provider are for people, not "
				"with --service-account-key\n");
		return 2;
	}
	if (!(k = key_arg(key))) {
		fprintf(stderr, "postern client login: cannot read %s\n", key + 1);
		return 2;
	}
	if ((r = pn_ctlapi_global_init()) == 0)
		r = pn_ctlapi_login(state, url, ca, k);
	pn_wipe_free_str(k);
	if (r != 0) {
		fprintf(stderr, "postern client login: %s (%s)\n", pn_strerror(r), pn_errname(r));
		return 1;
	}
	printf("logged in: credential, access list and relay list written to %s\n", state);
	return 0;
}

static int cmd_renew(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *state = NULL;
	struct pn_ctlapi *api = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'h': return usage(0);
		default: return usage(2);
		}
	}
	if (!state) {
		fprintf(stderr, "postern client renew: --state is required\n");
		return 2;
	}
	if ((r = pn_ctlapi_global_init()) == 0 && (r = pn_ctlapi_open(state, &api)) == 0)
		r = pn_ctlapi_renew(api);
	pn_ctlapi_free(api);
	if (r != 0) {
		fprintf(stderr, "postern client renew: %s (%s)\n", pn_strerror(r), pn_errname(r));
		return 1;
	}
	printf("renewed: credential and access list in %s\n", state);
	return 0;
}

/*
 * The run options from the effective configuration (strings point into
 * cfg).  0, or PN_E_CONFIG with one "FILE:LINE: key ..." (or "--flag: key
 * ...") message in err.
 */
static int run_config(const struct pn_opts *opts, struct pn_client_config *o, char *err,
		      size_t errsz)
{
	static const unsigned transports[] = {0, PN_RT_UDP, PN_RT_TLS, PN_RT_WS, PN_RT_TLS};
	const struct pn_cfg *cfg = opts->cfg;
	const char *const *items;
	size_t n;
	int64_t ms;
	int r;

	if ((r = pn_opts_require(opts, "client", "state", err, errsz)) != 0)
		return r;
	o->state_dir = pn_cfg_str(cfg, "client", "state");
	n = pn_cfg_list(cfg, "client", "socks", &items);
	for (size_t i = 0; i < n; i++)
		o->socks[o->nsocks++] = items[i];
	n = pn_cfg_list(cfg, "client", "forward", &items);
	for (size_t i = 0; i < n; i++) {
		if (!strchr(items[i], '='))
			return pn_cfg_errorf(cfg, "client", "forward", err, errsz,
					     "expected \"LADDR:LPORT=HOST:PORT\", got \"%.80s\"",
					     items[i]);
		o->forwards[o->nforwards++] = items[i];
	}
	n = pn_cfg_list(cfg, "client", "direct", &items);
	for (size_t i = 0; i < n; i++)
		o->directs[o->ndirects++] = items[i];
	o->transports = transports[pn_cfg_enum_index(cfg, "client", "transport")];
	o->idle_ms = (uint32_t)pn_cfg_duration_ms(cfg, "client", "idle_timeout");
	o->max_flows = (unsigned)pn_cfg_int(cfg, "client", "max_flows");
	ms = pn_cfg_duration_ms(cfg, "client", "renew_interval");
	if (ms != 0 && ms < 2000)
		return pn_cfg_errorf(cfg, "client", "renew_interval", err, errsz,
				     "must be 0 (automatic) or at least 2s");
	o->renew.cap_ms = (uint64_t)ms / 1000 * 1000;
	o->offline = pn_cfg_bool(cfg, "client", "offline");
	o->wss_ca = pn_cfg_str(cfg, "client", "wss_ca");
	o->metrics_listen = pn_cfg_str(cfg, "client", "metrics_listen");
	if ((r = pn_opts_check_metrics(opts, "client", err, errsz)) != 0)
		return r;
	o->transparent = pn_cfg_bool(cfg, "client", "transparent");
	o->topts.dns_listen = pn_cfg_str(cfg, "client", "dns_listen");
	o->topts.dns_mode = pn_cfg_str(cfg, "client", "dns_mode");
	o->topts.pool_v4 = pn_cfg_str(cfg, "client", "pool_v4");
	o->topts.pool_v6 = pn_cfg_str(cfg, "client", "pool_v6");
	if (o->topts.pool_v6 && !strcmp(o->topts.pool_v6, "none"))
		o->topts.pool_v6 = "";
	if (o->nsocks == 0 && o->nforwards == 0 && !o->transparent)
		return pn_cfg_errorf(cfg, "client", "socks", err, errsz,
				     "give at least one socks, forward or transparent "
				     "(--socks, --forward, --transparent)");
	return 0;
}

struct run_ctx {
	struct pn_client *c;
	struct pn_opts *opts;
	uv_signal_t sigint, sigterm, sighup;
	int stopped, err;
};

static void close_signals(struct run_ctx *ctx)
{
	if (ctx->stopped)
		return;
	ctx->stopped = 1;
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
	uv_close((uv_handle_t *)&ctx->sighup, NULL);
}

/* SIGHUP: the log settings; pn_opts_reload logs what needs a restart. */
static void on_hup(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;
	char err[1024];

	(void)sig;
	if (!ctx->stopped && pn_opts_reload(ctx->opts, NULL, NULL, err, sizeof(err)) != 0)
		PN_LOG_ERROR("config", "reload_failed", "err=\"%s\"", err);
}

/* The client stopped on its own (credential revoked). */
static void on_client_stopped(void *arg, int err)
{
	struct run_ctx *ctx = arg;

	ctx->err = err;
	ctx->c = NULL; /* it closes itself */
	close_signals(ctx);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct run_ctx *ctx = h->data;
	struct pn_client *c = ctx->c;

	ctx->c = NULL;
	close_signals(ctx);
	pn_client_close(c, NULL, NULL);
}

/* Run the client until a signal, or until it stops on its own. */
static int run_client(struct pn_client_config *o, struct pn_opts *opts)
{
	struct run_ctx ctx;
	uv_loop_t loop;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.opts = opts;
	o->stopped = on_client_stopped;
	o->arg = &ctx;
	if ((r = uv_loop_init(&loop)) != 0) {
		fprintf(stderr, "postern client run: %s\n", uv_strerror(r));
		return 1;
	}
	if ((r = pn_client_new(&loop, o, &ctx.c)) != 0) {
		uv_run(&loop, UV_RUN_DEFAULT); /* what was opened closes */
		uv_loop_close(&loop);
		fprintf(stderr, "postern client run: %s (%s)\n", pn_strerror(r), pn_errname(r));
		return r == PN_E_CONFIG || r == PN_E_MALFORMED ? 2 : 1;
	}
	uv_signal_init(&loop, &ctx.sigint);
	uv_signal_init(&loop, &ctx.sigterm);
	uv_signal_init(&loop, &ctx.sighup);
	ctx.sigint.data = ctx.sigterm.data = ctx.sighup.data = &ctx;
	uv_signal_start(&ctx.sigint, on_signal, SIGINT);
	uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
	uv_signal_start(&ctx.sighup, on_hup, SIGHUP);
	(void)pn_sdnotify_ready(&loop, "client ready");
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (ctx.err) {
		fprintf(stderr, "postern client run: %s (%s): log in again\n",
			pn_strerror(ctx.err), pn_errname(ctx.err));
		return 1;
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct pn_client_config o;
	struct pn_opts opts;
	char err[1024];
	int r;

	memset(&o, 0, sizeof(o));
	r = pn_opts_parse(&opts, "postern client run", run_opts, NOPTS, argc, argv, err,
			  sizeof(err));
	if (r == PN_OPTS_HELP) {
		r = usage(0);
	} else if (r || (r = run_config(&opts, &o, err, sizeof(err)))) {
		fprintf(stderr, "postern client run: %s\n", err);
		r = 2;
	} else if (opts.check) {
		pn_opts_print(stdout, &opts);
		r = 0;
	} else if (o.transparent && pn_transparent_privileged() != 0) {
		fprintf(stderr, "postern client run: --transparent needs root or CAP_NET_ADMIN "
				"(it changes the routing, nftables and resolv.conf of this host)\n");
		r = 1;
	} else {
		r = run_client(&o, &opts);
	}
	pn_opts_fini(&opts);
	return r;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *state = NULL;
	int c, json = 0, r;
	char *doc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'j': json = 1; break;
		case 'h': return usage(0);
		default: return usage(2);
		}
	}
	if (!state) {
		fprintf(stderr, "postern client status: --state is required\n");
		return 2;
	}
	if ((r = pn_client_status_query(state, &doc)) != 0) {
		fprintf(stderr, "postern client status: no running client for %s (%s)\n", state,
			pn_strerror(r));
		if (!json)
			pn_client_status_idle(state, stdout);
		return 1;
	}
	if (json)
		printf("%s\n", doc);
	else
		r = pn_client_status_print(doc, stdout);
	free(doc);
	return r ? 1 : 0;
}

int pn_cmd_client(int argc, char **argv)
{
	if (argc < 2)
		return usage(2);
	if (is_help(argv[1]))
		return usage(0);
	/* getopt_long starts at argv[1] of the sub-subcommand. */
	optind = 1;
	if (!strcmp(argv[1], "login"))
		return cmd_login(argc - 1, argv + 1);
	if (!strcmp(argv[1], "renew"))
		return cmd_renew(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	fprintf(stderr, "postern client: unknown command '%s'\n\n", argv[1]);
	return usage(2);
}
