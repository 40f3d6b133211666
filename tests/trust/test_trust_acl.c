/* Destinations, access-list codec/signature/tampering, holder binding, version gate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "trust/acl.h"
#include "trust/acl_wire.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/dest.h"
#include "trust/key.h"

#define NOW 1800000000ull

static int dparse(const char *s, struct pn_dest *d)
{
	return pn_dest_parse(s, strlen(s), d);
}

static int matches(const char *pattern, const char *dest)
{
	struct pn_dest_pattern p;
	struct pn_dest d;

	assert_int_equal(pn_dest_pattern_parse(pattern, &p), 0);
	if (dparse(dest, &d) < 0)
		return -1;
	return pn_dest_match(&p, &d);
}

static void test_name_normalisation(void **state)
{
	struct pn_dest d;
	char big[300];

	(void)state;
	assert_int_equal(dparse("DB.Corp.Example.", &d), 0);
	assert_int_equal(d.kind, PN_DEST_NAME);
	assert_string_equal(d.name, "db.corp.example");
	assert_int_equal(d.name_len, 15);
	assert_int_equal(dparse("a_b-c.x", &d), 0);
	assert_int_equal(dparse("xn--bcher-kva.example", &d), 0); /* A-label accepted */
	/* refused */
	const char *bad[] = {"",
			     ".",
			     "..",
			     "a..b",
			     ".a",
			     "a..",
			     "a b.c",
			     "a*.c",
			     "*.c",
			     "a%eth0",
			     "b\xc3\xbc"
			     "cher.example" /* U-label */,
			     "a/b",
			     "a:b.c",
			     "10.1",
			     "1.2.3.4.",
			     "a.123",
			     "a.0x1f",
			     "host.0x",
			     NULL};
	for (int i = 0; bad[i]; i++) {
		assert_int_equal(dparse(bad[i], &d), PN_E_BAD_NAME);
		assert_int_equal(d.kind, 0);
	}
	assert_int_equal(pn_dest_parse("a\0b", 3, &d), PN_E_BAD_NAME);
	/* a numeric label elsewhere is fine; only the last one is special */
	assert_int_equal(dparse("10.x.example", &d), 0);
	assert_int_equal(dparse("a.0xg", &d), 0);
	/* label and name limits */
	memset(big, 'a', 63);
	strcpy(big + 63, ".x");
	assert_int_equal(dparse(big, &d), 0);
	memset(big, 'a', 64);
	strcpy(big + 64, ".x");
	assert_int_equal(dparse(big, &d), PN_E_BAD_NAME);
	/* 253 bytes: 63.63.63.61 */
	memset(big, 'a', 253);
	big[63] = big[127] = big[191] = '.';
	big[253] = '\0';
	assert_int_equal(dparse(big, &d), 0);
	big[253] = '.';
	big[254] = '\0';
	assert_int_equal(dparse(big, &d), 0); /* trailing dot does not count */
	big[253] = 'a';
	assert_int_equal(dparse(big, &d), PN_E_BAD_NAME);
}

static void test_addresses(void **state)
{
	struct pn_dest d;
	char out[64];

	(void)state;
	assert_int_equal(dparse("10.1.2.3", &d), 0);
	assert_int_equal(d.kind, PN_DEST_IP4);
	assert_int_equal(dparse("::ffff:10.1.2.3", &d), 0);
	assert_int_equal(d.kind, PN_DEST_IP4); /* mapped -> IPv4 */
	assert_int_equal(pn_dest_format(&d, out, sizeof(out)), 0);
	assert_string_equal(out, "10.1.2.3");
	assert_int_equal(dparse("2001:DB8::1", &d), 0);
	assert_int_equal(d.kind, PN_DEST_IP6);
	assert_int_equal(dparse("fe80::1%eth0", &d), PN_E_BAD_NAME);
	assert_int_equal(dparse("[::1]", &d), PN_E_BAD_NAME);
	/* an address is never matched as a name and vice versa */
	assert_int_equal(matches("10.1.2.3", "10.1.2.3"), 1);
	assert_int_equal(matches("10.0.0.0/8", "10.255.0.1"), 1);
	assert_int_equal(matches("10.0.0.0/8", "11.0.0.1"), 0);
	assert_int_equal(matches("10.0.0.0/8", "::ffff:10.9.9.9"), 1);
	assert_int_equal(matches("0.0.0.0/0", "2001:db8::1"), 0);
	assert_int_equal(matches("::/0", "10.0.0.1"), 0);
	assert_int_equal(matches("::/0", "2001:db8::1"), 1);
	assert_int_equal(matches("2001:db8::/33", "2001:db8:7fff::1"), 1);
	assert_int_equal(matches("2001:db8::/33", "2001:db8:8000::1"), 0);
	assert_int_equal(matches("10.1.2.0/31", "10.1.2.1"), 1);
	assert_int_equal(matches("10.1.2.0/31", "10.1.2.2"), 0);
	assert_int_equal(matches("fd00::1", "fd00::1"), 1);
	assert_int_equal(matches("fd00::1", "fd00::2"), 0);
	assert_int_equal(matches("corp.example", "10.0.0.1"), 0);
}

static void test_patterns(void **state)
{
	struct pn_dest_pattern p;
	char out[300];

	(void)state;
	/* exact */
	assert_int_equal(matches("db.corp.example", "DB.corp.example."), 1);
	assert_int_equal(matches("db.corp.example", "a.db.corp.example"), 0);
	assert_int_equal(matches("db.corp.example", "db.corp.example.evil"), 0);
	/* *. = exactly one label */
	assert_int_equal(matches("*.corp.example", "a.corp.example"), 1);
	assert_int_equal(matches("*.corp.example", "A-1_.corp.example."), 1);
	assert_int_equal(matches("*.corp.example", "corp.example"), 0);
	assert_int_equal(matches("*.corp.example", "a.b.corp.example"), 0);
	assert_int_equal(matches("*.corp.example", "acorp.example"), 0);
	assert_int_equal(matches("*.corp.example", "a.xcorp.example"), 0);
	/* **. = one or more labels */
	assert_int_equal(matches("**.corp.example", "a.corp.example"), 1);
	assert_int_equal(matches("**.corp.example", "a.b.c.corp.example"), 1);
	assert_int_equal(matches("**.corp.example", "corp.example"), 0);
	assert_int_equal(matches("**.corp.example", "a.bcorp.example"), 0);
	/* invalid patterns */
	const char *bad[] = {"*",
			     "**",
			     "*.",
			     "**.",
			     "a*.x",
			     "*a.x",
			     "x.*.y",
			     "***.x",
			     "*.*.x",
			     "10.0.0.1/8" /* host bits */,
			     "10.0.0.0/33",
			     "10.0.0.0/08",
			     "10.0.0.0/",
			     "::/129",
			     "::ffff:10.0.0.0/104" /* write it as IPv4 */,
			     "::ffff:10.0.0.1",
			     "a/8",
			     "*.10",
			     "",
			     NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(pn_dest_pattern_parse(bad[i], &p), PN_E_BAD_NAME);
	/* canonical form round trip */
	const char *good[] = {"*.corp.example", "**.corp.example", "db.x",
			      "10.0.0.0/8",	"10.1.2.3/32",	   "2001:db8::/32",
			      "::/0",		"0.0.0.0/0",	   NULL};
	for (int i = 0; good[i]; i++) {
		assert_int_equal(pn_dest_pattern_parse(good[i], &p), 0);
		assert_int_equal(pn_dest_pattern_check(&p), 0);
		assert_int_equal(pn_dest_pattern_format(&p, out, sizeof(out)), 0);
		assert_string_equal(out, good[i]);
	}
	/* non-canonical structures are caught by the decoder's check */
	assert_int_equal(pn_dest_pattern_parse("db.x", &p), 0);
	p.name[0] = 'D';
	assert_int_equal(pn_dest_pattern_check(&p), PN_E_BAD_NAME);
	assert_int_equal(pn_dest_pattern_parse("10.0.0.0/8", &p), 0);
	p.addr[3] = 1;
	assert_int_equal(pn_dest_pattern_check(&p), PN_E_BAD_NAME);
}

/* --- access lists --- */

struct fixture {
	struct pn_ca *ca, *evil;
	struct pn_anchor *a;
	uint8_t holder[PN_ID_LEN], fpr[PN_FPR_LEN], net[PN_ID_LEN], conn[2][PN_ID_LEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || pn_ca_new(NOW - 1000, &f->ca) < 0 || pn_ca_new(NOW - 1000, &f->evil) < 0 ||
	    pn_anchor_from_ca(f->ca, &f->a) < 0)
		return -1;
	pn_id_random(f->holder);
	pn_id_random(f->net);
	pn_id_random(f->conn[0]);
	pn_id_random(f->conn[1]);
	memset(f->fpr, 0x5a, sizeof(f->fpr));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pn_anchor_free(f->a);
	pn_ca_free(f->ca);
	pn_ca_free(f->evil);
	free(f);
	return 0;
}

static void build_client(struct fixture *f, struct pn_acl *acl, uint64_t version)
{
	uint8_t rid[PN_ID_LEN];

	pn_acl_init(acl, PN_ACL_CLIENT);
	memcpy(acl->holder_id, f->holder, PN_ID_LEN);
	memcpy(acl->holder_fpr, f->fpr, PN_FPR_LEN);
	acl->version = version;
	acl->issued_at = NOW - 10;
	acl->expires_at = NOW + 3600;
	memset(rid, 1, sizeof(rid));
	assert_int_equal(pn_acl_add_text(acl, rid, f->net, "db.corp.example", "tcp", "5432"), 0);
	rid[0] = 2;
	assert_int_equal(
	    pn_acl_add_text(acl, rid, f->net, "**.corp.example", "tcp,udp", "80,443,8000-8100"), 0);
	rid[0] = 3;
	assert_int_equal(pn_acl_add_text(acl, rid, f->net, "10.20.0.0/16", "icmp,tcp", NULL), 0);
	rid[0] = 4;
	assert_int_equal(pn_acl_add_text(acl, rid, f->net, "2001:db8::/48", "all", "*"), 0);
	assert_int_equal(pn_acl_add_network(acl, f->net, (const uint8_t(*)[PN_ID_LEN])f->conn, 2),
			 0);
}

static void test_acl_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct pn_acl acl, out;
	uint8_t *buf = NULL, ca_fpr[PN_FPR_LEN];
	size_t len = 0;

	build_client(f, &acl, 7);
	assert_int_equal(pn_acl_sign(f->ca, &acl, &buf, &len), 0);
	pn_acl_init(&out, PN_ACL_CONNECTOR);
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW, &out), 0);
	assert_int_equal(out.kind, PN_ACL_CLIENT);
	assert_true(out.version == 7);
	assert_int_equal(out.nentries, 4);
	assert_int_equal(out.nnetworks, 1);
	pn_ca_fingerprint(f->ca, ca_fpr);
	assert_memory_equal(out.signer_fpr, ca_fpr, PN_FPR_LEN);
	for (size_t i = 0; i < 4; i++)
		assert_memory_equal(&out.entries[i], &acl.entries[i], sizeof(out.entries[i]));
	assert_memory_equal(&out.networks[0], &acl.networks[0], sizeof(out.networks[0]));
	assert_true(pn_acl_names_connector(&out, f->net, f->conn[1]));
	assert_false(pn_acl_names_connector(&out, f->net, f->holder));
	assert_true(pn_acl_names_connector_any(&out, f->conn[0]));
	assert_false(pn_acl_names_connector_any(&out, f->holder));
	assert_null(pn_acl_network_find(&out, f->holder));
	/* the decoded form re-encodes to identical bytes */
	{
		uint8_t *b2 = NULL;
		size_t l2 = 0;
		assert_int_equal(pn_acl_sign(f->ca, &out, &b2, &l2), 0);
		assert_int_equal(l2, len);
		assert_memory_equal(b2, buf,
				    len - 64); /* Ed25519 is deterministic, but compare the body */
		free(b2);
	}
	/* time: [issued_at, expires_at) widened by the one tolerance on both
	   sides (PN_TRUST_DEFAULT_SKEW, as for credentials) */
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW + 3599 + PN_TRUST_DEFAULT_SKEW, &out),
			 0);
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW + 3600 + PN_TRUST_DEFAULT_SKEW, &out),
			 PN_E_ACL_EXPIRED);
	assert_int_equal(out.nentries, 0); /* left empty on failure ... */
	assert_true(out.issued_at == NOW - 10 && out.expires_at == NOW + 3600); /* but the times */
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW - 10 - PN_TRUST_DEFAULT_SKEW, &out), 0);
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW - 11 - PN_TRUST_DEFAULT_SKEW, &out),
			 PN_E_ACL_NOT_YET_VALID);
	assert_int_equal(out.nentries, 0);
	assert_true(out.issued_at == NOW - 10 && out.expires_at == NOW + 3600);
	/* a list error names the list, not a credential */
	assert_string_equal(pn_strerror(PN_E_ACL_NOT_YET_VALID),
			    "access list not yet valid (issued_at ahead of this clock)");
	free(buf);
	pn_acl_fini(&out);
	pn_acl_fini(&acl);
}

static void test_acl_builder_limits(void **state)
{
	struct fixture *f = *state;
	struct pn_acl acl;
	uint8_t rid[PN_ID_LEN] = {0}, *buf = NULL;
	size_t len;

	pn_acl_init(&acl, PN_ACL_CONNECTOR);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "tcp", "0"), PN_E_INVAL);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "tcp", "65536"), PN_E_INVAL);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "tcp", "9-8"), PN_E_INVAL);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "tcp", "1,"), PN_E_INVAL);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "sctp", NULL), PN_E_INVAL);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "", NULL), PN_E_INVAL);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x..y", "tcp", NULL), PN_E_BAD_NAME);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "x.y", "tcp",
					 "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"),
			 PN_E_TOOBIG);
	assert_int_equal(pn_acl_add_network(&acl, f->net, (const uint8_t(*)[PN_ID_LEN])f->conn, 1),
			 PN_E_INVAL); /* connector lists name no connectors */
	for (unsigned i = 0; i < PN_ACL_MAX_ENTRIES; i++)
		assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "10.0.0.0/8", "tcp", "1-65535"),
				 0);
	assert_int_equal(pn_acl_add_text(&acl, rid, NULL, "10.0.0.0/8", "tcp", NULL), PN_E_TOOBIG);
	acl.issued_at = NOW;
	acl.expires_at = NOW;
	assert_int_equal(pn_acl_sign(f->ca, &acl, &buf, &len), PN_E_INVAL); /* empty window */
	acl.expires_at = NOW + 1;
	assert_int_equal(pn_acl_sign(f->ca, &acl, &buf, &len), 0);
	{
		struct pn_acl out;
		pn_acl_init(&out, PN_ACL_CLIENT);
		assert_int_equal(pn_acl_verify(f->a, buf, len, NOW, &out), 0);
		assert_int_equal(out.nentries, PN_ACL_MAX_ENTRIES);
		pn_acl_fini(&out);
	}
	free(buf);
	pn_acl_fini(&acl);

	pn_acl_init(&acl, PN_ACL_CLIENT);
	assert_int_equal(pn_acl_add_network(&acl, f->net, (const uint8_t(*)[PN_ID_LEN])f->conn, 0),
			 PN_E_INVAL);
	assert_int_equal(pn_acl_add_network(&acl, f->net, (const uint8_t(*)[PN_ID_LEN])f->conn, 1),
			 0);
	assert_int_equal(pn_acl_add_network(&acl, f->net, (const uint8_t(*)[PN_ID_LEN])f->conn, 1),
			 PN_E_INVAL);
	pn_acl_fini(&acl);
}

/* Expected error of a one-bit flip at byte i of a valid signed list. */
static int flip_expect(const uint8_t *buf, size_t len, size_t i, int *any_layout)
{
	size_t signed_len = len - 65;

	*any_layout = 0;
	if (i < 4)
		return PN_E_MALFORMED;
	if (i == 4)
		return PN_E_UNSUPPORTED;
	if (i == 5)
		return (buf[5] == PN_ACL_CLIENT || buf[5] == PN_ACL_CONNECTOR) ? PN_E_SIGNATURE
									       : PN_E_MALFORMED;
	if (i < 10) {
		*any_layout = 1; /* the length field: truncated/unsigned/trailing/too big */
		return 0;
	}
	if (i < 42)
		return PN_E_UNTRUSTED; /* signer pin */
	if (i < signed_len)
		return PN_E_SIGNATURE;
	if (i == signed_len)
		return PN_E_UNSUPPORTED; /* signature algorithm */
	return PN_E_SIGNATURE;
}

static void test_acl_tampering(void **state)
{
	struct fixture *f = *state;
	struct pn_acl acl, out;
	uint8_t *buf = NULL, *b2 = NULL;
	size_t len = 0, l2 = 0, signed_len;

	build_client(f, &acl, 3);
	assert_int_equal(pn_acl_sign(f->ca, &acl, &buf, &len), 0);
	signed_len = len - 65;
	pn_acl_init(&out, PN_ACL_CLIENT);

	/* every bit of every byte */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int any, want, r;
			buf[i] ^= (uint8_t)(1u << bit);
			want = flip_expect(buf, len, i, &any);
			r = pn_acl_verify(f->a, buf, len, NOW, &out);
			if (any)
				assert_true(r == PN_E_TRUNCATED || r == PN_E_MALFORMED ||
					    r == PN_E_UNSIGNED || r == PN_E_TOOBIG);
			else if (r != want) {
				print_error("byte %zu bit %d: got %d want %d\n", i, bit, r, want);
				fail();
			}
			assert_int_equal(out.nentries, 0);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* truncation at every length */
	for (size_t n = 0; n < len; n++) {
		int r = pn_acl_verify(f->a, buf, n, NOW, &out);
		int want = n == signed_len ? PN_E_UNSIGNED : PN_E_TRUNCATED;
		if (r != want) {
			print_error("truncated to %zu: got %d want %d\n", n, r, want);
			fail();
		}
	}
	/* one trailing byte */
	b2 = malloc(len + 1);
	memcpy(b2, buf, len);
	b2[len] = 0;
	assert_int_equal(pn_acl_verify(f->a, b2, len + 1, NOW, &out), PN_E_MALFORMED);
	free(b2);

	/* reordered entries: swap the first two entries' encodings in place is
	 * not size-preserving; instead sign order A, then present order B body
	 * with A's signature. */
	{
		struct pn_acl r2;
		struct pn_acl_entry tmp;
		uint8_t *rb = NULL;
		size_t rl = 0;

		build_client(f, &r2, 3);
		tmp = r2.entries[0];
		r2.entries[0] = r2.entries[2];
		r2.entries[2] = tmp;
		assert_int_equal(pn_acl_sign(f->ca, &r2, &rb, &rl), 0);
		assert_int_equal(pn_acl_verify(f->a, rb, rl, NOW, &out),
				 0); /* validly signed: fine */
		if (rl == len) {
			memcpy(rb + rl - 64, buf + len - 64, 64); /* original order's signature */
			assert_int_equal(pn_acl_verify(f->a, rb, rl, NOW, &out), PN_E_SIGNATURE);
		} else {
			fail_msg("reordered list changed size");
		}
		free(rb);
		pn_acl_fini(&r2);
	}
	/* stripped signature */
	assert_int_equal(pn_acl_verify(f->a, buf, signed_len, NOW, &out), PN_E_UNSIGNED);
	/* signature swapped with another validly signed list of the same size */
	{
		struct pn_acl o2;
		build_client(f, &o2, 4);
		assert_int_equal(pn_acl_sign(f->ca, &o2, &b2, &l2), 0);
		assert_int_equal(l2, len);
		memcpy(b2 + l2 - 64, buf + len - 64, 64);
		assert_int_equal(pn_acl_verify(f->a, b2, l2, NOW, &out), PN_E_SIGNATURE);
		free(b2);
		pn_acl_fini(&o2);
	}
	/* zeroed signature */
	b2 = malloc(len);
	memcpy(b2, buf, len);
	memset(b2 + len - 64, 0, 64);
	assert_int_equal(pn_acl_verify(f->a, b2, len, NOW, &out), PN_E_SIGNATURE);
	free(b2);
	/* signed by another CA: refused by the pin; and with our pin forged in */
	assert_int_equal(pn_acl_sign(f->evil, &acl, &b2, &l2), 0);
	assert_int_equal(pn_acl_verify(f->a, b2, l2, NOW, &out), PN_E_UNTRUSTED);
	memcpy(b2 + 10, buf + 10, PN_FPR_LEN);
	assert_int_equal(pn_acl_verify(f->a, b2, l2, NOW, &out), PN_E_SIGNATURE);
	free(b2);
	/* unknown format version, even if "signed" */
	{
		uint8_t *u = NULL;
		size_t ul = 0;
		uint8_t pin[PN_FPR_LEN];
		pn_ca_fingerprint(f->ca, pin);
		assert_int_equal(pn_acl_encode_unsigned(&acl, pin, &u, &ul), 0);
		u[4] = 2;
		u[ul] = PN_ACL_SIG_ED25519;
		assert_int_equal(pn_ca_sign(f->ca, u, ul, u + ul + 1), 0);
		assert_int_equal(pn_acl_verify(f->a, u, ul + 65, NOW, &out), PN_E_UNSUPPORTED);
		free(u);
	}
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW, &out), 0);
	free(buf);
	pn_acl_fini(&out);
	pn_acl_fini(&acl);
}

/* The decoder refuses signed-but-invalid bodies: the CA's signing of bad
 * content (a bug) must not turn into a bad list. */
static void test_acl_decoder_strict(void **state)
{
	struct fixture *f = *state;
	struct pn_acl acl, out;
	uint8_t pin[PN_FPR_LEN], *u = NULL;
	size_t ul = 0;

	pn_ca_fingerprint(f->ca, pin);
	pn_acl_init(&out, PN_ACL_CLIENT);
	build_client(f, &acl, 1);
	assert_int_equal(pn_acl_encode_unsigned(&acl, pin, &u, &ul), 0);
	assert_int_equal(pn_acl_decode_body(u, ul, &out), 0);
	/* first entry's name "db.corp.example" starts at 114+2+16+16+1+1+1 */
	u[151] = 'D';
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_BAD_NAME);
	u[151] = 'd';
	u[116 + 32] = 0; /* protos = 0 */
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_MALFORMED);
	u[116 + 32] = 8; /* unknown proto bit */
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_MALFORMED);
	u[116 + 32] = PN_PROTO_TCP;
	u[114] = 0x10; /* 4097 entries */
	u[115] = 0x01;
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_TOOBIG);
	u[114] = 0xff; /* more entries than the bytes can hold */
	u[115] = 0xff;
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_TOOBIG);
	u[114] = 0x01;
	u[115] = 0x00; /* 256 entries, bytes for ~4 */
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_TRUNCATED);
	u[114] = 0;
	u[115] = 4;
	assert_int_equal(pn_acl_decode_body(u, ul, &out), 0);
	/* connector lists carry no networks */
	u[5] = PN_ACL_CONNECTOR;
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_MALFORMED);
	u[5] = PN_ACL_CLIENT;
	/* an empty validity window */
	memcpy(u + 106, u + 98, 8);
	assert_int_equal(pn_acl_decode_body(u, ul, &out), PN_E_MALFORMED);
	free(u);
	pn_acl_fini(&acl);
	pn_acl_fini(&out);
}

static void test_holder_binding(void **state)
{
	struct fixture *f = *state;
	struct pn_acl acl;
	struct pn_cred_info h;

	build_client(f, &acl, 1);
	memset(&h, 0, sizeof(h));
	h.type = PN_CRED_CLIENT;
	memcpy(h.id, f->holder, PN_ID_LEN);
	memcpy(h.key_fpr, f->fpr, PN_FPR_LEN);
	assert_int_equal(pn_acl_check_holder(&acl, &h), 0);
	h.key_fpr[31] ^= 1; /* same id, another key: a stolen list */
	assert_int_equal(pn_acl_check_holder(&acl, &h), PN_E_WRONG_HOLDER);
	h.key_fpr[31] ^= 1;
	h.id[0] ^= 1; /* another client's list */
	assert_int_equal(pn_acl_check_holder(&acl, &h), PN_E_WRONG_HOLDER);
	h.id[0] ^= 1;
	h.type = PN_CRED_CONNECTOR;
	assert_int_equal(pn_acl_check_holder(&acl, &h), PN_E_WRONG_TYPE);
	pn_acl_fini(&acl);
}

/* End to end with real credentials: A's list, presented by B (another key
 * and id, validly certified by the same CA), is refused. */
static void test_holder_binding_real_creds(void **state)
{
	struct fixture *f = *state;
	struct pn_cred_info ia, ib, va, vb;
	struct pn_key *ka = NULL, *kb = NULL;
	char *csr = NULL, *pa = NULL, *pb = NULL;
	struct pn_acl acl, out;
	uint8_t *buf = NULL, rid[PN_ID_LEN] = {1};
	size_t n, len;

	memset(&ia, 0, sizeof(ia));
	ia.type = PN_CRED_CLIENT;
	strcpy(ia.name, "a");
	pn_id_random(ia.id);
	ib = ia;
	strcpy(ib.name, "b");
	pn_id_random(ib.id);
	assert_int_equal(pn_key_generate(&ka), 0);
	assert_int_equal(pn_key_generate(&kb), 0);
	assert_int_equal(pn_key_csr_pem(ka, NULL, &csr, &n), 0);
	assert_int_equal(pn_cred_issue(f->ca, csr, &ia, 600, NOW, &pa, NULL), 0);
	free(csr);
	assert_int_equal(pn_key_csr_pem(kb, NULL, &csr, &n), 0);
	assert_int_equal(pn_cred_issue(f->ca, csr, &ib, 600, NOW, &pb, NULL), 0);
	free(csr);
	assert_int_equal(pn_cred_verify(f->a, pa, strlen(pa), PN_CRED_CLIENT, NOW, 60, &va), 0);
	assert_int_equal(pn_cred_verify(f->a, pb, strlen(pb), PN_CRED_CLIENT, NOW, 60, &vb), 0);

	pn_acl_init(&acl, PN_ACL_CLIENT);
	memcpy(acl.holder_id, va.id, PN_ID_LEN);
	memcpy(acl.holder_fpr, va.key_fpr, PN_FPR_LEN);
	acl.issued_at = NOW;
	acl.expires_at = NOW + 60;
	assert_int_equal(pn_acl_add_text(&acl, rid, f->net, "db.corp.example", "tcp", "5432"), 0);
	assert_int_equal(pn_acl_sign(f->ca, &acl, &buf, &len), 0);
	pn_acl_init(&out, PN_ACL_CLIENT);
	assert_int_equal(pn_acl_verify(f->a, buf, len, NOW, &out), 0);
	assert_int_equal(pn_acl_check_holder(&out, &va), 0);
	assert_int_equal(pn_acl_check_holder(&out, &vb), PN_E_WRONG_HOLDER);
	/* B re-enrolled under A's id (same id, B's key) is refused as well */
	memcpy(vb.id, va.id, PN_ID_LEN);
	assert_int_equal(pn_acl_check_holder(&out, &vb), PN_E_WRONG_HOLDER);
	free(buf);
	free(pa);
	free(pb);
	pn_key_free(ka);
	pn_key_free(kb);
	pn_acl_fini(&acl);
	pn_acl_fini(&out);
}

static void test_version_gate(void **state)
{
	struct fixture *f = *state;
	struct pn_acl_gate *g = NULL;
	struct pn_acl a5, a6, other;

	build_client(f, &a5, 5);
	build_client(f, &a6, 6);
	build_client(f, &other, 1);
	other.holder_id[0] ^= 0xff;
	assert_int_equal(pn_acl_gate_new(0, &g), PN_E_INVAL);
	assert_int_equal(pn_acl_gate_new(2, &g), 0);
	assert_int_equal(pn_acl_gate_check(g, &a5), 0);
	assert_int_equal(pn_acl_gate_check(g, &a6), 0);
	assert_int_equal(pn_acl_gate_check(g, &a6), 0); /* equal: accepted */
	assert_int_equal(pn_acl_gate_check(g, &a5), PN_E_STALE_VERSION);
	assert_true(pn_acl_gate_highest(g, PN_ACL_CLIENT, f->holder) == 6);
	assert_true(pn_acl_gate_highest(g, PN_ACL_CONNECTOR, f->holder) ==
		    0);					   /* kinds are separate */
	assert_int_equal(pn_acl_gate_check(g, &other), 0); /* per holder */
	other.holder_id[1] ^= 0xff;
	assert_int_equal(pn_acl_gate_check(g, &other), PN_E_NOSPACE); /* full: fails closed */
	assert_int_equal(pn_acl_gate_check(g, &a5), PN_E_STALE_VERSION);
	pn_acl_gate_free(g);
	/* many holders */
	assert_int_equal(pn_acl_gate_new(10000, &g), 0);
	for (unsigned i = 0; i < 10000; i++) {
		memcpy(other.holder_id, &i, sizeof(i));
		other.version = i + 10;
		assert_int_equal(pn_acl_gate_check(g, &other), 0);
	}
	for (unsigned i = 0; i < 10000; i++) {
		memcpy(other.holder_id, &i, sizeof(i));
		other.version = i + 9;
		assert_int_equal(pn_acl_gate_check(g, &other), PN_E_STALE_VERSION);
	}
	pn_acl_gate_free(g);
	pn_acl_fini(&a5);
	pn_acl_fini(&a6);
	pn_acl_fini(&other);
}

/* "No list at version V" (absent from a complete set) is state too. */
static void test_version_gate_absent(void **state)
{
	struct fixture *f = *state;
	struct pn_acl_gate *g = NULL;
	struct pn_acl a5, a7, a8, other;
	uint8_t present[1][PN_ID_LEN];

	build_client(f, &a5, 5);
	build_client(f, &a7, 7);
	build_client(f, &a8, 8);
	build_client(f, &other, 5);
	other.holder_id[0] ^= 0xff;
	assert_int_equal(pn_acl_gate_new(16, &g), 0);
	assert_int_equal(pn_acl_gate_check(g, &a5), 0);
	/* the set at 7 holds no list for the holder */
	pn_acl_gate_complete(g, PN_ACL_CLIENT, 7, NULL, 0);
	for (int i = 0; i < 3; i++) /* however often */
		assert_int_equal(pn_acl_gate_check(g, &a5), PN_E_STALE_VERSION);
	assert_int_equal(pn_acl_gate_check(g, &a7), PN_E_STALE_VERSION); /* equal: no */
	assert_true(pn_acl_gate_highest(g, PN_ACL_CLIENT, f->holder) == 7);
	/* a holder never seen: the set speaks for it as well */
	assert_int_equal(pn_acl_gate_check(g, &other), PN_E_STALE_VERSION);
	other.version = 7;
	assert_int_equal(pn_acl_gate_check(g, &other), PN_E_STALE_VERSION);
	other.version = 8;
	assert_int_equal(pn_acl_gate_check(g, &other), 0);
	/* kinds are separate */
	assert_true(pn_acl_gate_highest(g, PN_ACL_CONNECTOR, f->holder) == 0);
	/* newer: accepted, and again (same version) */
	assert_int_equal(pn_acl_gate_check(g, &a8), 0);
	assert_int_equal(pn_acl_gate_check(g, &a8), 0);
	/* a late, older set takes nothing away */
	pn_acl_gate_complete(g, PN_ACL_CLIENT, 6, NULL, 0);
	assert_int_equal(pn_acl_gate_check(g, &a8), 0);
	assert_int_equal(pn_acl_gate_check(g, &other), 0);
	/* a set at 9 that holds the holder keeps it; `other` is absent */
	memcpy(present[0], f->holder, PN_ID_LEN);
	pn_acl_gate_complete(g, PN_ACL_CLIENT, 9, (const uint8_t(*)[PN_ID_LEN])present, 1);
	assert_int_equal(pn_acl_gate_check(g, &a8), 0);
	assert_int_equal(pn_acl_gate_check(g, &other), PN_E_STALE_VERSION);
	assert_true(pn_acl_gate_highest(g, PN_ACL_CLIENT, other.holder_id) == 9);
	/* a set at the version of an accepted list, without it: fail closed */
	pn_acl_gate_complete(g, PN_ACL_CLIENT, 8, NULL, 0);
	assert_int_equal(pn_acl_gate_check(g, &a8), PN_E_STALE_VERSION);
	pn_acl_gate_free(g);
	pn_acl_fini(&a5);
	pn_acl_fini(&a7);
	pn_acl_fini(&a8);
	pn_acl_fini(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_normalisation),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_acl_roundtrip),
	    cmocka_unit_test(test_acl_builder_limits),
	    cmocka_unit_test(test_acl_tampering),
	    cmocka_unit_test(test_acl_decoder_strict),
	    cmocka_unit_test(test_holder_binding),
	    cmocka_unit_test(test_holder_binding_real_creds),
	    cmocka_unit_test(test_version_gate),
	    cmocka_unit_test(test_version_gate_absent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
