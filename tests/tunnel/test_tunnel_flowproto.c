/* Flow protocol codec: round trips, truncation, and every refusal path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "tunnel/flowproto.h"

static void mk_hdr(struct pn_flow_hdr *h, int kind, const char *dest, uint16_t port)
{
	memset(h, 0, sizeof(*h));
	h->kind = (uint8_t)kind;
	h->flow_id = 0x0123456789abcdefULL;
	memset(h->resource_id, 0xa5, sizeof(h->resource_id));
	assert_int_equal(pn_flow_dest_parse(&h->dest, dest), 0);
	h->port = port;
	if (kind == PN_FLOW_DNS)
		h->qtype = PN_FLOW_QTYPE_ANY;
}

static size_t enc_hdr(const struct pn_flow_hdr *h, uint8_t *out, size_t cap)
{
	struct pn_buf w;
	pn_buf_init_wr(&w, out, cap);
	assert_int_equal(pn_flow_hdr_encode(&w, h), 0);
	return pn_buf_len(&w);
}

static void test_hdr_roundtrip(void **st)
{
	static const struct {
		int kind;
		const char *dest;
		uint16_t port;
	} cases[] = {
		{PN_FLOW_TCP, "DB.Corp.Example.", 5432},
		{PN_FLOW_UDP, "10.202.3.4", 53},
		{PN_FLOW_TCP, "fd00::1", 22},
		{PN_FLOW_DNS, "_ldap._tcp.corp", 0},
		{PN_FLOW_ICMP, "db.corp", 0},
		{PN_FLOW_ICMP, "fd00::1", 0},
		{PN_FLOW_DNS_MSG, "_http._tcp.app.corp", 0},
	};
	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pn_flow_hdr h, g;
		uint8_t buf[PN_FLOW_HDR_MAX];
		struct pn_buf r;
		size_t n;

		mk_hdr(&h, cases[i].kind, cases[i].dest, cases[i].port);
		n = enc_hdr(&h, buf, sizeof(buf));
		pn_buf_init_ro(&r, buf, n);
		assert_int_equal(pn_flow_hdr_decode(&r, &g), 0);
		assert_int_equal(pn_buf_len(&r), 0);
		assert_int_equal(g.kind, h.kind);
		assert_true(g.flow_id == h.flow_id);
		assert_memory_equal(g.resource_id, h.resource_id, 16);
		assert_int_equal(g.port, h.port);
		assert_int_equal(g.qtype, h.qtype);
		assert_memory_equal(&g.dest, &h.dest, sizeof(g.dest));
	}
	{
		struct pn_flow_dest d;
		char s[256];
		assert_int_equal(pn_flow_dest_parse(&d, "DB.Corp.Example."), 0);
		pn_flow_dest_str(&d, s, sizeof(s));
		assert_string_equal(s, "db.corp.example");
	}
}

/* Every strict prefix is "need more" and consumes nothing. */
static void test_hdr_truncated(void **st)
{
	struct pn_flow_hdr h, g;
	uint8_t buf[2 * PN_FLOW_HDR_MAX];
	size_t n, n2;
	struct pn_buf r;

	(void)st;
	mk_hdr(&h, PN_FLOW_TCP, "a.b", 80);
	n = enc_hdr(&h, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		pn_buf_init_ro(&r, buf, i);
		assert_int_equal(pn_flow_hdr_decode(&r, &g), PN_E_TRUNCATED);
		assert_int_equal(pn_buf_len(&r), i);
	}
	/* Two headers back to back, followed by payload bytes. */
	n2 = enc_hdr(&h, buf + n, sizeof(buf) - n);
	memcpy(buf + n + n2, "xyz", 3);
	pn_buf_init_ro(&r, buf, n + n2 + 3);
	assert_int_equal(pn_flow_hdr_decode(&r, &g), 0);
	assert_int_equal(pn_flow_hdr_decode(&r, &g), 0);
	assert_int_equal(pn_buf_len(&r), 3);
}

static int decode_patched(const struct pn_flow_hdr *h, size_t off, uint8_t val)
{
	uint8_t buf[PN_FLOW_HDR_MAX];
	struct pn_flow_hdr g;
	struct pn_buf r;
	size_t n = enc_hdr(h, buf, sizeof(buf));
	int rc;

	buf[off] = val;
	pn_buf_init_ro(&r, buf, n);
	rc = pn_flow_hdr_decode(&r, &g);
	if (rc != 0)
		assert_int_equal(pn_buf_len(&r), n);
	return rc;
}

static void test_hdr_malformed(void **st)
{
	struct pn_flow_hdr h;
	uint8_t buf[PN_FLOW_HDR_MAX + 8];
	struct pn_flow_hdr g;
	struct pn_buf r;
	size_t n;

	(void)st;
	mk_hdr(&h, PN_FLOW_TCP, "ab.cd", 80);
	/* layout: 0 ver, 1-2 len, 3 kind, 4 flags, 5-12 id, 13-28 rid, 29 atype,
	   30 name len, 31.. name, then port, qtype */
	assert_int_equal(decode_patched(&h, 0, 2), PN_E_UNSUPPORTED);
	assert_int_equal(decode_patched(&h, 3, 9), PN_E_MALFORMED);	/* kind */
	assert_int_equal(decode_patched(&h, 4, 1), PN_E_MALFORMED);	/* flags */
	assert_int_equal(decode_patched(&h, 29, 5), PN_E_MALFORMED);	/* addr type */
	assert_int_equal(decode_patched(&h, 31 + 3, '.'), PN_E_BAD_NAME); /* "ab..d" */
	assert_int_equal(decode_patched(&h, 31 + 1, ' '), PN_E_BAD_NAME);
	assert_int_equal(decode_patched(&h, 31 + 1, 0), PN_E_MALFORMED);	/* NUL */
	assert_int_equal(decode_patched(&h, 30, 200), PN_E_MALFORMED);	/* name len */
	assert_int_equal(decode_patched(&h, 38, 1), PN_E_MALFORMED);	/* qtype for TCP */
	/* port 0 for TCP (both bytes) */
	n = enc_hdr(&h, buf, sizeof(buf));
	buf[36] = buf[37] = 0;
	pn_buf_init_ro(&r, buf, n);
	assert_int_equal(pn_flow_hdr_decode(&r, &g), PN_E_MALFORMED);
	/* declared length beyond the limit: refused before the body arrives */
	buf[0] = PN_FLOW_VERSION;
	pn_store_be16(buf + 1, PN_FLOW_HDR_MAX);
	pn_buf_init_ro(&r, buf, 3);
	assert_int_equal(pn_flow_hdr_decode(&r, &g), PN_E_TOOBIG);
	/* trailing byte inside the body */
	n = enc_hdr(&h, buf, sizeof(buf));
	buf[n] = 0;
	pn_store_be16(buf + 1, (uint16_t)(pn_load_be16(buf + 1) + 1));
	pn_buf_init_ro(&r, buf, n + 1);
	assert_int_equal(pn_flow_hdr_decode(&r, &g), PN_E_MALFORMED);
	/* DNS with a port, TCP without one, wildcard names: refused at encode */
	mk_hdr(&h, PN_FLOW_DNS, "x.y", 0);
	h.port = 53;
	pn_buf_init_wr(&r, buf, sizeof(buf));
	assert_int_equal(pn_flow_hdr_encode(&r, &h), PN_E_INVAL);
	assert_int_equal(pn_buf_len(&r), 0);
	/* ICMP and DNS_MSG: no port, no qtype; DNS_MSG names only */
	mk_hdr(&h, PN_FLOW_ICMP, "x.y", 7);
	assert_int_equal(pn_flow_hdr_encode(&r, &h), PN_E_INVAL);
	mk_hdr(&h, PN_FLOW_ICMP, "x.y", 0);
	h.qtype = PN_FLOW_QTYPE_A;
	assert_int_equal(pn_flow_hdr_encode(&r, &h), PN_E_INVAL);
	mk_hdr(&h, PN_FLOW_DNS_MSG, "x.y", 53);
	assert_int_equal(pn_flow_hdr_encode(&r, &h), PN_E_INVAL);
	mk_hdr(&h, PN_FLOW_DNS_MSG, "10.1.2.3", 0);
	assert_int_equal(pn_flow_hdr_encode(&r, &h), PN_E_INVAL);
	mk_hdr(&h, 6, "x.y", 0); /* no such kind */
	assert_int_equal(pn_flow_hdr_encode(&r, &h), PN_E_INVAL);
	assert_int_equal(pn_buf_len(&r), 0);
	assert_int_equal(pn_flow_dest_parse(&h.dest, "*.corp"), PN_E_BAD_NAME);
	assert_int_equal(pn_flow_dest_parse(&h.dest, ""), PN_E_BAD_NAME);
	assert_int_equal(pn_flow_dest_parse(&h.dest, "10.1"), PN_E_BAD_NAME);
	assert_int_equal(pn_flow_dest_parse(&h.dest, "a.."), PN_E_BAD_NAME);
	assert_int_equal(pn_flow_dest_parse(&h.dest, "host.1a"), 0);
	/* non-canonical on the wire (upper case, trailing dot): refused */
	mk_hdr(&h, PN_FLOW_TCP, "ab.cd", 80);
	assert_int_equal(decode_patched(&h, 31, 'A'), PN_E_BAD_NAME);
	assert_int_equal(decode_patched(&h, 35, '.'), PN_E_BAD_NAME);
	{
		char big[300];
		memset(big, 'a', 64);
		big[64] = '\0';
		assert_int_equal(pn_flow_dest_parse(&h.dest, big), PN_E_BAD_NAME);
		for (int i = 0; i < 255; i++)
			big[i] = (i % 2) ? '.' : 'a';
		big[255] = '\0'; /* 255 chars: too long even without the dot */
		assert_int_equal(pn_flow_dest_parse(&h.dest, big), PN_E_BAD_NAME);
		big[253] = '\0'; /* 253 chars ending in 'a' */
		assert_int_equal(pn_flow_dest_parse(&h.dest, big), 0);
	}
}

static void test_status(void **st)
{
	struct pn_flow_status s, g;
	uint8_t buf[PN_FLOW_STATUS_MAX];
	struct pn_buf w, r;

	(void)st;
	pn_flow_status_set(&s, 77, PN_FLOW_DENIED, "not in access list\n");
	assert_string_equal(s.text, "not in access list?");
	s.naddr = 2;
	s.addr[0].family = 4;
	memcpy(s.addr[0].a, "\x0a\xca\x00\x01", 4);
	s.addr[1].family = 6;
	memset(s.addr[1].a, 0xfd, 16);
	s.ttl = 30;
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_flow_status_encode(&w, &s), 0);
	pn_buf_init_ro(&r, pn_buf_ptr(&w), pn_buf_len(&w));
	assert_int_equal(pn_flow_status_decode(&r, &g), 0);
	assert_int_equal(g.code, PN_FLOW_DENIED);
	assert_true(g.flow_id == 77);
	assert_string_equal(g.text, s.text);
	assert_int_equal(g.naddr, 2);
	assert_memory_equal(g.addr, s.addr, 2 * sizeof(s.addr[0]));
	assert_int_equal(g.ttl, 30);
	for (size_t i = 0; i < pn_buf_len(&w); i++) {
		pn_buf_init_ro(&r, pn_buf_ptr(&w), i);
		assert_int_equal(pn_flow_status_decode(&r, &g), PN_E_TRUNCATED);
	}
	/* unknown code, too many addresses */
	buf[3] = PN_FLOW_CODE_MAX + 1;
	pn_buf_init_ro(&r, buf, pn_buf_len(&w));
	assert_int_equal(pn_flow_status_decode(&r, &g), PN_E_MALFORMED);
	buf[3] = 0;
	buf[3 + 1 + 8 + 1 + strlen(s.text)] = PN_FLOW_DNS_ADDRS_MAX + 1;
	pn_buf_init_ro(&r, buf, pn_buf_len(&w));
	assert_int_equal(pn_flow_status_decode(&r, &g), PN_E_MALFORMED);
	assert_string_equal(pn_flow_code_name(PN_FLOW_REVOKED), "revoked");
	assert_string_equal(pn_flow_code_name(99), "unknown");
}

static void test_dgram(void **st)
{
	uint8_t out[PN_FLOW_DGRAM_HDR_LEN + PN_FLOW_DGRAM_PAYLOAD_MAX + 1];
	uint8_t pl[PN_FLOW_DGRAM_PAYLOAD_MAX + 1];
	const uint8_t *p;
	uint64_t id;
	size_t n, pn;

	(void)st;
	memset(pl, 7, sizeof(pl));
	assert_int_equal(pn_flow_dgram_encode(out, sizeof(out), 42, pl, 100, &n), 0);
	assert_int_equal(n, 108);
	assert_int_equal(pn_flow_dgram_decode(out, n, &id, &p, &pn), 0);
	assert_true(id == 42);
	assert_int_equal(pn, 100);
	assert_ptr_equal(p, out + 8);
	assert_int_equal(pn_flow_dgram_decode(out, 7, &id, &p, &pn), PN_E_TRUNCATED);
	assert_int_equal(pn_flow_dgram_encode(out, sizeof(out), 1, pl, sizeof(pl), &n),
			 PN_E_TOOBIG);
	assert_int_equal(pn_flow_dgram_decode(out, sizeof(out), &id, &p, &pn), PN_E_TOOBIG);
	assert_int_equal(pn_flow_dgram_encode(out, 10, 1, pl, 5, &n), PN_E_TOOBIG);
}

static void test_ctl(void **st)
{
	uint8_t buf[256];
	struct pn_buf w, r;
	const uint8_t *body;
	size_t blen;
	uint8_t type;
	char text[PN_FLOW_TEXT_MAX + 1];
	int code;

	(void)st;
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_ACL, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(pn_ctl_error_encode(&w, PN_FLOW_BAD_ACL, "bound to another key"), 0);
	assert_int_equal(pn_ctl_encode(&w, 9, NULL, 0), PN_E_INVAL);
	pn_buf_init_ro(&r, pn_buf_ptr(&w), pn_buf_len(&w));
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), 0);
	assert_int_equal(type, PN_CTL_ACL);
	assert_int_equal(blen, 3);
	assert_memory_equal(body, "abc", 3);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), 0);
	assert_int_equal(type, PN_CTL_ERROR);
	assert_int_equal(pn_ctl_error_parse(body, blen, &code, text, sizeof(text)), 0);
	assert_int_equal(code, PN_FLOW_BAD_ACL);
	assert_string_equal(text, "bound to another key");
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_TRUNCATED);
	/* oversized and unknown messages */
	buf[0] = PN_CTL_ACL;
	pn_store_be32(buf + 1, PN_CTL_BODY_MAX + 1);
	pn_buf_init_ro(&r, buf, 5);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_TOOBIG);
	buf[0] = 0;
	pn_buf_init_ro(&r, buf, 5);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_MALFORMED);
	assert_int_equal(pn_ctl_error_parse((const uint8_t *)"\x01\x05" "ab", 4, &code, text,
					    sizeof(text)),
			 PN_E_MALFORMED);
}

/* PN_CTL_CRED / PN_CTL_CRED_OK: round trip, every truncation point,
 * oversized (refused from the prefix alone), empty, OK with a body. */
static void test_ctl_cred(void **st)
{
	static uint8_t cert[PN_CTL_CRED_MAX], buf[PN_CTL_PREFIX_LEN + PN_CTL_CRED_MAX + 16];
	struct pn_buf w, r;
	const uint8_t *body;
	size_t blen, n;
	uint8_t type;

	(void)st;
	for (size_t i = 0; i < sizeof(cert); i++)
		cert[i] = (uint8_t)(i * 7 + 3);
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_CRED, cert, 300), 0);
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_CRED_OK, NULL, 0), 0);
	n = pn_buf_len(&w);
	assert_int_equal(n, 2 * PN_CTL_PREFIX_LEN + 300);
	/* every truncation point: need more, nothing consumed */
	for (size_t k = 0; k < PN_CTL_PREFIX_LEN + 300; k++) {
		pn_buf_init_ro(&r, buf, k);
		assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_TRUNCATED);
		assert_int_equal(pn_buf_len(&r), k);
	}
	pn_buf_init_ro(&r, buf, n);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), 0);
	assert_int_equal(type, PN_CTL_CRED);
	assert_int_equal(blen, 300);
	assert_memory_equal(body, cert, 300);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), 0);
	assert_int_equal(type, PN_CTL_CRED_OK);
	assert_int_equal(blen, 0);
	assert_int_equal(pn_buf_len(&r), 0);

	/* the largest certificate passes; one byte more is refused both ways */
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_CRED, cert, PN_CTL_CRED_MAX), 0);
	pn_buf_init_ro(&r, buf, pn_buf_len(&w));
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), 0);
	assert_int_equal(blen, PN_CTL_CRED_MAX);
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_CRED, cert, PN_CTL_CRED_MAX + 1), PN_E_INVAL);
	assert_int_equal(pn_buf_len(&w), 0);
	/* oversized: refused from the 5-byte prefix, before any body arrives
	 * (an access list's 4 MiB may not be buffered for a certificate) */
	buf[0] = PN_CTL_CRED;
	pn_store_be32(buf + 1, PN_CTL_CRED_MAX + 1);
	pn_buf_init_ro(&r, buf, PN_CTL_PREFIX_LEN);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_TOOBIG);
	assert_int_equal(pn_buf_len(&r), PN_CTL_PREFIX_LEN);
	pn_store_be32(buf + 1, 0xffffffffu);
	pn_buf_init_ro(&r, buf, PN_CTL_PREFIX_LEN);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_TOOBIG);
	/* empty credential, and an OK carrying bytes: malformed */
	pn_store_be32(buf + 1, 0);
	pn_buf_init_ro(&r, buf, PN_CTL_PREFIX_LEN);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_MALFORMED);
	pn_buf_init_wr(&w, buf, sizeof(buf));
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_CRED, cert, 0), PN_E_INVAL);
	assert_int_equal(pn_ctl_encode(&w, PN_CTL_CRED_OK, cert, 1), PN_E_INVAL);
	buf[0] = PN_CTL_CRED_OK;
	pn_store_be32(buf + 1, 1);
	buf[5] = 0;
	pn_buf_init_ro(&r, buf, 6);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_MALFORMED);
	/* types next to ours stay unknown here */
	buf[0] = PN_CTL_CRED_OK + 2;
	pn_store_be32(buf + 1, 0);
	pn_buf_init_ro(&r, buf, PN_CTL_PREFIX_LEN);
	assert_int_equal(pn_ctl_decode(&r, &type, &body, &blen), PN_E_MALFORMED);
}

/* PN_WRITE_CORPUS=dir: write the fuzzers' seed inputs (used once). */
static void write_seed(const char *dir, const char *sub, const char *name,
		       const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

static void test_seeds(void **st)
{
	const char *dir = getenv("PN_WRITE_CORPUS");
	struct pn_flow_hdr h;
	struct pn_flow_status s;
	uint8_t buf[1024];
	struct pn_buf w;

	(void)st;
	if (!dir)
		return;
	mk_hdr(&h, PN_FLOW_TCP, "db.corp", 5432);
	write_seed(dir, "hdr", "tcp_name", buf, enc_hdr(&h, buf, sizeof(buf)));
	mk_hdr(&h, PN_FLOW_UDP, "10.1.2.3", 53);
	write_seed(dir, "hdr", "udp_v4", buf, enc_hdr(&h, buf, sizeof(buf)));
	mk_hdr(&h, PN_FLOW_TCP, "fd00::5", 443);
	write_seed(dir, "hdr", "tcp_v6", buf, enc_hdr(&h, buf, sizeof(buf)));
	mk_hdr(&h, PN_FLOW_DNS, "www.corp", 0);
	write_seed(dir, "hdr", "dns", buf, enc_hdr(&h, buf, sizeof(buf)));
	pn_flow_status_set(&s, 5, PN_FLOW_OK, "ok");
	s.naddr = 1;
	s.addr[0].family = 4;
	pn_buf_init_wr(&w, buf, sizeof(buf));
	pn_flow_status_encode(&w, &s);
	write_seed(dir, "hdr", "status", buf, pn_buf_len(&w));
	pn_buf_init_wr(&w, buf, sizeof(buf));
	pn_ctl_encode(&w, PN_CTL_ACL, (const uint8_t *)"acl-bytes", 9);
	pn_ctl_error_encode(&w, PN_FLOW_BAD_ACL, "bad");
	write_seed(dir, "hdr", "ctl", buf, pn_buf_len(&w));
	pn_buf_init_wr(&w, buf, sizeof(buf));
	pn_ctl_encode(&w, PN_CTL_CRED, (const uint8_t *)"\x30\x82\x01\x00cert", 8);
	pn_ctl_encode(&w, PN_CTL_CRED_OK, NULL, 0);
	write_seed(dir, "hdr", "ctl_cred", buf, pn_buf_len(&w));
	{
		size_t n;
		pn_flow_dgram_encode(buf, sizeof(buf), 0x1122334455667788ULL,
				     (const uint8_t *)"hello", 5, &n);
		write_seed(dir, "dgram", "hello", buf, n);
		write_seed(dir, "dgram", "empty", buf, 8);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_roundtrip), cmocka_unit_test(test_hdr_truncated),
		cmocka_unit_test(test_hdr_malformed), cmocka_unit_test(test_status),
		cmocka_unit_test(test_dgram),	      cmocka_unit_test(test_ctl),
		cmocka_unit_test(test_ctl_cred),      cmocka_unit_test(test_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
