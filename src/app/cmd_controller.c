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
#include "controller/controller.h"
#include "controller/store.h"
#include "core/config.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "core/secret.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: postern controller init --data DIR [--api-listen HOST:PORT] "
		   "[--hostname NAME[,NAME...]]\n"
		   "       postern controller run --data DIR [--api-listen HOST:PORT] "
		   "[--cred-lifetime DURATION] [--log SPEC]\n\n"
		   "init creates DIR (0700) with the network CA, the API's TLS certificate\n"
		   "(SAN = the host names/addresses given), the database, and prints one\n"
		   "bootstrap admin API key.  It refuses an existing DIR.\n"
		   "run serves the HTTPS API until SIGINT/SIGTERM.  Default listen\n"
		   "127.0.0.1:8443; port 0 picks a free port (printed as url=...).\n"
		   "--cred-lifetime: lifetime of every credential issued (enrollment,\n"
		   "client login, renewal), e.g. 30s, 15m, 1h (default 1h, or config.json's\n"
		   "credential_ttl_s); 10s..24h.  Components renew at 1/2..2/3 of it.\n"
		   "--store: the database.  Default: SQLite DIR/controller.db.  A libpq URI\n"
		   "(postgres://user@host/db or postgresql:///db?host=/socket/dir) selects\n"
		   "PostgreSQL; init records it in DIR/config.json (and refuses a database\n"
		   "that already holds a network); run may override it.  Several\n"
		   "controllers may share one PostgreSQL database (see controller join).\n\n"
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
		   "transaction and points DIR/config.json at it (controller.db is kept).\n");
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
	if (!strcmp(sub, "run")) {
		struct pn_controller_run_opts ro = {listen, cred_ttl_s, store};
		struct pn_controller *ctl = NULL;
		sigset_t set;
		int sig = 0, rc;

		/* Block the stop signals before any thread starts so only sigwait sees them. */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		signal(SIGPIPE, SIG_IGN);
		rc = pn_controller_start_opts(data, &ro, &ctl);
		if (rc) {
			fprintf(stderr, "postern controller run: %s\n", pn_strerror(rc));
			return rc == PN_E_CONFIG ? 2 : 1;
		}
		printf("url=%s\n", pn_controller_url(ctl));
		fflush(stdout);
		pn_sdnotify_sigwait(&set, &sig, "controller ready"); /* READY=1, watchdog */
		PN_LOG_INFO("controller", "stopping", "signal=%d", sig);
		pn_controller_stop(ctl);
		return 0;
	}
	fprintf(stderr, "postern controller: unknown subcommand '%s'\n", sub);
	usage(stderr);
	return 2;
}
