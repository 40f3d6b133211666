/* Postern certificate extension codec (format: ext.h). */
#include <errno.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>

#include "core/buf.h"
#include "core/err.h"
#include "trust/ext.h"

/* Bytes allowed in names/users/groups: no NUL, no ASCII control chars. */
static int str_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int pn_cred_ext_check(const struct pn_cred_info *info)
{
	size_t n;

	if (info->type != PN_CRED_CLIENT && info->type != PN_CRED_CONNECTOR &&
	    info->type != PN_CRED_RELAY)
		return PN_E_INVAL;
	n = strnlen(info->name, sizeof(info->name));
	if (n == 0 || n > PN_NAME_MAX || !str_ok(info->name, n))
		return PN_E_INVAL;
	n = strnlen(info->user, sizeof(info->user));
	if (n > PN_USER_MAX || !str_ok(info->user, n))
		return PN_E_INVAL;
	if (info->ngroups > PN_GROUPS_MAX)
		return PN_E_INVAL;
	/* User and groups describe a person: only client devices carry them. */
	if (info->type != PN_CRED_CLIENT && (n != 0 || info->ngroups != 0))
		return PN_E_INVAL;
	for (unsigned i = 0; i < info->ngroups; i++) {
		n = strnlen(info->groups[i], sizeof(info->groups[i]));
		if (n == 0 || n > PN_GROUP_MAX || !str_ok(info->groups[i], n))
			return PN_E_INVAL;
	}
	return 0;
}

int pn_cred_ext_encode(const struct pn_cred_info *info, uint8_t *out, size_t cap, size_t *outlen)
{
	struct pn_buf b;
	int r;

	r = pn_cred_ext_check(info);
	if (r < 0)
		return r;
	pn_buf_init_wr(&b, out, cap);
	if ((r = pn_buf_put_u8(&b, PN_CRED_EXT_VERSION)) < 0 ||
	    (r = pn_buf_put_u8(&b, (uint8_t)info->type)) < 0 ||
	    (r = pn_buf_put_bytes(&b, info->id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_put_u64(&b, info->policy_version)) < 0 ||
	    (r = pn_buf_put_str8(&b, info->name)) < 0 ||
	    (r = pn_buf_put_str8(&b, info->user)) < 0 ||
	    (r = pn_buf_put_u8(&b, (uint8_t)info->ngroups)) < 0)
		return r;
	for (unsigned i = 0; i < info->ngroups; i++)
		if ((r = pn_buf_put_str8(&b, info->groups[i])) < 0)
			return r;
	*outlen = pn_buf_len(&b);
	return 0;
}

/* A u8-length string into out (outsz >= max + 1), min..max bytes. */
static int get_str(struct pn_buf *b, char *out, size_t max, size_t min)
{
	const uint8_t *p;
	size_t n;
	int r;

	/* The length byte is checked against this field's limit before use. */
	r = pn_buf_get_lv8(b, max, &p, &n);
	if (r < 0)
		return r;
	if (n < min || !str_ok((const char *)p, n))
		return PN_E_MALFORMED;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int pn_cred_ext_decode(const uint8_t *p, size_t len, struct pn_cred_info *info)
{
	struct pn_buf b;
	uint8_t ver, type, ng;
	int r;

	/* The whole record has a known upper bound. */
	if (len > PN_CRED_EXT_MAX)
		return PN_E_TOOBIG;
	pn_buf_init_ro(&b, p, len);
	if ((r = pn_buf_get_u8(&b, &ver)) < 0)
		return r;
	if (ver != PN_CRED_EXT_VERSION)
		return PN_E_UNSUPPORTED;
	if ((r = pn_buf_get_u8(&b, &type)) < 0)
		return r;
	if (type != PN_CRED_CLIENT && type != PN_CRED_CONNECTOR && type != PN_CRED_RELAY)
		return PN_E_MALFORMED;
	info->type = (enum pn_cred_type)type;
	if ((r = pn_buf_get_bytes(&b, info->id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_get_u64(&b, &info->policy_version)) < 0 ||
	    (r = get_str(&b, info->name, PN_NAME_MAX, 1)) < 0 ||
	    (r = get_str(&b, info->user, PN_USER_MAX, 0)) < 0 || (r = pn_buf_get_u8(&b, &ng)) < 0)
		return r;
	/* Group count bounded by the fixed array it fills. */
	if (ng > PN_GROUPS_MAX)
		return PN_E_TOOBIG;
	if (type != PN_CRED_CLIENT && (info->user[0] || ng))
		return PN_E_MALFORMED;
	info->ngroups = ng;
	for (unsigned i = 0; i < ng; i++)
		if ((r = get_str(&b, info->groups[i], PN_GROUP_MAX, 1)) < 0)
			return r;
	return pn_buf_expect_end(&b);
}

int pn_cred_ext_decode_der(const uint8_t *der, size_t len, struct pn_cred_info *info)
{
	gnutls_datum_t in, raw = {NULL, 0};
	int r;

	/* DER overhead is a few bytes: anything larger cannot be ours. */
	if (len > PN_CRED_EXT_MAX + 8)
		return PN_E_TOOBIG;
	in.data = (unsigned char *)(uintptr_t)der;
	in.size = (unsigned)len;
	/* extnValue is a DER OCTET STRING; GnuTLS' SubjectKeyIdentifier codec
	 * is exactly "OCTET STRING", so we reuse it instead of hand-written DER. */
	r = gnutls_x509_ext_import_subject_key_id(&in, &raw);
	if (r == GNUTLS_E_MEMORY_ERROR)
		return -ENOMEM;
	if (r < 0)
		return PN_E_MALFORMED;
	r = pn_cred_ext_decode(raw.data, raw.size, info);
	gnutls_free(raw.data);
	return r;
}
