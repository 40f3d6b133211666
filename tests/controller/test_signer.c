/*
 * The CA signer: its frame codec (every truncation, every limit), its
 * decision core (limits, rate cap, refusals logged), the signer process
 * (signs, refuses malformed frames and logs them, fails closed when
 * killed and restarts), a pool of two children (concurrent requests, the
 * rate cap shared, one killed and replaced) and its sandbox (no open, no
 * socket).
 *
 *   test_signer --write-corpus DIR   writes fuzz seeds made by the encoders
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/signer.h"
#include "controller/signer_core.h"
#include "controller/signer_sandbox.h"
#include "controller/signer_wire.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl_wire.h"
#include "trust/key.h"

static struct pn_signer_limits LIM = {3600, 3600, 1000};

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* A CSR and its raw public key. */
static void make_csr(char **csr, uint8_t pub[PN_ED25519_PUB_LEN])
{
	struct pn_key *k = NULL;
	size_t n;

	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_csr_pem(k, NULL, csr, &n), 0);
	assert_int_equal(pn_cred_csr_pubkey(*csr, pub, NULL), 0);
	pn_key_free(k);
}

static void cred_req(struct pn_signer_req *q, uint32_t lifetime)
{
	char *csr = NULL;

	memset(q, 0, sizeof(*q));
	q->op = PN_SIGNER_OP_CRED;
	q->seq = 7;
	q->info.type = PN_CRED_CLIENT;
	memset(q->info.id, 0xab, PN_ID_LEN);
	strcpy(q->info.name, "laptop");
	strcpy(q->info.user, "ann@example.com");
	q->info.ngroups = 2;
	strcpy(q->info.groups[0], "eng");
	strcpy(q->info.groups[1], "ops");
	q->info.policy_version = 42;
	q->lifetime_s = lifetime;
	make_csr(&csr, q->pubkey);
	free(csr);
}

/* An unsigned client list issued now, by ca_fpr. */
static void acl_doc(const uint8_t ca_fpr[PN_FPR_LEN], uint64_t issued, uint64_t expires,
		    uint8_t **doc, size_t *n)
{
	struct pn_acl acl;
	uint8_t rid[PN_ID_LEN] = {1}, nid[PN_ID_LEN] = {2}, cid[1][PN_ID_LEN] = {{3}};

	pn_acl_init(&acl, PN_ACL_CLIENT);
	assert_int_equal(pn_acl_add_text(&acl, rid, nid, "10.0.0.0/8", "tcp", "22,443"), 0);
	assert_int_equal(pn_acl_add_network(&acl, nid, cid, 1), 0);
	memset(acl.holder_id, 0xab, PN_ID_LEN);
	acl.version = 9;
	acl.issued_at = issued;
	acl.expires_at = expires;
	assert_int_equal(pn_acl_encode_unsigned(&acl, ca_fpr, doc, n), 0);
	pn_acl_fini(&acl);
}

static void encode(const struct pn_signer_req *q, struct pn_buf *b)
{
	assert_int_equal(pn_buf_init_dyn(b, 256, PN_SIGNER_HDR_LEN + PN_SIGNER_BODY_MAX), 0);
	assert_int_equal(pn_signer_req_encode(q, b), 0);
}

static void test_codec_cred(void **state)
{
	struct pn_signer_req q, d;
	struct pn_buf b;
	const uint8_t *p;
	size_t n;

	cred_req(&q, 600);
	encode(&q, &b);
	p = pn_buf_ptr(&b);
	n = pn_buf_len(&b);
	assert_int_equal(pn_signer_req_decode(p, n, &d), 0);
	assert_int_equal(d.op, PN_SIGNER_OP_CRED);
	assert_int_equal(d.seq, 7);
	assert_int_equal(d.lifetime_s, 600);
	assert_string_equal(d.info.name, "laptop");
	assert_string_equal(d.info.user, "ann@example.com");
	assert_int_equal(d.info.ngroups, 2);
	assert_string_equal(d.info.groups[1], "ops");
	assert_int_equal(d.info.policy_version, 42);
	assert_memory_equal(d.pubkey, q.pubkey, PN_ED25519_PUB_LEN);
	/* every truncation fails, and so does one byte more */
	for (size_t i = 0; i < n; i++)
		assert_true(pn_signer_req_decode(p, i, &d) < 0);
	{
		uint8_t *x = malloc(n + 1);

		memcpy(x, p, n);
		x[n] = 0;
		assert_int_equal(pn_signer_req_decode(x, n + 1, &d), PN_E_MALFORMED);
		/* body_len covering the extra byte: trailing bytes in the body */
		pn_store_be32(x + 8, (uint32_t)(n + 1 - PN_SIGNER_HDR_LEN));
		assert_int_equal(pn_signer_req_decode(x, n + 1, &d), PN_E_MALFORMED);
		memcpy(x, p, n);
		x[0] ^= 1; /* magic */
		assert_int_equal(pn_signer_req_decode(x, n, &d), PN_E_MALFORMED);
		memcpy(x, p, n);
		x[2] = 2; /* version */
		assert_int_equal(pn_signer_req_decode(x, n, &d), PN_E_UNSUPPORTED);
		memcpy(x, p, n);
		x[3] = 9; /* op */
		assert_int_equal(pn_signer_req_decode(x, n, &d), PN_E_MALFORMED);
		memcpy(x, p, n);
		x[PN_SIGNER_HDR_LEN] = 4; /* credential type */
		assert_int_equal(pn_signer_req_decode(x, n, &d), PN_E_MALFORMED);
		memcpy(x, p, n);
		x[PN_SIGNER_HDR_LEN + 1 + PN_ID_LEN + 1] = 0; /* NUL inside the name */
		assert_int_equal(pn_signer_req_decode(x, n, &d), PN_E_MALFORMED);
		memcpy(x, p, n);
		pn_store_be32(x + 8, PN_SIGNER_BODY_MAX + 1);
		assert_int_equal(pn_signer_req_decode(x, n, &d), PN_E_TOOBIG);
		free(x);
	}
	pn_buf_fini(&b);
	/* encoder limits */
	q.info.ngroups = PN_GROUPS_MAX + 1;
	assert_int_equal(pn_buf_init_dyn(&b, 256, 1 << 20), 0);
	assert_int_equal(pn_signer_req_encode(&q, &b), PN_E_INVAL);
	pn_buf_fini(&b);
}

static void test_codec_acl_resp(void **state)
{
	struct pn_signer_req q = {.op = PN_SIGNER_OP_ACL, .seq = 1}, d;
	struct pn_signer_resp s = {.op = PN_SIGNER_OP_CRED, .seq = 3}, e;
	uint8_t fpr[PN_FPR_LEN] = {5}, *doc;
	struct pn_buf b;
	size_t n;

	acl_doc(fpr, 1000, 2000, &doc, &n);
	q.acl = doc;
	q.acl_len = n;
	encode(&q, &b);
	assert_int_equal(pn_signer_req_decode(pn_buf_ptr(&b), pn_buf_len(&b), &d), 0);
	assert_int_equal(d.acl_len, n);
	assert_memory_equal(d.acl, doc, n);
	pn_buf_fini(&b);
	q.acl_len = PN_SIGNER_ACL_MIN - 1;
	assert_int_equal(pn_buf_init_dyn(&b, 256, 1 << 20), 0);
	assert_int_equal(pn_signer_req_encode(&q, &b), PN_E_INVAL);
	pn_buf_fini(&b);
	free(doc);

	/* a credential response, then an error response */
	memset(s.serial, 0x11, sizeof(s.serial));
	s.not_before = 10;
	s.not_after = 20;
	s.pem = "-----BEGIN CERTIFICATE-----";
	s.pem_len = strlen(s.pem);
	assert_int_equal(pn_buf_init_dyn(&b, 256, 1 << 20), 0);
	assert_int_equal(pn_signer_resp_encode(&s, &b), 0);
	assert_int_equal(pn_signer_resp_decode(pn_buf_ptr(&b), pn_buf_len(&b), &e), 0);
	assert_int_equal(e.not_after, 20);
	assert_int_equal(e.pem_len, s.pem_len);
	assert_memory_equal(e.pem, s.pem, s.pem_len);
	for (size_t i = 0; i < pn_buf_len(&b); i++)
		assert_true(pn_signer_resp_decode(pn_buf_ptr(&b), i, &e) < 0);
	pn_buf_fini(&b);
	s.status = PN_E_SIGNER_REFUSED;
	assert_int_equal(pn_buf_init_dyn(&b, 256, 1 << 20), 0);
	assert_int_equal(pn_signer_resp_encode(&s, &b), 0);
	assert_int_equal(pn_buf_len(&b), PN_SIGNER_HDR_LEN + 4);
	assert_int_equal(pn_signer_resp_decode(pn_buf_ptr(&b), pn_buf_len(&b), &e), 0);
	assert_int_equal(e.status, PN_E_SIGNER_REFUSED);
	pn_buf_fini(&b);
}

/* Log capture: records go to a temporary file we read back. */
static int log_fd = -1;

static void log_start(void)
{
	char path[] = "/tmp/pn-signer-log-XXXXXX";

	log_fd = mkstemp(path);
	assert_true(log_fd >= 0);
	unlink(path);
	pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, log_fd);
}

static char *log_text(void)
{
	static char buf[1 << 16];
	ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void log_stop(void)
{
	pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, 2);
	close(log_fd);
	log_fd = -1;
}

/* Handle one request through the core; returns the response's status. */
static int32_t core_do(struct pn_signer_core *c, const struct pn_signer_req *q, uint64_t ms,
		       struct pn_signer_resp *out, struct pn_buf *rb)
{
	struct pn_buf b;

	encode(q, &b);
	assert_int_equal(pn_buf_init_dyn(rb, 1024, 1 << 20), 0);
	assert_int_equal(pn_signer_core_handle(c, pn_buf_ptr(&b), pn_buf_len(&b), now_s(), ms, rb),
			 0);
	pn_buf_fini(&b);
	assert_int_equal(pn_signer_resp_decode(pn_buf_ptr(rb), pn_buf_len(rb), out), 0);
	assert_int_equal(out->seq, q->seq);
	return out->status;
}

static void test_core_limits(void **state)
{
	struct pn_signer_limits lim = {600, 900, 3};
	struct pn_signer_core c;
	struct pn_signer_req q;
	struct pn_signer_resp s;
	struct pn_anchor *anchor = NULL;
	struct pn_cred_info ci;
	struct pn_ca *ca = NULL;
	struct pn_buf rb;
	struct pn_acl acl;
	uint8_t fpr[PN_FPR_LEN], *doc;
	size_t n;
	uint64_t t = now_s();

	assert_int_equal(pn_ca_new(t - 3600, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &anchor), 0);
	pn_ca_fingerprint(ca, fpr);
	assert_int_equal(pn_signer_core_init(&c, ca, &lim, 1000), 0);
	log_start();

	/* within limits: a credential that verifies under the CA */
	cred_req(&q, 600);
	assert_int_equal(core_do(&c, &q, 1000, &s, &rb), 0);
	assert_int_equal(pn_cred_verify(anchor, s.pem, s.pem_len, PN_CRED_CLIENT, t, 60, &ci), 0);
	assert_string_equal(ci.user, "ann@example.com");
	assert_int_equal(ci.policy_version, 42);
	pn_buf_fini(&rb);
	assert_non_null(strstr(log_text(), "signer signed kind=cred seq=7 type=client"));

	/* lifetime over the limit: refused and logged */
	cred_req(&q, 601);
	q.seq = 8;
	assert_int_equal(core_do(&c, &q, 1000, &s, &rb), PN_E_SIGNER_REFUSED);
	pn_buf_fini(&rb);
	assert_non_null(strstr(log_text(), "op=cred seq=8 err=PN_E_SIGNER_REFUSED reason=lifetime"));
	/* a user on a connector credential */
	cred_req(&q, 60);
	q.seq = 9;
	q.info.type = PN_CRED_CONNECTOR;
	assert_int_equal(core_do(&c, &q, 1000, &s, &rb), PN_E_SIGNER_REFUSED);
	pn_buf_fini(&rb);

	/* an access list: signed, verifies */
	memset(&q, 0, sizeof(q));
	q.op = PN_SIGNER_OP_ACL;
	q.seq = 10;
	acl_doc(fpr, t - 300, t + 900, &doc, &n);
	q.acl = doc;
	q.acl_len = n;
	assert_int_equal(core_do(&c, &q, 1000, &s, &rb), 0);
	doc[n] = PN_ACL_SIG_ED25519;
	memcpy(doc + n + 1, s.sig, PN_SIG_LEN);
	pn_acl_init(&acl, PN_ACL_CLIENT);
	assert_int_equal(pn_acl_verify(anchor, doc, n + 1 + PN_SIG_LEN, t, &acl), 0);
	pn_acl_fini(&acl);
	pn_buf_fini(&rb);
	free(doc);

	/* rate cap: 3 per second (refusals do not count): the third signature
	 * passes, the fourth is refused */
	q.seq = 11;
	acl_doc(fpr, t - 300, t + 900, &doc, &n);
	q.acl = doc;
	assert_int_equal(core_do(&c, &q, 1000, &s, &rb), 0);
	pn_buf_fini(&rb);
	assert_int_equal(core_do(&c, &q, 1000, &s, &rb), PN_E_SIGNER_RATE);
	pn_buf_fini(&rb);
	assert_non_null(strstr(log_text(), "reason=rate"));
	free(doc);
	/* a second later: refilled, but these lists are refused on content */
	{
		struct {
			uint64_t issued, expires;
			const char *why;
		} bad[] = {
			{t - 300, t + 901 + 60, "reason=lifetime"},	 /* beyond acl max */
			{t + 120, t + 600, "reason=issued_at"},		 /* post-dated */
			{t - 3600, t + 60, "reason=issued_at"},		 /* issued long ago */
		};
		for (unsigned i = 0; i < 3; i++) {
			q.seq = 20 + i;
			acl_doc(fpr, bad[i].issued, bad[i].expires, &doc, &n);
			q.acl = doc;
			q.acl_len = n;
			assert_int_equal(core_do(&c, &q, 2000 + i * 1000, &s, &rb),
					 PN_E_SIGNER_REFUSED);
			pn_buf_fini(&rb);
			free(doc);
			assert_non_null(strstr(log_text(), bad[i].why));
		}
	}
	/* another CA's fingerprint */
	{
		uint8_t other[PN_FPR_LEN] = {9};

		q.seq = 30;
		acl_doc(other, t - 300, t + 600, &doc, &n);
		q.acl = doc;
		q.acl_len = n;
		assert_int_equal(core_do(&c, &q, 9000, &s, &rb), PN_E_SIGNER_REFUSED);
		pn_buf_fini(&rb);
		free(doc);
		assert_non_null(strstr(log_text(), "reason=signer_fpr"));
	}
	/* a list that does not decode (garbage of a plausible size) */
	{
		uint8_t junk[200];

		memset(junk, 0x41, sizeof(junk));
		q.seq = 31;
		q.acl = junk;
		q.acl_len = sizeof(junk);
		assert_true(core_do(&c, &q, 10000, &s, &rb) < 0);
		pn_buf_fini(&rb);
		assert_non_null(strstr(log_text(), "op=acl seq=31"));
	}
	/* a header that does not decode: no answer, logged */
	{
		uint8_t h[PN_SIGNER_HDR_LEN] = {'X', 'X', 1, 1};

		assert_int_equal(pn_buf_init_dyn(&rb, 64, 1024), 0);
		assert_true(pn_signer_core_handle(&c, h, sizeof(h), t, 11000, &rb) < 0);
		assert_int_equal(pn_buf_len(&rb), 0);
		pn_buf_fini(&rb);
		assert_non_null(strstr(log_text(), "reason=header"));
	}
	log_stop();
	pn_anchor_free(anchor);
	pn_ca_free(ca);
}

/* A data directory with a CA. */
static char *make_dir(void)
{
	static char dir[64];

	strcpy(dir, "/tmp/pn-signer-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pn_ca_init_dir(dir, now_s() - 60), 0);
	return dir;
}

static void rm_dir(const char *dir)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/ca.key", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	unlink(p);
	rmdir(dir);
}

/* One child (processes = 1): killed, signing fails closed, then restarts. */
static void test_process_fail_closed(void **state)
{
	struct pn_signer_cfg cfg = {make_dir(), NULL, LIM, 1};
	struct pn_signer *s = NULL;
	struct pn_ca *pub = NULL;
	struct pn_anchor *anchor = NULL;
	struct pn_cred_info info = {.type = PN_CRED_CONNECTOR}, got, got2;
	uint8_t fpr[PN_FPR_LEN], tmp[PN_ED25519_PUB_LEN];
	char *csr = NULL, *pem = NULL;
	pid_t pid1, pid2;

	assert_int_equal(pn_ca_load_public(cfg.data_dir, &pub), 0);
	assert_int_equal(pn_anchor_from_ca(pub, &anchor), 0);
	pn_ca_fingerprint(pub, fpr);
	/* the public half cannot sign */
	{
		uint8_t sig[PN_SIG_LEN];

		assert_int_equal(pn_ca_sign(pub, "x", 1, sig), PN_E_CRYPTO);
	}
	assert_int_equal(pn_signer_start(&cfg, fpr, &s), 0);
	pid1 = pn_signer_pid(s);
	assert_true(pid1 > 0);
	make_csr(&csr, tmp);
	memset(info.id, 7, PN_ID_LEN);
	strcpy(info.name, "c1");
	assert_int_equal(pn_signer_issue(s, csr, &info, 300, &pem, &got), 0);
	assert_int_equal(pn_cred_verify(anchor, pem, strlen(pem), PN_CRED_CONNECTOR, now_s(), 60,
					&got2),
			 0);
	assert_memory_equal(got2.serial, got.serial, 16);
	assert_memory_equal(got2.key_fpr, got.key_fpr, PN_FPR_LEN);
	assert_int_equal(got2.not_after, got.not_after);
	assert_int_equal(got.serial_len, 16);
	free(pem);
	pem = NULL;
	/* over the limit the front asked for: refused by the child */
	assert_int_equal(pn_signer_issue(s, csr, &info, 3601, &pem, &got), PN_E_SIGNER_REFUSED);
	assert_null(pem);

	/* the child dies: the next signature fails closed... */
	kill(pid1, SIGKILL);
	assert_int_equal(pn_signer_issue(s, csr, &info, 300, &pem, &got), PN_E_SIGNER);
	assert_null(pem);
	/* ...and a new child serves the following ones (one start per second) */
	for (int i = 0; i < 300 && pn_signer_issue(s, csr, &info, 300, &pem, &got) != 0; i++)
		usleep(100 * 1000);
	assert_non_null(pem);
	free(pem);
	pid2 = pn_signer_pid(s);
	assert_true(pid2 > 0 && pid2 != pid1);
	pn_signer_free(s);
	free(csr);
	pn_anchor_free(anchor);
	pn_ca_free(pub);
	rm_dir(cfg.data_dir);
}

struct pool_arg {
	struct pn_signer *s;
	const char *csr;
	int ok;
};

static void *pool_issue(void *arg)
{
	struct pool_arg *a = arg;
	struct pn_cred_info info = {.type = PN_CRED_RELAY, .name = "r"}, got;

	for (int i = 0; i < 25; i++) {
		char *pem = NULL;

		if (pn_signer_issue(a->s, a->csr, &info, 300, &pem, &got) == 0 && pem)
			a->ok++;
		free(pem);
	}
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A pool of two children: both run and serve concurrent requests; the rate
 * cap is the pool's (each child gets half); one child killed: at most the
 * request sent to it fails closed, the other keeps serving, and the dead
 * one is replaced.
 */
static void test_process_pool(void **state)
{
	struct pn_signer_cfg cfg = {make_dir(), NULL, LIM, 2};
	struct pn_cred_info info = {.type = PN_CRED_RELAY, .name = "r"}, got;
	struct pool_arg a[4];
	pthread_t t[4];
	struct pn_signer *s = NULL;
	struct pn_ca *pub = NULL;
	uint8_t fpr[PN_FPR_LEN], tmp[PN_ED25519_PUB_LEN];
	char *csr = NULL, *pem = NULL;
	pid_t pids[4], now[4];
	int fails = 0, oks = 0;
	double t0;

	(void)state;
	assert_int_equal(pn_ca_load_public(cfg.data_dir, &pub), 0);
	pn_ca_fingerprint(pub, fpr);
	make_csr(&csr, tmp);
	assert_int_equal(pn_signer_start(&cfg, fpr, &s), 0);
	assert_int_equal(pn_signer_pids(s, pids, 4), 2);
	assert_true(pids[0] > 0 && pids[1] > 0 && pids[0] != pids[1]);
	/* four threads at once over two children */
	for (int i = 0; i < 4; i++) {
		a[i] = (struct pool_arg){s, csr, 0};
		assert_int_equal(pthread_create(&t[i], NULL, pool_issue, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].ok, 25);
	}
	/* kill the child that is next in line: its request fails closed (at
	 * most that one), the other serves, the slot gets a new child */
	kill(pids[1], SIGKILL);
	/* (a slot restarts at most once a second: go on until it has) */
	for (int i = 0; i < 600; i++) {
		int r = pn_signer_issue(s, csr, &info, 300, &pem, &got);

		oks += r == 0;
		fails += r != 0;
		free(pem);
		pem = NULL;
		assert_int_equal(pn_signer_pids(s, now, 4), 2);
		if (oks >= 10 && now[1] > 0 && now[1] != pids[1])
			break;
		usleep(10 * 1000);
	}
	assert_true(oks >= 10);
	assert_true(fails <= 1);
	assert_int_equal(now[0], pids[0]);
	assert_true(now[1] > 0 && now[1] != pids[1]);
	pn_signer_free(s);

	/* the cap is the pool's: 2/s over two children is 1/s each, so two
	 * signatures at once need both children, and a burst is cut */
	cfg.lim.rate_per_s = 2;
	assert_int_equal(pn_signer_start(&cfg, fpr, &s), 0);
	oks = fails = 0;
	t0 = mono_s();
	for (int i = 0; i < 8; i++) {
		int r = pn_signer_issue(s, csr, &info, 300, &pem, &got);

		oks += r == 0;
		fails += r == PN_E_SIGNER_RATE;
		free(pem);
		pem = NULL;
	}
	assert_true(oks >= 2);
	assert_true(oks <= 2 + 2 * (int)(mono_s() - t0 + 1)); /* refills at 2/s */
	assert_int_equal(oks + fails, 8);
	pn_signer_free(s);
	free(csr);
	pn_ca_free(pub);
	rm_dir(cfg.data_dir);
}

/* The real child on a socketpair: malformed frames refused and logged. */
static void test_process_malformed(void **state)
{
	struct pn_signer_cfg cfg = {make_dir(), NULL, LIM, 1};
	uint8_t buf[256];
	int sv[2], st, saved;
	pid_t pid;
	ssize_t n;

	log_start();
	saved = dup(2);
	dup2(log_fd, 2); /* the child keeps stderr only */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		pn_log_setup(PN_LOG_INFO, PN_LOG_TEXT, 2);
		_exit(pn_signer_child_run(sv[1], &cfg) < 0 ? 1 : 0);
	}
	close(sv[1]);
	dup2(saved, 2);
	close(saved);
	/* a CRED frame whose body is one byte short of a type: an error status */
	{
		uint8_t f[PN_SIGNER_HDR_LEN + 1] = {'P', 'S', 1, PN_SIGNER_OP_CRED, 0, 0, 0, 5,
						    0, 0, 0, 1,	  9};
		struct pn_signer_resp r;

		assert_int_equal(write(sv[0], f, sizeof(f)), sizeof(f));
		n = read(sv[0], buf, sizeof(buf));
		assert_int_equal(n, PN_SIGNER_HDR_LEN + 4);
		assert_int_equal(pn_signer_resp_decode(buf, (size_t)n, &r), 0);
		assert_int_equal(r.seq, 5);
		assert_int_equal(r.status, PN_E_MALFORMED);
	}
	/* a header that is not ours: the child logs and closes */
	assert_int_equal(write(sv[0], "GET / HTTP/1.1\r\n", 16), 16);
	n = read(sv[0], buf, sizeof(buf));
	assert_true(n <= 0); /* EOF, or a reset: it left our bytes unread */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	close(sv[0]);
	assert_non_null(strstr(log_text(), "signer ready"));
	assert_non_null(strstr(log_text(), "op=cred seq=5 err=PN_E_MALFORMED"));
	assert_non_null(strstr(log_text(), "reason=header"));
	log_stop();
	rm_dir(cfg.data_dir);
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* After pn_signer_sandbox: open and socket kill the process (SIGSYS). */
static void test_sandbox(void **state)
{
#ifdef SANITIZED
	skip(); /* sanitizer builds log instead of killing */
#else
	for (int which = 0; which < 2; which++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			if (pn_signer_sandbox(2) < 0)
				_exit(3);
			if (write(2, "", 0) < 0) /* allowed */
				_exit(4);
			if (which == 0)
				open("/etc/hostname", O_RDONLY);
			else
				socket(AF_INET, SOCK_DGRAM, 0);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
#endif
}

/* Fuzz seeds from the real encoders. */
static int write_corpus(const char *dir)
{
	struct pn_signer_req q;
	struct pn_buf b;
	uint8_t fpr[PN_FPR_LEN] = {0}, *doc;
	size_t n;
	char path[512];
	FILE *f;

	for (int i = 0; i < 3; i++) {
		if (i == 0) {
			cred_req(&q, 600);
		} else if (i == 1) {
			memset(&q, 0, sizeof(q));
			q.op = PN_SIGNER_OP_ACL;
			/* fuzz_signer's clock is 1700000000 */
			acl_doc(fpr, 1700000000 - 300, 1700000000 + 600, &doc, &n);
			q.acl = doc;
			q.acl_len = n;
		} else {
			memset(&q, 0, sizeof(q));
			q.op = PN_SIGNER_OP_PING;
		}
		if (pn_buf_init_dyn(&b, 256, 1 << 20) || pn_signer_req_encode(&q, &b))
			return 1;
		snprintf(path, sizeof(path), "%s/%s", dir, pn_signer_op_name(q.op));
		f = fopen(path, "wb");
		if (!f || fwrite(pn_buf_ptr(&b), 1, pn_buf_len(&b), f) != pn_buf_len(&b))
			return 1;
		fclose(f);
		pn_buf_fini(&b);
		if (i == 1)
			free(doc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_cred),
		cmocka_unit_test(test_codec_acl_resp),
		cmocka_unit_test(test_core_limits),
		cmocka_unit_test(test_process_fail_closed),
		cmocka_unit_test(test_process_pool),
		cmocka_unit_test(test_process_malformed),
		cmocka_unit_test(test_sandbox),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
		return write_corpus(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
