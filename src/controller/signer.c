/* The front's side of the CA signer: start, requests, restart (signer.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controller/signer.h"
#include "controller/signer_wire.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/acl_wire.h"

#define SIGNER_FD	       3     /* the child's end, after exec */
#define SIGNER_START_TIMEOUT_MS 30000 /* loading a key: generous on a loaded host */
#define SIGNER_REQ_TIMEOUT_MS  10000 /* one signature takes well under 1 ms */
#define SIGNER_RESTART_MIN_MS  1000  /* at most one start per second */

/* One child of the pool; `busy`: a request thread owns it (its fd, pid,
 * seq and start time) until it gives it back under the lock. */
struct kid {
	int fd;
	pid_t pid;
	int busy;
	uint32_t seq;
	uint64_t last_start_ms;
	unsigned slot;
};

struct pn_signer {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* a child was given back */
	char *data_dir, *exe;
	struct pn_signer_limits lim;	 /* the configured limits (rate: the pool's) */
	struct pn_signer_limits kid_lim; /* each child's: its share of the rate */
	uint8_t ca_fpr[PN_FPR_LEN];
	unsigned n, next; /* children; where the next search for an idle one starts */
	struct kid *kids;
	unsigned starts;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

pid_t pn_signer_pid(struct pn_signer *s)
{
	pid_t p = -1;

	pn_signer_pids(s, &p, 1);
	return p;
}

unsigned pn_signer_pids(struct pn_signer *s, pid_t *pids, unsigned max)
{
	unsigned i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n && i < max; i++)
		pids[i] = s->kids[i].fd >= 0 ? s->kids[i].pid : -1;
	pthread_mutex_unlock(&s->lock);
	return i;
}

/* Wait up to timeout_ms for fd to be ready for `ev`. */
static int wait_fd(int fd, short ev, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = {fd, ev, 0};
		uint64_t now = mono_ms();
		int n;

		if (now >= deadline_ms)
			return PN_E_TIMEOUT;
		n = poll(&p, 1, (int)(deadline_ms - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const uint8_t *p, size_t n, uint64_t deadline_ms)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		if ((r = wait_fd(fd, POLLOUT, deadline_ms)) < 0)
			return r;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n, uint64_t deadline_ms)
{
	while (n) {
		ssize_t g = recv(fd, p, n, MSG_DONTWAIT);
		int r;

		if (g > 0) {
			p += g;
			n -= (size_t)g;
			continue;
		}
		if (g == 0)
			return PN_E_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if ((r = wait_fd(fd, POLLIN, deadline_ms)) < 0)
			return r;
	}
	return 0;
}

/* One request, one response frame (*frame: heap, the response's views
 * point into it).  The caller owns k, a live child. */
static int exchange(struct kid *k, struct pn_signer_req *q, uint64_t timeout_ms, uint8_t **frame,
		    struct pn_signer_resp *resp)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	uint8_t hdr[PN_SIGNER_HDR_LEN], *f = NULL;
	struct pn_signer_hdr h;
	struct pn_buf b;
	int r;

	*frame = NULL;
	q->seq = ++k->seq;
	if ((r = pn_buf_init_dyn(&b, 1024, PN_SIGNER_HDR_LEN + PN_SIGNER_BODY_MAX)) < 0)
		return r;
	r = pn_signer_req_encode(q, &b);
	if (r == 0)
		r = send_all(k->fd, pn_buf_ptr(&b), pn_buf_len(&b), deadline);
	pn_buf_fini(&b);
	if (r < 0)
		return r == PN_E_INVAL || r == PN_E_TOOBIG || r == -ENOMEM ? r : PN_E_SIGNER;
	if ((r = recv_all(k->fd, hdr, sizeof(hdr), deadline)) < 0 ||
	    (r = pn_signer_hdr_decode(hdr, sizeof(hdr), &h)) < 0)
		return PN_E_SIGNER;
	f = malloc(PN_SIGNER_HDR_LEN + (size_t)h.body_len);
	if (!f)
		return PN_E_SIGNER; /* the unread body leaves the stream unusable */
	memcpy(f, hdr, sizeof(hdr));
	if ((r = recv_all(k->fd, f + PN_SIGNER_HDR_LEN, h.body_len, deadline)) < 0 ||
	    (r = pn_signer_resp_decode(f, PN_SIGNER_HDR_LEN + (size_t)h.body_len, resp)) < 0 ||
	    resp->seq != q->seq || resp->op != q->op) {
		free(f);
		return PN_E_SIGNER;
	}
	*frame = f;
	return 0;
}

/* Reap and forget a child (the caller owns it). */
static void child_gone(struct kid *k, const char *why)
{
	int st = 0;
	pid_t w;

	if (k->fd < 0)
		return;
	close(k->fd);
	k->fd = -1;
	w = waitpid(k->pid, &st, WNOHANG);
	if (w == 0) {
		/* alive but useless (hung, or it broke the protocol) */
		kill(k->pid, SIGKILL);
		w = waitpid(k->pid, &st, 0);
	}
	if (why)
		PN_LOG_ERROR("signer", "signer_died",
			     "pid=%d slot=%u why=%s exit=%d signal=%d (its request fails closed; "
			     "it restarts)",
			     (int)k->pid, k->slot, why, w > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			     w > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Start child k (the caller owns it; the pool's fields it reads are
 * constant after pn_signer_start). */
static int spawn(struct pn_signer *s, struct kid *k)
{
	char fdarg[16], cred[16], acl[16], rate[16];
	char *argv[] = {s->exe,	   "controller", "signer", "--fd",  fdarg, "--data", s->data_dir,
			"--cred-max", cred,	  "--acl-max", acl,   "--rate", rate,	    NULL};
	struct pn_signer_resp resp;
	struct pn_signer_req *q = NULL;
	uint8_t *frame = NULL;
	int sv[2], r;
	pid_t pid;

	unsigned starts;

	k->last_start_ms = mono_ms();
	snprintf(fdarg, sizeof(fdarg), "%d", SIGNER_FD);
	snprintf(cred, sizeof(cred), "%u", s->kid_lim.cred_lifetime_max_s);
	snprintf(acl, sizeof(acl), "%u", s->kid_lim.acl_lifetime_max_s);
	snprintf(rate, sizeof(rate), "%u", s->kid_lim.rate_per_s);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		if (s->exe) {
			/* only async-signal-safe calls between fork and exec */
			if (sv[1] == SIGNER_FD)
				fcntl(SIGNER_FD, F_SETFD, 0);
			else if (dup2(sv[1], SIGNER_FD) < 0)
				_exit(127);
			execv(s->exe, argv);
			_exit(127);
		}
		{
			struct pn_signer_cfg cfg = {s->data_dir, NULL, s->kid_lim, 1};

			close(sv[0]);
			_exit(pn_signer_child_run(sv[1], &cfg) < 0 ? 1 : 0);
		}
	}
	close(sv[1]);
	k->fd = sv[0];
	k->pid = pid;
	k->seq = 0;
	starts = __atomic_add_fetch(&s->starts, 1, __ATOMIC_RELAXED);
	/* the child answers once its key is loaded and it is confined */
	q = calloc(1, sizeof(*q));
	if (!q) {
		child_gone(k, NULL);
		return -ENOMEM;
	}
	q->op = PN_SIGNER_OP_PING;
	r = exchange(k, q, SIGNER_START_TIMEOUT_MS, &frame, &resp);
	if (r == 0 && resp.status < 0)
		r = resp.status;
	if (r == 0 && memcmp(resp.fpr, s->ca_fpr, PN_FPR_LEN) != 0) {
		PN_LOG_ERROR("signer", "wrong_ca", "pid=%d (ca.key is not the key of ca.crt)",
			     (int)pid);
		r = PN_E_CONFIG;
	}
	free(frame);
	free(q);
	if (r < 0) {
		child_gone(k, "start");
		return r == PN_E_CONFIG ? r : PN_E_SIGNER;
	}
	PN_LOG_INFO("signer", "signer_started", "pid=%d slot=%u of=%u starts=%u mode=%s", (int)pid,
		    k->slot, s->n, starts, s->exe ? "exec" : "fork");
	return 0;
}

int pn_signer_start(const struct pn_signer_cfg *cfg, const uint8_t ca_fpr[PN_FPR_LEN],
		    struct pn_signer **out)
{
	unsigned n = cfg->processes ? cfg->processes : PN_SIGNER_PROCESSES_DEFAULT;
	struct pn_signer *s;
	int r;

	*out = NULL;
	if (!cfg->data_dir || !cfg->lim.cred_lifetime_max_s || !cfg->lim.acl_lifetime_max_s ||
	    !cfg->lim.rate_per_s || cfg->lim.cred_lifetime_max_s > PN_CRED_LIFETIME_MAX ||
	    n > PN_SIGNER_PROCESSES_MAX)
		return PN_E_INVAL;
	/* the rate cap is the pool's: each child gets its share (and a pool
	 * is never larger than the cap, so every share is >= 1) */
	if (n > cfg->lim.rate_per_s)
		n = cfg->lim.rate_per_s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lim = cfg->lim;
	s->kid_lim = cfg->lim;
	s->kid_lim.rate_per_s = cfg->lim.rate_per_s / n;
	memcpy(s->ca_fpr, ca_fpr, PN_FPR_LEN);
	s->kids = calloc(n, sizeof(*s->kids));
	if (!s->kids) {
		free(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		s->kids[i].fd = -1;
		s->kids[i].pid = -1;
		s->kids[i].slot = i;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->kids);
		free(s);
		return -ENOMEM;
	}
	if (pthread_cond_init(&s->idle, NULL) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s->kids);
		free(s);
		return -ENOMEM;
	}
	s->n = n;
	s->data_dir = strdup(cfg->data_dir);
	s->exe = cfg->exe ? strdup(cfg->exe) : NULL;
	if (!s->data_dir || (cfg->exe && !s->exe)) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < n; i++)
		if ((r = spawn(s, &s->kids[i])) < 0)
			goto fail;
	*out = s;
	return 0;
fail:
	pn_signer_free(s);
	return r;
}

void pn_signer_free(struct pn_signer *s)
{
	uint64_t deadline = mono_ms() + 5000;
	int st;

	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++)
		if (s->kids[i].fd >= 0)
			close(s->kids[i].fd); /* EOF: the child exits */
	for (unsigned i = 0; i < s->n; i++) {
		struct kid *k = &s->kids[i];
		pid_t w;

		if (k->fd < 0)
			continue;
		while ((w = waitpid(k->pid, &st, WNOHANG)) == 0 && mono_ms() < deadline)
			usleep(2000);
		if (w == 0) { /* stopped or stuck: it holds nothing we need */
			kill(k->pid, SIGKILL);
			waitpid(k->pid, &st, 0);
		}
		k->fd = -1;
	}
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s->kids);
	free(s->data_dir);
	free(s->exe);
	free(s);
}

static int may_restart(const struct kid *k)
{
	return mono_ms() - k->last_start_ms >= SIGNER_RESTART_MIN_MS;
}

/* Take the next idle child that is alive or may be restarted (a dead one
 * is replaced by the request that takes it), waiting while all such are
 * busy; NULL when none is alive or may restart (signing fails closed). */
static struct kid *take(struct pn_signer *s)
{
	struct kid *k = NULL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		unsigned busy = 0;

		for (unsigned i = 0; i < s->n && !k; i++) {
			struct kid *c = &s->kids[(s->next + i) % s->n];

			if (c->busy)
				busy++;
			else if (c->fd >= 0 || may_restart(c))
				k = c;
		}
		if (k || !busy)
			break;
		pthread_cond_wait(&s->idle, &s->lock);
	}
	if (k) {
		k->busy = 1;
		s->next = (k->slot + 1) % s->n; /* spread requests (and the rate shares) */
	}
	pthread_mutex_unlock(&s->lock);
	return k;
}

static void give_back(struct pn_signer *s, struct kid *k)
{
	pthread_mutex_lock(&s->lock);
	k->busy = 0;
	pthread_cond_signal(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

/* One request with restart-on-failure; the response's views live in *frame. */
static int request(struct pn_signer *s, struct pn_signer_req *q, uint8_t **frame,
		   struct pn_signer_resp *resp)
{
	struct kid *k = take(s);
	int r = PN_E_SIGNER;

	if (!k)
		return PN_E_SIGNER;
	if (k->fd < 0)
		spawn(s, k);
	if (k->fd >= 0) {
		r = exchange(k, q, SIGNER_REQ_TIMEOUT_MS, frame, resp);
		if (r == PN_E_SIGNER) {
			/* fail closed now; a new child serves a later request */
			child_gone(k, "request");
			if (may_restart(k))
				spawn(s, k);
		}
	}
	give_back(s, k);
	if (r == 0 && resp->status < 0) {
		r = resp->status;
		free(*frame);
		*frame = NULL;
	}
	return r;
}

int pn_signer_issue(struct pn_signer *s, const char *csr_pem, const struct pn_cred_info *info,
		    uint32_t lifetime_s, char **out_pem, struct pn_cred_info *issued)
{
	struct pn_signer_resp resp;
	struct pn_signer_req *q;
	uint8_t fpr[PN_FPR_LEN], *frame = NULL;
	int r;

	*out_pem = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	/* parse and proof of possession here: the signer parses no ASN.1 */
	if ((r = pn_cred_csr_pubkey(csr_pem, q->pubkey, fpr)) < 0)
		goto out;
	q->op = PN_SIGNER_OP_CRED;
	q->info = *info;
	q->lifetime_s = lifetime_s;
	if ((r = request(s, q, &frame, &resp)) < 0)
		goto out;
	*out_pem = malloc(resp.pem_len + 1);
	if (!*out_pem) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(*out_pem, resp.pem, resp.pem_len);
	(*out_pem)[resp.pem_len] = '\0';
	if (issued) {
		*issued = q->info;
		memset(issued->serial, 0, sizeof(issued->serial));
		memcpy(issued->key_fpr, fpr, PN_FPR_LEN);
		memcpy(issued->serial, resp.serial, sizeof(resp.serial));
		issued->serial_len = sizeof(resp.serial);
		issued->not_before = resp.not_before;
		issued->not_after = resp.not_after;
	}
out:
	free(frame);
	free(q);
	return r;
}

int pn_signer_sign_acl(struct pn_signer *s, const struct pn_acl *acl, uint8_t **out,
		       size_t *outlen)
{
	struct pn_signer_resp resp;
	struct pn_signer_req *q;
	uint8_t *doc = NULL, *frame = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	*outlen = 0;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	/* encode_unsigned leaves room for the 65-byte trailer */
	if ((r = pn_acl_encode_unsigned(acl, s->ca_fpr, &doc, &n)) < 0)
		goto out;
	q->op = PN_SIGNER_OP_ACL;
	q->acl = doc;
	q->acl_len = n;
	if ((r = request(s, q, &frame, &resp)) < 0)
		goto out;
	doc[n] = PN_ACL_SIG_ED25519;
	memcpy(doc + n + 1, resp.sig, PN_SIG_LEN);
	*out = doc;
	*outlen = n + 1 + PN_SIG_LEN;
	doc = NULL; /* transferred */
out:
	free(doc);
	free(frame);
	free(q);
	return r;
}
