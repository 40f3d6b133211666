/*
 * pn-relay-testpki DIR [CA_DIR]: mint a test network's credentials into DIR
 * for the relay integration tests (real CA, real certificates, real signed
 * lists); with CA_DIR, under an existing CA (a controller's data directory).
 *   ca.crt; relay.{crt,key}; conn.{crt,key,id}; conn2.{crt,key,id};
 *   client.{crt,key}; client.acl (names conn); client.acl.expired;
 *   client.acl.forged (one signed byte flipped); client2.{crt,key} (another
 *   client: client.acl is not bound to it); client-expired.{crt,key};
 *   client-renewed.{crt,key} (client renewed: same id and key);
 *   client-rekeyed.{crt,key} (same id, another key);
 *   evil/ (another CA: evil-client.{crt,key}, evil.acl for client).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "testpki.h"

static const char *dir;

static void put(const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "write %s failed\n", path);
		exit(1);
	}
	chmod(path, 0600);
}

static void put_cred(const char *base, const struct tpki_cred *c)
{
	char n[256];
	snprintf(n, sizeof(n), "%s.crt", base);
	put(n, c->cert_pem, strlen(c->cert_pem));
	snprintf(n, sizeof(n), "%s.key", base);
	put(n, c->key_pem, strlen(c->key_pem));
	char hex[PN_ID_HEX_LEN + 2];
	pn_id_hex(c->info.id, hex);
	strcat(hex, "\n");
	snprintf(n, sizeof(n), "%s.id", base);
	put(n, hex, strlen(hex));
}

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		int r_ = (x);                                                                      \
		if (r_) {                                                                          \
			fprintf(stderr, "%s: %s\n", #x, pn_strerror(r_));                          \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

int main(int argc, char **argv)
{
	struct pn_ca *ca, *evil;
	struct tpki_cred relay, conn, conn2, client, client2, cexp, eclient;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t *acl;
	size_t len;
	char sub[1024];

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: pn-relay-testpki DIR [CA_DIR]\n");
		return 2;
	}
	dir = argv[1];
	/* With CA_DIR (a controller's data directory), issue under that CA. */
	if (argc == 3)
		CHECK(pn_ca_load(argv[2], &ca));
	else
		CHECK(pn_ca_new(now - 7200, &ca));
	CHECK(pn_ca_new(now - 7200, &evil));
	put("ca.crt", pn_ca_cert_pem(ca), strlen(pn_ca_cert_pem(ca)));
	CHECK(tpki_issue(ca, PN_CRED_RELAY, "relay1", now - 60, 3600, &relay));
	CHECK(tpki_issue(ca, PN_CRED_CONNECTOR, "conn1", now - 60, 3600, &conn));
	CHECK(tpki_issue(ca, PN_CRED_CONNECTOR, "conn2", now - 60, 3600, &conn2));
	CHECK(tpki_issue(ca, PN_CRED_CLIENT, "laptop", now - 60, 3600, &client));
	CHECK(tpki_issue(ca, PN_CRED_CLIENT, "laptop2", now - 60, 3600, &client2));
	CHECK(tpki_issue(ca, PN_CRED_CLIENT, "old", now - 7000, 600, &cexp));
	CHECK(tpki_issue(evil, PN_CRED_CLIENT, "evil", now - 60, 3600, &eclient));
	put_cred("relay", &relay);
	put_cred("conn", &conn);
	put_cred("conn2", &conn2);
	put_cred("client", &client);
	put_cred("client2", &client2);
	put_cred("client-expired", &cexp);
	put_cred("evil-client", &eclient);
	/* The client's renewal (same id, same key) and a credential for the
	 * same id but another key (RENEW must refuse it). */
	{
		struct tpki_cred renewed, rekeyed;
		CHECK(tpki_reissue(ca, &client, 0, now - 30, 3600, &renewed));
		CHECK(tpki_reissue(ca, &client, 1, now - 30, 3600, &rekeyed));
		put_cred("client-renewed", &renewed);
		put_cred("client-rekeyed", &rekeyed);
		tpki_cred_free(&renewed);
		tpki_cred_free(&rekeyed);
	}

	CHECK(tpki_client_acl(ca, &client.info, conn.info.id, now - 60, now + 3600, &acl, &len));
	put("client.acl", acl, len);
	/* Flip one byte inside the signed body (the holder id region). */
	acl[50] ^= 0x01;
	put("client.acl.forged", acl, len);
	free(acl);
	CHECK(tpki_client_acl(ca, &client.info, conn.info.id, now - 7200, now - 3600, &acl, &len));
	put("client.acl.expired", acl, len);
	free(acl);
	CHECK(tpki_client_acl(evil, &client.info, conn.info.id, now - 60, now + 3600, &acl, &len));
	put("evil.acl", acl, len);
	free(acl);
	(void)sub;
	tpki_cred_free(&relay);
	tpki_cred_free(&conn);
	tpki_cred_free(&conn2);
	tpki_cred_free(&client);
	tpki_cred_free(&client2);
	tpki_cred_free(&cexp);
	tpki_cred_free(&eclient);
	pn_ca_free(ca);
	pn_ca_free(evil);
	return 0;
}
