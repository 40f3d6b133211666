/*
 * pnfixture: mint a small Postern network's credentials and access lists
 * with the real trust library, for integration tests that run the client,
 * relay and connector without a controller (the controller's own tests
 * cover issuance over its API).
 *
 *   pnfixture DIR ca
 *   pnfixture DIR relay NAME
 *   pnfixture DIR connector NAME NET [--allow DEST PROTOS PORTS]...
 *             [--relay NAME UDP TLS]...
 *   pnfixture DIR client NAME [--lifetime S] [--net NET CONN[,CONN...]]...
 *             [--grant NET DEST PROTOS PORTS]... [--relay NAME UDP TLS]...
 *
 * Each component gets DIR/NAME/ with ca.crt, key.pem (0600), cert.pem,
 * id (hex) and, for connectors and clients, acl.bin (signed by the CA);
 * clients also get relays.json.  Remote networks are named; their random
 * ids live in DIR/net-NET.id.  PORTS is "*" or a list such as "80,8000-8100".
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

__attribute__((noreturn)) static void die(const char *what, int r)
{
	fprintf(stderr, "pnfixture: %s: %s (%s)\n", what, pn_strerror(r), pn_errname(r));
	exit(1);
}

static void write_text(const char *name, const char *sub, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, -errno);
}

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
	char path[4096], hex[PN_ID_HEX_LEN + 8];

	snprintf(path, sizeof(path), "%s/net-%s.id", dir, net);
	if (read_text(path, hex, sizeof(hex)) == 0 && pn_id_parse(hex, id) == 0)
		return;
	if (pn_id_random(id) != 0)
		die("random", PN_E_CRYPTO);
	pn_id_hex(id, hex);
	write_text(path + strlen(dir) + 1, "", hex, strlen(hex));
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
	int r;

	/* PN_FIXTURE_CA: use an existing CA directory (e.g. a controller's
	 * data directory) instead of DIR/ca. */
	if (getenv("PN_FIXTURE_CA"))
		snprintf(path, sizeof(path), "%s", getenv("PN_FIXTURE_CA"));
	else
		snprintf(path, sizeof(path), "%s/ca", dir);
	if ((r = pn_ca_load(path, &ca)) != 0)
		die("load CA", r);
	return ca;
}

/* Key, credential, id and ca.crt for one component; fills *info. */
static struct pn_key *issue(struct pn_ca *ca, const char *name, enum pn_cred_type type,
			    uint64_t lifetime, struct pn_cred_info *info)
{
	char path[4096], hex[PN_ID_HEX_LEN + 1], *csr, *pem;
	struct pn_key *k;
	size_t n;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		die(path, -errno);
	memset(info, 0, sizeof(*info));
	info->type = type;
	if ((r = pn_id_random(info->id)) != 0)
		die("id", r);
	snprintf(info->name, sizeof(info->name), "%s", name);
	if (type == PN_CRED_CLIENT) {
		snprintf(info->user, sizeof(info->user), "%s@test.invalid", name);
		info->ngroups = 1;
		snprintf(info->groups[0], sizeof(info->groups[0]), "everyone");
	}
	info->policy_version = 1;
	if ((r = pn_key_generate(&k)) != 0 || (r = pn_key_csr_pem(k, name, &csr, &n)) != 0)
		die("key", r);
	if ((r = pn_cred_issue(ca, csr, info, lifetime, (uint64_t)time(NULL), &pem, info)) != 0)
		die("issue", r);
	free(csr);
	snprintf(path, sizeof(path), "%s/%s/key.pem", dir, name);
	if ((r = pn_key_save_pem_file(k, path)) != 0)
		die(path, r);
	write_text("cert.pem", name, pem, strlen(pem));
	write_text("ca.crt", name, pn_ca_cert_pem(ca), strlen(pn_ca_cert_pem(ca)));
	pn_id_hex(info->id, hex);
	write_text("id", name, hex, strlen(hex));
	free(pem);
	return k;
}

static void sign_acl(struct pn_ca *ca, struct pn_acl *acl, const struct pn_cred_info *holder,
		     uint64_t lifetime, const char *name)
{
	uint8_t *bytes;
	size_t n;
	int r;

	memcpy(acl->holder_id, holder->id, PN_ID_LEN);
	memcpy(acl->holder_fpr, holder->key_fpr, PN_FPR_LEN);
	acl->version = (uint64_t)time(NULL); /* monotonic across re-runs */
	acl->issued_at = (uint64_t)time(NULL);
	acl->expires_at = acl->issued_at + lifetime;
	if ((r = pn_acl_sign(ca, acl, &bytes, &n)) != 0)
		die("sign acl", r);
	write_text("acl.bin", name, bytes, n);
	free(bytes);
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

int main(int argc, char **argv)
{
	struct pn_ca *ca;
	struct pn_cred_info info;
	struct pn_key *k;
	struct pn_acl acl;
	uint8_t rid[PN_ID_LEN], nid[PN_ID_LEN];
	uint64_t lifetime = 3600;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of pnfixture.c\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0700);
	if (!strcmp(argv[2], "ca")) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/ca", dir);
		mkdir(path, 0700);
		if ((r = pn_ca_init_dir(path, (uint64_t)time(NULL) - 60)) != 0)
			die("ca init", r);
		return 0;
	}
	if (argc < 4)
		return 2;
	ca = load_ca();
	if (!strcmp(argv[2], "relay")) {
		k = issue(ca, argv[3], PN_CRED_RELAY, lifetime, &info);
	} else if (!strcmp(argv[2], "connector")) {
		if (argc < 5)
			return 2;
		FILE *rj;
		char path[4096];
		int nrelays = 0;

		k = issue(ca, argv[3], PN_CRED_CONNECTOR, lifetime, &info);
		pn_acl_init(&acl, PN_ACL_CONNECTOR);
		net_id(argv[4], nid);
		snprintf(path, sizeof(path), "%s/%s/relays.json", dir, argv[3]);
		if (!(rj = fopen(path, "w")))
			die(path, -errno);
		fputs("[", rj);
		for (int i = 5; i < argc; i += 4) {
			if (!strcmp(argv[i], "--relay") && i + 3 < argc) {
				write_relay(rj, nrelays++, argv[i + 1], argv[i + 2], argv[i + 3]);
				continue;
			}
			if (strcmp(argv[i], "--allow") || i + 3 >= argc)
				die("connector: expected --allow DEST PROTOS PORTS", PN_E_INVAL);
			if ((r = pn_id_random(rid)) != 0 ||
			    (r = pn_acl_add_text(&acl, rid, nid, argv[i + 1], argv[i + 2],
						 ports_arg(argv[i + 3]))) != 0)
				die(argv[i + 1], r);
		}
		fputs("]\n", rj);
		fclose(rj);
		sign_acl(ca, &acl, &info, lifetime, argv[3]);
		pn_acl_fini(&acl);
	} else if (!strcmp(argv[2], "client")) {
		FILE *rj;
		char path[4096];
		int nrelays = 0;

		for (int i = 4; i + 1 < argc; i++)
			if (!strcmp(argv[i], "--lifetime"))
				lifetime = strtoull(argv[i + 1], NULL, 10);
		k = issue(ca, argv[3], PN_CRED_CLIENT, lifetime, &info);
		pn_acl_init(&acl, PN_ACL_CLIENT);
		snprintf(path, sizeof(path), "%s/%s/relays.json", dir, argv[3]);
		if (!(rj = fopen(path, "w")))
			die(path, -errno);
		fputs("[", rj);
		for (int i = 4; i < argc;) {
			if (!strcmp(argv[i], "--lifetime") && i + 1 < argc) {
				i += 2;
			} else if (!strcmp(argv[i], "--net") && i + 2 < argc) {
				uint8_t conns[PN_ACL_MAX_CONNECTORS][PN_ID_LEN];
				unsigned n = 0;
				char *list = strdup(argv[i + 2]), *save = NULL;
				for (char *t = strtok_r(list, ",", &save);
				     t && n < PN_ACL_MAX_CONNECTORS; t = strtok_r(NULL, ",", &save))
					component_id(t, conns[n++]);
				free(list);
				net_id(argv[i + 1], nid);
				if ((r = pn_acl_add_network(
					 &acl, nid, (const uint8_t(*)[PN_ID_LEN])conns, n)) != 0)
					die("network", r);
				i += 3;
			} else if (!strcmp(argv[i], "--grant") && i + 4 < argc) {
				net_id(argv[i + 1], nid);
				if ((r = pn_id_random(rid)) != 0 ||
				    (r = pn_acl_add_text(&acl, rid, nid, argv[i + 2], argv[i + 3],
							 ports_arg(argv[i + 4]))) != 0)
					die(argv[i + 2], r);
				i += 5;
			} else if (!strcmp(argv[i], "--relay") && i + 3 < argc) {
				write_relay(rj, nrelays++, argv[i + 1], argv[i + 2], argv[i + 3]);
				i += 4;
			} else {
				die(argv[i], PN_E_INVAL);
			}
		}
		fputs("]\n", rj);
		fclose(rj);
		sign_acl(ca, &acl, &info, lifetime, argv[3]);
		pn_acl_fini(&acl);
	} else {
		return 2;
	}
	pn_key_free(k);
	pn_ca_free(ca);
	return 0;
}
