/*
 * postern controller init --data DIR [--api-listen host:port] [--hostname n1,n2]
 *                         [--store postgres://...]
 * postern controller run  --data DIR [--api-listen host:port] [--cred-lifetime D]
 *                         [--store URI|PATH]
 * postern controller export-identity --data DIR --out FILE [--passphrase-file F]
 * postern controller join --data NEWDIR --bundle FILE [--passphrase-file F]
 *                         [--store URI] [--api-listen host:port]
 * postern controller migrate-store --data DIR --store URI
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cmds.h"
#include "app/opts.h"
#include "controller/controller.h"
#include "controller/signer.h"
#include "controller/store.h"
#include "core/config.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "core/secret.h"

/* `postern controller run`: flags, --help, the [controller] section. */
static const struct pn_opt run_opts[] = {
    PN_OPT("data", "DIR", "controller", "data", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "the data directory made by init (required)"),
    PN_OPT("api-listen", "HOST:PORT", "controller", "api_listen", PN_CFG_STR, .min = 1,
	   .max = 300,
	   .help = "the HTTPS API's address (default: config.json's, else\n"
		   "127.0.0.1:8443); port 0 picks a free port (printed as url=...)"),
    PN_OPT("cred-lifetime", "DURATION", "controller", "cred_lifetime", PN_CFG_DURATION,
	   .min = PN_CONTROLLER_CRED_TTL_MIN * 1000, .max = PN_CONTROLLER_CRED_TTL_MAX * 1000,
	   .help = "lifetime of every credential issued (enrollment, client\n"
		   "login, renewal), e.g. 30s, 15m, 1h; whole seconds,\n"
		   "10s..24h (default: config.json's credential_ttl_s, else\n"
		   "1h).  Components renew at 1/2..2/3 of it"),
    PN_OPT("store", "URI", "controller", "store", PN_CFG_STR, .min = 1, .max = 4095,
	   .help = "the database (default: config.json's, else SQLite\n"
		   "DIR/controller.db); a libpq URI (postgres://user@host/db\n"
		   "or postgresql:///db?host=/socket/dir) selects PostgreSQL"),
    PN_OPT("signer-processes", "N", "controller", "signer_processes", PN_CFG_INT, .min = 1,
	   .max = PN_SIGNER_PROCESSES_MAX,
	   .help = "CA signer child processes, each holding the CA key, so\n"
		   "issuance and list signing use several cores (default 2;\n"
		   "the signature rate cap is shared by all)"),
    PN_OPT_METRICS("controller"),
    PN_OPTS_LOG,
};
#define NOPTS (sizeof(run_opts) / sizeof(run_opts[0]))

const struct pn_opt *pn_cmd_controller_opts(size_t *n)
{
	*n = NOPTS;
	return run_opts;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: postern controller init --data DIR [--api-listen HOST:PORT] "
		   "[--hostname NAME[,NAME...]]\n"
		   "               [--store URI]\n"
		   "       postern controller run [options]\n\n"
		   "init creates DIR (0700) with the network CA, the API's TLS certificate\n"
		   "(SAN = the host names/addresses given), the database, and prints one\n"
		   "bootstrap admin API key.  It refuses an existing DIR.\n"
		   "  --data DIR                the data directory to create\n"
		   "  --api-listen HOST:PORT    recorded in DIR/config.json (default\n"
		   "                            127.0.0.1:8443)\n"
		   "  --hostname NAME[,NAME...] names/addresses for the API certificate\n"
		   "  --store URI               a PostgreSQL database (postgres://...) instead\n"
		   "                            of SQLite DIR/controller.db; init refuses one\n"
		   "                            that already holds a network.  Several\n"
		   "                            controllers may share it (see join)\n\n"
		   "run serves the HTTPS API until SIGINT/SIGTERM.  SIGHUP reads the\n"
		   "--config file again: the log settings change; other changed keys need\n"
		   "a restart and are logged as reload_ignored.\n");
	pn_opts_help(f, run_opts, NOPTS, 2);
	fprintf(f, "\n"
		   "       postern controller export-identity --data DIR --out FILE\n"
		   "               [--passphrase-file F]\n"
		   "       postern controller join --data NEWDIR --bundle FILE [--passphrase-file F]\n"
		   "               [--store URI] [--api-listen HOST:PORT]\n"
		   "       postern controller migrate-store --data DIR --store URI\n\n"
		   "export-identity writes the network's CA and API keys, encrypted with a\n"
		   "passphrase (>= 12 characters; from --passphrase-file or\n"
		   "$POSTERN_BUNDLE_PASSPHRASE), their certificates and config.json to FILE\n"
		   "(0600).  join creates NEWDIR from such a bundle for another controller of\n"
		   "the same network over the same PostgreSQL database.  migrate-store copies\n"
		   "a stopped controller's store into an empty PostgreSQL database in one\n"
		   "transaction and points DIR/config.json at it (controller.db is kept).\n"
		   "  --out FILE                export-identity: the bundle to write\n"
		   "  --bundle FILE             join: the bundle to read\n"
		   "  --passphrase-file F       the bundle's passphrase (first line of F)\n");
}

/* The bundle passphrase: first line of the file, else the environment. */
static char *passphrase(const char *file)
{
	const char *env = getenv("POSTERN_BUNDLE_PASSPHRASE");
	char *buf = NULL;
	size_t len, n;

	if (!file)
		return env ? strdup(env) : NULL;
	if (pn_file_read(file, 64 * 1024, &buf, &len))
		return NULL;
	n = strcspn(buf, "\r\n");
	pn_wipe(buf + n, len - n); /* the caller wipes the first line */
	return buf;
}

/* export-identity, join, migrate-store */
static int multi(const char *sub, const char *data, const char *store, const char *listen,
		 const char *outf, const char *bundlef, const char *passf)
{
	char *pass = NULL, *bundle = NULL;
	int rc;

	if (!strcmp(sub, "migrate-store")) {
		if (!pn_store_is_pg(store)) {
			fprintf(stderr, "postern controller migrate-store: --store postgres://... "
					"required\n");
			return 2;
		}
		rc = pn_controller_migrate_store(data, store);
		if (rc) {
			fprintf(stderr, "postern controller migrate-store: %s\n", pn_strerror(rc));
			return rc == PN_E_CONFIG || rc == -EEXIST ? 2 : 1;
		}
		printf("store migrated; %s/config.json now names the PostgreSQL database\n", data);
		return 0;
	}
	if (!(pass = passphrase(passf)) || strlen(pass) < PN_BUNDLE_PASS_MIN) {
		fprintf(stderr, "postern controller %s: a passphrase of at least %d characters is "
				"required (--passphrase-file or POSTERN_BUNDLE_PASSPHRASE)\n",
			sub, PN_BUNDLE_PASS_MIN);
		rc = 2;
		goto out;
	}
	if (!strcmp(sub, "export-identity")) {
		if (!outf) {
			fprintf(stderr, "postern controller export-identity: --out FILE required\n");
			rc = 2;
			goto out;
		}
		if ((rc = pn_controller_export_identity(data, pass, &bundle))) {
			fprintf(stderr, "postern controller export-identity: %s\n", pn_strerror(rc));
			rc = 1;
			goto out;
		}
		if ((rc = pn_file_write(outf, bundle, strlen(bundle), 0600, PN_FILE_NOCLOBBER))) {
			fprintf(stderr, "postern controller export-identity: %s: %s\n", outf,
				pn_strerror(rc));
			rc = 1;
			goto out;
		}
		printf("identity bundle written to %s (keys encrypted with the passphrase)\n", outf);
		rc = 0;
		goto out;
	}
	/* join */
	if (!bundlef || pn_file_read(bundlef, 256 * 1024, &bundle, NULL)) {
		fprintf(stderr, "postern controller join: --bundle FILE required and readable\n");
		rc = 2;
		goto out;
	}
	{
		struct pn_controller_join_opts jo = {data, bundle, pass, store, listen};

		if ((rc = pn_controller_join(&jo))) {
			fprintf(stderr, "postern controller join: %s\n", pn_strerror(rc));
			rc = rc == PN_E_CONFIG || rc == -EEXIST ? 2 : 1;
			goto out;
		}
	}
	printf("Controller data directory created: %s (joined the network)\n", data);
	rc = 0;
out:
	pn_wipe_free_str(pass);
	free(bundle);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	struct pn_controller_run_opts ro = {0};
	struct pn_controller *ctl = NULL;
	const struct pn_cfg *cfg;
	struct pn_opts o;
	char err[1024];
	sigset_t set;
	int sig = 0, rc;
	int64_t ms;

	rc = pn_opts_parse(&o, "postern controller run", run_opts, NOPTS, argc, argv, err,
			   sizeof(err));
	cfg = o.cfg;
	if (rc == PN_OPTS_HELP) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	/* whole seconds only: X.509 validity has 1 s resolution */
	if (rc || (rc = pn_opts_require(&o, "controller", "data", err, sizeof(err))) ||
	    (rc = pn_opts_check_metrics(&o, "controller", err, sizeof(err))) ||
	    ((ms = pn_cfg_duration_ms(cfg, "controller", "cred_lifetime")) % 1000 &&
	     (rc = pn_cfg_errorf(cfg, "controller", "cred_lifetime", err, sizeof(err),
				 "whole seconds only")))) {
		fprintf(stderr, "postern controller run: %s\n", err);
		rc = 2;
		goto out;
	}
	if (o.check) {
		pn_opts_print(stdout, &o);
		rc = 0;
		goto out;
	}
	ro.listen_override = pn_cfg_str(cfg, "controller", "api_listen");
	ro.cred_ttl_s = (uint32_t)(ms / 1000);
	ro.store = pn_cfg_str(cfg, "controller", "store");
	ro.metrics_listen = pn_cfg_str(cfg, "controller", "metrics_listen");
	ro.signer_exe = "/proc/self/exe"; /* the CA signer child (controller/signer.h) */
	ro.signer_processes = (unsigned)pn_cfg_int(cfg, "controller", "signer_processes");
	/* Block the stop signals before any thread starts so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = pn_controller_start_opts(pn_cfg_str(cfg, "controller", "data"), &ro, &ctl);
	if (rc) {
		fprintf(stderr, "postern controller run: %s\n", pn_strerror(rc));
		rc = rc == PN_E_CONFIG ? 2 : 1;
		goto out;
	}
	printf("url=%s\n", pn_controller_url(ctl));
	fflush(stdout);
	/* SIGHUP: the log settings; pn_opts_reload logs what needs a restart. */
	/* READY=1 and the watchdog under systemd (Type=notify) */
	while (pn_sdnotify_sigwait(&set, &sig, "controller ready") == 0 && sig == SIGHUP)
		if (pn_opts_reload(&o, NULL, NULL, err, sizeof(err)) != 0)
			PN_LOG_ERROR("config", "reload_failed", "err=\"%s\"", err);
	PN_LOG_INFO("controller", "stopping", "signal=%d", sig);
	pn_controller_stop(ctl);
	rc = 0;
out:
	pn_opts_fini(&o);
	return rc;
}

int pn_cmd_controller(int argc, char **argv)
{
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},	    {"api-listen", required_argument, NULL, 'l'},
		{"hostname", required_argument, NULL, 'H'}, {"log", required_argument, NULL, 'L'},
		{"cred-lifetime", required_argument, NULL, 'T'},
		{"store", required_argument, NULL, 'S'},
		{"out", required_argument, NULL, 'o'},
		{"bundle", required_argument, NULL, 'b'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	const char *data = NULL, *listen = NULL, *hostnames = NULL, *store = NULL, *sub;
	const char *outf = NULL, *bundlef = NULL, *passf = NULL;
	uint32_t cred_ttl_s = 0;
	int64_t ms;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	/* internal: the CA signer child that `run` starts (controller/signer.h) */
	if (!strcmp(sub, "signer"))
		return pn_signer_child_main(argc - 1, argv + 1);
	if (!strcmp(sub, "run"))
		return cmd_run(argc - 1, argv + 1);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'l': listen = optarg; break;
		case 'H': hostnames = optarg; break;
		case 'S': store = optarg; break;
		case 'o': outf = optarg; break;
		case 'b': bundlef = optarg; break;
		case 'P': passf = optarg; break;
		case 'T':
			/* whole seconds only: X.509 validity has 1 s resolution */
			if (pn_cfg_parse_duration(optarg, strlen(optarg), &ms) || ms % 1000 ||
			    ms < (int64_t)PN_CONTROLLER_CRED_TTL_MIN * 1000 ||
			    ms > (int64_t)PN_CONTROLLER_CRED_TTL_MAX * 1000) {
				fprintf(stderr,
					"postern controller: bad --cred-lifetime '%s' (want a "
					"duration of whole seconds from %us to %uh, e.g. 30m)\n",
					optarg, PN_CONTROLLER_CRED_TTL_MIN,
					PN_CONTROLLER_CRED_TTL_MAX / 3600);
				return 2;
			}
			cred_ttl_s = (uint32_t)(ms / 1000);
			break;
		case 'L':
			if (pn_log_set_spec(optarg)) {
				fprintf(stderr, "postern controller: bad --log spec\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !data) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(sub, "export-identity") || !strcmp(sub, "join") ||
	    !strcmp(sub, "migrate-store"))
		return multi(sub, data, store, listen, outf, bundlef, passf);
	if (!strcmp(sub, "init")) {
		struct pn_controller_init_opts o = {data, listen, hostnames, store};

		if (store && !pn_store_is_pg(store)) {
			fprintf(stderr, "postern controller init: --store takes a PostgreSQL URI "
					"(postgres://...); SQLite lives in the data directory\n");
			return 2;
		}
		if (cred_ttl_s) {
			fprintf(stderr, "postern controller init: --cred-lifetime is a run option\n");
			return 2;
		}
		char key[PN_CONTROLLER_KEY_MAX];
		int rc = pn_controller_init(&o, key);

		if (rc) {
			fprintf(stderr, "postern controller init: %s\n", pn_strerror(rc));
			return rc == PN_E_CONFIG || rc == -EEXIST ? 2 : 1;
		}
		printf("Controller data directory created: %s\n"
		       "Bootstrap admin API key (shown once, store it now):\n%s\n",
		       data, key);
		pn_wipe(key, sizeof(key));
		return 0;
	}
	fprintf(stderr, "postern controller: unknown subcommand '%s'\n", sub);
	usage(stderr);
	return 2;
}
