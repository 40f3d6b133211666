/* Credential re-presentation inside a tunnel (PN_CTL_CRED) and the
 * tunnel's life under the client credential it holds.  See endpoint.h
 * (ops.cred, pn_tunnel_update_cred) and docs/tunnel.md.
 *
 * Server: a tunnel lives under one client credential at a time, first the
 * handshake's.  It ends once that is past not_after + skew, unless the
 * client re-presented a renewed one that passed every check: verified
 * under the pinned CA as a CLIENT credential now, the id AND key the TLS
 * handshake proved (a renewal keeps the key; possession of the key was
 * proven in the handshake and the connection is bound to it), a later
 * not_after than the current one, and the glue's checks (revocation).
 * Anything else is answered PN_CTL_ERROR and changes nothing: an invalid
 * re-presentation never extends a tunnel.
 *
 * Client: the renewed credential goes on the control stream, in order
 * with access lists; the connector answers each request in order, so a
 * small queue tells which request an ERROR answers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "core/err.h"
#include "core/secret.h"
#include "trust/policy.h"
#include "tunnel/session_int.h"

/* Even a credential valid for days is checked against the wall clock at
 * least this often (a wall clock that jumps ahead is noticed). */
#define CRED_CHECK_MAX_S 60

static uint64_t unix_now(const struct pn_tunnel *t)
{
	return t->p.conn.unix_now(t->p.conn.user);
}

static uint64_t skew_s(const struct pn_tunnel *t)
{
	return t->p.conn.clock_skew_s ? t->p.conn.clock_skew_s : PN_TRUST_DEFAULT_SKEW;
}

/* Next check: the first second at which now > not_after + skew, at most
 * CRED_CHECK_MAX_S away. */
static void cred_schedule(struct pn_tunnel *t)
{
	uint64_t now = unix_now(t), end = t->cred.not_after + skew_s(t);
	uint64_t left = end >= now ? end - now + 1 : 0;

	if (left > CRED_CHECK_MAX_S)
		left = CRED_CHECK_MAX_S;
	t->cred_check_at = t->now + left * 1000000000ull;
	if (!t->cred_check_at)
		t->cred_check_at = 1;
}

void pn_tsess_cred_start(struct pn_tunnel *t, const struct pn_cred_info *peer)
{
	t->cred = *peer;
	cred_schedule(t);
}

int pn_tsess_cred_due(struct pn_tunnel *t, uint64_t now)
{
	if (!t->cred_check_at || now < t->cred_check_at)
		return 0;
	if (unix_now(t) > t->cred.not_after + skew_s(t))
		return 1;
	cred_schedule(t);
	return 0;
}

/* Reply on the control stream (the ring was sized for whole access lists,
 * so a short answer always fits). */
static void ctl_answer(struct pn_tunnel *t, int code, const char *why)
{
	uint8_t buf[PN_CTL_PREFIX_LEN + 2 + PN_FLOW_TEXT_MAX];
	struct pn_buf w;

	pn_buf_init_wr(&w, buf, sizeof(buf));
	if (code == PN_FLOW_OK)
		pn_ctl_encode(&w, PN_CTL_CRED_OK, NULL, 0);
	else
		pn_ctl_error_encode(&w, code, why);
	pn_tconn_stream_write(t->c, CTL_SID, pn_buf_ptr(&w), pn_buf_len(&w));
	pn_tsess_want_write(t);
}

void pn_tsess_server_cred(struct pn_tunnel *t, const uint8_t *body, size_t len)
{
	const struct pn_cred_info *hs = pn_tconn_peer(t->c);
	const struct pn_tep_server_ops *ops = t->p.server_ops;
	struct pn_cred_info ni;
	char why[PN_FLOW_TEXT_MAX + 1] = "";
	int r, code = PN_FLOW_CRED;

	memset(&ni, 0, sizeof(ni));
	if (!hs || !t->cred_check_at) {
		r = PN_E_INVAL; /* no verified handshake credential to renew */
		snprintf(why, sizeof(why), "cred_no_handshake");
		goto refused;
	}
	/* DER, as the handshake carries it: a PEM text is not accepted here */
	if (body[0] != 0x30) {
		r = PN_E_MALFORMED;
		snprintf(why, sizeof(why), "cred_malformed");
		goto refused;
	}
	r = pn_cred_verify(t->p.conn.anchor, body, len, PN_CRED_CLIENT, unix_now(t),
			   (uint32_t)skew_s(t), &ni);
	if (r != 0) {
		snprintf(why, sizeof(why), "%s",
			 r == PN_E_MALFORMED ? "cred_malformed"
					     : pn_deny_name(pn_deny_from_err(r)));
		goto refused;
	}
	/* The connection is bound to the key the handshake proved: a
	 * credential for any other holder or key is not this peer's. */
	if (memcmp(ni.id, hs->id, PN_ID_LEN) != 0) {
		r = PN_E_WRONG_ID;
		snprintf(why, sizeof(why), "cred_wrong_holder");
		goto refused;
	}
	if (memcmp(ni.key_fpr, hs->key_fpr, PN_FPR_LEN) != 0) {
		r = PN_E_WRONG_HOLDER;
		snprintf(why, sizeof(why), "cred_wrong_key");
		goto refused;
	}
	/* Only forward: an older (or the same) credential extends nothing. */
	if (ni.not_after <= t->cred.not_after) {
		r = PN_E_STALE_VERSION;
		snprintf(why, sizeof(why), "cred_not_newer");
		goto refused;
	}
	if (ops->cred) {
		code = ops->cred(t, &ni, 0, why, sizeof(why), t->p.server_user);
		if (t->dead)
			return;
		if (code != PN_FLOW_OK) {
			if (!why[0])
				snprintf(why, sizeof(why), "%s", pn_flow_code_name(code));
			ctl_answer(t, code, why);
			return;
		}
	}
	t->cred = ni;
	cred_schedule(t);
	ctl_answer(t, PN_FLOW_OK, NULL);
	return;
refused:
	if (ops->cred) {
		ops->cred(t,
			  r == PN_E_WRONG_ID || r == PN_E_WRONG_HOLDER || r == PN_E_STALE_VERSION
			      ? &ni
			      : NULL,
			  r, why, sizeof(why), t->p.server_user);
		if (t->dead)
			return;
	}
	ctl_answer(t, code, why);
}

/* ------------------------------------------------------------ client -- */

int pn_tsess_ctl_push(struct pn_tunnel *t, int is_cred)
{
	if (t->ctl_qn >= CTL_Q_MAX)
		return -EAGAIN;
	if (is_cred)
		t->ctl_q |= 1ull << t->ctl_qn;
	else
		t->ctl_q &= ~(1ull << t->ctl_qn);
	t->ctl_qn++;
	return 0;
}

/* The oldest request was answered: was it a CRED? (0 if none was owed) */
int pn_tsess_ctl_pop(struct pn_tunnel *t)
{
	int is_cred;

	if (!t->ctl_qn)
		return 0;
	is_cred = (int)(t->ctl_q & 1);
	t->ctl_q >>= 1;
	t->ctl_qn--;
	return is_cred;
}

/* Write the pending credential on the open control stream. */
int pn_tsess_client_write_cred(struct pn_tunnel *t)
{
	uint8_t pre[PN_CTL_PREFIX_LEN];
	int r;

	if (!t->cred_unsent || !t->ctl_open)
		return 0;
	if (pn_tconn_stream_buffered(t->c, CTL_SID) + sizeof(pre) + t->cred_der_len >
	    PN_CTL_PREFIX_LEN + PN_CTL_BODY_MAX + PN_CTL_PREFIX_LEN + PN_CTL_CRED_MAX)
		return -EAGAIN;
	if ((r = pn_tsess_ctl_push(t, 1)) != 0)
		return r;
	pre[0] = PN_CTL_CRED;
	pn_store_be32(pre + 1, (uint32_t)t->cred_der_len);
	pn_tconn_stream_write(t->c, CTL_SID, pre, sizeof(pre));
	pn_tconn_stream_write(t->c, CTL_SID, t->cred_der, t->cred_der_len);
	t->cred_unsent = 0;
	pn_tsess_want_write(t);
	return 0;
}

int pn_tunnel_update_cred(struct pn_tunnel *t, const char *cert_pem)
{
	gnutls_datum_t pem, der = {NULL, 0};
	uint8_t *copy;
	int r;

	if (t->dead || t->p.conn.role != PN_TCONN_CLIENT)
		return PN_E_CLOSED;
	pem.data = (unsigned char *)(uintptr_t)cert_pem;
	pem.size = (unsigned)strnlen(cert_pem, PN_CTL_CRED_MAX * 2 + 1);
	if (gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der) < 0 || der.size == 0) {
		r = PN_E_MALFORMED;
		goto out;
	}
	if (der.size > PN_CTL_CRED_MAX) {
		r = PN_E_TOOBIG;
		goto out;
	}
	if (!(copy = malloc(der.size))) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(copy, der.data, der.size);
	pn_tsess_cred_free(t);
	t->cred_der = copy;
	t->cred_der_len = der.size;
	t->cred_unsent = 1;
	/* Not open yet: sent right after the access list. */
	r = pn_tsess_client_write_cred(t);
out:
	gnutls_free(der.data);
	return r;
}

void pn_tsess_cred_free(struct pn_tunnel *t)
{
	if (t->cred_der) {
		pn_wipe(t->cred_der, t->cred_der_len);
		free(t->cred_der);
	}
	t->cred_der = NULL;
	t->cred_der_len = 0;
	t->cred_unsent = 0;
}
