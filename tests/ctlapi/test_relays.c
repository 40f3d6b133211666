/* The shared relay-list parser: endpoints, ws/wss URLs, --relay specs and
 * relays.json (a bad entry is skipped, never the whole list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/err.h"
#include "ctlapi/relays.h"

static void test_endpoint(void **st)
{
	struct pn_relay_endpoint ep;
	const char *why = NULL;
	static const char *const good[] = {"10.0.0.1:443", "[::1]:4433", "relay.example.com:443",
					   "r1:1", "[2001:db8::1]:65535"};
	static const char *const bad[] = {
	    "10.0.0.1",	  "10.0.0.1:",	"10.0.0.1:0",	  "10.0.0.1:65536", "10.0.0.1:44x",
	    ":443",	  "::1:443",	"[::1]443",	  "[10.0.0.1]:443", "[]:443",
	    "a b:443",	  "10.0.0.1:+443", "10.0.0.1:443-443", "a\x01:443", "",
	    "[::1]:443:1", "bad_name!:443"};

	(void)st;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(pn_relay_endpoint_parse(good[i], &ep, &why), 0);
	assert_int_equal(pn_relay_endpoint_parse("[::1]:4433", &ep, NULL), 0);
	assert_string_equal(ep.host, "::1");
	assert_int_equal(ep.port, 4433);
	assert_int_equal(ep.family, AF_INET6);
	assert_int_equal(pn_relay_endpoint_parse("10.0.0.1:443", &ep, NULL), 0);
	assert_int_equal(ep.family, AF_INET);
	assert_int_equal(pn_relay_endpoint_parse("relay.example.com:443", &ep, NULL), 0);
	assert_int_equal(ep.family, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(pn_relay_endpoint_parse(bad[i], &ep, &why), PN_E_CONFIG);
		assert_non_null(why);
	}
}

static void test_wsurl(void **st)
{
	struct pn_relay_wsurl u;
	const char *why;

	(void)st;
	assert_int_equal(pn_relay_wsurl_parse("ws://10.0.0.1:8080/postern", &u, NULL), 0);
	assert_false(u.secure);
	assert_string_equal(u.path, "/postern");
	assert_string_equal(u.hostport, "10.0.0.1:8080");
	assert_int_equal(pn_relay_wsurl_parse("wss://relay.example.com:443", &u, NULL), 0);
	assert_true(u.secure);
	assert_string_equal(u.path, "/");
	assert_string_equal(u.ep.host, "relay.example.com");
	assert_int_equal(u.ep.port, 443);
	assert_int_equal(pn_relay_wsurl_parse("wss://[::1]:8443/a/b?x=1,2", &u, NULL), 0);
	assert_string_equal(u.hostport, "[::1]:8443");
	assert_string_equal(u.path, "/a/b?x=1,2");
	static const char *const bad[] = {
	    "http://10.0.0.1:80/",    "wss://10.0.0.1/",	 "wss://:443/",	     "wss:///x",
	    "ws://10.0.0.1:80/a b",   "ws://10.0.0.1:80/a#b", "WSS://10.0.0.1:1/", "wss://u@h:1/",
	    "ws://10.0.0.1:80/\r\nX", "wss://h:99999/",	 "ws://",	     ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(pn_relay_wsurl_parse(bad[i], &u, &why), PN_E_CONFIG);
		assert_non_null(why);
	}
	char longp[PN_RELAY_URL_MAX + 2];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	memcpy(longp, "ws://h:1/", 9);
	assert_int_equal(pn_relay_wsurl_parse(longp, &u, NULL), PN_E_CONFIG);
}

static void test_spec(void **st)
{
	struct pn_relay_entry e;
	const char *why;

	(void)st;
	assert_int_equal(pn_relay_spec_parse("tls=10.0.0.1:443,udp=10.0.0.1:3478,"
					     "ws=wss://r.example:443/p,q=1,name=edge-1",
					     &e, NULL),
			 0);
	assert_string_equal(e.tls, "10.0.0.1:443");
	assert_string_equal(e.udp, "10.0.0.1:3478");
	assert_string_equal(e.ws, "wss://r.example:443/p,q=1");
	assert_string_equal(e.name, "edge-1");
	assert_int_equal(pn_relay_spec_parse("ws=ws://10.0.0.1:80/x", &e, NULL), 0);
	assert_string_equal(e.tls, "");
	static const char *const bad[] = {"",
					  "name=x",
					  "tls=10.0.0.1:443,bogus=1",
					  "tls=10.0.0.1:443,tls=10.0.0.2:443",
					  "tls=",
					  "tls=10.0.0.1",
					  "ws=http://x:1/",
					  "tls=10.0.0.1:443,name=bad name"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(pn_relay_spec_parse(bad[i], &e, &why), PN_E_CONFIG);
		assert_non_null(why);
	}
}

struct skipped {
	int n;
	size_t idx[8];
	char why[8][96];
};

static void on_skip(size_t index, const char *name, int err, const char *why, void *arg)
{
	struct skipped *s = arg;
	(void)name;
	(void)err;
	if (s->n < 8) {
		s->idx[s->n] = index;
		snprintf(s->why[s->n], sizeof(s->why[0]), "%s", why);
		s->n++;
	}
}

static void test_json(void **st)
{
	static const char doc[] =
	    "[{\"id\":\"00112233445566778899aabbccddeeff\",\"name\":\"r1\",\"udp\":\"10.0.0.1:3478\","
	    "\"tls\":\"10.0.0.1:4433\",\"ws\":null},"
	    "{\"name\":\"bad\",\"ws\":\"wss:/oops\"},"	    /* skipped */
	    "{\"name\":\"r2\",\"ws\":\"wss://relay.example:8443/postern\",\"tls\":\"\"},"
	    "{\"id\":\"aabbccddeeff00112233445566778899\",\"tls\":\"[::1]:4433\"},"
	    "42,"					    /* skipped */
	    "{\"name\":\"r4\",\"udp\":7},"		    /* skipped */
	    "{\"name\":\"r5\"}]";			    /* skipped */
	struct pn_relay_entry out[8];
	struct skipped sk = {0};
	size_t n;

	(void)st;
	assert_int_equal(pn_relays_parse_json(doc, strlen(doc), out, 8, &n, on_skip, &sk), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].name, "r1");
	assert_string_equal(out[0].ws, "");
	assert_string_equal(out[1].ws, "wss://relay.example:8443/postern");
	assert_string_equal(out[1].tls, "");
	assert_string_equal(out[2].name, "aabbccddeeff00112233445566778899");
	assert_int_equal(out[1].index, 2);
	assert_int_equal(out[2].index, 3);
	assert_int_equal(sk.n, 4);
	assert_int_equal(sk.idx[0], 1);
	assert_int_equal(sk.idx[1], 4);
	/* Over the limit: the rest is skipped, with a reason. */
	memset(&sk, 0, sizeof(sk));
	assert_int_equal(pn_relays_parse_json(doc, strlen(doc), out, 2, &n, on_skip, &sk), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sk.why[1], "too many relays in the list");
	/* Not a list at all. */
	assert_int_equal(pn_relays_parse_json("{}", 2, out, 8, &n, NULL, NULL), PN_E_CONFIG);
	assert_int_equal(pn_relays_parse_json("[", 1, out, 8, &n, NULL, NULL), PN_E_CONFIG);
	assert_int_equal(pn_relays_parse_json("[]", 2, out, 8, &n, NULL, NULL), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_endpoint),
	    cmocka_unit_test(test_wsurl),
	    cmocka_unit_test(test_spec),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
