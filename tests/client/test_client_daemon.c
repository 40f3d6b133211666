/*
 * The client daemon (client/daemon.h) against a fake controller, without
 * root or network: a renewal installs the new credential into the tunnels
 * (pn_ctuns_set_credential, wrapped here with -Wl,--wrap) and reloads the
 * access list; a POLICY push installs a newer list; a REVOKED push stops
 * the client with PN_E_NODE_REVOKED and closes everything (the loop ends
 * by itself).  Status: who signed in (user.json), and its display.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "client/daemon.h"
#include "client/status.h"
#include "client/tunnels.h"
#include "core/clock.h"
#include "core/err.h"
#include "fakectl.h"
#include "pki.h"

static char dir[64];
static struct pn_ca *ca;
static struct tpki_cred alice;	 /* the credential login wrote */
static struct tpki_cred renewed; /* what the fake controller's renewal writes */
static uint8_t conn_id[PN_ID_LEN];

/* ------------------------------------------------- the wrapped setter -- */

int __real_pn_ctuns_set_credential(struct pn_ctuns *t, const char *cert_pem, const char *key_pem);
static int set_credential_calls;
static char set_credential_pem[8192];

int __wrap_pn_ctuns_set_credential(struct pn_ctuns *t, const char *cert_pem, const char *key_pem);
int __wrap_pn_ctuns_set_credential(struct pn_ctuns *t, const char *cert_pem, const char *key_pem)
{
	set_credential_calls++;
	snprintf(set_credential_pem, sizeof(set_credential_pem), "%s", cert_pem);
	return __real_pn_ctuns_set_credential(t, cert_pem, key_pem);
}

/* ---------------------------------------------------------- state dir -- */

static void put(const char *name, const void *p, size_t n)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(tpki_put(path, p, n), 0);
}

static void put_str(const char *name, const char *s)
{
	put(name, s, strlen(s));
}

/* acl.bin for holder, version v: the fixture's grant (10.0.0.0/24) via
 * conn_id. */
static void put_acl(const struct pn_cred_info *holder, uint64_t v)
{
	uint8_t res[PN_ID_LEN], net[PN_ID_LEN], *bytes;
	uint64_t now = (uint64_t)pn_wall_s();
	struct pn_acl acl;
	size_t len;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	assert_int_equal(pn_id_random(res), 0);
	assert_int_equal(pn_id_random(net), 0);
	assert_int_equal(pn_acl_add_text(&acl, res, net, "10.0.0.0/24", "tcp", "22"), 0);
	assert_int_equal(pn_acl_add_network(&acl, net, (const uint8_t(*)[PN_ID_LEN])conn_id, 1), 0);
	assert_int_equal(tpki_sign_acl(ca, &acl, holder, v, now - 10, now + 3600, &bytes, &len), 0);
	put("acl.bin", bytes, len);
	free(bytes);
	pn_acl_fini(&acl);
}

static uint8_t *acl_bytes(const struct pn_cred_info *holder, uint64_t v, size_t *len)
{
	char path[256], *text;

	put_acl(holder, v);
	snprintf(path, sizeof(path), "%s/acl.bin", dir);
	{
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		text = malloc(1 << 20);
		assert_non_null(text);
		*len = fread(text, 1, 1 << 20, f);
		fclose(f);
	}
	return (uint8_t *)text;
}

static int setup(void **st)
{
	uint64_t now = (uint64_t)pn_wall_s();
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/pn-cdmn-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pn_ca_new(now, &ca), 0);
	assert_int_equal(pn_id_random(conn_id), 0);
	assert_int_equal(tpki_issue(ca, PN_CRED_CLIENT, "alice", now, 3600, &alice), 0);
	/* same id and key, a later expiry: adoptable */
	assert_int_equal(tpki_reissue(ca, &alice, 0, now, 7200, &renewed), 0);
	return 0;
}

static int teardown(void **st)
{
	char cmd[128];
	(void)st;
	tpki_cred_free(&alice);
	tpki_cred_free(&renewed);
	pn_ca_free(ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh state directory as login leaves it. */
static void login_state(void)
{
	assert_int_equal(tpki_put_cred_dir(dir, &alice, ca), 0);
	put_acl(&alice.info, 1);
	put_str("relays.json", "[{\"name\": \"r1\", \"tls\": \"127.0.0.1:9\"}]");
	put_str("user.json", "{\"id\": \"u-1\", \"name\": \"alice@test\", \"email\": "
			     "\"alice@example.com\", \"provider\": \"dex\", \"groups\": [\"eng\"], "
			     "\"reauth_due\": 1}");
}

/* ------------------------------------------- fake controller (fakectl.h) -- */

/* As ctlapi: the new cert.pem and acl.bin replace the old files. */
static int renew_ok(struct tctl *f, int n)
{
	(void)f;
	(void)n;
	put_str("cert.pem", renewed.cert_pem);
	put_acl(&renewed.info, 2);
	return 0;
}

struct run {
	uv_loop_t loop;
	uv_timer_t guard, poll;
	struct pn_client *c;
	struct tctl f;
	int stopped_calls, stopped_err, closed, guard_fired;
};

static void on_stopped(void *arg, int err)
{
	struct run *r = arg;

	r->stopped_calls++;
	r->stopped_err = err;
	r->c = NULL;
	uv_close((uv_handle_t *)&r->guard, NULL); /* nothing else keeps the loop */
}

static void on_guard(uv_timer_t *t)
{
	struct run *r = t->data;

	r->guard_fired = 1;
	uv_stop(&r->loop);
}

static void start(struct run *r, uint64_t first_ms)
{
	struct pn_client_config cfg = {0};

	memset(r, 0, sizeof(*r));
	set_credential_calls = 0;
	login_state();
	assert_int_equal(uv_loop_init(&r->loop), 0);
	cfg.state_dir = dir;
	r->f.renew = renew_ok;
	cfg.ctl = tctl_handle(&r->f);
	cfg.renew.first_ms = first_ms;
	cfg.renew.retry_min_ms = 20;
	cfg.stopped = on_stopped;
	cfg.arg = r;
	assert_int_equal(pn_client_new(&r->loop, &cfg, &r->c), 0);
	assert_non_null(r->f.cb); /* subscribed to the push channel */
	uv_timer_init(&r->loop, &r->guard);
	r->guard.data = r;
	uv_timer_start(&r->guard, on_guard, 10000, 0);
}

static long long status_int(struct pn_client *c, const char *key)
{
	json_t *st = pn_client_status(c);
	long long v;

	assert_non_null(st);
	v = (long long)json_integer_value(json_object_get(st, key));
	json_decref(st);
	return v;
}

static void sock_exists(int want)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, PN_CLIENT_SOCK_NAME);
	assert_int_equal(stat(path, &sb) == 0, want);
}

/* ----------------------------------------------------------- renewal -- */

static void client_closed(void *arg)
{
	struct run *r = arg;

	r->closed = 1;
	uv_close((uv_handle_t *)&r->guard, NULL);
}

static void on_renew_poll(uv_timer_t *t)
{
	struct run *r = t->data;

	if (status_int(r->c, "renewals") < 1)
		return;
	uv_close((uv_handle_t *)t, NULL);
	pn_client_close(r->c, client_closed, r);
	r->c = NULL;
}

/* The node renews (fake controller), the client hands the new cert.pem to
 * its tunnels and relay connections, reloads acl.bin, and status shows it. */
static void test_renew_installs_credential(void **st)
{
	struct run r;
	(void)st;
	start(&r, 20);
	assert_int_equal(status_int(r.c, "acl_version"), 1);
	assert_int_equal(status_int(r.c, "credential_not_after"), alice.info.not_after);
	uv_timer_init(&r.loop, &r.poll);
	r.poll.data = &r;
	uv_timer_start(&r.poll, on_renew_poll, 5, 5);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_false(r.guard_fired);
	assert_true(r.closed);
	assert_int_equal(r.f.renewals, 1);
	assert_int_equal(set_credential_calls, 1);
	assert_string_equal(set_credential_pem, renewed.cert_pem);
	assert_true(r.f.unsubscribed);
	assert_int_equal(r.stopped_calls, 0); /* closed by us, not on its own */
	sock_exists(0);
	assert_int_equal(uv_loop_close(&r.loop), 0);
}

/* Status after the renewal: checked while it runs (second client). */
static void on_status_poll(uv_timer_t *t)
{
	struct run *r = t->data;
	json_t *doc, *si;

	if (status_int(r->c, "renewals") < 1)
		return;
	uv_close((uv_handle_t *)t, NULL);
	doc = pn_client_status(r->c);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "acl_version")), 2);
	assert_int_equal(json_integer_value(json_object_get(doc, "credential_not_after")),
			 renewed.info.not_after);
	assert_string_equal(json_string_value(json_object_get(doc, "user")), "alice@test");
	assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "groups"), 0)),
			    "eng");
	si = json_object_get(doc, "signed_in");
	assert_true(json_is_object(si));
	assert_string_equal(json_string_value(json_object_get(si, "name")), "alice@test");
	assert_string_equal(json_string_value(json_object_get(si, "email")), "alice@example.com");
	assert_string_equal(json_string_value(json_object_get(si, "provider")), "dex");
	assert_null(json_object_get(si, "reauth_due")); /* only what status shows */
	json_decref(doc);
	pn_client_close(r->c, client_closed, r);
	r->c = NULL;
}

static void test_status_after_renewal(void **st)
{
	struct run r;
	(void)st;
	start(&r, 20);
	uv_timer_init(&r.loop, &r.poll);
	r.poll.data = &r;
	uv_timer_start(&r.poll, on_status_poll, 5, 5);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_false(r.guard_fired);
	assert_true(r.closed);
	assert_int_equal(uv_loop_close(&r.loop), 0);
}

/* ------------------------------------------------------------ revoked -- */

static void on_push_step(uv_timer_t *t)
{
	struct run *r = t->data;
	struct pn_ctlapi_event ev = {0};
	size_t len;
	uint8_t *acl = acl_bytes(&alice.info, 3, &len);

	/* a newer access list: installed, the client runs on */
	ev.kind = PN_CTLAPI_EV_POLICY;
	ev.version = 3;
	ev.acl = acl;
	ev.acl_len = len;
	tctl_push(&r->f, &ev);
	free(acl);
	assert_int_equal(r->stopped_calls, 0);
	assert_int_equal(status_int(r->c, "acl_version"), 3);
	/* an older one is refused */
	acl = acl_bytes(&alice.info, 2, &len);
	ev.version = 2;
	ev.acl = acl;
	ev.acl_len = len;
	tctl_push(&r->f, &ev);
	free(acl);
	assert_int_equal(status_int(r->c, "acl_version"), 3);
	/* our own credential revoked: the client stops */
	memset(&ev, 0, sizeof(ev));
	ev.kind = PN_CTLAPI_EV_REVOKED;
	tctl_push(&r->f, &ev);
	assert_int_equal(r->stopped_calls, 1);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_revoked_stops(void **st)
{
	struct run r;
	uv_timer_t step;
	(void)st;
	start(&r, 60000); /* no renewal due during the test */
	sock_exists(1);
	uv_timer_init(&r.loop, &step);
	step.data = &r;
	uv_timer_start(&step, on_push_step, 20, 0);
	uv_run(&r.loop, UV_RUN_DEFAULT); /* ends only once the client has closed */
	assert_false(r.guard_fired);
	assert_int_equal(r.stopped_calls, 1);
	assert_int_equal(r.stopped_err, PN_E_NODE_REVOKED);
	assert_true(r.f.unsubscribed);
	assert_int_equal(r.f.renewals, 0);
	assert_int_equal(set_credential_calls, 0);
	sock_exists(0); /* nothing answers for it any more */
	assert_int_equal(uv_loop_close(&r.loop), 0);
}

/* ---------------------------------------------------------- user.json -- */

static void test_user_json(void **st)
{
	json_t *u;
	int err;
	char big[600];
	(void)st;
	login_state();
	u = pn_client_user_load(dir, "alice@test", &err);
	assert_int_equal(err, 0);
	assert_string_equal(json_string_value(json_object_get(u, "id")), "u-1");
	assert_null(json_object_get(u, "groups")); /* the credential's are shown */
	json_decref(u);
	/* left behind by someone else's login: ignored */
	assert_null(pn_client_user_load(dir, "svc-backup", &err));
	assert_int_equal(err, PN_E_WRONG_HOLDER);
	/* not JSON, not an object, a name that is no string */
	put_str("user.json", "{\"name\": ");
	assert_null(pn_client_user_load(dir, "alice@test", &err));
	assert_int_equal(err, PN_E_MALFORMED);
	put_str("user.json", "[\"alice@test\"]");
	assert_null(pn_client_user_load(dir, "alice@test", &err));
	assert_int_equal(err, PN_E_MALFORMED);
	put_str("user.json", "{\"name\": 7}");
	assert_null(pn_client_user_load(dir, "7", &err));
	assert_int_equal(err, PN_E_WRONG_HOLDER);
	/* an oversized field is left out, the rest kept */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	{
		char doc[1024];
		snprintf(doc, sizeof(doc), "{\"name\": \"alice@test\", \"email\": \"%s\"}", big);
		put_str("user.json", doc);
	}
	u = pn_client_user_load(dir, "alice@test", &err);
	assert_non_null(u);
	assert_null(json_object_get(u, "email"));
	json_decref(u);
	/* none: a service-account login */
	{
		char path[256];
		snprintf(path, sizeof(path), "%s/user.json", dir);
		assert_int_equal(unlink(path), 0);
	}
	assert_null(pn_client_user_load(dir, "alice@test", &err));
	assert_int_equal(err, -ENOENT);
}

/* The table shows who signed in; control bytes from the IdP never reach
 * the terminal. */
static void test_status_print(void **st)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	(void)st;
	f = open_memstream(&text, &n);
	assert_non_null(f);
	assert_int_equal(
	    pn_client_status_print(
		"{\"client_id\": \"00\", \"name\": \"alice\", \"user\": \"alice\", \"groups\": "
		"[\"eng\", \"ops\"], \"signed_in\": {\"name\": \"alice\\u001b[31m\", \"email\": "
		"\"a@example.com\", \"provider\": \"dex\"}, \"tunnels\": [], \"proxy\": {}}",
		f),
	    0);
	assert_int_equal(pn_client_status_print("{\"client_id\": \"00\", \"user\": \"svc\", "
						"\"signed_in\": null, \"groups\": []}",
						f),
			 0);
	assert_int_equal(pn_client_status_print("[]", f), PN_E_MALFORMED);
	fclose(f);
	assert_non_null(strstr(text, "signed in as alice?[31m <a@example.com> through dex, "
				     "groups: eng,ops\n"));
	assert_non_null(strstr(text, "signed in as svc (service account), groups: (none)\n"));
	assert_null(strchr(text, 0x1b));
	free(text);
}

/* The NAT traversal line under each tunnel: the pair, time on the path,
 * switches, NAT kinds, keepalive; nothing for a tunnel without it. */
static void test_status_print_p2p(void **st)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	(void)st;
	f = open_memstream(&text, &n);
	assert_non_null(f);
	assert_int_equal(
	    pn_client_status_print(
		"{\"client_id\": \"00\", \"user\": \"svc\", \"groups\": [], \"tunnels\": ["
		"{\"connector\": \"c1\", \"state\": \"up\", \"path\": \"direct\", \"relay\": \"\","
		" \"p2p\": {\"state\": \"direct\", \"nat\": \"eim\", \"peer_nat\": \"none\","
		" \"local\": \"192.0.2.1:4000\", \"remote\": \"198.51.100.2:5000\","
		" \"on_path_ms\": 70500, \"time_to_direct_ms\": 139, \"switches\": 3,"
		" \"keepalive_ms\": 8340, \"keepalives\": 2, \"mapping_expiries\": 1,"
		" \"relay_fallback\": false}},"
		"{\"connector\": \"c2\", \"state\": \"up\", \"path\": \"relay-udp\","
		" \"relay\": \"r1\", \"p2p\": {\"state\": \"relay\", \"nat\": \"edm\","
		" \"peer_nat\": \"edm\", \"on_path_ms\": 900, \"switches\": 0}},"
		"{\"connector\": \"c3\", \"state\": \"up\", \"path\": \"direct\","
		" \"p2p\": {\"state\": \"off\"}}]}",
		f),
	    0);
	fclose(f);
	assert_non_null(strstr(text, "  direct   192.0.2.1:4000 <-> 198.51.100.2:5000 for 1m10s, 3 "
				     "switches, NAT eim (peer none), keepalive 8.3s (NAT mapping "
				     "expired 1x), no relay fallback, direct after 139ms\n"));
	assert_non_null(strstr(text, "  relay    via relay-udp for 900ms, 0 switches, NAT edm (peer "
				     "edm)\n"));
	assert_null(strstr(text, "off"));
	free(text);
}

/* No client running: who is signed in, from the files. */
static void test_status_idle(void **st)
{
	char *text = NULL, path[256];
	size_t n = 0;
	FILE *f;
	(void)st;
	login_state();
	f = open_memstream(&text, &n);
	assert_non_null(f);
	assert_int_equal(pn_client_status_idle(dir, f), 0);
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(pn_client_status_idle(dir, f), -ENOENT);
	fclose(f);
	assert_non_null(strstr(text, "signed in as alice@test <alice@example.com> through dex, "
				     "groups: eng\ncredential expires in "));
	assert_non_null(strstr(text, "not signed in: "));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_renew_installs_credential),
	    cmocka_unit_test(test_status_after_renewal),
	    cmocka_unit_test(test_revoked_stops),
	    cmocka_unit_test(test_user_json),
	    cmocka_unit_test(test_status_print),
	    cmocka_unit_test(test_status_print_p2p),
	    cmocka_unit_test(test_status_idle),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
