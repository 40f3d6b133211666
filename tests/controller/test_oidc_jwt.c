/*
 * ID token verifier (controller/oidc_jwt.c): tokens are made here with
 * GnuTLS keys (RSA 2048, ECDSA P-256, Ed25519) and libjwt (HS256), then
 * every refusal the login depends on is checked one at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jwt.h>

#include "controller/oidc_jwt.h"
#include "core/err.h"

#define ISS "https://idp.example"
#define CID "postern"
#define NOW 1800000000

struct kp {
	gnutls_privkey_t priv;
	gnutls_pubkey_t pub;
	const char *alg, *kid;
};
static struct kp rsa, ec, ed, rsa_other;

static void b64(const uint8_t *p, size_t n, char *out, size_t sz)
{
	pn_oidc_b64url_encode(p, n, out, sz);
}

static void b64d(const gnutls_datum_t *d, char *out, size_t sz)
{
	b64(d->data, d->size, out, sz);
}

static void gen(struct kp *k, gnutls_pk_algorithm_t pk, unsigned bits, const char *alg,
		const char *kid)
{
	assert_int_equal(gnutls_privkey_init(&k->priv), 0);
	assert_int_equal(gnutls_privkey_generate(k->priv, pk, bits, 0), 0);
	assert_int_equal(gnutls_pubkey_init(&k->pub), 0);
	assert_int_equal(gnutls_pubkey_import_privkey(k->pub, k->priv, 0, 0), 0);
	k->alg = alg;
	k->kid = kid;
}

/* The JWK of a key, as a provider would publish it. */
static json_t *jwk(const struct kp *k)
{
	gnutls_datum_t a = {0}, b = {0};
	gnutls_ecc_curve_t curve;
	char x[2048], y[2048];
	json_t *j;

	if (!strcmp(k->alg, "RS256")) {
		assert_int_equal(
		    gnutls_pubkey_export_rsa_raw2(k->pub, &a, &b, GNUTLS_EXPORT_FLAG_NO_LZ), 0);
		b64d(&a, x, sizeof(x));
		b64d(&b, y, sizeof(y));
		j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", k->kid, "use", "sig",
			      "n", x, "e", y);
	} else if (!strcmp(k->alg, "ES256")) {
		assert_int_equal(
		    gnutls_pubkey_export_ecc_raw2(k->pub, &curve, &a, &b, GNUTLS_EXPORT_FLAG_NO_LZ),
		    0);
		b64d(&a, x, sizeof(x));
		b64d(&b, y, sizeof(y));
		j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "kid", k->kid, "crv", "P-256",
			      "x", x, "y", y);
	} else {
		assert_int_equal(gnutls_pubkey_export_ecc_raw2(k->pub, &curve, &a, NULL, 0), 0);
		b64d(&a, x, sizeof(x));
		j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "OKP", "kid", k->kid, "crv",
			      "Ed25519", "x", x, "alg", "EdDSA");
	}
	gnutls_free(a.data);
	gnutls_free(b.data);
	return j;
}

static json_t *jwks(void)
{
	return json_pack("{s:[o,o,o]}", "keys", jwk(&rsa), jwk(&ec), jwk(&ed));
}

/* Sign header.payload with k the way JWS wants it (ES256: raw r||s). */
static char *sign(const struct kp *k, const json_t *hdr, const json_t *claims)
{
	char *h = json_dumps(hdr, JSON_COMPACT), *p = json_dumps(claims, JSON_COMPACT);
	char hb[4096], pb[8192], sb[1024], *out;
	gnutls_datum_t data, sig = {0};
	gnutls_sign_algorithm_t sa;

	b64((const uint8_t *)h, strlen(h), hb, sizeof(hb));
	b64((const uint8_t *)p, strlen(p), pb, sizeof(pb));
	assert_true(asprintf(&out, "%s.%s", hb, pb) > 0);
	data.data = (unsigned char *)out;
	data.size = (unsigned)strlen(out);
	sa = !strcmp(k->alg, "RS256")	? GNUTLS_SIGN_RSA_SHA256
	     : !strcmp(k->alg, "ES256") ? GNUTLS_SIGN_ECDSA_SHA256
					: GNUTLS_SIGN_EDDSA_ED25519;
	assert_int_equal(gnutls_privkey_sign_data2(k->priv, sa, 0, &data, &sig), 0);
	if (!strcmp(k->alg, "ES256")) {
		gnutls_datum_t r, s;
		uint8_t raw[64] = {0};

		assert_int_equal(gnutls_decode_rs_value(&sig, &r, &s), 0);
		unsigned ro = 0, so = 0;

		/* strip DER's leading zero, left-pad to 32 bytes */
		while (r.size - ro > 32 && r.data[ro] == 0)
			ro++;
		while (s.size - so > 32 && s.data[so] == 0)
			so++;
		memcpy(raw + 32 - (r.size - ro), r.data + ro, r.size - ro);
		memcpy(raw + 64 - (s.size - so), s.data + so, s.size - so);
		b64(raw, 64, sb, sizeof(sb));
		gnutls_free(r.data);
		gnutls_free(s.data);
	} else {
		b64(sig.data, sig.size, sb, sizeof(sb));
	}
	gnutls_free(sig.data);
	free(out);
	assert_true(asprintf(&out, "%s.%s.%s", hb, pb, sb) > 0);
	free(h);
	free(p);
	return out;
}

static json_t *claims(void)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:[s,s]}", "iss", ISS, "sub", "alice-1",
			 "aud", CID, "exp", (json_int_t)NOW + 300, "iat", (json_int_t)NOW - 5,
			 "nonce", "n-123", "email", "alice@example.com", "name", "Alice", "groups",
			 "eng", "staff");
}

static char *tok(const struct kp *k, json_t *c)
{
	json_t *h = json_pack("{s:s,s:s,s:s}", "alg", k->alg, "kid", k->kid, "typ", "JWT");
	char *t = sign(k, h, c);

	json_decref(h);
	json_decref(c);
	return t;
}

static int verify(const char *t, const char *nonce, struct pn_oidc_claims *out)
{
	struct pn_oidc_expect e = {
	    .issuer = ISS, .client_id = CID, .nonce = nonce, .groups_claim = "groups", .now = NOW};
	json_t *ks = jwks();
	int rc = pn_oidc_jwt_verify(t, ks, &e, out);

	json_decref(ks);
	return rc;
}

static int verify_claims(const struct kp *k, json_t *c)
{
	struct pn_oidc_claims out;
	char *t = tok(k, c);
	int rc = verify(t, "n-123", &out);

	free(t);
	return rc;
}

static void t_good(void **st)
{
	const struct kp *ks[] = {&rsa, &ec, &ed};

	for (size_t i = 0; i < 3; i++) {
		struct pn_oidc_claims out;
		char *t = tok(ks[i], claims());

		assert_int_equal(verify(t, "n-123", &out), 0);
		assert_string_equal(out.sub, "alice-1");
		assert_string_equal(out.email, "alice@example.com");
		assert_string_equal(out.alg, ks[i]->alg);
		assert_int_equal(out.ngroups, 2);
		assert_string_equal(out.groups[1], "staff");
		/* signature stripped */
		{
			char *dot = strrchr(t, '.'), keep = dot[1];

			dot[1] = '\0';
			assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_SIG);
			dot[1] = keep;
		}
		/* any bit of the signature flipped */
		t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
		assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_SIG);
		free(t);
	}
}

static void t_alg_none_and_hmac(void **st)
{
	struct pn_oidc_claims out;
	json_t *cl = claims();
	char hb[256], pb[2048], *t, *c = json_dumps(cl, JSON_COMPACT);
	const char *none = "{\"alg\":\"none\",\"kid\":\"rsa1\"}";
	gnutls_datum_t pem = {0};
	jwt_t *j = NULL;

	b64((const uint8_t *)none, strlen(none), hb, sizeof(hb));
	b64((const uint8_t *)c, strlen(c), pb, sizeof(pb));
	assert_true(asprintf(&t, "%s.%s.", hb, pb) > 0);
	assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_ALG); /* empty signature */
	free(t);
	assert_true(asprintf(&t, "%s.%s.AAAA", hb, pb) > 0);
	assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_ALG);
	free(t);
	free(c);
	json_decref(cl);

	/* HS256 with the RSA public key (PEM, as published) as the secret */
	assert_int_equal(gnutls_pubkey_export2(rsa.pub, GNUTLS_X509_FMT_PEM, &pem), 0);
	assert_int_equal(jwt_new(&j), 0);
	jwt_add_header(j, "kid", "rsa1");
	jwt_add_grant(j, "iss", ISS);
	jwt_add_grant(j, "aud", CID);
	jwt_add_grant(j, "sub", "mallory");
	jwt_add_grant(j, "nonce", "n-123");
	jwt_add_grant_int(j, "exp", NOW + 300);
	jwt_add_grant_int(j, "iat", NOW);
	assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256, pem.data, (int)pem.size), 0);
	t = jwt_encode_str(j);
	assert_non_null(t);
	assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_ALG);
	free(t);
	jwt_free(j);
	gnutls_free(pem.data);
}

static void t_alg_from_key(void **st)
{
	struct pn_oidc_claims out;
	/* An ES256 token that names the RSA key's kid: the key decides. */
	struct kp fake = ec;
	char *t;

	fake.kid = "rsa1";
	t = tok(&fake, claims());
	assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_ALG);
	free(t);
}

static void t_unknown_kid_and_other_provider(void **st)
{
	struct pn_oidc_claims out;
	struct kp k = rsa_other;
	char *t = tok(&k, claims());

	assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_KID);
	free(t);
	/* another provider's key under a kid we know: signature fails */
	k.kid = "rsa1";
	t = tok(&k, claims());
	assert_int_equal(verify(t, "n-123", &out), PN_E_OIDC_SIG);
	free(t);
}

static void t_claims(void **st)
{
	json_t *c;

	c = claims(), json_object_set_new(c, "iss", json_string("https://evil.example"));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_ISS);
	c = claims(), json_object_set_new(c, "aud", json_string("someone-else"));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_AUD);
	c = claims(), json_object_set_new(c, "aud", json_pack("[s,s]", "x", CID));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_AUD); /* no azp */
	json_object_set_new(c = claims(), "aud", json_pack("[s,s]", "x", CID));
	json_object_set_new(c, "azp", json_string(CID));
	assert_int_equal(verify_claims(&rsa, c), 0);
	c = claims(), json_object_set_new(c, "azp", json_string("x"));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_AUD);
	c = claims(), json_object_set_new(c, "exp", json_integer(NOW - PN_OIDC_SKEW_S - 1));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_EXPIRED);
	c = claims(), json_object_set_new(c, "exp", json_integer(NOW - 10)); /* within skew */
	assert_int_equal(verify_claims(&rsa, c), 0);
	c = claims(), json_object_set_new(c, "iat", json_integer(NOW - PN_OIDC_IAT_MAX_AGE_S - 1));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_EXPIRED);
	c = claims(), json_object_set_new(c, "nbf", json_integer(NOW + 3600));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_NBF);
	c = claims(), json_object_set_new(c, "iat", json_integer(NOW + 3600));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_NBF);
	c = claims(), json_object_set_new(c, "nonce", json_string("n-124"));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_NONCE);
	c = claims(), json_object_del(c, "nonce");
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_NONCE);
	c = claims(), json_object_del(c, "sub");
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_CLAIMS);
	c = claims(), json_object_del(c, "exp");
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_CLAIMS);
	c = claims(), json_object_set_new(c, "exp", json_string("soon"));
	assert_int_equal(verify_claims(&rsa, c), PN_E_OIDC_CLAIMS);
}

static void t_malformed(void **st)
{
	static const char *bad[] = {"",		  ".",	  "..",	    "a.b",
				    "a.b.c.d.e",  "a..c", "!!.b.c", "eyJhbGciOiJSUzI1NiJ9.e30",
				    "e30.e30.e30"};
	struct pn_oidc_claims out;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = verify(bad[i], NULL, &out);

		assert_true(rc == PN_E_OIDC_TOKEN || rc == PN_E_OIDC_ALG);
	}
}

static void t_b64url(void **st)
{
	uint8_t *o = NULL;
	size_t n = 0;
	char s[16];

	assert_int_equal(pn_oidc_b64url_encode((const uint8_t *)"\xfb\xff", 2, s, sizeof(s)), 3);
	assert_string_equal(s, "-_8");
	assert_int_equal(pn_oidc_b64url_decode("-_8", 3, &o, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(o, "\xfb\xff", 2);
	free(o);
	assert_int_equal(pn_oidc_b64url_decode("+/8", 3, &o, &n), PN_E_MALFORMED);
	assert_int_equal(pn_oidc_b64url_decode("-_8=", 4, &o, &n), PN_E_MALFORMED);
	assert_int_equal(pn_oidc_b64url_decode("A", 1, &o, &n), PN_E_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_good),	      cmocka_unit_test(t_alg_none_and_hmac),
	    cmocka_unit_test(t_alg_from_key), cmocka_unit_test(t_unknown_kid_and_other_provider),
	    cmocka_unit_test(t_claims),	      cmocka_unit_test(t_malformed),
	    cmocka_unit_test(t_b64url),
	};
	int rc;

	gnutls_global_init();
	gen(&rsa, GNUTLS_PK_RSA, 2048, "RS256", "rsa1");
	gen(&rsa_other, GNUTLS_PK_RSA, 2048, "RS256", "rsa-other");
	gen(&ec, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), "ES256", "ec1");
	gen(&ed, GNUTLS_PK_EDDSA_ED25519, 256, "EdDSA", "ed1");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	gnutls_privkey_deinit(rsa.priv), gnutls_pubkey_deinit(rsa.pub);
	gnutls_privkey_deinit(rsa_other.priv), gnutls_pubkey_deinit(rsa_other.pub);
	gnutls_privkey_deinit(ec.priv), gnutls_pubkey_deinit(ec.pub);
	gnutls_privkey_deinit(ed.priv), gnutls_pubkey_deinit(ed.pub);
	gnutls_global_deinit();
	return rc;
}
