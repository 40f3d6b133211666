/*
 * The session tests' harness (see tsession.h): identities, the connector's
 * glue (policy checks, the test byte stream, hash sinks, echo), client flows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "trust/policy.h"
#include "tsession.h"

struct pn_ca *ca, *ca2;
struct pn_anchor *anchor, *anchor2;
struct tfix_ident cli, cli2, con, con_foreign, cli_expired;
uint8_t net_id[PN_ID_LEN], res_id[PN_ID_LEN];
struct tsession H;
struct tfix_net N;

void mk_acl(const struct tfix_ident *holder, enum pn_acl_kind kind, const uint8_t *connector,
	    uint8_t **out, size_t *len)
{
	struct pn_acl acl;

	pn_acl_init(&acl, kind);
	assert_int_equal(pn_acl_add_text(&acl, res_id, net_id, "echo.test", "tcp,udp", "7"), 0);
	if (kind == PN_ACL_CLIENT) {
		assert_int_equal(pn_acl_add_text(&acl, res_id, net_id, "secret.test", "tcp", "22"),
				 0);
		assert_int_equal(
		    pn_acl_add_network(&acl, net_id, (const uint8_t(*)[PN_ID_LEN])connector, 1), 0);
	}
	assert_int_equal(
	    tpki_sign_acl(ca, &acl, &holder->c.info, 3, NOW_UNIX - 10, NOW_UNIX + 3600, out, len),
	    0);
	pn_acl_fini(&acl);
}

int setup(void **st)
{
	(void)st;
	assert_int_equal(pn_ca_new(NOW_UNIX - 100, &ca), 0);
	assert_int_equal(pn_ca_new(NOW_UNIX - 100, &ca2), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &anchor), 0);
	assert_int_equal(pn_anchor_from_ca(ca2, &anchor2), 0);
	tfix_ident(&cli, ca, anchor, PN_CRED_CLIENT, "laptop", NOW_UNIX - 10, 3600);
	tfix_ident(&cli2, ca, anchor, PN_CRED_CLIENT, "other", NOW_UNIX - 10, 3600);
	tfix_ident(&con, ca, anchor, PN_CRED_CONNECTOR, "conn1", NOW_UNIX - 10, 3600);
	tfix_ident(&con_foreign, ca2, anchor2, PN_CRED_CONNECTOR, "evil", NOW_UNIX - 10, 3600);
	tfix_ident(&cli_expired, ca, anchor, PN_CRED_CLIENT, "old", NOW_UNIX - 7200, 600);
	pn_id_random(net_id);
	pn_id_random(res_id);
	return 0;
}

int teardown(void **st)
{
	(void)st;
	tfix_ident_free(&cli);
	tfix_ident_free(&cli2);
	tfix_ident_free(&con);
	tfix_ident_free(&con_foreign);
	tfix_ident_free(&cli_expired);
	pn_anchor_free(anchor);
	pn_anchor_free(anchor2);
	pn_ca_free(ca);
	pn_ca_free(ca2);
	return 0;
}

static uint64_t unix_now(void *u)
{
	(void)u;
	return NOW_UNIX;
}

/* server side: push the pattern until the ring is full */
static void sv_pump(struct pn_flow *f)
{
	while (H.sv_sent < H.sv_send_total) {
		const uint8_t *p;
		size_t n = tpat_at(H.sv_sent, H.sv_send_total, &p);
		ssize_t w = pn_flow_write(f, p, n);
		if (w <= 0)
			return;
		H.sv_sent += (uint64_t)w;
	}
	pn_flow_shutdown(f);
}

static void sv_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	tpat_sink_add(&H.sv_sink, p, n);
	if (H.slow)
		H.held += n; /* a stalled resource: no credit goes back */
	else
		pn_flow_consumed(f, n);
	if (H.revoke_on_bytes && H.sv_sink.n >= (uint64_t)H.revoke_on_bytes) {
		H.revoke_on_bytes = 0;
		pn_flow_close(f, PN_FLOW_REVOKED);
		H.sv_flow = NULL;
	}
	(void)u;
}

static void sv_eof(struct pn_flow *f, void *u)
{
	H.sv_eof = 1;
	(void)f, (void)u;
}

static void sv_writable(struct pn_flow *f, void *u)
{
	sv_pump(f);
	(void)u;
}

static void sv_dgram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	if (pn_flow_send_datagram(f, p, n) == 0)
		H.udp_echoed++;
	(void)u;
}

static void sv_closed(struct pn_flow *f, int code, void *u)
{
	if (f == H.sv_flow)
		H.sv_flow = NULL;
	(void)code, (void)u;
}

/* multi mode: each server flow hashes what it gets and sends its own copy
 * of the pattern */
struct sflow sfl[16];
unsigned nsfl;

static void m_pump(struct pn_flow *f, struct sflow *m)
{
	while (m->sent < m->total) {
		const uint8_t *p;
		size_t n = tpat_at(m->sent, m->total, &p);
		ssize_t w = pn_flow_write(f, p, n);
		if (w <= 0)
			return;
		m->sent += (uint64_t)w;
	}
	pn_flow_shutdown(f);
}

static void m_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct sflow *m = u;
	tpat_sink_add(&m->sink, p, n);
	pn_flow_consumed(f, n);
}

static void m_eof(struct pn_flow *f, void *u)
{
	((struct sflow *)u)->eof = 1;
	(void)f;
}

static void m_writable(struct pn_flow *f, void *u)
{
	m_pump(f, u);
}

static const struct pn_flow_ops m_ops = {.data = m_data, .eof = m_eof, .writable = m_writable};

/* echo mode: each server flow sends back what it gets (small flows: the
 * ring always has room) and finishes after the client did */
int sv_echo;

static void e_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	assert_int_equal(pn_flow_write(f, p, n), (ssize_t)n);
	pn_flow_consumed(f, n);
	(void)u;
}

static void e_eof(struct pn_flow *f, void *u)
{
	pn_flow_shutdown(f);
	(void)u;
}

static const struct pn_flow_ops e_ops = {.data = e_data, .eof = e_eof};

static const struct pn_flow_ops sv_ops = {
	.data = sv_data,
	.eof = sv_eof,
	.writable = sv_writable,
	.datagram = sv_dgram,
	.closed = sv_closed,
};

static int sv_tunnel_new(struct pn_tunnel *t, const struct pn_cred_info *peer, char *why,
			 size_t whysz, void *u)
{
	H.peer = peer;
	(void)t, (void)u, (void)why, (void)whysz;
	return PN_FLOW_OK;
}

static int sv_acl(struct pn_tunnel *t, const uint8_t *acl, size_t len, char *why, size_t whysz,
		  void *u)
{
	int r = pn_acl_verify(anchor, acl, len, NOW_UNIX, &H.client_acl);
	if (r == 0)
		r = pn_acl_check_holder(&H.client_acl, pn_tunnel_peer(t));
	if (r != 0) {
		snprintf(why, whysz, "%s", pn_deny_name(pn_deny_from_err(r)));
		return PN_FLOW_BAD_ACL;
	}
	H.acl_ok = 1;
	(void)u;
	return PN_FLOW_OK;
}

static void sv_request(struct pn_tunnel *t, struct pn_flow *f, const struct pn_flow_hdr *h, void *u)
{
	struct pn_flow_status st;
	char dest[256];
	enum pn_deny d;

	pn_flow_dest_str(&h->dest, dest, sizeof(dest));
	if (h->kind == PN_FLOW_DNS) {
		d = pn_policy_check(pn_tunnel_peer(t), &H.client_acl, &H.conn_acl, PN_PROTO_TCP,
				    dest, strlen(dest), 7, NOW_UNIX, NULL);
	} else {
		d = pn_policy_check(pn_tunnel_peer(t), &H.client_acl, &H.conn_acl,
				    h->kind == PN_FLOW_UDP ? PN_PROTO_UDP : PN_PROTO_TCP, dest,
				    strlen(dest), h->port, NOW_UNIX, NULL);
	}
	H.last_deny = d;
	if (d != PN_ALLOW) {
		pn_flow_status_set(&st, 0, PN_FLOW_DENIED, pn_deny_name(d));
		assert_int_equal(pn_flow_respond(f, &st, NULL, NULL), 0);
		return;
	}
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	if (h->kind == PN_FLOW_DNS) {
		st.naddr = 1;
		st.addr[0].family = 4;
		memcpy(st.addr[0].a, "\x0a\xca\x01\x07", 4);
		st.ttl = 60;
	}
	if (sv_echo && h->kind == PN_FLOW_TCP) {
		assert_int_equal(pn_flow_respond(f, &st, &e_ops, NULL), 0);
		return;
	}
	if (H.multi && h->kind == PN_FLOW_TCP && nsfl < 16) {
		struct sflow *m = &sfl[nsfl++];
		tpat_sink_init(&m->sink);
		m->total = H.sv_send_total;
		assert_int_equal(pn_flow_respond(f, &st, &m_ops, m), 0);
		m_pump(f, m);
		return;
	}
	assert_int_equal(pn_flow_respond(f, &st, &sv_ops, NULL), 0);
	if (h->kind == PN_FLOW_TCP) {
		H.sv_flow = f;
		sv_pump(f);
	}
	(void)u;
}

static const struct pn_tep_server_ops sv_server_ops = {
	.tunnel_new = sv_tunnel_new,
	.acl = sv_acl,
	.flow_request = sv_request,
};

static void cl_state(struct pn_tunnel *t, enum pn_tunnel_state st, int err, void *u)
{
	H.cl_state = st;
	H.cl_err = err;
	(void)t, (void)u;
}

static const struct pn_tunnel_ops cl_tops = {.state = cl_state};

int small_limits, small_conn_window, sv_small_limits, big_sndbuf;

static void params(struct pn_tunnel_params *p, struct tfix_ident *id, int server)
{
	tfix_params(&N, p);
	p->conn.cred = id->cred;
	p->conn.anchor = anchor;
	p->conn.unix_now = unix_now;
	p->conn.stream_sndbuf = big_sndbuf ? 4u << 20 : 256 << 10;
	p->conn.stream_window = 256 << 10;
	p->conn.conn_window = small_conn_window ? 16 << 10 : 1 << 20;
	p->conn.idle_ms = 10000;
	if (small_limits || (server && sv_small_limits))
		p->max_flows = 4;
	if (server) {
		p->server_ops = &sv_server_ops;
	} else {
		p->ops = &cl_tops;
	}
}

static struct tfix_ident *server_ident;

static void sv_params(struct pn_tunnel_params *p)
{
	params(p, server_ident, 1);
}

void start(struct tfix_ident *id, struct tfix_ident *srv, const uint8_t *pin, const uint8_t *acl,
	   size_t acl_len, const struct pn_mempath_faults *f)
{
	struct pn_tunnel_params p;
	uint8_t *cacl;
	size_t cacl_len;

	memset(&H, 0, sizeof(H));
	pn_acl_init(&H.client_acl, PN_ACL_CLIENT);
	mk_acl(&con, PN_ACL_CONNECTOR, NULL, &cacl, &cacl_len);
	assert_int_equal(pn_acl_verify(anchor, cacl, cacl_len, NOW_UNIX, &H.conn_acl), 0);
	free(cacl);
	tpat_sink_init(&H.sv_sink);
	server_ident = srv;
	tfix_net_init(&N, f, sv_params);
	/* idle: jump to the next timer, but at most 5 ms (so a test that just
	   waits a few steps does not run into the idle timeout) */
	N.idle_max_ns = 5000000;
	params(&p, id, 0);
	memcpy(p.conn.pinned_id, pin, PN_ID_LEN);
	p.acl = acl;
	p.acl_len = acl_len;
	assert_int_equal(pn_tunnel_new_client(&p, pn_mempath_path(N.pa), N.now, &N.cl), 0);
}

void finish(void)
{
	uint8_t d[32];

	tfix_net_free(&N); /* the CONNECTION_CLOSE goes out first */
	pn_acl_fini(&H.client_acl);
	pn_acl_fini(&H.conn_acl);
	tpat_sink_done(&H.sv_sink, d);
}

/* ------------------------------------------------------- client flow ---- */

static void cf_pump(struct cflow *c)
{
	while (c->f && c->sent < c->to_send) {
		const uint8_t *p;
		size_t n = tpat_at(c->sent, c->to_send, &p);
		ssize_t w = pn_flow_write(c->f, p, n);
		if (w <= 0)
			return;
		c->sent += (uint64_t)w;
		if (c->sent == c->to_send)
			pn_flow_shutdown(c->f);
	}
}

static void cf_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	struct cflow *c = u;
	c->st = *st;
	c->have_status = 1;
	(void)f;
}

static void cf_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *c = u;
	tpat_sink_add(&c->sink, p, n);
	pn_flow_consumed(f, n);
}

static void cf_eof(struct pn_flow *f, void *u)
{
	((struct cflow *)u)->eof = 1;
	(void)f;
}

static void cf_writable(struct pn_flow *f, void *u)
{
	cf_pump(u);
	(void)f;
}

static void cf_dgram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	((struct cflow *)u)->dgrams++;
	(void)f, (void)p, (void)n;
}

static void cf_closed(struct pn_flow *f, int code, void *u)
{
	struct cflow *c = u;
	c->closed = 1;
	c->closed_code = code;
	c->f = NULL;
	(void)f;
}

const struct pn_flow_ops cf_ops = {
	.status = cf_status,
	.data = cf_data,
	.eof = cf_eof,
	.writable = cf_writable,
	.datagram = cf_dgram,
	.closed = cf_closed,
};

void cf_open(struct cflow *c, int kind, const char *dest, uint16_t port, uint64_t send)
{
	struct pn_flow_req req;

	memset(c, 0, sizeof(*c));
	tpat_sink_init(&c->sink);
	memset(&req, 0, sizeof(req));
	req.hdr.kind = (uint8_t)kind;
	assert_int_equal(pn_flow_dest_parse(&req.hdr.dest, dest), 0);
	req.hdr.port = port;
	if (kind == PN_FLOW_DNS)
		req.hdr.qtype = PN_FLOW_QTYPE_A;
	memcpy(req.hdr.resource_id, res_id, PN_ID_LEN);
	c->to_send = send;
	assert_int_equal(pn_flow_open(N.cl, &req, &cf_ops, c, &c->f), 0);
	assert_true(pn_flow_id(c->f) != 0);
	if (kind == PN_FLOW_TCP && send == 0)
		assert_int_equal(pn_flow_shutdown(c->f), 0);
	cf_pump(c);
}

void run_until(int (*done)(void *), void *arg, int max_steps)
{
	for (int i = 0; i < max_steps && !done(arg); i++)
		tfix_step(&N);
	assert_true(done(arg));
}

int is_up(void *a)
{
	(void)a;
	return H.cl_state == PN_TUNNEL_UP || N.cl_dead;
}

int flow_done(void *a)
{
	struct cflow *c = a;
	return c->closed || N.cl_dead;
}

int tunnel_dead(void *a)
{
	(void)a;
	return N.cl_dead;
}
