/*
 * Handshakes that fail: a connector from a foreign CA, a connector other
 * than the pinned one, an expired client credential, another client's
 * list.  The harness: tsession.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "tsession.h"

static void expect_fail(struct tfix_ident *client, struct tfix_ident *srv, const uint8_t *pin,
			const struct tfix_ident *acl_holder, int want_err, int want_peer_code)
{
	struct pn_mempath_faults f = {0};
	uint8_t *acl;
	size_t acl_len;
	int code;
	const char *text;

	mk_acl(acl_holder, PN_ACL_CLIENT, con.c.info.id, &acl, &acl_len);
	start(client, srv, pin, acl, acl_len, &f);
	free(acl);
	run_until(tunnel_dead, NULL, 200000);
	assert_int_equal(H.cl_state, PN_TUNNEL_CLOSED);
	if (want_err)
		assert_int_equal(H.cl_err, want_err);
	pn_tunnel_end_reason(N.cl, &code, &text);
	if (want_peer_code >= 0)
		assert_int_equal(code, want_peer_code);
	assert_false(H.acl_ok && want_peer_code == PN_FLOW_BAD_ACL);
	finish();
}

static void test_foreign_ca_connector(void **st)
{
	(void)st;
	/* a connector credential from another CA: the client refuses it */
	expect_fail(&cli, &con_foreign, con_foreign.c.info.id, &cli, PN_E_UNTRUSTED, -1);
}

static void test_wrong_connector_pinned(void **st)
{
	(void)st;
	/* a valid connector, but not the one the access list names */
	expect_fail(&cli, &con, cli2.c.info.id, &cli, PN_E_TUN_PEER_ID, -1);
}

static void test_expired_client(void **st)
{
	(void)st;
	/* the connector refuses the expired client credential in the handshake */
	expect_fail(&cli_expired, &con, con.c.info.id, &cli_expired, 0, -1);
	assert_null(H.peer);
}

static void test_other_clients_list(void **st)
{
	(void)st;
	/* client presents cli2's (validly signed) list: bound to another key */
	expect_fail(&cli, &con, con.c.info.id, &cli2, PN_E_TUN_REFUSED, PN_FLOW_BAD_ACL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_foreign_ca_connector),
	    cmocka_unit_test(test_wrong_connector_pinned),
	    cmocka_unit_test(test_expired_client),
	    cmocka_unit_test(test_other_clients_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
