/* Unit tests: stream frames, UDP messages (DATA/BIND/BIND_OK), id map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "relay/frame.h"
#include "relay/idmap.h"
#include "relay/udpmsg.h"
#include "relay/wshttp.h"

static int roundtrip(const struct pn_relay_msg *in, struct pn_relay_msg *out, uint8_t *store,
		     size_t cap)
{
	struct pn_buf b;
	struct pn_relay_frame f;
	size_t used;
	int r;

	pn_buf_init_wr(&b, store, cap);
	if ((r = pn_relay_msg_encode(in, &b)))
		return r;
	if ((r = pn_relay_frame_next(pn_buf_ptr(&b), pn_buf_len(&b), &f, &used)))
		return r;
	assert_int_equal(used, pn_buf_len(&b));
	return pn_relay_msg_decode(&f, out);
}

static void test_frame_roundtrip(void **state)
{
	static uint8_t store[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
	static uint8_t acl[PN_RELAY_MAX_ACL];
	uint8_t payload[PN_RELAY_MAX_PAYLOAD];
	struct pn_relay_msg m, o;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_OPEN;
	m.tag = 77;
	memset(m.id, 0xab, sizeof(m.id));
	memset(acl, 0x5a, sizeof(acl));
	m.acl = acl;
	m.acl_len = sizeof(acl); /* the largest ACL fits one frame */
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.tag, 77);
	assert_memory_equal(o.id, m.id, sizeof(m.id));
	assert_int_equal(o.acl_len, sizeof(acl));
	assert_memory_equal(o.acl, acl, sizeof(acl));

	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_SESSION;
	memset(m.sid, 1, sizeof(m.sid));
	memset(m.id, 2, sizeof(m.id));
	memset(m.secret, 3, sizeof(m.secret));
	m.idle_ms = 1234;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_memory_equal(o.secret, m.secret, sizeof(m.secret));
	assert_memory_equal(o.sid, m.sid, sizeof(m.sid));
	assert_int_equal(o.idle_ms, 1234);

	m.type = PN_RELAY_F_OPENED;
	m.tag = 9;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.tag, 9);
	assert_memory_equal(o.secret, m.secret, sizeof(m.secret));

	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_ERROR;
	m.tag = 5;
	m.code = PN_E_RELAY_NOT_AUTHORIZED;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.code, PN_E_RELAY_NOT_AUTHORIZED);

	m.type = PN_RELAY_F_CLOSE;
	m.code = PN_E_TIMEOUT;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.code, PN_E_TIMEOUT);

	m.type = PN_RELAY_F_PING;
	m.opaque = 0x0102030405060708ull;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_true(o.opaque == 0x0102030405060708ull);

	m.type = PN_RELAY_F_REGISTERED;
	m.keepalive_ms = 15000;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.keepalive_ms, 15000);

	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_DATA;
	memset(payload, 7, sizeof(payload));
	m.payload = payload;
	m.payload_len = sizeof(payload);
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.payload_len, sizeof(payload));
	m.payload_len = sizeof(payload) + 1;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), PN_E_INVAL);
	m.payload_len = 0;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), PN_E_INVAL);
	m.type = 0x42;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), PN_E_INVAL);

	/* RENEW carries a certificate of 1..PN_RELAY_MAX_CERT bytes. */
	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_RENEW;
	memset(acl, 0x30, PN_RELAY_MAX_CERT);
	m.cert = acl;
	m.cert_len = PN_RELAY_MAX_CERT;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_int_equal(o.cert_len, PN_RELAY_MAX_CERT);
	assert_memory_equal(o.cert, acl, PN_RELAY_MAX_CERT);
	m.cert_len = PN_RELAY_MAX_CERT + 1;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), PN_E_INVAL);
	m.cert_len = 0;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), PN_E_INVAL);
	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_RENEWED;
	m.not_after = 1900000000ull;
	assert_int_equal(roundtrip(&m, &o, store, sizeof(store)), 0);
	assert_true(o.not_after == 1900000000ull);
}

static void test_frame_errors(void **state)
{
	uint8_t b[64] = {0};
	struct pn_relay_frame f;
	struct pn_relay_msg m;
	size_t used = 99;

	(void)state;
	/* Partial header, partial body: need more, nothing used. */
	b[0] = PN_RELAY_F_PING;
	b[2] = 8;
	assert_int_equal(pn_relay_frame_next(b, 2, &f, &used), PN_E_TRUNCATED);
	assert_int_equal(pn_relay_frame_next(b, 10, &f, &used), PN_E_TRUNCATED);
	assert_int_equal(used, 99);
	assert_int_equal(pn_relay_frame_next(b, 11, &f, &used), 0);
	assert_int_equal(used, 11);
	/* Unknown types kill the stream. */
	b[0] = 0;
	assert_int_equal(pn_relay_frame_next(b, 11, &f, &used), PN_E_MALFORMED);
	b[0] = 0xff;
	assert_int_equal(pn_relay_frame_next(b, 11, &f, &used), PN_E_MALFORMED);
	/* Bodies: short, trailing, oversize, empty. */
	f.type = PN_RELAY_F_PING;
	f.body = b;
	f.len = 7;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TRUNCATED);
	f.len = 9;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED);
	f.type = PN_RELAY_F_DATA;
	f.len = PN_RELAY_SID_LEN;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED);
	{
		static uint8_t big[PN_RELAY_SID_LEN + PN_RELAY_MAX_PAYLOAD + 1];
		f.body = big;
		f.len = sizeof(big);
		assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TOOBIG);
	}
	/* OPEN: an ACL length beyond the limit is refused before reading it. */
	memset(b, 0, sizeof(b));
	b[4 + PN_RELAY_ID_LEN] = 0xff;
	b[5 + PN_RELAY_ID_LEN] = 0xff;
	f.type = PN_RELAY_F_OPEN;
	f.body = b;
	f.len = sizeof(b);
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TOOBIG);
	b[4 + PN_RELAY_ID_LEN] = 0;
	b[5 + PN_RELAY_ID_LEN] = 0;
	f.len = 6 + PN_RELAY_ID_LEN;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED); /* empty ACL */
	f.type = PN_RELAY_F_REGISTER;
	f.len = 1;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED);
	/* RENEW: the certificate length is bounded before it is read; empty,
	 * short and trailing bodies are refused; RENEWED is exactly 8 bytes. */
	memset(b, 0, sizeof(b));
	f.type = PN_RELAY_F_RENEW;
	f.body = b;
	pn_store_be16(b, PN_RELAY_MAX_CERT + 1);
	f.len = sizeof(b);
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TOOBIG);
	pn_store_be16(b, 0);
	f.len = 2;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED);
	pn_store_be16(b, 10);
	f.len = 11;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TRUNCATED);
	f.len = 13;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED);
	f.len = 1;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TRUNCATED);
	f.type = PN_RELAY_F_RENEWED;
	f.len = 7;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_TRUNCATED);
	f.len = 9;
	assert_int_equal(pn_relay_msg_decode(&f, &m), PN_E_MALFORMED);
	/* Types after RENEWED are unknown. */
	b[0] = PN_RELAY_F_LAST + 1;
	b[1] = 0;
	b[2] = 0;
	assert_int_equal(pn_relay_frame_next(b, 3, &f, &used), PN_E_MALFORMED);
}

static void test_encode_full_buffer(void **state)
{
	uint8_t small[10];
	struct pn_buf b;
	struct pn_relay_msg m = {.type = PN_RELAY_F_PING};

	(void)state;
	pn_buf_init_wr(&b, small, sizeof(small));
	assert_int_equal(pn_relay_msg_encode(&m, &b), PN_E_NOSPACE);
	assert_int_equal(pn_buf_len(&b), 0); /* all or nothing */
}

static void test_udp_classify(void **state)
{
	uint8_t d[PN_RELAY_MAX_DATAGRAM + 1] = {0};

	(void)state;
	d[0] = PN_RELAY_UDP_DATA;
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_DATA_HDR), PN_E_MALFORMED);
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_DATA_HDR + 1), PN_RELAY_KIND_DATA);
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_MAX_DATAGRAM), PN_RELAY_KIND_DATA);
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_MAX_DATAGRAM + 1), PN_E_TOOBIG);
	d[0] = PN_RELAY_UDP_BIND;
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_BIND_LEN), PN_RELAY_KIND_BIND);
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_BIND_LEN - 1), PN_E_MALFORMED);
	assert_int_equal(pn_relay_udp_classify(d, PN_RELAY_BIND_LEN + 1), PN_E_MALFORMED);
	d[0] = 0x00; /* STUN needs the cookie */
	assert_int_equal(pn_relay_udp_classify(d, 20), PN_E_MALFORMED);
	pn_store_be32(d + 4, PN_STUN_MAGIC);
	assert_int_equal(pn_relay_udp_classify(d, 20), PN_RELAY_KIND_STUN);
	assert_int_equal(pn_relay_udp_classify(d, 19), PN_E_MALFORMED);
	d[0] = 0x55;
	assert_int_equal(pn_relay_udp_classify(d, 20), PN_E_MALFORMED);
	assert_int_equal(pn_relay_udp_classify(d, 0), PN_E_MALFORMED);
}

static void test_bind(void **state)
{
	uint8_t sid[PN_RELAY_SID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8}, secret[PN_RELAY_SECRET_LEN],
		other[PN_RELAY_SECRET_LEN];
	uint8_t b[PN_RELAY_BIND_LEN], ok[PN_RELAY_BIND_OK_LEN], side;
	uint64_t ctr;

	(void)state;
	memset(secret, 0x11, sizeof(secret));
	memset(other, 0x12, sizeof(other));
	pn_relay_bind_encode(b, sid, PN_RELAY_SIDE_CONNECTOR, 42, secret);
	assert_int_equal(pn_relay_udp_classify(b, sizeof(b)), PN_RELAY_KIND_BIND);
	assert_memory_equal(pn_relay_udp_sid(b), sid, sizeof(sid));
	pn_relay_bind_fields(b, &side, &ctr);
	assert_int_equal(side, PN_RELAY_SIDE_CONNECTOR);
	assert_true(ctr == 42);
	assert_int_equal(pn_relay_bind_verify(b, secret), 0);
	assert_int_equal(pn_relay_bind_verify(b, other), PN_E_SIGNATURE);
	/* Every bit of sid, side and counter is covered by the MAC. */
	for (size_t i = 1; i < PN_RELAY_BIND_LEN; i++) {
		b[i] ^= 0x80;
		assert_int_equal(pn_relay_bind_verify(b, secret), PN_E_SIGNATURE);
		b[i] ^= 0x80;
	}
	/* CHALLENGE / CONFIRM: sizes (no amplification), MAC over every bit. */
	{
		uint8_t ch[PN_RELAY_CHALLENGE_LEN], cf[PN_RELAY_CONFIRM_LEN],
		    ck[PN_RELAY_COOKIE_LEN];
		uint8_t ck2[PN_RELAY_COOKIE_LEN], addr[20] = {2, 0, 1, 2, 10, 201, 1, 2};
		const uint8_t *cp;
		assert_true(sizeof(ch) < sizeof(b));
		pn_relay_cookie(secret, sid, 0, 42, addr, sizeof(addr), ck);
		addr[7] = 3; /* another source address, another cookie */
		pn_relay_cookie(secret, sid, 0, 42, addr, sizeof(addr), ck2);
		assert_memory_not_equal(ck, ck2, sizeof(ck));
		pn_relay_challenge_encode(ch, sid, 42, ck);
		assert_int_equal(pn_relay_udp_classify(ch, sizeof(ch)), PN_RELAY_KIND_CHALLENGE);
		assert_true(pn_relay_challenge_counter(ch) == 42);
		assert_memory_equal(pn_relay_challenge_cookie(ch), ck, sizeof(ck));
		pn_relay_confirm_encode(cf, sid, PN_RELAY_SIDE_CLIENT, 42, ck, secret);
		assert_int_equal(pn_relay_udp_classify(cf, sizeof(cf)), PN_RELAY_KIND_CONFIRM);
		assert_int_equal(pn_relay_udp_classify(cf, sizeof(cf) - 1), PN_E_MALFORMED);
		pn_relay_confirm_fields(cf, &side, &ctr, &cp);
		assert_int_equal(side, PN_RELAY_SIDE_CLIENT);
		assert_true(ctr == 42);
		assert_memory_equal(cp, ck, sizeof(ck));
		assert_int_equal(pn_relay_confirm_verify(cf, secret), 0);
		assert_int_equal(pn_relay_confirm_verify(cf, other), PN_E_SIGNATURE);
		for (size_t i = 1; i < PN_RELAY_CONFIRM_LEN; i++) {
			cf[i] ^= 0x04;
			assert_int_equal(pn_relay_confirm_verify(cf, secret), PN_E_SIGNATURE);
			cf[i] ^= 0x04;
		}
		/* A BIND's MAC does not pass as a CONFIRM's (separate labels). */
		assert_int_equal(pn_relay_bind_verify(b, secret), 0);
	}
	pn_relay_bind_ok_encode(ok, sid, 42);
	assert_true(sizeof(ok) < sizeof(b)); /* no amplification */
	assert_int_equal(pn_relay_udp_classify(ok, sizeof(ok)), PN_RELAY_KIND_BIND_OK);
	assert_true(pn_relay_bind_ok_counter(ok) == 42);
}

struct obj {
	uint64_t pad;
	uint8_t key[8];
	int present;
};

static void test_idmap(void **state)
{
	enum { N = 5000 };
	struct obj *o = calloc(N, sizeof(*o));
	struct pn_idmap m;
	size_t pos = 0, seen = 0;
	void *it;

	(void)state;
	assert_non_null(o);
	assert_int_equal(pn_idmap_init(&m, offsetof(struct obj, key), 8, 4), 0);
	for (int i = 0; i < N; i++) {
		uint64_t k = (uint64_t)i * 2654435761u; /* clustered on purpose */
		memcpy(o[i].key, &k, 8);
		assert_int_equal(pn_idmap_put(&m, &o[i]), 0);
		o[i].present = 1;
	}
	assert_int_equal(pn_idmap_count(&m), N);
	/* Delete every third, then check every key against the truth. */
	for (int i = 0; i < N; i += 3) {
		assert_int_equal(pn_idmap_del(&m, &o[i]), 0);
		o[i].present = 0;
	}
	assert_int_equal(pn_idmap_del(&m, &o[0]), PN_E_INVAL);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(pn_idmap_get(&m, o[i].key), o[i].present ? &o[i] : NULL);
	while ((it = pn_idmap_next(&m, &pos)))
		seen++;
	assert_int_equal(seen, pn_idmap_count(&m));
	assert_int_equal(pn_idmap_count(&m), N - (N + 2) / 3);
	/* Deleting while iterating (re-visiting the slot) removes everything. */
	pos = 0;
	while ((it = pn_idmap_next(&m, &pos))) {
		pn_idmap_del(&m, it);
		pos--;
	}
	assert_int_equal(pn_idmap_count(&m), 0);
	assert_null(pn_idmap_get(&m, o[1].key));
	pn_idmap_fini(&m);
	assert_int_equal(pn_idmap_init(&m, 0, 0, 1), PN_E_INVAL);
	free(o);
}

static void test_ws_upgrade(void **state)
{
	/* RFC 6455 §1.3 example key and accept value. */
	const char *req =
	    "GET /postern HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n"
	    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n";
	char acc[PN_WS_ACCEPT_LEN + 1], bad[512];

	(void)state;
	pn_ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", acc);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(pn_ws_parse_request(req, "/postern", acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* Another path, a prefix of the path, a query: refused. */
	assert_int_equal(pn_ws_parse_request(req, "/other", acc), PN_E_MALFORMED);
	assert_int_equal(pn_ws_parse_request(req, "/post", acc), PN_E_MALFORMED);
	/* Each required header missing or wrong: refused. */
	const char *edits[][2] = {
	    {"Upgrade: websocket", "Upgrade: h2c"}, {"keep-alive, Upgrade", "keep-alive"},
	    {"Version: 13", "Version: 8"},	    {"dGhlIHNhbXBsZSBub25jZQ==", "short"},
	    {"GET /postern", "POST /postern"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(req, edits[i][0]);
		assert_non_null(at);
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - req), req, edits[i][1],
			 at + strlen(edits[i][0]));
		assert_int_equal(pn_ws_parse_request(bad, "/postern", acc), PN_E_MALFORMED);
	}
	assert_int_equal(
	    pn_ws_check_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
				 "dGhlIHNhbXBsZSBub25jZQ=="),
	    0);
	assert_int_equal(
	    pn_ws_check_response("HTTP/1.1 101 Switching Protocols\r\n"
				 "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
				 "dGhlIHNhbXBsZSBub25jZQ=="),
	    PN_E_MALFORMED);
	/* A proxy that refuses the upgrade is "unreachable", not malformed. */
	assert_int_equal(
	    pn_ws_check_response("HTTP/1.1 403 Forbidden\r\n\r\n", "dGhlIHNhbXBsZSBub25jZQ=="),
	    PN_E_RELAY_UNREACHABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_roundtrip),
	    cmocka_unit_test(test_frame_errors),
	    cmocka_unit_test(test_encode_full_buffer),
	    cmocka_unit_test(test_udp_classify),
	    cmocka_unit_test(test_bind),
	    cmocka_unit_test(test_ws_upgrade),
	    cmocka_unit_test(test_idmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
