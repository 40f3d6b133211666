/* Controller lifecycle: create a data directory, load it, serve. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/acl_cache.h"
#include "controller/oidc.h"
#include "controller/api.h"
#include "controller/apicert.h"
#include "controller/console.h"
#include "controller/tlscert.h"
#include "controller/controller.h"
#include "controller/http.h"
#include "controller/push.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/curl_dl.h"
#include "trust/key.h"

#define API_CERT_LIFETIME (397ull * 24 * 3600)
#define MAX_HOSTNAMES 16
#define PN_ACL_CACHE_MAX 65536 /* signed lists kept in memory */

#define DATA_FILE_MAX (64 * 1024) /* config.json, api.key, api.crt */

struct pn_controller {
	struct pn_ctl ctl;
	struct pn_http *http;
	struct pn_ctl_mlisten *metrics;
	uint16_t port;
};

/* "host:port" / "[v6]:port" -> host (no brackets), port. */
static int parse_listen(const char *s, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon;
	char *end;
	unsigned long p;
	size_t n;

	if (!s)
		return PN_E_CONFIG;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return PN_E_CONFIG;
		n = (size_t)(rb - s - 1);
		if (n >= hostsz)
			return PN_E_CONFIG;
		memcpy(host, s + 1, n);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return PN_E_CONFIG;
		n = (size_t)(colon - s);
		if (n == 0 || n >= hostsz)
			return PN_E_CONFIG;
		memcpy(host, s, n);
	}
	host[n] = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p > 65535)
		return PN_E_CONFIG;
	*port = (uint16_t)p;
	return 0;
}

/* A new file in dir (never replaces one: -EEXIST), written and synced. */
static int write_file(const char *dir, const char *name, const char *data, unsigned mode)
{
	return pn_file_write_at(dir, name, data, strlen(data), mode, PN_FILE_NOCLOBBER);
}

static void remove_dir(const char *dir)
{
	static const char *const files[] = {"ca.key",
					    "ca.crt",
					    "api.key",
					    "api.crt",
					    "controller.db",
					    "controller.db-wal",
					    "controller.db-shm",
					    "config.json",
					    NULL};

	pn_file_remove_dir(dir, files);
}

static int bootstrap_key(struct pn_store *s, char key_out[PN_CONTROLLER_KEY_MAX])
{
	char hash[65], id[33];
	json_t *row;
	int rc;

	if ((rc = pn_api_new_key("pnak_", key_out, hash)) || (rc = pn_store_new_id(id)))
		return rc;
	row = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "id", id, "name", "bootstrap", "role", "admin",
			"hash", hash, "revoked", 0, "created", (json_int_t)pn_now());
	if (!row)
		return -ENOMEM;
	if ((rc = pn_store_begin(s)) == 0) {
		rc = pn_store_insert(s, PN_OBJ_ADMIN_KEY, row);
		if (!rc)
			rc = s->ops->audit_append(s->be, pn_now(), "init", "create", "admin_key", id,
						  NULL);
		if (rc)
			pn_store_rollback(s);
		else
			rc = pn_store_commit(s);
	}
	json_decref(row);
	return rc;
}

/* A shared database that already holds a network belongs to another CA:
 * refuse it (controllers join a network with `controller join`). */
static int store_empty(struct pn_store *s)
{
	json_t *rows = NULL;
	int rc;

	if ((rc = pn_store_read(s)))
		return rc;
	rc = pn_store_list(s, PN_OBJ_ADMIN_KEY, NULL, 0, 1, &rows);
	pn_store_rollback(s);
	if (!rc && json_array_size(rows)) {
		PN_LOG_ERROR("controller", "store_not_empty",
			     "msg=\"the database already holds a network\"");
		rc = -EEXIST;
	}
	json_decref(rows);
	return rc;
}

int pn_controller_init(const struct pn_controller_init_opts *o,
		       char key_out[PN_CONTROLLER_KEY_MAX])
{
	const char *listen = o->listen ? o->listen : "127.0.0.1:8443";
	char host[256], *names_buf = NULL, *pem = NULL, *kpem = NULL, path[4096];
	const char *names[MAX_HOSTNAMES];
	unsigned nnames = 0;
	uint16_t port;
	struct pn_ca *ca = NULL;
	struct pn_key *key = NULL;
	struct pn_store *store = NULL;
	json_t *cfg = NULL, *arr;
	char *cfg_text = NULL;
	int rc, created = 0;

	key_out[0] = '\0';
	if ((rc = parse_listen(listen, host, sizeof(host), &port)))
		return rc;
	if (o->hostnames) {
		names_buf = strdup(o->hostnames);
	} else if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) {
		/* listening everywhere: name the machine, not the wildcard */
		char hn[256] = "localhost";

		gethostname(hn, sizeof(hn) - 1);
		hn[sizeof(hn) - 1] = '\0';
		names_buf = NULL;
		if (asprintf(&names_buf, "%s,localhost", hn) < 0)
			names_buf = NULL;
	} else {
		names_buf = strdup(host);
	}
	if (!names_buf)
		return -ENOMEM;
	for (char *save = NULL, *t = strtok_r(names_buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		/* a wildcard address is not a name anyone can connect to */
		if (nnames == MAX_HOSTNAMES || !strcmp(t, "0.0.0.0") || !strcmp(t, "::") ||
		    strlen(t) > 253) {
			rc = PN_E_CONFIG;
			goto out;
		}
		names[nnames++] = t;
	}
	if (!nnames) {
		rc = PN_E_CONFIG;
		goto out;
	}
	if (mkdir(o->data_dir, 0700)) {
		rc = -errno; /* -EEXIST: never overwrite a network's data */
		goto out;
	}
	created = 1;
	/* the CA key is made and used in a child: this process never holds it */
	if ((rc = pn_signer_init_dir(o->data_dir, (const char *const *)names, nnames,
				     (uint64_t)pn_now(), API_CERT_LIFETIME)) ||
	    (rc = pn_ca_load_public(o->data_dir, &ca)))
		goto out;
	arr = json_array();
	for (unsigned i = 0; arr && i < nnames; i++)
		json_array_append_new(arr, json_string(names[i]));
	cfg = json_pack("{s:s,s:o}", "listen", listen, "hostnames", arr);
	if (cfg && o->store && json_object_set_new(cfg, "store", json_string(o->store)))
		json_decref(cfg), cfg = NULL;
	cfg_text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
	if (!cfg_text) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = write_file(o->data_dir, "config.json", cfg_text, 0600)))
		goto out;
	snprintf(path, sizeof(path), "%s/controller.db", o->data_dir);
	if ((rc = pn_store_open(o->store ? o->store : path, &store)) ||
	    (o->store && (rc = store_empty(store))) || (rc = bootstrap_key(store, key_out)))
		goto out;
	PN_LOG_INFO("controller", "initialized", "dir=%s ca=%s", o->data_dir,
		    pn_ca_fingerprint_hex(ca));
out:
	pn_store_close(store);
	if (rc) {
		pn_wipe(key_out, PN_CONTROLLER_KEY_MAX);
		key_out[0] = '\0';
		if (created)
			remove_dir(o->data_dir);
	}
	pn_ca_free(ca);
	pn_key_free(key);
	free(pem);
	free(kpem);
	free(names_buf);
	free(cfg_text);
	json_decref(cfg);
	return rc;
}

/* Optional lifetimes in config.json; each must be in range. */
static int read_lifetimes(struct pn_ctl *ctl, const json_t *cfg)
{
	static const struct {
		const char *key;
		size_t off;
		json_int_t min, max;
	} keys[] = {
		{"token_ttl_s", offsetof(struct pn_ctl, token_ttl), 1, PN_TOKEN_TTL_MAX},
		{"credential_ttl_s", offsetof(struct pn_ctl, cred_ttl), 5, PN_CRED_LIFETIME_MAX},
		{"acl_ttl_s", offsetof(struct pn_ctl, acl_ttl), 5, 86400},
		{"push_stream_max_s", offsetof(struct pn_ctl, stream_max_s), 1, 3600},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(cfg, keys[i].key);

		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < keys[i].min ||
		    json_integer_value(v) > keys[i].max) {
			PN_LOG_ERROR("controller", "bad_config", "key=%s min=%lld max=%lld",
				     keys[i].key, (long long)keys[i].min, (long long)keys[i].max);
			return PN_E_CONFIG;
		}
		*(uint32_t *)((char *)ctl + keys[i].off) = (uint32_t)json_integer_value(v);
	}
	return 0;
}

static void on_store_version(void *arg, uint64_t version)
{
	pn_push_notify(arg, version);
}

/* The browser's chain beside the API's (tlscert.h, console_cert.c). */
static int console_tls(struct pn_ctl *ctl, const char *data_dir, const json_t *cfg,
		       const char *key_pem, const char *cert_pem)
{
	const json_t *hn = json_object_get(cfg, "hostnames");
	const char *names[16];
	char *ckey = NULL, *ccert = NULL;
	unsigned n = 0;
	size_t i;
	json_t *v;
	int rc;

	json_array_foreach(hn, i, v)
		if (json_is_string(v) && n < 16)
			names[n++] = json_string_value(v);
	if ((rc = pn_console_cert_load(data_dir, names, n, &ckey, &ccert)))
		return rc;
	rc = pn_tlscert_new(key_pem, cert_pem, ckey, ccert, &ctl->tls);
	pn_wipe(ckey, strlen(ckey));
	free(ckey);
	free(ccert);
	return rc;
}

/*
 * The CA signer, before anything else starts a thread (store, push, HTTP):
 * the fork happens in a single-threaded process.  Its limits are this
 * controller's lifetimes; config.json's "signer_rate_per_s" caps it (the
 * whole pool of o->signer_processes children).
 */
static int start_signer(struct pn_controller *c, const char *data_dir,
			const struct pn_controller_run_opts *o, const json_t *cfg)
{
	const json_t *rate = json_object_get(cfg, "signer_rate_per_s");
	struct pn_signer_cfg sc = {data_dir, o->signer_exe,
				   {c->ctl.cred_ttl, c->ctl.acl_ttl, PN_SIGNER_RATE_DEFAULT},
				   o->signer_processes};
	uint8_t fpr[PN_FPR_LEN];

	if (rate) {
		if (!json_is_integer(rate) || json_integer_value(rate) < 1 ||
		    json_integer_value(rate) > 1000000) {
			PN_LOG_ERROR("controller", "bad_config", "key=signer_rate_per_s min=1 "
								 "max=1000000");
			return PN_E_CONFIG;
		}
		sc.lim.rate_per_s = (uint32_t)json_integer_value(rate);
	}
	pn_ca_fingerprint(c->ctl.ca, fpr);
	return pn_signer_start(&sc, fpr, &c->ctl.signer);
}

int pn_controller_start(const char *data_dir, const char *listen_override,
			struct pn_controller **out)
{
	struct pn_controller_run_opts o = {listen_override, 0, NULL, NULL, NULL, 0};

	return pn_controller_start_opts(data_dir, &o, out);
}

int pn_controller_start_opts(const char *data_dir, const struct pn_controller_run_opts *o,
			     struct pn_controller **out)
{
	const char *listen_override = o->listen_override;
	struct pn_controller *c = calloc(1, sizeof(*c));
	char *cfg_text = NULL, *key_pem = NULL, *cert_pem = NULL, host[256], path[4096];
	const char *listen, *first, *store;
	json_t *cfg = NULL;
	struct stat st;
	uint16_t port;
	uint64_t v = 0;
	int rc;

	if (!c)
		return -ENOMEM;
	c->ctl.token_ttl = PN_TOKEN_TTL_DEFAULT;
	c->ctl.cred_ttl = PN_CRED_TTL_DEFAULT;
	c->ctl.acl_ttl = PN_ACL_TTL_DEFAULT;
	c->ctl.stream_max_s = PN_PUSH_STREAM_MAX_S;
	if (stat(data_dir, &st)) {
		rc = -errno;
		goto fail;
	}
	if (st.st_mode & 077) {
		PN_LOG_ERROR("controller", "data_dir_mode", "dir=%s mode=%o (want 0700)", data_dir,
			     st.st_mode & 0777);
		rc = PN_E_CONFIG;
		goto fail;
	}
	if (pn_file_read_at(data_dir, "config.json", DATA_FILE_MAX, &cfg_text, NULL) ||
	    pn_file_read_at(data_dir, "api.key", DATA_FILE_MAX, &key_pem, NULL) ||
	    pn_file_read_at(data_dir, "api.crt", DATA_FILE_MAX, &cert_pem, NULL) ||
	    !(cfg = json_loads(cfg_text, 0, NULL))) {
		rc = PN_E_CONFIG;
		goto fail;
	}
	if ((rc = read_lifetimes(&c->ctl, cfg)))
		goto fail;
	if (o->cred_ttl_s) {
		if (o->cred_ttl_s < PN_CONTROLLER_CRED_TTL_MIN ||
		    o->cred_ttl_s > PN_CONTROLLER_CRED_TTL_MAX) {
			rc = PN_E_CONFIG;
			goto fail;
		}
		c->ctl.cred_ttl = o->cred_ttl_s;
	}
	/* ctlapi auto-renew checks at each stream reconnect: recycle streams
	 * at least four times per credential lifetime. */
	if (c->ctl.stream_max_s > c->ctl.cred_ttl / 4)
		c->ctl.stream_max_s = c->ctl.cred_ttl / 4 ? c->ctl.cred_ttl / 4 : 1;
	listen = listen_override ? listen_override
				 : json_string_value(json_object_get(cfg, "listen"));
	first = json_string_value(json_array_get(json_object_get(cfg, "hostnames"), 0));
	if (!first || (rc = parse_listen(listen, host, sizeof(host), &port)))
		goto fail_cfg;
	if ((rc = pn_ca_load_public(data_dir, &c->ctl.ca)) ||
	    (rc = pn_anchor_from_ca(c->ctl.ca, &c->ctl.anchor)) ||
	    (rc = start_signer(c, data_dir, o, cfg)))
		goto fail;
	snprintf(path, sizeof(path), "%s/controller.db", data_dir);
	store = o->store ? o->store : json_string_value(json_object_get(cfg, "store"));
	if ((rc = pn_store_open(store ? store : path, &c->ctl.store)) ||
	    (rc = pn_push_new(&c->ctl, &c->ctl.push)) ||
	    (rc = pn_acl_cache_new(PN_ACL_CACHE_MAX, &c->ctl.acl_cache)) ||
	    (rc = pn_oidc_load(data_dir, &c->ctl.oidc)))
		goto fail;
	/* OIDC calls the identity providers with libcurl (ctlapi/curl_dl.h):
	 * without it a controller configured for OIDC does not start. */
	if (c->ctl.oidc && (rc = pn_curl_ready("controller")))
		goto fail;
	/* Changes committed by any controller sharing the database wake our
	 * push subscribers at once (the push poll is the fallback). */
	if ((rc = pn_store_watch(c->ctl.store, on_store_version, c->ctl.push)))
		goto fail;
	if ((rc = pn_store_read(c->ctl.store)) == 0) {
		c->ctl.store->ops->version_get(c->ctl.store->be, &v);
		pn_store_rollback(c->ctl.store);
	}
	pn_push_notify(c->ctl.push, v);
	if ((rc = console_tls(&c->ctl, data_dir, cfg, key_pem, cert_pem)))
		goto fail;
	if ((rc = pn_http_start(&c->ctl, host, port, key_pem, cert_pem,
				pn_ca_cert_pem(c->ctl.ca), &c->http)))
		goto fail;
	c->port = pn_http_port(c->http);
	if (o->metrics_listen && (rc = pn_ctl_mlisten_start(&c->ctl, o->metrics_listen, &c->metrics)))
		goto fail;
	snprintf(c->ctl.url, sizeof(c->ctl.url), strchr(first, ':') ? "https://[%s]:%u"
								      : "https://%s:%u",
		 first, c->port);
	PN_LOG_INFO("controller", "listening",
		    "url=%s listen=%s port=%u policy_version=%llu cred_lifetime_s=%u store=%s",
		    c->ctl.url, host, c->port, (unsigned long long)v, c->ctl.cred_ttl,
		    c->ctl.store->ops->name);
	rc = 0;
	*out = c;
	c = NULL;
	goto out;
fail_cfg:
	rc = PN_E_CONFIG;
fail:
	pn_controller_stop(c);
out:
	pn_wipe_free_str(cfg_text); /* may name a database with its password */
	pn_wipe_free_str(key_pem);
	free(cert_pem);
	json_decref(cfg);
	return rc;
}

const char *pn_controller_url(const struct pn_controller *c)
{
	return c->ctl.url;
}

uint16_t pn_controller_port(const struct pn_controller *c)
{
	return c->port;
}

uint16_t pn_controller_metrics_port(const struct pn_controller *c)
{
	return pn_ctl_mlisten_port(c->metrics);
}

void pn_controller_stop(struct pn_controller *c)
{
	if (!c)
		return;
	pn_ctl_mlisten_stop(c->metrics); /* scrapes read the store and the push channel */
	pn_push_shutdown(c->ctl.push);
	pn_http_stop(c->http);
	pn_tlscert_free(c->ctl.tls); /* after the listener: handshakes use it */
	pn_store_close(c->ctl.store); /* first: its watcher wakes the push channel */
	pn_push_free(c->ctl.push);
	pn_acl_cache_free(c->ctl.acl_cache);
	pn_oidc_free(c->ctl.oidc);
	pn_anchor_free(c->ctl.anchor);
	pn_signer_free(c->ctl.signer); /* after the listener: handlers sign */
	pn_ca_free(c->ctl.ca);
	free(c);
}
