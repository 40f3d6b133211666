/* Unit tests for the SOCKS5 server codec (client/socks5.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "client/socks5.h"
#include "core/buf.h"
#include "core/err.h"

struct fx {
	struct pn_socks5_srv s;
	uint8_t outst[1024];
	struct pn_buf out;
	struct pn_socks5_request req;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	pn_socks5_srv_init(&f->s);
	pn_buf_init_wr(&f->out, f->outst, sizeof(f->outst));
}

static int feed(struct fx *f, const void *in, size_t len, size_t *consumed)
{
	size_t c;
	return pn_socks5_srv_feed(&f->s, in, len, consumed ? consumed : &c, &f->out, &f->req);
}

static void expect_out(struct fx *f, const uint8_t *exp, size_t n)
{
	assert_int_equal(pn_buf_len(&f->out), n);
	assert_memory_equal(pn_buf_ptr(&f->out), exp, n);
	pn_buf_reset(&f->out);
}

static const uint8_t greet_noauth[] = {5, 1, 0};
static const uint8_t sel_noauth[] = {5, 0};

static void greet(struct fx *f)
{
	size_t c;
	assert_int_equal(feed(f, greet_noauth, sizeof(greet_noauth), &c), PN_SOCKS5_EV_NEED_MORE);
	assert_int_equal(c, 3);
	expect_out(f, sel_noauth, 2);
	assert_int_equal(f->s.state, PN_SOCKS5_S_REQUEST);
}

static void test_connect_ipv4(void **st)
{
	struct fx f;
	const uint8_t req[] = {5, 1, 0, 1, 10, 203, 1, 2, 0x1f, 0x90};
	const uint8_t ok[] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	char s[64];
	size_t c;

	(void)st;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, sizeof(req), &c), PN_SOCKS5_EV_REQUEST);
	assert_int_equal(c, sizeof(req));
	assert_int_equal(pn_buf_len(&f.out), 0);
	assert_int_equal(f.req.cmd, PN_SOCKS5_CMD_CONNECT);
	assert_int_equal(f.req.dst.atyp, PN_SOCKS5_ATYP_IPV4);
	assert_int_equal(f.req.dst.port, 8080);
	assert_string_equal(pn_socks5_addr_str(&f.req.dst, s, sizeof(s)), "10.203.1.2:8080");
	/* No input taken while waiting for the verdict. */
	assert_int_equal(feed(&f, "x", 1, &c), PN_E_INVAL);
	assert_int_equal(c, 0);
	assert_int_equal(pn_socks5_srv_reply(&f.s, &f.out, PN_SOCKS5_REP_OK, NULL), 0);
	expect_out(&f, ok, sizeof(ok));
	assert_int_equal(f.s.state, PN_SOCKS5_S_OPEN);
	/* A second reply is a caller bug. */
	assert_int_equal(pn_socks5_srv_reply(&f.s, &f.out, PN_SOCKS5_REP_OK, NULL), PN_E_INVAL);
}

static void test_connect_ipv6_and_bound_addr(void **st)
{
	struct fx f;
	uint8_t req[4 + 16 + 2] = {5, 1, 0, 4};
	struct pn_socks5_addr bnd;
	uint8_t exp[4 + 16 + 2] = {5, 0, 0, 4};
	char s[80];

	(void)st;
	req[4] = 0xfd;
	req[19] = 1;
	req[20] = 0;
	req[21] = 22;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, sizeof(req), NULL), PN_SOCKS5_EV_REQUEST);
	assert_int_equal(f.req.dst.atyp, PN_SOCKS5_ATYP_IPV6);
	assert_string_equal(pn_socks5_addr_str(&f.req.dst, s, sizeof(s)), "[fd00::1]:22");
	assert_int_equal(pn_socks5_addr_parse(&bnd, "[::1]:1080"), 0);
	assert_int_equal(pn_socks5_srv_reply(&f.s, &f.out, PN_SOCKS5_REP_OK, &bnd), 0);
	exp[19] = 1;
	exp[20] = 0x04;
	exp[21] = 0x38;
	expect_out(&f, exp, sizeof(exp));
}

static void test_connect_domain_remote_resolution(void **st)
{
	struct fx f;
	uint8_t req[64] = {5, 1, 0, 3};
	const char *name = "DB.Corp.Example.";
	size_t n = strlen(name), len;

	(void)st;
	req[4] = (uint8_t)n;
	memcpy(req + 5, name, n);
	req[5 + n] = 0x15;
	req[6 + n] = 0x38;
	len = 7 + n;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, len, NULL), PN_SOCKS5_EV_REQUEST);
	/* Passed on unresolved, normalized: lower case, no trailing dot. */
	assert_int_equal(f.req.dst.atyp, PN_SOCKS5_ATYP_DOMAIN);
	assert_string_equal(f.req.dst.u.name, "db.corp.example");
	assert_int_equal(f.req.dst.port, 5432);
}

static void test_domain_ipv4_literal_becomes_ipv4(void **st)
{
	struct fx f;
	const uint8_t req[] = {5, 1, 0, 3, 8, '1', '0', '.', '0', '.', '0', '.', '9', 0, 80};

	(void)st;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, sizeof(req), NULL), PN_SOCKS5_EV_REQUEST);
	assert_int_equal(f.req.dst.atyp, PN_SOCKS5_ATYP_IPV4);
	assert_int_equal(f.req.dst.u.v4[3], 9);
}

static void test_udp_associate(void **st)
{
	struct fx f;
	const uint8_t req[] = {5, 3, 0, 1, 0, 0, 0, 0, 0, 0};

	(void)st;
	fx_init(&f);
	greet(&f);
	/* UDP ASSOCIATE may name 0.0.0.0:0 (client does not know its port). */
	assert_int_equal(feed(&f, req, sizeof(req), NULL), PN_SOCKS5_EV_REQUEST);
	assert_int_equal(f.req.cmd, PN_SOCKS5_CMD_UDP_ASSOCIATE);
	assert_int_equal(f.req.dst.port, 0);
}

static void test_bind_refused_0x07(void **st)
{
	struct fx f;
	const uint8_t req[] = {5, 2, 0, 1, 1, 2, 3, 4, 0, 80, 'x'};
	const uint8_t rep[] = {5, 7, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t c;

	(void)st;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, sizeof(req), &c), PN_E_SOCKS_COMMAND);
	expect_out(&f, rep, sizeof(rep));
	assert_int_equal(f.s.state, PN_SOCKS5_S_CLOSED);
	assert_int_equal(feed(&f, req, 1, &c), PN_E_INVAL);
}

static void test_unknown_command_0x07(void **st)
{
	struct fx f;
	const uint8_t req[] = {5, 9, 0, 1, 1, 2, 3, 4, 0, 80};

	(void)st;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, sizeof(req), NULL), PN_E_SOCKS_COMMAND);
	assert_int_equal(f.outst[1], PN_SOCKS5_REP_CMD_UNSUPPORTED);
}

static void test_unknown_atyp_0x08(void **st)
{
	struct fx f;
	const uint8_t req[] = {5, 1, 0, 2, 1, 2, 3, 4, 0, 80};

	(void)st;
	fx_init(&f);
	greet(&f);
	/* Decided as soon as ATYP is seen: the rest cannot be framed. */
	assert_int_equal(feed(&f, req, 4, NULL), PN_E_SOCKS_ATYP);
	assert_int_equal(f.outst[1], PN_SOCKS5_REP_ATYP_UNSUPPORTED);
	assert_int_equal(pn_buf_len(&f.out), 10);
}

static void test_greeting_without_noauth_0xff(void **st)
{
	struct fx f;
	const uint8_t g[] = {5, 2, 1, 2}; /* GSSAPI, user/pass */
	const uint8_t rep[] = {5, 0xff};
	const uint8_t g0[] = {5, 0};

	(void)st;
	fx_init(&f);
	assert_int_equal(feed(&f, g, sizeof(g), NULL), PN_E_SOCKS_NOAUTH);
	expect_out(&f, rep, 2);
	assert_int_equal(f.s.state, PN_SOCKS5_S_CLOSED);
	fx_init(&f);
	assert_int_equal(feed(&f, g0, sizeof(g0), NULL), PN_E_SOCKS_NOAUTH);
	expect_out(&f, rep, 2);
}

static void test_greeting_many_methods(void **st)
{
	struct fx f;
	uint8_t g[257];
	size_t c;

	(void)st;
	g[0] = 5;
	g[1] = 255;
	for (int i = 0; i < 255; i++)
		g[2 + i] = (uint8_t)(i + 1); /* 0x00 never offered ... */
	g[256] = 0;			     /* ... until the last one */
	fx_init(&f);
	assert_int_equal(feed(&f, g, sizeof(g), &c), PN_SOCKS5_EV_NEED_MORE);
	assert_int_equal(c, sizeof(g));
	expect_out(&f, sel_noauth, 2);
}

static void test_not_socks5_closed_silently(void **st)
{
	struct fx f;
	const uint8_t socks4[] = {4, 1, 0, 80, 1, 2, 3, 4, 0};

	(void)st;
	fx_init(&f);
	assert_int_equal(feed(&f, socks4, sizeof(socks4), NULL), PN_E_MALFORMED);
	assert_int_equal(pn_buf_len(&f.out), 0);
	fx_init(&f);
	assert_int_equal(feed(&f, "GET / HTTP/1.1\r\n", 16, NULL), PN_E_MALFORMED);
}

static void test_malformed_requests_general_failure(void **st)
{
	static const uint8_t bad_ver[] = {4, 1, 0, 1, 1, 2, 3, 4, 0, 80};
	static const uint8_t bad_rsv[] = {5, 1, 1, 1, 1, 2, 3, 4, 0, 80};
	static const uint8_t empty_name[] = {5, 1, 0, 3, 0, 0, 80};
	static const uint8_t nul_name[] = {5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80};
	static const uint8_t bad_chars[] = {5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 80};
	static const uint8_t empty_label[] = {5, 1, 0, 3, 4, 'a', '.', '.', 'b', 0, 80};
	static const uint8_t port0[] = {5, 1, 0, 1, 1, 2, 3, 4, 0, 0};
	static const struct {
		const uint8_t *p;
		size_t n;
	} cases[] = {
	    {bad_ver, sizeof(bad_ver)},	      {bad_rsv, sizeof(bad_rsv)},
	    {empty_name, sizeof(empty_name)}, {nul_name, sizeof(nul_name)},
	    {bad_chars, sizeof(bad_chars)},   {empty_label, sizeof(empty_label)},
	    {port0, sizeof(port0)},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;
		fx_init(&f);
		greet(&f);
		assert_int_equal(feed(&f, cases[i].p, cases[i].n, NULL), PN_E_MALFORMED);
		assert_int_equal(pn_buf_len(&f.out), 10);
		assert_int_equal(f.outst[0], 5);
		assert_int_equal(f.outst[1], PN_SOCKS5_REP_GENERAL_FAILURE);
		assert_int_equal(f.s.state, PN_SOCKS5_S_CLOSED);
	}
}

static void test_label_too_long(void **st)
{
	struct fx f;
	uint8_t req[4 + 1 + 64 + 2] = {5, 1, 0, 3, 64};

	(void)st;
	memset(req + 5, 'a', 64);
	req[5 + 64 + 1] = 80;
	fx_init(&f);
	greet(&f);
	assert_int_equal(feed(&f, req, sizeof(req), NULL), PN_E_MALFORMED);
}

/* Every split of greeting+request+early data gives the same result. */
static void test_incremental_every_split(void **st)
{
	uint8_t all[128];
	const char *name = "app.corp.example";
	size_t n = strlen(name), len = 0;

	(void)st;
	memcpy(all, greet_noauth, 3);
	len = 3;
	all[len++] = 5;
	all[len++] = 1;
	all[len++] = 0;
	all[len++] = 3;
	all[len++] = (uint8_t)n;
	memcpy(all + len, name, n);
	len += n;
	all[len++] = 0;
	all[len++] = 80;
	const size_t reqend = len;
	memcpy(all + len, "EARLY", 5);
	len += 5;

	for (size_t chunk = 1; chunk <= len; chunk++) {
		struct fx f;
		size_t pos = 0, c;
		int r = 0;

		fx_init(&f);
		while (pos < len) {
			size_t take = len - pos < chunk ? len - pos : chunk;
			r = feed(&f, all + pos, take, &c);
			assert_true(r >= 0);
			pos += c;
			if (r == PN_SOCKS5_EV_REQUEST)
				break;
			assert_int_equal(c, take);
		}
		assert_int_equal(r, PN_SOCKS5_EV_REQUEST);
		assert_int_equal(pos, reqend); /* early data left for the flow */
		assert_string_equal(f.req.dst.u.name, name);
		expect_out(&f, sel_noauth, 2);
	}
}

static void test_reply_codes_from_errors(void **st)
{
	(void)st;
	assert_int_equal(pn_socks5_rep_from_err(0), 0x00);
	assert_int_equal(pn_socks5_rep_from_err(PN_E_NOT_GRANTED), 0x02);
	assert_int_equal(pn_socks5_rep_from_err(PN_E_DENIED), 0x02);
	assert_int_equal(pn_socks5_rep_from_err(PN_E_NO_CONNECTOR), 0x03);
	assert_int_equal(pn_socks5_rep_from_err(-ENETUNREACH), 0x03);
	assert_int_equal(pn_socks5_rep_from_err(-EHOSTUNREACH), 0x04);
	assert_int_equal(pn_socks5_rep_from_err(-ETIMEDOUT), 0x04);
	assert_int_equal(pn_socks5_rep_from_err(-ECONNREFUSED), 0x05);
	assert_int_equal(pn_socks5_rep_from_err(PN_E_SOCKS_COMMAND), 0x07);
	assert_int_equal(pn_socks5_rep_from_err(PN_E_SOCKS_ATYP), 0x08);
	assert_int_equal(pn_socks5_rep_from_err(PN_E_INTERNAL), 0x01);
	assert_string_equal(pn_socks5_rep_name(2), "not_allowed");
	assert_string_equal(pn_socks5_rep_name(200), "unknown");
}

static void test_reply_encode_limits(void **st)
{
	uint8_t small[5];
	struct pn_buf b;
	struct pn_socks5_addr a;

	(void)st;
	pn_buf_init_wr(&b, small, sizeof(small));
	assert_int_equal(pn_socks5_reply_encode(&b, 0, NULL), PN_E_NOSPACE);
	assert_int_equal(pn_buf_len(&b), 0);
	assert_int_equal(pn_socks5_reply_encode(&b, 9, NULL), PN_E_INVAL);
	memset(&a, 0, sizeof(a));
	a.atyp = 2;
	pn_buf_init_wr(&b, small, sizeof(small));
	assert_int_equal(pn_socks5_reply_encode(&b, 0, &a), PN_E_INVAL);
}

static void test_udp_roundtrip(void **st)
{
	uint8_t st_[600];
	struct pn_buf b;
	struct pn_socks5_addr a, d;
	const uint8_t *p;
	size_t n;

	(void)st;
	assert_int_equal(pn_socks5_addr_parse(&a, "dns.corp.example:53"), 0);
	pn_buf_init_wr(&b, st_, sizeof(st_));
	assert_int_equal(pn_socks5_udp_build(&b, &a, (const uint8_t *)"query", 5), 0);
	assert_int_equal(pn_socks5_udp_parse(pn_buf_ptr(&b), pn_buf_len(&b), &d, &p, &n), 0);
	assert_int_equal(d.atyp, PN_SOCKS5_ATYP_DOMAIN);
	assert_string_equal(d.u.name, "dns.corp.example");
	assert_int_equal(d.port, 53);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "query", 5);

	/* Empty payload is a valid datagram. */
	assert_int_equal(pn_socks5_addr_parse(&a, "10.0.0.1:7"), 0);
	pn_buf_init_wr(&b, st_, sizeof(st_));
	assert_int_equal(pn_socks5_udp_build(&b, &a, NULL, 0), 0);
	assert_int_equal(pn_buf_len(&b), 10);
	assert_int_equal(pn_socks5_udp_parse(pn_buf_ptr(&b), pn_buf_len(&b), &d, &p, &n), 0);
	assert_int_equal(n, 0);

	/* No room: nothing written. */
	pn_buf_init_wr(&b, st_, 12);
	assert_int_equal(pn_socks5_udp_build(&b, &a, (const uint8_t *)"abc", 3), PN_E_NOSPACE);
	assert_int_equal(pn_buf_len(&b), 0);
}

static void test_udp_malformed(void **st)
{
	static const uint8_t frag[] = {0, 0, 1, 1, 1, 2, 3, 4, 0, 53, 'x'};
	static const uint8_t rsv[] = {0, 1, 0, 1, 1, 2, 3, 4, 0, 53, 'x'};
	static const uint8_t atyp[] = {0, 0, 0, 7, 1, 2, 3, 4, 0, 53};
	static const uint8_t trunc[] = {0, 0, 0, 4, 1, 2, 3, 4};
	static const uint8_t badname[] = {0, 0, 0, 3, 2, '$', '$', 0, 53};
	struct pn_socks5_addr d;
	const uint8_t *p;
	size_t n;

	(void)st;
	assert_int_equal(pn_socks5_udp_parse(frag, sizeof(frag), &d, &p, &n), PN_E_SOCKS_FRAG);
	assert_int_equal(pn_socks5_udp_parse(rsv, sizeof(rsv), &d, &p, &n), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_udp_parse(atyp, sizeof(atyp), &d, &p, &n), PN_E_SOCKS_ATYP);
	assert_int_equal(pn_socks5_udp_parse(trunc, sizeof(trunc), &d, &p, &n), PN_E_TRUNCATED);
	assert_int_equal(pn_socks5_udp_parse(frag, 2, &d, &p, &n), PN_E_TRUNCATED);
	assert_int_equal(pn_socks5_udp_parse(badname, sizeof(badname), &d, &p, &n), PN_E_MALFORMED);
}

static void test_addr_parse(void **st)
{
	struct pn_socks5_addr a;
	char s[300];

	(void)st;
	assert_int_equal(pn_socks5_addr_parse(&a, "db.corp.example:5432"), 0);
	assert_string_equal(pn_socks5_addr_str(&a, s, sizeof(s)), "db.corp.example:5432");
	assert_int_equal(pn_socks5_addr_parse(&a, "[fd00::5]:80"), 0);
	assert_int_equal(a.atyp, PN_SOCKS5_ATYP_IPV6);
	assert_int_equal(pn_socks5_addr_parse(&a, "127.0.0.1:15432"), 0);
	assert_int_equal(a.atyp, PN_SOCKS5_ATYP_IPV4);
	assert_int_equal(pn_socks5_addr_parse(&a, "fd00::5:80"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, "host:0"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, "host:65536"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, "host:"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, "host"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, ":80"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, "bad host:80"), PN_E_MALFORMED);
	assert_int_equal(pn_socks5_addr_parse(&a, "[nonsense]:80"), PN_E_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_ipv4),
	    cmocka_unit_test(test_connect_ipv6_and_bound_addr),
	    cmocka_unit_test(test_connect_domain_remote_resolution),
	    cmocka_unit_test(test_domain_ipv4_literal_becomes_ipv4),
	    cmocka_unit_test(test_udp_associate),
	    cmocka_unit_test(test_bind_refused_0x07),
	    cmocka_unit_test(test_unknown_command_0x07),
	    cmocka_unit_test(test_unknown_atyp_0x08),
	    cmocka_unit_test(test_greeting_without_noauth_0xff),
	    cmocka_unit_test(test_greeting_many_methods),
	    cmocka_unit_test(test_not_socks5_closed_silently),
	    cmocka_unit_test(test_malformed_requests_general_failure),
	    cmocka_unit_test(test_label_too_long),
	    cmocka_unit_test(test_incremental_every_split),
	    cmocka_unit_test(test_reply_codes_from_errors),
	    cmocka_unit_test(test_reply_encode_limits),
	    cmocka_unit_test(test_udp_roundtrip),
	    cmocka_unit_test(test_udp_malformed),
	    cmocka_unit_test(test_addr_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
