/*
 * Growing from one controller to several (see controller.h): migrate-store
 * moves a data directory's store into PostgreSQL, export-identity and join
 * share the network's identity.
 *
 * Sharing one network's identity between controllers:
 * export-identity packs the CA and API keys, encrypted with a passphrase
 * (PKCS#8 PBES2, AES-256-CBC, PBKDF2: GnuTLS), with their certificates and
 * config.json into one JSON bundle; join unpacks it into a new data
 * directory, laid out exactly like one made by init.  The keys are never
 * written in clear anywhere but the 0600 key files of a data directory.
 *
 * Bundle: {"postern_controller_bundle": 1, "ca_crt": PEM, "ca_key": encrypted
 * PKCS#8 PEM, "api_crt": PEM, "api_key": encrypted PKCS#8 PEM,
 * "config": {config.json}}
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "controller/controller.h"
#include "controller/store.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/ca.h"

#define FILE_MAX       (64 * 1024)
#define BUNDLE_VERSION 1

/* A new file in dir (never replaces one: -EEXIST), written and synced. */
static int put(const char *dir, const char *name, const char *data, unsigned mode)
{
	return pn_file_write_at(dir, name, data, strlen(data), mode, PN_FILE_NOCLOBBER);
}

/* PEM key (clear) -> PKCS#8 PEM encrypted with pass; *out heap string. */
static int encrypt_key(const char *pem, const char *pass, char **out)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, enc = {NULL, 0};
	int rc = PN_E_CRYPTO;

	if (gnutls_x509_privkey_init(&k) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_import2(k, &in, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, pass,
					      GNUTLS_PKCS_PBES2_AES_256, &enc) < 0)
		goto out;
	rc = -ENOMEM;
	if ((*out = strndup((const char *)enc.data, enc.size)))
		rc = 0;
out:
	gnutls_free(enc.data);
	gnutls_x509_privkey_deinit(k);
	return rc;
}

/* Encrypted PKCS#8 PEM -> clear PKCS#8 PEM; PN_E_AUTH-like PN_E_CRYPTO on a
 * wrong passphrase. */
static int decrypt_key(const char *pem, const char *pass, char **out)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, clr = {NULL, 0};
	int rc = PN_E_CRYPTO;

	if (gnutls_x509_privkey_init(&k) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_import_pkcs8(k, &in, GNUTLS_X509_FMT_PEM, pass, 0) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &clr) < 0)
		goto out;
	rc = -ENOMEM;
	if ((*out = strndup((const char *)clr.data, clr.size)))
		rc = 0;
out:
	if (clr.data) {
		pn_wipe(clr.data, clr.size);
		gnutls_free(clr.data);
	}
	gnutls_x509_privkey_deinit(k);
	return rc;
}

int pn_controller_export_identity(const char *data_dir, const char *pass, char **bundle_out)
{
	char *ca_key = NULL, *api_key = NULL, *ca_crt = NULL, *api_crt = NULL, *cfg_text = NULL;
	char *ca_enc = NULL, *api_enc = NULL;
	json_t *cfg = NULL, *b = NULL;
	int rc;

	*bundle_out = NULL;
	if (!pass || strlen(pass) < PN_BUNDLE_PASS_MIN) {
		rc = PN_E_CONFIG;
		goto out;
	}
	if (pn_file_read_at(data_dir, "ca.key", FILE_MAX, &ca_key, NULL) ||
	    pn_file_read_at(data_dir, "api.key", FILE_MAX, &api_key, NULL) ||
	    pn_file_read_at(data_dir, "ca.crt", FILE_MAX, &ca_crt, NULL) ||
	    pn_file_read_at(data_dir, "api.crt", FILE_MAX, &api_crt, NULL) ||
	    pn_file_read_at(data_dir, "config.json", FILE_MAX, &cfg_text, NULL) ||
	    !(cfg = json_loads(cfg_text, 0, NULL))) {
		rc = PN_E_CONFIG;
		goto out;
	}
	if ((rc = encrypt_key(ca_key, pass, &ca_enc)) ||
	    (rc = encrypt_key(api_key, pass, &api_enc)))
		goto out;
	b = json_pack("{s:i,s:s,s:s,s:s,s:s,s:O}", "postern_controller_bundle", BUNDLE_VERSION,
		      "ca_crt", ca_crt, "ca_key", ca_enc, "api_crt", api_crt, "api_key", api_enc,
		      "config", cfg);
	rc = -ENOMEM;
	if (b && (*bundle_out = json_dumps(b, JSON_INDENT(1))))
		rc = 0;
out:
	pn_wipe_free_str(ca_key);
	pn_wipe_free_str(api_key);
	pn_wipe_free_str(cfg_text); /* may name a database with its password */
	free(ca_crt);
	free(api_crt);
	free(ca_enc);
	free(api_enc);
	json_decref(cfg);
	json_decref(b);
	return rc;
}

static void remove_joined(const char *dir)
{
	static const char *const files[] = {"ca.key",  "ca.crt",      "api.key",
					    "api.crt", "config.json", NULL};

	pn_file_remove_dir(dir, files);
}

/* The shared database must hold this network already. */
static int store_holds_network(const char *spec)
{
	struct pn_store *s = NULL;
	json_t *rows = NULL;
	int rc;

	if ((rc = pn_store_open(spec, &s)))
		return rc;
	if ((rc = pn_store_read(s)) == 0) {
		rc = pn_store_list(s, PN_OBJ_ADMIN_KEY, NULL, 0, 1, &rows);
		pn_store_rollback(s);
	}
	if (!rc && !json_array_size(rows)) {
		PN_LOG_ERROR("controller", "join_empty_store",
			     "msg=\"the database holds no network: init the first controller\"");
		rc = PN_E_CONFIG;
	}
	json_decref(rows);
	pn_store_close(s);
	return rc;
}

int pn_controller_join(const struct pn_controller_join_opts *o)
{
	json_t *b = json_loads(o->bundle, 0, NULL), *cfg = NULL;
	char *ca_key = NULL, *api_key = NULL, *cfg_text = NULL;
	const char *ca_crt, *api_crt, *ca_enc, *api_enc, *store;
	struct pn_ca *ca = NULL;
	int rc, created = 0;

	ca_crt = json_string_value(json_object_get(b, "ca_crt"));
	api_crt = json_string_value(json_object_get(b, "api_crt"));
	ca_enc = json_string_value(json_object_get(b, "ca_key"));
	api_enc = json_string_value(json_object_get(b, "api_key"));
	cfg = json_deep_copy(json_object_get(b, "config"));
	if (json_integer_value(json_object_get(b, "postern_controller_bundle")) != BUNDLE_VERSION ||
	    !ca_crt || !api_crt || !ca_enc || !api_enc || !json_is_object(cfg)) {
		rc = PN_E_MALFORMED;
		goto out;
	}
	if ((o->store && json_object_set_new(cfg, "store", json_string(o->store))) ||
	    (o->listen && json_object_set_new(cfg, "listen", json_string(o->listen)))) {
		rc = -ENOMEM;
		goto out;
	}
	store = json_string_value(json_object_get(cfg, "store"));
	if (!pn_store_is_pg(store)) {
		/* an SQLite file is one controller's: sharing needs PostgreSQL */
		PN_LOG_ERROR("controller", "join_needs_shared_store",
			     "msg=\"give --store postgres://... (the network's database)\"");
		rc = PN_E_CONFIG;
		goto out;
	}
	if ((rc = decrypt_key(ca_enc, o->passphrase, &ca_key)) ||
	    (rc = decrypt_key(api_enc, o->passphrase, &api_key))) {
		PN_LOG_ERROR("controller", "join_decrypt_failed", "msg=\"wrong passphrase?\"");
		goto out;
	}
	if (!(cfg_text = json_dumps(cfg, JSON_INDENT(2)))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = store_holds_network(store)))
		goto out;
	if (mkdir(o->data_dir, 0700)) {
		rc = -errno;
		goto out;
	}
	created = 1;
	if ((rc = put(o->data_dir, "ca.key", ca_key, 0600)) ||
	    (rc = put(o->data_dir, "ca.crt", ca_crt, 0644)) ||
	    (rc = put(o->data_dir, "api.key", api_key, 0600)) ||
	    (rc = put(o->data_dir, "api.crt", api_crt, 0644)) ||
	    (rc = put(o->data_dir, "config.json", cfg_text, 0600)))
		goto out;
	/* the CA key must match its certificate (checked by the loader) */
	if ((rc = pn_ca_load(o->data_dir, &ca)))
		goto out;
	PN_LOG_INFO("controller", "joined", "dir=%s ca=%s", o->data_dir, pn_ca_fingerprint_hex(ca));
out:
	if (rc && created)
		remove_joined(o->data_dir);
	pn_ca_free(ca);
	pn_wipe_free_str(ca_key);
	pn_wipe_free_str(api_key);
	pn_wipe_free_str(cfg_text);
	json_decref(cfg);
	json_decref(b);
	return rc;
}

int pn_controller_migrate_store(const char *data_dir, const char *to)
{
	char *cfg_text = NULL, *out_text = NULL, path[4096];
	struct pn_store *src = NULL, *dst = NULL;
	const char *from;
	json_t *cfg = NULL;
	int rc;

	if (pn_file_read_at(data_dir, "config.json", FILE_MAX, &cfg_text, NULL) ||
	    !(cfg = json_loads(cfg_text, 0, NULL)) || !pn_store_is_pg(to)) {
		rc = PN_E_CONFIG;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/controller.db", data_dir);
	from = json_string_value(json_object_get(cfg, "store"));
	if (!from) {
		if (access(path, R_OK)) {
			rc = -errno;
			goto out;
		}
		from = path;
	}
	if ((rc = pn_store_open(from, &src)) || (rc = pn_store_open(to, &dst)) ||
	    (rc = pn_store_copy(src, dst)))
		goto out;
	/* point the data directory at the new store (replaced atomically) */
	if (json_object_set_new(cfg, "store", json_string(to)) ||
	    !(out_text = json_dumps(cfg, JSON_INDENT(2)))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = pn_file_write_at(data_dir, "config.json", out_text, strlen(out_text), 0600, 0);
out:
	pn_store_close(src);
	pn_store_close(dst);
	pn_wipe_free_str(cfg_text);
	pn_wipe_free_str(out_text);
	json_decref(cfg);
	return rc;
}
