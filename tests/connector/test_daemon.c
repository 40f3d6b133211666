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
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

#include "fakectl.h"

static char dir[64];

static void put(const char *name, const void *p, size_t n)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* A connector state directory: ca.crt, key.pem, cert.pem, acl.bin. */
static void mint(void)
{
	struct pn_ca *ca;
	struct pn_key *k;
	struct pn_cred_info in = {0}, out;
	struct pn_acl a;
	uint8_t net[PN_ID_LEN], res[PN_ID_LEN], *acl;
	char *csr, *pem, *kpem;
	size_t n, kn, alen;
	uint64_t now = (uint64_t)time(NULL);

	assert_int_equal(pn_ca_new(now, &ca), 0);
	put("ca.crt", pn_ca_cert_pem(ca), strlen(pn_ca_cert_pem(ca)));
	in.type = PN_CRED_CONNECTOR;
	pn_id_random(in.id);
	snprintf(in.name, sizeof(in.name), "daemon-test");
	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_csr_pem(k, NULL, &csr, &n), 0);
	assert_int_equal(pn_cred_issue(ca, csr, &in, 3600, now, &pem, &out), 0);
	assert_int_equal(pn_key_export_pem(k, &kpem, &kn), 0);
	put("cert.pem", pem, strlen(pem));
	put("key.pem", kpem, kn);
	pn_id_random(net);
	pn_id_random(res);
	pn_acl_init(&a, PN_ACL_CONNECTOR);
	memcpy(a.holder_id, out.id, PN_ID_LEN);
	memcpy(a.holder_fpr, out.key_fpr, PN_FPR_LEN);
	a.version = 1;
	a.issued_at = now - 10;
	a.expires_at = now + 3600;
	assert_int_equal(pn_acl_add_text(&a, res, net, "127.0.0.1", "tcp", "7"), 0);
	assert_int_equal(pn_acl_sign(ca, &a, &acl, &alen), 0);
	put("acl.bin", acl, alen);
	pn_acl_fini(&a);
	free(acl);
	free(csr);
	free(pem);
	pn_key_pem_free(kpem, kn);
	pn_key_free(k);
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
