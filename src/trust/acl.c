/* Signed access lists: building, encoding, signing, verifying (format: acl.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/secret.h"
#include "trust/acl.h"
#include "trust/acl_wire.h"

/* Smallest possible encodings, used to bound counts by the bytes present. */
#define ENTRY_MIN_LEN	(2 * PN_ID_LEN + 2 + 2 + 1) /* one-byte name, no ports */
#define NETWORK_MIN_LEN (PN_ID_LEN + 1 + PN_ID_LEN)
#define TRAILER_LEN	(1 + PN_SIG_LEN)

void pn_acl_init(struct pn_acl *acl, enum pn_acl_kind kind)
{
	memset(acl, 0, sizeof(*acl));
	acl->kind = kind;
}

void pn_acl_fini(struct pn_acl *acl)
{
	if (!acl)
		return;
	free(acl->entries);
	free(acl->networks);
	memset(acl, 0, sizeof(*acl));
}

static int valid_kind(unsigned k)
{
	return k == PN_ACL_CLIENT || k == PN_ACL_CONNECTOR;
}

int pn_acl_entry_check(const struct pn_acl_entry *e)
{
	if (e->protos == 0 || (e->protos & ~PN_PROTO_ALL) != 0)
		return PN_E_INVAL;
	if (e->nports > PN_ACL_MAX_PORT_RANGES)
		return PN_E_TOOBIG;
	for (unsigned i = 0; i < e->nports; i++)
		if (e->ports[i].lo == 0 || e->ports[i].lo > e->ports[i].hi)
			return PN_E_INVAL;
	return pn_dest_pattern_check(&e->dest);
}

int pn_acl_add_entry(struct pn_acl *acl, const struct pn_acl_entry *e)
{
	int r = pn_acl_entry_check(e);

	if (r < 0)
		return r;
	if (acl->nentries >= PN_ACL_MAX_ENTRIES)
		return PN_E_TOOBIG;
	if (acl->nentries == acl->cap_entries) {
		size_t cap = acl->cap_entries ? acl->cap_entries * 2 : 8;
		struct pn_acl_entry *n;

		if (cap > PN_ACL_MAX_ENTRIES)
			cap = PN_ACL_MAX_ENTRIES;
		n = realloc(acl->entries, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		acl->entries = n;
		acl->cap_entries = cap;
	}
	acl->entries[acl->nentries] = *e;
	/* Unused port slots are zero so equal lists compare equal. */
	memset(&acl->entries[acl->nentries].ports[e->nports], 0,
	       (PN_ACL_MAX_PORT_RANGES - e->nports) * sizeof(e->ports[0]));
	acl->nentries++;
	return 0;
}

static int parse_u16(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return PN_E_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return PN_E_INVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return PN_E_INVAL;
	*out = (uint16_t)v;
	return 0;
}

/* Walk a comma list, calling fn(item, len, ctx) per non-empty item. */
static int each_item(const char *s, int (*fn)(const char *, size_t, void *), void *ctx)
{
	while (*s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		int r;

		if (n == 0)
			return PN_E_INVAL;
		r = fn(s, n, ctx);
		if (r < 0)
			return r;
		s += n + (c ? 1 : 0);
		if (c && !*s)
			return PN_E_INVAL; /* trailing comma */
	}
	return 0;
}

static int proto_item(const char *s, size_t n, void *ctx)
{
	uint8_t *p = ctx;

	if (n == 3 && memcmp(s, "tcp", 3) == 0)
		*p |= PN_PROTO_TCP;
	else if (n == 3 && memcmp(s, "udp", 3) == 0)
		*p |= PN_PROTO_UDP;
	else if (n == 4 && memcmp(s, "icmp", 4) == 0)
		*p |= PN_PROTO_ICMP;
	else if (n == 3 && memcmp(s, "all", 3) == 0)
		*p |= PN_PROTO_ALL;
	else
		return PN_E_INVAL;
	return 0;
}

static int port_item(const char *s, size_t n, void *ctx)
{
	struct pn_acl_entry *e = ctx;
	const char *dash = memchr(s, '-', n);
	struct pn_port_range pr;
	int r;

	if (e->nports >= PN_ACL_MAX_PORT_RANGES)
		return PN_E_TOOBIG;
	if (dash) {
		if ((r = parse_u16(s, (size_t)(dash - s), &pr.lo)) < 0 ||
		    (r = parse_u16(dash + 1, n - (size_t)(dash - s) - 1, &pr.hi)) < 0)
			return r;
	} else {
		if ((r = parse_u16(s, n, &pr.lo)) < 0)
			return r;
		pr.hi = pr.lo;
	}
	if (pr.lo > pr.hi)
		return PN_E_INVAL;
	e->ports[e->nports++] = pr;
	return 0;
}

int pn_acl_add_text(struct pn_acl *acl, const uint8_t resource_id[PN_ID_LEN],
		    const uint8_t network_id[PN_ID_LEN], const char *dest, const char *protos,
		    const char *ports)
{
	struct pn_acl_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	memcpy(e.resource_id, resource_id, PN_ID_LEN);
	if (network_id)
		memcpy(e.network_id, network_id, PN_ID_LEN);
	r = pn_dest_pattern_parse(dest, &e.dest);
	if (r < 0)
		return r;
	if (!protos || (r = each_item(protos, proto_item, &e.protos)) < 0)
		return r < 0 ? r : PN_E_INVAL;
	if (ports && *ports && strcmp(ports, "*") != 0 && (r = each_item(ports, port_item, &e)) < 0)
		return r;
	return pn_acl_add_entry(acl, &e);
}

const struct pn_acl_network *pn_acl_network_find(const struct pn_acl *acl,
						 const uint8_t network_id[PN_ID_LEN])
{
	for (size_t i = 0; i < acl->nnetworks; i++)
		if (memcmp(acl->networks[i].network_id, network_id, PN_ID_LEN) == 0)
			return &acl->networks[i];
	return NULL;
}

int pn_acl_names_connector(const struct pn_acl *acl, const uint8_t network_id[PN_ID_LEN],
			   const uint8_t connector_id[PN_ID_LEN])
{
	const struct pn_acl_network *n = pn_acl_network_find(acl, network_id);

	if (!n)
		return 0;
	for (unsigned i = 0; i < n->nconnectors; i++)
		if (memcmp(n->connectors[i], connector_id, PN_ID_LEN) == 0)
			return 1;
	return 0;
}

int pn_acl_names_connector_any(const struct pn_acl *acl, const uint8_t connector_id[PN_ID_LEN])
{
	for (size_t i = 0; i < acl->nnetworks; i++)
		for (unsigned j = 0; j < acl->networks[i].nconnectors; j++)
			if (memcmp(acl->networks[i].connectors[j], connector_id, PN_ID_LEN) == 0)
				return 1;
	return 0;
}

int pn_acl_add_network(struct pn_acl *acl, const uint8_t network_id[PN_ID_LEN],
		       const uint8_t (*connectors)[PN_ID_LEN], unsigned nconnectors)
{
	struct pn_acl_network *n;

	if (acl->kind != PN_ACL_CLIENT || nconnectors == 0 || nconnectors > PN_ACL_MAX_CONNECTORS ||
	    pn_acl_network_find(acl, network_id))
		return PN_E_INVAL;
	if (acl->nnetworks >= PN_ACL_MAX_NETWORKS)
		return PN_E_TOOBIG;
	if (acl->nnetworks == acl->cap_networks) {
		size_t cap = acl->cap_networks ? acl->cap_networks * 2 : 4;

		if (cap > PN_ACL_MAX_NETWORKS)
			cap = PN_ACL_MAX_NETWORKS;
		n = realloc(acl->networks, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		acl->networks = n;
		acl->cap_networks = cap;
	}
	n = &acl->networks[acl->nnetworks];
	memset(n, 0, sizeof(*n));
	memcpy(n->network_id, network_id, PN_ID_LEN);
	n->nconnectors = nconnectors;
	memcpy(n->connectors, connectors, (size_t)nconnectors * PN_ID_LEN);
	acl->nnetworks++;
	return 0;
}

static int put_entry(struct pn_buf *b, const struct pn_acl_entry *e)
{
	int r;

	if ((r = pn_buf_put_bytes(b, e->resource_id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_put_bytes(b, e->network_id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_put_u8(b, e->protos)) < 0 || (r = pn_buf_put_u8(b, e->dest.kind)) < 0)
		return r;
	switch (e->dest.kind) {
	case PN_DEST_IP4:
		r = pn_buf_put_bytes(b, e->dest.addr, 4);
		if (r == 0)
			r = pn_buf_put_u8(b, e->dest.prefix);
		break;
	case PN_DEST_IP6:
		r = pn_buf_put_bytes(b, e->dest.addr, 16);
		if (r == 0)
			r = pn_buf_put_u8(b, e->dest.prefix);
		break;
	default: r = pn_buf_put_lv8(b, e->dest.name, e->dest.name_len);
	}
	if (r < 0 || (r = pn_buf_put_u8(b, e->nports)) < 0)
		return r;
	for (unsigned i = 0; i < e->nports; i++)
		if ((r = pn_buf_put_u16(b, e->ports[i].lo)) < 0 ||
		    (r = pn_buf_put_u16(b, e->ports[i].hi)) < 0)
			return r;
	return 0;
}

int pn_acl_encode_unsigned(const struct pn_acl *acl, const uint8_t signer_fpr[PN_FPR_LEN],
			   uint8_t **out, size_t *outlen)
{
	struct pn_buf b;
	uint8_t *o = NULL;
	size_t n;
	int r;

	*out = NULL;
	*outlen = 0;
	if (!valid_kind(acl->kind) || acl->expires_at <= acl->issued_at ||
	    acl->nentries > PN_ACL_MAX_ENTRIES || acl->nnetworks > PN_ACL_MAX_NETWORKS ||
	    (acl->kind == PN_ACL_CONNECTOR && acl->nnetworks != 0))
		return PN_E_INVAL;
	for (size_t i = 0; i < acl->nentries; i++)
		if ((r = pn_acl_entry_check(&acl->entries[i])) < 0)
			return r;
	r = pn_buf_init_dyn(&b, 1024, PN_ACL_MAX_BYTES - TRAILER_LEN);
	if (r < 0)
		return r;
	if ((r = pn_buf_put_bytes(&b, PN_ACL_MAGIC, 4)) < 0 ||
	    (r = pn_buf_put_u8(&b, PN_ACL_FORMAT_VERSION)) < 0 ||
	    (r = pn_buf_put_u8(&b, (uint8_t)acl->kind)) < 0 ||
	    (r = pn_buf_put_u32(&b, 0)) < 0 /* signed_len, patched below */ ||
	    (r = pn_buf_put_bytes(&b, signer_fpr, PN_FPR_LEN)) < 0 ||
	    (r = pn_buf_put_bytes(&b, acl->holder_id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_put_bytes(&b, acl->holder_fpr, PN_FPR_LEN)) < 0 ||
	    (r = pn_buf_put_u64(&b, acl->version)) < 0 ||
	    (r = pn_buf_put_u64(&b, acl->issued_at)) < 0 ||
	    (r = pn_buf_put_u64(&b, acl->expires_at)) < 0 ||
	    (r = pn_buf_put_u16(&b, (uint16_t)acl->nentries)) < 0)
		goto out;
	for (size_t i = 0; i < acl->nentries; i++)
		if ((r = put_entry(&b, &acl->entries[i])) < 0)
			goto out;
	if ((r = pn_buf_put_u16(&b, (uint16_t)acl->nnetworks)) < 0)
		goto out;
	for (size_t i = 0; i < acl->nnetworks; i++) {
		const struct pn_acl_network *nw = &acl->networks[i];

		if (nw->nconnectors == 0 || nw->nconnectors > PN_ACL_MAX_CONNECTORS) {
			r = PN_E_INVAL;
			goto out;
		}
		if ((r = pn_buf_put_bytes(&b, nw->network_id, PN_ID_LEN)) < 0 ||
		    (r = pn_buf_put_u8(&b, (uint8_t)nw->nconnectors)) < 0 ||
		    (r = pn_buf_put_bytes(&b, nw->connectors,
					  (size_t)nw->nconnectors * PN_ID_LEN)) < 0)
			goto out;
	}
	n = pn_buf_len(&b);
	o = malloc(n + TRAILER_LEN);
	if (!o) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(o, pn_buf_ptr(&b), n);
	pn_store_be32(o + 6, (uint32_t)n);
	*out = o;
	*outlen = n;
	r = 0;
out:
	if (r == PN_E_NOSPACE)
		r = PN_E_TOOBIG;
	pn_buf_fini(&b);
	return r;
}

int pn_acl_sign(const struct pn_ca *ca, const struct pn_acl *acl, uint8_t **out, size_t *outlen)
{
	uint8_t fpr[PN_FPR_LEN], *o = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	*outlen = 0;
	pn_ca_fingerprint(ca, fpr);
	r = pn_acl_encode_unsigned(acl, fpr, &o, &n);
	if (r < 0)
		return r;
	/* encode_unsigned left room for the trailer. */
	o[n] = PN_ACL_SIG_ED25519;
	r = pn_ca_sign(ca, o, n, o + n + 1);
	if (r < 0) {
		free(o);
		return r;
	}
	*out = o;
	*outlen = n + TRAILER_LEN;
	return 0;
}

static int get_entry(struct pn_buf *b, struct pn_acl_entry *e)
{
	const uint8_t *p;
	size_t n;
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = pn_buf_get_bytes(b, e->resource_id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_get_bytes(b, e->network_id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_get_u8(b, &e->protos)) < 0 || (r = pn_buf_get_u8(b, &e->dest.kind)) < 0)
		return r;
	switch (e->dest.kind) {
	case PN_DEST_IP4:
		if ((r = pn_buf_get_bytes(b, e->dest.addr, 4)) < 0 ||
		    (r = pn_buf_get_u8(b, &e->dest.prefix)) < 0)
			return r;
		break;
	case PN_DEST_IP6:
		if ((r = pn_buf_get_bytes(b, e->dest.addr, 16)) < 0 ||
		    (r = pn_buf_get_u8(b, &e->dest.prefix)) < 0)
			return r;
		break;
	case PN_DEST_NAME:
	case PN_DEST_WILD1:
	case PN_DEST_WILDN:
		/* Name length bounded by the DNS limit and the name array. */
		if ((r = pn_buf_get_lv8(b, PN_DNS_NAME_MAX, &p, &n)) < 0)
			return r;
		memcpy(e->dest.name, p, n);
		e->dest.name[n] = '\0';
		e->dest.name_len = (uint8_t)n;
		break;
	default: return PN_E_MALFORMED;
	}
	if ((r = pn_buf_get_u8(b, &e->nports)) < 0)
		return r;
	/* Port-range count bounded by the fixed array it fills. */
	if (e->nports > PN_ACL_MAX_PORT_RANGES)
		return PN_E_TOOBIG;
	for (unsigned i = 0; i < e->nports; i++)
		if ((r = pn_buf_get_u16(b, &e->ports[i].lo)) < 0 ||
		    (r = pn_buf_get_u16(b, &e->ports[i].hi)) < 0)
			return r;
	r = pn_acl_entry_check(e);
	if (r == PN_E_INVAL)
		r = PN_E_MALFORMED;
	return r;
}

int pn_acl_decode_body(const uint8_t *p, size_t len, struct pn_acl *acl)
{
	struct pn_buf b;
	uint8_t magic[4], ver, kind;
	uint32_t signed_len;
	uint16_t cnt;
	int r;

	pn_acl_fini(acl);
	/* The whole document is bounded before anything else. */
	if (len > PN_ACL_MAX_BYTES)
		return PN_E_TOOBIG;
	pn_buf_init_ro(&b, p, len);
	if ((r = pn_buf_get_bytes(&b, magic, 4)) < 0)
		return r;
	if (memcmp(magic, PN_ACL_MAGIC, 4) != 0)
		return PN_E_MALFORMED;
	if ((r = pn_buf_get_u8(&b, &ver)) < 0)
		return r;
	if (ver != PN_ACL_FORMAT_VERSION)
		return PN_E_UNSUPPORTED;
	if ((r = pn_buf_get_u8(&b, &kind)) < 0)
		return r;
	if (!valid_kind(kind))
		return PN_E_MALFORMED;
	acl->kind = (enum pn_acl_kind)kind;
	if ((r = pn_buf_get_u32(&b, &signed_len)) < 0)
		return r;
	if (signed_len != len)
		return signed_len > len ? PN_E_TRUNCATED : PN_E_MALFORMED;
	if ((r = pn_buf_get_bytes(&b, acl->signer_fpr, PN_FPR_LEN)) < 0 ||
	    (r = pn_buf_get_bytes(&b, acl->holder_id, PN_ID_LEN)) < 0 ||
	    (r = pn_buf_get_bytes(&b, acl->holder_fpr, PN_FPR_LEN)) < 0 ||
	    (r = pn_buf_get_u64(&b, &acl->version)) < 0 ||
	    (r = pn_buf_get_u64(&b, &acl->issued_at)) < 0 ||
	    (r = pn_buf_get_u64(&b, &acl->expires_at)) < 0 || (r = pn_buf_get_u16(&b, &cnt)) < 0)
		goto out;
	/* Entry count: hard limit, and never more than the bytes could hold
	 * (so a tiny input cannot make us allocate much). */
	if (cnt > PN_ACL_MAX_ENTRIES) {
		r = PN_E_TOOBIG;
		goto out;
	}
	if ((size_t)cnt * ENTRY_MIN_LEN > pn_buf_len(&b)) {
		r = PN_E_TRUNCATED;
		goto out;
	}
	if (cnt) {
		acl->entries = calloc(cnt, sizeof(*acl->entries));
		if (!acl->entries) {
			r = -ENOMEM;
			goto out;
		}
		acl->cap_entries = cnt;
	}
	for (unsigned i = 0; i < cnt; i++) {
		if ((r = get_entry(&b, &acl->entries[i])) < 0)
			goto out;
		acl->nentries++;
	}
	if ((r = pn_buf_get_u16(&b, &cnt)) < 0)
		goto out;
	/* Networks: only client lists have them; same two bounds as entries. */
	if (cnt > PN_ACL_MAX_NETWORKS) {
		r = PN_E_TOOBIG;
		goto out;
	}
	if (cnt && kind != PN_ACL_CLIENT) {
		r = PN_E_MALFORMED;
		goto out;
	}
	if ((size_t)cnt * NETWORK_MIN_LEN > pn_buf_len(&b)) {
		r = PN_E_TRUNCATED;
		goto out;
	}
	if (cnt) {
		acl->networks = calloc(cnt, sizeof(*acl->networks));
		if (!acl->networks) {
			r = -ENOMEM;
			goto out;
		}
		acl->cap_networks = cnt;
	}
	for (unsigned i = 0; i < cnt; i++) {
		struct pn_acl_network *nw = &acl->networks[i];
		uint8_t nc;

		if ((r = pn_buf_get_bytes(&b, nw->network_id, PN_ID_LEN)) < 0 ||
		    (r = pn_buf_get_u8(&b, &nc)) < 0)
			goto out;
		/* Connector count bounded by the fixed array it fills. */
		if (nc == 0 || nc > PN_ACL_MAX_CONNECTORS) {
			r = nc ? PN_E_TOOBIG : PN_E_MALFORMED;
			goto out;
		}
		if ((r = pn_buf_get_bytes(&b, nw->connectors, (size_t)nc * PN_ID_LEN)) < 0)
			goto out;
		nw->nconnectors = nc;
		/* One record per network: a duplicate would have two meanings. */
		if (pn_acl_network_find(acl, nw->network_id)) {
			r = PN_E_MALFORMED;
			goto out;
		}
		acl->nnetworks++;
	}
	if ((r = pn_buf_expect_end(&b)) < 0)
		goto out;
	if (acl->expires_at <= acl->issued_at) {
		r = PN_E_MALFORMED;
		goto out;
	}
	return 0;
out:
	pn_acl_fini(acl);
	return r;
}

int pn_acl_verify(const struct pn_anchor *a, const void *bytes, size_t len, uint64_t now,
		  struct pn_acl *out)
{
	const uint8_t *p = bytes;
	uint8_t fpr[PN_FPR_LEN];
	uint32_t signed_len;
	int r;

	pn_acl_fini(out);
	/* Layout first, in the order a reader meets the fields. */
	if (len > PN_ACL_MAX_BYTES)
		return PN_E_TOOBIG;
	if (len < 4)
		return PN_E_TRUNCATED;
	if (memcmp(p, PN_ACL_MAGIC, 4) != 0)
		return PN_E_MALFORMED;
	if (len < 5)
		return PN_E_TRUNCATED;
	if (p[4] != PN_ACL_FORMAT_VERSION)
		return PN_E_UNSUPPORTED;
	if (len < 6)
		return PN_E_TRUNCATED;
	if (!valid_kind(p[5]))
		return PN_E_MALFORMED;
	if (len < 10)
		return PN_E_TRUNCATED;
	signed_len = pn_load_be32(p + 6);
	/* signed_len covers at least the header and both counts. */
	if (signed_len < PN_ACL_HEADER_LEN + 4)
		return PN_E_MALFORMED;
	if (signed_len > PN_ACL_MAX_BYTES - TRAILER_LEN)
		return PN_E_TOOBIG;
	if (len == signed_len)
		return PN_E_UNSIGNED; /* no unsigned variant exists */
	if (len < signed_len + TRAILER_LEN)
		return PN_E_TRUNCATED;
	if (len > signed_len + TRAILER_LEN)
		return PN_E_MALFORMED; /* trailing bytes */
	if (p[signed_len] != PN_ACL_SIG_ED25519)
		return PN_E_UNSUPPORTED;
	pn_anchor_fingerprint(a, fpr);
	if (memcmp(p + 10, fpr, PN_FPR_LEN) != 0)
		return PN_E_UNTRUSTED;
	if (pn_anchor_verify_sig(a, p, signed_len, p + signed_len + 1) < 0)
		return PN_E_SIGNATURE;
	r = pn_acl_decode_body(p, signed_len, out);
	if (r < 0)
		return r;
	/* the one tolerance of cred.h (issuers backdate issued_at) */
	if (out->issued_at > now + PN_TRUST_DEFAULT_SKEW)
		r = PN_E_ACL_NOT_YET_VALID;
	else if (now >= out->expires_at + PN_TRUST_DEFAULT_SKEW)
		r = PN_E_ACL_EXPIRED;
	else
		return 0;
	{
		/* signed times, kept for the refusal log (both clocks) */
		uint64_t ia = out->issued_at, ea = out->expires_at;
		pn_acl_fini(out);
		out->issued_at = ia;
		out->expires_at = ea;
	}
	return r;
}

int pn_acl_check_holder(const struct pn_acl *acl, const struct pn_cred_info *holder)
{
	int want = acl->kind == PN_ACL_CLIENT	   ? PN_CRED_CLIENT
		   : acl->kind == PN_ACL_CONNECTOR ? PN_CRED_CONNECTOR
						   : -1;

	if (want < 0 || (int)holder->type != want)
		return PN_E_WRONG_TYPE;
	if (memcmp(acl->holder_id, holder->id, PN_ID_LEN) != 0 ||
	    memcmp(acl->holder_fpr, holder->key_fpr, PN_FPR_LEN) != 0)
		return PN_E_WRONG_HOLDER;
	return 0;
}
