/*
 * The component runtime against a fake controller: the renewal schedule
 * and its backoff, adoption refusal (other id, other key, older), the
 * push channel (policy, REVOKED).  No network, no root.
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
#include <uv.h>

#include "core/clock.h"
#include "core/err.h"
#include "node/node.h"
#include "pki.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

#include "fakectl.h"

/* ------------------------------------------------------------ PKI -- */

static struct pn_ca *ca;
static char dir[64];
static struct pn_key *key_a, *key_b;
static uint8_t id_x[PN_ID_LEN], id_y[PN_ID_LEN];

/* A credential for key k and holder id, issued now (tests/lib/pki). */
static char *mint(struct pn_key *k, const uint8_t *id, enum pn_cred_type type, uint64_t life)
{
	struct tpki_cred c;
	char *pem;

	assert_int_equal(
	    tpki_issue_key(ca, k, type, "node-test", id, (uint64_t)pn_wall_s(), life, &c), 0);
	pem = c.cert_pem;
	c.cert_pem = NULL;
	tpki_cred_free(&c);
	return pem;
}

static void put(const char *name, const char *text)
{
	char path[256], tmp[260];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0); /* as ctlapi: atomic replace */
}

static void put_cert(struct pn_key *k, const uint8_t *id, enum pn_cred_type type, uint64_t life)
{
	char *pem = mint(k, id, type, life);
	put("cert.pem", pem);
	free(pem);
}

static int setup(void **st)
{
	char *pem;
	size_t n;
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/pn-node-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pn_ca_new((uint64_t)pn_wall_s(), &ca), 0);
	assert_int_equal(pn_key_generate(&key_a), 0);
	assert_int_equal(pn_key_generate(&key_b), 0);
	assert_int_equal(pn_id_random(id_x), 0);
	assert_int_equal(pn_id_random(id_y), 0);
	{
		struct pn_anchor *a;
		assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
		pn_anchor_free(a);
	}
	put("ca.crt", pn_ca_cert_pem(ca));
	assert_int_equal(pn_key_export_pem(key_a, &pem, &n), 0);
	put("key.pem", pem);
	pn_key_pem_free(pem, n);
	return 0;
}

static int teardown(void **st)
{
	char cmd[128];
	(void)st;
	pn_key_free(key_a);
	pn_key_free(key_b);
	pn_ca_free(ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void load(struct pn_node_ident *id, uint64_t life)
{
	const char *failed;

	put_cert(key_a, id_x, PN_CRED_CONNECTOR, life);
	assert_int_equal(pn_node_ident_load(id, PN_CRED_CONNECTOR, dir, NULL, NULL, NULL,
					    (uint64_t)pn_wall_s(), &failed),
			 0);
	assert_true(id->ci_valid);
}

/* ------------------------------------------------------- schedule -- */

static void test_schedule(void **st)
{
	struct pn_renew r;
	struct pn_renew_policy pol = {0};
	(void)st;
	/* 1 h credential issued at t=1000 s: attempt at two thirds (t=3400 s) */
	pn_renew_init(&r, NULL, 1000, 4600);
	assert_int_equal(pn_renew_delay_ms(&r, 1000 * 1000), 2400 * 1000);
	assert_int_equal(pn_renew_delay_ms(&r, 4000 * 1000), 0); /* overdue: at once */
	/* failures: 1, 2, 4, 8, 16 s, then the 30 s ceiling */
	static const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		pn_renew_failed(&r);
		assert_int_equal(pn_renew_delay_ms(&r, 3400 * 1000), want[i]);
	}
	/* a newer credential: planned from it, failures forgotten */
	pn_renew_adopted(&r, 3400, 7000);
	assert_int_equal(pn_renew_delay_ms(&r, 3400 * 1000), 2400 * 1000);
	/* a 20 s credential retries within a tenth of its life (2 s) */
	pn_renew_init(&r, NULL, 100, 120);
	pn_renew_failed(&r);
	pn_renew_failed(&r);
	pn_renew_failed(&r);
	assert_int_equal(pn_renew_delay_ms(&r, 0), 2000);
	/* unknown lifetime (expired at start): at once, then back off */
	pn_renew_init(&r, NULL, 0, 0);
	assert_int_equal(pn_renew_delay_ms(&r, 5000), 0);
	for (int i = 0; i < 10; i++)
		pn_renew_failed(&r);
	assert_int_equal(pn_renew_delay_ms(&r, 5000), PN_RENEW_RETRY_MAX_MS);
	/* first attempt forced (--renew-after), a cap on every plan */
	pol.first_ms = 7000;
	pol.cap_ms = 60000;
	pn_renew_init(&r, &pol, 1000, 4600);
	assert_int_equal(pn_renew_delay_ms(&r, 1000 * 1000), 7000);
	assert_int_equal(pn_renew_delay_ms(&r, 1000 * 1000), 60000);
}

/* ------------------------------------------------------- adoption -- */

static void test_adoption_refusal(void **st)
{
	struct pn_node_ident id;
	struct pn_cred_info ci;
	uint64_t now = (uint64_t)pn_wall_s();
	char *pem;
	(void)st;
	load(&id, 600);
	/* another holder id with our key */
	pem = mint(key_a, id_y, PN_CRED_CONNECTOR, 900);
	assert_int_equal(pn_node_ident_check_new(&id, pem, now, &ci), PN_E_WRONG_HOLDER);
	free(pem);
	/* our id, another key */
	pem = mint(key_b, id_x, PN_CRED_CONNECTOR, 900);
	assert_int_equal(pn_node_ident_check_new(&id, pem, now, &ci), PN_E_WRONG_HOLDER);
	free(pem);
	/* ours, but older (expires before the one in use) */
	pem = mint(key_a, id_x, PN_CRED_CONNECTOR, 300);
	assert_int_equal(pn_node_ident_check_new(&id, pem, now, &ci), PN_E_NODE_NOT_NEWER);
	free(pem);
	/* another type */
	pem = mint(key_a, id_x, PN_CRED_RELAY, 900);
	assert_int_not_equal(pn_node_ident_check_new(&id, pem, now, &ci), 0);
	free(pem);
	/* ours and newer */
	pem = mint(key_a, id_x, PN_CRED_CONNECTOR, 900);
	assert_int_equal(pn_node_ident_check_new(&id, pem, now, &ci), 0);
	free(pem);
	pn_node_ident_free(&id);
}

/* A credential that certifies another key is refused at load. */
static void test_load_mismatch(void **st)
{
	struct pn_node_ident id;
	const char *failed;
	(void)st;
	put_cert(key_b, id_x, PN_CRED_CONNECTOR, 600);
	assert_int_equal(pn_node_ident_load(&id, PN_CRED_CONNECTOR, dir, NULL, NULL, NULL,
					    (uint64_t)pn_wall_s(), &failed),
			 PN_E_WRONG_HOLDER);
	assert_non_null(failed);
	assert_non_null(strstr(failed, "cert.pem"));
	assert_int_equal(pn_node_ident_load(&id, PN_CRED_CONNECTOR, dir, NULL, NULL,
					    "/nonexistent/key.pem", (uint64_t)pn_wall_s(), &failed),
			 -ENOENT);
	assert_string_equal(failed, "/nonexistent/key.pem");
	pn_node_ident_free(&id);
}

/* -------------------------------------------------- fake controller -- */

enum fake_mode { FAKE_OK, FAKE_OTHER_KEY, FAKE_OTHER_ID, FAKE_OLDER };

/* What the fake controller's renewal does (fakectl.h). */
struct fake {
	int fail_first; /* fail this many renewals (controller unreachable) */
	enum fake_mode mode;
};

static int f_renew(struct tctl *t, int n)
{
	struct fake *f = t->user;

	if (n < f->fail_first)
		return PN_E_CTL_CONNECT;
	switch (f->mode) {
	case FAKE_OK: put_cert(key_a, id_x, PN_CRED_CONNECTOR, 900); break;
	case FAKE_OTHER_KEY: put_cert(key_b, id_x, PN_CRED_CONNECTOR, 900); break;
	case FAKE_OTHER_ID: put_cert(key_a, id_y, PN_CRED_CONNECTOR, 900); break;
	case FAKE_OLDER: put_cert(key_a, id_x, PN_CRED_CONNECTOR, 300); break;
	}
	return 0;
}

struct run {
	uv_loop_t loop;
	uv_timer_t poll;
	struct pn_node *node;
	struct pn_node_ident id;
	struct fake f;
	struct tctl ctl;
	int want_renewals, want_failures, closed, revoked, policies, creds;
	uint64_t deadline;
};

static int h_cred(void *user, const char *pem, const struct pn_cred_info *ci)
{
	struct run *r = user;
	(void)pem;
	(void)ci;
	r->creds++;
	return 0;
}

static void h_policy(void *user, const struct pn_ctlapi_event *ev)
{
	struct run *r = user;
	(void)ev;
	r->policies++;
}

static void h_revoked(void *user)
{
	struct run *r = user;
	r->revoked++;
}

static void node_closed(void *arg)
{
	struct run *r = arg;
	r->closed = 1;
	r->node = NULL;
}

static void on_poll(uv_timer_t *t)
{
	struct run *r = t->data;
	struct pn_node_stats st;

	pn_node_stats(r->node, &st);
	if ((st.renewals >= (unsigned)r->want_renewals &&
	     st.renew_failures >= (unsigned)r->want_failures) ||
	    uv_now(&r->loop) > r->deadline) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
		pn_node_close(r->node, node_closed, r);
	}
}

static void run_start(struct run *r, uint64_t life, int subscribe)
{
	struct pn_node_config cfg = {0};

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&r->loop), 0);
	load(&r->id, life);
	cfg.loop = &r->loop;
	cfg.module = "test";
	cfg.ident = &r->id;
	r->ctl.renew = f_renew;
	r->ctl.user = &r->f;
	cfg.ctl = tctl_handle(&r->ctl);
	cfg.subscribe = subscribe;
	cfg.renew.first_ms = 10;
	cfg.renew.retry_min_ms = 40;
	cfg.hooks.credential = h_cred;
	cfg.hooks.policy = h_policy;
	cfg.hooks.revoked = h_revoked;
	cfg.user = r;
	assert_int_equal(pn_node_new(&cfg, &r->node), 0);
}

static void run_loop(struct run *r)
{
	r->deadline = uv_now(&r->loop) + 10000;
	uv_timer_init(&r->loop, &r->poll);
	r->poll.data = r;
	uv_timer_start(&r->poll, on_poll, 5, 5);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_true(r->closed);
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* Two failures, then success: retried after the backoff (40 ms, then
 * 80 ms), the new credential adopted and handed to the role, and the next
 * attempt planned at two thirds of the new lifetime. */
static void test_renew_retry(void **st)
{
	struct run r;
	uint64_t old_after;
	(void)st;
	run_start(&r, 600, 0);
	old_after = r.id.ci.not_after;
	r.f.fail_first = 2;
	r.want_renewals = 1;
	{
		struct pn_node_stats s;
		pn_node_stats(r.node, &s);
		assert_int_equal(s.next_renew_ms, 10);
	}
	run_loop(&r);
	assert_int_equal(r.ctl.renewals, 3);
	assert_true(r.ctl.renew_ms[1] - r.ctl.renew_ms[0] >= 40);
	assert_true(r.ctl.renew_ms[2] - r.ctl.renew_ms[1] >= 80);
	assert_int_equal(r.creds, 1);
	assert_true(r.id.ci.not_after > old_after);
	pn_node_ident_free(&r.id);
}

static void refused_case(enum fake_mode mode)
{
	struct run r;
	char *before;
	(void)mode;
	run_start(&r, 600, 0);
	before = strdup(r.id.cert_pem);
	r.f.mode = mode;
	r.want_failures = 2; /* refused, retried, refused again */
	run_loop(&r);
	assert_true(r.ctl.renewals >= 2);
	assert_int_equal(r.creds, 0);
	assert_string_equal(r.id.cert_pem, before); /* still the old one */
	free(before);
	pn_node_ident_free(&r.id);
}

static void test_refuse_other_key(void **st)
{
	(void)st;
	refused_case(FAKE_OTHER_KEY);
}

static void test_refuse_other_id(void **st)
{
	(void)st;
	refused_case(FAKE_OTHER_ID);
}

static void test_refuse_older(void **st)
{
	(void)st;
	refused_case(FAKE_OLDER);
}

/* Push: a POLICY event reaches the role; REVOKED calls the role's stop
 * and ends renewal. */
static void on_push_step(uv_timer_t *t)
{
	struct run *r = t->data;
	struct pn_ctlapi_event ev = {0};

	ev.kind = PN_CTLAPI_EV_POLICY;
	ev.version = 7;
	tctl_push(&r->ctl, &ev);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PN_CTLAPI_EV_REVOKED;
	tctl_push(&r->ctl, &ev);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_push_revoked(void **st)
{
	struct run r;
	uv_timer_t step;
	struct pn_node_config cfg = {0};
	(void)st;
	memset(&r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&r.loop), 0);
	load(&r.id, 600);
	cfg.loop = &r.loop;
	cfg.module = "test";
	cfg.ident = &r.id;
	r.ctl.renew = f_renew;
	r.ctl.user = &r.f;
	cfg.ctl = tctl_handle(&r.ctl);
	cfg.subscribe = 1;
	cfg.renew.first_ms = 300; /* would renew in 300 ms: REVOKED stops it */
	cfg.hooks.credential = h_cred;
	cfg.hooks.policy = h_policy;
	cfg.hooks.revoked = h_revoked;
	cfg.user = &r;
	assert_int_equal(pn_node_new(&cfg, &r.node), 0);
	assert_true(r.ctl.subscribed);
	uv_timer_init(&r.loop, &step);
	step.data = &r;
	uv_timer_start(&step, on_push_step, 10, 0);
	/* poll until well past the planned renewal */
	r.want_renewals = 99;
	r.deadline = uv_now(&r.loop) + 600;
	uv_timer_init(&r.loop, &r.poll);
	r.poll.data = &r;
	uv_timer_start(&r.poll, on_poll, 5, 5);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_true(r.closed);
	assert_int_equal(uv_loop_close(&r.loop), 0);
	assert_int_equal(r.creds, 0);
	assert_int_equal(r.policies, 1);     /* the role saw the policy */
	assert_int_equal(r.revoked, 1);	     /* and was told to stop */
	assert_int_equal(r.ctl.renewals, 0); /* no renewal after REVOKED */
	assert_true(r.ctl.unsubscribed);
	pn_node_ident_free(&r.id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schedule),	     cmocka_unit_test(test_adoption_refusal),
	    cmocka_unit_test(test_load_mismatch),    cmocka_unit_test(test_renew_retry),
	    cmocka_unit_test(test_refuse_other_key), cmocka_unit_test(test_refuse_other_id),
	    cmocka_unit_test(test_refuse_older),     cmocka_unit_test(test_push_revoked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
