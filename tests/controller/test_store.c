/* Store unit tests against a real SQLite file in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "controller/store.h"
#include "core/err.h"

struct fx {
	char dir[64];
	char path[128];
	struct pn_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pn-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
	assert_int_equal(pn_store_open_sqlite(f->path, &f->s), 0);
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
	assert_int_equal(pn_store_open_sqlite(f->path, &s2), 0);
	pn_store_close(s2);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
