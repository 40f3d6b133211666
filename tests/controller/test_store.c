/*
 * Store unit tests: one suite, two back ends.  Against a real SQLite file
 * in a temporary directory, or, when PN_TEST_STORE_URL names a PostgreSQL
 * database (store_pg_test.sh starts a private cluster), against that
 * database, emptied before each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <time.h>

#include "controller/store.h"
#include "controller/store_pg.h"
#include "core/err.h"

struct fx {
	char dir[64];
	char path[1024]; /* SQLite file or PostgreSQL URL */
	struct pn_store *s;
};

static const char *pg_url(void)
{
	const char *u = getenv("PN_TEST_STORE_URL");

	return u && *u ? u : NULL;
}

/* Empty the test database: a fresh schema for each test. */
static void pg_reset(const char *url)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, "SET client_min_messages = warning;"
			" DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(c);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pn-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (pg_url()) {
		snprintf(f->path, sizeof(f->path), "%s", pg_url());
		pg_reset(f->path);
	} else {
		snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
	}
	assert_int_equal(pn_store_open(f->path, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	pn_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static json_t *mk(const char *fmt, const char *id, const char *name)
{
	json_t *o = json_pack(fmt, "id", id, "name", name, "created", 1);

	assert_non_null(o);
	return o;
}

static void test_crud(void **state)
{
	struct fx *f = *state;
	json_t *row, *out = NULL, *set;

	assert_int_equal(pn_store_begin(f->s), 0);
	row = mk("{s:s, s:s, s:i}", "n1", "corp");
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), 0);
	/* unique name */
	json_object_set_new(row, "id", json_string("n2"));
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), PN_E_STORE_CONFLICT);
	json_decref(row);
	assert_int_equal(pn_store_get(f->s, PN_OBJ_NETWORK, "n1", &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "name")), "corp");
	json_decref(out);
	set = json_pack("{s:s}", "name", "corp2");
	assert_int_equal(pn_store_update(f->s, PN_OBJ_NETWORK, "n1", set), 0);
	assert_int_equal(pn_store_update(f->s, PN_OBJ_NETWORK, "nope", set), PN_E_STORE_NOTFOUND);
	json_decref(set);
	/* a resource referencing a missing network violates the foreign key */
	row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "id", "r1", "name", "db", "network_id",
			"missing", "address", "db.corp", "protocols", "[]", "created", 1);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_RESOURCE, row), PN_E_STORE_CONFLICT);
	json_object_set_new(row, "network_id", json_string("n1"));
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_RESOURCE, row), 0);
	json_decref(row);
	/* network still referenced: RESTRICT */
	assert_int_equal(pn_store_remove(f->s, PN_OBJ_NETWORK, "n1"), PN_E_STORE_CONFLICT);
	assert_int_equal(pn_store_list(f->s, PN_OBJ_RESOURCE,
				       &(struct pn_filter){.col = "network_id", .text = "n1"}, 1,
				       0, &out), 0);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	assert_int_equal(pn_store_remove(f->s, PN_OBJ_RESOURCE, "r1"), 0);
	assert_int_equal(pn_store_remove(f->s, PN_OBJ_NETWORK, "n1"), 0);
	assert_int_equal(pn_store_remove(f->s, PN_OBJ_NETWORK, "n1"), PN_E_STORE_NOTFOUND);
	assert_int_equal(pn_store_commit(f->s), 0);
}

static void test_injection_is_data(void **state)
{
	struct fx *f = *state;
	const char *evil = "x'); DROP TABLE networks; --";
	json_t *row = mk("{s:s, s:s, s:i}", "n1", evil), *out = NULL;

	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), 0);
	assert_int_equal(pn_store_get_by(f->s, PN_OBJ_NETWORK, "name", evil, &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "name")), evil);
	json_decref(out);
	/* a column name that is not in the description is refused */
	assert_int_equal(pn_store_get_by(f->s, PN_OBJ_NETWORK, "name; --", "x", &out), PN_E_INVAL);
	assert_int_equal(pn_store_commit(f->s), 0);
	json_decref(row);
}

static void test_rollback(void **state)
{
	struct fx *f = *state;
	json_t *row = mk("{s:s, s:s, s:i}", "n1", "a"), *out = NULL;
	uint64_t v0, v1;

	assert_int_equal(pn_store_read(f->s), 0);
	assert_int_equal(f->s->ops->version_get(f->s->be, &v0), 0);
	assert_int_equal(pn_store_commit(f->s), 0);
	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), 0);
	assert_int_equal(f->s->ops->version_bump(f->s->be, &v1), 0);
	assert_int_equal(v1, v0 + 1);
	pn_store_rollback(f->s);
	assert_int_equal(pn_store_read(f->s), 0);
	assert_int_equal(pn_store_get(f->s, PN_OBJ_NETWORK, "n1", &out), PN_E_STORE_NOTFOUND);
	assert_int_equal(f->s->ops->version_get(f->s->be, &v1), 0);
	assert_int_equal(v1, v0);
	assert_int_equal(f->s->ops->integrity_check(f->s->be), 0);
	pn_store_rollback(f->s);
	json_decref(row);
}

struct race {
	struct pn_store *s;
	int wins;
	pthread_mutex_t m;
};

static void *consume(void *arg)
{
	struct race *r = arg;
	json_t *tok = NULL;
	int rc;

	if (pn_store_begin(r->s))
		return NULL;
	rc = r->s->ops->token_consume(r->s->be, "h1", 100, &tok);
	if (pn_store_commit(r->s) == 0 && rc == 0) {
		pthread_mutex_lock(&r->m);
		r->wins++;
		pthread_mutex_unlock(&r->m);
	}
	json_decref(tok);
	return NULL;
}

static void test_token_once(void **state)
{
	struct fx *f = *state;
	json_t *tok = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "hash", "h1", "kind",
				"connector", "target_id", "c1", "expires", 200, "used", 0,
				"created", 1);
	struct race r = {.s = f->s};
	pthread_t th[16];
	json_t *out = NULL;

	pthread_mutex_init(&r.m, NULL);
	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_ENROLL_TOKEN, tok), 0);
	json_object_set_new(tok, "hash", json_string("h2"));
	json_object_set_new(tok, "expires", json_integer(50));
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_ENROLL_TOKEN, tok), 0);
	assert_int_equal(pn_store_commit(f->s), 0);
	for (int i = 0; i < 16; i++)
		pthread_create(&th[i], NULL, consume, &r);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.wins, 1);
	/* expired */
	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(f->s->ops->token_consume(f->s->be, "h2", 100, &out), PN_E_TOKEN);
	assert_int_equal(f->s->ops->token_consume(f->s->be, "nope", 1, &out), PN_E_TOKEN);
	assert_int_equal(pn_store_commit(f->s), 0);
	json_decref(tok);
}

static int ins(struct pn_store *s, enum pn_obj kind, json_t *row)
{
	int r = pn_store_insert(s, kind, row);

	json_decref(row);
	return r;
}

static void test_grants(void **state)
{
	struct fx *f = *state;
	json_t *out = NULL;

	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(ins(f->s, PN_OBJ_NETWORK,
					 json_pack("{s:s,s:s,s:i}", "id", "n", "name", "n",
						   "created", 1)), 0);
	assert_int_equal(ins(f->s, PN_OBJ_RESOURCE,
					 json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "id", "r", "name",
						   "r", "network_id", "n", "address", "a.b",
						   "protocols", "[]", "created", 1)), 0);
	assert_int_equal(ins(f->s, PN_OBJ_GROUP,
					 json_pack("{s:s,s:s,s:i}", "id", "g", "name", "g",
						   "created", 1)), 0);
	assert_int_equal(ins(f->s, PN_OBJ_SERVICE_ACCOUNT,
					 json_pack("{s:s,s:s,s:i,s:i}", "id", "sa", "name", "sa",
						   "disabled", 0, "created", 1)), 0);
	assert_int_equal(ins(f->s, PN_OBJ_MEMBERSHIP,
					 json_pack("{s:s,s:s,s:s,s:i}", "id", "m", "group_id", "g",
						   "service_account_id", "sa", "created", 1)), 0);
	assert_int_equal(ins(f->s, PN_OBJ_POLICY,
					 json_pack("{s:s,s:s,s:s,s:i}", "id", "p", "group_id", "g",
						   "resource_id", "r", "created", 1)), 0);
	assert_int_equal(f->s->ops->member_resources(f->s->be, "service_account_id", "sa", &out),
			 0);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	assert_int_equal(pn_store_remove(f->s, PN_OBJ_POLICY, "p"), 0);
	assert_int_equal(f->s->ops->member_resources(f->s->be, "service_account_id", "sa", &out),
			 0);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	assert_int_equal(pn_store_commit(f->s), 0);
}

static void test_reopen_migrated(void **state)
{
	struct fx *f = *state;
	struct pn_store *s2 = NULL;

	/* a second open finds the schema current and does not re-migrate */
	assert_int_equal(pn_store_open(f->path, &s2), 0);
	pn_store_close(s2);
}

/* Both back ends describe the same logical schema version. */
static void test_schema_versions_match(void **state)
{
	(void)state;
	assert_int_equal(pn_pg_schema_version(), pn_store_schema_version());
}

/* Two store handles on one database (two controllers): 32 threads, half
 * on each, race for one token; exactly one wins. */
static void test_token_two_handles(void **state)
{
	struct fx *f = *state;
	json_t *tok = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "hash", "h1", "kind",
				"connector", "target_id", "c1", "expires", 200, "used", 0,
				"created", 1);
	struct pn_store *s2 = NULL;
	struct race r1 = {.s = f->s}, r2;
	pthread_t th[32];

	assert_int_equal(pn_store_open(f->path, &s2), 0);
	r2.s = s2;
	r2.wins = 0;
	pthread_mutex_init(&r1.m, NULL);
	pthread_mutex_init(&r2.m, NULL);
	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_ENROLL_TOKEN, tok), 0);
	assert_int_equal(pn_store_commit(f->s), 0);
	for (int i = 0; i < 32; i++)
		pthread_create(&th[i], NULL, consume, i % 2 ? &r1 : &r2);
	for (int i = 0; i < 32; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r1.wins + r2.wins, 1);
	pn_store_close(s2);
	json_decref(tok);
}

/* Each write transaction is atomic with its version bump across handles:
 * 8 threads on two handles each bump 25 times; no increment is lost. */
struct bumper {
	struct pn_store *s;
	int fails;
};

static void *bump(void *arg)
{
	struct bumper *b = arg;

	for (int i = 0; i < 25; i++) {
		uint64_t v;

		if (pn_store_begin(b->s) || b->s->ops->version_bump(b->s->be, &v) ||
		    pn_store_commit(b->s))
			b->fails++;
	}
	return NULL;
}

static void test_version_bumps_serialized(void **state)
{
	struct fx *f = *state;
	struct pn_store *s2 = NULL;
	struct bumper b[8];
	pthread_t th[8];
	uint64_t v0 = 0, v1 = 0;

	assert_int_equal(pn_store_open(f->path, &s2), 0);
	assert_int_equal(pn_store_read(f->s), 0);
	assert_int_equal(f->s->ops->version_get(f->s->be, &v0), 0);
	pn_store_rollback(f->s);
	for (int i = 0; i < 8; i++) {
		b[i].s = i % 2 ? f->s : s2;
		b[i].fails = 0;
		pthread_create(&th[i], NULL, bump, &b[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(b[i].fails, 0);
	}
	assert_int_equal(pn_store_read(s2), 0);
	assert_int_equal(s2->ops->version_get(s2->be, &v1), 0);
	pn_store_rollback(s2);
	assert_int_equal(v1, v0 + 200);
	pn_store_close(s2);
}

/* A commit through one handle reaches another handle's watcher (LISTEN/
 * NOTIFY) within 1 s.  PostgreSQL only: SQLite has no watch. */
struct seen {
	pthread_mutex_t m;
	uint64_t v;
};

static void on_version(void *arg, uint64_t v)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->m);
	if (v > s->v)
		s->v = v;
	pthread_mutex_unlock(&s->m);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_watch_other_handle(void **state)
{
	struct fx *f = *state;
	struct pn_store *s2 = NULL;
	struct seen seen = {.v = 0};
	uint64_t v = 0, got = 0;
	int64_t t0;

	if (!pg_url())
		skip();
	pthread_mutex_init(&seen.m, NULL);
	assert_int_equal(pn_store_open(f->path, &s2), 0);
	assert_int_equal(pn_store_watch(s2, on_version, &seen), 0);
	/* the watcher reports the current version once subscribed */
	for (t0 = mono_ms(); mono_ms() - t0 < 5000 && !got; usleep(10000)) {
		pthread_mutex_lock(&seen.m);
		got = seen.v;
		pthread_mutex_unlock(&seen.m);
	}
	assert_true(got > 0);
	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(f->s->ops->version_bump(f->s->be, &v), 0);
	assert_int_equal(pn_store_commit(f->s), 0);
	for (t0 = mono_ms(); mono_ms() - t0 < 1000; usleep(2000)) {
		pthread_mutex_lock(&seen.m);
		got = seen.v;
		pthread_mutex_unlock(&seen.m);
		if (got == v)
			break;
	}
	printf("watch: version %llu seen by the other handle after %lld ms\n",
	       (unsigned long long)v, (long long)(mono_ms() - t0));
	assert_int_equal(got, v);
	/* a rolled-back bump notifies nobody */
	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(f->s->ops->version_bump(f->s->be, &v), 0);
	pn_store_rollback(f->s);
	usleep(300000);
	pthread_mutex_lock(&seen.m);
	got = seen.v;
	pthread_mutex_unlock(&seen.m);
	assert_int_equal(got, v - 1);
	pn_store_close(s2);
}

/* A failed statement is undone alone; the transaction goes on (SQLite's
 * statement atomicity; PostgreSQL through a savepoint per statement). */
static void test_failed_statement_rolls_back(void **state)
{
	struct fx *f = *state;
	json_t *row = mk("{s:s, s:s, s:i}", "n1", "a"), *out = NULL;

	assert_int_equal(pn_store_begin(f->s), 0);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), 0);
	assert_int_equal(pn_store_commit(f->s), 0);
	assert_int_equal(pn_store_begin(f->s), 0);
	json_object_set_new(row, "id", json_string("n2"));
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), PN_E_STORE_CONFLICT);
	json_object_set_new(row, "id", json_string("n3"));
	json_object_set_new(row, "name", json_string("b"));
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_NETWORK, row), 0);
	assert_int_equal(pn_store_commit(f->s), 0);
	assert_int_equal(pn_store_read(f->s), 0);
	assert_int_equal(pn_store_get(f->s, PN_OBJ_NETWORK, "n3", &out), 0);
	json_decref(out);
	pn_store_rollback(f->s);
	/* the store holds the first and third rows only */
	assert_int_equal(pn_store_read(f->s), 0);
	assert_int_equal(pn_store_get(f->s, PN_OBJ_NETWORK, "n2", &out), PN_E_STORE_NOTFOUND);
	assert_int_equal(pn_store_get(f->s, PN_OBJ_NETWORK, "n1", &out), 0);
	json_decref(out);
	pn_store_rollback(f->s);
	json_decref(row);
}

/* List order: byte order on text (like SQLite's BINARY), ties by insertion. */
static void test_list_order(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"b", "B", "a", "_x", "A"};
	json_t *out = NULL;

	assert_int_equal(pn_store_begin(f->s), 0);
	for (int i = 0; i < 5; i++) {
		char id[8];

		snprintf(id, sizeof(id), "%c", 'z' - i); /* ids against insertion order */
		assert_int_equal(ins(f->s, PN_OBJ_GROUP,
				     json_pack("{s:s,s:s,s:i}", "id", id, "name", names[i],
					       "created", 1)), 0);
		assert_int_equal(ins(f->s, PN_OBJ_ADMIN_KEY,
				     json_pack("{s:s,s:s,s:s,s:s,s:i,s:i}", "id", id, "name", "k",
					       "role", "admin", "hash", names[i], "revoked", 0,
					       "created", 1)), 0);
	}
	assert_int_equal(pn_store_list(f->s, PN_OBJ_GROUP, NULL, 0, 0, &out), 0);
	assert_int_equal(json_array_size(out), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "name")),
			    "A");
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "name")),
			    "B");
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 2), "name")),
			    "_x");
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 3), "name")),
			    "a");
	json_decref(out);
	/* admin keys list by "created": all equal, so insertion order */
	assert_int_equal(pn_store_list(f->s, PN_OBJ_ADMIN_KEY, NULL, 0, 0, &out), 0);
	for (int i = 0; i < 5; i++) {
		char id[8];

		snprintf(id, sizeof(id), "%c", 'z' - i);
		assert_string_equal(json_string_value(json_object_get(json_array_get(out,
										    (size_t)i),
								      "id")), id);
	}
	json_decref(out);
	assert_int_equal(pn_store_commit(f->s), 0);
}

/* purge_before deletes exactly the rows below the bound (expired console
 * sessions), refuses a column outside the description, and the presence
 * row takes a status report (migration 4). */
static void test_purge_and_presence(void **state)
{
	struct fx *f = *state;
	json_t *row = NULL;
	int n = -1;

	assert_int_equal(pn_store_begin(f->s), 0);
	for (int i = 0; i < 3; i++) {
		char id[33], hash[65];
		json_t *sess;

		snprintf(id, sizeof(id), "%032d", i);
		snprintf(hash, sizeof(hash), "%064d", i);
		sess = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:I}", "id", id, "hash", hash,
				 "principal_kind", "admin-key", "principal_id", "k", "role", "admin",
				 "actor", "admin-key:k", "expires", (json_int_t)(1000 + i * 100),
				 "revoked", 0, "created", (json_int_t)1);
		assert_int_equal(pn_store_insert(f->s, PN_OBJ_CONSOLE_SESSION, sess), 0);
		json_decref(sess);
	}
	assert_int_equal(f->s->ops->purge_before(f->s->be, PN_OBJ_CONSOLE_SESSION, "expires",
						 1150, &n),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->s->ops->purge_before(f->s->be, PN_OBJ_CONSOLE_SESSION, "actor", 0, &n),
			 PN_E_INVAL);
	assert_int_equal(
	    f->s->ops->purge_before(f->s->be, PN_OBJ_CONSOLE_SESSION, "expires; DROP", 0, &n),
	    PN_E_INVAL);
	assert_int_equal(pn_store_get(f->s, PN_OBJ_CONSOLE_SESSION, "00000000000000000000000000000002",
				      &row),
			 0);
	json_decref(row);
	row = json_pack("{s:s,s:s,s:I,s:I}", "holder_id", "c1", "kind", "connector", "last_seen",
			(json_int_t)5, "created", (json_int_t)5);
	assert_int_equal(pn_store_insert(f->s, PN_OBJ_PRESENCE, row), 0);
	json_decref(row);
	row = json_pack("{s:s,s:I,s:I,s:I}", "version", "0.1.0", "paths_direct", (json_int_t)2,
			"paths_relay", (json_int_t)1, "reported", (json_int_t)6);
	assert_int_equal(pn_store_update(f->s, PN_OBJ_PRESENCE, "c1", row), 0);
	json_decref(row);
	row = NULL;
	assert_int_equal(pn_store_get(f->s, PN_OBJ_PRESENCE, "c1", &row), 0);
	assert_string_equal(json_string_value(json_object_get(row, "version")), "0.1.0");
	assert_int_equal(json_integer_value(json_object_get(row, "paths_direct")), 2);
	assert_int_equal(json_integer_value(json_object_get(row, "paths_relay")), 1);
	json_decref(row);
	assert_int_equal(pn_store_commit(f->s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_injection_is_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_migrated, setup, teardown),
		cmocka_unit_test(test_schema_versions_match),
		cmocka_unit_test_setup_teardown(test_token_two_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_bumps_serialized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_other_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_statement_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_and_presence, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
