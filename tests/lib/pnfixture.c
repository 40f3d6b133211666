/*
 * pnfixture: mint Postern test networks with the real trust library (the
 * one PKI fixture of the tests; library in pki.c), for integration tests and
 * benchmarks that run components without a controller (the controller's
 * own tests cover issuance over its API).
 *
 * Component by component:
 *   pnfixture DIR ca
 *   pnfixture DIR relay NAME
 *   pnfixture DIR connector NAME NET [--allow DEST PROTOS PORTS]...
 *             [--relay NAME UDP TLS]...
 *   pnfixture DIR client NAME [--lifetime S] [--net NET CONN[,CONN...]]...
 *             [--grant NET DEST PROTOS PORTS]... [--relay NAME UDP TLS]...
 * Each component gets DIR/NAME/ with ca.crt, key.pem (0600), cert.pem, id
 * (hex) and, for connectors and clients, acl.bin (signed by the CA) and
 * relays.json.  The CA is DIR/ca, or PN_FIXTURE_CA (e.g. a controller's
 * data directory).  Remote networks are named; their random ids live in
 * DIR/net-NET.id.  PORTS is "*" or a list such as "80,8000-8100".
 *
 * Whole networks:
 *   pnfixture DIR relay-net [CA_DIR]    the relay tests' peers (flat files):
 *     ca.crt; relay.{crt,key}; conn.{crt,key,id}; conn2.{crt,key,id};
 *     client.{crt,key}; client.acl (names conn); client.acl.expired;
 *     client.acl.forged (one signed byte flipped); client2.{crt,key};
 *     client-expired.{crt,key}; client-renewed.{crt,key} (same id and key);
 *     client-rekeyed.{crt,key} (same id, another key); evil-client.{crt,key}
 *     and evil.acl (another CA).  With CA_DIR, under that CA.
 *   pnfixture DIR tunnel-net RESOURCE_IP   the tunnel tests' network:
 *     ca.crt; conn/ (may forward to RESOURCE_IP tcp 7,8080 + udp 7 and
 *     echo.test tcp/udp 7); foreign/ (the connector's id, credential, list
 *     and ca.crt from ANOTHER CA); cli/ (RESOURCE_IP tcp 7, 8080, 9 (not in
 *     the connector list), udp 7; echo.test) with acl_revoked.bin (newer,
 *     without tcp 7); cli2/; old/ (expired credential); rev/ (to be listed
 *     revoked); fcli/ (client from ANOTHER CA); relay/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "pki.h"
#include "trust/key.h"

static const char *dir;
static uint64_t now;

__attribute__((noreturn)) static void die(const char *what, int r)
{
	fprintf(stderr, "pnfixture: %s: %s (%s)\n", what, pn_strerror(r), pn_errname(r));
	exit(1);
}

static void check(const char *what, int r)
{
	if (r)
		die(what, r);
}

static void put(const char *name, const void *p, size_t n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	check(path, tpki_put(path, p, n));
}

static void put_text(const char *name, const char *text)
{
	put(name, text, strlen(text));
}

static void put_acl(struct pn_ca *ca, struct pn_acl *acl, const struct pn_cred_info *holder,
		    uint64_t version, uint64_t issued, uint64_t expires, const char *name)
{
	uint8_t *b;
	size_t n;

	check(name, tpki_sign_acl(ca, acl, holder, version, issued, expires, &b, &n));
	put(name, b, n);
	free(b);
}

static void put_cred_dir(const char *sub, const struct tpki_cred *c, const struct pn_ca *ca)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	check(path, tpki_put_cred_dir(path, c, ca));
}

/* ---- component by component ---- */

static int read_text(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	n = fread(out, 1, outsz - 1, f);
	fclose(f);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
	return 0;
}

static void net_id(const char *net, uint8_t id[PN_ID_LEN])
{
	char name[512], path[4096], hex[PN_ID_HEX_LEN + 8];

	snprintf(name, sizeof(name), "net-%s.id", net);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (read_text(path, hex, sizeof(hex)) == 0 && pn_id_parse(hex, id) == 0)
		return;
	check("random", pn_id_random(id));
	pn_id_hex(id, hex);
	put_text(name, hex);
}

static void component_id(const char *name, uint8_t id[PN_ID_LEN])
{
	char path[4096], hex[PN_ID_HEX_LEN + 8];
	int r;

	snprintf(path, sizeof(path), "%s/%s/id", dir, name);
	if ((r = read_text(path, hex, sizeof(hex))) != 0 || (r = pn_id_parse(hex, id)) != 0)
		die(path, r);
}

static struct pn_ca *load_ca(void)
{
	char path[4096];
	struct pn_ca *ca;

	if (getenv("PN_FIXTURE_CA"))
		snprintf(path, sizeof(path), "%s", getenv("PN_FIXTURE_CA"));
	else
		snprintf(path, sizeof(path), "%s/ca", dir);
	check("load CA", pn_ca_load(path, &ca));
	return ca;
}

/* One relays.json entry; the WebSocket URL is the relay's TLS port with
 * the default path (the relay accepts plain HTTP upgrades there). */
static void write_relay(FILE *f, int n, const char *name, const char *udp, const char *tls)
{
	fprintf(f,
		"%s{\"id\":\"%s\",\"name\":\"%s\",\"udp\":\"%s\",\"tls\":\"%s\","
		"\"ws\":\"ws://%s/postern\"}",
		n ? "," : "", name, name, udp, tls, tls);
}

static const char *ports_arg(const char *p)
{
	return strcmp(p, "*") ? p : NULL;
}

static FILE *open_relays(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/relays.json", dir, name);
	if (!(f = fopen(path, "w")))
		die(path, -errno);
	fputs("[", f);
	return f;
}

static void close_relays(FILE *f)
{
	fputs("]\n", f);
	if (fclose(f))
		die("relays.json", -errno);
}

static int component(int argc, char **argv)
{
	const char *what = argv[2], *name = argv[3];
	uint64_t lifetime = 3600;
	struct tpki_cred c;
	struct pn_ca *ca;
	struct pn_acl acl;
	uint8_t rid[PN_ID_LEN], nid[PN_ID_LEN];
	char aclname[512];
	int nrelays = 0;
	FILE *rj;

	snprintf(aclname, sizeof(aclname), "%s/acl.bin", name);
	ca = load_ca();
	if (!strcmp(what, "relay")) {
		check("issue", tpki_issue(ca, PN_CRED_RELAY, name, now, lifetime, &c));
		put_cred_dir(name, &c, ca);
	} else if (!strcmp(what, "connector")) {
		if (argc < 5)
			return 2;
		check("issue", tpki_issue(ca, PN_CRED_CONNECTOR, name, now, lifetime, &c));
		put_cred_dir(name, &c, ca);
		pn_acl_init(&acl, PN_ACL_CONNECTOR);
		net_id(argv[4], nid);
		rj = open_relays(name);
		for (int i = 5; i < argc; i += 4) {
			if (!strcmp(argv[i], "--relay") && i + 3 < argc) {
				write_relay(rj, nrelays++, argv[i + 1], argv[i + 2], argv[i + 3]);
				continue;
			}
			if (strcmp(argv[i], "--allow") || i + 3 >= argc)
				die("connector: expected --allow DEST PROTOS PORTS", PN_E_INVAL);
			check("random", pn_id_random(rid));
			check(argv[i + 1], pn_acl_add_text(&acl, rid, nid, argv[i + 1], argv[i + 2],
							   ports_arg(argv[i + 3])));
		}
		close_relays(rj);
		/* version: monotonic across re-runs */
		put_acl(ca, &acl, &c.info, now, now, now + lifetime, aclname);
		pn_acl_fini(&acl);
	} else if (!strcmp(what, "client")) {
		for (int i = 4; i + 1 < argc; i++)
			if (!strcmp(argv[i], "--lifetime"))
				lifetime = strtoull(argv[i + 1], NULL, 10);
		check("issue", tpki_issue(ca, PN_CRED_CLIENT, name, now, lifetime, &c));
		put_cred_dir(name, &c, ca);
		pn_acl_init(&acl, PN_ACL_CLIENT);
		rj = open_relays(name);
		for (int i = 4; i < argc;) {
			if (!strcmp(argv[i], "--lifetime") && i + 1 < argc) {
				i += 2;
			} else if (!strcmp(argv[i], "--net") && i + 2 < argc) {
				uint8_t conns[PN_ACL_MAX_CONNECTORS][PN_ID_LEN];
				unsigned n = 0;
				char *list = strdup(argv[i + 2]), *save = NULL;

				if (!list)
					die("strdup", -ENOMEM);
				for (char *t = strtok_r(list, ",", &save);
				     t && n < PN_ACL_MAX_CONNECTORS; t = strtok_r(NULL, ",", &save))
					component_id(t, conns[n++]);
				free(list);
				net_id(argv[i + 1], nid);
				check("network",
				      pn_acl_add_network(&acl, nid,
							 (const uint8_t(*)[PN_ID_LEN])conns, n));
				i += 3;
			} else if (!strcmp(argv[i], "--grant") && i + 4 < argc) {
				net_id(argv[i + 1], nid);
				check("random", pn_id_random(rid));
				check(argv[i + 2], pn_acl_add_text(&acl, rid, nid, argv[i + 2],
								   argv[i + 3],
								   ports_arg(argv[i + 4])));
				i += 5;
			} else if (!strcmp(argv[i], "--relay") && i + 3 < argc) {
				write_relay(rj, nrelays++, argv[i + 1], argv[i + 2], argv[i + 3]);
				i += 4;
			} else {
				die(argv[i], PN_E_INVAL);
			}
		}
		close_relays(rj);
		put_acl(ca, &acl, &c.info, now, now, now + lifetime, aclname);
		pn_acl_fini(&acl);
	} else {
		pn_ca_free(ca);
		return 2;
	}
	tpki_cred_free(&c);
	pn_ca_free(ca);
	return 0;
}

/* ---- relay-net ---- */

static void put_flat(const char *base, const struct tpki_cred *c)
{
	char n[256], hex[PN_ID_HEX_LEN + 2];

	snprintf(n, sizeof(n), "%s.crt", base);
	put_text(n, c->cert_pem);
	snprintf(n, sizeof(n), "%s.key", base);
	put_text(n, c->key_pem);
	pn_id_hex(c->info.id, hex);
	strcat(hex, "\n");
	snprintf(n, sizeof(n), "%s.id", base);
	put_text(n, hex);
}

static void put_bytes_free(const char *name, uint8_t *b, size_t n)
{
	put(name, b, n);
	free(b);
}

static int relay_net(const char *ca_dir)
{
	static const struct {
		const char *file, *name;
		enum pn_cred_type type;
		int evil;
		uint64_t back, life;
	} creds[] = {
		{"relay", "relay1", PN_CRED_RELAY, 0, 60, 3600},
		{"conn", "conn1", PN_CRED_CONNECTOR, 0, 60, 3600},
		{"conn2", "conn2", PN_CRED_CONNECTOR, 0, 60, 3600},
		{"client", "laptop", PN_CRED_CLIENT, 0, 60, 3600},
		{"client2", "laptop2", PN_CRED_CLIENT, 0, 60, 3600},
		{"client-expired", "old", PN_CRED_CLIENT, 0, 7000, 600},
		{"evil-client", "evil", PN_CRED_CLIENT, 1, 60, 3600},
	};
	enum { N = sizeof(creds) / sizeof(creds[0]) };
	struct tpki_cred c[N], renewed, rekeyed;
	struct pn_ca *ca, *evil;
	const struct tpki_cred *client = &c[3], *conn = &c[1];
	uint8_t *acl;
	size_t len;

	if (ca_dir)
		check("load CA", pn_ca_load(ca_dir, &ca));
	else
		check("ca", pn_ca_new(now - 7200, &ca));
	check("ca", pn_ca_new(now - 7200, &evil));
	put_text("ca.crt", pn_ca_cert_pem(ca));
	for (size_t i = 0; i < N; i++) {
		check(creds[i].file, tpki_issue(creds[i].evil ? evil : ca, creds[i].type,
						creds[i].name, now - creds[i].back, creds[i].life,
						&c[i]));
		put_flat(creds[i].file, &c[i]);
	}
	/* The client's renewal (same id, same key) and a credential for the
	 * same id but another key (RENEW must refuse it). */
	check("renew", tpki_reissue(ca, client, 0, now - 30, 3600, &renewed));
	check("rekey", tpki_reissue(ca, client, 1, now - 30, 3600, &rekeyed));
	put_flat("client-renewed", &renewed);
	put_flat("client-rekeyed", &rekeyed);
	tpki_cred_free(&renewed);
	tpki_cred_free(&rekeyed);

	check("acl", tpki_client_acl(ca, &client->info, conn->info.id, now - 60, now + 3600, &acl,
				     &len));
	put("client.acl", acl, len);
	acl[50] ^= 0x01; /* one byte inside the signed body (the holder id region) */
	put_bytes_free("client.acl.forged", acl, len);
	check("acl", tpki_client_acl(ca, &client->info, conn->info.id, now - 7200, now - 3600,
				     &acl, &len));
	put_bytes_free("client.acl.expired", acl, len);
	check("acl", tpki_client_acl(evil, &client->info, conn->info.id, now - 60, now + 3600,
				     &acl, &len));
	put_bytes_free("evil.acl", acl, len);
	for (size_t i = 0; i < N; i++)
		tpki_cred_free(&c[i]);
	pn_ca_free(ca);
	pn_ca_free(evil);
	return 0;
}

/* ---- tunnel-net ---- */

static uint8_t tnet[PN_ID_LEN], tres[PN_ID_LEN];

static void tunnel_client_acl(struct pn_ca *ca, const char *file, const struct tpki_cred *h,
			      const uint8_t *conn_id, const char *ip, uint64_t version, int with7)
{
	struct pn_acl a;

	pn_acl_init(&a, PN_ACL_CLIENT);
	if (with7)
		check("client acl", pn_acl_add_text(&a, tres, tnet, ip, "tcp", "7"));
	check("client acl", pn_acl_add_text(&a, tres, tnet, ip, "tcp", "8080,9"));
	check("client acl", pn_acl_add_text(&a, tres, tnet, ip, "udp", "7"));
	check("client acl", pn_acl_add_text(&a, tres, tnet, "echo.test", "tcp,udp", "7"));
	check("client acl",
	      pn_acl_add_network(&a, tnet, (const uint8_t(*)[PN_ID_LEN])conn_id, 1));
	put_acl(ca, &a, &h->info, version, now - 60, now + 7200, file);
	pn_acl_fini(&a);
}

static int tunnel_net(const char *ip)
{
	static const struct {
		const char *sub;
		enum pn_cred_type type;
		int other_ca;
		uint64_t back, life;
	} ids[] = {
		{"conn", PN_CRED_CONNECTOR, 0, 60, 7200}, {"foreign", PN_CRED_CONNECTOR, 1, 60, 7200},
		{"cli", PN_CRED_CLIENT, 0, 60, 7200},	  {"cli2", PN_CRED_CLIENT, 0, 60, 7200},
		{"old", PN_CRED_CLIENT, 0, 7200, 600},	  {"relay", PN_CRED_RELAY, 0, 60, 7200},
		{"rev", PN_CRED_CLIENT, 0, 60, 7200},	  {"fcli", PN_CRED_CLIENT, 1, 60, 7200},
	};
	enum { N = sizeof(ids) / sizeof(ids[0]) };
	struct tpki_cred c[N];
	struct pn_ca *ca, *ca2;
	struct pn_acl a;
	const uint8_t *conn_id;

	check("ca", pn_ca_new(now - 7200, &ca));
	check("ca", pn_ca_new(now - 7200, &ca2));
	put_text("ca.crt", pn_ca_cert_pem(ca));
	check("random", pn_id_random(tnet));
	check("random", pn_id_random(tres));
	for (size_t i = 0; i < N; i++) {
		/* foreign impersonates the connector: its id, another CA */
		check(ids[i].sub, tpki_issue_id(ids[i].other_ca ? ca2 : ca, ids[i].type, ids[i].sub,
						i == 1 ? c[0].info.id : NULL, now - ids[i].back,
						ids[i].life, &c[i]));
		put_cred_dir(ids[i].sub, &c[i], i == 1 ? ca2 : NULL);
	}
	conn_id = c[0].info.id;

	pn_acl_init(&a, PN_ACL_CONNECTOR);
	check("connector acl", pn_acl_add_text(&a, tres, tnet, ip, "tcp", "7,8080"));
	check("connector acl", pn_acl_add_text(&a, tres, tnet, ip, "udp", "7"));
	check("connector acl", pn_acl_add_text(&a, tres, tnet, "echo.test", "tcp,udp", "7"));
	put_acl(ca, &a, &c[0].info, 1, now - 60, now + 7200, "conn/acl.bin");
	/* the same list for the impersonator, signed by its own CA */
	put_acl(ca2, &a, &c[1].info, 1, now - 60, now + 7200, "foreign/acl.bin");
	pn_acl_fini(&a);

	tunnel_client_acl(ca, "cli/acl.bin", &c[2], conn_id, ip, 5, 1);
	tunnel_client_acl(ca, "cli/acl_revoked.bin", &c[2], conn_id, ip, 6, 0);
	tunnel_client_acl(ca, "cli2/acl.bin", &c[3], conn_id, ip, 5, 1);
	/* the expired client's list itself is fine: the credential is not */
	tunnel_client_acl(ca, "old/acl.bin", &c[4], conn_id, ip, 5, 1);
	tunnel_client_acl(ca, "rev/acl.bin", &c[6], conn_id, ip, 5, 1);
	tunnel_client_acl(ca2, "fcli/acl.bin", &c[7], conn_id, ip, 5, 1);
	for (size_t i = 0; i < N; i++)
		tpki_cred_free(&c[i]);
	pn_ca_free(ca);
	pn_ca_free(ca2);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of tests/lib/pnfixture.c\n");
		return 2;
	}
	dir = argv[1];
	now = (uint64_t)time(NULL);
	mkdir(dir, 0700);
	if (!strcmp(argv[2], "ca")) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/ca", dir);
		mkdir(path, 0700);
		check("ca init", pn_ca_init_dir(path, now - 60));
		return 0;
	}
	if (!strcmp(argv[2], "relay-net"))
		return argc <= 4 ? relay_net(argc == 4 ? argv[3] : NULL) : 2;
	if (!strcmp(argv[2], "tunnel-net"))
		return argc == 4 ? tunnel_net(argv[3]) : 2;
	if (argc < 4)
		return 2;
	return component(argc, argv);
}
