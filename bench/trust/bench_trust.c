/*
 * Trust-core throughput on one core (single thread):
 *   issuance_per_s       pn_cred_issue from a CSR (parse, proof of
 *                        possession, build, CA signature, PEM export)
 *   cred_verifies_per_s  pn_cred_verify of a PEM credential
 *   acl_verifies_per_s   pn_acl_verify of a signed 100-entry client list
 *   authorizations_per_s pn_policy_check (text destination parsed per
 *                        call) against a 100-entry client list and a
 *                        50-entry connector list
 * Goals (issue 3): >= 2,000 issuances/s, >= 100,000 authorizations/s.
 * Usage: bench_trust [seconds-per-measure, default 1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"
#include "trust/policy.h"

#define NOW 1800000000ull

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_trust: %s failed: %d\n", what, r);
	exit(1);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0, t0, t;
	struct pn_ca *ca = NULL;
	struct pn_anchor *an = NULL;
	struct pn_key *k = NULL;
	struct pn_cred_info info, cred;
	struct pn_acl cacl, nacl, tmp;
	char *csr = NULL, *pem = NULL, dest[64];
	uint8_t rid[PN_ID_LEN] = {9}, net[PN_ID_LEN] = {7}, conn[PN_ID_LEN] = {5}, *buf = NULL;
	size_t n = 0, len = 0;
	long count;
	volatile long allowed = 0;
	int r;

	if (secs <= 0)
		secs = 1.0;
	if ((r = pn_ca_new(NOW - 100, &ca)) || (r = pn_anchor_from_ca(ca, &an)) ||
	    (r = pn_key_generate(&k)) || (r = pn_key_csr_pem(k, "bench", &csr, &n)))
		die("setup", r);
	memset(&info, 0, sizeof(info));
	info.type = PN_CRED_CLIENT;
	strcpy(info.name, "bench-device");
	strcpy(info.user, "bench@corp.example");
	info.ngroups = 1;
	strcpy(info.groups[0], "eng");

	count = 0;
	t0 = now_s();
	do {
		info.id[0] = (uint8_t)count;
		free(pem);
		if ((r = pn_cred_issue(ca, csr, &info, 3600, NOW, &pem, &cred)))
			die("issue", r);
		count++;
	} while ((t = now_s() - t0) < secs);
	printf("issuance_per_s: %.0f\n", (double)count / t);

	count = 0;
	t0 = now_s();
	do {
		if ((r = pn_cred_verify(an, pem, strlen(pem), PN_CRED_CLIENT, NOW, 60, &cred)))
			die("verify", r);
		count++;
	} while ((t = now_s() - t0) < secs);
	printf("cred_verifies_per_s: %.0f\n", (double)count / t);

	pn_acl_init(&cacl, PN_ACL_CLIENT);
	memcpy(cacl.holder_id, cred.id, PN_ID_LEN);
	memcpy(cacl.holder_fpr, cred.key_fpr, PN_FPR_LEN);
	cacl.issued_at = NOW - 10;
	cacl.expires_at = NOW + 3600;
	for (int i = 0; i < 100; i++) {
		switch (i % 4) {
		case 0: snprintf(dest, sizeof(dest), "svc%d.corp.example", i); break;
		case 1: snprintf(dest, sizeof(dest), "*.team%d.corp.example", i); break;
		case 2: snprintf(dest, sizeof(dest), "10.%d.0.0/16", i); break;
		default: snprintf(dest, sizeof(dest), "fd00:%x::/32", i);
		}
		if ((r = pn_acl_add_text(&cacl, rid, net, dest, "tcp,udp", "22,80,443,8000-8100")))
			die("client list", r);
	}
	if ((r = pn_acl_add_network(&cacl, net, (const uint8_t(*)[PN_ID_LEN])conn, 1)))
		die("network", r);
	pn_acl_init(&nacl, PN_ACL_CONNECTOR);
	memcpy(nacl.holder_id, conn, PN_ID_LEN);
	nacl.issued_at = NOW - 10;
	nacl.expires_at = NOW + 3600;
	for (int i = 0; i < 49; i++) {
		snprintf(dest, sizeof(dest), "10.%d.0.0/16", 100 + i);
		if ((r = pn_acl_add_text(&nacl, rid, NULL, dest, "tcp", NULL)))
			die("connector list", r);
	}
	if ((r = pn_acl_add_text(&nacl, rid, NULL, "**.corp.example", "tcp,udp", NULL)))
		die("connector list", r);

	if ((r = pn_acl_sign(ca, &cacl, &buf, &len)))
		die("acl sign", r);
	pn_acl_init(&tmp, PN_ACL_CLIENT);
	count = 0;
	t0 = now_s();
	do {
		if ((r = pn_acl_verify(an, buf, len, NOW, &tmp)))
			die("acl verify", r);
		count++;
	} while ((t = now_s() - t0) < secs);
	printf("acl_verifies_per_s: %.0f\n", (double)count / t);
	printf("# acl: %zu bytes, %zu entries\n", len, tmp.nentries);
	pn_acl_fini(&tmp);
	free(buf);

	/* A query mix: allowed names (late in the list), wildcard hits, CIDR
	 * misses, denied names. */
	static const char *queries[] = {
	    "svc96.corp.example", "a.team97.corp.example", "10.98.1.2",
	    "fd00:63::1",	  "nothere.corp.example",  "svc0.corp.example",
	    "10.200.0.1",	  "x.y.team1.corp.example"};
	count = 0;
	t0 = now_s();
	do {
		for (int i = 0; i < 1000; i++) {
			const char *d = queries[i & 7];
			allowed += pn_policy_check(&cred, &cacl, &nacl, PN_PROTO_TCP, d, strlen(d),
						   443, NOW, NULL) == PN_ALLOW;
		}
		count += 1000;
	} while ((t = now_s() - t0) < secs);
	printf("authorizations_per_s: %.0f\n", (double)count / t);
	printf("# authorizations: client list %zu entries, connector list %zu entries, %ld of %ld "
	       "allowed\n",
	       cacl.nentries, nacl.nentries, (long)allowed, count);
	printf("# goals: issuance_per_s >= 2000, authorizations_per_s >= 100000\n");

	pn_acl_fini(&cacl);
	pn_acl_fini(&nacl);
	free(pem);
	free(csr);
	pn_key_free(k);
	pn_anchor_free(an);
	pn_ca_free(ca);
	return 0;
}
