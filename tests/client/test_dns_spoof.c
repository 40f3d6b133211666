/* Security case 13, "DNS spoofing: guessed txids" (docs/security.md): the
 * client's responder forwards a non-protected name's query to the host's
 * resolver with a fresh random id from a fresh random port, and accepts
 * only the answer from the resolver asked with that id and the query's
 * question.  A fake upstream on 127.0.0.1 answers every query after four
 * forgeries, all carrying a poisoned address: from another address
 * (127.0.0.2, the resolver's port), from the resolver's address but
 * another port, with a wrong id, and with the right id but another
 * question.  The requester (fixed id 0x1234, as a careless stub would use)
 * must get the real answer with its own id, every time; the ids and ports
 * the upstream saw must vary.  Also over TCP: a reply with a wrong id is
 * refused, the right one comes back with the requester's id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <uv.h>

#include "client/dns_resolve.h"
#include "client/dns_server.h"
#include "core/buf.h"
#include "core/dns_msg.h"

#define QUERIES	  20
#define REQ_ID	  0x1234
#define REAL_ADDR 0x0a090807u /* 10.9.8.7 */
#define EVIL_ADDR 0x06060606u /* 6.6.6.6 */

static uv_loop_t loop;
static uv_udp_t up, spoof_addr, spoof_port, req;
static uv_tcp_t tup;
static uv_timer_t guard, later;
static struct pn_dnssrv *srv;
static struct sockaddr_in up_sa, srv_sa;
static uint16_t seen_ids[QUERIES], seen_ports[QUERIES];
static unsigned nseen, nanswers, ntcp;
static uint8_t last_q[512];
static size_t last_qlen;
static struct sockaddr_in last_from;
static uint8_t tcp_in[600];
static size_t tcp_inlen;
static int failed;

static int not_protected(void *user, const char *name)
{
	(void)user;
	(void)name;
	return 0;
}

/* A reply to query q: QR, RA, one A record for the question's name. */
static size_t make_reply(const uint8_t *q, size_t qlen, uint16_t id, uint32_t addr, uint8_t *out)
{
	static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
	uint32_t a = htonl(addr);
	size_t n;
	struct pn_dns_msg m;

	assert_int_equal(pn_dns_parse(q, qlen, &m), 0);
	/* header + question only (no OPT: the test's queries have none) */
	n = qlen;
	memcpy(out, q, n);
	pn_store_be16(out, id);
	pn_store_be16(out + 2, (uint16_t)(pn_load_be16(q + 2) | PN_DNS_F_QR | 0x0080));
	pn_store_be16(out + 6, 1);
	memcpy(out + n, rr, sizeof(rr));
	memcpy(out + n + sizeof(rr), &a, 4);
	return n + sizeof(rr) + 4;
}

static void noalloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[4096];
	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void send_to(uv_udp_t *u, const uint8_t *p, size_t n, const struct sockaddr_in *to)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	assert_true(uv_udp_try_send(u, &b, 1, (const struct sockaddr *)to) == (int)n);
}

static void real_answer(uv_timer_t *t)
{
	uint8_t r[600];
	size_t n = make_reply(last_q, last_qlen, pn_load_be16(last_q), REAL_ADDR, r);
	(void)t;
	send_to(&up, r, n, &last_from);
}

/* The fake upstream: forgeries first, the real answer 30 ms later. */
static void up_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		    unsigned flags)
{
	uint8_t r[600], other[512];
	size_t rn, on;
	uint16_t id;

	(void)u;
	(void)flags;
	if (n <= 0 || !from || (size_t)n > sizeof(last_q))
		return;
	memcpy(last_q, buf->base, (size_t)n);
	last_qlen = (size_t)n;
	memcpy(&last_from, from, sizeof(last_from));
	id = pn_load_be16(last_q);
	if (nseen < QUERIES) {
		seen_ids[nseen] = id;
		seen_ports[nseen] = ntohs(last_from.sin_port);
		nseen++;
	}
	rn = make_reply(last_q, last_qlen, id, EVIL_ADDR, r);
	send_to(&spoof_addr, r, rn, &last_from); /* another address */
	send_to(&spoof_port, r, rn, &last_from); /* another port */
	rn = make_reply(last_q, last_qlen, (uint16_t)(id ^ 0x5a5a), EVIL_ADDR, r);
	send_to(&up, r, rn, &last_from); /* wrong id */
	assert_int_equal(pn_dns_query(id, "evil.example", PN_DNS_T_A, 0, other, sizeof(other), &on),
			 0);
	rn = make_reply(other, on, id, EVIL_ADDR, r);
	send_to(&up, r, rn, &last_from); /* right id, another question */
	uv_timer_start(&later, real_answer, 30, 0);
}

static void ask(void)
{
	uint8_t q[512];
	size_t n;
	assert_int_equal(pn_dns_query(REQ_ID, "public.example", PN_DNS_T_A, 0, q, sizeof(q), &n), 0);
	send_to(&req, q, n, &srv_sa);
}

static void stop_all(void);

/* TCP: the upstream answers with a wrong id first on one connection (the
 * responder gives that attempt up), then right on the next. */
static void tup_written(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void tup_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	uint8_t r[2 + 600];
	size_t rn;
	uv_write_t *w;
	uv_buf_t b;

	if (n < 0) {
		uv_close((uv_handle_t *)s, (uv_close_cb)free);
		return;
	}
	if ((size_t)n > sizeof(tcp_in) - tcp_inlen)
		return;
	memcpy(tcp_in + tcp_inlen, buf->base, (size_t)n);
	tcp_inlen += (size_t)n;
	if (tcp_inlen < 2 || tcp_inlen < 2u + pn_load_be16(tcp_in))
		return;
	ntcp++;
	rn = make_reply(tcp_in + 2, tcp_inlen - 2,
			(uint16_t)(pn_load_be16(tcp_in + 2) ^ (ntcp == 1 ? 0x5a5a : 0)),
			ntcp == 1 ? EVIL_ADDR : REAL_ADDR, r + 2);
	pn_store_be16(r, (uint16_t)rn);
	tcp_inlen = 0;
	assert_non_null(w = malloc(sizeof(*w)));
	b = uv_buf_init((char *)r, (unsigned)rn + 2);
	assert_int_equal(uv_write(w, s, &b, 1, tup_written), 0);
}

static void tup_conn(uv_stream_t *l, int status)
{
	uv_tcp_t *c = malloc(sizeof(*c));
	assert_int_equal(status, 0);
	assert_non_null(c);
	uv_tcp_init(&loop, c);
	assert_int_equal(uv_accept(l, (uv_stream_t *)c), 0);
	tcp_inlen = 0;
	uv_read_start((uv_stream_t *)c, noalloc, tup_read);
}

static uv_tcp_t treq;
static int treq_init;
static uv_connect_t treq_conn;
static uint8_t treq_in[600];
static size_t treq_len;

static void check_answer(const uint8_t *p, size_t n)
{
	uint32_t a;
	if (n < 4 || pn_load_be16(p) != REQ_ID) {
		failed = 1;
		return;
	}
	memcpy(&a, p + n - 4, 4);
	if (ntohl(a) != REAL_ADDR)
		failed = 2; /* a forgery got through */
}

static void treq_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)s;
	if (n < 0) {
		failed = 3;
		stop_all();
		return;
	}
	if ((size_t)n > sizeof(treq_in) - treq_len)
		return;
	memcpy(treq_in + treq_len, buf->base, (size_t)n);
	treq_len += (size_t)n;
	if (treq_len >= 2 && treq_len >= 2u + pn_load_be16(treq_in)) {
		check_answer(treq_in + 2, treq_len - 2);
		nanswers++;
		stop_all();
	}
}

static void treq_connected(uv_connect_t *c, int status)
{
	static uint8_t q[2 + 512];
	static uv_write_t w;
	size_t n;
	uv_buf_t b;

	(void)c;
	assert_int_equal(status, 0);
	assert_int_equal(pn_dns_query(REQ_ID, "public.example", PN_DNS_T_A, 0, q + 2, 512, &n), 0);
	pn_store_be16(q, (uint16_t)n);
	b = uv_buf_init((char *)q, (unsigned)n + 2);
	assert_int_equal(uv_write(&w, (uv_stream_t *)&treq, &b, 1, NULL), 0);
	uv_read_start((uv_stream_t *)&treq, noalloc, treq_read);
}

static void req_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		     unsigned flags)
{
	(void)u;
	(void)from;
	(void)flags;
	if (n <= 0)
		return;
	check_answer((const uint8_t *)buf->base, (size_t)n);
	if (++nanswers < QUERIES && !failed) {
		ask();
		return;
	}
	/* then once over TCP */
	uv_tcp_init(&loop, &treq);
	treq_init = 1;
	assert_int_equal(uv_tcp_connect(&treq_conn, &treq, (const struct sockaddr *)&srv_sa,
					treq_connected),
			 0);
}

static void srv_closed(void *arg)
{
	(void)arg;
	srv = NULL;
}

static void stop_all(void)
{
	uv_timer_stop(&guard);
	uv_timer_stop(&later);
	if (srv)
		pn_dnssrv_close(srv, srv_closed, NULL);
	uv_close((uv_handle_t *)&up, NULL);
	uv_close((uv_handle_t *)&spoof_addr, NULL);
	uv_close((uv_handle_t *)&spoof_port, NULL);
	uv_close((uv_handle_t *)&req, NULL);
	uv_close((uv_handle_t *)&tup, NULL);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_close((uv_handle_t *)&later, NULL);
	if (treq_init)
		uv_close((uv_handle_t *)&treq, NULL);
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
	failed = 4; /* no answer in time */
	stop_all();
}

static void bind_udp(uv_udp_t *u, const char *ip, int port, uv_udp_recv_cb cb)
{
	struct sockaddr_in a;
	uv_ip4_addr(ip, port, &a);
	uv_udp_init(&loop, u);
	assert_int_equal(uv_udp_bind(u, (const struct sockaddr *)&a, 0), 0);
	if (cb)
		assert_int_equal(uv_udp_recv_start(u, noalloc, cb), 0);
}

static void test_spoofed_answers_ignored(void **state)
{
	struct sockaddr_storage listen, ups[2];
	struct sockaddr_in a;
	int len = sizeof(a);
	struct pn_dnsr core = {.is_protected = not_protected, .ttl = 5};
	struct pn_dnssrv_config cfg = {.loop = &loop, .listen = &listen, .upstreams = ups,
				       .nupstreams = 2, .core = &core};
	unsigned distinct_ids = 0, distinct_ports = 0, req_ids = 0;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	bind_udp(&up, "127.0.0.1", 0, up_recv);
	uv_udp_getsockname(&up, (struct sockaddr *)&up_sa, &len);
	/* the same port on another address, and another port on the same */
	bind_udp(&spoof_addr, "127.0.0.2", ntohs(up_sa.sin_port), NULL);
	bind_udp(&spoof_port, "127.0.0.1", 0, NULL);
	/* the TCP upstream on the same port */
	uv_tcp_init(&loop, &tup);
	assert_int_equal(uv_tcp_bind(&tup, (const struct sockaddr *)&up_sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&tup, 8, tup_conn), 0);
	memset(ups, 0, sizeof(ups));
	memcpy(&ups[0], &up_sa, sizeof(up_sa));
	memcpy(&ups[1], &up_sa, sizeof(up_sa)); /* TCP: the next attempt, same server */
	/* the responder on a free loopback port (UDP and TCP) */
	{
		uv_udp_t probe;
		bind_udp(&probe, "127.0.0.1", 0, NULL);
		len = sizeof(a);
		uv_udp_getsockname(&probe, (struct sockaddr *)&a, &len);
		uv_close((uv_handle_t *)&probe, NULL);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	memset(&listen, 0, sizeof(listen));
	memcpy(&listen, &a, sizeof(a));
	srv_sa = a;
	assert_int_equal(pn_dnssrv_new(&cfg, &srv), 0);
	bind_udp(&req, "127.0.0.1", 0, req_recv);
	uv_timer_init(&loop, &guard);
	uv_timer_init(&loop, &later);
	uv_timer_start(&guard, on_guard, 30000, 0);
	ask();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);

	printf("answers %u failed %d tcp attempts %u\n", nanswers, failed, ntcp);
	assert_int_equal(failed, 0);
	assert_int_equal(nanswers, QUERIES + 1);
	assert_int_equal(nseen, QUERIES);
	assert_int_equal(ntcp, 1 + 1); /* the wrong id refused, asked again */
	for (unsigned i = 0; i < nseen; i++) {
		unsigned j;
		req_ids += seen_ids[i] == REQ_ID;
		for (j = 0; j < i && seen_ids[j] != seen_ids[i]; j++)
			;
		distinct_ids += j == i;
		for (j = 0; j < i && seen_ports[j] != seen_ports[i]; j++)
			;
		distinct_ports += j == i;
	}
	printf("upstream saw %u distinct ids (%u the requester's), %u distinct ports\n",
	       distinct_ids, req_ids, distinct_ports);
	/* 20 random 16-bit values: a repeat is rare, more than a few never */
	assert_true(distinct_ids >= QUERIES - 3);
	assert_true(req_ids <= 2);
	assert_true(distinct_ports >= QUERIES - 3);
}

/* The sans-I/O check itself. */
static void test_reply_matches(void **state)
{
	uint8_t q[512], r[600], o[512];
	size_t qn, rn, on;

	(void)state;
	assert_int_equal(pn_dns_query(7, "Public.Example", PN_DNS_T_A, 0, q, sizeof(q), &qn), 0);
	rn = make_reply(q, qn, 99, REAL_ADDR, r);
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 1);
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 98, r, rn), 0); /* id */
	r[12 + 1] = 'p';						/* case only */
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 1);
	r[12 + 2] = 'x'; /* another name */
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 0);
	rn = make_reply(q, qn, 99, REAL_ADDR, r);
	r[qn - 3] ^= 1; /* another type */
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 0);
	rn = make_reply(q, qn, 99, REAL_ADDR, r);
	pn_store_be16(r + 2, (uint16_t)(pn_load_be16(r + 2) & ~PN_DNS_F_QR)); /* not a reply */
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 0);
	rn = make_reply(q, qn, 99, REAL_ADDR, r);
	pn_store_be16(r + 4, 0); /* no question */
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 0);
	for (size_t cut = 0; cut < qn; cut++) /* every truncation */
		assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, cut), 0);
	assert_int_equal(pn_dns_query(7, "public.exampl", PN_DNS_T_A, 0, o, sizeof(o), &on), 0);
	rn = make_reply(o, on, 99, REAL_ADDR, r);
	assert_int_equal(pn_dnsr_reply_matches(q, qn, 99, r, rn), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_matches),
	    cmocka_unit_test(test_spoofed_answers_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
