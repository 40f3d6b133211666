/* The tunnel tests' fixture (see tfix.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tfix.h"

void tfix_ident(struct tfix_ident *id, struct pn_ca *ca, const struct pn_anchor *a,
		enum pn_cred_type type, const char *name, uint64_t issued, uint64_t life)
{
	memset(id, 0, sizeof(*id));
	assert_int_equal(tpki_issue(ca, type, name, issued, life, &id->c), 0);
	assert_int_equal(tpki_tls(&id->c, a, &id->cred), 0);
}

void tfix_ident_free(struct tfix_ident *id)
{
	if (id->cred)
		gnutls_certificate_free_credentials(id->cred);
	tpki_cred_free(&id->c);
	id->cred = NULL;
}

static void drv_want_write(struct pn_tunnel *t, void *d)
{
	(void)t, (void)d;
}

static void drv_dead(struct pn_tunnel *t, void *d)
{
	struct tfix_net *n = d;

	if (t == n->cl)
		n->cl_dead = 1;
	else
		n->sv_dead = 1;
}

static const struct pn_tunnel_driver drv = {drv_want_write, drv_dead, NULL};

void tfix_net_init(struct tfix_net *n, const struct pn_mempath_faults *faults,
		   void (*sv_params)(struct pn_tunnel_params *p))
{
	memset(n, 0, sizeof(*n));
	n->now = 1000000000ull;
	n->step_ns = 20000;
	n->sv_params = sv_params;
	assert_int_equal(pn_mempath_pair(faults, &n->pa, &n->pb), 0);
}

void tfix_params(struct tfix_net *n, struct pn_tunnel_params *p)
{
	memset(p, 0, sizeof(*p));
	p->drv = &drv;
	p->drv_ctx = n;
	p->path_kind = PN_PATH_MEMORY;
}

int tfix_client_alive(const struct tfix_net *n)
{
	return n->raw ? !pn_tconn_is_closed(n->raw) : (n->cl && !n->cl_dead);
}

static int flush(struct tfix_net *n, struct pn_tunnel *t, struct pn_tconn *raw)
{
	static uint8_t buf[PN_TCONN_TX_BUF];
	struct pn_tconn_tx tx = {.buf = buf};
	int moved = 0;

	for (int k = 0; k < 64; k++) {
		if (raw)
			pn_tconn_write(raw, n->now, &tx);
		else
			pn_tunnel_output(t, n->now, &tx);
		if (tx.len == 0)
			break;
		tx.path->ops->send(tx.path, tx.buf, tx.len, tx.seg);
		moved = 1;
	}
	return moved;
}

int tfix_client_write(struct tfix_net *n)
{
	return tfix_client_alive(n) && flush(n, n->cl, n->raw);
}

/* Packets at the connector's end `in`: the first acceptable one makes the
 * connector tunnel. */
static int to_connector(struct tfix_net *n, struct pn_mempath *in, uint8_t *rx, size_t cap)
{
	int moved = 0;
	size_t len;

	while ((len = pn_mempath_recv(in, rx, cap)) > 0) {
		moved = 1;
		if (!n->sv) {
			struct pn_tunnel_params p;

			if (pn_tconn_accept_check(rx, len) != 0)
				continue;
			tfix_params(n, &p);
			n->sv_params(&p);
			assert_int_equal(
			    pn_tunnel_new_server(&p, pn_mempath_path(in), rx, len, n->now, &n->sv),
			    0);
		}
		if (!n->sv_dead)
			pn_tunnel_input(n->sv, pn_mempath_path(in), rx, len, n->now);
	}
	return moved;
}

static int to_client(struct tfix_net *n, struct pn_mempath *in, uint8_t *rx, size_t cap)
{
	int moved = 0;
	size_t len;

	while ((len = pn_mempath_recv(in, rx, cap)) > 0) {
		moved = 1;
		if (!tfix_client_alive(n))
			continue;
		if (n->raw)
			pn_tconn_read(n->raw, pn_mempath_path(in), rx, len, n->now);
		else
			pn_tunnel_input(n->cl, pn_mempath_path(in), rx, len, n->now);
	}
	return moved;
}

void tfix_step(struct tfix_net *n)
{
	static uint8_t rx[2048];
	int moved = 0;

	if (n->raw ? tfix_client_alive(n) : n->cl != NULL)
		moved |= flush(n, n->cl, n->raw);
	if (n->sv) /* also after its death: the CONNECTION_CLOSE goes out */
		moved |= flush(n, n->sv, NULL);
	moved |= to_connector(n, n->pb, rx, sizeof(rx));
	if (n->pb2)
		moved |= to_connector(n, n->pb2, rx, sizeof(rx));
	moved |= to_client(n, n->pa, rx, sizeof(rx));
	if (n->pa2)
		moved |= to_client(n, n->pa2, rx, sizeof(rx));
	if (moved) {
		n->now += n->step_ns;
	} else {
		uint64_t e = UINT64_MAX;

		if (tfix_client_alive(n))
			e = n->raw ? pn_tconn_expiry(n->raw) : pn_tunnel_expiry(n->cl);
		if (n->sv && !n->sv_dead && pn_tunnel_expiry(n->sv) < e)
			e = pn_tunnel_expiry(n->sv);
		if (e == UINT64_MAX || e <= n->now)
			n->now += 5000000;
		else if (n->idle_max_ns && e > n->now + n->idle_max_ns)
			n->now += n->idle_max_ns;
		else
			n->now = e;
	}
	if (tfix_client_alive(n)) {
		if (n->raw)
			pn_tconn_handle_expiry(n->raw, n->now);
		else
			pn_tunnel_timeout(n->cl, n->now);
	}
	if (n->sv && !n->sv_dead)
		pn_tunnel_timeout(n->sv, n->now);
}

void tfix_net_free(struct tfix_net *n)
{
	for (int i = 0; i < 3; i++)
		tfix_step(n);
	pn_tunnel_free(n->cl);
	pn_tunnel_free(n->sv);
	pn_tconn_free(n->raw);
	pn_mempath_free(n->pa);
	pn_mempath_free(n->pb);
	pn_mempath_free(n->pa2);
	pn_mempath_free(n->pb2);
	n->cl = n->sv = NULL;
	n->raw = NULL;
	n->pa = n->pb = n->pa2 = n->pb2 = NULL;
}
