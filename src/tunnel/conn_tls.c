/* QUIC connection core: TLS 1.3 session setup and the peer verification
 * in the GnuTLS callback (tunnel/conn.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/conn_int.h"
#include "tunnel/flowproto.h"

/* The one place a peer is authenticated: trust checks the leaf against the
 * pinned CA, its validity window and type; the client also pins the id. */
static int verify_cb(gnutls_session_t session)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
	struct pn_tconn *c = ref->user_data;
	enum pn_cred_type want =
		c->cfg.role == PN_TCONN_CLIENT ? PN_CRED_CONNECTOR : PN_CRED_CLIENT;
	uint64_t now = c->cfg.unix_now(c->cfg.user);
	int r;

	c->verify_now = now;
	r = pn_cred_verify_session_seen(c->cfg.anchor, session, want, now, c->cfg.clock_skew_s,
					&c->peer, &c->seen);
	c->have_seen = r == PN_E_NOT_YET_VALID || r == PN_E_EXPIRED || r == PN_E_WRONG_TYPE;
	if (r == 0 && c->cfg.role == PN_TCONN_CLIENT &&
	    memcmp(c->peer.id, c->cfg.pinned_id, PN_ID_LEN) != 0)
		r = PN_E_TUN_PEER_ID;
	if (r != 0) {
		c->verify_err = r;
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	return 0;
}

static const char tls_prio[] = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3";

int pn_tconn_i_tls_setup(struct pn_tconn *c)
{
	int server = c->cfg.role == PN_TCONN_SERVER;
	gnutls_datum_t alpn = {(unsigned char *)PN_FLOW_ALPN, sizeof(PN_FLOW_ALPN) - 1};

	/* [P3] QUIC needs NO_END_OF_EARLY_DATA (RFC 9001 8.3). */
	if (gnutls_init(&c->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
					 GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) != 0)
		return PN_E_CRYPTO;
	if ((server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
		    : ngtcp2_crypto_gnutls_configure_client_session(c->tls)) != 0)
		return PN_E_CRYPTO;
	if (gnutls_priority_set_direct(c->tls, tls_prio, NULL) != 0)
		return PN_E_CRYPTO;
	c->ref.get_conn = pn_tconn_i_get_conn;
	c->ref.user_data = c;
	gnutls_session_set_ptr(c->tls, &c->ref);
	if (gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cfg.cred) != 0)
		return PN_E_CRYPTO;
	if (gnutls_alpn_set_protocols(c->tls, &alpn, 1,
				      GNUTLS_ALPN_MANDATORY |
					      (server ? GNUTLS_ALPN_SERVER_PRECEDENCE : 0)) != 0)
		return PN_E_CRYPTO;
	gnutls_session_set_verify_function(c->tls, verify_cb);
	if (server) {
		/* [P11] a missing client certificate fails the handshake */
		gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUIRE);
	} else {
		char sni[PN_ID_HEX_LEN + sizeof(PN_CRED_SAN_SUFFIX)];
		pn_id_hex(c->cfg.pinned_id, sni);
		strcat(sni, PN_CRED_SAN_SUFFIX);
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, sni, strlen(sni));
	}
	ngtcp2_conn_set_tls_native_handle(c->q, c->tls);
	return 0;
}
