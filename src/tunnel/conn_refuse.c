/*
 * Refusing a peer's credential in the handshake: the TLS alert and reason
 * phrase we close with, how a peer's alert reads back, and the refusal
 * details for logs.  See conn.h and docs/tunnel.md (Refusals).
 */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "tunnel/conn_int.h"

int pn_tconn_i_is_cert_alert(uint8_t a)
{
	return (a >= PN_TLS_ALERT_BAD_CERT && a <= PN_TLS_ALERT_CERT_UNKNOWN) ||
	       a == PN_TLS_ALERT_UNKNOWN_CA || a == PN_TLS_ALERT_CERT_REQUIRED;
}

/* A specific alert and a reason phrase the peer can show (with our clock
 * for a time refusal, so the other side sees both clocks).  The phrase
 * also goes out in Initial/Handshake packets, which are not confidential:
 * it holds only a reason name and a time. */
uint8_t pn_tconn_i_refusal_alert(struct pn_tconn *c, int err)
{
	const char *name;
	uint8_t alert;

	switch (err) {
	case PN_E_EXPIRED: name = "cred_expired", alert = PN_TLS_ALERT_CERT_EXPIRED; break;
	case PN_E_NOT_YET_VALID:
		name = "cred_not_yet_valid", alert = PN_TLS_ALERT_CERT_EXPIRED;
		break;
	case PN_E_UNTRUSTED: name = "cred_untrusted", alert = PN_TLS_ALERT_UNKNOWN_CA; break;
	case PN_E_WRONG_TYPE: name = "cred_wrong_type", alert = PN_TLS_ALERT_UNSUPPORTED_CERT; break;
	case PN_E_TUN_PEER_ID: name = "wrong_peer_id", alert = PN_TLS_ALERT_BAD_CERT; break;
	case PN_E_TUN_NO_CRED: name = "no_credential", alert = PN_TLS_ALERT_CERT_REQUIRED; break;
	default: name = "cred_invalid", alert = PN_TLS_ALERT_BAD_CERT; break;
	}
	if (err == PN_E_EXPIRED || err == PN_E_NOT_YET_VALID)
		snprintf(c->close_text, sizeof(c->close_text), "%s now=%llu", name,
			 (unsigned long long)c->verify_now);
	else
		snprintf(c->close_text, sizeof(c->close_text), "%s", name);
	return alert;
}

void pn_tconn_local_reason(const struct pn_tconn *c, char *out, size_t outsz)
{
	const struct pn_cred_info *s = &c->seen;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (!c->verify_err)
		return;
	if (c->have_seen && (c->verify_err == PN_E_EXPIRED || c->verify_err == PN_E_NOT_YET_VALID))
		snprintf(out, outsz, "%s not_before=%llu not_after=%llu now=%llu",
			 c->verify_err == PN_E_EXPIRED ? "cred_expired" : "cred_not_yet_valid",
			 (unsigned long long)s->not_before, (unsigned long long)s->not_after,
			 (unsigned long long)c->verify_now);
	else
		snprintf(out, outsz, "%s", pn_errname(c->verify_err));
}

int pn_tconn_refusal(const struct pn_tconn *c, const struct pn_cred_info **cred, uint64_t *now)
{
	if (cred)
		*cred = c && c->have_seen ? &c->seen : NULL;
	if (now)
		*now = c ? c->verify_now : 0;
	return c ? c->verify_err : 0;
}
