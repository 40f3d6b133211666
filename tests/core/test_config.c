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

#include "core/config.h"
#include "core/err.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct pn_cfg_key schema[] = {
    PN_CFG_KEY("", "name", PN_CFG_STR, .def = "postern"),
    PN_CFG_KEY("relay", "listen", PN_CFG_STR, .required = true),
    PN_CFG_KEY("relay", "port", PN_CFG_INT, .min = 1, .max = 65535, .def = "443"),
    PN_CFG_KEY("relay", "offset", PN_CFG_INT),
    PN_CFG_KEY("relay", "udp", PN_CFG_BOOL, .def = "true"),
    PN_CFG_KEY("relay", "idle", PN_CFG_DURATION, .min = 1000, .max = 3600000, .def = "30s"),
    PN_CFG_KEY("relay", "grace", PN_CFG_DURATION),
    PN_CFG_KEY("relay", "peers", PN_CFG_LIST, .max = 4),
    PN_CFG_KEY("relay", "tags", PN_CFG_LIST, .def = "[\"x\", y]"),
    PN_CFG_KEY("relay", "token", PN_CFG_STR, .min = 1, .max = 8),
    PN_CFG_KEY("log", "level", PN_CFG_ENUM, .choices = "error|warn|info|debug", .def = "info"),
    PN_CFG_KEY("log", "format", PN_CFG_ENUM, .choices = "text|json"),
    PN_CFG_KEY("a.b-c_d", "k", PN_CFG_INT),
};

static int load(const char *text, struct pn_cfg **cfg, char *err, size_t errsz)
{
	return pn_cfg_load_mem(cfg, "test.conf", text, strlen(text), schema, N(schema), err, errsz);
}

static void test_good_file(void **state)
{
	const char *text = "\xef\xbb\xbf# a comment\n"
			   "name = 'lit\\eral'   # top-level key, literal string\n"
			   "\n"
			   "[relay]\r\n"
			   "  listen = \"0.0.0.0:443\\t\\\"q\\\" \\u00e9\\u20ac\\/\"\n"
			   "port=0x1bb\n"
			   "offset = -9223372036854775808\n"
			   "udp = off\n"
			   "idle = 45m30s\n"
			   "grace = 250ms\n"
			   "peers = [ \"a:1\", b:2, 'c',]\n"
			   "tags = []\n"
			   "token = \"s3cret\"\n"
			   "[ log ]\n"
			   "level = debug\n"
			   "format = \"json\"\n"
			   "[a.b-c_d]\n"
			   "k = +7";
	struct pn_cfg *cfg;
	char err[256];
	const char *const *items;
	int line;

	(void)state;
	if (load(text, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(err, "");
	assert_string_equal(pn_cfg_name(cfg), "test.conf");
	assert_string_equal(pn_cfg_str(cfg, "", "name"), "lit\\eral");
	assert_string_equal(pn_cfg_str(cfg, "relay", "listen"),
			    "0.0.0.0:443\t\"q\" \xc3\xa9\xe2\x82\xac/");
	assert_int_equal(pn_cfg_int(cfg, "relay", "port"), 443);
	assert_true(pn_cfg_int(cfg, "relay", "offset") == INT64_MIN);
	assert_false(pn_cfg_bool(cfg, "relay", "udp"));
	assert_int_equal(pn_cfg_duration_ms(cfg, "relay", "idle"), 2730000);
	assert_int_equal(pn_cfg_duration_ms(cfg, "relay", "grace"), 250);
	assert_int_equal(pn_cfg_list(cfg, "relay", "peers", &items), 3);
	assert_string_equal(items[0], "a:1");
	assert_string_equal(items[1], "b:2");
	assert_string_equal(items[2], "c");
	assert_int_equal(pn_cfg_list(cfg, "relay", "tags", NULL), 0);
	assert_string_equal(pn_cfg_str(cfg, "relay", "token"), "s3cret");
	assert_string_equal(pn_cfg_enum(cfg, "log", "level"), "debug");
	assert_int_equal(pn_cfg_enum_index(cfg, "log", "level"), 3);
	assert_int_equal(pn_cfg_enum_index(cfg, "log", "format"), 1);
	assert_int_equal(pn_cfg_int(cfg, "a.b-c_d", "k"), 7);
	assert_int_equal(pn_cfg_lookup(cfg, "relay", "port", &line), 1);
	assert_int_equal(line, 6);
	assert_int_equal(pn_cfg_lookup(cfg, "nope", "port", &line), -ENOENT);
	/* Wrong-type and unknown getters are inert. */
	assert_null(pn_cfg_str(cfg, "relay", "port"));
	assert_int_equal(pn_cfg_int(cfg, "relay", "nope"), 0);
	assert_int_equal(pn_cfg_list(cfg, "relay", "listen", &items), 0);
	assert_null(items);
	pn_cfg_free(cfg);
}

static void test_defaults(void **state)
{
	struct pn_cfg *cfg;
	char err[256];
	const char *const *items;
	int line = -1;

	(void)state;
	assert_int_equal(load("[relay]\nlisten = x\n", &cfg, err, sizeof(err)), 0);
	assert_string_equal(pn_cfg_str(cfg, "", "name"), "postern");
	assert_int_equal(pn_cfg_int(cfg, "relay", "port"), 443);
	assert_true(pn_cfg_bool(cfg, "relay", "udp"));
	assert_int_equal(pn_cfg_duration_ms(cfg, "relay", "idle"), 30000);
	assert_int_equal(pn_cfg_duration_ms(cfg, "relay", "grace"), 0);
	assert_int_equal(pn_cfg_list(cfg, "relay", "tags", &items), 2);
	assert_string_equal(items[1], "y");
	assert_int_equal(pn_cfg_list(cfg, "relay", "peers", NULL), 0);
	assert_null(pn_cfg_str(cfg, "relay", "token"));
	assert_string_equal(pn_cfg_enum(cfg, "log", "level"), "info");
	assert_int_equal(pn_cfg_enum_index(cfg, "log", "format"), -1);
	assert_int_equal(pn_cfg_lookup(cfg, "relay", "port", &line), 0);
	assert_int_equal(line, 0);
	pn_cfg_free(cfg);
	pn_cfg_free(NULL);
}

/* Each bad input must fail with PN_E_CONFIG and exactly this message. */
static const struct {
	const char *text, *msg;
} bad[] = {
    /* syntax */
    {"[relay\nlisten=x", "test.conf:1: expected ']' after section name, got end of line"},
    {"[]\n", "test.conf:1: expected a section name after '[', got ']'"},
    {"[relay] x\n", "test.conf:1: expected end of line after section header, got a word"},
    {"[re$lay]\n", "test.conf:1: invalid section name \"re$lay\""},
    {"[relay]\nlisten\n",
     "test.conf:2: key 'relay.listen': expected '=' after the key, got end of line"},
    {"[relay]\nlisten =\n", "test.conf:2: key 'relay.listen': missing value after '='"},
    {"[relay]\nlisten = = x\n", "test.conf:2: key 'relay.listen': expected a value, got '='"},
    {"[relay]\nlisten = a b\n", "test.conf:2: expected end of line after value, got a word"},
    {"[relay]\nlisten = \"abc\n", "test.conf:2: unterminated string"},
    {"[relay]\nlisten = 'abc\n", "test.conf:2: unterminated string"},
    {"[relay]\nlisten = \"a\\qb\"\n", "test.conf:2: invalid escape '\\q' in string"},
    {"[relay]\nlisten = \"a\\u00zz\"\n", "test.conf:2: invalid \\u escape (need 4 hex digits)"},
    {"[relay]\nlisten = \"a\\u0000\"\n", "test.conf:2: invalid \\u escape (U+0000 not allowed)"},
    {"[relay]\nlisten = \"a\\ud800\"\n", "test.conf:2: invalid \\u escape (U+D800 not allowed)"},
    {"[relay]\nlisten = \"a\\", "test.conf:2: unterminated string"},
    {"= 3\n", "test.conf:1: expected a key or [section], got '='"},
    {"\"name\" = 3\n",
     "test.conf:1: expected a key or [section], got a string (keys are not quoted)"},
    {"na.me = 3\n", "test.conf:1: invalid key name \"na.me\" (letters, digits, '_' and '-')"},
    {"[relay]\npeers = [\"a\" \"b\"]\n",
     "test.conf:2: key 'relay.peers': expected ',' or ']' in list, got a string"},
    {"[relay]\npeers = [\"a\",\n\"b\"]\n",
     "test.conf:2: key 'relay.peers': expected a string or ']' in list, got end of line (a list "
     "must fit on one line)"},
    {"[relay]\npeers = [,]\n",
     "test.conf:2: key 'relay.peers': expected a string or ']' in list, got ','"},
    {"[relay]\npeers = [a] x\n", "test.conf:2: expected end of line after value, got a word"},
    /* hostile bytes */
    {"[relay]\nlisten = a\rb\n", "test.conf:2: stray carriage return"},
    {"[relay]\nlisten = a\x01\n", "test.conf:2: control character 0x01 in file"},
    {"[relay]\n\n\nlisten = a\x7f\n", "test.conf:4: control character 0x7f in file"},
    /* unknown names */
    {"[relya]\n", "test.conf:1: unknown section [relya] (did you mean [relay]?)"},
    {"[relay]\nprot = 1\n", "test.conf:2: unknown key 'relay.prot' (did you mean 'port'?)"},
    {"port = 1\n", "test.conf:1: unknown key 'port' (top level; is a [section] header missing?)"},
    {"[log]\nlisten = x\n", "test.conf:2: unknown key 'log.listen'"},
    {"[nothing-like-it]\n", "test.conf:1: unknown section [nothing-like-it]"},
    {"nmae = x\n", "test.conf:1: unknown key 'nmae' (did you mean 'name'?)"},
    {"[relay]\nlisten = x\nUDP = 1\n", "test.conf:3: unknown key 'relay.UDP'"},
    /* duplicates */
    {"[relay]\nlisten = a\nport = 1\nport = 2\n",
     "test.conf:4: key 'relay.port': duplicate key (first set at line 3)"},
    {"[relay]\nlisten = a\n[log]\n[relay]\n",
     "test.conf:4: duplicate section [relay] (first at line 1)"},
    /* types and ranges */
    {"[relay]\nlisten = a\nport = abc\n",
     "test.conf:3: key 'relay.port': expected integer 1..65535, got \"abc\""},
    {"[relay]\nlisten = a\nport = 0\n",
     "test.conf:3: key 'relay.port': expected integer 1..65535, got \"0\""},
    {"[relay]\nlisten = a\nport = 65536\n",
     "test.conf:3: key 'relay.port': expected integer 1..65535, got \"65536\""},
    {"[relay]\nlisten = a\nport = 12x\n",
     "test.conf:3: key 'relay.port': expected integer 1..65535, got \"12x\""},
    {"[relay]\nlisten = a\nport = 0x\n",
     "test.conf:3: key 'relay.port': expected integer 1..65535, got \"0x\""},
    {"[relay]\nlisten = a\nport = -\n",
     "test.conf:3: key 'relay.port': expected integer 1..65535, got \"-\""},
    {"[relay]\nlisten = a\noffset = 9223372036854775808\n",
     "test.conf:3: key 'relay.offset': expected integer (64-bit range), got "
     "\"9223372036854775808\""},
    {"[relay]\nlisten = a\noffset = -9223372036854775809\n",
     "test.conf:3: key 'relay.offset': expected integer (64-bit range), got "
     "\"-9223372036854775809\""},
    {"[relay]\nlisten = a\noffset = 99999999999999999999999999\n",
     "test.conf:3: key 'relay.offset': expected integer (64-bit range), got "
     "\"99999999999999999999999999\""},
    {"[relay]\nlisten = a\noffset = 1.5\n",
     "test.conf:3: key 'relay.offset': expected integer, got \"1.5\""},
    {"[relay]\nlisten = a\nport = [1]\n",
     "test.conf:3: key 'relay.port': expected integer, got a list"},
    {"[relay]\nlisten = a\nudp = maybe\n",
     "test.conf:3: key 'relay.udp': expected true or false, got \"maybe\""},
    {"[relay]\nlisten = a\nudp = TRUE\n",
     "test.conf:3: key 'relay.udp': expected true or false, got \"TRUE\""},
    {"[relay]\nlisten = a\nidle = 30\n",
     "test.conf:3: key 'relay.idle': expected duration 1s..1h (e.g. 30s, 5m, 2h), got \"30\""},
    {"[relay]\nlisten = a\nidle = 2h\n",
     "test.conf:3: key 'relay.idle': expected duration 1s..1h (e.g. 30s, 5m, 2h), got \"2h\""},
    {"[relay]\nlisten = a\nidle = 999ms\n",
     "test.conf:3: key 'relay.idle': expected duration 1s..1h (e.g. 30s, 5m, 2h), got \"999ms\""},
    {"[relay]\nlisten = a\ngrace = 5x\n",
     "test.conf:3: key 'relay.grace': expected duration (e.g. 250ms, 30s, 5m, 2h, 1d), got \"5x\""},
    {"[relay]\nlisten = a\ngrace = s\n",
     "test.conf:3: key 'relay.grace': expected duration (e.g. 250ms, 30s, 5m, 2h, 1d), got \"s\""},
    {"[relay]\nlisten = a\ngrace = 99999999999999999d\n",
     "test.conf:3: key 'relay.grace': expected duration (e.g. 250ms, 30s, 5m, 2h, 1d) in range, "
     "got \"99999999999999999d\""},
    {"[relay]\nlisten = a\ntoken = \"\"\n",
     "test.conf:3: key 'relay.token': expected string of 1..8 bytes, got 0 bytes"},
    {"[relay]\nlisten = a\ntoken = 123456789\n",
     "test.conf:3: key 'relay.token': expected string of 1..8 bytes, got 9 bytes"},
    {"[relay]\nlisten = [a]\n", "test.conf:2: key 'relay.listen': expected string, got a list"},
    {"[relay]\nlisten = a\npeers = x\n",
     "test.conf:3: key 'relay.peers': expected a list like [\"a\", \"b\"], got \"x\""},
    {"[relay]\nlisten = a\npeers = [a,b,c,d,e]\n",
     "test.conf:3: key 'relay.peers': expected 0..4 list elements, got 5"},
    {"[relay]\nlisten = a\n[log]\nlevel = loud\n",
     "test.conf:4: key 'log.level': expected one of error|warn|info|debug, got \"loud\""},
    {"[relay]\nlisten = a\n[log]\nlevel = \"in\\nfo\"\n",
     "test.conf:4: key 'log.level': expected one of error|warn|info|debug, got \"in\\x0afo\""},
    /* required */
    {"", "test.conf: key 'relay.listen': required but not set (add it under [relay])"},
    {"[relay]\nport = 80\n",
     "test.conf: key 'relay.listen': required but not set (add it under [relay])"},
};

static void test_bad_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		struct pn_cfg *cfg = (struct pn_cfg *)1;
		char err[256];
		int r = load(bad[i].text, &cfg, err, sizeof(err));
		if (r != PN_E_CONFIG || strcmp(err, bad[i].msg) != 0)
			fail_msg("case %zu: r=%d\n  got:  %s\n  want: %s", i, r, err, bad[i].msg);
		assert_null(cfg);
	}
}

static void test_nul_byte(void **state)
{
	const char text[] = "[relay]\nlisten = a\0b\n";
	struct pn_cfg *cfg;
	char err[128];

	(void)state;
	assert_int_equal(pn_cfg_load_mem(&cfg, "n.conf", text, sizeof(text) - 1, schema, N(schema),
					 err, sizeof(err)),
			 PN_E_CONFIG);
	assert_string_equal(err, "n.conf:2: NUL byte in file");
}

static void test_limits(void **state)
{
	struct pn_cfg *cfg;
	char err[256], *text;
	size_t n;

	(void)state;
	/* A line of exactly PN_CFG_MAX_LINE bytes is fine; one more is not. */
	text = malloc(PN_CFG_MAX_FILE + 2);
	assert_non_null(text);
	n = (size_t)sprintf(text, "[relay]\nlisten = ");
	memset(text + n, 'a', PN_CFG_MAX_LINE - 9);
	n += PN_CFG_MAX_LINE - 9;
	text[n] = '\0';
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(strlen(pn_cfg_str(cfg, "relay", "listen")), PN_CFG_MAX_LINE - 9);
	pn_cfg_free(cfg);
	text[n++] = 'a';
	text[n] = '\0';
	assert_int_equal(load(text, &cfg, err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(err, "test.conf:2: line too long (limit 4096 bytes)");

	/* A giant comment line is as bad as a giant value. */
	memset(text, '#', PN_CFG_MAX_FILE);
	text[PN_CFG_MAX_FILE] = '\0';
	assert_int_equal(load(text, &cfg, err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(err, "test.conf:1: line too long (limit 4096 bytes)");

	/* File size limit. */
	memset(text, '\n', PN_CFG_MAX_FILE + 1);
	text[PN_CFG_MAX_FILE + 1] = '\0';
	assert_int_equal(load(text, &cfg, err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(err, "test.conf: file too large (limit 1048576 bytes)");
	text[PN_CFG_MAX_FILE] = '\0';
	assert_int_equal(load(text, &cfg, err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(
	    err, "test.conf: key 'relay.listen': required but not set (add it under [relay])");

	/* List length limit. */
	n = (size_t)sprintf(text, "[relay]\nlisten = a\ntags = [");
	for (int i = 0; i <= PN_CFG_MAX_LIST; i++)
		n += (size_t)sprintf(text + n, "%d,", i);
	sprintf(text + n, "]\n");
	assert_int_equal(load(text, &cfg, err, sizeof(err)), PN_E_CONFIG);
	assert_string_equal(err,
			    "test.conf:3: key 'relay.tags': list too long (limit 256 elements)");
	free(text);
}

static void test_too_many_keys(void **state)
{
	struct pn_cfg_key *big;
	struct pn_cfg *cfg;
	char err[128], *text, (*names)[16];
	size_t n = 0, nk = PN_CFG_MAX_KEYS + 1;

	(void)state;
	big = calloc(nk, sizeof(*big));
	names = calloc(nk, sizeof(*names));
	text = malloc(nk * 16);
	assert_non_null(big);
	assert_non_null(names);
	assert_non_null(text);
	for (size_t i = 0; i < nk; i++) {
		snprintf(names[i], sizeof(names[i]), "k%zu", i);
		big[i] = (struct pn_cfg_key)PN_CFG_KEY("", names[i], PN_CFG_INT);
		n += (size_t)sprintf(text + n, "k%zu=1\n", i);
	}
	assert_int_equal(pn_cfg_load_mem(&cfg, "big", text, n, big, nk, err, sizeof(err)),
			 PN_E_CONFIG);
	assert_string_equal(err, "big:1025: too many keys (limit 1024)");
	free(text);
	free(names);
	free(big);
}

static void test_bad_schema(void **state)
{
	static const struct pn_cfg_key s1[] = {
	    PN_CFG_KEY("a", "k", PN_CFG_INT, .required = true, .def = "1")};
	static const struct pn_cfg_key s2[] = {PN_CFG_KEY("a", "k", PN_CFG_INT, .def = "x")};
	static const struct pn_cfg_key s3[] = {PN_CFG_KEY("a", "k", PN_CFG_INT),
					       PN_CFG_KEY("a", "k", PN_CFG_STR)};
	static const struct pn_cfg_key s4[] = {PN_CFG_KEY("a", "k", PN_CFG_ENUM)};
	static const struct pn_cfg_key s5[] = {PN_CFG_KEY("a", "k k", PN_CFG_INT)};
	static const struct pn_cfg_key s6[] = {
	    PN_CFG_KEY("a", "k", PN_CFG_INT, .min = 5, .max = 1)};
	static const struct pn_cfg_key s7[] = {
	    PN_CFG_KEY("a", "k", PN_CFG_ENUM, .choices = "x|y", .def = "z")};
	static const struct pn_cfg_key s8[] = {PN_CFG_KEY("a", "k", (enum pn_cfg_type)99)};
	static const struct pn_cfg_key s9[] = {PN_CFG_KEY("a", "k", PN_CFG_LIST, .def = "[a")};
	static const struct {
		const struct pn_cfg_key *s;
		const char *msg;
	} cases[] = {
	    {s1, "schema: key 'a.k': required key with a default"},
	    {s2, "schema default: key 'a.k': expected integer, got \"x\""},
	    {s3, "schema: key 'a.k': listed twice"},
	    {s4, "schema: key 'a.k': enum without choices"},
	    {s5, "schema: key 'a.k k': invalid name"},
	    {s6, "schema: key 'a.k': min > max"},
	    {s7, "schema default: key 'a.k': expected one of x|y, got \"z\""},
	    {s8, "schema: key 'a.k': invalid type"},
	    {s9, "schema default: key 'a.k': expected ',' or ']' in list, got end of file (a list "
		 "must fit on one line)"},
	};
	struct pn_cfg *cfg;
	char err[160];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		size_t n = cases[i].s == s3 ? 2 : 1;
		int r = pn_cfg_load_mem(&cfg, "x", "", 0, cases[i].s, n, err, sizeof(err));
		if (r != PN_E_INVAL || strcmp(err, cases[i].msg) != 0)
			fail_msg("case %zu: r=%d\n  got:  %s\n  want: %s", i, r, err, cases[i].msg);
	}
}

static void test_duration_parser(void **state)
{
	static const struct {
		const char *s;
		int r;
		int64_t ms;
	} cases[] = {
	    {"0", 0, 0},
	    {"0s", 0, 0},
	    {"1ms", 0, 1},
	    {"30s", 0, 30000},
	    {"5m", 0, 300000},
	    {"2h", 0, 7200000},
	    {"1d", 0, 86400000},
	    {"1h30m15s", 0, 5415000},
	    {"1m1ms", 0, 60001},
	    {"", PN_E_MALFORMED, 0},
	    {"5", PN_E_MALFORMED, 0},
	    {"m", PN_E_MALFORMED, 0},
	    {"5y", PN_E_MALFORMED, 0},
	    {"-5s", PN_E_MALFORMED, 0},
	    {"5s3", PN_E_MALFORMED, 0},
	    {"1.5s", PN_E_MALFORMED, 0},
	    {"106751991168d", PN_E_TOOBIG, 0},
	    {"106751991167d", 0, 9223372036828800000LL},
	    {"9223372036854775807ms", 0, INT64_MAX},
	    {"9223372036854775807ms1ms", PN_E_TOOBIG, 0},
	    {"99999999999999999999ms", PN_E_TOOBIG, 0},
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int64_t ms = -1;
		int r = pn_cfg_parse_duration(cases[i].s, strlen(cases[i].s), &ms);
		if (r != cases[i].r || (r == 0 && ms != cases[i].ms))
			fail_msg("'%s': r=%d ms=%lld", cases[i].s, r, (long long)ms);
	}
}

static void test_files(void **state)
{
	char path[] = "/tmp/pn-test-config-XXXXXX", err[256];
	struct pn_cfg *cfg;
	const char text[] = "[relay]\nlisten = x\nport = 80\n";
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
	close(fd);
	assert_int_equal(pn_cfg_load_file(&cfg, path, schema, N(schema), err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_int(cfg, "relay", "port"), 80);
	assert_string_equal(pn_cfg_name(cfg), path);
	/* Semantic checks by the caller use the same message shape. */
	assert_int_equal(pn_cfg_errorf(cfg, "relay", "port", err, sizeof(err), "needs %s", "root"),
			 PN_E_CONFIG);
	{
		char want[256];
		snprintf(want, sizeof(want), "%s:3: key 'relay.port': needs root", path);
		assert_string_equal(err, want);
		pn_cfg_errorf(cfg, "relay", "idle", err, sizeof(err), "too short");
		snprintf(want, sizeof(want), "%s: key 'relay.idle': too short", path);
		assert_string_equal(err, want);
	}
	pn_cfg_free(cfg);
	unlink(path);

	assert_int_equal(
	    pn_cfg_load_file(&cfg, "/nonexistent/x.conf", schema, N(schema), err, sizeof(err)),
	    -ENOENT);
	assert_string_equal(err, "/nonexistent/x.conf: cannot read: No such file or directory");
	assert_null(cfg);
	assert_int_equal(pn_cfg_load_file(&cfg, "/tmp", schema, N(schema), err, sizeof(err)),
			 -EISDIR);
	assert_string_equal(err, "/tmp: cannot read: Is a directory");
	/* A tiny error buffer truncates but stays terminated. */
	/* A file past the size limit is refused after reading at most limit + 1 bytes. */
	{
		static char big[PN_CFG_MAX_FILE + 100];
		char want[256];
		memset(big, '\n', sizeof(big));
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
		close(fd);
		assert_int_equal(pn_cfg_load_file(&cfg, path, schema, N(schema), err, sizeof(err)),
				 PN_E_CONFIG);
		snprintf(want, sizeof(want), "%s: file too large (limit 1048576 bytes)", path);
		assert_string_equal(err, want);
		unlink(path);
	}

	assert_int_equal(pn_cfg_load_file(&cfg, "/nonexistent/x.conf", schema, N(schema), err, 8),
			 -ENOENT);
	assert_string_equal(err, "/nonexi");
	assert_int_equal(load("[x", &cfg, err, 4), PN_E_CONFIG);
	assert_string_equal(err, "tes");
	assert_int_equal(load("[x", &cfg, NULL, 0), PN_E_CONFIG);
	/* NULL text with length 0 is an empty file. */
	assert_int_equal(pn_cfg_load_mem(&cfg, NULL, NULL, 0, schema, N(schema), err, sizeof(err)),
			 PN_E_CONFIG);
	assert_string_equal(
	    err, "<config>: key 'relay.listen': required but not set (add it under [relay])");
}

/* pn_cfg_set: a command-line flag over the file, checked by the same schema. */
static void test_set(void **state)
{
	const char *const *items;
	struct pn_cfg *cfg;
	char err[256], longv[PN_CFG_MAX_LINE + 2];
	int line;

	(void)state;
	assert_int_equal(load("[relay]\nlisten = a:1\nport = 80\npeers = [p1]\n", &cfg, err,
			      sizeof(err)),
			 0);
	/* A scalar replaces the file's value; it is "set", without a line. */
	assert_int_equal(pn_cfg_set(cfg, "relay", "port", "8443", "--port", err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_int(cfg, "relay", "port"), 8443);
	assert_int_equal(pn_cfg_lookup(cfg, "relay", "port", &line), 1);
	assert_int_equal(line, 0);
	assert_int_equal(pn_cfg_set(cfg, "relay", "idle", "2m", "--idle", err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_duration_ms(cfg, "relay", "idle"), 120000);
	assert_int_equal(pn_cfg_set(cfg, "log", "format", "json", "--log-json", err, sizeof(err)),
			 0);
	assert_string_equal(pn_cfg_enum(cfg, "log", "format"), "json");
	/* Text is literal: what a shell passes, spaces and all. */
	assert_int_equal(pn_cfg_set(cfg, "", "name", "a b # c", "--name", err, sizeof(err)), 0);
	assert_string_equal(pn_cfg_str(cfg, "", "name"), "a b # c");
	/* A list flag adds to the file's list, up to the schema's bound. */
	assert_int_equal(pn_cfg_set(cfg, "relay", "peers", "p2", "--peer", err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_list(cfg, "relay", "peers", &items), 2);
	assert_string_equal(items[0], "p1");
	assert_string_equal(items[1], "p2");
	assert_int_equal(pn_cfg_set(cfg, "relay", "peers", "p3", "--peer", err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_set(cfg, "relay", "peers", "p4", "--peer", err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_set(cfg, "relay", "peers", "p5", "--peer", err, sizeof(err)),
			 PN_E_CONFIG);
	assert_string_equal(err, "--peer: key 'relay.peers': too many elements (limit 4)");
	/* ... but replaces a default list. */
	assert_int_equal(pn_cfg_set(cfg, "relay", "tags", "z", "--tag", err, sizeof(err)), 0);
	assert_int_equal(pn_cfg_list(cfg, "relay", "tags", &items), 1);
	assert_string_equal(items[0], "z");
	/* Errors name the flag and the key; the value stays as it was. */
	assert_int_equal(pn_cfg_set(cfg, "relay", "port", "0", "--port", err, sizeof(err)),
			 PN_E_CONFIG);
	assert_string_equal(err, "--port: key 'relay.port': expected integer 1..65535, got \"0\"");
	assert_int_equal(pn_cfg_int(cfg, "relay", "port"), 8443);
	assert_int_equal(pn_cfg_set(cfg, "relay", "udp", "maybe", "--udp", err, sizeof(err)),
			 PN_E_CONFIG);
	assert_non_null(strstr(err, "--udp: key 'relay.udp': expected true or false"));
	assert_int_equal(pn_cfg_set(cfg, "relay", "token", "a\nb", "--token", err, sizeof(err)),
			 PN_E_CONFIG);
	assert_string_equal(err, "--token: key 'relay.token': control byte in value");
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(pn_cfg_set(cfg, "", "name", longv, "--name", err, sizeof(err)),
			 PN_E_CONFIG);
	assert_non_null(strstr(err, "value too long"));
	assert_int_equal(pn_cfg_set(cfg, "relay", "nope", "1", "--nope", err, sizeof(err)),
			 -ENOENT);
	/* Later cross-field messages about a key set by a flag name the flag. */
	assert_int_equal(pn_cfg_errorf(cfg, "relay", "port", err, sizeof(err), "clashes"),
			 PN_E_CONFIG);
	assert_string_equal(err, "--port: key 'relay.port': clashes");
	assert_int_equal(pn_cfg_errorf(cfg, "relay", "listen", err, sizeof(err), "clashes"),
			 PN_E_CONFIG);
	assert_string_equal(err, "test.conf:2: key 'relay.listen': clashes");
	pn_cfg_free(cfg);
}

static void test_format_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} t[] = {{0, "0"}, {250, "250ms"}, {1000, "1s"}, {90000, "90s"}, {180000, "3m"},
		 {7200000, "2h"}, {86400000, "1d"}, {1500, "1500ms"}};
	char buf[32];
	int64_t back;

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		pn_cfg_format_duration(buf, sizeof(buf), t[i].ms);
		assert_string_equal(buf, t[i].s);
		assert_int_equal(pn_cfg_parse_duration(buf, strlen(buf), &back), 0);
		assert_int_equal(back, t[i].ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_file),  cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_bad_inputs), cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_limits),     cmocka_unit_test(test_too_many_keys),
	    cmocka_unit_test(test_bad_schema), cmocka_unit_test(test_duration_parser),
	    cmocka_unit_test(test_files),      cmocka_unit_test(test_set),
	    cmocka_unit_test(test_format_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
