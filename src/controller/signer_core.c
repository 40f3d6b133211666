/* The CA signer's checks and signatures (signer_core.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/signer_core.h"
#include "controller/signer_wire.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl_wire.h"
#include "trust/cred.h"

int pn_signer_core_init(struct pn_signer_core *c, const struct pn_ca *ca,
			const struct pn_signer_limits *lim, uint64_t now_ms)
{
	memset(c, 0, sizeof(*c));
	if (!lim->cred_lifetime_max_s || lim->cred_lifetime_max_s > PN_CRED_LIFETIME_MAX ||
	    !lim->acl_lifetime_max_s || !lim->rate_per_s)
		return PN_E_INVAL;
	c->ca = ca;
	c->lim = *lim;
	pn_ca_fingerprint(ca, c->ca_fpr);
	c->tokens_milli = (uint64_t)lim->rate_per_s * 1000;
	c->last_ms = now_ms;
	return 0;
}

/* One token per signature; the bucket holds one second's worth. */
static int rate_take(struct pn_signer_core *c, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)c->lim.rate_per_s * 1000;

	if (now_ms > c->last_ms) {
		uint64_t add = (now_ms - c->last_ms) * c->lim.rate_per_s;

		c->tokens_milli = add >= cap - c->tokens_milli ? cap : c->tokens_milli + add;
		c->last_ms = now_ms;
	}
	if (c->tokens_milli < 1000)
		return PN_E_SIGNER_RATE;
	c->tokens_milli -= 1000;
	return 0;
}

static int sign_cred(struct pn_signer_core *c, const struct pn_signer_req *q, uint64_t now_s,
		     struct pn_signer_resp *s, char **pem, const char **why)
{
	struct pn_cred_info issued;
	int r;

	if (q->lifetime_s < 1 || q->lifetime_s > c->lim.cred_lifetime_max_s) {
		*why = "lifetime";
		return PN_E_SIGNER_REFUSED;
	}
	if (q->info.type != PN_CRED_CLIENT && (q->info.user[0] || q->info.ngroups)) {
		*why = "user_on_non_client";
		return PN_E_SIGNER_REFUSED;
	}
	r = pn_cred_issue_pubkey(c->ca, q->pubkey, &q->info, q->lifetime_s, now_s, pem, &issued);
	if (r < 0) {
		*why = "issue";
		return r;
	}
	memcpy(s->serial, issued.serial, sizeof(s->serial));
	s->not_before = issued.not_before;
	s->not_after = issued.not_after;
	s->pem = *pem;
	s->pem_len = strlen(*pem);
	if (s->pem_len > PN_CRED_PEM_MAX) {
		*why = "pem_size";
		return PN_E_TOOBIG;
	}
	{
		char id[PN_ID_HEX_LEN + 1], fpr[PN_FPR_HEX_LEN + 1], serial[PN_SERIAL_HEX_LEN + 1];

		pn_id_hex(q->info.id, id);
		pn_fpr_hex(issued.key_fpr, fpr);
		pn_cred_serial_hex(&issued, serial);
		PN_LOG_INFO("signer", "signed",
			    "kind=cred seq=%u type=%s id=%s key=%.16s serial=%s not_after=%llu "
			    "policy_version=%llu",
			    q->seq, pn_cred_type_name(q->info.type), id, fpr, serial,
			    (unsigned long long)issued.not_after,
			    (unsigned long long)q->info.policy_version);
	}
	return 0;
}

static int sign_acl(struct pn_signer_core *c, const struct pn_signer_req *q, uint64_t now_s,
		    struct pn_signer_resp *s, const char **why)
{
	struct pn_acl acl;
	uint8_t *again = NULL, *doc = NULL;
	size_t again_len = 0;
	int r;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	r = pn_acl_decode_body(q->acl, q->acl_len, &acl);
	if (r < 0) {
		*why = "decode";
		goto out;
	}
	r = PN_E_SIGNER_REFUSED;
	if (memcmp(acl.signer_fpr, c->ca_fpr, PN_FPR_LEN) != 0) {
		*why = "signer_fpr";
		goto out;
	}
	/* Issued now (backdated as issuers do, trust/cred.h), expiring within
	 * the configured lifetime: the front cannot mint long-lived or
	 * post-dated lists. */
	if (acl.issued_at > now_s + PN_TRUST_DEFAULT_SKEW ||
	    acl.issued_at + PN_TRUST_BACKDATE_S + PN_SIGNER_ACL_ISSUED_SLACK_S < now_s) {
		*why = "issued_at";
		goto out;
	}
	if (acl.expires_at > now_s + c->lim.acl_lifetime_max_s + PN_TRUST_DEFAULT_SKEW) {
		*why = "lifetime";
		goto out;
	}
	/* Canonical: exactly what our own encoder makes of what was decoded,
	 * so no byte is signed that a verifier would read differently. */
	r = pn_acl_encode_unsigned(&acl, c->ca_fpr, &again, &again_len);
	if (r < 0) {
		*why = "encode";
		goto out;
	}
	if (again_len != q->acl_len || memcmp(again, q->acl, again_len) != 0) {
		*why = "not_canonical";
		r = PN_E_SIGNER_REFUSED;
		goto out;
	}
	doc = again;
	r = pn_ca_sign(c->ca, doc, again_len, s->sig);
	if (r < 0) {
		*why = "sign";
		goto out;
	}
	{
		char id[PN_ID_HEX_LEN + 1];

		pn_id_hex(acl.holder_id, id);
		PN_LOG_INFO("signer", "signed",
			    "kind=acl seq=%u list=%s holder=%s version=%llu entries=%zu bytes=%zu "
			    "expires_at=%llu",
			    q->seq, acl.kind == PN_ACL_CLIENT ? "client" : "connector", id,
			    (unsigned long long)acl.version, acl.nentries, q->acl_len,
			    (unsigned long long)acl.expires_at);
	}
out:
	free(again);
	pn_acl_fini(&acl);
	return r;
}

int pn_signer_core_handle(struct pn_signer_core *c, const uint8_t *frame, size_t len,
			  uint64_t now_s, uint64_t now_ms, struct pn_buf *resp)
{
	struct pn_signer_req *q;
	struct pn_signer_resp s;
	struct pn_signer_hdr h;
	const char *why = "malformed";
	char *pem = NULL;
	int r;

	/* a frame whose header does not decode cannot be answered */
	if ((r = pn_signer_hdr_decode(frame, len, &h)) < 0) {
		c->nrefused++;
		PN_LOG_WARN("signer", "refused", "op=? err=%s reason=header len=%zu", pn_errname(r),
			    len);
		return r;
	}
	q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	memset(&s, 0, sizeof(s));
	s.op = h.op;
	s.seq = h.seq;
	r = pn_signer_req_decode(frame, len, q);
	if (r == 0) {
		switch (q->op) {
		case PN_SIGNER_OP_PING: memcpy(s.fpr, c->ca_fpr, PN_FPR_LEN); break;
		case PN_SIGNER_OP_CRED:
		case PN_SIGNER_OP_ACL:
			if ((r = rate_take(c, now_ms)) < 0) {
				why = "rate";
				break;
			}
			r = q->op == PN_SIGNER_OP_CRED ? sign_cred(c, q, now_s, &s, &pem, &why)
						       : sign_acl(c, q, now_s, &s, &why);
			/* the cap counts signatures: a refusal gives its token back */
			if (r < 0 && c->tokens_milli + 1000 <= (uint64_t)c->lim.rate_per_s * 1000)
				c->tokens_milli += 1000;
			break;
		}
	}
	if (r < 0) {
		c->nrefused++;
		/* over the cap: one line per 1,000 refusals, not one per request */
		if (r != PN_E_SIGNER_RATE || c->nrate++ % 1000 == 0)
			PN_LOG_WARN("signer", "refused", "op=%s seq=%u err=%s reason=%s len=%zu",
				    pn_signer_op_name(h.op), h.seq, pn_errname(r), why, len);
		memset(&s, 0, sizeof(s));
		s.op = h.op;
		s.seq = h.seq;
		s.status = r;
	} else if (q->op != PN_SIGNER_OP_PING) {
		c->nsigned++;
	}
	r = pn_signer_resp_encode(&s, resp);
	free(pem);
	free(q);
	return r;
}
