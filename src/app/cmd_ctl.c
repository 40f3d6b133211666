/*
 * postern ctl: the admin CLI for the controller's HTTPS API.
 *
 *   postern ctl [--url URL] [--key KEY] [--ca FILE] [--json] OBJECT VERB [ARGS] [OPTIONS]
 *
 * Configuration: flags, else POSTERN_CONTROLLER_URL, POSTERN_API_KEY,
 * POSTERN_CA_CERT.  The controller is verified against the given CA only.
 * Exit codes: 0 ok, 1 server/runtime error (incl. rejected input),
 * 2 usage, 3 authentication/authorization (401/403), 4 not found (404).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/cmds.h"
#include "client/oidc_login.h"
#include "core/err.h"
#include "core/secret.h"
#include "ctlapi/curl_dl.h"

#define EX_OK 0
#define EX_RUNTIME 1
#define EX_USAGE 2
#define EX_AUTH 3
#define EX_NOTFOUND 4
#define MAXARGS 16

struct ctl {
	const char *url, *key, *ca;
	int json;
	/* the command line after OBJECT VERB: positionals and --opt values */
	const char *pos[MAXARGS];
	int npos;
	const char *optk[MAXARGS], *optv[MAXARGS];
	int nopt;
};

struct sink {
	char *p;
	size_t n;
};

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	char *nb;

	if (s->n + sz * n > (64u << 20))
		return 0;
	nb = realloc(s->p, s->n + sz * n + 1);
	if (!nb)
		return 0;
	s->p = nb;
	memcpy(s->p + s->n, p, sz * n);
	s->n += sz * n;
	s->p[s->n] = '\0';
	return sz * n;
}

static int exit_for(long status)
{
	if (status >= 200 && status < 300)
		return EX_OK;
	if (status == 401 || status == 403)
		return EX_AUTH;
	if (status == 404)
		return EX_NOTFOUND;
	return EX_RUNTIME;
}

/* libcurl is loaded at run time (ctlapi/curl_dl.h): 1 if it is, else 0
 * with the reason printed. */
static int curl_loaded(void)
{
	char err[256];

	if (!pn_curl_load(err, sizeof(err)))
		return 1;
	fprintf(stderr, "postern ctl: %s\n", err);
	return 0;
}

/* One API call; prints errors; *reply set on 2xx (JSON or NULL for raw). */
static int api(struct ctl *c, const char *method, const char *path, json_t *body, json_t **reply,
	       char **raw)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct sink s = {0};
	char url[2048], auth[200], *text = NULL;
	long status = 0;
	CURLcode cc;
	int ex;

	*reply = NULL;
	if (!h)
		return EX_RUNTIME;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->key);
	hd = curl_slist_append(hd, auth);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		hd = curl_slist_append(hd, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	cc = curl_easy_perform(h);
	pn_wipe(auth, sizeof(auth));
	if (cc != CURLE_OK) {
		fprintf(stderr, "postern ctl: %s: %s\n", url, curl_easy_strerror(cc));
		ex = EX_RUNTIME;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	ex = exit_for(status);
	if (ex) {
		json_t *e = s.p ? json_loads(s.p, 0, NULL) : NULL;
		json_t *err = json_object_get(e, "error");

		fprintf(stderr, "postern ctl: %ld %s: %s\n", status,
			json_string_value(json_object_get(err, "code")) ?: "error",
			json_string_value(json_object_get(err, "message")) ?: (s.p ?: ""));
		json_decref(e);
		goto out;
	}
	if (raw) {
		*raw = s.p;
		s.p = NULL;
	} else {
		*reply = s.p ? json_loads(s.p, 0, NULL) : NULL;
		if (!*reply) {
			fprintf(stderr, "postern ctl: unparsable reply\n");
			ex = EX_RUNTIME;
		}
	}
out:
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	free(text);
	free(s.p);
	return ex;
}

static const char *opt(const struct ctl *c, const char *k)
{
	for (int i = 0; i < c->nopt; i++)
		if (!strcmp(c->optk[i], k))
			return c->optv[i];
	return NULL;
}

/* Escape a path segment. */
static char *seg(const char *s)
{
	return curl_easy_escape(NULL, s, 0);
}

static void cell(json_t *v, char *out, size_t n)
{
	if (json_is_string(v)) {
		snprintf(out, n, "%s", json_string_value(v));
	} else if (json_is_null(v) || !v) {
		snprintf(out, n, "-");
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(out, n, "%s", t ? t : "?");
		free(t);
	}
}

/* Print an array of objects as a table with the given columns. */
static void table(json_t *rows, const char *const *cols)
{
	size_t w[16] = {0}, i, k, ncol = 0;
	json_t *row;
	char buf[512];

	while (cols[ncol] && ncol < 16)
		ncol++;
	for (k = 0; k < ncol; k++)
		w[k] = strlen(cols[k]);
	json_array_foreach(rows, i, row)
		for (k = 0; k < ncol; k++) {
			cell(json_object_get(row, cols[k]), buf, sizeof(buf));
			if (strlen(buf) > w[k])
				w[k] = strlen(buf);
		}
	for (k = 0; k < ncol; k++) {
		for (const char *p = cols[k]; *p; p++)
			putchar(*p == '_' ? ' ' : *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		printf("%*s", (int)(w[k] - strlen(cols[k]) + 2), "");
	}
	putchar('\n');
	json_array_foreach(rows, i, row) {
		for (k = 0; k < ncol; k++) {
			cell(json_object_get(row, cols[k]), buf, sizeof(buf));
			printf("%-*s", (int)(w[k] + 2), buf);
		}
		putchar('\n');
	}
}

static void show(json_t *obj)
{
	const char *k;
	json_t *v;
	char buf[4096];

	json_object_foreach(obj, k, v) {
		cell(v, buf, sizeof(buf));
		printf("%-18s %s\n", k, buf);
	}
}

/* Print a reply: JSON when asked, else a table for lists, fields for objects. */
static int out(struct ctl *c, json_t *reply, const char *listkey, const char *const *cols)
{
	if (c->json) {
		char *t = json_dumps(reply, JSON_INDENT(2));

		puts(t ? t : "null");
		free(t);
	} else if (listkey && json_is_array(json_object_get(reply, listkey))) {
		table(json_object_get(reply, listkey), cols);
	} else {
		show(reply);
	}
	json_decref(reply);
	return EX_OK;
}

/* Print a freshly created secret prominently. */
static int out_secret(struct ctl *c, json_t *reply, const char *field, const char *what)
{
	if (!c->json && json_string_value(json_object_get(reply, field))) {
		printf("%s (shown once):\n%s\n", what, json_string_value(json_object_get(reply, field)));
		json_decref(reply);
		return EX_OK;
	}
	return out(c, reply, NULL, NULL);
}

struct objdef {
	const char *name;  /* CLI object */
	const char *path;  /* API collection */
	const char *listkey;
	const char *cols[8];
};

static const struct objdef objs[] = {
	{"network", "networks", "networks", {"id", "name", NULL}},
	{"resource", "resources", "resources", {"id", "name", "address", "protocols", "network_id", NULL}},
	{"group", "groups", "groups", {"id", "name", NULL}},
	{"user", "users", "users", {"id", "name", "email", "disabled", NULL}},
	{"member", "memberships", "memberships", {"id", "group_id", "user_id", "service_account_id", NULL}},
	{"grant", "policies", "policies", {"id", "group_id", "resource_id", NULL}},
	{"connector", "connectors", "connectors", {"id", "name", "network_id", "enrolled", "revoked", NULL}},
	{"relay", "relays", "relays", {"id", "name", "udp", "tls", "ws", "enrolled", "revoked", NULL}},
	{"service-account", "service-accounts", "service_accounts", {"id", "name", "disabled", NULL}},
	{"admin-key", "admin-keys", "admin_keys", {"id", "name", "role", "revoked", NULL}},
	{"credential", "credentials", "credentials", {"serial", "type", "name", "holder_id", "not_after", "revoked", NULL}},
};

static json_t *ports_list(const char *s)
{
	json_t *arr = json_array();
	char *dup = strdup(s), *save = NULL;

	for (char *t = strtok_r(dup, ",", &save); t && arr; t = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_string(t));
	free(dup);
	return arr;
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "postern ctl: %s (see 'postern ctl --help')\n", msg);
	return EX_USAGE;
}

/* Run OBJECT VERB for the collection objects. */
static int run_obj(struct ctl *c, const struct objdef *o, const char *verb)
{
	char path[1024], *e1 = NULL, *e2 = NULL;
	json_t *body = NULL, *reply = NULL;
	int ex;

	if (c->npos >= 1)
		e1 = seg(c->pos[0]);
	if (c->npos >= 2)
		e2 = seg(c->pos[1]);
	if (!strcmp(verb, "list")) {
		char q[512] = "";
		const char *filters[] = {"network", "group", "resource", "user", "service-account",
					 "holder", NULL};
		for (int i = 0; filters[i]; i++) {
			const char *v = opt(c, filters[i]);
			char *ev = v ? seg(v) : NULL;

			if (ev)
				snprintf(q + strlen(q), sizeof(q) - strlen(q), "%c%s=%s",
					 q[0] ? '&' : '?',
					 strcmp(filters[i], "service-account") ? filters[i]
									       : "service_account",
					 ev);
			curl_free(ev);
		}
		snprintf(path, sizeof(path), "/v1/%s%s", o->path, q);
		ex = api(c, "GET", path, NULL, &reply, NULL);
		ex = ex ? ex : out(c, reply, o->listkey, o->cols);
		goto done;
	}
	if (!strcmp(verb, "show") || !strcmp(verb, "delete") || !strcmp(verb, "revoke") ||
	    !strcmp(verb, "token") || !strcmp(verb, "disable") || !strcmp(verb, "enable") ||
	    !strcmp(verb, "keys") || !strcmp(verb, "key-add")) {
		if (c->npos != 1 && !(!strcmp(o->name, "grant") && !strcmp(verb, "delete") &&
				      c->npos == 2)) {
			ex = usage_err("expected one argument: ID or NAME");
			goto done;
		}
	}
	if (!strcmp(verb, "show")) {
		snprintf(path, sizeof(path), "/v1/%s/%s", o->path, e1);
		ex = api(c, "GET", path, NULL, &reply, NULL);
		ex = ex ? ex : out(c, reply, NULL, NULL);
	} else if (!strcmp(verb, "delete") && !strcmp(o->name, "grant") && c->npos == 2) {
		/* grant delete GROUP RESOURCE: find the policy, delete it */
		json_t *pols;

		snprintf(path, sizeof(path), "/v1/policies?group=%s&resource=%s", e1, e2);
		if ((ex = api(c, "GET", path, NULL, &reply, NULL)))
			goto done;
		pols = json_object_get(reply, "policies");
		if (json_array_size(pols) != 1) {
			fprintf(stderr, "postern ctl: no such grant\n");
			json_decref(reply);
			ex = EX_NOTFOUND;
			goto done;
		}
		snprintf(path, sizeof(path), "/v1/policies/%s",
			 json_string_value(json_object_get(json_array_get(pols, 0), "id")));
		json_decref(reply);
		ex = api(c, "DELETE", path, NULL, &reply, NULL);
		ex = ex ? ex : out(c, reply, NULL, NULL);
	} else if (!strcmp(verb, "delete") || !strcmp(verb, "revoke")) {
		const char *method = "DELETE";

		if (!strcmp(verb, "revoke") && strcmp(o->name, "admin-key"))
			snprintf(path, sizeof(path), "/v1/%s/%s/revoke", o->path, e1), method = "POST";
		else
			snprintf(path, sizeof(path), "/v1/%s/%s", o->path, e1);
		ex = api(c, method, path, NULL, &reply, NULL);
		ex = ex ? ex : out(c, reply, NULL, NULL);
	} else if (!strcmp(verb, "token")) {
		snprintf(path, sizeof(path), "/v1/%s/%s/tokens", o->path, e1);
		ex = api(c, "POST", path, NULL, &reply, NULL);
		ex = ex ? ex : out_secret(c, reply, "enrollment_token", "Enrollment token");
	} else if (!strcmp(verb, "disable") || !strcmp(verb, "enable")) {
		body = json_pack("{s:b}", "disabled", !strcmp(verb, "disable"));
		snprintf(path, sizeof(path), "/v1/%s/%s", o->path, e1);
		ex = api(c, "PATCH", path, body, &reply, NULL);
		ex = ex ? ex : out(c, reply, NULL, NULL);
	} else if (!strcmp(verb, "keys")) {
		static const char *const cols[] = {"id", "revoked", "created", NULL};

		snprintf(path, sizeof(path), "/v1/%s/%s/keys", o->path, e1);
		ex = api(c, "GET", path, NULL, &reply, NULL);
		ex = ex ? ex : out(c, reply, "keys", cols);
	} else if (!strcmp(verb, "key-add")) {
		snprintf(path, sizeof(path), "/v1/%s/%s/keys", o->path, e1);
		ex = api(c, "POST", path, NULL, &reply, NULL);
		ex = ex ? ex : out_secret(c, reply, "api_key", "Service-account API key");
	} else if (!strcmp(verb, "key-revoke")) {
		if (c->npos != 2) {
			ex = usage_err("expected SERVICE-ACCOUNT KEY-ID");
			goto done;
		}
		snprintf(path, sizeof(path), "/v1/%s/%s/keys/%s", o->path, e1, e2);
		ex = api(c, "DELETE", path, NULL, &reply, NULL);
		ex = ex ? ex : out(c, reply, NULL, NULL);
	} else if (!strcmp(verb, "add") || !strcmp(verb, "update")) {
		int upd = !strcmp(verb, "update");
		const char *v;

		body = json_object();
		if (!strcmp(o->name, "connector") && !upd) {
			if (c->npos != 2) {
				ex = usage_err("usage: ctl connector add NETWORK NAME");
				goto done;
			}
			json_object_set_new(body, "network", json_string(c->pos[0]));
			json_object_set_new(body, "name", json_string(c->pos[1]));
		} else if (!strcmp(o->name, "grant")) {
			if (c->npos != 2) {
				ex = usage_err("usage: ctl grant add GROUP RESOURCE");
				goto done;
			}
			json_object_set_new(body, "group", json_string(c->pos[0]));
			json_object_set_new(body, "resource", json_string(c->pos[1]));
		} else if (!strcmp(o->name, "member")) {
			if (c->npos != 1 || !!opt(c, "user") == !!opt(c, "service-account")) {
				ex = usage_err("usage: ctl member add GROUP --user U | --service-account S");
				goto done;
			}
			json_object_set_new(body, "group", json_string(c->pos[0]));
			if ((v = opt(c, "user")))
				json_object_set_new(body, "user", json_string(v));
			if ((v = opt(c, "service-account")))
				json_object_set_new(body, "service_account", json_string(v));
		} else {
			char autoname[65];

			/* a resource may be named after its address */
			if (!upd && c->npos == 0 && !strcmp(o->name, "resource") &&
			    (v = opt(c, "address"))) {
				size_t k;

				for (k = 0; v[k] && k < sizeof(autoname) - 1; k++)
					autoname[k] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
							     "OPQRSTUVWXYZ0123456789.-_@", v[k]) ? v[k] : '_';
				autoname[k] = '\0';
				c->pos[c->npos++] = autoname;
			}
			if (c->npos != 1) {
				ex = usage_err(upd ? "expected ID or NAME" : "expected NAME");
				goto done;
			}
			if (!upd)
				json_object_set_new(body, "name", json_string(c->pos[0]));
			else if ((v = opt(c, "name")))
				json_object_set_new(body, "name", json_string(v));
			static const char *const str_opts[] = {"network", "address", "email", "udp",
							       "tls", "ws", "role", NULL};
			for (int i = 0; str_opts[i]; i++)
				if ((v = opt(c, str_opts[i])))
					json_object_set_new(body, str_opts[i], json_string(v));
			if ((v = opt(c, "ports")))
				json_object_set_new(body, "protocols", ports_list(v));
			if (!strcmp(o->name, "service-account")) {
				json_t *groups = json_array();

				for (int i = 0; i < c->nopt; i++)
					if (!strcmp(c->optk[i], "group"))
						json_array_append_new(groups, json_string(c->optv[i]));
				json_object_set_new(body, "groups", groups);
			}
			if (!strcmp(o->name, "admin-key") && !opt(c, "role"))
				json_object_set_new(body, "role", json_string("admin"));
		}
		if (upd)
			snprintf(path, sizeof(path), "/v1/%s/%s", o->path, e1);
		else
			snprintf(path, sizeof(path), "/v1/%s", o->path);
		ex = api(c, upd ? "PATCH" : "POST", path, body, &reply, NULL);
		if (!ex && json_object_get(reply, "enrollment_token"))
			ex = out_secret(c, reply, "enrollment_token", "Enrollment token");
		else if (!ex && json_object_get(reply, "api_key"))
			ex = out_secret(c, reply, "api_key", "API key");
		else if (!ex)
			ex = out(c, reply, NULL, NULL);
	} else {
		ex = usage_err("unknown verb");
	}
done:
	json_decref(body);
	curl_free(e1);
	curl_free(e2);
	return ex;
}

static int run_audit(struct ctl *c, int flows)
{
	static const char *const acols[] = {"seq", "ts", "actor", "action", "kind", "object_id", NULL};
	static const char *const fcols[] = {"seq", "ts_ms", "event", "verdict", "user", "dest",
					    "port", "proto", "reason", NULL};
	static const char *const keys[] = {"after", "limit", "since", "until", "resource", "client",
					   "verdict", NULL};
	char path[1024];
	json_t *reply = NULL;
	char *raw = NULL;
	int ex;

	snprintf(path, sizeof(path), "/v1/%s", flows ? "flow-events" : "audit");
	for (int i = 0; keys[i]; i++) {
		const char *v = opt(c, keys[i]);
		char *ev = v ? seg(v) : NULL;

		if (ev)
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "%c%s=%s",
				 strchr(path, '?') ? '&' : '?', keys[i], ev);
		curl_free(ev);
	}
	if (flows && opt(c, "jsonl")) {
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%cformat=jsonl",
			 strchr(path, '?') ? '&' : '?');
		ex = api(c, "GET", path, NULL, &reply, &raw);
		if (!ex && raw) /* an empty export has no body */
			fputs(raw, stdout);
		free(raw);
		return ex;
	}
	ex = api(c, "GET", path, NULL, &reply, NULL);
	return ex ? ex : out(c, reply, flows ? "flow_events" : "audit", flows ? fcols : acols);
}

/* `ctl login`: an admin session through the identity provider; the key
 * alone goes to stdout (export POSTERN_API_KEY=$(postern ctl login ...)). */
static int run_login(struct ctl *c)
{
	struct pn_oidc_login_opts lo = {0};
	json_t *res = NULL;
	const char *key;
	int rc;

	lo.url = c->url;
	lo.ca_file = c->ca;
	lo.purpose = "admin";
	lo.result = &res;
	lo.device = opt(c, "device") != NULL;
	lo.provider = opt(c, "provider");
	rc = pn_client_oidc_login(&lo);
	key = json_string_value(json_object_get(res, "admin_session"));
	if (rc || !key) {
		fprintf(stderr, "postern ctl login: %s (%s)\n", pn_strerror(rc ? rc : PN_E_CTL_SERVER),
			pn_errname(rc ? rc : PN_E_CTL_SERVER));
		json_decref(res);
		return rc == PN_E_CTL_AUTH ? EX_AUTH : EX_RUNTIME;
	}
	fprintf(stderr, "admin session for %s, valid until %lld (unix time); use it as "
			"POSTERN_API_KEY\n",
		json_string_value(json_object_get(json_object_get(res, "user"), "name")),
		(long long)json_integer_value(json_object_get(res, "expires")));
	printf("%s\n", key);
	json_decref(res);
	return EX_OK;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: postern ctl [--url URL] [--key KEY] [--ca FILE] [--json] OBJECT VERB ...\n"
		"  network         list | add NAME | show REF | update REF --name N | delete REF\n"
		"  resource        list [--network N] | add [NAME] --network N --address A --ports P\n"
		"                  | show | update REF [--name] [--address] [--ports] | delete\n"
		"                  (P: tcp/5432,udp/53-54,tcp,icmp)\n"
		"  group           list | add NAME | show | delete\n"
		"  user            list | add NAME [--email E] | show | disable | enable | delete\n"
		"  member          list [--group G] | add GROUP --user U|--service-account S | delete ID\n"
		"  grant           list [--group G] [--resource R] | add GROUP RESOURCE\n"
		"                  | delete GROUP RESOURCE | delete ID\n"
		"  connector       list [--network N] | add NETWORK NAME (prints token) | token REF\n"
		"                  | revoke REF | show | delete\n"
		"  relay           list | add NAME [--udp H:P] [--tls H:P] [--ws URL] | token | revoke\n"
		"                  | show | delete\n"
		"  service-account list | add NAME [--group G]... (prints key) | keys REF | key-add REF\n"
		"                  | key-revoke REF KEYID | revoke REF | disable | enable | delete\n"
		"  admin-key       list | add NAME [--role admin|readonly] | revoke ID\n"
		"  credential      list [--holder ID] | revoke SERIAL\n"
		"  audit           [--after SEQ] [--limit N]\n"
		"  flows           [--since MS] [--until MS] [--resource ID] [--client ID]\n"
		"                  [--verdict allow|deny] [--limit N] [--jsonl]\n"
		"  status\n"
		"  login           [--device] [--provider NAME]: sign in through the identity\n"
		"                  provider as a member of its admin group; prints an admin\n"
		"                  session key (1 h) for POSTERN_API_KEY (needs --url, --ca only)\n"
		"Environment: POSTERN_CONTROLLER_URL, POSTERN_API_KEY, POSTERN_CA_CERT.\n"
		"Exit codes: 0 ok, 1 error, 2 usage, 3 auth (401/403), 4 not found.\n"
		"-h, --help shows this text.\n");
}

int pn_cmd_ctl(int argc, char **argv)
{
	struct ctl c = {0};
	const char *object = NULL, *verb = NULL;
	int i = 1, ex;

	c.url = getenv("POSTERN_CONTROLLER_URL");
	c.key = getenv("POSTERN_API_KEY");
	c.ca = getenv("POSTERN_CA_CERT");
	for (; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return EX_OK;
		} else if (!strcmp(a, "--json")) {
			c.json = 1;
		} else if (!strncmp(a, "--", 2) && a[2]) {
			const char *k = a + 2;
			const char *v = i + 1 < argc ? argv[i + 1] : NULL;

			/* flags taking no value */
			if (!strcmp(k, "jsonl") || !strcmp(k, "device")) {
				if (c.nopt == MAXARGS)
					return usage_err("too many options");
				c.optk[c.nopt] = k;
				c.optv[c.nopt++] = "1";
				continue;
			}
			if (!v)
				return usage_err("option needs a value");
			i++;
			if (!strcmp(k, "url"))
				c.url = v;
			else if (!strcmp(k, "key"))
				c.key = v;
			else if (!strcmp(k, "ca"))
				c.ca = v;
			else if (c.nopt == MAXARGS)
				return usage_err("too many options");
			else
				c.optk[c.nopt] = k, c.optv[c.nopt++] = v;
		} else if (!object) {
			object = a;
		} else if (!verb && strcmp(object, "audit") && strcmp(object, "flows") &&
			   strcmp(object, "status") && strcmp(object, "login")) {
			verb = a;
		} else if (c.npos == MAXARGS) {
			return usage_err("too many arguments");
		} else {
			c.pos[c.npos++] = a;
		}
	}
	if (!object) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(object, "login")) {
		if (!c.url || !c.ca || strncmp(c.url, "https://", 8) || c.npos)
			return usage_err("ctl login needs --url https://... and --ca FILE");
		return curl_loaded() ? run_login(&c) : EX_RUNTIME;
	}
	if (!c.url || !c.key || !c.ca)
		return usage_err("need --url/--key/--ca or POSTERN_CONTROLLER_URL, POSTERN_API_KEY, "
				 "POSTERN_CA_CERT");
	if (strncmp(c.url, "https://", 8) || strlen(c.url) > 512 || strlen(c.key) > 128)
		return usage_err("--url must be an https:// URL; key at most 128 bytes");
	if (!curl_loaded())
		return EX_RUNTIME;
	if (!strcmp(object, "audit") || !strcmp(object, "flows")) {
		ex = c.npos ? usage_err("unexpected argument") : run_audit(&c, !strcmp(object, "flows"));
	} else if (!strcmp(object, "status")) {
		json_t *reply = NULL;

		ex = api(&c, "GET", "/v1/status", NULL, &reply, NULL);
		ex = ex ? ex : out(&c, reply, NULL, NULL);
	} else {
		const struct objdef *o = NULL;

		for (size_t k = 0; k < sizeof(objs) / sizeof(objs[0]); k++)
			if (!strcmp(object, objs[k].name))
				o = &objs[k];
		if (!o)
			ex = usage_err("unknown object");
		else if (!verb)
			ex = usage_err("missing verb");
		else
			ex = run_obj(&c, o, verb);
	}
	return ex;
}
