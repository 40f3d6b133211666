/*
 * src/app/opts.c: one option table for flags, --help, the config schema,
 * --check-config and SIGHUP.  Files in a temporary directory; the reload
 * log read back from a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/opts.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct pn_opt tab[] = {
    PN_OPT("state", "DIR", "t", "state", PN_CFG_STR, .min = 1, .max = 100, .help = "state"),
    PN_OPT("port", "N", "t", "port", PN_CFG_INT, .min = 1, .max = 65535, .def = "443",
	   .flags = PN_OPT_RELOAD, .help = "port"),
    PN_OPT("idle", "S", "t", "idle", PN_CFG_DURATION, .min = 1000, .max = 3600000, .def = "30s",
	   .unit = "s", .flags = PN_OPT_RELOAD, .help = "idle"),
    PN_OPT("peer", "P", "t", "peers", PN_CFG_LIST, .max = 4, .def = "[]", .help = "peers"),
    PN_OPT("fast", NULL, "t", "fast", PN_CFG_BOOL, .value = "true", .def = "false", .help = "fast"),
    PN_OPTS_LOG,
};

static char dir[] = "/tmp/pn-test-opts.XXXXXX";
static char conf[64], logpath[64];

static void put(const char *text)
{
	assert_int_equal(pn_file_write(conf, text, strlen(text), 0600, 0), 0);
}

static int parse(struct pn_opts *o, char *err, size_t errsz, ...)
{
	char *argv[16] = {"run"};
	int argc = 1;
	va_list ap;

	va_start(ap, errsz);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return pn_opts_parse(o, "test run", tab, N(tab), argc, argv, err, errsz);
}

static char *log_text(void)
{
	char *buf;
	size_t n;

	assert_int_equal(pn_file_read(logpath, 1 << 20, &buf, &n), 0);
	return buf;
}

static void test_file_then_flags(void **state)
{
	const char *const *items;
	struct pn_opts o;
	char err[256];

	(void)state;
	put("[t]\nstate = /s\nport = 80\npeers = [a]\n[log]\nlevel = info\n");
	assert_int_equal(parse(&o, err, sizeof(err), "--config", conf, "--port", "81", "--idle",
			       "45", "--peer", "b", "--fast", NULL),
			 0);
	assert_string_equal(pn_cfg_str(o.cfg, "t", "state"), "/s");
	assert_int_equal(pn_cfg_int(o.cfg, "t", "port"), 81);
	assert_int_equal(pn_cfg_duration_ms(o.cfg, "t", "idle"), 45000); /* unit s */
	assert_int_equal(pn_cfg_list(o.cfg, "t", "peers", &items), 2);
	assert_string_equal(items[1], "b");
	assert_true(pn_cfg_bool(o.cfg, "t", "fast"));
	assert_int_equal(pn_opts_require(&o, "t", "state", err, sizeof(err)), 0);
	pn_opts_fini(&o);
}

static void test_errors(void **state)
{
	struct pn_opts o;
	char err[256];

	(void)state;
	put("[t]\nstate = /s\nprot = 80\n");
	assert_int_equal(parse(&o, err, sizeof(err), "--config", conf, NULL), PN_E_CONFIG);
	assert_non_null(strstr(err, ":3: unknown key 't.prot' (did you mean 'port'?)"));
	pn_opts_fini(&o);
	assert_int_equal(parse(&o, err, sizeof(err), "--port", "x", NULL), PN_E_CONFIG);
	assert_string_equal(err, "--port: key 't.port': expected integer 1..65535, got \"x\"");
	pn_opts_fini(&o);
	assert_int_equal(parse(&o, err, sizeof(err), "--nope", NULL), PN_E_CONFIG);
	assert_string_equal(err, "unknown option '--nope' (see --help)");
	pn_opts_fini(&o);
	assert_int_equal(parse(&o, err, sizeof(err), "--port", NULL), PN_E_CONFIG);
	assert_string_equal(err, "--port needs an argument (see --help)");
	pn_opts_fini(&o);
	assert_int_equal(parse(&o, err, sizeof(err), "extra", NULL), PN_E_CONFIG);
	pn_opts_fini(&o);
	assert_int_equal(parse(&o, err, sizeof(err), "--help", NULL), PN_OPTS_HELP);
	pn_opts_fini(&o);
	assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
	assert_int_equal(pn_opts_require(&o, "t", "state", err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(err, "command line: key 't.state': required but not set (add it "
				 "under [t] or give --state)");
	pn_opts_fini(&o);
}

static int applied_port;
static int apply(const struct pn_cfg *cfg, void *arg)
{
	(void)arg;
	if (pn_cfg_int(cfg, "t", "port") == 666)
		return PN_E_INVAL;
	applied_port = (int)pn_cfg_int(cfg, "t", "port");
	return 0;
}

static void test_reload(void **state)
{
	struct pn_opts o;
	char err[256], *log;

	(void)state;
	put("[t]\nstate = /s\nport = 80\nidle = 10s\n");
	/* --idle on the command line wins over the file, also on reload. */
	assert_int_equal(parse(&o, err, sizeof(err), "--config", conf, "--idle", "20", NULL), 0);
	put("[t]\nstate = /other\nport = 81\nidle = 11s\npeers = [x]\n[log]\nformat = json\n");
	assert_int_equal(pn_opts_reload(&o, apply, NULL, err, sizeof(err)), 0);
	assert_int_equal(applied_port, 81);
	log = log_text();
	assert_non_null(strstr(log, "\"event\":\"reload_applied\",\"key\":\"t.port\""));
	assert_non_null(strstr(log, "\"event\":\"reload_applied\",\"key\":\"log.format\""));
	assert_null(strstr(log, "t.idle"));
	assert_non_null(strstr(log, "\"event\":\"reload_ignored\",\"key\":\"t.state\""));
	assert_non_null(strstr(log, "\"event\":\"reload_ignored\",\"key\":\"t.peers\""));
	assert_non_null(strstr(log, "\"applied\":\"2\",\"restart_needed\":\"2\""));
	free(log);
	/* The running values are the ones started with (the daemon points there). */
	assert_string_equal(pn_cfg_str(o.cfg, "t", "state"), "/s");
	assert_int_equal(pn_cfg_int(o.cur, "t", "port"), 81);
	/* A broken file, or a value the role refuses: nothing changes. */
	put("[t]\nport = 0\n");
	assert_int_equal(pn_opts_reload(&o, apply, NULL, err, sizeof(err)), PN_E_CONFIG);
	assert_non_null(strstr(err, ":2: key 't.port': expected integer 1..65535"));
	put("[t]\nstate = /s\nport = 666\n[log]\nformat = text\n");
	assert_int_equal(pn_opts_reload(&o, apply, NULL, err, sizeof(err)), PN_E_INVAL);
	assert_int_equal(applied_port, 81);
	assert_int_equal(pn_cfg_int(o.cur, "t", "port"), 81);
	/* The same file again: nothing to apply, the state change still reported. */
	put("[t]\nstate = /other\nport = 81\nidle = 11s\npeers = [x]\n[log]\nformat = json\n");
	assert_int_equal(truncate(logpath, 0), 0);
	assert_int_equal(pn_opts_reload(&o, apply, NULL, err, sizeof(err)), 0);
	log = log_text();
	assert_null(strstr(log, "reload_applied"));
	assert_non_null(strstr(log, "\"applied\":\"0\",\"restart_needed\":\"2\""));
	free(log);
	pn_opts_fini(&o);
}

static void test_print_and_help(void **state)
{
	struct pn_opts o;
	char err[256], *text;
	size_t n;
	FILE *f;

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--state", "/a \"b\"", "--peer", "p", NULL),
			 0);
	assert_non_null(f = open_memstream(&text, &n));
	pn_opts_print(f, &o);
	fclose(f);
	assert_non_null(strstr(text, "[t]\nstate = \"/a \\\"b\\\"\"\nport = 443\nidle = 30s\n"
				     "peers = [\"p\"]\nfast = false\n\n[log]\nlevel = \"info\"\n"
				     "format = text\n"));
	free(text);
	pn_opts_fini(&o);
	assert_non_null(f = open_memstream(&text, &n));
	pn_opts_help(f, tab, N(tab), 2);
	fclose(f);
	assert_non_null(strstr(text,
			       "  --port N                port\n"
			       "                          [t] port = 443  (SIGHUP reloads it)\n"));
	assert_non_null(strstr(text, "  --fast                  fast\n"
				     "                          [t] fast = false\n"));
	free(text);
}

static int setup(void **state)
{
	int fd;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/t.conf", dir);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0)
		return -1;
	pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf);
	unlink(logpath);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_then_flags),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_print_and_help),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
