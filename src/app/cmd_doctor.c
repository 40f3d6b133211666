/*
 * postern doctor: read a role's configuration and state, check what it
 * depends on (clock, controller, credential, relays over UDP/TLS/WebSocket,
 * NAT, path MTU, DNS) and say what to do about what fails.  The checks are
 * doctor_checks.c, the probes doctor_net.c, the report doctor.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "app/cmds.h"
#include "app/doctor_checks.h"
#include "app/opts.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "ctlapi/ctlapi.h"

#define TIMEOUT_DEF_S 5
#define TIMEOUT_MAX_S 60

static const char usage_text[] =
    "usage: postern doctor [--role client|connector|relay|controller] [--config FILE]\n"
    "                      [--state DIR] [--json] [--timeout S]\n"
    "\n"
    "Checks what a role needs, from its configuration and state directory:\n"
    "the clock against the controller, the controller and the pinned CA,\n"
    "the credential's expiry, every relay over UDP (STUN), TLS and WebSocket,\n"
    "the NAT kind and the path MTU (client, connector), transparent DNS\n"
    "(client).  Prints a table (--json: the same as JSON) and what to do\n"
    "about each failure; exits 0 when nothing failed, 1 otherwise, 2 on a\n"
    "usage or configuration error.  Changes nothing; every check has a\n"
    "deadline.\n"
    "\n"
    "options:\n"
    "  --role ROLE               client (default), connector, relay or controller\n"
    "  --config FILE             the role's configuration file (default\n"
    "                            /etc/postern/ROLE.conf when it exists)\n"
    "  --state DIR               the role's state directory (controller: the data\n"
    "                            directory); overrides the configuration's\n"
    "                            (default /var/lib/postern/ROLE)\n"
    "  --json                    print the report as JSON\n"
    "  --timeout S               deadline of each check in seconds (default 5)\n"
    "  --help                    this text\n";

struct role {
	const char *name;
	const struct pn_opt *(*opts)(size_t *n);
	enum pn_cred_type type;
};

static const struct role roles[] = {
	{"client", pn_cmd_client_opts, PN_CRED_CLIENT},
	{"connector", pn_cmd_connector_opts, PN_CRED_CONNECTOR},
	{"relay", pn_cmd_relay_opts, PN_CRED_RELAY},
	{"controller", pn_cmd_controller_opts, PN_CRED_ANY},
};

/* Storage behind struct pn_doc_input's pointers. */
struct doc_paths {
	char ca[4200], cert[4200], key[4200];
	char state[4096];
};

static void path_in(char *out, size_t n, const char *dir, const char *file)
{
	snprintf(out, n, "%s/%s", dir, file);
}

/* controller.json's url (components), or the controller's own address. */
static void read_url(const char *dir, struct pn_doc_input *in)
{
	char p[4200];
	json_t *j;

	path_in(p, sizeof(p), dir, "controller.json");
	if ((j = json_load_file(p, 0, NULL))) {
		const char *u = json_string_value(json_object_get(j, "url"));
		if (u)
			snprintf(in->url, sizeof(in->url), "%s", u);
		json_decref(j);
	}
}

/* The controller's own API: config.json's first hostname (its certificate
 * names it) and the listen port. */
static void read_controller_url(const char *dir, const char *listen, struct pn_doc_input *in)
{
	char p[4200], host[300] = "127.0.0.1";
	const char *l = listen, *port;
	json_t *j;

	path_in(p, sizeof(p), dir, "config.json");
	j = json_load_file(p, 0, NULL);
	if (!l)
		l = json_string_value(json_object_get(j, "listen"));
	if (!l)
		l = "127.0.0.1:8443";
	if (json_string_value(json_array_get(json_object_get(j, "hostnames"), 0)))
		snprintf(host, sizeof(host), "%s",
			 json_string_value(json_array_get(json_object_get(j, "hostnames"), 0)));
	port = strrchr(l, ':');
	snprintf(in->url, sizeof(in->url), "https://%s%s%s%s", strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", port ? port : ":8443");
	json_decref(j);
}

static void skip_relay(size_t index, const char *name, int err, const char *why, void *arg)
{
	(void)arg;
	fprintf(stderr, "postern doctor: relay #%zu (%s) skipped: %s (%s)\n", index + 1, name, why,
		pn_errname(err));
}

static void read_relays_json(const char *dir, struct pn_doc_input *in)
{
	char p[4200], *text = NULL;
	size_t len;

	path_in(p, sizeof(p), dir, "relays.json");
	if (pn_file_read(p, 1u << 20, &text, &len) == 0)
		(void)pn_relays_parse_json(text, len, in->relays, PN_RELAYS_MAX, &in->nrelays,
					   skip_relay, NULL);
	free(text);
}

/* A listen address as a destination: the wildcard means this host. */
static void self_addr(const char *listen, char *out, size_t n)
{
	if (!strncmp(listen, "0.0.0.0:", 8))
		snprintf(out, n, "127.0.0.1%s", listen + 7);
	else if (!strncmp(listen, "[::]:", 5))
		snprintf(out, n, "[::1]%s", listen + 4);
	else
		snprintf(out, n, "%s", listen);
}

/* Fill *in from the role's effective configuration.  0 or PN_E_CONFIG with err. */
static int gather(const struct role *ro, const struct pn_cfg *cfg, const char *state_flag,
		  struct doc_paths *ps, struct pn_doc_input *in, char *err, size_t errsz)
{
	const char *sec = ro->name, *state;
	char def[64];

	memset(in, 0, sizeof(*in));
	in->role = ro->name;
	in->type = ro->type;
	state = state_flag ? state_flag
			   : pn_cfg_str(cfg, sec, !strcmp(sec, "controller") ? "data" : "state");
	snprintf(def, sizeof(def), "/var/lib/postern/%s", ro->name);
	if (!state && strcmp(sec, "client"))
		state = def;
	if (!state) {
		snprintf(err, errsz, "no state directory: give --state DIR or --config FILE");
		return PN_E_CONFIG;
	}
	snprintf(ps->state, sizeof(ps->state), "%s", state);
	in->state = ps->state;
	if (!strcmp(sec, "controller")) {
		path_in(ps->ca, sizeof(ps->ca), state, "ca.crt");
		in->ca_file = ps->ca;
		read_controller_url(state, pn_cfg_str(cfg, sec, "api_listen"), in);
		return 0;
	}
	path_in(ps->ca, sizeof(ps->ca), state, "ca.crt");
	path_in(ps->cert, sizeof(ps->cert), state, "cert.pem");
	path_in(ps->key, sizeof(ps->key), state, "key.pem");
	in->ca_file = ps->ca;
	in->cert_file = ps->cert;
	in->key_file = ps->key;
	if (strcmp(sec, "client")) { /* explicit files of connector and relay */
		if (pn_cfg_str(cfg, sec, "ca"))
			in->ca_file = pn_cfg_str(cfg, sec, "ca");
		if (pn_cfg_str(cfg, sec, "cert"))
			in->cert_file = pn_cfg_str(cfg, sec, "cert");
		if (pn_cfg_str(cfg, sec, "key"))
			in->key_file = pn_cfg_str(cfg, sec, "key");
	}
	read_url(state, in);
	in->timeout_ms = TIMEOUT_DEF_S * 1000;
	if (!strcmp(sec, "relay")) {
		/* The relay itself: its own UDP and TLS (and WebSocket) ports. */
		const char *udp = pn_cfg_str(cfg, sec, "udp"), *tls = pn_cfg_str(cfg, sec, "tls");
		const char *ws = pn_cfg_str(cfg, sec, "ws_path");
		struct pn_relay_entry *e = &in->relays[0];

		snprintf(e->name, sizeof(e->name), "self");
		if (udp)
			self_addr(udp, e->udp, sizeof(e->udp));
		if (tls)
			self_addr(tls, e->tls, sizeof(e->tls));
		if (tls && ws)
			snprintf(e->ws, sizeof(e->ws), "ws://%s%s", e->tls, ws);
		in->nrelays = udp || tls;
		in->udp_used = 1;
		return 0;
	}
	in->ping = 1;
	in->nat = 1;
	in->udp_used = 1;
	in->wss_ca = pn_cfg_str(cfg, sec, "wss_ca");
	if (!strcmp(sec, "connector")) {
		const char *const *specs;
		size_t n = pn_cfg_list(cfg, sec, "relays", &specs);

		for (size_t i = 0; i < n && in->nrelays < PN_RELAYS_MAX; i++) {
			const char *why = "";
			if (pn_relay_spec_parse(specs[i], &in->relays[in->nrelays], &why) == 0)
				in->relays[in->nrelays++].index = i;
			else
				fprintf(stderr, "postern doctor: relay '%s' skipped: %s\n", specs[i],
					why);
		}
		if (!n)
			read_relays_json(state, in);
		return 0;
	}
	read_relays_json(state, in);
	in->client = 1;
	in->transparent = pn_cfg_bool(cfg, sec, "transparent");
	in->dns_listen = pn_cfg_str(cfg, sec, "dns_listen");
	in->dns_mode = pn_cfg_str(cfg, sec, "dns_mode");
	{
		const char *t = pn_cfg_enum(cfg, sec, "transport");
		in->udp_used = !t || !strcmp(t, "all") || !strcmp(t, "udp");
	}
	return 0;
}

int pn_cmd_doctor(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"role", required_argument, NULL, 'r'},  {"config", required_argument, NULL, 'c'},
	    {"state", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *role = "client", *config = NULL, *state = NULL;
	const struct role *ro = NULL;
	struct pn_doc_report *rep = NULL;
	struct pn_doc_input in;
	struct doc_paths ps;
	struct pn_opts o;
	const struct pn_opt *tab;
	char err[1024], defconf[64], *end;
	char *rargv[4];
	int c, json = 0, rc = 2, rargc = 1;
	long timeout = TIMEOUT_DEF_S;
	size_t ntab;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': role = optarg; break;
		case 'c': config = optarg; break;
		case 's': state = optarg; break;
		case 'j': json = 1; break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*end || timeout < 1 || timeout > TIMEOUT_MAX_S) {
				fprintf(stderr, "postern doctor: --timeout 1..%d seconds\n",
					TIMEOUT_MAX_S);
				return 2;
			}
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		default:
			fprintf(stderr, "postern doctor: bad option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "postern doctor: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (!strcmp(role, roles[i].name))
			ro = &roles[i];
	if (!ro) {
		fprintf(stderr, "postern doctor: --role client, connector, relay or controller\n");
		return 2;
	}
	snprintf(defconf, sizeof(defconf), "/etc/postern/%s.conf", ro->name);
	if (!config && strcmp(ro->name, "client") && access(defconf, R_OK) == 0)
		config = defconf;
	/* The role's own loader: its schema, its file:line:key errors. */
	rargv[0] = "doctor";
	if (config) {
		rargv[rargc++] = "--config";
		rargv[rargc++] = (char *)config;
	}
	rargv[rargc] = NULL;
	tab = ro->opts(&ntab);
	if (pn_opts_parse(&o, "postern doctor", tab, ntab, rargc, rargv, err, sizeof(err))) {
		fprintf(stderr, "postern doctor: %s\n", err);
		goto out;
	}
	/* The report is the output; library warnings would only repeat it. */
	(void)pn_log_set_spec("error");
	if (gather(ro, o.cfg, state, &ps, &in, err, sizeof(err))) {
		fprintf(stderr, "postern doctor: %s\n", err);
		goto out;
	}
	in.timeout_ms = (unsigned)timeout * 1000;
	if (pn_ctlapi_global_init() || !(rep = calloc(1, sizeof(*rep)))) {
		fprintf(stderr, "postern doctor: cannot start (libcurl missing, or out of memory)\n");
		rc = 1;
		goto out;
	}
	pn_doc_run(&in, rep);
	if (json)
		pn_doc_print_json(rep, stdout);
	else
		pn_doc_print_table(rep, stdout);
	fflush(stdout);
	rc = pn_doc_exit_code(rep);
out:
	free(rep);
	pn_opts_fini(&o);
	return rc;
}
