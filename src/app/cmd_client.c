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
    "  run     serve local front ends until SIGINT/SIGTERM\n"
    "          --config FILE             read these options from FILE ([client] and\n"
    "                                    [log] sections, see below); flags given\n"
    "                                    on the command line are added to / override it\n"
    "          --state DIR               state directory written by login\n"
    "          --socks ADDR:PORT         SOCKS5 proxy (CONNECT, UDP ASSOCIATE; names\n"
    "                                    resolved by the connector); repeatable\n"
    "          --forward LADDR:LPORT=HOST:PORT\n"
    "                                    local port-forward to HOST:PORT; repeatable\n"
    "          --transport udp|tls|ws|all relay transports to use (default all:\n"
    "                                    UDP, falling back to TLS, then WebSocket)\n"
    "          --wss-ca FILE             CA certificates (PEM) for the certificates of\n"
    "                                    wss:// relay proxies (default: system store)\n"
    "          --direct ID=IP:PORT       reach connector ID directly over UDP at IP:PORT\n"
    "                                    (its --listen-udp) instead of through a relay\n"
    "          --idle-timeout MS         end a silent tunnel after MS ms (default 30000);\n"
    "                                    on a direct path this bounds failure detection\n"
    "          --max-flows N             concurrent flows per tunnel (default 65536);\n"
    "                                    a full tunnel sends new flows to another\n"
    "                                    connector of the network\n"
    "          --renew-interval S        renew the credential at least every S seconds\n"
    "                                    (default: at two thirds of its lifetime)\n"
    "          --transparent             transparent access (root or CAP_NET_ADMIN):\n"
    "                                    a local DNS responder gives protected names\n"
    "                                    synthetic addresses, resolv.conf points at\n"
    "                                    it, and the kernel hands traffic to them and\n"
    "                                    to address/CIDR resources to the client\n"
    "          --dns-listen ADDR:PORT    the responder's loopback address\n"
    "                                    (default 127.0.0.153:53)\n"
    "          --pool-v4 CIDR            synthetic IPv4 range (default 100.96.0.0/12)\n"
    "          --pool-v6 CIDR|none       synthetic IPv6 range (default fd7a:7073:746e::/48)\n"
    "          --offline                 do not contact the controller (no renewal\n"
    "                                    and no policy updates; until expiry)\n"
    "          --log SPEC                log levels, e.g. info,client=debug\n"
    "          --log-json                JSON log lines\n"
    "  status  show the running client's tunnels: connector, path (relay over\n"
    "          UDP/TLS/WebSocket, or direct), RTT, bytes, flows\n"
    "          --state DIR               state directory of the running client\n"
    "          --json                    print the raw JSON document\n"
    "\n"
    "Destinations outside the access list are refused locally (SOCKS reply\n"
    "0x02 \"not allowed by ruleset\"; a reset for a forward) and the connector\n"
    "checks every flow again.\n"
    "\n"
    "config file (postern client run --config client.conf):\n"
    "  [client]\n"
    "  state = /var/lib/postern/client       # required\n"
    "  socks = [\"127.0.0.1:1080\"]\n"
    "  forward = [\"127.0.0.1:15432=db.corp.example:5432\"]\n"
    "  transport = all                       # udp|tls|ws|all\n"
    "  direct = []                           # [\"ID=IP:PORT\"]\n"
    "  wss_ca = /etc/postern/proxy-ca.pem    # optional, see --wss-ca\n"
    "  idle_timeout = 30s\n"
    "  max_flows = 65536                     # concurrent flows per tunnel\n"
    "  renew_interval = 0s                   # 0: at 2/3 of the lifetime\n"
    "  offline = false\n"
    "  transparent = false                   # see --transparent (root)\n"
    "  dns_listen = 127.0.0.153:53\n"
    "  pool_v4 = 100.96.0.0/12\n"
    "  pool_v6 = fd7a:7073:746e::/48         # or none\n"
    "  [log]\n"
    "  level = info                          # or a spec: info,client=debug\n"
    "  format = text                         # text|json\n"
    "\n"
    "examples:\n"
    "  postern client login --controller https://ctl:8443 --ca ca.crt \\\n"
    "      --service-account-key @sa.key --state ~/.postern\n"
    "  postern client run --state ~/.postern --socks 127.0.0.1:1080 \\\n"
    "      --forward 127.0.0.1:15432=db.corp.example:5432\n"
    "  curl --socks5-hostname 127.0.0.1:1080 http://app.corp.example/\n"
    "  postern client status --state ~/.postern\n";

static int usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
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

/* Schema of `postern client run --config FILE`. */
static const struct pn_cfg_key run_schema[] = {
    PN_CFG_KEY("client", "state", PN_CFG_STR, .required = true, .min = 1, .max = 4095),
    PN_CFG_KEY("client", "socks", PN_CFG_LIST, .max = PN_CLIENT_MAX_LISTEN, .def = "[]"),
    PN_CFG_KEY("client", "forward", PN_CFG_LIST, .max = PN_CLIENT_MAX_LISTEN, .def = "[]"),
    PN_CFG_KEY("client", "direct", PN_CFG_LIST, .max = PN_CLIENT_MAX_LISTEN, .def = "[]"),
    PN_CFG_KEY("client", "transport", PN_CFG_ENUM, .choices = "all|udp|tls|ws", .def = "all"),
    PN_CFG_KEY("client", "idle_timeout", PN_CFG_DURATION, .min = 1000, .max = 600000,
	       .def = "30s"),
    PN_CFG_KEY("client", "renew_interval", PN_CFG_DURATION, .min = 0, .max = 86400000,
	       .def = "0s"),
    PN_CFG_KEY("client", "max_flows", PN_CFG_INT, .min = 1, .max = PN_CLIENT_MAX_FLOWS_MAX,
	       .def = "65536"),
    PN_CFG_KEY("client", "offline", PN_CFG_BOOL, .def = "false"),
    PN_CFG_KEY("client", "wss_ca", PN_CFG_STR, .min = 1, .max = 4095),
    PN_CFG_KEY("client", "transparent", PN_CFG_BOOL, .def = "false"),
    PN_CFG_KEY("client", "dns_listen", PN_CFG_STR, .min = 1, .max = 80),
    PN_CFG_KEY("client", "pool_v4", PN_CFG_STR, .min = 1, .max = 80),
    PN_CFG_KEY("client", "pool_v6", PN_CFG_STR, .min = 1, .max = 80),
    PN_LOG_CFG_KEYS,
};

/*
 * Load FILE into o (strings point into *cfg, which the caller frees after
 * the run).  Prints one "file:line: key ..." message and returns 2 (usage)
 * on any error.
 */
static int load_run_config(const char *path, struct pn_client_config *o, struct pn_cfg **cfg)
{
	static const unsigned transports[] = {0, PN_RT_UDP, PN_RT_TLS, PN_RT_WS};
	char err[512];
	const char *const *items;
	size_t n;
	int64_t ms;

	if (pn_cfg_load_file(cfg, path, run_schema, sizeof(run_schema) / sizeof(run_schema[0]),
			     err, sizeof(err)) != 0 ||
	    pn_log_configure(*cfg, err, sizeof(err)) != 0)
		goto bad;
	o->state_dir = pn_cfg_str(*cfg, "client", "state");
	n = pn_cfg_list(*cfg, "client", "socks", &items);
	for (size_t i = 0; i < n; i++)
		o->socks[o->nsocks++] = items[i];
	n = pn_cfg_list(*cfg, "client", "forward", &items);
	for (size_t i = 0; i < n; i++) {
		if (!strchr(items[i], '=')) {
			pn_cfg_errorf(*cfg, "client", "forward", err, sizeof(err),
				      "expected \"LADDR:LPORT=HOST:PORT\", got \"%s\"", items[i]);
			goto bad;
		}
		o->forwards[o->nforwards++] = items[i];
	}
	n = pn_cfg_list(*cfg, "client", "direct", &items);
	for (size_t i = 0; i < n; i++)
		o->directs[o->ndirects++] = items[i];
	o->transports = transports[pn_cfg_enum_index(*cfg, "client", "transport")];
	o->idle_ms = (uint32_t)pn_cfg_duration_ms(*cfg, "client", "idle_timeout");
	o->max_flows = (unsigned)pn_cfg_int(*cfg, "client", "max_flows");
	ms = pn_cfg_duration_ms(*cfg, "client", "renew_interval");
	if (ms != 0 && ms < 2000) {
		pn_cfg_errorf(*cfg, "client", "renew_interval", err, sizeof(err),
			      "must be 0 (automatic) or at least 2s");
		goto bad;
	}
	o->renew.cap_ms = (uint64_t)ms / 1000 * 1000;
	o->offline = pn_cfg_bool(*cfg, "client", "offline");
	o->wss_ca = pn_cfg_str(*cfg, "client", "wss_ca");
	o->transparent = pn_cfg_bool(*cfg, "client", "transparent");
	o->topts.dns_listen = pn_cfg_str(*cfg, "client", "dns_listen");
	o->topts.pool_v4 = pn_cfg_str(*cfg, "client", "pool_v4");
	o->topts.pool_v6 = pn_cfg_str(*cfg, "client", "pool_v6");
	if (o->topts.pool_v6 && !strcmp(o->topts.pool_v6, "none"))
		o->topts.pool_v6 = "";
	return 0;
bad:
	fprintf(stderr, "postern client run: %s\n", err);
	pn_cfg_free(*cfg);
	*cfg = NULL;
	return 2;
}

struct run_ctx {
	struct pn_client *c;
	uv_signal_t sigint, sigterm;
	int stopped, err;
};

static void close_signals(struct run_ctx *ctx)
{
	if (ctx->stopped)
		return;
	ctx->stopped = 1;
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
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
static int run_client(struct pn_client_config *o)
{
	struct run_ctx ctx;
	uv_loop_t loop;
	int r;

	memset(&ctx, 0, sizeof(ctx));
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
	ctx.sigint.data = ctx.sigterm.data = &ctx;
	uv_signal_start(&ctx.sigint, on_signal, SIGINT);
	uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
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

/* cmd_run with the loaded config owned by the caller (freed on every path). */
static int run_with(int argc, char **argv, struct pn_cfg **cfgp)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'C'},
	    {"state", required_argument, NULL, 's'},
	    {"socks", required_argument, NULL, 'S'},
	    {"forward", required_argument, NULL, 'F'},
	    {"transport", required_argument, NULL, 't'},
	    {"direct", required_argument, NULL, 'd'},
	    {"wss-ca", required_argument, NULL, 'W'},
	    {"idle-timeout", required_argument, NULL, 'i'},
	    {"renew-interval", required_argument, NULL, 'r'},
	    {"max-flows", required_argument, NULL, 'm'},
	    {"offline", no_argument, NULL, 'o'},
	    {"transparent", no_argument, NULL, 'T'},
	    {"dns-listen", required_argument, NULL, 'D'},
	    {"pool-v4", required_argument, NULL, '4'},
	    {"pool-v6", required_argument, NULL, '6'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pn_client_config o;
	int c, r;

	memset(&o, 0, sizeof(o));
	/* The file first, so that flags (parsed next) add to or override it. */
	for (int i = 1; i < argc; i++) {
		const char *path = NULL;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
		if (path) {
			if (*cfgp) {
				fprintf(stderr, "postern client run: --config given twice\n");
				return 2;
			}
			if ((r = load_run_config(path, &o, cfgp)) != 0)
				return r;
		}
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'C': break; /* loaded above */
		case 's': o.state_dir = optarg; break;
		case 'S':
			if (o.nsocks >= PN_CLIENT_MAX_LISTEN)
				return usage(2);
			o.socks[o.nsocks++] = optarg;
			break;
		case 'F':
			if (o.nforwards >= PN_CLIENT_MAX_LISTEN || !strchr(optarg, '=')) {
				fprintf(stderr, "postern client run: bad --forward '%s'\n", optarg);
				return 2;
			}
			o.forwards[o.nforwards++] = optarg;
			break;
		case 't':
			if (!strcmp(optarg, "udp"))
				o.transports = PN_RT_UDP;
			else if (!strcmp(optarg, "tls") || !strcmp(optarg, "tcp"))
				o.transports = PN_RT_TLS;
			else if (!strcmp(optarg, "ws"))
				o.transports = PN_RT_WS;
			else if (!strcmp(optarg, "all"))
				o.transports = 0;
			else
				return usage(2);
			break;
		case 'd':
			if (o.ndirects >= PN_CLIENT_MAX_LISTEN)
				return usage(2);
			o.directs[o.ndirects++] = optarg;
			break;
		case 'o': o.offline = 1; break;
		case 'T': o.transparent = 1; break;
		case 'D': o.topts.dns_listen = optarg; break;
		case '4': o.topts.pool_v4 = optarg; break;
		case '6': o.topts.pool_v6 = strcmp(optarg, "none") ? optarg : ""; break;
		case 'W': o.wss_ca = optarg; break;
		case 'r': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 2 || v > 86400) {
				fprintf(stderr, "postern client run: --renew-interval 2..86400 s\n");
				return 2;
			}
			o.renew.cap_ms = (uint64_t)v * 1000;
			break;
		}
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > PN_CLIENT_MAX_FLOWS_MAX) {
				fprintf(stderr, "postern client run: --max-flows 1..%u\n",
					PN_CLIENT_MAX_FLOWS_MAX);
				return 2;
			}
			o.max_flows = (unsigned)v;
			break;
		}
		case 'i': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1000 || v > 600000) {
				fprintf(stderr,
					"postern client run: --idle-timeout 1000..600000 ms\n");
				return 2;
			}
			o.idle_ms = (uint32_t)v;
			break;
		}
		case 'l':
			if (pn_log_set_spec(optarg) != 0) {
				fprintf(stderr, "postern client run: bad --log '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j': pn_log_setup(PN_LOG_INFO, PN_LOG_JSON, 2); break;
		case 'h': return usage(0);
		default: return usage(2);
		}
	}
	if (!o.state_dir) {
		fprintf(stderr, "postern client run: --state is required\n");
		return 2;
	}
	if (o.nsocks == 0 && o.nforwards == 0 && !o.transparent) {
		fprintf(stderr, "postern client run: give at least one --socks, --forward or "
				"--transparent\n");
		return 2;
	}
	if (o.transparent && pn_transparent_privileged() != 0) {
		fprintf(stderr, "postern client run: --transparent needs root or CAP_NET_ADMIN "
				"(it changes the routing, nftables and resolv.conf of this host)\n");
		return 1;
	}
	return run_client(&o);
}

static int cmd_run(int argc, char **argv)
{
	struct pn_cfg *cfg = NULL;
	int r = run_with(argc, argv, &cfg);
	pn_cfg_free(cfg);
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
