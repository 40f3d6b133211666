/*
 * pn-tunnel-pki DIR RESOURCE_IP: mint the credentials and signed access
 * lists of the tunnel integration tests with the real trust library.
 *
 *   DIR/ca.crt                      the network CA (pinned by everyone)
 *   DIR/conn/{key.pem,cert.pem,acl.bin,id}     connector; may forward to
 *       RESOURCE_IP tcp 7,8080 + udp 7, and echo.test tcp/udp 7
 *   DIR/foreign/{ca.crt,key.pem,cert.pem,acl.bin,id}  the connector's id
 *       with a credential and list from ANOTHER CA (impersonation)
 *   DIR/cli/{key.pem,cert.pem,acl.bin}         client: RESOURCE_IP tcp 7,
 *       8080, 9 (9 is not in the connector list), udp 7; echo.test tcp/udp 7
 *   DIR/cli/acl_revoked.bin         newer client list without tcp 7
 *   DIR/cli2/{key.pem,cert.pem,acl.bin}        another client
 *   DIR/old/{key.pem,cert.pem,acl.bin}         client whose credential expired
 *   DIR/rev/{key.pem,cert.pem,acl.bin,id}      valid client, to be listed revoked
 *   DIR/fcli/{key.pem,cert.pem,acl.bin}        client credential and list from
 *       ANOTHER CA (the connector's id named in the list)
 *   DIR/relay/{key.pem,cert.pem}                a relay
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

static const char *dir;
static struct pn_ca *ca;
static uint8_t net[PN_ID_LEN], res[PN_ID_LEN];

static void die(const char *what, int r) __attribute__((noreturn));
static void die(const char *what, int r)
{
	fprintf(stderr, "pn-tunnel-pki: %s: %s\n", what, pn_strerror(r));
	exit(1);
}

static void put(const char *sub, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, -errno);
}

static void ident(struct pn_ca *c, const char *sub, enum pn_cred_type type, uint64_t now,
		  uint64_t life, const uint8_t *fixed_id, struct pn_cred_info *out)
{
	struct pn_key *k;
	struct pn_cred_info in;
	char *csr, *pem, *kpem, hex[PN_ID_HEX_LEN + 2];
	size_t n, kn;
	int r;

	memset(&in, 0, sizeof(in));
	in.type = type;
	if (fixed_id)
		memcpy(in.id, fixed_id, PN_ID_LEN);
	else
		pn_id_random(in.id);
	snprintf(in.name, sizeof(in.name), "%s", sub);
	if (type == PN_CRED_CLIENT)
		snprintf(in.user, sizeof(in.user), "%s@test", sub);
	in.policy_version = 1;
	if ((r = pn_key_generate(&k)) || (r = pn_key_csr_pem(k, sub, &csr, &n)) ||
	    (r = pn_cred_issue(c, csr, &in, life, now, &pem, out)) ||
	    (r = pn_key_export_pem(k, &kpem, &kn)))
		die(sub, r);
	put(sub, "key.pem", kpem, kn);
	put(sub, "cert.pem", pem, strlen(pem));
	pn_id_hex(out->id, hex);
	strcat(hex, "\n");
	put(sub, "id", hex, strlen(hex));
	pn_key_pem_free(kpem, kn);
	free(csr);
	free(pem);
	pn_key_free(k);
}

static void acl_out_ca(struct pn_ca *c, const char *sub, const char *name, struct pn_acl *a)
{
	uint8_t *b;
	size_t n;
	int r;

	if ((r = pn_acl_sign(c, a, &b, &n)))
		die(name, r);
	put(sub, name, b, n);
	free(b);
}

static void acl_out(const char *sub, const char *name, struct pn_acl *a)
{
	acl_out_ca(ca, sub, name, a);
}

static void client_acl_ca(struct pn_ca *c, const char *sub, const char *name,
			  const struct pn_cred_info *h, const uint8_t *conn_id, const char *ip,
			  uint64_t version, int with7, uint64_t now);

static void client_acl(const char *sub, const char *name, const struct pn_cred_info *h,
		       const uint8_t *conn_id, const char *ip, uint64_t version, int with7,
		       uint64_t now)
{
	client_acl_ca(ca, sub, name, h, conn_id, ip, version, with7, now);
}

static void client_acl_ca(struct pn_ca *c, const char *sub, const char *name,
			  const struct pn_cred_info *h, const uint8_t *conn_id, const char *ip,
			  uint64_t version, int with7, uint64_t now)
{
	struct pn_acl a;
	int r = 0;

	pn_acl_init(&a, PN_ACL_CLIENT);
	memcpy(a.holder_id, h->id, PN_ID_LEN);
	memcpy(a.holder_fpr, h->key_fpr, PN_FPR_LEN);
	a.version = version;
	a.issued_at = now - 60;
	a.expires_at = now + 7200;
	if ((with7 && (r = pn_acl_add_text(&a, res, net, ip, "tcp", "7"))) ||
	    (r = pn_acl_add_text(&a, res, net, ip, "tcp", "8080,9")) ||
	    (r = pn_acl_add_text(&a, res, net, ip, "udp", "7")) ||
	    (r = pn_acl_add_text(&a, res, net, "echo.test", "tcp,udp", "7")) ||
	    (r = pn_acl_add_network(&a, net, (const uint8_t(*)[PN_ID_LEN])conn_id, 1)))
		die("client acl", r);
	acl_out_ca(c, sub, name, &a);
	pn_acl_fini(&a);
}

int main(int argc, char **argv)
{
	struct pn_cred_info conn, foreign, cli, cli2, old, rly, rev, fcli;
	struct pn_ca *ca2;
	struct pn_acl a;
	uint64_t now = (uint64_t)time(NULL);
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: pn-tunnel-pki DIR RESOURCE_IP\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0700);
	if ((r = pn_ca_new(now - 7200, &ca)) || (r = pn_ca_new(now - 7200, &ca2)))
		die("ca", r);
	put(".", "ca.crt", pn_ca_cert_pem(ca), strlen(pn_ca_cert_pem(ca)));
	pn_id_random(net);
	pn_id_random(res);
	ident(ca, "conn", PN_CRED_CONNECTOR, now - 60, 7200, NULL, &conn);
	/* impersonation: same connector id, credential from another CA */
	ident(ca2, "foreign", PN_CRED_CONNECTOR, now - 60, 7200, conn.id, &foreign);
	put("foreign", "ca.crt", pn_ca_cert_pem(ca2), strlen(pn_ca_cert_pem(ca2)));
	ident(ca, "cli", PN_CRED_CLIENT, now - 60, 7200, NULL, &cli);
	ident(ca, "cli2", PN_CRED_CLIENT, now - 60, 7200, NULL, &cli2);
	ident(ca, "old", PN_CRED_CLIENT, now - 7200, 600, NULL, &old);
	ident(ca, "relay", PN_CRED_RELAY, now - 60, 7200, NULL, &rly);
	ident(ca, "rev", PN_CRED_CLIENT, now - 60, 7200, NULL, &rev);
	ident(ca2, "fcli", PN_CRED_CLIENT, now - 60, 7200, NULL, &fcli);

	pn_acl_init(&a, PN_ACL_CONNECTOR);
	memcpy(a.holder_id, conn.id, PN_ID_LEN);
	memcpy(a.holder_fpr, conn.key_fpr, PN_FPR_LEN);
	a.version = 1;
	a.issued_at = now - 60;
	a.expires_at = now + 7200;
	if ((r = pn_acl_add_text(&a, res, net, argv[2], "tcp", "7,8080")) ||
	    (r = pn_acl_add_text(&a, res, net, argv[2], "udp", "7")) ||
	    (r = pn_acl_add_text(&a, res, net, "echo.test", "tcp,udp", "7")))
		die("connector acl", r);
	acl_out("conn", "acl.bin", &a);
	/* the same list for the impersonator, signed by its own CA */
	memcpy(a.holder_fpr, foreign.key_fpr, PN_FPR_LEN);
	acl_out_ca(ca2, "foreign", "acl.bin", &a);
	pn_acl_fini(&a);

	client_acl("cli", "acl.bin", &cli, conn.id, argv[2], 5, 1, now);
	client_acl("cli", "acl_revoked.bin", &cli, conn.id, argv[2], 6, 0, now);
	client_acl("cli2", "acl.bin", &cli2, conn.id, argv[2], 5, 1, now);
	/* the expired client's list itself is fine: the credential is not */
	client_acl("old", "acl.bin", &old, conn.id, argv[2], 5, 1, now);
	client_acl("rev", "acl.bin", &rev, conn.id, argv[2], 5, 1, now);
	client_acl_ca(ca2, "fcli", "acl.bin", &fcli, conn.id, argv[2], 5, 1, now);
	pn_ca_free(ca);
	pn_ca_free(ca2);
	return 0;
}
