/*
 * Flow authorization: one test per rule, then a differential test of
 * pn_policy_check against a deliberately naive, string-based reference
 * evaluator written here from the rules in policy.h / dest.h, on random
 * policies and queries.
 *
 * PN_TRUST_DIFF_QUERIES overrides the query count (default 10^6, 10^5
 * under AddressSanitizer), PN_TRUST_DIFF_THREADS the number of threads
 * that share them (default 2).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/err.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/policy.h"

#define NOW 1800000000ull

#if defined(__SANITIZE_ADDRESS__)
#define DIFF_DEFAULT 100000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DIFF_DEFAULT 100000
#endif
#endif
#ifndef DIFF_DEFAULT
#define DIFF_DEFAULT 1000000
#endif

/* ---------------- rule tests ---------------- */

struct world {
	struct pn_cred_info client;
	struct pn_acl cacl, nacl;
	uint8_t net_a[PN_ID_LEN], net_b[PN_ID_LEN], conn[PN_ID_LEN], other_conn[PN_ID_LEN];
};

static void id_of(uint8_t id[PN_ID_LEN], unsigned tag)
{
	memset(id, 0, PN_ID_LEN);
	id[0] = (uint8_t)(tag >> 8);
	id[1] = (uint8_t)tag;
	id[15] = 0xaa;
}

static void world_init(struct world *w)
{
	uint8_t rid[PN_ID_LEN];

	memset(w, 0, sizeof(*w));
	w->client.type = PN_CRED_CLIENT;
	id_of(w->client.id, 1);
	memset(w->client.key_fpr, 0x11, PN_FPR_LEN);
	w->client.not_before = NOW - 100;
	w->client.not_after = NOW + 600;
	id_of(w->net_a, 100);
	id_of(w->net_b, 101);
	id_of(w->conn, 200);
	id_of(w->other_conn, 201);

	pn_acl_init(&w->cacl, PN_ACL_CLIENT);
	memcpy(w->cacl.holder_id, w->client.id, PN_ID_LEN);
	memcpy(w->cacl.holder_fpr, w->client.key_fpr, PN_FPR_LEN);
	w->cacl.issued_at = NOW - 10;
	w->cacl.expires_at = NOW + 300;
	id_of(rid, 1000);
	assert_int_equal(pn_acl_add_text(&w->cacl, rid, w->net_a, "db.corp.example", "tcp", "5432"),
			 0);
	assert_int_equal(
	    pn_acl_add_text(&w->cacl, rid, w->net_a, "*.web.corp.example", "tcp", "80,443"), 0);
	assert_int_equal(
	    pn_acl_add_text(&w->cacl, rid, w->net_a, "**.lab.corp.example", "udp", "5000-5010"), 0);
	assert_int_equal(pn_acl_add_text(&w->cacl, rid, w->net_a, "10.1.0.0/16", "tcp,icmp", NULL),
			 0);
	assert_int_equal(pn_acl_add_text(&w->cacl, rid, w->net_a, "2001:db8:1::/48", "tcp", "22"),
			 0);
	assert_int_equal(
	    pn_acl_add_text(&w->cacl, rid, w->net_b, "other.corp.example", "tcp", NULL), 0);
	assert_int_equal(
	    pn_acl_add_network(&w->cacl, w->net_a, (const uint8_t(*)[PN_ID_LEN])w->conn, 1), 0);
	assert_int_equal(
	    pn_acl_add_network(&w->cacl, w->net_b, (const uint8_t(*)[PN_ID_LEN])w->other_conn, 1),
	    0);

	pn_acl_init(&w->nacl, PN_ACL_CONNECTOR);
	memcpy(w->nacl.holder_id, w->conn, PN_ID_LEN);
	w->nacl.issued_at = NOW - 10;
	w->nacl.expires_at = NOW + 300;
	assert_int_equal(pn_acl_add_text(&w->nacl, rid, NULL, "**.corp.example", "tcp,udp", NULL),
			 0);
	assert_int_equal(pn_acl_add_text(&w->nacl, rid, NULL, "db.corp.example", "tcp", NULL), 0);
	assert_int_equal(pn_acl_add_text(&w->nacl, rid, NULL, "10.1.2.0/24", "all", NULL), 0);
	assert_int_equal(pn_acl_add_text(&w->nacl, rid, NULL, "2001:db8::/32", "tcp", "1-1024"), 0);
}

static void world_fini(struct world *w)
{
	pn_acl_fini(&w->cacl);
	pn_acl_fini(&w->nacl);
}

static enum pn_deny q(struct world *w, unsigned proto, const char *dest, uint16_t port,
		      uint64_t now)
{
	struct pn_policy_result res;
	enum pn_deny r = pn_policy_check(&w->client, &w->cacl, &w->nacl, proto, dest, strlen(dest),
					 port, now, &res);

	assert_int_equal(res.reason, r);
	assert_true((r == PN_ALLOW) == (res.client_entry != NULL && res.connector_entry != NULL));
	return r;
}

static void test_rules_allow_and_intersection(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "DB.CORP.EXAMPLE.", 5432, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5433, NOW),
			 PN_DENY_NOT_IN_CLIENT_ACL);
	assert_int_equal(q(&w, PN_PROTO_UDP, "db.corp.example", 5432, NOW),
			 PN_DENY_NOT_IN_CLIENT_ACL);
	assert_int_equal(q(&w, PN_PROTO_TCP, "a.web.corp.example", 443, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "a.b.web.corp.example", 443, NOW),
			 PN_DENY_NOT_IN_CLIENT_ACL);
	assert_int_equal(q(&w, PN_PROTO_TCP, "web.corp.example", 443, NOW),
			 PN_DENY_NOT_IN_CLIENT_ACL);
	assert_int_equal(q(&w, PN_PROTO_UDP, "x.y.lab.corp.example", 5005, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_UDP, "x.y.lab.corp.example", 5011, NOW),
			 PN_DENY_NOT_IN_CLIENT_ACL);
	/* in the client list, but the connector forwards only 10.1.2.0/24 */
	assert_int_equal(q(&w, PN_PROTO_TCP, "10.1.2.9", 22, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "10.1.3.9", 22, NOW), PN_DENY_NOT_IN_CONNECTOR_ACL);
	assert_int_equal(q(&w, PN_PROTO_ICMP, "10.1.2.9", 0, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_UDP, "10.1.2.9", 53, NOW), PN_DENY_NOT_IN_CLIENT_ACL);
	assert_int_equal(q(&w, PN_PROTO_TCP, "::ffff:10.1.2.9", 22, NOW), PN_ALLOW);
	/* a name never matches a CIDR, an address never a name */
	assert_int_equal(q(&w, PN_PROTO_TCP, "10.1.2.9.corp.example", 22, NOW),
			 PN_DENY_NOT_IN_CLIENT_ACL);
	/* IPv6: client allows 22 in 2001:db8:1::/48, connector 1-1024 in /32 */
	assert_int_equal(q(&w, PN_PROTO_TCP, "2001:db8:1::5", 22, NOW), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "2001:db8:2::5", 22, NOW), PN_DENY_NOT_IN_CLIENT_ACL);
	/* granted, but served by another connector: the client did not name this one */
	assert_int_equal(q(&w, PN_PROTO_TCP, "other.corp.example", 80, NOW),
			 PN_DENY_CONNECTOR_NOT_NAMED);
	world_fini(&w);
}

static void test_rules_bad_requests(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 0, NOW), PN_DENY_BAD_REQUEST);
	assert_int_equal(q(&w, 3, "db.corp.example", 5432, NOW), PN_DENY_BAD_REQUEST);
	assert_int_equal(q(&w, 0, "db.corp.example", 5432, NOW), PN_DENY_BAD_REQUEST);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db..corp.example", 5432, NOW), PN_DENY_BAD_REQUEST);
	assert_int_equal(q(&w, PN_PROTO_TCP, "", 5432, NOW), PN_DENY_BAD_REQUEST);
	assert_int_equal(q(&w, PN_PROTO_TCP, "d\xc3\xa9.corp.example", 5432, NOW),
			 PN_DENY_BAD_REQUEST);
	assert_int_equal(
	    pn_policy_check(&w.client, &w.cacl, NULL, PN_PROTO_TCP, "x.y", 3, 1, NOW, NULL),
	    PN_DENY_NO_ACL);
	world_fini(&w);
}

static void test_rules_credential_and_lists(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	/* credential window, default skew 60 s */
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW - 161),
			 PN_DENY_CRED_NOT_YET_VALID);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW - 160), PN_ALLOW);
	w.cacl.expires_at = w.nacl.expires_at = NOW + 10000;
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW + 660), PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW + 661),
			 PN_DENY_CRED_EXPIRED);
	w.cacl.expires_at = w.nacl.expires_at = NOW + 300;
	/* list expiry: the same one tolerance as credentials (cred.h) */
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432,
			   NOW + 299 + PN_TRUST_DEFAULT_SKEW),
			 PN_ALLOW);
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432,
			   NOW + 300 + PN_TRUST_DEFAULT_SKEW),
			 PN_DENY_CLIENT_ACL_EXPIRED);
	w.cacl.expires_at = NOW + 1000;
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432,
			   NOW + 300 + PN_TRUST_DEFAULT_SKEW),
			 PN_DENY_CONNECTOR_ACL_EXPIRED);
	w.cacl.expires_at = NOW + 300;
	/* a client list presented with another key / for another client */
	w.client.key_fpr[0] ^= 1;
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW), PN_DENY_WRONG_HOLDER);
	w.client.key_fpr[0] ^= 1;
	w.client.id[3] ^= 1;
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW), PN_DENY_WRONG_HOLDER);
	w.client.id[3] ^= 1;
	w.client.type = PN_CRED_CONNECTOR;
	assert_int_equal(q(&w, PN_PROTO_TCP, "db.corp.example", 5432, NOW),
			 PN_DENY_CRED_WRONG_TYPE);
	w.client.type = PN_CRED_CLIENT;
	/* lists swapped */
	assert_int_equal(pn_policy_check(&w.client, &w.nacl, &w.cacl, PN_PROTO_TCP,
					 "db.corp.example", 15, 5432, NOW, NULL),
			 PN_DENY_CLIENT_ACL_WRONG_KIND);
	assert_int_equal(pn_policy_check(&w.client, &w.cacl, &w.cacl, PN_PROTO_TCP,
					 "db.corp.example", 15, 5432, NOW, NULL),
			 PN_DENY_CONNECTOR_ACL_WRONG_KIND);
	world_fini(&w);
}

static void test_deny_names(void **state)
{
	(void)state;
	assert_string_equal(pn_deny_name(PN_ALLOW), "allowed");
	assert_string_equal(pn_deny_name(PN_DENY_NOT_IN_CLIENT_ACL), "not_in_client_acl");
	assert_string_equal(pn_deny_name(PN_DENY_NOT_IN_CONNECTOR_ACL), "not_in_connector_acl");
	assert_string_equal(pn_deny_name(PN_DENY_CLIENT_ACL_EXPIRED), "client_acl_expired");
	assert_string_equal(pn_deny_name(PN_DENY_CRED_EXPIRED), "cred_expired");
	assert_string_equal(pn_deny_name(PN_DENY_WRONG_HOLDER), "wrong_holder");
	assert_string_equal(pn_deny_name(PN_DENY_STALE_VERSION), "stale_version");
	assert_string_equal(pn_deny_name((enum pn_deny)999), "unknown");
	for (int i = 0; i < PN_DENY__COUNT; i++) {
		assert_int_equal(pn_deny_parse(pn_deny_name((enum pn_deny)i)), i);
		for (const char *c = pn_deny_name((enum pn_deny)i); *c; c++)
			assert_true(islower((unsigned char)*c) || *c == '_');
	}
	assert_int_equal(pn_deny_from_err(PN_E_STALE_VERSION), PN_DENY_STALE_VERSION);
	assert_int_equal(pn_deny_from_err(PN_E_WRONG_HOLDER), PN_DENY_WRONG_HOLDER);
	assert_int_equal(pn_deny_from_err(PN_E_UNSIGNED), PN_DENY_ACL_INVALID);
	assert_int_equal(pn_deny_from_err(PN_E_UNTRUSTED), PN_DENY_CRED_UNTRUSTED);
	assert_int_equal(pn_deny_from_err(PN_E_WRONG_ID), PN_DENY_CRED_UNTRUSTED);
	assert_int_equal(pn_deny_from_err(0), PN_ALLOW);
	assert_int_equal(pn_deny_from_acl_err(PN_E_EXPIRED, PN_ACL_CLIENT),
			 PN_DENY_CLIENT_ACL_EXPIRED);
	assert_int_equal(pn_deny_from_acl_err(PN_E_EXPIRED, PN_ACL_CONNECTOR),
			 PN_DENY_CONNECTOR_ACL_EXPIRED);
	/* list time errors name the list (not "cred_...") */
	assert_int_equal(pn_deny_from_acl_err(PN_E_ACL_EXPIRED, PN_ACL_CLIENT),
			 PN_DENY_CLIENT_ACL_EXPIRED);
	assert_int_equal(pn_deny_from_acl_err(PN_E_ACL_NOT_YET_VALID, PN_ACL_CONNECTOR),
			 PN_DENY_CONNECTOR_ACL_NOT_YET_VALID);
	assert_int_equal(pn_deny_from_err(PN_E_ACL_NOT_YET_VALID), PN_DENY_CLIENT_ACL_NOT_YET_VALID);
	assert_int_equal(pn_deny_from_err(PN_E_ACL_EXPIRED), PN_DENY_CLIENT_ACL_EXPIRED);
	assert_string_equal(pn_deny_name(PN_DENY_CLIENT_ACL_NOT_YET_VALID),
			    "client_acl_not_yet_valid");
	assert_int_equal(pn_deny_from_acl_err(PN_E_STALE_VERSION, PN_ACL_CLIENT),
			 PN_DENY_STALE_VERSION);
	assert_int_equal(pn_deny_from_acl_err(PN_E_WRONG_HOLDER, PN_ACL_CLIENT),
			 PN_DENY_WRONG_HOLDER);
	assert_int_equal(pn_deny_from_acl_err(PN_E_SIGNATURE, PN_ACL_CLIENT), PN_DENY_ACL_INVALID);
	assert_int_equal(pn_deny_from_acl_err(PN_E_UNTRUSTED, PN_ACL_CLIENT), PN_DENY_ACL_INVALID);
	assert_int_equal(pn_deny_from_acl_err(PN_E_UNSIGNED, PN_ACL_CONNECTOR),
			 PN_DENY_ACL_INVALID);
}

/* ---------------- the naive reference ---------------- */

/* Destinations as the reference sees them: 'b' bad, 'n' name, '4'/'6' with
 * the address as a string of '0'/'1' characters. */
struct rdest {
	char type;
	char text[300];
	int nlabels;
	char labels[130][64];
};

static int r_is_ip(const char *s, char bits[129], char *type)
{
	unsigned char a[16];
	int n;

	if (inet_pton(AF_INET, s, a) == 1) {
		n = 4;
		*type = '4';
	} else if (inet_pton(AF_INET6, s, a) == 1) {
		n = 16;
		*type = '6';
	} else {
		return 0;
	}
	for (int i = 0; i < n * 8; i++)
		bits[i] = (a[i / 8] >> (7 - i % 8)) & 1 ? '1' : '0';
	bits[n * 8] = '\0';
	/* ::ffff:a.b.c.d is a.b.c.d */
	if (*type == '6' &&
	    strncmp(
		bits,
		"00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		"1111111111111111",
		96) == 0) {
		memmove(bits, bits + 96, 33);
		*type = '4';
	}
	return 1;
}

static void r_split(struct rdest *d)
{
	char tmp[300], *save = NULL, *t;

	strcpy(tmp, d->text);
	d->nlabels = 0;
	for (t = strtok_r(tmp, ".", &save); t; t = strtok_r(NULL, ".", &save))
		strcpy(d->labels[d->nlabels++], t);
}

static void r_parse(const char *s, struct rdest *d)
{
	size_t n = strlen(s);
	char bits[129];
	const char *ok = "abcdefghijklmnopqrstuvwxyz0123456789-_";

	memset(d, 0, sizeof(d->type) + sizeof(d->text));
	d->type = 'b';
	if (n > 300)
		return;
	if (r_is_ip(s, bits, &d->type)) {
		strcpy(d->text, bits);
		return;
	}
	for (size_t i = 0; i < n; i++)
		d->text[i] = (char)tolower((unsigned char)s[i]);
	d->text[n] = '\0';
	if (n > 0 && d->text[n - 1] == '.')
		d->text[--n] = '\0';
	d->type = 'b';
	if (n == 0 || n > 253 || d->text[0] == '.' || d->text[n - 1] == '.' ||
	    strstr(d->text, ".."))
		return;
	for (size_t i = 0; i < n; i++)
		if (d->text[i] != '.' && !strchr(ok, d->text[i]))
			return;
	r_split(d);
	for (int i = 0; i < d->nlabels; i++)
		if (strlen(d->labels[i]) > 63)
			return;
	{
		const char *last = d->labels[d->nlabels - 1];
		int digits = 1, hex = strncmp(last, "0x", 2) == 0;
		for (const char *c = last; *c; c++)
			digits &= isdigit((unsigned char)*c) != 0;
		for (const char *c = last + 2; hex && *c; c++)
			hex &= isxdigit((unsigned char)*c) != 0;
		if (digits || hex)
			return;
	}
	d->type = 'n';
}

#define RPORTS 8

struct rentry {
	char pattern[80], protos[20], ports[80];
	int net;
	/* pre-parsed by the reference itself */
	char ptype; /* '=' exact, '1' *., 'N' **., '4', '6' */
	struct rdest pd;
	char pbits[129];
	int prefix;
	int has_tcp, has_udp, has_icmp; /* the protocol names in protos */
	int nports, plo[RPORTS], phi[RPORTS]; /* ports: "N" or "LO-HI", comma-separated */
};

/* The entry's port list, once (r_port_ok reads the ranges). */
static void r_prepare_ports(struct rentry *e)
{
	char tmp[80], *save = NULL, *t;

	e->nports = 0;
	strcpy(tmp, e->ports);
	for (t = strtok_r(tmp, ",", &save); t && e->nports < RPORTS; t = strtok_r(NULL, ",", &save)) {
		int lo, hi;

		if (sscanf(t, "%d-%d", &lo, &hi) != 2)
			lo = hi = atoi(t);
		e->plo[e->nports] = lo;
		e->phi[e->nports++] = hi;
	}
	e->has_tcp = strstr(e->protos, "tcp") != NULL;
	e->has_udp = strstr(e->protos, "udp") != NULL;
	e->has_icmp = strstr(e->protos, "icmp") != NULL;
}

static void r_prepare(struct rentry *e)
{
	char tmp[80], *slash;
	const char *p = e->pattern;

	r_prepare_ports(e);
	if (strncmp(p, "**.", 3) == 0) {
		e->ptype = 'N';
		p += 3;
	} else if (strncmp(p, "*.", 2) == 0) {
		e->ptype = '1';
		p += 2;
	} else {
		strcpy(tmp, p);
		slash = strchr(tmp, '/');
		if (slash)
			*slash = '\0';
		if (r_is_ip(tmp, e->pbits, &e->ptype)) {
			e->prefix = slash ? atoi(slash + 1) : (e->ptype == '4' ? 32 : 128);
			return;
		}
		e->ptype = '=';
	}
	strcpy(e->pd.text, p);
	r_split(&e->pd);
}

static int r_port_ok(const struct rentry *e, int port)
{
	if (e->ports[0] == '\0')
		return 1;
	for (int i = 0; i < e->nports; i++)
		if (port >= e->plo[i] && port <= e->phi[i])
			return 1;
	return 0;
}

static int r_entry_match(const struct rentry *e, const char *proto, const struct rdest *d, int port)
{
	int icmp = proto[0] == 'i';

	if (!(icmp ? e->has_icmp : proto[0] == 't' ? e->has_tcp : e->has_udp))
		return 0;
	if (!icmp && !r_port_ok(e, port))
		return 0;
	switch (e->ptype) {
	case '4':
	case '6': return d->type == e->ptype && strncmp(d->text, e->pbits, (size_t)e->prefix) == 0;
	case '=': return d->type == 'n' && strcmp(d->text, e->pd.text) == 0;
	case '1':
	case 'N': {
		int k = e->pd.nlabels;
		if (d->type != 'n' || d->nlabels <= k)
			return 0;
		if (e->ptype == '1' && d->nlabels != k + 1)
			return 0;
		for (int i = 0; i < k; i++)
			if (strcmp(d->labels[d->nlabels - k + i], e->pd.labels[i]) != 0)
				return 0;
		return 1;
	}
	}
	return 0;
}

#define MAXE  8
#define NNETS 4
#define NCONN 4

struct rpolicy {
	int nc, nn;
	struct rentry c[MAXE], n[MAXE];
	int net_conns[NNETS][NCONN]; /* 1 if connector j serves network i in the client list */
	int net_listed[NNETS];
	int this_conn;
	uint64_t cred_nb, cred_na, cacl_exp, nacl_exp;
	int wrong_key;
};

static int ref_check(const struct rpolicy *p, const char *proto, const char *dest, int port,
		     uint64_t now)
{
	struct rdest d;
	int named_miss = 0, found = 0;

	if (strcmp(proto, "icmp") != 0 && port == 0)
		return PN_DENY_BAD_REQUEST;
	r_parse(dest, &d);
	if (d.type == 'b')
		return PN_DENY_BAD_REQUEST;
	if (now + 60 < p->cred_nb)
		return PN_DENY_CRED_NOT_YET_VALID;
	if (now > p->cred_na + 60)
		return PN_DENY_CRED_EXPIRED;
	if (p->wrong_key)
		return PN_DENY_WRONG_HOLDER;
	if (now >= p->cacl_exp + 60)
		return PN_DENY_CLIENT_ACL_EXPIRED;
	if (now >= p->nacl_exp + 60)
		return PN_DENY_CONNECTOR_ACL_EXPIRED;
	for (int i = 0; i < p->nc; i++) {
		if (!r_entry_match(&p->c[i], proto, &d, port))
			continue;
		if (p->net_listed[p->c[i].net] && p->net_conns[p->c[i].net][p->this_conn])
			found = 1;
		else
			named_miss = 1;
	}
	if (!found)
		return named_miss ? PN_DENY_CONNECTOR_NOT_NAMED : PN_DENY_NOT_IN_CLIENT_ACL;
	for (int i = 0; i < p->nn; i++)
		if (r_entry_match(&p->n[i], proto, &d, port))
			return PN_ALLOW;
	return PN_DENY_NOT_IN_CONNECTOR_ACL;
}

/* ---------------- random generation ---------------- */

/* per thread: test_differential splits its queries over threads */
static __thread uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static const char *labels[] = {"a", "b", "db", "web", "x-1", "_s", "0a", "xn--80a"};
static const char *domains[] = {"corp.example", "lab.corp.example", "test", "corp.example2"};

static void gen_name(char *out, int upper)
{
	int depth = 1 + (int)rnd(3);

	out[0] = '\0';
	for (int i = 0; i < depth; i++) {
		strcat(out, labels[rnd(8)]);
		strcat(out, ".");
	}
	strcat(out, domains[rnd(4)]);
	if (upper)
		for (char *c = out; *c; c++)
			if (rnd(4) == 0)
				*c = (char)toupper((unsigned char)*c);
}

static void gen_v4(unsigned char a[4])
{
	a[0] = 10;
	a[1] = (unsigned char)rnd(2);
	a[2] = (unsigned char)rnd(4);
	a[3] = (unsigned char)rnd(16);
}

static void gen_v6(unsigned char a[16])
{
	memset(a, 0, 16);
	a[0] = 0xfd;
	a[1] = (unsigned char)rnd(2);
	a[13] = (unsigned char)rnd(3);
	a[15] = (unsigned char)rnd(16);
}

static void mask(unsigned char *a, int bytes, int prefix)
{
	for (int b = prefix; b < bytes * 8; b++)
		a[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
}

static void gen_pattern(char *out)
{
	static const int p4[] = {0, 8, 16, 22, 24, 28, 30, 31, 32};
	static const int p6[] = {0, 8, 64, 112, 120, 124, 127, 128};
	unsigned char a[16];
	char t[64], n[200];

	switch (rnd(6)) {
	case 0:
		gen_name(n, 0);
		strcpy(out, n);
		break;
	case 1:
		strcpy(out, "*.");
		strcat(out, rnd(3) ? domains[rnd(4)] : (gen_name(n, 0), n));
		break;
	case 2:
		strcpy(out, "**.");
		strcat(out, rnd(3) ? domains[rnd(4)] : (gen_name(n, 0), n));
		break;
	case 3:
	case 4: {
		int pf = p4[rnd(9)];
		gen_v4(a);
		mask(a, 4, pf);
		inet_ntop(AF_INET, a, t, sizeof(t));
		sprintf(out, "%s/%d", t, pf);
		break;
	}
	default: {
		int pf = p6[rnd(8)];
		gen_v6(a);
		mask(a, 16, pf);
		inet_ntop(AF_INET6, a, t, sizeof(t));
		sprintf(out, "%s/%d", t, pf);
	}
	}
}

static void gen_protos(char *out)
{
	static const char *opts[] = {"tcp",	 "udp",	     "icmp",	    "tcp,udp",
				     "tcp,icmp", "udp,icmp", "tcp,udp,icmp"};

	strcpy(out, opts[rnd(7)]);
}

static void gen_ports(char *out)
{
	int n = (int)rnd(4);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char t[24];
		int lo = 1 + (int)rnd(100);
		if (rnd(2))
			sprintf(t, "%s%d", i ? "," : "", lo);
		else
			sprintf(t, "%s%d-%d", i ? "," : "", lo, lo + (int)rnd(30));
		strcat(out, t);
	}
}

static void gen_query(char *dest, const char **proto, int *port)
{
	static const char *protos[] = {"tcp", "udp", "icmp"};
	static const char *bad[] = {"a..corp.example",
				    "d\xc3\xa9.corp.example",
				    "10.1",
				    "x.123",
				    "",
				    "a.corp.example..",
				    "-a.0x1f",
				    "a b.test",
				    "::ffff:10.0.0.1.",
				    "fe80::1%lo",
				    "*.corp.example"};
	unsigned char a[16];
	int k = (int)rnd(20);

	*proto = protos[rnd(3)];
	*port = (int)rnd(20) == 0 ? 0 : 1 + (int)rnd(130);
	if (k < 10) {
		gen_name(dest, 1);
		if (rnd(5) == 0)
			strcat(dest, ".");
	} else if (k < 14) {
		gen_v4(a);
		inet_ntop(AF_INET, a, dest, 64);
	} else if (k < 15) {
		gen_v4(a);
		sprintf(dest, "::ffff:%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	} else if (k < 18) {
		gen_v6(a);
		inet_ntop(AF_INET6, a, dest, 64);
	} else {
		strcpy(dest, bad[rnd(11)]);
	}
}

/* A query aimed at one of the policy's entries (so allows are common). */
static void gen_query_from(const struct rpolicy *p, char *dest, const char **proto, int *port)
{
	const struct rentry *e = rnd(3) ? &p->c[rnd((uint32_t)p->nc)] : &p->n[rnd((uint32_t)p->nn)];
	static const char *protos[] = {"tcp", "udp", "icmp"};
	unsigned char a[16];
	int lo = 0, hi = 0;

	do
		*proto = protos[rnd(3)];
	while (!strstr(e->protos, *proto));
	*port = 1 + (int)rnd(130);
	if (e->ports[0] && rnd(4) && e->nports) {
		lo = e->plo[0];
		hi = e->phi[0];
		*port = lo + (hi > lo ? (int)rnd((uint32_t)(hi - lo + 1)) : 0);
	}
	switch (e->ptype) {
	case '=': strcpy(dest, e->pd.text); break;
	case '1': snprintf(dest, 300, "%s.%.200s", labels[rnd(8)], e->pd.text); break;
	case 'N':
		if (rnd(2))
			snprintf(dest, 300, "%s.%s.%.200s", labels[rnd(8)], labels[rnd(8)],
				 e->pd.text);
		else
			snprintf(dest, 300, "%s.%.200s", labels[rnd(8)], e->pd.text);
		break;
	default: {
		int bytes = e->ptype == '4' ? 4 : 16;
		for (int i = 0; i < bytes * 8; i++) {
			int bit = i < e->prefix ? e->pbits[i] == '1' : (int)rnd(2);
			if (bit)
				a[i / 8] |= (unsigned char)(0x80 >> (i % 8));
			else
				a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
		}
		inet_ntop(bytes == 4 ? AF_INET : AF_INET6, a, dest, 64);
	}
	}
	if (e->ptype != '4' && e->ptype != '6' && rnd(4) == 0)
		for (char *c = dest; *c; c++)
			*c = (char)toupper((unsigned char)*c);
}

static unsigned proto_bit(const char *p)
{
	return strcmp(p, "tcp") == 0   ? PN_PROTO_TCP
	       : strcmp(p, "udp") == 0 ? PN_PROTO_UDP
				       : PN_PROTO_ICMP;
}

/* Build, sign and verify the real lists for a reference policy: 0 or -1
 * (it runs in worker threads, where cmocka's assertions must not). */
static int build_real(const struct rpolicy *p, const struct pn_ca *ca, const struct pn_anchor *an,
		       struct pn_cred_info *cred, struct pn_acl *cacl, struct pn_acl *nacl)
{
	struct pn_acl c, n;
	uint8_t rid[PN_ID_LEN], net[PN_ID_LEN], conns[NCONN][PN_ID_LEN], *buf = NULL;
	size_t len;
	int bad = 0;

	memset(cred, 0, sizeof(*cred));
	cred->type = PN_CRED_CLIENT;
	id_of(cred->id, 7);
	memset(cred->key_fpr, 0x77, PN_FPR_LEN);
	cred->not_before = p->cred_nb;
	cred->not_after = p->cred_na;
	pn_acl_init(&c, PN_ACL_CLIENT);
	memcpy(c.holder_id, cred->id, PN_ID_LEN);
	memcpy(c.holder_fpr, cred->key_fpr, PN_FPR_LEN);
	if (p->wrong_key)
		c.holder_fpr[5] ^= 0x40;
	c.version = 1;
	c.issued_at = NOW - 100;
	c.expires_at = p->cacl_exp;
	pn_acl_init(&n, PN_ACL_CONNECTOR);
	id_of(n.holder_id, 300 + (unsigned)p->this_conn);
	n.issued_at = NOW - 100;
	n.expires_at = p->nacl_exp;
	id_of(rid, 9);
	for (int i = 0; i < p->nc; i++) {
		id_of(net, 100 + (unsigned)p->c[i].net);
		bad |= pn_acl_add_text(&c, rid, net, p->c[i].pattern, p->c[i].protos,
				       p->c[i].ports) != 0;
	}
	for (int i = 0; i < p->nn; i++)
		bad |= pn_acl_add_text(&n, rid, NULL, p->n[i].pattern, p->n[i].protos,
				       p->n[i].ports) != 0;
	for (int i = 0; i < NNETS; i++) {
		unsigned k = 0;
		if (!p->net_listed[i])
			continue;
		for (int j = 0; j < NCONN; j++)
			if (p->net_conns[i][j])
				id_of(conns[k++], 300 + (unsigned)j);
		id_of(net, 100 + (unsigned)i);
		bad |= pn_acl_add_network(&c, net, (const uint8_t(*)[PN_ID_LEN])conns, k) != 0;
	}
	/* through the codec and signature, as a connector receives them */
	if (bad || pn_acl_sign(ca, &c, &buf, &len) != 0) {
		bad = 1;
		goto out;
	}
	bad = !(pn_acl_verify(an, buf, len, NOW - 200 > c.issued_at ? NOW : c.issued_at, cacl) ==
		    0 ||
		c.expires_at + PN_TRUST_DEFAULT_SKEW <= NOW);
	if (!bad && cacl->nentries == 0 && c.nentries) {
		/* expired at NOW: decode at issue time instead */
		bad = pn_acl_verify(an, buf, len, c.issued_at, cacl) != 0;
	}
	free(buf);
	buf = NULL;
	if (bad || pn_acl_sign(ca, &n, &buf, &len) != 0) {
		bad = 1;
		goto out;
	}
	if (pn_acl_verify(an, buf, len, NOW, nacl) != 0)
		bad = pn_acl_verify(an, buf, len, n.issued_at, nacl) != 0;
out:
	free(buf);
	pn_acl_fini(&c);
	pn_acl_fini(&n);
	return bad ? -1 : 0;
}

static void gen_policy(struct rpolicy *p)
{
	memset(p, 0, sizeof(*p));
	p->nc = 1 + (int)rnd(MAXE);
	p->nn = 1 + (int)rnd(MAXE);
	for (int i = 0; i < p->nc; i++) {
		gen_pattern(p->c[i].pattern);
		gen_protos(p->c[i].protos);
		gen_ports(p->c[i].ports);
		p->c[i].net = rnd(8) ? (int)rnd(NNETS - 1) : NNETS - 1;
		r_prepare(&p->c[i]);
	}
	for (int i = 0; i < p->nn; i++) {
		static const char *broad[] = {"**.corp.example", "**.test",	"*.corp.example",
					      "10.0.0.0/8",	 "10.0.0.0/15", "fd00::/8",
					      "0.0.0.0/0",	 "::/0"};
		if (rnd(2)) {
			strcpy(p->n[i].pattern, broad[rnd(8)]);
			strcpy(p->n[i].protos, rnd(2) ? "tcp,udp,icmp" : "tcp,udp");
			p->n[i].ports[0] = '\0';
		} else {
			gen_pattern(p->n[i].pattern);
			gen_protos(p->n[i].protos);
			gen_ports(p->n[i].ports);
		}
		r_prepare(&p->n[i]);
	}
	for (int i = 0; i < NNETS - 1; i++) { /* the last network is never listed */
		int any = 0;
		p->net_listed[i] = rnd(5) != 0;
		for (int j = 0; j < NCONN; j++)
			any |= p->net_conns[i][j] = rnd(4) != 0;
		if (!any)
			p->net_conns[i][rnd(NCONN)] = 1;
	}
	p->this_conn = (int)rnd(NCONN);
	/* Valid over the query window [NOW, NOW+200) unless an edge case was
	 * drawn: then the boundary falls inside the window. */
	p->cred_nb = rnd(20) ? NOW - 600 : NOW + 50 + rnd(100);
	p->cred_na = rnd(20) ? NOW + 600 : NOW - 60 + rnd(200);
	p->cacl_exp = rnd(20) ? NOW + 900 : NOW + rnd(200) + 1;
	p->nacl_exp = rnd(20) ? NOW + 900 : NOW + rnd(200) + 1;
	p->wrong_key = rnd(40) == 0;
}

/* One share of the differential test's queries, run by one thread with
 * its own random stream; counts what it saw. */
struct diff_share {
	const struct pn_ca *ca;
	const struct pn_anchor *an;
	uint64_t seed;
	long total, done, mismatches, allowed, build_failures;
	long reasons[PN_DENY__COUNT];
};

static void *diff_run(void *arg)
{
	struct diff_share *w = arg;
	long per_policy = 500;

	rng_state = w->seed;
	while (w->done < w->total) {
		struct rpolicy p;
		struct pn_cred_info cred;
		struct pn_acl cacl, nacl;

		gen_policy(&p);
		pn_acl_init(&cacl, PN_ACL_CLIENT);
		pn_acl_init(&nacl, PN_ACL_CONNECTOR);
		if (build_real(&p, w->ca, w->an, &cred, &cacl, &nacl) < 0) {
			w->build_failures++;
			pn_acl_fini(&cacl);
			pn_acl_fini(&nacl);
			break;
		}
		for (long i = 0; i < per_policy && w->done < w->total; i++, w->done++) {
			char dest[300];
			const char *proto;
			int port, want, got;
			uint64_t now = NOW + rnd(200);

			if (rnd(2))
				gen_query(dest, &proto, &port);
			else
				gen_query_from(&p, dest, &proto, &port);
			want = ref_check(&p, proto, dest, port, now);
			got = (int)pn_policy_check(&cred, &cacl, &nacl, proto_bit(proto), dest,
						   strlen(dest), (uint16_t)port, now, NULL);
			if (want != got) {
				if (w->mismatches++ < 10)
					print_message(
					    "MISMATCH dest='%s' %s/%d now=%+lld: ref=%s real=%s\n",
					    dest, proto, port, (long long)(now - NOW),
					    pn_deny_name(want), pn_deny_name(got));
			}
			w->reasons[got]++;
			w->allowed += got == PN_ALLOW;
		}
		pn_acl_fini(&cacl);
		pn_acl_fini(&nacl);
	}
	return NULL;
}

#define DIFF_THREADS_MAX 16

/*
 * PN_TRUST_DIFF_QUERIES queries (default DIFF_DEFAULT) split over
 * PN_TRUST_DIFF_THREADS threads (default 2), each with a random stream of
 * its own seeded from the count and its index: the same arguments draw the
 * same policies and queries.
 */
static void test_differential(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *an = NULL;
	const char *env = getenv("PN_TRUST_DIFF_QUERIES"), *tenv = getenv("PN_TRUST_DIFF_THREADS");
	long total = env ? atol(env) : DIFF_DEFAULT, nthreads = tenv ? atol(tenv) : 2;
	long done = 0, mismatches = 0, allowed = 0, failures = 0;
	long reasons[PN_DENY__COUNT] = {0};
	struct diff_share *w;
	pthread_t tid[DIFF_THREADS_MAX];
	struct timespec t0, t1;
	double cpu;

	(void)state;
	if (nthreads < 1 || nthreads > DIFF_THREADS_MAX)
		nthreads = 2;
	assert_int_equal(pn_ca_new(NOW - 10000, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &an), 0);
	w = calloc((size_t)nthreads, sizeof(*w));
	assert_non_null(w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long t = 0; t < nthreads; t++) {
		w[t].ca = ca;
		w[t].an = an;
		w[t].total = total / nthreads + (t < total % nthreads);
		w[t].seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)total ^ ((uint64_t)t << 48);
		assert_int_equal(pthread_create(&tid[t], NULL, diff_run, &w[t]), 0);
	}
	for (long t = 0; t < nthreads; t++) {
		assert_int_equal(pthread_join(tid[t], NULL), 0);
		done += w[t].done;
		mismatches += w[t].mismatches;
		allowed += w[t].allowed;
		failures += w[t].build_failures;
		for (int i = 0; i < PN_DENY__COUNT; i++)
			reasons[i] += w[t].reasons[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cpu = (double)clock() / CLOCKS_PER_SEC;
	print_message("differential: %ld queries, %ld mismatches, %ld allowed, %ld threads, "
		      "%.1f s wall, %.1f s CPU (process)\n",
		      done, mismatches, allowed, nthreads,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, cpu);
	for (int i = 0; i < PN_DENY__COUNT; i++)
		if (reasons[i])
			print_message("  %-26s %ld\n", pn_deny_name((enum pn_deny)i), reasons[i]);
	free(w);
	assert_int_equal(failures, 0); /* a list that did not build, sign or verify */
	assert_int_equal(done, total);
	assert_int_equal(mismatches, 0);
	/* the generator must exercise both outcomes and the main reasons */
	assert_true(allowed > done / 50);
	assert_true(reasons[PN_DENY_NOT_IN_CONNECTOR_ACL] > 0 &&
		    reasons[PN_DENY_CONNECTOR_NOT_NAMED] > 0 && reasons[PN_DENY_BAD_REQUEST] > 0 &&
		    reasons[PN_DENY_CRED_EXPIRED] > 0 && reasons[PN_DENY_WRONG_HOLDER] > 0 &&
		    reasons[PN_DENY_CLIENT_ACL_EXPIRED] > 0);
	pn_anchor_free(an);
	pn_ca_free(ca);
}

/* `test_trust_policy diff`: only the differential test (ctest
 * test_trust_policy_diff7 runs it with 10^7 queries). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules_allow_and_intersection),
	    cmocka_unit_test(test_rules_bad_requests),
	    cmocka_unit_test(test_rules_credential_and_lists),
	    cmocka_unit_test(test_deny_names),
	    cmocka_unit_test(test_differential),
	};
	const struct CMUnitTest diff_only[] = {
	    cmocka_unit_test(test_differential),
	};

	if (argc > 1 && strcmp(argv[1], "diff") == 0)
		return cmocka_run_group_tests(diff_only, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
