/*
 * Credential issuance through the CA signer (controller/signer.h) against
 * the same issuance in-process (pn_cred_issue, what the controller did
 * before the signer), and access-list signing both ways:
 *   direct_issuance_per_s    pn_cred_issue (parse CSR, build, sign, PEM)
 *   signer_issuance_per_s    pn_signer_issue: CSR parsed here, the child
 *                            builds and signs, one socketpair round trip
 *   signer_issuance_2t_per_s the same from two threads (the HTTP server
 *                            issues from several)
 *   direct_acl_per_s / signer_acl_per_s  a 100-entry client list
 * (these with one signer child, as before the pool), then the pool rows:
 *   poolP_issuance_Tt_per_s / poolP_acl_Tt_per_s  P children (1, 2, 4),
 *                            T threads (1, 2, 4) issuing or signing lists,
 *                            with the CPU time (this process and the
 *                            children) per operation: on a shared machine
 *                            the rate is what the scheduler gave, the CPU
 *                            cost is what the work needs (N cores give at
 *                            most N x 10^6 / cpu_us_per_op per second)
 * The signer logs every signature: its log goes to a file in the data
 * directory, as a controller's log would go somewhere.  The load average
 * is printed before and after (the machine is shared).  Goal (issue 3,
 * issue 18): >= 2,000 issuances/s.
 * Usage: bench_signer_issue [seconds-per-measure, default 2]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "controller/signer.h"
#include "core/log.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

static double secs = 2.0;
static struct pn_signer *g_signer;
static char *g_csr;
static struct pn_acl g_acl;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_signer_issue: %s failed: %d\n", what, r);
	exit(1);
}

static void fill_info(struct pn_cred_info *info, long i)
{
	memset(info, 0, sizeof(*info));
	info->type = PN_CRED_CLIENT;
	strcpy(info->name, "bench-device");
	strcpy(info->user, "bench@corp.example");
	info->ngroups = 1;
	strcpy(info->groups[0], "eng");
	memcpy(info->id, &i, sizeof(i));
}

static void *acl_loop(void *arg)
{
	long *count = arg, n = 0;
	double t0 = now_s();
	uint8_t *doc;
	size_t len;
	int r;

	do {
		if ((r = pn_signer_sign_acl(g_signer, &g_acl, &doc, &len)))
			die("signer acl sign", r);
		free(doc);
		n++;
	} while (now_s() - t0 < secs);
	*count = n;
	return NULL;
}

/* CPU seconds used so far by this process (all threads) and the signer
 * children alive now (/proc/PID/stat utime + stime). */
static double cpu_s(void)
{
	struct timespec ts;
	pid_t pids[8];
	unsigned n = g_signer ? pn_signer_pids(g_signer, pids, 8) : 0;
	double t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	for (unsigned i = 0; i < n; i++) {
		char path[64], buf[1024], *p;
		unsigned long ut = 0, st = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
		if (pids[i] <= 0 || !(f = fopen(path, "r")))
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* after "(comm)": state ppid pgrp session tty tpgid flags minflt
		 * cminflt majflt cmajflt utime stime */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st) == 2)
			t += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	return t;
}

/* fn from nthreads threads at once: the sum of their rates; *cpu_us: CPU
 * time (front and children) per operation */
static double run_threads(void *(*fn)(void *), int nthreads, double *cpu_us)
{
	pthread_t th[8];
	long c[8];
	double t0 = now_s(), sum = 0, c0 = cpu_s();

	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, fn, &c[i]))
			die("pthread_create", -1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t0 = now_s() - t0;
	for (int i = 0; i < nthreads; i++)
		sum += (double)c[i];
	if (cpu_us)
		*cpu_us = (cpu_s() - c0) * 1e6 / sum;
	return sum / t0;
}

static void loadavg(const char *when)
{
	char buf[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			strcpy(buf, "?\n");
		fclose(f);
	}
	printf("# load average %s: %s", when, buf);
}

static void *issue_loop(void *arg)
{
	long *count = arg, n = 0;
	double t0 = now_s();
	struct pn_cred_info info;
	char *pem;
	int r;

	do {
		fill_info(&info, n);
		if ((r = pn_signer_issue(g_signer, g_csr, &info, 3600, &pem, &info)))
			die("signer issue", r);
		free(pem);
		n++;
	} while (now_s() - t0 < secs);
	*count = n;
	return NULL;
}

static void make_acl(struct pn_acl *acl)
{
	uint8_t rid[PN_ID_LEN] = {9}, net[PN_ID_LEN] = {7}, conn[1][PN_ID_LEN] = {{5}};
	uint64_t now = (uint64_t)time(NULL);
	char dest[64];

	pn_acl_init(acl, PN_ACL_CLIENT);
	for (int i = 0; i < 100; i++) {
		rid[1] = (uint8_t)i;
		snprintf(dest, sizeof(dest), "10.%d.0.0/16", i);
		if (pn_acl_add_text(acl, rid, net, dest, "tcp", "443"))
			die("acl", -1);
	}
	if (pn_acl_add_network(acl, net, conn, 1))
		die("acl network", -1);
	acl->version = 1;
	acl->issued_at = now - 300;
	acl->expires_at = now + 600;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/pn-bench-signer-XXXXXX", logp[64];
	struct pn_signer_cfg cfg = {dir, NULL, {3600, 3600, 1000000}, 1};
	static const int pools[] = {1, 2, 4}, threads[] = {1, 2, 4};
	struct pn_cred_info info;
	struct pn_ca *ca = NULL;
	struct pn_key *k = NULL;
	uint8_t fpr[PN_FPR_LEN], *doc;
	long count;
	size_t n;
	double t0, t;
	char *pem;
	int r = -1, logfd;

	if (argc > 1 && atof(argv[1]) > 0)
		secs = atof(argv[1]);
	if (!mkdtemp(dir) || (r = pn_ca_init_dir(dir, (uint64_t)time(NULL) - 60)) ||
	    (r = pn_ca_load(dir, &ca)) || (r = pn_key_generate(&k)) ||
	    (r = pn_key_csr_pem(k, "bench", &g_csr, &n)))
		die("setup", r);
	snprintf(logp, sizeof(logp), "%s/signer.log", dir);
	logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (logfd < 0)
		die("log", -1);
	/* the forked child keeps stderr: both sides log to the file */
	dup2(logfd, 2);
	loadavg("before");

	count = 0;
	t0 = now_s();
	do {
		fill_info(&info, count);
		if ((r = pn_cred_issue(ca, g_csr, &info, 3600, (uint64_t)time(NULL), &pem, &info)))
			die("issue", r);
		free(pem);
		count++;
	} while ((t = now_s() - t0) < secs);
	printf("direct_issuance_per_s: %.0f\n", (double)count / t);

	pn_ca_fingerprint(ca, fpr);
	if ((r = pn_signer_start(&cfg, fpr, &g_signer)))
		die("signer start", r);
	t0 = now_s();
	issue_loop(&count);
	printf("signer_issuance_per_s: %.0f\n", (double)count / (now_s() - t0));
	printf("signer_issuance_2t_per_s: %.0f\n", run_threads(issue_loop, 2, NULL));

	make_acl(&g_acl);
	count = 0;
	t0 = now_s();
	do {
		if ((r = pn_acl_sign(ca, &g_acl, &doc, &n)))
			die("acl sign", r);
		free(doc);
		count++;
	} while ((t = now_s() - t0) < secs);
	printf("direct_acl_per_s: %.0f\n", (double)count / t);
	count = 0;
	t0 = now_s();
	do {
		if ((r = pn_signer_sign_acl(g_signer, &g_acl, &doc, &n)))
			die("signer acl sign", r);
		free(doc);
		count++;
	} while ((t = now_s() - t0) < secs);
	printf("signer_acl_per_s: %.0f\n", (double)count / t);
	pn_signer_free(g_signer);

	/* the pool: P children, T threads */
	for (size_t p = 0; p < sizeof(pools) / sizeof(pools[0]); p++) {
		cfg.processes = (unsigned)pools[p];
		if ((r = pn_signer_start(&cfg, fpr, &g_signer)))
			die("signer pool start", r);
		for (size_t i = 0; i < 2 * sizeof(threads) / sizeof(threads[0]); i++) {
			int acl = i >= sizeof(threads) / sizeof(threads[0]);
			int nt = threads[i % (sizeof(threads) / sizeof(threads[0]))];
			double cpu, rate = run_threads(acl ? acl_loop : issue_loop, nt, &cpu);

			printf("pool%d_%s_%dt_per_s: %.0f  (cpu_us_per_op %.0f)\n", pools[p],
			       acl ? "acl" : "issuance", nt, rate, cpu);
		}
		pn_signer_free(g_signer);
	}
	loadavg("after");
	printf("# goal: issuance >= 2000/s\n");

	pn_acl_fini(&g_acl);
	pn_ca_free(ca);
	pn_key_free(k);
	free(g_csr);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s/ca.key", dir);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s/ca.crt", dir);
	unlink(logp);
	rmdir(dir);
	return 0;
}
