/* The controller driven in memory for the fuzzers (fuzzctl.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "controller/signer.h"
#include "core/file.h"
#include "fuzzctl.h"
#include "trust/ca.h"
#include "trust/key.h"

/* ---- deterministic pn_random (linked with -Wl,--wrap=pn_random) ---- */

static uint64_t rng_state;

int __wrap_pn_random(void *p, size_t n);
int __wrap_pn_random(void *p, size_t n)
{
	uint8_t *o = p;

	for (size_t i = 0; i < n; i++) {
		rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
		o[i] = (uint8_t)(rng_state >> 56);
	}
	return 0;
}

/* ---- the store, wrapped: handlers' transactions nest in the input's ---- */

static struct pn_store_ops wrapped;
static const struct pn_store_ops *orig;

static int nested_begin(void *be, int write)
{
	(void)be, (void)write;
	return 0;
}
static int nested_commit(void *be)
{
	(void)be;
	return 0;
}
static void nested_rollback(void *be)
{
	(void)be; /* the input's rollback undoes everything */
}

static struct fz F;

static void post(const char *path, const char *body)
{
	struct pn_req r;
	char seg[64], *slash;

	memset(&r, 0, sizeof(r));
	r.ctl = &F.ctl;
	r.method = "POST";
	r.who = PN_P_ADMIN;
	snprintf(seg, sizeof(seg), "%s", path);
	r.seg[r.nseg++] = seg;
	while ((slash = strchr(r.seg[r.nseg - 1], '/'))) {
		*slash = '\0';
		r.seg[r.nseg++] = slash + 1;
	}
	r.body = json_loads(body, 0, NULL);
	pn_router_dispatch(&r);
	if (r.status != 201 && r.status != 200) {
		char *t = r.resp ? json_dumps(r.resp, 0) : NULL;
		fprintf(stderr, "fuzzctl: seeding POST %s: %u %s\n", path, r.status, t ? t : "");
		abort();
	}
	json_decref(r.body);
	json_decref(r.resp);
	free(r.raw);
}

static void id_of(enum pn_obj kind, const char *name, char out[33])
{
	json_t *row = NULL;

	if (pn_store_read(F.ctl.store) || pn_store_get_by(F.ctl.store, kind, "name", name, &row))
		abort();
	snprintf(out, 33, "%s", json_string_value(json_object_get(row, "id")));
	pn_store_rollback(F.ctl.store);
	json_decref(row);
}

static void insert(enum pn_obj kind, json_t *row)
{
	if (!row || pn_store_begin(F.ctl.store) || pn_store_insert(F.ctl.store, kind, row) ||
	    pn_store_commit(F.ctl.store))
		abort();
	json_decref(row);
}

static void key_row(enum pn_obj kind, const char *key, const char *role)
{
	char hash[65], id[33];

	if (pn_store_hash_hex(key, strlen(key), hash) || pn_store_new_id(id))
		abort();
	if (kind == PN_OBJ_ADMIN_KEY)
		insert(kind, json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "id", id, "name", role, "role",
				       role, "hash", hash, "revoked", 0, "created", FZ_NOW));
	else
		insert(kind, json_pack("{s:s,s:s,s:s,s:i,s:I}", "id", id, "service_account_id",
				       F.sa_id, "hash", hash, "revoked", 0, "created", FZ_NOW));
}

/* The store's row of an issued credential (as enroll.c records it). */
static void record(const struct pn_cred_info *ci, const char *kind, const char *holder, int revoked)
{
	char serial[64], id[PN_ID_HEX_LEN + 1], fpr[PN_FPR_HEX_LEN + 1];

	pn_cred_serial_hex(ci, serial);
	pn_id_hex(ci->id, id);
	pn_fpr_hex(ci->key_fpr, fpr);
	insert(PN_OBJ_CREDENTIAL,
	       json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:I}", "serial", serial, "cred_id",
			 id, "type", pn_cred_type_name(ci->type), "holder_kind", kind, "holder_id",
			 holder, "name", ci->name, "key_fp", fpr, "not_after",
			 (json_int_t)ci->not_after, "revoked", revoked, "issued",
			 (json_int_t)pn_now()));
}

/* A credential for a holder, as enrollment would have issued it. */
static void issue(struct pn_key *k, enum pn_cred_type type, const char *id, const char *name,
		  struct pn_cred_info *out)
{
	char *csr = NULL, *pem = NULL;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->type = type;
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (type == PN_CRED_CLIENT) {
		snprintf(out->user, sizeof(out->user), "%s", name);
		if (pn_id_random(out->id))
			abort();
	} else if (pn_id_parse(id, out->id)) {
		abort();
	}
	if (pn_key_csr_pem(k, NULL, &csr, &n) ||
	    pn_cred_issue(F.ctl.ca, csr, out, 3600, (uint64_t)pn_now(), &pem, out))
		abort();
	free(csr);
	free(pem);
	record(out, type == PN_CRED_CLIENT ? "service_account" : pn_cred_type_name(type),
	       type == PN_CRED_CLIENT ? F.sa_id : id, 0);
}

static const char *ca_dir;
static void remove_ca_dir(void)
{
	static const char *const names[] = {"ca.key", "ca.crt", NULL};
	if (ca_dir)
		pn_file_remove_dir(ca_dir, names);
}

struct fz *fz_get(void)
{
	static int ready;
	struct pn_key *k = NULL;
	char hash[65];

	if (ready)
		return &F;
	/* store errors (constraint races the fuzzer provokes) are expected */
	pn_log_setup(PN_LOG_ERROR, PN_LOG_TEXT, open("/dev/null", O_WRONLY));
	{
		/* The CA in a data directory, and the CA signer the handlers
		 * sign through (a forked child, as in the controller). */
		static char dir[] = "/tmp/pn-fuzzctl.XXXXXX";
		uint8_t fpr[PN_FPR_LEN];
		struct pn_signer_cfg sc = {dir, NULL, {3600, 3600, 1000000}, 1};
		if (!mkdtemp(dir) || pn_ca_init_dir(dir, 1700000000) ||
		    pn_ca_load(dir, &F.ctl.ca) || pn_anchor_from_ca(F.ctl.ca, &F.ctl.anchor))
			abort();
		ca_dir = dir;
		atexit(remove_ca_dir); /* the signer has loaded the key by now */
		pn_ca_fingerprint(F.ctl.ca, fpr);
		if (pn_signer_start(&sc, fpr, &F.ctl.signer))
			abort();
	}
	F.ctl.token_ttl = 60;
	F.ctl.cred_ttl = 3600;
	F.ctl.acl_ttl = 3600;
	strcpy(F.ctl.url, "https://fuzz.invalid:8443");
	if (pn_store_open_sqlite(":memory:", &F.ctl.store))
		abort();
	post("networks", "{\"name\":\"corp\"}");
	post("groups", "{\"name\":\"eng\"}");
	post("users", "{\"name\":\"alice\"}");
	post("resources", "{\"name\":\"db\",\"network\":\"corp\",\"address\":\"db.corp.example\","
			  "\"protocols\":[\"tcp/5432\",\"icmp\"]}");
	post("resources", "{\"name\":\"lan\",\"network\":\"corp\",\"address\":\"10.0.0.0/8\","
			  "\"protocols\":[\"udp/53\"]}");
	post("connectors", "{\"name\":\"c1\",\"network\":\"corp\"}");
	post("relays", "{\"name\":\"r1\",\"udp\":\"198.51.100.1:3478\","
		       "\"tls\":\"198.51.100.1:443\",\"ws\":\"wss://relay.example:443/postern\"}");
	post("service-accounts", "{\"name\":\"sa\",\"groups\":[\"eng\"]}");
	post("memberships", "{\"group\":\"eng\",\"user\":\"alice\"}");
	post("policies", "{\"group\":\"eng\",\"resource\":\"db\"}");
	post("policies", "{\"group\":\"eng\",\"resource\":\"lan\"}");
	id_of(PN_OBJ_CONNECTOR, "c1", F.connector_id);
	id_of(PN_OBJ_RELAY, "r1", F.relay_id);
	id_of(PN_OBJ_SERVICE_ACCOUNT, "sa", F.sa_id);
	/* an unused token for c1 with a fixed secret (bare or pnt1 form) */
	if (pn_store_hash_hex(FZ_TOKEN_SECRET, 64, hash))
		abort();
	insert(PN_OBJ_ENROLL_TOKEN,
	       json_pack("{s:s,s:s,s:s,s:I,s:i,s:I}", "hash", hash, "kind", "connector",
			 "target_id", F.connector_id, "expires", (json_int_t)4000000000ll, "used",
			 0, "created", FZ_NOW));
	key_row(PN_OBJ_ADMIN_KEY, FZ_ADMIN_KEY, "admin");
	key_row(PN_OBJ_ADMIN_KEY, FZ_RO_KEY, "readonly");
	key_row(PN_OBJ_SA_KEY, FZ_SA_KEY, NULL);
	if (pn_key_generate(&k))
		abort();
	issue(k, PN_CRED_CONNECTOR, F.connector_id, "c1", &F.conn_cred);
	issue(k, PN_CRED_RELAY, F.relay_id, "r1", &F.relay_cred);
	issue(k, PN_CRED_CLIENT, NULL, "sa", &F.client_cred);
	pn_cred_serial_hex(&F.conn_cred, F.conn_serial);
	{ /* an earlier client credential, revoked: the revocation lists carry it */
		struct pn_cred_info old = F.client_cred;

		old.serial[0] ^= 0x55;
		old.id[0] ^= 0x55;
		record(&old, "service_account", F.sa_id, 1);
	}
	pn_key_free(k);
	/* from here on, handlers' transactions nest in the input's */
	orig = F.ctl.store->ops;
	wrapped = *orig;
	wrapped.begin = nested_begin;
	wrapped.commit = nested_commit;
	wrapped.rollback = nested_rollback;
	wrapped.concurrent = 1; /* no wrapper mutex: one thread */
	F.ctl.store->ops = &wrapped;
	ready = 1;
	return &F;
}

void fz_begin(struct fz *f)
{
	rng_state = 0x5eed;
	if (orig->begin(f->ctl.store->be, 1))
		abort();
}

void fz_end(struct fz *f, int check)
{
	if (check && !getenv("FZ_NOCHECK") && orig->integrity_check(f->ctl.store->be))
		abort();
	orig->rollback(f->ctl.store->be);
}

void fz_req(struct fz *f, struct pn_req *r, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->ctl = &f->ctl;
	r->method = method;
}

void fz_dispatch(struct pn_req *r)
{
	pn_router_dispatch(r);
	if (r->status < 200 || r->status > 599 || (!r->resp && !r->raw))
		abort();
	if (r->status >= 400 && (!r->resp || !json_is_object(json_object_get(r->resp, "error"))))
		abort();
	json_decref(r->body);
	json_decref(r->resp);
	free(r->raw);
	r->body = r->resp = NULL;
	r->raw = NULL;
}
