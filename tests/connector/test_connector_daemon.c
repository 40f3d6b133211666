/*
 * The connector daemon (connector/daemon.h) against a fake controller: a
 * REVOKED push stops it (the role is told first, then everything closes
 * and the loop ends); a POLICY push reaches the connector.  No root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "connector/daemon.h"
#include "core/err.h"
#include "pki.h"
#include "trust/acl.h"
#include "trust/ca.h"

#include "fakectl.h"

static char dir[64];

/* A connector state directory (tests/lib/pki): ca.crt, key.pem, cert.pem, id,
 * acl.bin. */
static void mint(void)
{
	struct pn_ca *ca;
	struct tpki_cred c;
	struct pn_acl a;
	uint8_t net[PN_ID_LEN], res[PN_ID_LEN], *acl;
	char path[128];
	size_t alen;
	uint64_t now = (uint64_t)time(NULL);

	assert_int_equal(pn_ca_new(now, &ca), 0);
	assert_int_equal(tpki_issue(ca, PN_CRED_CONNECTOR, "daemon-test", now, 3600, &c), 0);
	assert_int_equal(tpki_put_cred_dir(dir, &c, ca), 0);
	pn_id_random(net);
	pn_id_random(res);
	pn_acl_init(&a, PN_ACL_CONNECTOR);
	assert_int_equal(pn_acl_add_text(&a, res, net, "127.0.0.1", "tcp", "7"), 0);
	assert_int_equal(tpki_sign_acl(ca, &a, &c.info, 1, now - 10, now + 3600, &acl, &alen), 0);
	snprintf(path, sizeof(path), "%s/acl.bin", dir);
	assert_int_equal(tpki_put(path, acl, alen), 0);
	pn_acl_fini(&a);
	free(acl);
	tpki_cred_free(&c);
	pn_ca_free(ca);
}

static struct tctl F; /* renewals fail (no renew hook) */
static int stopping_called, guard_fired;
static uv_timer_t guard, step;

static void on_stopping(void *arg)
{
	(void)arg;
	stopping_called++;
	uv_close((uv_handle_t *)&guard, NULL); /* nothing else keeps the loop */
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
	guard_fired = 1;
	uv_stop(t->loop);
}

static void on_step(uv_timer_t *t)
{
	struct pn_ctlapi_event ev = {0};
	struct pn_ctlapi_revocation rv = {0};

	/* a policy push with a revoked client: applied, the daemon runs on */
	snprintf(rv.holder_id, sizeof(rv.holder_id), "%032x", 7);
	ev.kind = PN_CTLAPI_EV_POLICY;
	ev.version = 3;
	ev.revoked = &rv;
	ev.n_revoked = 1;
	tctl_push(&F, &ev);
	assert_int_equal(stopping_called, 0);
	/* our own credential revoked: the connector stops */
	memset(&ev, 0, sizeof(ev));
	ev.kind = PN_CTLAPI_EV_REVOKED;
	tctl_push(&F, &ev);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_revoked_stops(void **st)
{
	struct pn_connector_daemon_config cfg = {0};
	struct pn_connector_daemon *d;
	uv_loop_t loop;
	char err[512];
	int cfg_error;
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/pn-cdaemon-XXXXXX");
	assert_non_null(mkdtemp(dir));
	mint();
	assert_int_equal(uv_loop_init(&loop), 0);
	cfg.state = dir;
	cfg.ctl = tctl_handle(&F);
	cfg.stopping = on_stopping;
	assert_int_equal(pn_connector_daemon_new(&loop, &cfg, &d, err, sizeof(err), &cfg_error), 0);
	assert_non_null(F.cb); /* subscribed */
	uv_timer_init(&loop, &guard);
	uv_timer_start(&guard, on_guard, 10000, 0);
	uv_timer_init(&loop, &step);
	uv_timer_start(&step, on_step, 20, 0);
	uv_run(&loop, UV_RUN_DEFAULT); /* ends only once the daemon has closed */
	assert_false(guard_fired);
	assert_int_equal(stopping_called, 1);
	assert_true(F.unsubscribed);
	assert_int_equal(F.renewals, 0); /* 1 h credential: nothing due */
	assert_int_equal(uv_loop_close(&loop), 0);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_revoked_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
