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

struct pn_signer {
	pthread_mutex_t lock;
	char *data_dir, *exe;
	struct pn_signer_limits lim;
	uint8_t ca_fpr[PN_FPR_LEN];
	int fd;
	pid_t pid;
	uint32_t seq;
	uint64_t last_start_ms;
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
	pid_t p;

	pthread_mutex_lock(&s->lock);
	p = s->fd >= 0 ? s->pid : -1;
	pthread_mutex_unlock(&s->lock);
	return p;
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
 * point into it).  Caller holds the lock and has a live child. */
static int exchange(struct pn_signer *s, struct pn_signer_req *q, uint64_t timeout_ms,
		    uint8_t **frame, struct pn_signer_resp *resp)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	uint8_t hdr[PN_SIGNER_HDR_LEN], *f = NULL;
	struct pn_signer_hdr h;
	struct pn_buf b;
	int r;

	*frame = NULL;
	q->seq = ++s->seq;
	if ((r = pn_buf_init_dyn(&b, 1024, PN_SIGNER_HDR_LEN + PN_SIGNER_BODY_MAX)) < 0)
		return r;
	r = pn_signer_req_encode(q, &b);
	if (r == 0)
		r = send_all(s->fd, pn_buf_ptr(&b), pn_buf_len(&b), deadline);
	pn_buf_fini(&b);
	if (r < 0)
		return r == PN_E_INVAL || r == PN_E_TOOBIG || r == -ENOMEM ? r : PN_E_SIGNER;
	if ((r = recv_all(s->fd, hdr, sizeof(hdr), deadline)) < 0 ||
	    (r = pn_signer_hdr_decode(hdr, sizeof(hdr), &h)) < 0)
		return PN_E_SIGNER;
	f = malloc(PN_SIGNER_HDR_LEN + (size_t)h.body_len);
	if (!f)
		return PN_E_SIGNER; /* the unread body leaves the stream unusable */
	memcpy(f, hdr, sizeof(hdr));
	if ((r = recv_all(s->fd, f + PN_SIGNER_HDR_LEN, h.body_len, deadline)) < 0 ||
	    (r = pn_signer_resp_decode(f, PN_SIGNER_HDR_LEN + (size_t)h.body_len, resp)) < 0 ||
	    resp->seq != q->seq || resp->op != q->op) {
		free(f);
		return PN_E_SIGNER;
	}
	*frame = f;
	return 0;
}

/* Reap and forget the current child (caller holds the lock). */
static void child_gone(struct pn_signer *s, const char *why)
{
	int st = 0;
	pid_t w;

	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	w = waitpid(s->pid, &st, WNOHANG);
	if (w == 0) {
		/* alive but useless (hung, or it broke the protocol) */
		kill(s->pid, SIGKILL);
		w = waitpid(s->pid, &st, 0);
	}
	if (why)
		PN_LOG_ERROR("signer", "signer_died",
			     "pid=%d why=%s exit=%d signal=%d (signing fails closed until it "
			     "restarts)",
			     (int)s->pid, why, w > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			     w > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int spawn(struct pn_signer *s)
{
	char fdarg[16], cred[16], acl[16], rate[16];
	char *argv[] = {s->exe,	   "controller", "signer", "--fd",  fdarg, "--data", s->data_dir,
			"--cred-max", cred,	  "--acl-max", acl,   "--rate", rate,	    NULL};
	struct pn_signer_resp resp;
	struct pn_signer_req *q = NULL;
	uint8_t *frame = NULL;
	int sv[2], r;
	pid_t pid;

	s->last_start_ms = mono_ms();
	snprintf(fdarg, sizeof(fdarg), "%d", SIGNER_FD);
	snprintf(cred, sizeof(cred), "%u", s->lim.cred_lifetime_max_s);
	snprintf(acl, sizeof(acl), "%u", s->lim.acl_lifetime_max_s);
	snprintf(rate, sizeof(rate), "%u", s->lim.rate_per_s);
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
			struct pn_signer_cfg cfg = {s->data_dir, NULL, s->lim};

			close(sv[0]);
			_exit(pn_signer_child_run(sv[1], &cfg) < 0 ? 1 : 0);
		}
	}
	close(sv[1]);
	s->fd = sv[0];
	s->pid = pid;
	s->starts++;
	/* the child answers once its key is loaded and it is confined */
	q = calloc(1, sizeof(*q));
	if (!q) {
		child_gone(s, NULL);
		return -ENOMEM;
	}
	q->op = PN_SIGNER_OP_PING;
	r = exchange(s, q, SIGNER_START_TIMEOUT_MS, &frame, &resp);
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
		child_gone(s, "start");
		return r == PN_E_CONFIG ? r : PN_E_SIGNER;
	}
	PN_LOG_INFO("signer", "signer_started", "pid=%d starts=%u mode=%s", (int)pid, s->starts,
		    s->exe ? "exec" : "fork");
	return 0;
}

int pn_signer_start(const struct pn_signer_cfg *cfg, const uint8_t ca_fpr[PN_FPR_LEN],
		    struct pn_signer **out)
{
	struct pn_signer *s;
	int r;

	*out = NULL;
	if (!cfg->data_dir || !cfg->lim.cred_lifetime_max_s || !cfg->lim.acl_lifetime_max_s ||
	    !cfg->lim.rate_per_s || cfg->lim.cred_lifetime_max_s > PN_CRED_LIFETIME_MAX)
		return PN_E_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->pid = -1;
	s->lim = cfg->lim;
	memcpy(s->ca_fpr, ca_fpr, PN_FPR_LEN);
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return -ENOMEM;
	}
	s->data_dir = strdup(cfg->data_dir);
	s->exe = cfg->exe ? strdup(cfg->exe) : NULL;
	if (!s->data_dir || (cfg->exe && !s->exe)) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = spawn(s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	pn_signer_free(s);
	return r;
}

void pn_signer_free(struct pn_signer *s)
{
	int st;

	if (!s)
		return;
	if (s->fd >= 0) {
		uint64_t deadline = mono_ms() + 5000;
		pid_t w;

		close(s->fd); /* EOF: the child exits */
		while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && mono_ms() < deadline)
			usleep(2000);
		if (w == 0) { /* stopped or stuck: it holds nothing we need */
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s->data_dir);
	free(s->exe);
	free(s);
}

/* One request with restart-on-failure; the response's views live in *frame. */
static int request(struct pn_signer *s, struct pn_signer_req *q, uint8_t **frame,
		   struct pn_signer_resp *resp)
{
	int r;

	pthread_mutex_lock(&s->lock);
	if (s->fd < 0 && mono_ms() - s->last_start_ms >= SIGNER_RESTART_MIN_MS)
		spawn(s);
	if (s->fd < 0) {
		pthread_mutex_unlock(&s->lock);
		return PN_E_SIGNER;
	}
	r = exchange(s, q, SIGNER_REQ_TIMEOUT_MS, frame, resp);
	if (r == PN_E_SIGNER) {
		/* fail closed now; a new child serves the next request */
		child_gone(s, "request");
		if (mono_ms() - s->last_start_ms >= SIGNER_RESTART_MIN_MS)
			spawn(s);
	}
	pthread_mutex_unlock(&s->lock);
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
