/* The CA signer process: load the key, confine, serve (signer.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controller/apicert.h"
#include "controller/signer.h"
#include "controller/signer_sandbox.h"
#include "controller/signer_wire.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/key.h"

#define CHILD_FD 3

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 1: got n bytes; 0: EOF before the first byte; <0: error / EOF inside. */
static int read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return got ? PN_E_TRUNCATED : 0;
		return -errno;
	}
	return 1;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Only the socket (as CHILD_FD) and stderr stay open; stdin/stdout are
 * /dev/null.  Run before the key is loaded. */
static int tidy_fds(int fd)
{
	int null;

	if (fd != CHILD_FD) {
		if (dup2(fd, CHILD_FD) < 0)
			return -errno;
		close(fd);
	}
	fcntl(CHILD_FD, F_SETFD, FD_CLOEXEC);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 2 && null != CHILD_FD)
			close(null);
	}
	/* everything else the front had open: listeners, database files */
	if (close_range(CHILD_FD + 1, ~0U, 0) < 0)
		return -errno;
	return 0;
}

/* Exercise every signing path once before the filter goes on, so GnuTLS
 * has done any lazy setup (random generator, algorithm tables). */
static int warm_up(const struct pn_ca *ca)
{
	struct pn_cred_info info = {.type = PN_CRED_RELAY, .name = "warm-up"};
	uint8_t pub[PN_ED25519_PUB_LEN], sig[PN_SIG_LEN];
	struct pn_key *k = NULL;
	char *csr = NULL, *pem = NULL;
	size_t n = 0;
	int r;

	if ((r = pn_key_generate(&k)) < 0 || (r = pn_key_csr_pem(k, NULL, &csr, &n)) < 0 ||
	    (r = pn_cred_csr_pubkey(csr, pub, NULL)) < 0 ||
	    (r = pn_cred_issue_pubkey(ca, pub, &info, 60, (uint64_t)time(NULL), &pem, NULL)) < 0 ||
	    (r = pn_ca_sign(ca, "warm-up", 7, sig)) < 0)
		goto out;
out:
	free(pem);
	free(csr);
	pn_key_free(k);
	return r;
}

int pn_signer_child_run(int fd, const struct pn_signer_cfg *cfg)
{
	struct pn_signer_core core;
	struct pn_ca *ca = NULL;
	struct pn_buf resp;
	uint8_t hdr[PN_SIGNER_HDR_LEN], *frame = NULL;
	sigset_t all;
	int r;

	/* die with the front; take default signal handling back */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = tidy_fds(fd)) < 0)
		return r;
	fd = CHILD_FD;
	if ((r = pn_ca_load(cfg->data_dir, &ca)) < 0) {
		PN_LOG_ERROR("signer", "ca_load_failed", "dir=%s err=%s", cfg->data_dir,
			     pn_errname(r));
		return r;
	}
	if ((r = pn_signer_core_init(&core, ca, &cfg->lim, mono_ms())) < 0 ||
	    (r = warm_up(ca)) < 0) {
		PN_LOG_ERROR("signer", "init_failed", "err=%s", pn_errname(r));
		goto out;
	}
	r = pn_signer_sandbox(CHILD_FD);
	if (r == PN_E_UNSUPPORTED) {
		PN_LOG_WARN("signer", "no_syscall_filter", "reason=architecture");
	} else if (r < 0) {
		PN_LOG_ERROR("signer", "sandbox_failed", "err=%s", pn_errname(r));
		goto out;
	}
	PN_LOG_INFO("signer", "ready",
		    "pid=%d ca=%s cred_max_s=%u acl_max_s=%u rate_per_s=%u seccomp=%s", (int)getpid(),
		    pn_ca_fingerprint_hex(ca), cfg->lim.cred_lifetime_max_s,
		    cfg->lim.acl_lifetime_max_s, cfg->lim.rate_per_s, r == 0 ? "on" : "off");
	for (;;) {
		struct pn_signer_hdr h;

		r = read_full(fd, hdr, sizeof(hdr));
		if (r == 0)
			break; /* the front closed: done */
		if (r < 0)
			goto out;
		r = pn_signer_hdr_decode(hdr, sizeof(hdr), &h);
		if (r < 0) {
			/* no way to find the next frame: log (core) and stop */
			pn_signer_core_handle(&core, hdr, sizeof(hdr), 0, 0, NULL);
			goto out;
		}
		frame = malloc(PN_SIGNER_HDR_LEN + (size_t)h.body_len);
		if (!frame) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(frame, hdr, sizeof(hdr));
		if ((r = read_full(fd, frame + PN_SIGNER_HDR_LEN, h.body_len)) != 1) {
			r = r ? r : PN_E_TRUNCATED;
			goto out;
		}
		if ((r = pn_buf_init_dyn(&resp, 2048, PN_SIGNER_HDR_LEN + PN_SIGNER_BODY_MAX)) < 0)
			goto out;
		r = pn_signer_core_handle(&core, frame, PN_SIGNER_HDR_LEN + (size_t)h.body_len,
					  (uint64_t)time(NULL), mono_ms(), &resp);
		if (r == 0)
			r = write_full(fd, pn_buf_ptr(&resp), pn_buf_len(&resp));
		pn_buf_fini(&resp);
		free(frame);
		frame = NULL;
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		PN_LOG_ERROR("signer", "exiting", "err=%s signed=%llu refused=%llu", pn_errname(r),
			     (unsigned long long)core.nsigned, (unsigned long long)core.nrefused);
	free(frame);
	pn_ca_free(ca); /* wipes the key */
	return r;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > UINT32_MAX)
		return PN_E_CONFIG;
	*out = (uint32_t)v;
	return 0;
}

int pn_signer_child_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"fd", required_argument, NULL, 'f'},	   {"data", required_argument, NULL, 'd'},
		{"cred-max", required_argument, NULL, 'c'}, {"acl-max", required_argument, NULL, 'a'},
		{"rate", required_argument, NULL, 'r'},	   {NULL, 0, NULL, 0},
	};
	struct pn_signer_cfg cfg = {NULL, NULL, {0, 0, PN_SIGNER_RATE_DEFAULT}, 1};
	uint32_t fd = UINT32_MAX;
	int c, bad = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': bad |= parse_u32(optarg, &fd); break;
		case 'd': cfg.data_dir = optarg; break;
		case 'c': bad |= parse_u32(optarg, &cfg.lim.cred_lifetime_max_s); break;
		case 'a': bad |= parse_u32(optarg, &cfg.lim.acl_lifetime_max_s); break;
		case 'r': bad |= parse_u32(optarg, &cfg.lim.rate_per_s); break;
		default: bad = 1;
		}
	}
	if (bad || fd > INT_MAX || !cfg.data_dir || optind != argc) {
		fprintf(stderr, "postern controller signer: internal command, started by "
				"`postern controller run`\n");
		return 2;
	}
	/* _exit: no atexit handlers (nothing to flush; they may make system
	 * calls the filter refuses) */
	_exit(pn_signer_child_run((int)fd, &cfg) < 0 ? 1 : 0);
}

/* The child of pn_signer_init_dir. */
static int init_child(const char *dir, const char *const *names, unsigned nnames, uint64_t now,
		      uint64_t api_lifetime_s)
{
	struct pn_ca *ca = NULL;
	struct pn_key *key = NULL;
	char path[PATH_MAX], *pem = NULL;
	int r;

	if ((r = pn_ca_init_dir(dir, now)) < 0 || (r = pn_ca_load(dir, &ca)) < 0 ||
	    (r = pn_key_generate(&key)) < 0)
		goto out;
	if (snprintf(path, sizeof(path), "%s/api.key", dir) >= (int)sizeof(path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if ((r = pn_key_save_pem_file(key, path)) < 0 ||
	    (r = pn_apicert_issue(ca, key, names, nnames, now, api_lifetime_s, &pem)) < 0 ||
	    (r = pn_file_write_at(dir, "api.crt", pem, strlen(pem), 0644,
					  PN_FILE_NOCLOBBER)) < 0)
		goto out;
out:
	free(pem);
	pn_key_free(key);
	pn_ca_free(ca);
	return r;
}

int pn_signer_init_dir(const char *dir, const char *const *names, unsigned nnames, uint64_t now,
		       uint64_t api_lifetime_s)
{
	int p[2], st = 0;
	int32_t rc = PN_E_INTERNAL;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		int32_t r;

		close(p[0]);
		r = init_child(dir, names, nnames, now, api_lifetime_s);
		_exit(write(p[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &rc, sizeof(rc)) != sizeof(rc))
		rc = PN_E_INTERNAL;
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return rc;
}
