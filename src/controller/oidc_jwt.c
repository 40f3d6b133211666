/*
 * ID token verification: see oidc_jwt.h for the contract.  Order of checks:
 * syntax and size, header (alg allow-list first), key selection by kid,
 * algorithm from the key, signature, then claims.  Nothing from the token
 * is trusted before its signature checked out, except the kid/alg used
 * to pick the key (and those can only narrow the choice).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <nettle/base64.h>

#include "controller/jwt_dl.h"
#include "controller/oidc_jwt.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

enum alg { ALG_NONE_ = 0, ALG_RS256, ALG_ES256, ALG_EDDSA };

static const char *alg_name(enum alg a)
{
	return a == ALG_RS256 ? "RS256" : a == ALG_ES256 ? "ES256" : a == ALG_EDDSA ? "EdDSA" : "";
}

static int b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

size_t pn_oidc_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	struct base64_encode_ctx ctx;
	size_t n;

	if (outsz < BASE64_ENCODE_LENGTH(len) + BASE64_ENCODE_FINAL_LENGTH + 1) {
		if (outsz)
			out[0] = '\0';
		return 0;
	}
	base64url_encode_init(&ctx);
	n = base64_encode_update(&ctx, out, len, in);
	n += base64_encode_final(&ctx, out + n);
	while (n > 0 && out[n - 1] == '=') /* JOSE uses no padding */
		n--;
	out[n] = '\0';
	return n;
}

int pn_oidc_b64url_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
	struct base64_decode_ctx ctx;
	char *padded = NULL;
	uint8_t *buf = NULL;
	size_t plen, n;
	int rc = PN_E_MALFORMED;

	*out = NULL;
	*outlen = 0;
	/* JOSE base64url: no padding, no whitespace; a length of 1 mod 4 can
	 * never be produced by an encoder. */
	if (len % 4 == 1)
		return PN_E_MALFORMED;
	for (size_t i = 0; i < len; i++)
		if (!b64url_char(in[i]))
			return PN_E_MALFORMED;
	plen = len + (4 - len % 4) % 4;
	if (!(padded = malloc(plen + 1)) || !(buf = malloc(BASE64_DECODE_LENGTH(plen) + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(padded, in, len);
	memset(padded + len, '=', plen - len);
	base64url_decode_init(&ctx);
	n = BASE64_DECODE_LENGTH(plen) + 1;
	if (!base64_decode_update(&ctx, &n, buf, plen, padded) || !base64_decode_final(&ctx))
		goto out;
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
out:
	free(padded);
	free(buf);
	return rc;
}

/* Decode one base64url part into a JSON object (duplicate keys refused). */
static int part_json(const char *p, size_t len, json_t **out)
{
	uint8_t *raw = NULL;
	size_t n;
	int rc = pn_oidc_b64url_decode(p, len, &raw, &n);

	*out = NULL;
	if (rc)
		return rc == -ENOMEM ? rc : PN_E_OIDC_TOKEN;
	*out = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return PN_E_OIDC_TOKEN;
	}
	return 0;
}

/* A JWK member decoded from base64url into a datum (heap). */
static int jwk_bytes(const json_t *jwk, const char *k, size_t min, size_t max, gnutls_datum_t *d)
{
	const char *s = json_string_value(json_object_get(jwk, k));
	uint8_t *raw;
	size_t n;

	d->data = NULL;
	d->size = 0;
	if (!s || pn_oidc_b64url_decode(s, strlen(s), &raw, &n))
		return PN_E_OIDC_KEY;
	if (n < min || n > max) {
		free(raw);
		return PN_E_OIDC_KEY;
	}
	d->data = raw;
	d->size = (unsigned)n;
	return 0;
}

/* The algorithm a JWK is for, from its kty/crv (ALG_NONE_ if unusable). */
static enum alg jwk_alg(const json_t *jwk)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *use = json_string_value(json_object_get(jwk, "use"));
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	enum alg a = ALG_NONE_;

	if (!kty || (json_object_get(jwk, "use") && (!use || strcmp(use, "sig"))))
		return ALG_NONE_;
	if (!strcmp(kty, "RSA"))
		a = ALG_RS256;
	else if (!strcmp(kty, "EC") && crv && !strcmp(crv, "P-256"))
		a = ALG_ES256;
	else if (!strcmp(kty, "OKP") && crv && !strcmp(crv, "Ed25519"))
		a = ALG_EDDSA;
	/* A key published for another algorithm (RS384, PS256...) is not ours
	 * to reinterpret. */
	if (a != ALG_NONE_ && json_object_get(jwk, "alg") && (!alg || strcmp(alg, alg_name(a))))
		return ALG_NONE_;
	return a;
}

/* Import a JWK of algorithm a as a GnuTLS public key. */
static int jwk_import(const json_t *jwk, enum alg a, gnutls_pubkey_t *out)
{
	gnutls_datum_t x = {0}, y = {0};
	gnutls_pubkey_t pub = NULL;
	int rc = PN_E_OIDC_KEY;

	if (gnutls_pubkey_init(&pub) < 0)
		return -ENOMEM;
	if (a == ALG_RS256) {
		unsigned bits = 0;

		/* 2048..8192-bit modulus, exponent up to 8 bytes */
		if (jwk_bytes(jwk, "n", 256, 1024, &x) || jwk_bytes(jwk, "e", 1, 8, &y) ||
		    gnutls_pubkey_import_rsa_raw(pub, &x, &y) < 0)
			goto out;
		gnutls_pubkey_get_pk_algorithm(pub, &bits);
		if (bits < 2048)
			goto out;
	} else if (a == ALG_ES256) {
		if (jwk_bytes(jwk, "x", 32, 32, &x) || jwk_bytes(jwk, "y", 32, 32, &y) ||
		    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &x, &y) < 0)
			goto out;
	} else if (a == ALG_EDDSA) {
		if (jwk_bytes(jwk, "x", 32, 32, &x) ||
		    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519, &x, NULL) < 0)
			goto out;
	} else {
		goto out;
	}
	*out = pub;
	pub = NULL;
	rc = 0;
out:
	free(x.data);
	free(y.data);
	gnutls_pubkey_deinit(pub);
	return rc;
}

/*
 * Pick the key: with a kid, the one key carrying it; without, the only
 * key of the token's algorithm.  PN_E_OIDC_KID if none (or ambiguous).
 */
static int select_key(const json_t *jwks, const char *kid, enum alg tok_alg, const json_t **out)
{
	const json_t *keys = json_object_get(jwks, "keys"), *k, *found = NULL;
	size_t i, n = 0;

	if (!json_is_array(keys))
		return PN_E_OIDC_KID;
	json_array_foreach(keys, i, k)
	{
		const char *kk = json_string_value(json_object_get(k, "kid"));

		if (i >= PN_OIDC_JWKS_KEYS_MAX)
			break;
		if (!json_is_object(k))
			continue;
		if (kid ? (kk && !strcmp(kk, kid)) : jwk_alg(k) == tok_alg) {
			found = k;
			n++;
		}
	}
	if (n != 1)
		return PN_E_OIDC_KID;
	*out = found;
	return 0;
}

static int verify_sig(const char *token, size_t signed_len, const char *sig, enum alg a,
		      gnutls_pubkey_t pub)
{
	int rc = PN_E_OIDC_SIG;

	if (a == ALG_RS256 || a == ALG_ES256) {
		/* libjwt verifies with a PEM public key; the algorithm was fixed
		 * by the key above and is checked again on what libjwt saw. */
		gnutls_datum_t pem = {0};
		jwt_t *j = NULL;
		char err[256];

		/* libjwt is loaded by the first such token (jwt_dl.h) */
		if (pn_jwt_load(err, sizeof(err))) {
			PN_LOG_ERROR("oidc", "library_missing", "msg=\"%s\"", err);
			return PN_E_LIBRARY;
		}
		if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem) < 0)
			return PN_E_OIDC_KEY;
		if (jwt_decode(&j, token, pem.data, (int)pem.size) == 0 &&
		    jwt_get_alg(j) == (a == ALG_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256))
			rc = 0;
		jwt_free(j);
		gnutls_free(pem.data);
		return rc;
	}
	if (a == ALG_EDDSA) {
		gnutls_datum_t data = {(unsigned char *)(uintptr_t)token, (unsigned)signed_len};
		gnutls_datum_t s;
		uint8_t *raw = NULL;
		size_t n = 0;

		if (pn_oidc_b64url_decode(sig, strlen(sig), &raw, &n) || n != 64) {
			free(raw);
			return PN_E_OIDC_SIG;
		}
		s.data = raw;
		s.size = (unsigned)n;
		if (gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_EDDSA_ED25519, 0, &data, &s) >= 0)
			rc = 0;
		free(raw);
	}
	return rc;
}

/* A NumericDate claim (integer or real seconds); 1 if present, 0 if absent,
 * PN_E_OIDC_CLAIMS if bad. */
static int num_date(const json_t *claims, const char *k, int64_t *out)
{
	const json_t *v = json_object_get(claims, k);

	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v))
		*out = (int64_t)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1e15)
		*out = (int64_t)json_real_value(v);
	else
		return PN_E_OIDC_CLAIMS;
	return *out > 0 ? 1 : PN_E_OIDC_CLAIMS;
}

static void copy_str(const json_t *claims, const char *k, char *dst, size_t dstsz)
{
	const char *v = json_string_value(json_object_get(claims, k));

	dst[0] = '\0';
	if (v && strlen(v) < dstsz &&
	    !memchr(v, '\0', json_string_length(json_object_get(claims, k))))
		memcpy(dst, v, strlen(v) + 1);
}

static int check_aud(const json_t *claims, const char *client_id)
{
	const json_t *aud = json_object_get(claims, "aud"), *v;
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	size_t i, n = 0;
	int found = 0;

	if (json_is_string(aud)) {
		found = !strcmp(json_string_value(aud), client_id);
		n = 1;
	} else if (json_is_array(aud) && json_array_size(aud) <= PN_OIDC_AUD_MAX) {
		json_array_foreach(aud, i, v)
		{
			if (!json_is_string(v))
				return PN_E_OIDC_AUD;
			found |= !strcmp(json_string_value(v), client_id);
		}
		n = json_array_size(aud);
	}
	if (!found)
		return PN_E_OIDC_AUD;
	/* OIDC Core 3.1.3.7: several audiences need azp; if azp is there it
	 * must be us. */
	if (json_object_get(claims, "azp") && (!azp || strcmp(azp, client_id)))
		return PN_E_OIDC_AUD;
	if (n > 1 && !azp)
		return PN_E_OIDC_AUD;
	return 0;
}

static void take_groups(const json_t *claims, const char *claim, struct pn_oidc_claims *out)
{
	const json_t *g = claim && *claim ? json_object_get(claims, claim) : NULL, *v;
	size_t i;

	out->ngroups = 0;
	if (json_is_string(g)) { /* some providers send a single group as a string */
		copy_str(claims, claim, out->groups[0], sizeof(out->groups[0]));
		out->ngroups = out->groups[0][0] ? 1 : 0;
		return;
	}
	if (!json_is_array(g))
		return;
	json_array_foreach(g, i, v)
	{
		const char *s = json_string_value(v);

		if (out->ngroups >= PN_OIDC_GROUPS_MAX)
			break;
		if (s && *s && strlen(s) < PN_OIDC_GROUP_LEN && strlen(s) == json_string_length(v))
			memcpy(out->groups[out->ngroups++], s, strlen(s) + 1);
	}
}

int pn_oidc_claims_check(const json_t *c, const struct pn_oidc_expect *e,
			 struct pn_oidc_claims *out)
{
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const char *sub = json_string_value(json_object_get(c, "sub"));
	const json_t *nonce = json_object_get(c, "nonce");
	int64_t exp, nbf, iat;
	int rc, has_nbf;

	memset(out, 0, sizeof(*out));
	if (!iss || strcmp(iss, e->issuer))
		return PN_E_OIDC_ISS;
	if ((rc = check_aud(c, e->client_id)))
		return rc;
	if (num_date(c, "exp", &exp) != 1 || num_date(c, "iat", &iat) != 1 ||
	    (has_nbf = num_date(c, "nbf", &nbf)) < 0)
		return PN_E_OIDC_CLAIMS;
	if (exp + PN_OIDC_SKEW_S <= e->now || iat + PN_OIDC_IAT_MAX_AGE_S < e->now)
		return PN_E_OIDC_EXPIRED;
	if ((has_nbf && nbf - PN_OIDC_SKEW_S > e->now) || iat - PN_OIDC_SKEW_S > e->now)
		return PN_E_OIDC_NBF;
	if (e->nonce) {
		const char *nv = json_string_value(nonce);
		size_t nl = strlen(e->nonce);

		if (!nv || json_string_length(nonce) != nl || pn_ct_memcmp(nv, e->nonce, nl))
			return PN_E_OIDC_NONCE;
	}
	if (!sub || !*sub || json_string_length(json_object_get(c, "sub")) >= sizeof(out->sub) ||
	    strlen(sub) != json_string_length(json_object_get(c, "sub")))
		return PN_E_OIDC_CLAIMS;
	if (e->subject && strcmp(sub, e->subject))
		return PN_E_OIDC_CLAIMS;
	memcpy(out->sub, sub, strlen(sub) + 1);
	copy_str(c, "email", out->email, sizeof(out->email));
	copy_str(c, "name", out->name, sizeof(out->name));
	copy_str(c, "preferred_username", out->preferred_username, sizeof(out->preferred_username));
	take_groups(c, e->groups_claim, out);
	out->iat = iat;
	out->exp = exp;
	return 0;
}

int pn_oidc_jwt_verify(const char *token, const json_t *jwks, const struct pn_oidc_expect *e,
		       struct pn_oidc_claims *out)
{
	const char *d1, *d2, *alg, *kid;
	const json_t *jwk = NULL;
	json_t *hdr = NULL, *claims = NULL;
	gnutls_pubkey_t pub = NULL;
	enum alg a, ka;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!token || !e || !e->issuer || !e->client_id)
		return -EINVAL;
	len = strnlen(token, PN_OIDC_TOKEN_MAX + 1);
	if (len > PN_OIDC_TOKEN_MAX)
		return PN_E_OIDC_TOKEN;
	/* Compact JWS: exactly three parts (JWE has five).  An empty
	 * signature (what alg=none carries) is left to the algorithm check so
	 * that case is reported as what it is. */
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || d1 == token || d2 == d1 + 1 || strchr(d2 + 1, '.'))
		return PN_E_OIDC_TOKEN;
	if ((rc = part_json(token, (size_t)(d1 - token), &hdr)))
		goto out;
	alg = json_string_value(json_object_get(hdr, "alg"));
	kid = json_string_value(json_object_get(hdr, "kid"));
	if (!alg) {
		rc = PN_E_OIDC_TOKEN;
		goto out;
	}
	a = !strcmp(alg, "RS256")   ? ALG_RS256
	    : !strcmp(alg, "ES256") ? ALG_ES256
	    : !strcmp(alg, "EdDSA") ? ALG_EDDSA
				    : ALG_NONE_;
	/* "none", HS256/384/512 and everything else end here, before any key
	 * is looked at. */
	if (a == ALG_NONE_ || json_object_get(hdr, "crit")) {
		rc = PN_E_OIDC_ALG;
		goto out;
	}
	if ((json_object_get(hdr, "kid") && (!kid || strlen(kid) >= sizeof(out->kid)))) {
		rc = PN_E_OIDC_TOKEN;
		goto out;
	}
	if ((rc = select_key(jwks, kid, a, &jwk)))
		goto out;
	ka = jwk_alg(jwk);
	if (ka == ALG_NONE_) {
		rc = PN_E_OIDC_KEY;
		goto out;
	}
	if (ka != a) { /* the key decides; a token cannot pick another algorithm */
		rc = PN_E_OIDC_ALG;
		goto out;
	}
	if ((rc = jwk_import(jwk, ka, &pub)))
		goto out;
	if ((rc = verify_sig(token, (size_t)(d2 - token), d2 + 1, ka, pub)))
		goto out;
	if ((rc = part_json(d1 + 1, (size_t)(d2 - d1 - 1), &claims)))
		goto out;
	if ((rc = pn_oidc_claims_check(claims, e, out)))
		goto out;
	snprintf(out->alg, sizeof(out->alg), "%s", alg_name(ka));
	snprintf(out->kid, sizeof(out->kid), "%s", kid ? kid : "");
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	gnutls_pubkey_deinit(pub);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}
