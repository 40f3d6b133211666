/*
 * Writes the committed seed corpora of the controller fuzzers
 * (fuzz/controller/corpus/TARGET/NAME):  controller_gen_corpus <corpus dir>
 * Bodies come from the real encoders: the CSR body every component sends
 * (pn_ctlapi_csr_body), flow reports as a connector batches them
 * (pn_report), keys and the token in the forms fuzzctl.h seeds.
 * Re-run after a format change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "connector/report.h"
#include "ctlapi/ctlapi.h"
#include "controller/push_state.h"
#include "fuzzctl.h"
#include "trust/key.h"

static const char *dir;

/* head: text, or a selector byte when it is "\x00".."\x06" (sel >= 0) */
static void put_sel(const char *target, const char *name, int sel, const char *head,
		    const char *body)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	if (!(f = fopen(path, "wb")) || (sel >= 0 && fputc(sel, f) == EOF) || fputs(head, f) < 0 ||
	    fputs(body, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void put(const char *target, const char *name, const char *head, const char *body)
{
	put_sel(target, name, -1, head, body);
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (!s)
		exit(1);
	return s;
}

int main(int argc, char **argv)
{
	char tmp[] = "/tmp/pn-gen-corpus.XXXXXX", *csr, *enroll, *pnt1, rm[64];
	struct pn_report_config rc = {0};
	struct pn_report *rep;
	json_t *body = NULL;
	const char *flows;
	size_t len, n;
	uint8_t cid[16] = {1, 2, 3}, rid[16] = {4, 5, 6};

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);
	if (!mkdtemp(tmp) || pn_ctlapi_csr_body(tmp, &body))
		return 1;
	csr = dump(body);
	json_object_set_new(body, "token", json_string(FZ_TOKEN_SECRET));
	enroll = dump(body);
	json_object_set_new(body, "token",
			    json_string("pnt1.0000000000000000000000000000000000000000000000000000"
					"000000000000." FZ_TOKEN_SECRET
					".https://fuzz.invalid:8443"));
	pnt1 = dump(body);
	json_decref(body);
	snprintf(rm, sizeof(rm), "rm -rf %s", tmp);
	if (system(rm) != 0)
		return 1;

	/* a connector's flow report batch: a start and an end */
	if (pn_report_new(&rc, &rep))
		return 1;
	{
		struct pn_connector_event ev = {.event = "start",
						.flow_id = 42,
						.client_id = cid,
						.user = "alice",
						.resource_id = rid,
						.dest = "db.corp.example",
						.port = 5432,
						.proto = "tcp",
						.path = "relay-udp",
						.verdict = "allow",
						.reason = "",
						.ts_ms = 1800000000000};
		pn_report_push(rep, &ev, 0);
		ev.event = "end";
		ev.bytes_up = 1234;
		ev.bytes_down = 567890;
		ev.reason = "closed";
		pn_report_push(rep, &ev, 0);
		ev.event = "deny";
		ev.verdict = "deny";
		ev.reason = "no grant";
		ev.dest = "10.1.2.3";
		ev.proto = "udp";
		pn_report_push(rep, &ev, 0);
	}
	if (pn_report_take(rep, 0, 1, &flows, &len, &n) != 1)
		return 1;

	put_sel("fuzz_enroll", "enroll", 0, "", enroll);
	put_sel("fuzz_enroll", "enroll_pnt1", 0, "", pnt1);
	put_sel("fuzz_enroll", "login", 1, "", csr);
	put_sel("fuzz_enroll", "renew_connector", 2, "", csr);
	put_sel("fuzz_enroll", "renew_relay", 3, "", csr);
	put_sel("fuzz_enroll", "renew_client", 4, "", csr);
	put_sel("fuzz_enroll", "flows", 5, "", flows);
	put_sel("fuzz_enroll", "flows_relay", 6, "", flows);

	put("fuzz_request", "networks", "POST /v1/networks\nBearer " FZ_ADMIN_KEY "\n",
	    "{\"name\":\"lab\"}");
	put("fuzz_request", "resources_ro", "GET /v1/resources\nBearer " FZ_RO_KEY "\n", "");
	put("fuzz_request", "patch", "PATCH /v1/resources/db\nBearer " FZ_ADMIN_KEY "\n",
	    "{\"protocols\":[\"udp/53\"]}");
	put("fuzz_request", "delete", "DELETE /v1/users/alice\nBearer " FZ_ADMIN_KEY "\n", "");
	put("fuzz_request", "token", "POST /v1/connectors/c1/tokens\nBearer " FZ_ADMIN_KEY "\n",
	    "{\"ttl\":60}");
	put("fuzz_request", "audit", "GET /v1/audit\nBearer " FZ_ADMIN_KEY "\n", "");
	put("fuzz_request", "login", "POST /v1/client/login\nBearer " FZ_SA_KEY "\n", csr);
	put("fuzz_request", "enroll", "POST /v1/enroll\n\n", enroll);
	put("fuzz_request", "ca", "GET /v1/ca\n\n", "");
	put("fuzz_request", "badkey", "GET /v1/networks\nBearer pnak_0123\n", "");
	put("fuzz_request", "ro_write", "POST /v1/groups\nBearer " FZ_RO_KEY "\n",
	    "{\"name\":\"ops\"}");
	/* the push channel as a connector receives it: one SSE event with its
	 * complete state (pn_push_state_event), then a revocation */
	{
		struct fz *f = fz_get();
		struct pn_push_snap *snap = NULL;
		char cred[PN_ID_HEX_LEN + 1], fpr[PN_FPR_HEX_LEN + 1], *ev = NULL, *two = NULL;
		struct pn_push_holder h = {"connector", f->connector_id, cred, fpr, f->conn_serial};
		uint64_t v = 0;

		pn_id_hex(f->conn_cred.id, cred);
		pn_fpr_hex(f->conn_cred.key_fpr, fpr);
		fz_begin(f);
		if (pn_push_snap_new(&snap) ||
		    pn_push_state_event(&f->ctl, snap, &h, 0, 1, 0, &ev, &v) != 1)
			return 1;
		fz_end(f, 0);
		put("fuzz_ctlapi_push", "policy", ev, "");
		if (asprintf(&two, "%s: keepalive\n\nevent: revoked\ndata: {}\n\n", ev) < 0)
			return 1;
		put("fuzz_ctlapi_push", "policy_revoked", two, "");
		free(two);
		free(ev);
		pn_push_snap_free(snap);
	}
	pn_report_free(rep);
	free(csr);
	free(enroll);
	free(pnt1);
	return 0;
}
