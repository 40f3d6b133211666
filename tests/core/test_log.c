#include <fcntl.h>
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

#include "core/err.h"
#include "core/log.h"

static int fds[2];

static int setup(void **state)
{
	(void)state;
	unsetenv("JOURNAL_STREAM");
	if (pipe2(fds, O_NONBLOCK) != 0)
		return -1;
	/* The pipe holds 64 KiB; every test reads what it wrote before writing more. */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, 2);
	pn_log_set_spec("info");
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* Everything written since the last call, NUL-terminated. */
static char *drain(void)
{
	static char buf[65536 + 1];
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_text_format(void **state)
{
	char *out;
	(void)state;
	pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, fds[1]);
	PN_LOG_INFO("relay", "session_open", "sid=%d client=\"%s\"", 42, "a b");
	out = drain();
	/* 2026-11-22T03:40:00.123Z INFO relay session_open sid=42 client="a b" */
	assert_int_equal(strlen(out),
			 25 + strlen("INFO relay session_open sid=42 client=\"a b\"\n"));
	assert_true(out[4] == '-' && out[7] == '-' && out[10] == 'T' && out[13] == ':' &&
		    out[19] == '.' && out[23] == 'Z' && out[24] == ' ');
	assert_string_equal(out + 25, "INFO relay session_open sid=42 client=\"a b\"\n");

	/* No fields: no trailing space. */
	PN_LOG_WARN("core", "started", "%s", "");
	out = drain();
	assert_string_equal(out + 25, "WARN core started\n");

	/* A value cannot forge a second record. */
	PN_LOG_ERROR("ctl", "bad_name", "name=%s", "x\nINFO ctl fake=1\x01");
	out = drain();
	assert_string_equal(out + 25, "ERROR ctl bad_name name=x\\nINFO ctl fake=1\\x01\n");
}

static void test_levels_and_spec(void **state)
{
	(void)state;
	pn_log_setup(PN_LOG_WARN, PN_LOG_TEXT, fds[1]);
	PN_LOG_INFO("relay", "quiet", "x=1");
	PN_LOG_DEBUG("relay", "quiet", "x=1");
	assert_string_equal(drain(), "");
	assert_true(pn_log_enabled(PN_LOG_ERROR, "relay"));
	assert_false(pn_log_enabled(PN_LOG_INFO, "relay"));

	assert_int_equal(pn_log_set_spec("info,relay=debug,tunnel=trace"), 0);
	assert_true(pn_log_enabled(PN_LOG_INFO, "core"));
	assert_false(pn_log_enabled(PN_LOG_DEBUG, "core"));
	assert_true(pn_log_enabled(PN_LOG_DEBUG, "relay"));
	assert_false(pn_log_enabled(PN_LOG_TRACE, "relay"));
	assert_true(pn_log_enabled(PN_LOG_TRACE, "tunnel"));
	PN_LOG_DEBUG("relay", "loud", "x=1");
	assert_non_null(strstr(drain(), "DEBUG relay loud x=1\n"));

	/* Bad specs are refused whole: the previous setting stays. */
	assert_int_equal(pn_log_set_spec("verbose"), PN_E_CONFIG);
	assert_int_equal(pn_log_set_spec("relay=loud"), PN_E_CONFIG);
	assert_int_equal(pn_log_set_spec("=debug"), PN_E_CONFIG);
	assert_int_equal(pn_log_set_spec("averyveryveryverylongmodulename=debug"), PN_E_CONFIG);
	{
		char spec[600];
		memset(spec, 'a', sizeof(spec) - 1);
		spec[sizeof(spec) - 1] = '\0';
		assert_int_equal(pn_log_set_spec(spec), PN_E_CONFIG);
		/* 33 modules: one more than the table holds. */
		size_t o = 0;
		for (int i = 0; i < 33; i++)
			o += (size_t)snprintf(spec + o, sizeof(spec) - o, "m%d=info,", i);
		assert_int_equal(pn_log_set_spec(spec), PN_E_CONFIG);
	}
	assert_true(pn_log_enabled(PN_LOG_DEBUG, "relay"));
	assert_true(pn_log_enabled(PN_LOG_TRACE, "tunnel"));

	assert_int_equal(pn_log_level_parse("error"), PN_LOG_ERROR);
	assert_int_equal(pn_log_level_parse("Warning"), PN_LOG_WARN);
	assert_int_equal(pn_log_level_parse("TRACE"), PN_LOG_TRACE);
	assert_int_equal(pn_log_level_parse("loud"), -1);
	assert_int_equal(pn_log_format_parse("json"), PN_LOG_JSON);
	assert_int_equal(pn_log_format_parse("TEXT"), PN_LOG_TEXT);
	assert_int_equal(pn_log_format_parse("xml"), -1);
}

/* Parse one JSON record; fails the test if it is not exactly one object. */
static json_t *parse_record(const char *line)
{
	json_error_t e;
	size_t n = strlen(line);
	json_t *j;
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_null(memchr(line, '\n', n - 1));
	j = json_loadb(line, n - 1, 0, &e);
	if (!j)
		fail_msg("invalid JSON (%s): %s", e.text, line);
	assert_true(json_is_object(j));
	return j;
}

static void test_json_format(void **state)
{
	json_t *j;
	char *big;
	(void)state;
	pn_log_setup(PN_LOG_TRACE, PN_LOG_JSON, fds[1]);
	PN_LOG_INFO("relay", "session_open", "sid=%d client=\"%s\" note=%s bare", 7, "a b",
		    "q\"uo\\te\x02");
	j = parse_record(drain());
	assert_string_equal(json_string_value(json_object_get(j, "level")), "INFO");
	assert_string_equal(json_string_value(json_object_get(j, "module")), "relay");
	assert_string_equal(json_string_value(json_object_get(j, "event")), "session_open");
	assert_string_equal(json_string_value(json_object_get(j, "sid")), "7");
	assert_string_equal(json_string_value(json_object_get(j, "client")), "a b");
	assert_string_equal(json_string_value(json_object_get(j, "note")), "q\"uo\\te\x02");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "bare");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "ts"))), 24);
	json_decref(j);

	/* Oversized and pathological records are cut but stay valid JSON. */
	big = malloc(6000);
	assert_non_null(big);
	memset(big, '"', 5999);
	big[5999] = '\0';
	PN_LOG_TRACE("t", "big", "v=%s", big);
	json_decref(parse_record(drain()));
	PN_LOG_TRACE("t", "big", "%s", big);
	json_decref(parse_record(drain()));
	memset(big, '\x01', 5999);
	PN_LOG_TRACE("t", "big", "%s=x", big);
	json_decref(parse_record(drain()));
	for (size_t i = 0; i < 5998; i += 2) {
		big[i] = 'k';
		big[i + 1] = i % 4 ? ' ' : '=';
	}
	PN_LOG_TRACE("t", "many", "%s", big);
	json_decref(parse_record(drain()));
	free(big);
	/* Out-of-range levels are clamped, not used as an index. */
	pn_log_write((enum pn_log_level)99, "t", "clamp", "x=1");
	j = parse_record(drain());
	assert_string_equal(json_string_value(json_object_get(j, "level")), "TRACE");
	json_decref(j);
}

static void test_journal(void **state)
{
	struct stat st;
	char env[64];
	char *out;
	json_t *j;

	(void)state;
	assert_int_equal(fstat(fds[1], &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	assert_int_equal(pn_log_fd_is_journal(fds[1]), 0);
	setenv("JOURNAL_STREAM", env, 1);
	assert_int_equal(pn_log_fd_is_journal(fds[1]), 1);
	{
		int other = open("/dev/null", O_WRONLY);
		assert_true(other >= 0);
		assert_int_equal(pn_log_fd_is_journal(other) + pn_log_fd_is_journal(-1), 0);
		close(other);
	}

	pn_log_setup(PN_LOG_DEBUG, PN_LOG_TEXT, fds[1]);
	PN_LOG_INFO("relay", "up", "port=%d", 443);
	assert_string_equal(drain(), "<6>INFO relay up port=443\n");
	PN_LOG_ERROR("relay", "down", "%s", "");
	assert_string_equal(drain(), "<3>ERROR relay down\n");
	PN_LOG_WARN("relay", "slow", "x=1");
	assert_string_equal(drain(), "<4>WARN relay slow x=1\n");
	PN_LOG_DEBUG("relay", "dbg", "x=1");
	assert_string_equal(drain(), "<7>DEBUG relay dbg x=1\n");

	pn_log_setup(PN_LOG_DEBUG, PN_LOG_JSON, fds[1]);
	PN_LOG_WARN("relay", "slow", "x=1");
	out = drain();
	assert_memory_equal(out, "<4>{", 4);
	j = parse_record(out + 3);
	assert_string_equal(json_string_value(json_object_get(j, "x")), "1");
	json_decref(j);

	/* Another inode, or junk in the variable: not the journal. */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	assert_int_equal(pn_log_fd_is_journal(fds[1]), 0);
	setenv("JOURNAL_STREAM", "12:34x", 1);
	assert_int_equal(pn_log_fd_is_journal(fds[1]), 0);
	setenv("JOURNAL_STREAM", "", 1);
	assert_int_equal(pn_log_fd_is_journal(fds[1]), 0);
	pn_log_setup(PN_LOG_DEBUG, PN_LOG_TEXT, fds[1]);
	PN_LOG_INFO("relay", "up", "port=%d", 443);
	out = drain();
	assert_true(out[0] == '2'); /* timestamp again, no priority prefix */
	unsetenv("JOURNAL_STREAM");
}

static void test_config_section(void **state)
{
	static const struct pn_cfg_key schema[] = {
	    PN_CFG_KEY("relay", "port", PN_CFG_INT),
	    PN_LOG_CFG_KEYS,
	};
	static const struct pn_cfg_key no_log[] = {PN_CFG_KEY("relay", "port", PN_CFG_INT)};
	const char *good = "[log]\nlevel = \"warn,relay=trace\"\nformat = json\n";
	const char *bad = "[relay]\nport = 1\n[log]\nlevel = \"info,relay=loud\"\n";
	struct pn_cfg *cfg;
	char err[256];

	(void)state;
	assert_int_equal(
	    pn_cfg_load_mem(&cfg, "r.conf", good, strlen(good), schema, 3, err, sizeof(err)), 0);
	pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, fds[1]);
	assert_int_equal(pn_log_configure(cfg, err, sizeof(err)), 0);
	pn_cfg_free(cfg);
	assert_false(pn_log_enabled(PN_LOG_INFO, "core"));
	assert_true(pn_log_enabled(PN_LOG_TRACE, "relay"));
	PN_LOG_WARN("core", "w", "a=1");
	json_decref(parse_record(drain()));
	/* Format alone can change without touching levels. */
	pn_log_set_format(PN_LOG_TEXT);
	assert_true(pn_log_enabled(PN_LOG_TRACE, "relay"));
	PN_LOG_WARN("core", "w", "a=1");
	assert_string_equal(drain() + 25, "WARN core w a=1\n");

	/* Defaults: info, text. */
	assert_int_equal(pn_cfg_load_mem(&cfg, "r.conf", "", 0, schema, 3, err, sizeof(err)), 0);
	assert_int_equal(pn_log_configure(cfg, err, sizeof(err)), 0);
	assert_true(pn_log_enabled(PN_LOG_INFO, "core"));
	assert_false(pn_log_enabled(PN_LOG_DEBUG, "relay"));
	pn_cfg_free(cfg);

	assert_int_equal(
	    pn_cfg_load_mem(&cfg, "r.conf", bad, strlen(bad), schema, 3, err, sizeof(err)), 0);
	assert_int_equal(pn_log_configure(cfg, err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(err, "r.conf:4: key 'log.level': expected levels like "
				 "\"info,relay=debug\" (error|warn|info|debug|trace), got "
				 "\"info,relay=loud\"");
	pn_cfg_free(cfg);

	assert_int_equal(pn_cfg_load_mem(&cfg, "n.conf", "", 0, no_log, 1, err, sizeof(err)), 0);
	assert_int_equal(pn_log_configure(cfg, err, sizeof(err)), PN_E_CONFIG);
	pn_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_levels_and_spec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_section, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
