/* Unit tests for the DNS message codec, the synthetic pool and the local
 * resolver's decisions (core/dns_msg.h, dns_pool.h, dns_resolve.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/dns_msg.h"
#include "client/dns_pool.h"
#include "client/dns_resolve.h"
#include "core/buf.h"
#include "core/err.h"

static size_t mkq(uint8_t *out, const char *name, uint16_t type, uint16_t edns)
{
	size_t n = 0;
	assert_int_equal(pn_dns_query(0x1234, name, type, edns, out, 600, &n), 0);
	return n;
}

static void test_parse_query(void **st)
{
	uint8_t q[600];
	struct pn_dns_msg m;
	size_t n = mkq(q, "App.Corp.Example", PN_DNS_T_A, 1400);
	(void)st;
	/* Upper case in the wire name: lower-cased on reading. */
	assert_int_equal(pn_dns_parse(q, n, &m), 0);
	assert_int_equal(m.id, 0x1234);
	assert_string_equal(m.qname, "app.corp.example");
	assert_int_equal(m.qtype, PN_DNS_T_A);
	assert_int_equal(m.edns, 1);
	assert_int_equal(m.edns_udp, 1400);
	assert_int_equal(pn_dns_udp_limit(&m), 1400);
}

/* Every proper prefix of a valid message is refused, never over-read
 * (ASan watches the copies: each is a malloc of exactly that size). */
static void test_truncated_everywhere(void **st)
{
	uint8_t q[600];
	struct pn_dns_msg m;
	size_t n = mkq(q, "a.corp.example", PN_DNS_T_AAAA, 1232);
	(void)st;
	for (size_t i = 0; i < n; i++) {
		uint8_t *c = malloc(i ? i : 1);
		assert_non_null(c);
		memcpy(c, q, i);
		assert_int_not_equal(pn_dns_parse(c, i, &m), 0);
		free(c);
	}
	/* Trailing garbage. */
	q[n] = 0;
	assert_int_equal(pn_dns_parse(q, n + 1, &m), PN_E_MALFORMED);
}

static void test_compression_loops(void **st)
{
	struct pn_dns_msg m;
	char name[256];
	int odd;
	size_t off;
	(void)st;
	/* Question name is a pointer to itself (offset 12). */
	uint8_t self[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	assert_int_equal(pn_dns_parse(self, sizeof(self), &m), PN_E_MALFORMED);
	/* A label then a pointer back to that label: loops if only "pointer
	 * before its own offset" were checked. */
	uint8_t back[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1};
	assert_int_equal(pn_dns_parse(back, sizeof(back), &m), PN_E_MALFORMED);
	/* Forward pointer. */
	uint8_t fwd[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 16, 0, 1, 0, 1, 0};
	assert_int_not_equal(pn_dns_parse(fwd, sizeof(fwd), &m), 0);
	/* Two names pointing at each other (answer owner -> question). */
	uint8_t mutual[] = {0x80, 1, 0x80, 0,  0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0xc0, 18, 0, 1,
			    0,	  1, 0xc0, 14, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4,   1,    2,	 3, 4};
	assert_int_not_equal(pn_dns_parse(mutual, sizeof(mutual), &m), 0);
	/* A legitimate backward pointer works and resumes after it. */
	uint8_t ok[] = {1, 'x', 0, 3, 'w', 'w', 'w', 0xc0, 0};
	off = 3;
	assert_int_equal(pn_dns_name_read(ok, sizeof(ok), &off, name, sizeof(name), &odd), 0);
	assert_string_equal(name, "www.x");
	assert_int_equal(off, sizeof(ok));
	/* A long chain of valid backward pointers stops at PN_DNS_MAX_HOPS. */
	{
		uint8_t chain[2 + 2 * 40];
		chain[0] = 0;
		chain[1] = 0;
		for (int i = 1; i <= 40; i++) {
			chain[2 * i] = 0xc0;
			chain[2 * i + 1] = (uint8_t)(2 * (i - 1));
		}
		off = 2 * 40;
		assert_int_equal(
		    pn_dns_name_read(chain, sizeof(chain), &off, name, sizeof(name), &odd),
		    PN_E_MALFORMED);
		off = 2 * 5;
		assert_int_equal(
		    pn_dns_name_read(chain, sizeof(chain), &off, name, sizeof(name), &odd), 0);
	}
}

static void test_oversized(void **st)
{
	struct pn_dns_msg m;
	uint8_t *big = calloc(1, PN_DNS_MSG_MAX + 2);
	uint8_t nm[400];
	char name[256];
	size_t off = 0;
	int odd;
	(void)st;
	assert_non_null(big);
	assert_int_equal(pn_dns_parse(big, PN_DNS_MSG_MAX + 1, &m), PN_E_TOOBIG);
	free(big);
	/* A wire name over 255 bytes: 5 labels of 63. */
	for (int i = 0; i < 5; i++) {
		nm[i * 64] = 63;
		memset(nm + i * 64 + 1, 'a', 63);
	}
	nm[320 - 20] = 0;
	assert_int_equal(pn_dns_name_read(nm, sizeof(nm), &off, name, sizeof(name), &odd),
			 PN_E_TOOBIG);
	/* Label type 01 (a 64-byte "label"). */
	nm[0] = 64;
	off = 0;
	assert_int_equal(pn_dns_name_read(nm, sizeof(nm), &off, name, sizeof(name), &odd),
			 PN_E_MALFORMED);
	/* Counts that cannot fit the bytes given. */
	uint8_t hdr[] = {0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	assert_int_equal(pn_dns_parse(hdr, sizeof(hdr), &m), PN_E_TRUNCATED);
	/* Names we cannot write. */
	assert_int_equal(pn_dns_query(1, "a..b", 1, 0, nm, sizeof(nm), &off), PN_E_BAD_NAME);
	assert_int_equal(pn_dns_query(1, "a.", 1, 0, nm, sizeof(nm), &off), PN_E_BAD_NAME);
}

static void test_odd_names_and_edns(void **st)
{
	struct pn_dns_msg m;
	(void)st;
	/* A label with a dot and a space in it: parsed, flagged, not rendered. */
	uint8_t odd[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', ' ', 0, 0, 1, 0, 1};
	assert_int_equal(pn_dns_parse(odd, sizeof(odd), &m), 0);
	assert_int_equal(m.name_odd, 1);
	assert_string_equal(m.qname, "");
	/* Two OPT records. */
	uint8_t two[] = {0,  1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2,  1, 'a', 0, 0, 1, 0, 1, 0, 0,
			 41, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 0,   0, 0, 0, 0, 0, 0};
	assert_int_equal(pn_dns_parse(two, sizeof(two), &m), PN_E_MALFORMED);
	/* OPT with an option that overruns its rdata. */
	uint8_t bad[] = {0, 1, 0, 0, 0,	 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0,  0, 1,
			 0, 1, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 4, 0,   10, 0, 9};
	assert_int_equal(pn_dns_parse(bad, sizeof(bad), &m), PN_E_MALFORMED);
	/* An A record with 5 bytes of rdata. */
	uint8_t a5[] = {0x81, 0, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
			1,    0, 1,    0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5};
	assert_int_equal(pn_dns_parse(a5, sizeof(a5), &m), PN_E_MALFORMED);
}

static void test_reply(void **st)
{
	uint8_t q[600], out[2048];
	struct pn_dns_msg m, r;
	struct pn_dns_rr rr[2] = {{.type = PN_DNS_T_A, .addr = {100, 96, 0, 1}},
				  {.type = PN_DNS_T_AAAA, .addr = {0xfd, 0x7a}}};
	size_t n = mkq(q, "app.corp.example", PN_DNS_T_ANY, 1232), olen;
	(void)st;
	assert_int_equal(pn_dns_parse(q, n, &m), 0);
	assert_int_equal(pn_dns_reply(&m, 0, rr, 2, 5, 1232, out, sizeof(out), &olen), 0);
	assert_int_equal(pn_dns_parse(out, olen, &r), 0);
	assert_int_equal(r.id, 0x1234);
	assert_true(r.flags & PN_DNS_F_QR);
	assert_true(r.flags & PN_DNS_F_RD);
	assert_int_equal(r.ancount, 2);
	assert_int_equal(r.nanswer_addrs, 2);
	assert_int_equal(r.answer_addrs[0][0], 100);
	assert_int_equal(r.edns, 1); /* EDNS answered with EDNS */
	assert_string_equal(r.qname, "app.corp.example");
	/* Too small for the answers: TC, no answers, still parseable. */
	assert_int_equal(pn_dns_reply(&m, 0, rr, 2, 5, 60, out, sizeof(out), &olen), 0);
	assert_int_equal(pn_dns_parse(out, olen, &r), 0);
	assert_true(r.flags & PN_DNS_F_TC);
	assert_int_equal(r.ancount, 0);
	/* Unknown EDNS version: BADVERS. */
	m.edns_version = 1;
	assert_int_equal(pn_dns_reply(&m, 0, rr, 2, 5, 1232, out, sizeof(out), &olen), 0);
	assert_int_equal(pn_dns_parse(out, olen, &r), 0);
	assert_int_equal(r.edns_ext_rcode, 1);
	assert_int_equal(r.ancount, 0);
}

static void test_pool(void **st)
{
	struct pn_pool *p;
	uint8_t a[4], a6[16];
	long i1, i2;
	(void)st;
	assert_int_equal(pn_pool_new("100.96.0.0/12", "fd7a:7073:746e::/48", 0, &p), 0);
	i1 = pn_pool_get(p, "a.corp.example");
	i2 = pn_pool_get(p, "b.corp.example");
	assert_true(i1 > 0 && i2 > 0 && i1 != i2);
	assert_int_equal(pn_pool_get(p, "a.corp.example"), i1); /* stable */
	assert_int_equal(pn_pool_addr4(p, i2, a), 0);
	assert_int_equal(a[0], 100);
	assert_int_equal(a[1], 96);
	assert_int_equal(a[3], 2);
	assert_string_equal(pn_pool_name(p, 4, a), "b.corp.example");
	assert_int_equal(pn_pool_addr6(p, i1, a6), 0);
	assert_string_equal(pn_pool_name(p, 6, a6), "a.corp.example");
	a[3] = 99; /* in range, never handed out */
	assert_null(pn_pool_name(p, 4, a));
	assert_true(pn_pool_contains(p, 4, a));
	a[0] = 10;
	assert_null(pn_pool_name(p, 4, a));
	assert_false(pn_pool_contains(p, 4, a));
	pn_pool_free(p);
	/* Bad ranges; a capped pool refuses new names, keeps old ones. */
	assert_int_equal(pn_pool_new("100.96.0.1/12", NULL, 0, &p), PN_E_CONFIG);
	assert_int_equal(pn_pool_new("100.96.0.0/31", NULL, 0, &p), PN_E_CONFIG);
	assert_int_equal(pn_pool_new("100.96.0.0/12", "fd00::/8", 0, &p), PN_E_CONFIG);
	assert_int_equal(pn_pool_new("100.96.0.0/30", NULL, 0, &p), 0);
	assert_int_equal(pn_pool_get(p, "x"), 1);
	assert_int_equal(pn_pool_get(p, "y"), 2);
	assert_int_equal(pn_pool_get(p, "z"), PN_E_TOOBIG);
	assert_int_equal(pn_pool_get(p, "x"), 1);
	pn_pool_free(p);
	/* Carry across bytes: index 300 in a /16. */
	assert_int_equal(pn_pool_new("100.100.0.0/16", NULL, 1000, &p), 0);
	for (int i = 0; i < 300; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "n%d", i);
		pn_pool_get(p, nm);
	}
	assert_int_equal(pn_pool_addr4(p, 300, a), 0);
	assert_int_equal(a[2], 1);
	assert_int_equal(a[3], 44);
	assert_string_equal(pn_pool_name(p, 4, a), "n299");
	pn_pool_free(p);
}

static int prot(void *user, const char *name);

/* A connector's reply to (name, type): header + question + one TXT record,
 * the owner a pointer to the question. */
static size_t mkans(uint8_t *out, uint16_t id, const char *name, uint16_t type, size_t txtlen)
{
	size_t n = 0, qn;
	uint8_t q[600];

	assert_int_equal(pn_dns_query(id, name, type, 0, q, sizeof(q), &n), 0);
	memcpy(out, q, n);
	pn_store_be16(out + 2, PN_DNS_F_QR | PN_DNS_F_RD | PN_DNS_F_RA);
	pn_store_be16(out + 6, 1); /* ancount */
	qn = n;
	pn_store_be16(out + qn, 0xc000 | PN_DNS_HDR_LEN);
	pn_store_be16(out + qn + 2, type);
	pn_store_be16(out + qn + 4, 1);
	pn_store_be32(out + qn + 6, 60);
	pn_store_be16(out + qn + 10, (uint16_t)(txtlen + 1));
	out[qn + 12] = (uint8_t)txtlen;
	memset(out + qn + 13, 'x', txtlen);
	return qn + 13 + txtlen;
}

static void test_tunnel_reply(void **st)
{
	struct pn_pool *p;
	struct pn_dnsr r = {.is_protected = prot, .ttl = 5, .tunnel = 1};
	struct pn_dns_msg m, a;
	uint8_t q[600], out[PN_DNS_EDNS_UDP + 512], ans[4096];
	size_t n, olen, alen;
	(void)st;
	assert_int_equal(pn_pool_new(NULL, PN_POOL_V6_DEFAULT, 0, &p), 0);
	r.pool = p;
	/* A/AAAA/ANY stay local; other types of protected names go through
	 * the tunnel; public names upstream. */
	n = mkq(q, "app.corp.example", PN_DNS_T_A, 0);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_ANSWER);
	n = mkq(q, "app.corp.example", PN_DNS_T_ANY, 0);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_ANSWER);
	static const uint16_t types[] = {PN_DNS_T_TXT, PN_DNS_T_MX, PN_DNS_T_SRV, 257, 65535};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint16_t t = types[i];
		n = mkq(q, "app.corp.example", t, 1232);
		assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen),
				 PN_DNSR_TUNNEL);
		assert_int_equal(m.qtype, t);
	}
	n = mkq(q, "example.org", PN_DNS_T_TXT, 0);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_FORWARD);

	/* The requester asked "App.Corp.Example" (0x20): the reply gets its id,
	 * its spelling and its RD bit. */
	n = mkq(q, "App.Corp.Example", PN_DNS_T_TXT, 0);
	q[2] &= (uint8_t)~(PN_DNS_F_RD >> 8);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_TUNNEL);
	alen = mkans(ans, 0x9999, "app.corp.example", PN_DNS_T_TXT, 20);
	assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, ans, &alen, sizeof(ans), 512), 0);
	assert_int_equal(pn_load_be16(ans), 0x1234);
	assert_int_equal(pn_load_be16(ans + 2) & PN_DNS_F_RD, 0);
	assert_memory_equal(ans + PN_DNS_HDR_LEN, q + PN_DNS_HDR_LEN, n - PN_DNS_HDR_LEN);
	assert_int_equal(pn_dns_parse(ans, alen, &a), 0);
	assert_int_equal(a.ancount, 1);

	/* Not an answer to this query: another name, type, a query, junk. */
	n = mkq(q, "app.corp.example", PN_DNS_T_TXT, 0);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_TUNNEL);
	alen = mkans(ans, 1, "www1.corp.example", PN_DNS_T_TXT, 4);
	assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, ans, &alen, sizeof(ans), 512),
			 PN_E_MALFORMED);
	alen = mkans(ans, 1, "app.corp.example", PN_DNS_T_MX, 4);
	assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, ans, &alen, sizeof(ans), 512),
			 PN_E_MALFORMED);
	alen = mkans(ans, 1, "app.corp.example", PN_DNS_T_TXT, 4);
	ans[2] &= 0x7f; /* QR clear */
	assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, ans, &alen, sizeof(ans), 512),
			 PN_E_MALFORMED);
	for (size_t cut = 0; cut < 40; cut++) {
		alen = mkans(ans, 1, "app.corp.example", PN_DNS_T_TXT, 4) - 1 - cut % 20;
		assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, ans, &alen, sizeof(ans), 512),
				 PN_E_MALFORMED);
	}

	/* Larger than the requester takes: TC, no records; over TCP in full. */
	alen = mkans(ans, 1, "app.corp.example", PN_DNS_T_TXT, 250);
	{
		/* two more TXT records of 250 bytes: past 512 */
		size_t one = 12 + 1 + 250, base = alen - one;
		memcpy(ans + alen, ans + base, one);
		memcpy(ans + alen + one, ans + base, one);
		alen += 2 * one;
		pn_store_be16(ans + 6, 3);
	}
	{
		uint8_t copy[4096];
		size_t clen = alen;
		memcpy(copy, ans, alen);
		assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, copy, &clen, sizeof(copy), 65535), 0);
		assert_int_equal(clen, alen);
	}
	assert_int_equal(pn_dnsr_tunnel_reply(&m, q, n, ans, &alen, sizeof(ans), 512), 0);
	assert_true(alen <= 512);
	assert_int_equal(pn_dns_parse(ans, alen, &a), 0);
	assert_true(a.flags & PN_DNS_F_TC);
	assert_int_equal(a.ancount, 0);
	assert_int_equal(a.id, 0x1234);
	pn_pool_free(p);
}

static int prot(void *user, const char *name)
{
	(void)user;
	size_t n = strlen(name), s = strlen(".corp.example");
	return strcmp(name, "app.corp.example") == 0 ||
	       (n > s && strcmp(name + n - s, ".corp.example") == 0 && name[0] == 'w');
}

static void test_resolver(void **st)
{
	struct pn_pool *p;
	struct pn_dnsr r = {.is_protected = prot, .ttl = 5};
	struct pn_dns_msg m, a;
	uint8_t q[600], out[PN_DNS_EDNS_UDP + 512];
	size_t n, olen;
	(void)st;
	assert_int_equal(pn_pool_new(NULL, PN_POOL_V6_DEFAULT, 0, &p), 0);
	r.pool = p;
	n = mkq(q, "app.corp.example", PN_DNS_T_A, 0);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_ANSWER);
	assert_int_equal(pn_dns_parse(out, olen, &a), 0);
	assert_int_equal(a.nanswer_addrs, 1);
	assert_int_equal(a.answer_fam[0], 4);
	assert_int_equal(a.edns, 0);
	n = mkq(q, "www1.corp.example", PN_DNS_T_AAAA, 1232);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_ANSWER);
	assert_int_equal(pn_dns_parse(out, olen, &a), 0);
	assert_int_equal(a.answer_fam[0], 6);
	assert_int_equal(a.edns, 1);
	/* Public names go upstream untouched. */
	n = mkq(q, "example.org", PN_DNS_T_A, 1232);
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_FORWARD);
	/* Every type for a protected name: an answer, never a crash; only
	 * A/AAAA/ANY carry records. */
	for (unsigned t = 0; t <= 65535; t++) {
		n = mkq(q, "app.corp.example", (uint16_t)t, (t & 1) ? 1232 : 0);
		assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen),
				 PN_DNSR_ANSWER);
		assert_int_equal(pn_dns_parse(out, olen, &a), 0);
		assert_int_equal(PN_DNS_RCODE(a.flags), 0);
		assert_int_equal(a.ancount, t == PN_DNS_T_A || t == PN_DNS_T_AAAA ? 1
					    : t == PN_DNS_T_ANY			  ? 2
										  : 0);
	}
	/* A response sent to us is dropped; garbage gets FORMERR; short: dropped. */
	n = mkq(q, "app.corp.example", PN_DNS_T_A, 0);
	q[2] |= 0x80;
	assert_int_equal(pn_dnsr_decide(&r, q, n, 0, &m, out, sizeof(out), &olen), PN_DNSR_DROP);
	q[2] &= 0x7f;
	assert_int_equal(pn_dnsr_decide(&r, q, n - 1, 0, &m, out, sizeof(out), &olen),
			 PN_DNSR_ANSWER);
	assert_int_equal(PN_DNS_RCODE(pn_load_be16(out + 2)), PN_DNS_FORMERR);
	assert_int_equal(pn_dnsr_decide(&r, q, 11, 0, &m, out, sizeof(out), &olen), PN_DNSR_DROP);
	pn_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_query),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_compression_loops),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_odd_names_and_edns),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_resolver),
	    cmocka_unit_test(test_tunnel_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
