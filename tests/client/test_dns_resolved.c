/* Unit tests for the systemd-resolved integration's decisions and the
 * resolvectl commands it runs (client/dns_resolved.h).  No resolved runs
 * here: it_transparent_more.sh checks the client's side with a stand-in
 * resolvectl. */
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

#include "client/dns_resolved.h"
#include "core/err.h"

static void test_decide(void **st)
{
	(void)st;
	assert_true(pn_resolved_decide("/run/systemd/resolve/stub-resolv.conf", "", 1));
	assert_true(pn_resolved_decide("../run/systemd/resolve/resolv.conf", NULL, 1));
	assert_true(pn_resolved_decide(NULL,
				       "# This is /run/systemd/resolve/stub-resolv.conf managed by "
				       "man:systemd-resolved(8).\nnameserver 127.0.0.53\n",
				       1));
	/* managed but not running (a stale symlink): resolv.conf mode */
	assert_false(pn_resolved_decide("/run/systemd/resolve/stub-resolv.conf", "", 0));
	/* a plain file, or another manager */
	assert_false(pn_resolved_decide(NULL, "nameserver 10.0.0.1\n", 1));
	assert_false(pn_resolved_decide("/run/NetworkManager/resolv.conf", "# NetworkManager", 1));
}

static void test_detect(void **st)
{
	char dir[] = "/tmp/pn-resolved-XXXXXX", f[256], run[256];
	FILE *fp;
	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(f, sizeof(f), "%s/resolv.conf", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	fp = fopen(f, "w");
	fputs("# managed by man:systemd-resolved(8)\nnameserver 127.0.0.53\n", fp);
	fclose(fp);
	assert_false(pn_resolved_detect(f, run)); /* no runtime file */
	assert_int_equal(mkdir(run, 0700), 0);
	snprintf(run + strlen(run), sizeof(run) - strlen(run), "/resolv.conf");
	fp = fopen(run, "w");
	fputs("nameserver 10.0.0.1\n", fp);
	fclose(fp);
	run[strlen(run) - strlen("/resolv.conf")] = '\0';
	assert_true(pn_resolved_detect(f, run));
	unlink(f);
	snprintf(f, sizeof(f), "%s/run/resolv.conf", dir);
	unlink(f);
	rmdir(run);
	rmdir(dir);
}

static void test_domain(void **st)
{
	char d[PN_RESOLVED_DOMAIN_MAX];
	(void)st;
	assert_int_equal(pn_resolved_domain("app.corp.example", d, sizeof(d)), 0);
	assert_string_equal(d, "~app.corp.example");
	assert_int_equal(pn_resolved_domain("*.web.corp.example", d, sizeof(d)), 0);
	assert_string_equal(d, "~web.corp.example");
	assert_int_equal(pn_resolved_domain("**.corp.example", d, sizeof(d)), 0);
	assert_string_equal(d, "~corp.example");
	assert_int_equal(pn_resolved_domain("_http._tcp.app.corp.example", d, sizeof(d)), 0);
	assert_string_equal(d, "~_http._tcp.app.corp.example");
	assert_int_equal(pn_resolved_domain("10.0.0.0/8", d, sizeof(d)), PN_E_INVAL);
	assert_int_equal(pn_resolved_domain("10.1.2.3", d, sizeof(d)), PN_E_INVAL);
	assert_int_equal(pn_resolved_domain("fd00::/64", d, sizeof(d)), PN_E_INVAL);
	assert_int_equal(pn_resolved_domain("app.corp.example", d, 5), PN_E_NOSPACE);
}

static void test_plan(void **st)
{
	static struct pn_resolved_cmd c[8];
	const char *doms[] = {"~app.corp.example", "~web.corp.example"};
	unsigned n;
	(void)st;
	assert_int_equal(pn_resolved_plan("resolvectl", "postern0", "127.0.0.153", doms, 2, c, 8, &n),
			 0);
	assert_int_equal(n, 6);
	assert_int_equal(c[0].argc, 4);
	assert_string_equal(c[0].argv[1], "dns");
	assert_string_equal(c[0].argv[2], "postern0");
	assert_string_equal(c[0].argv[3], "127.0.0.153");
	assert_null(c[0].argv[4]);
	assert_string_equal(c[1].argv[1], "domain");
	assert_int_equal(c[1].argc, 5);
	assert_string_equal(c[1].argv[3], "~app.corp.example");
	assert_string_equal(c[1].argv[4], "~web.corp.example");
	assert_null(c[1].argv[5]);
	assert_string_equal(c[2].argv[1], "default-route");
	assert_string_equal(c[2].argv[3], "false");
	assert_string_equal(c[3].argv[1], "llmnr");
	assert_string_equal(c[4].argv[1], "mdns");
	assert_string_equal(c[5].argv[1], "dnssec");
	/* no domains: the list is cleared, never left as it was */
	assert_int_equal(pn_resolved_plan("r", "postern0", "127.0.0.153:5353", NULL, 0, c, 8, &n), 0);
	assert_int_equal(c[1].argc, 4);
	assert_string_equal(c[1].argv[3], "");
	assert_string_equal(c[0].argv[3], "127.0.0.153:5353");
	/* bounds */
	assert_int_equal(pn_resolved_plan("r", "p", "s", doms, 2, c, 3, &n), PN_E_TOOBIG);
	assert_int_equal(pn_resolved_plan("r", "p", "s", doms, PN_RESOLVED_MAX_DOMAINS + 1, c, 8, &n),
			 PN_E_TOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide),
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_domain),
	    cmocka_unit_test(test_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
