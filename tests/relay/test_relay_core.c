/*
 * Unit tests: the relay's forwarding core (registrations, OPEN authorized
 * by the real trust library, BIND, DATA routing, CLOSE, idle expiry,
 * caps).  The ops struct is the core's I/O seam; here it records frames
 * and datagrams instead of writing to sockets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "relay/auth.h"
#include "relay/core.h"
#include "core/stun.h"
#include "relay/udpmsg.h"
#include "pki.h"

#define MAXF 64

struct fconn {
	int id;
	int kicked;
	int nframes;
	struct pn_relay_msg last[MAXF];
	uint8_t store[MAXF][512];
	int ndata;
	struct pn_cred_info *info;
};

struct world {
	struct pn_ca *ca;
	struct pn_anchor *anchor;
	struct tpki_cred client, conn, conn2;
	uint8_t *acl;
	size_t acl_len;
	struct pn_relay_core *core;
	int nudp;
	struct pn_relay_addr udp_to;
	uint8_t udp_buf[2048];
	size_t udp_len;
	uint64_t now_s;
	unsigned nlanes; /* op_lane: 0, no steering */
};
static struct world W;

static int op_send_frame(void *c, const uint8_t *p, size_t n, void *user)
{
	struct fconn *fc = c;
	struct pn_relay_frame f;
	size_t used;
	int i = fc->nframes % MAXF;

	assert_true(n <= sizeof(fc->store[0]));
	memcpy(fc->store[i], p, n);
	assert_int_equal(pn_relay_frame_next(fc->store[i], n, &f, &used), 0);
	assert_int_equal(pn_relay_msg_decode(&f, &fc->last[i]), 0);
	fc->nframes++;
	return 0;
}

static int op_send_data(void *c, const uint8_t *hdr, size_t hn, const uint8_t *p, size_t n,
			void *user)
{
	((struct fconn *)c)->ndata++;
	return 0;
}

static int op_send_udp(const struct pn_relay_addr *to, const struct iovec *iov, int iovcnt,
		       void *user)
{
	W.nudp++;
	W.udp_to = *to;
	W.udp_len = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(W.udp_buf + W.udp_len, iov[i].iov_base, iov[i].iov_len);
		W.udp_len += iov[i].iov_len;
	}
	return 0;
}

static void op_kick(void *c, int err, void *user)
{
	((struct fconn *)c)->kicked = err;
}

static int op_authorize(void *c, const uint8_t cid[PN_RELAY_ID_LEN], const uint8_t *acl, size_t len,
			uint64_t now, void *user)
{
	return pn_relay_auth_open(W.anchor, ((struct fconn *)c)->info, cid, acl, len, W.now_s);
}

/* As the server glue: the decision is pn_relay_auth_renew's. */
static int op_renew(void *c, const uint8_t *cert, size_t len, uint64_t *not_after, void *user)
{
	struct fconn *fc = c;
	struct pn_cred_info ni;
	int r = pn_relay_auth_renew(W.anchor, fc->info, cert, len, W.now_s, &ni);

	if (r)
		return r;
	*fc->info = ni;
	*not_after = ni.not_after;
	return 0;
}

static int op_connector_valid(void *c, void *user)
{
	struct fconn *fc = c;
	return W.now_s > fc->info->not_after + PN_TRUST_DEFAULT_SKEW ? PN_E_EXPIRED : 0;
}

/* A conn's lane is its id. */
static int op_lane(void *c, unsigned *lane, unsigned *nlanes, void *user)
{
	*lane = (unsigned)((struct fconn *)c)->id;
	*nlanes = W.nlanes;
	return W.nlanes ? 0 : -1;
}

static const struct pn_relay_core_ops ops = {
    op_send_frame, op_send_data,       op_send_udp, op_kick, op_authorize,
    op_renew,      op_connector_valid, op_lane};

static const struct pn_relay_msg *last(struct fconn *c)
{
	assert_true(c->nframes > 0);
	return &c->last[(c->nframes - 1) % MAXF];
}

static int setup(void **state)
{
	struct pn_relay_limits lim;

	memset(&W, 0, sizeof(W));
	W.now_s = (uint64_t)time(NULL);
	assert_int_equal(pn_ca_new(W.now_s - 100, &W.ca), 0);
	assert_int_equal(pn_anchor_from_ca(W.ca, &W.anchor), 0);
	assert_int_equal(tpki_issue(W.ca, PN_CRED_CLIENT, "c", W.now_s - 10, 600, &W.client), 0);
	assert_int_equal(tpki_issue(W.ca, PN_CRED_CONNECTOR, "k", W.now_s - 10, 600, &W.conn), 0);
	assert_int_equal(tpki_issue(W.ca, PN_CRED_CONNECTOR, "k2", W.now_s - 10, 600, &W.conn2), 0);
	assert_int_equal(tpki_client_acl(W.ca, &W.client.info, W.conn.info.id, W.now_s - 10,
					 W.now_s + 600, &W.acl, &W.acl_len),
			 0);
	pn_relay_limits_default(&lim);
	lim.max_sessions_per_conn = 3;
	lim.max_open_per_sec = 5;
	lim.session_idle_ms = 1000;
	lim.open_hold_ms = 0; /* refused at once; test_open_held holds */
	assert_int_equal(pn_relay_core_new(&lim, &ops, NULL, &W.core), 0);
	return 0;
}

static int teardown(void **state)
{
	pn_relay_core_free(W.core);
	free(W.acl);
	tpki_cred_free(&W.client);
	tpki_cred_free(&W.conn);
	tpki_cred_free(&W.conn2);
	pn_anchor_free(W.anchor);
	pn_ca_free(W.ca);
	return 0;
}

static int frame(struct pn_relay_peer *p, const struct pn_relay_msg *m, uint64_t now)
{
	static uint8_t tmp[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
	struct pn_relay_frame f;
	struct pn_buf b;
	size_t used;

	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	assert_int_equal(pn_relay_msg_encode(m, &b), 0);
	assert_int_equal(pn_relay_frame_next(tmp, pn_buf_len(&b), &f, &used), 0);
	return pn_relay_core_frame(W.core, p, &f, now);
}

static void open_req(struct pn_relay_peer *p, uint32_t tag, const uint8_t *cid, uint64_t now)
{
	struct pn_relay_msg m = {
	    .type = PN_RELAY_F_OPEN, .tag = tag, .acl = W.acl, .acl_len = W.acl_len};
	memcpy(m.id, cid, PN_RELAY_ID_LEN);
	assert_int_equal(frame(p, &m, now), 0);
}

static void mkaddr(struct pn_relay_addr *a, struct sockaddr_in *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &sa->sin_addr);
	pn_relay_addr_from_sa(a, (struct sockaddr *)sa);
}

static void udp(const struct pn_relay_addr *a, const struct sockaddr_in *sa, const uint8_t *p,
		size_t n, uint64_t now, struct pn_relay_route *rt, uint8_t *reply)
{
	pn_relay_core_udp(W.core, a, (const struct sockaddr *)sa, p, n, now, reply, rt);
}

/* A side binds UDP from a new address: BIND, CHALLENGE, CONFIRM, BIND_OK. */
static void bind_confirm(const struct pn_relay_addr *a, const struct sockaddr_in *sa,
			 const uint8_t *sid, enum pn_relay_side side, uint64_t counter,
			 const uint8_t *secret, uint64_t now)
{
	uint8_t bind[PN_RELAY_BIND_LEN], reply[PN_RELAY_REPLY_MAX], confirm[PN_RELAY_CONFIRM_LEN];
	struct pn_relay_route rt;

	pn_relay_bind_encode(bind, sid, side, counter, secret);
	udp(a, sa, bind, sizeof(bind), now, &rt, reply);
	assert_int_equal(rt.reply_len, PN_RELAY_CHALLENGE_LEN);
	pn_relay_confirm_encode(confirm, sid, side, counter, pn_relay_challenge_cookie(reply),
				secret);
	udp(a, sa, confirm, sizeof(confirm), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	assert_int_equal(rt.reply_len, PN_RELAY_BIND_OK_LEN);
}

static void test_session_lifecycle(void **state)
{
	struct fconn cc = {.id = 1, .info = &W.client.info}, kc = {.id = 2, .info = &W.conn.info};
	struct pn_relay_peer *cl, *co;
	struct pn_relay_msg reg = {.type = PN_RELAY_F_REGISTER};
	uint8_t sid[PN_RELAY_SID_LEN], csec[PN_RELAY_SECRET_LEN], ksec[PN_RELAY_SECRET_LEN];
	uint8_t bind[PN_RELAY_BIND_LEN], reply[PN_RELAY_REPLY_MAX], data[100];
	uint8_t confirm[PN_RELAY_CONFIRM_LEN], cookie[PN_RELAY_COOKIE_LEN];
	struct pn_relay_addr ca, ka, xa;
	struct sockaddr_in cs, ks, xs;
	struct pn_relay_route rt;
	uint64_t now = 1000;

	(void)state;
	mkaddr(&ca, &cs, "10.201.1.2", 5000);
	mkaddr(&ka, &ks, "10.201.2.2", 6000);
	mkaddr(&xa, &xs, "10.201.1.3", 5000);
	co = pn_relay_core_attach(W.core, &kc, PN_RELAY_ROLE_CONNECTOR, W.conn.info.id);
	cl = pn_relay_core_attach(W.core, &cc, PN_RELAY_ROLE_CLIENT, W.client.info.id);
	assert_non_null(co);
	assert_non_null(cl);

	/* Before the connector registers: authorized, but nobody to pair with. */
	open_req(cl, 1, W.conn.info.id, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_ERROR);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_NO_CONNECTOR);
	assert_int_equal(frame(co, &reg, now), 0);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_REGISTERED);
	/* A client cannot register. */
	assert_int_equal(frame(cl, &reg, now), 0);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_BAD_ROLE);

	open_req(cl, 2, W.conn.info.id, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	assert_int_equal(last(&cc)->tag, 2);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_SESSION);
	assert_memory_equal(last(&kc)->id, W.client.info.id, PN_RELAY_ID_LEN);
	assert_memory_equal(last(&kc)->sid, last(&cc)->sid, PN_RELAY_SID_LEN);
	/* Each side gets its own secret. */
	assert_memory_not_equal(last(&kc)->secret, last(&cc)->secret, PN_RELAY_SECRET_LEN);
	memcpy(sid, last(&cc)->sid, sizeof(sid));
	memcpy(csec, last(&cc)->secret, sizeof(csec));
	memcpy(ksec, last(&kc)->secret, sizeof(ksec));
	assert_int_equal(pn_relay_core_stats(W.core)->sessions, 1);

	/* DATA before any BIND: the source proved nothing, dropped. */
	data[0] = PN_RELAY_UDP_DATA;
	memcpy(data + 1, sid, sizeof(sid));
	memset(data + 9, 0x77, sizeof(data) - 9);
	udp(&ca, &cs, data, sizeof(data), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);

	/* BIND with the other side's secret, or claiming the other side: refused. */
	pn_relay_bind_encode(bind, sid, PN_RELAY_SIDE_CLIENT, 1, ksec);
	udp(&ca, &cs, bind, sizeof(bind), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	pn_relay_bind_encode(bind, sid, PN_RELAY_SIDE_CONNECTOR, 1, csec);
	udp(&ca, &cs, bind, sizeof(bind), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	/* The client's BIND from a new address: a 25-byte CHALLENGE, nothing bound yet. */
	pn_relay_bind_encode(bind, sid, PN_RELAY_SIDE_CLIENT, 1, csec);
	udp(&ca, &cs, bind, sizeof(bind), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	assert_int_equal(rt.reply_len, PN_RELAY_CHALLENGE_LEN);
	assert_int_equal(pn_relay_udp_classify(reply, rt.reply_len), PN_RELAY_KIND_CHALLENGE);
	assert_true(pn_relay_challenge_counter(reply) == 1);
	memcpy(cookie, pn_relay_challenge_cookie(reply), sizeof(cookie));
	udp(&ca, &cs, data, sizeof(data), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	/* The cookie does not work from another address (no reflection). */
	pn_relay_confirm_encode(confirm, sid, PN_RELAY_SIDE_CLIENT, 1, cookie, csec);
	udp(&xa, &xs, confirm, sizeof(confirm), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	/* A CONFIRM keyed with the wrong secret, or a forged cookie: refused. */
	pn_relay_confirm_encode(confirm, sid, PN_RELAY_SIDE_CLIENT, 1, cookie, ksec);
	udp(&ca, &cs, confirm, sizeof(confirm), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	cookie[0] ^= 1;
	pn_relay_confirm_encode(confirm, sid, PN_RELAY_SIDE_CLIENT, 1, cookie, csec);
	udp(&ca, &cs, confirm, sizeof(confirm), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	cookie[0] ^= 1;
	/* From the address it was made for: bound, answered with 17 bytes. */
	pn_relay_confirm_encode(confirm, sid, PN_RELAY_SIDE_CLIENT, 1, cookie, csec);
	udp(&ca, &cs, confirm, sizeof(confirm), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	assert_int_equal(rt.reply_len, PN_RELAY_BIND_OK_LEN);
	assert_true(pn_relay_bind_ok_counter(reply) == 1);
	/* Replayed (from anywhere): refused, the counter must grow. */
	udp(&ca, &cs, confirm, sizeof(confirm), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	udp(&xa, &xs, bind, sizeof(bind), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	/* A keepalive BIND from the bound address is answered at once. */
	pn_relay_bind_encode(bind, sid, PN_RELAY_SIDE_CLIENT, 2, csec);
	udp(&ca, &cs, bind, sizeof(bind), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	assert_int_equal(rt.reply_len, PN_RELAY_BIND_OK_LEN);

	/* Client DATA while the connector has no UDP: over its stream. */
	udp(&ca, &cs, data, sizeof(data), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_STREAM);
	assert_ptr_equal(rt.conn, &kc);
	/* Same bytes from a stranger: dropped. */
	udp(&xa, &xs, data, sizeof(data), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	assert_int_equal(pn_relay_core_stats(W.core)->drop_addr,
			 3); /* and the two DATA before the binding */

	/* The connector binds UDP: client DATA now goes to its address. */
	bind_confirm(&ka, &ks, sid, PN_RELAY_SIDE_CONNECTOR, 7, ksec, now);
	udp(&ca, &cs, data, sizeof(data), now, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_UDP);
	assert_true(pn_relay_addr_eq(&rt.to, &ka));

	/* A DATA frame from the connector's stream to the UDP-bound client. */
	{
		struct pn_relay_msg d = {
		    .type = PN_RELAY_F_DATA, .payload = data + 9, .payload_len = 50};
		memcpy(d.sid, sid, sizeof(sid));
		W.nudp = 0;
		assert_int_equal(frame(co, &d, now), 0);
		assert_int_equal(W.nudp, 1);
		assert_true(pn_relay_addr_eq(&W.udp_to, &ca));
		assert_int_equal(W.udp_len, 9 + 50);
		assert_memory_equal(W.udp_buf, data, 9 + 50); /* same header, same bytes */
		/* A peer that is not a side of the session cannot inject. */
		struct fconn oc = {.id = 3, .info = &W.conn2.info};
		struct pn_relay_peer *other =
		    pn_relay_core_attach(W.core, &oc, PN_RELAY_ROLE_CONNECTOR, W.conn2.info.id);
		W.nudp = 0;
		assert_int_equal(frame(other, &d, now), 0);
		assert_int_equal(W.nudp, 0);
		pn_relay_core_detach(W.core, other);
	}

	/* The client closes: the connector hears of it, the session is gone. */
	{
		struct pn_relay_msg c = {.type = PN_RELAY_F_CLOSE};
		memcpy(c.sid, sid, sizeof(sid));
		assert_int_equal(frame(cl, &c, now), 0);
		assert_int_equal(last(&kc)->type, PN_RELAY_F_CLOSE);
		assert_int_equal(pn_relay_core_stats(W.core)->sessions, 0);
		udp(&ca, &cs, data, sizeof(data), now, &rt, reply);
		assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	}

	/* Idle expiry tells both sides. */
	open_req(cl, 3, W.conn.info.id, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	assert_int_equal(pn_relay_core_tick(W.core, now + 500), 0);
	assert_int_equal(pn_relay_core_tick(W.core, now + 1000), 1);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_CLOSE);
	assert_int_equal(last(&cc)->code, PN_E_TIMEOUT);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_CLOSE);

	/* Connector gone: the client's sessions close with it. */
	open_req(cl, 4, W.conn.info.id, now + 2000);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	pn_relay_core_detach(W.core, co);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_CLOSE);
	assert_int_equal(pn_relay_core_stats(W.core)->sessions, 0);
	assert_int_equal(pn_relay_core_stats(W.core)->connectors, 0);
	pn_relay_core_detach(W.core, cl);
	assert_int_equal(pn_relay_core_stats(W.core)->peers, 0);
}

static void test_authorization_and_caps(void **state)
{
	struct fconn cc = {.id = 1, .info = &W.client.info}, kc = {.id = 2, .info = &W.conn.info},
		     k2 = {.id = 3, .info = &W.conn2.info}, kdup = {.id = 4, .info = &W.conn.info};
	struct pn_relay_msg reg = {.type = PN_RELAY_F_REGISTER};
	struct pn_relay_peer *cl, *co, *co2, *dup;
	uint64_t now = 50000;

	(void)state;
	co = pn_relay_core_attach(W.core, &kc, PN_RELAY_ROLE_CONNECTOR, W.conn.info.id);
	co2 = pn_relay_core_attach(W.core, &k2, PN_RELAY_ROLE_CONNECTOR, W.conn2.info.id);
	cl = pn_relay_core_attach(W.core, &cc, PN_RELAY_ROLE_CLIENT, W.client.info.id);
	assert_int_equal(frame(co, &reg, now), 0);
	assert_int_equal(frame(co2, &reg, now), 0);
	/* The list names conn, not conn2. */
	open_req(cl, 1, W.conn2.info.id, now);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_NOT_AUTHORIZED);
	/* A connector cannot open sessions. */
	open_req(co2, 2, W.conn.info.id, now);
	assert_int_equal(last(&k2)->code, PN_E_RELAY_BAD_ROLE);
	/* Per-connection cap 3. */
	for (uint32_t t = 10; t < 13; t++) {
		open_req(cl, t, W.conn.info.id, now);
		assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	}
	open_req(cl, 13, W.conn.info.id, now);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_LIMIT);
	assert_int_equal(pn_relay_core_stats(W.core)->opens_denied, 3);
	/* Rate: 5 OPENs per second; after closing sessions the cap allows more,
	 * but the bucket is empty until the next second. */
	{
		struct pn_relay_msg c = {.type = PN_RELAY_F_CLOSE};
		memcpy(c.sid, last(&kc)->sid, PN_RELAY_SID_LEN);
		assert_int_equal(frame(cl, &c, now), 0);
	}
	open_req(cl, 14, W.conn.info.id, now + 10);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_LIMIT);
	open_req(cl, 15, W.conn.info.id, now + 1000);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	/* A second registration of the same connector replaces the first. */
	dup = pn_relay_core_attach(W.core, &kdup, PN_RELAY_ROLE_CONNECTOR, W.conn.info.id);
	assert_int_equal(frame(dup, &reg, now), 0);
	assert_int_equal(kc.kicked, PN_E_RELAY_REPLACED);
	assert_int_equal(pn_relay_core_stats(W.core)->connectors, 2);
	/* Relay-to-peer frames from a peer are protocol errors. */
	{
		struct pn_relay_msg bad = {.type = PN_RELAY_F_REGISTERED};
		assert_int_equal(frame(cl, &bad, now), PN_E_RELAY_PROTOCOL);
	}
	pn_relay_core_detach(W.core, cl);
	pn_relay_core_detach(W.core, co);
	pn_relay_core_detach(W.core, co2);
	pn_relay_core_detach(W.core, dup);
	assert_int_equal(pn_relay_core_stats(W.core)->sessions, 0);
	assert_int_equal(pn_relay_core_stats(W.core)->connectors, 0);
}

/* RENEW body: the credential as DER. */
static void renew(struct pn_relay_peer *p, const struct tpki_cred *c, uint64_t now)
{
	gnutls_datum_t pem = {(unsigned char *)c->cert_pem, (unsigned)strlen(c->cert_pem)}, der;
	struct pn_relay_msg m = {.type = PN_RELAY_F_RENEW};

	assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der), 0);
	m.cert = der.data;
	m.cert_len = der.size;
	assert_int_equal(frame(p, &m, now), 0);
	gnutls_free(der.data);
}

/*
 * A long-lived connection outlives its handshake credential: OPENs are
 * refused once it expired (client: PN_E_EXPIRED; its connector: no
 * connector), and work again on the same connection after RENEW with the
 * same holder's renewed credential.  A credential for another key, another
 * id or another type is refused and the connection kicked.
 */
static void test_renew(void **state)
{
	struct tpki_cred old, oldk, cnew, knew, rekey;
	uint8_t *acl;
	size_t acl_len;
	struct pn_relay_msg reg = {.type = PN_RELAY_F_REGISTER};
	uint64_t now = 1000, t0 = W.now_s - 1000;

	(void)state;
	/* Credentials that expired 990 s ago (far beyond the skew). */
	assert_int_equal(tpki_issue(W.ca, PN_CRED_CLIENT, "old", t0, 10, &old), 0);
	assert_int_equal(tpki_issue(W.ca, PN_CRED_CONNECTOR, "oldk", t0, 10, &oldk), 0);
	assert_int_equal(tpki_client_acl(W.ca, &old.info, oldk.info.id, W.now_s - 10,
					 W.now_s + 600, &acl, &acl_len),
			 0);
	struct pn_cred_info ci = old.info, ki = oldk.info;
	struct fconn cc = {.id = 1, .info = &ci}, kc = {.id = 2, .info = &ki};
	struct pn_relay_peer *cl = pn_relay_core_attach(W.core, &cc, PN_RELAY_ROLE_CLIENT, ci.id);
	struct pn_relay_peer *co = pn_relay_core_attach(W.core, &kc, PN_RELAY_ROLE_CONNECTOR, ki.id);
	struct pn_relay_msg o = {
	    .type = PN_RELAY_F_OPEN, .tag = 1, .acl = acl, .acl_len = acl_len};

	memcpy(o.id, ki.id, PN_RELAY_ID_LEN);
	assert_int_equal(frame(co, &reg, now), 0);
	assert_int_equal(frame(cl, &o, now), 0);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_ERROR);
	assert_int_equal(last(&cc)->code, PN_E_EXPIRED);
	/* The client renews on its connection; the connector has not yet. */
	assert_int_equal(tpki_reissue(W.ca, &old, 0, W.now_s - 5, 600, &cnew), 0);
	renew(cl, &cnew, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_RENEWED);
	assert_true(last(&cc)->not_after == cnew.info.not_after);
	assert_int_equal(cc.kicked, 0);
	o.tag = 2;
	assert_int_equal(frame(cl, &o, now), 0);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_NO_CONNECTOR);
	assert_int_equal(tpki_reissue(W.ca, &oldk, 0, W.now_s - 5, 600, &knew), 0);
	renew(co, &knew, now);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_RENEWED);
	o.tag = 3;
	assert_int_equal(frame(cl, &o, now), 0);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_SESSION);
	/* Same id, another key: refused, the connection is kicked. */
	assert_int_equal(tpki_reissue(W.ca, &old, 1, W.now_s - 5, 600, &rekey), 0);
	renew(cl, &rekey, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_ERROR);
	assert_int_equal(last(&cc)->tag, 0);
	assert_int_equal(last(&cc)->code, PN_E_WRONG_HOLDER);
	assert_int_equal(cc.kicked, PN_E_WRONG_HOLDER);
	assert_memory_equal(ci.key_fpr, old.info.key_fpr, PN_FPR_LEN); /* unchanged */
	/* Another holder of the same type; another type; an expired one. */
	renew(co, &W.conn, now);
	assert_int_equal(last(&kc)->code, PN_E_WRONG_ID);
	assert_int_equal(kc.kicked, PN_E_WRONG_ID);
	kc.kicked = 0;
	renew(co, &cnew, now);
	assert_int_equal(last(&kc)->code, PN_E_WRONG_TYPE);
	renew(co, &oldk, now);
	assert_int_equal(last(&kc)->code, PN_E_EXPIRED);
	/* Malformed certificate bytes. */
	{
		uint8_t junk[40] = {0x30, 0x26};
		struct pn_relay_msg m = {.type = PN_RELAY_F_RENEW, .cert = junk, .cert_len = 40};
		assert_int_equal(frame(co, &m, now), 0);
		assert_int_equal(last(&kc)->code, PN_E_MALFORMED);
	}
	/* RENEW shares OPEN's budget (5 per second here): refused, not kicked. */
	kc.kicked = 0;
	renew(co, &knew, now);
	assert_int_equal(last(&kc)->code, PN_E_RELAY_LIMIT);
	assert_int_equal(kc.kicked, 0);
	renew(co, &knew, now + 1000);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_RENEWED);
	pn_relay_core_detach(W.core, cl);
	pn_relay_core_detach(W.core, co);
	free(acl);
	tpki_cred_free(&old);
	tpki_cred_free(&oldk);
	tpki_cred_free(&cnew);
	tpki_cred_free(&knew);
	tpki_cred_free(&rekey);
}

static void test_stun_and_garbage(void **state)
{
	uint8_t req[PN_STUN_REQUEST_LEN], txid[PN_STUN_TXID_LEN] = {9}, reply[PN_RELAY_REPLY_MAX],
					  junk[64];
	struct pn_relay_addr a;
	struct sockaddr_in sa;
	struct sockaddr_storage m;
	struct pn_relay_route rt;

	(void)state;
	mkaddr(&a, &sa, "10.201.1.2", 4444);
	pn_stun_build_request(txid, req);
	udp(&a, &sa, req, sizeof(req), 1, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_REPLY);
	assert_true(rt.reply_len <= sizeof(req));
	assert_int_equal(pn_stun_parse_response(reply, rt.reply_len, txid, &m), 0);
	assert_int_equal(((struct sockaddr_in *)&m)->sin_port, sa.sin_port);
	/* The same request trimmed to its header: no answer at all. */
	req[2] = req[3] = 0;
	udp(&a, &sa, req, PN_STUN_HDR, 1, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	memset(junk, 0xd2, sizeof(junk));
	udp(&a, &sa, junk, 17, 1, &rt, reply); /* BIND_OK is relay -> peer only */
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
	udp(&a, &sa, junk, sizeof(junk), 1, &rt, reply);
	assert_int_equal(rt.kind, PN_RELAY_ROUTE_DROP);
}

/*
 * A client's OPEN for a connector that has not registered yet is held and
 * becomes a session the moment the connector registers (cold start: the
 * client does not go into its retry backoff); past the hold it is refused
 * as before; a client gone while held leaves nothing behind; the number
 * held per connection is capped.
 */
static void test_open_held(void **state)
{
	struct fconn cc = {.id = 1, .info = &W.client.info}, kc = {.id = 2, .info = &W.conn.info};
	struct fconn cc2 = {.id = 3, .info = &W.client.info};
	struct pn_relay_msg reg = {.type = PN_RELAY_F_REGISTER};
	struct pn_relay_peer *cl, *co, *cl2;
	struct pn_relay_limits lim;
	uint64_t now = 1000;

	(void)state;
	pn_relay_limits_default(&lim);
	assert_true(lim.open_hold_ms > 0); /* on by default */
	lim.open_hold_ms = 800;
	lim.session_idle_ms = 60000;
	assert_int_equal(pn_relay_core_set_limits(W.core, &lim), 0);
	cl = pn_relay_core_attach(W.core, &cc, PN_RELAY_ROLE_CLIENT, W.client.info.id);
	co = pn_relay_core_attach(W.core, &kc, PN_RELAY_ROLE_CONNECTOR, W.conn.info.id);
	assert_non_null(cl);
	assert_non_null(co);

	/* Held: no answer yet, nothing expired before the hold is over. */
	open_req(cl, 7, W.conn.info.id, now);
	assert_int_equal(cc.nframes, 0);
	assert_int_equal(pn_relay_core_stats(W.core)->opens_held, 1);
	pn_relay_core_tick(W.core, now + 799);
	assert_int_equal(cc.nframes, 0);
	/* The connector registers: REGISTERED, then the held OPEN's session. */
	assert_int_equal(frame(co, &reg, now + 20), 0);
	assert_int_equal(kc.nframes, 2);
	assert_int_equal(kc.last[0].type, PN_RELAY_F_REGISTERED);
	assert_int_equal(kc.last[1].type, PN_RELAY_F_SESSION);
	assert_int_equal(cc.nframes, 1);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	assert_int_equal(last(&cc)->tag, 7);
	assert_memory_equal(last(&cc)->sid, kc.last[1].sid, PN_RELAY_SID_LEN);
	assert_int_equal(pn_relay_core_stats(W.core)->sessions, 1);
	assert_int_equal(pn_relay_core_stats(W.core)->opens_denied, 0);

	/* The connector leaves; an OPEN for it waits out the hold, then is
	 * refused as without one. */
	pn_relay_core_detach(W.core, co);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_CLOSE);
	open_req(cl, 8, W.conn.info.id, now + 100);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_CLOSE);
	pn_relay_core_tick(W.core, now + 899);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_CLOSE);
	pn_relay_core_tick(W.core, now + 900);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_ERROR);
	assert_int_equal(last(&cc)->tag, 8);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_NO_CONNECTOR);

	/* A client gone while its OPEN is held: the connector that then
	 * registers gets no session. */
	cl2 = pn_relay_core_attach(W.core, &cc2, PN_RELAY_ROLE_CLIENT, W.client.info.id);
	assert_non_null(cl2);
	open_req(cl2, 9, W.conn.info.id, now + 1000);
	pn_relay_core_detach(W.core, cl2);
	kc.nframes = 0;
	co = pn_relay_core_attach(W.core, &kc, PN_RELAY_ROLE_CONNECTOR, W.conn.info.id);
	assert_int_equal(frame(co, &reg, now + 1001), 0);
	assert_int_equal(kc.nframes, 1);
	assert_int_equal(last(&kc)->type, PN_RELAY_F_REGISTERED);
	assert_int_equal(pn_relay_core_stats(W.core)->sessions, 0);
	pn_relay_core_detach(W.core, co);

	/* At most PN_RELAY_MAX_HELD_PER_CONN held per connection; more are
	 * refused at once (within the OPEN rate limit). */
	lim.max_open_per_sec = 100;
	assert_int_equal(pn_relay_core_set_limits(W.core, &lim), 0);
	cc.nframes = 0;
	for (uint32_t i = 0; i < PN_RELAY_MAX_HELD_PER_CONN; i++)
		open_req(cl, 100 + i, W.conn.info.id, now + 3000);
	assert_int_equal(cc.nframes, 0);
	open_req(cl, 200, W.conn.info.id, now + 3000);
	assert_int_equal(cc.nframes, 1);
	assert_int_equal(last(&cc)->code, PN_E_RELAY_NO_CONNECTOR);
	assert_int_equal(last(&cc)->tag, 200);
	/* Detach with OPENs held, then free with none: nothing leaks (ASan). */
	pn_relay_core_detach(W.core, cl);
	assert_int_equal(pn_relay_core_stats(W.core)->peers, 0);
}

/* Steering (ops->lane): a new session's sid[7] % nlanes is the lane of
 * the client's stream, or of the connector's once it has sent DATA on
 * its stream, until it binds UDP. */
static void test_steering(void **state)
{
	struct fconn cc = {.id = 2, .info = &W.client.info}, kc = {.id = 5, .info = &W.conn.info};
	struct pn_relay_peer *cl, *co;
	struct pn_relay_msg reg = {.type = PN_RELAY_F_REGISTER}, d = {.type = PN_RELAY_F_DATA};
	struct pn_relay_msg cm = {.type = PN_RELAY_F_CLOSE};
	uint8_t pl[4] = {1, 2, 3, 4}, sid[PN_RELAY_SID_LEN], ksec[PN_RELAY_SECRET_LEN];
	struct pn_relay_addr ka;
	struct sockaddr_in ks;
	uint64_t now = 1000;

	(void)state;
	W.nlanes = 7;
	co = pn_relay_core_attach(W.core, &kc, PN_RELAY_ROLE_CONNECTOR, W.conn.info.id);
	cl = pn_relay_core_attach(W.core, &cc, PN_RELAY_ROLE_CLIENT, W.client.info.id);
	assert_non_null(co);
	assert_non_null(cl);
	assert_int_equal(frame(co, &reg, now), 0);
	for (uint32_t i = 0; i < 2; i++) {
		open_req(cl, 10 + i, W.conn.info.id, now);
		assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
		assert_int_equal(last(&cc)->sid[PN_RELAY_SID_LEN - 1] % 7, 2);
	}
	/* The connector carries DATA on its stream: its lane from now on. */
	memcpy(d.sid, last(&cc)->sid, PN_RELAY_SID_LEN);
	d.payload = pl;
	d.payload_len = sizeof(pl);
	assert_int_equal(frame(co, &d, now), 0);
	assert_int_equal(cc.ndata, 1);
	memcpy(cm.sid, d.sid, PN_RELAY_SID_LEN); /* to end the first session */
	open_req(cl, 12, W.conn.info.id, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	assert_int_equal(last(&cc)->sid[PN_RELAY_SID_LEN - 1] % 7, 5);
	memcpy(sid, last(&kc)->sid, sizeof(sid));
	memcpy(ksec, last(&kc)->secret, sizeof(ksec));
	/* It binds UDP (BIND, CHALLENGE, CONFIRM): the client's lane again. */
	mkaddr(&ka, &ks, "10.201.2.2", 6000);
	bind_confirm(&ka, &ks, sid, PN_RELAY_SIDE_CONNECTOR, 1, ksec, now);
	assert_int_equal(pn_relay_core_stats(W.core)->binds_ok, 1);
	assert_int_equal(frame(cl, &cm, now), 0);
	open_req(cl, 13, W.conn.info.id, now);
	assert_int_equal(last(&cc)->type, PN_RELAY_F_OPENED);
	assert_int_equal(last(&cc)->sid[PN_RELAY_SID_LEN - 1] % 7, 2);
	pn_relay_core_detach(W.core, cl);
	pn_relay_core_detach(W.core, co);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_session_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_authorization_and_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stun_and_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_steering, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
