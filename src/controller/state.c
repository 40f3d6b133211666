/*
 * What a component is told: its CA-signed access list, and for connectors
 * the access lists of every client that may use them, the unexpired
 * revocations and the relay list, all at one policy version read in one
 * transaction.  Used by enrollment, renewal, GET /v1/ctl/state and the push
 * channel.
 *
 *   connector list = destinations of every resource in its remote network
 *   client list    = resources granted to the holder's groups, plus, per
 *                    remote network, the enrolled unrevoked connectors
 *                    serving it (up to PN_ACL_MAX_CONNECTORS)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "controller/acl_cache.h"
#include "controller/signer.h"
#include "controller/state.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"

char *pn_b64_encode(const uint8_t *data, size_t len)
{
	char *out = malloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);

	if (!out)
		return NULL;
	base64_encode_raw(out, len, data);
	out[BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
	return out;
}

/* Add one resource row as up to three entries (tcp, udp, icmp). */
static int add_resource(struct pn_acl *acl, const json_t *res)
{
	const char *rid = json_string_value(json_object_get(res, "id"));
	const char *nid = json_string_value(json_object_get(res, "network_id"));
	const char *addr = json_string_value(json_object_get(res, "address"));
	json_t *protos = json_loads(json_string_value(json_object_get(res, "protocols")), 0, NULL);
	struct pn_acl_entry e[2];
	int icmp = 0, rc = 0;
	size_t i;
	json_t *p;

	memset(e, 0, sizeof(e));
	if (!rid || !nid || !addr || !protos || pn_id_parse(rid, e[0].resource_id) ||
	    pn_id_parse(nid, e[0].network_id) || pn_dest_pattern_parse(addr, &e[0].dest)) {
		rc = PN_E_MALFORMED;
		goto out;
	}
	e[0].protos = PN_PROTO_TCP;
	e[1] = e[0];
	e[1].protos = PN_PROTO_UDP;
	json_array_foreach(protos, i, p) {
		const char *s = json_string_value(p);
		struct pn_acl_entry *t;
		unsigned lo, hi;

		if (!s)
			continue;
		if (!strcmp(s, "icmp")) {
			icmp = 1;
			continue;
		}
		t = !strncmp(s, "tcp/", 4) ? &e[0] : !strncmp(s, "udp/", 4) ? &e[1] : NULL;
		if (!t)
			continue;
		if (sscanf(s + 4, "%u-%u", &lo, &hi) != 2)
			hi = lo = (unsigned)strtoul(s + 4, NULL, 10);
		if (t->nports == PN_ACL_MAX_PORT_RANGES) { /* validated at input: cannot happen */
			rc = PN_E_TOOBIG;
			goto out;
		}
		t->ports[t->nports].lo = (uint16_t)lo;
		t->ports[t->nports].hi = (uint16_t)hi;
		t->nports++;
		t->protos |= 0x80; /* marker: this protocol is granted */
	}
	for (int k = 0; k < 2; k++) {
		if (!(e[k].protos & 0x80))
			continue;
		e[k].protos &= 0x7f;
		/* one range covering everything is "all ports" */
		if (e[k].nports == 1 && e[k].ports[0].lo == 1 && e[k].ports[0].hi == 65535)
			e[k].nports = 0;
		if ((rc = pn_acl_add_entry(acl, &e[k])))
			goto out;
	}
	if (icmp) {
		e[0].protos = PN_PROTO_ICMP;
		e[0].nports = 0;
		rc = pn_acl_add_entry(acl, &e[0]);
	}
out:
	json_decref(protos);
	return rc;
}

static int add_networks(struct pn_ctl *ctl, struct pn_acl *acl, const json_t *resources)
{
	size_t i;
	json_t *res;
	int rc = 0;

	json_array_foreach(resources, i, res) {
		const char *nid = json_string_value(json_object_get(res, "network_id"));
		uint8_t nidb[PN_ID_LEN], conns[PN_ACL_MAX_CONNECTORS][PN_ID_LEN];
		struct pn_filter f[3] = {{.col = "network_id", .text = nid},
					 {.col = "revoked", .integer = 0},
					 {.col = "enrolled", .integer = 1}};
		json_t *rows = NULL, *c;
		unsigned n = 0;
		size_t j;

		if (!nid || pn_id_parse(nid, nidb))
			return PN_E_MALFORMED;
		if (pn_acl_network_find(acl, nidb))
			continue;
		if ((rc = pn_store_list(ctl->store, PN_OBJ_CONNECTOR, f, 3, PN_ACL_MAX_CONNECTORS,
					&rows)))
			return rc;
		json_array_foreach(rows, j, c)
			if (!pn_id_parse(json_string_value(json_object_get(c, "id")), conns[n]))
				n++;
		json_decref(rows);
		if (n && (rc = pn_acl_add_network(acl, nidb, (const uint8_t(*)[PN_ID_LEN])conns, n)))
			return rc;
	}
	return 0;
}

int pn_state_acl(struct pn_ctl *ctl, const char *holder_kind, const char *holder_id,
		 const uint8_t cred_id[PN_ID_LEN], const uint8_t key_fpr[PN_FPR_LEN],
		 uint64_t version, uint8_t **out, size_t *outlen)
{
	struct pn_acl acl;
	json_t *resources = NULL, *row = NULL, *res;
	int64_t now = pn_now();
	size_t i;
	int rc;

	*out = NULL;
	if (!strcmp(holder_kind, "connector")) {
		pn_acl_init(&acl, PN_ACL_CONNECTOR);
		rc = pn_store_get(ctl->store, PN_OBJ_CONNECTOR, holder_id, &row);
		if (!rc) {
			struct pn_filter f = {.col = "network_id",
					      .text = json_string_value(
						      json_object_get(row, "network_id"))};

			rc = pn_store_list(ctl->store, PN_OBJ_RESOURCE, &f, 1, PN_ACL_MAX_ENTRIES / 3,
					   &resources);
		}
	} else if (!strcmp(holder_kind, "service_account") || !strcmp(holder_kind, "user")) {
		pn_acl_init(&acl, PN_ACL_CLIENT);
		rc = ctl->store->ops->member_resources(
			ctl->store->be,
			strcmp(holder_kind, "user") ? "service_account_id" : "user_id", holder_id,
			&resources);
	} else {
		return PN_E_INVAL; /* relays hold no access list */
	}
	if (rc)
		goto out;
	json_array_foreach(resources, i, res)
		if ((rc = add_resource(&acl, res)))
			goto out;
	if (acl.kind == PN_ACL_CLIENT && (rc = add_networks(ctl, &acl, resources)))
		goto out;
	memcpy(acl.holder_id, cred_id, PN_ID_LEN);
	memcpy(acl.holder_fpr, key_fpr, PN_FPR_LEN);
	acl.version = version;
	/* backdated like credentials: a connector whose clock is behind ours
	   accepts it at once (trust/cred.h, Clocks) */
	acl.issued_at = (uint64_t)now > PN_TRUST_BACKDATE_S ? (uint64_t)now - PN_TRUST_BACKDATE_S : 0;
	acl.expires_at = (uint64_t)now + ctl->acl_ttl;
	rc = pn_signer_sign_acl(ctl->signer, &acl, out, outlen);
out:
	if (rc)
		PN_LOG_ERROR("controller", "acl_build_failed", "holder=%s err=%s", holder_id,
			     pn_errname(rc));
	pn_acl_fini(&acl);
	json_decref(resources);
	json_decref(row);
	return rc;
}

static int acl_b64(struct pn_ctl *ctl, const char *hk, const char *hid, const char *cred_hex,
		   const char *fpr_hex, uint64_t version, json_t *obj, const char *field)
{
	uint8_t id[PN_ID_LEN], fpr[PN_FPR_LEN], *bytes = NULL;
	int64_t now = pn_now();
	char key[256], *b64;
	size_t len = 0;
	int rc;

	if (!cred_hex || !fpr_hex || pn_id_parse(cred_hex, id) || pn_fpr_parse(fpr_hex, fpr))
		return PN_E_MALFORMED;
	snprintf(key, sizeof(key), "%s|%s|%s|%s", hk, hid, cred_hex, fpr_hex);
	/* reuse a list signed at this version with at least half its life left */
	b64 = pn_acl_cache_get(ctl->acl_cache, key, version, now, (int64_t)ctl->acl_ttl / 2);
	if (!b64) {
		if ((rc = pn_state_acl(ctl, hk, hid, id, fpr, version, &bytes, &len)))
			return rc;
		b64 = pn_b64_encode(bytes, len);
		free(bytes);
		if (!b64)
			return -ENOMEM;
		pn_acl_cache_put(ctl->acl_cache, key, version, now + (int64_t)ctl->acl_ttl, b64);
	}
	json_object_set_new(obj, field, json_string(b64));
	free(b64);
	return 0;
}

static int relay_list(struct pn_ctl *ctl, json_t **out)
{
	/* only relays that enrolled (hold a credential) and are not revoked */
	struct pn_filter f[2] = {{.col = "revoked", .integer = 0}, {.col = "enrolled", .integer = 1}};
	json_t *rows = NULL, *row, *arr;
	size_t i;
	int rc = pn_store_list(ctl->store, PN_OBJ_RELAY, f, 2, 0, &rows);

	if (rc)
		return rc;
	arr = json_array();
	json_array_foreach(rows, i, row) {
		json_t *o = json_pack("{s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(row, "id"),
				      "name", json_object_get(row, "name"), "udp",
				      json_object_get(row, "udp"), "tls",
				      json_object_get(row, "tls"), "ws", json_object_get(row, "ws"));

		json_array_append_new(arr, o);
	}
	json_decref(rows);
	*out = arr;
	return arr ? 0 : -ENOMEM;
}

int pn_state_build(struct pn_ctl *ctl, const char *holder_kind, const char *holder_id,
		   const char *cred_id_hex, const char *key_fpr_hex, json_t **out)
{
	struct pn_store *s = ctl->store;
	json_t *st = json_object(), *revoked = NULL, *relays = NULL, *clients = NULL;
	uint64_t version = 0;
	int rc;

	if (!st)
		return -ENOMEM;
	if ((rc = pn_store_read(s))) {
		json_decref(st);
		return rc;
	}
	if ((rc = s->ops->version_get(s->be, &version)) ||
	    (rc = s->ops->revoked_list(s->be, pn_now(), &revoked)) ||
	    (rc = relay_list(ctl, &relays)))
		goto out;
	json_object_set_new(st, "version", json_integer((json_int_t)version));
	json_object_set(st, "revoked", revoked);
	json_object_set(st, "relays", relays);
	if (strcmp(holder_kind, "relay") &&
	    (rc = acl_b64(ctl, holder_kind, holder_id, cred_id_hex, key_fpr_hex, version, st,
			  "acl")))
		goto out;
	if (!strcmp(holder_kind, "connector")) {
		json_t *conn = NULL, *arr = json_array(), *c;
		size_t i;

		if ((rc = pn_store_get(s, PN_OBJ_CONNECTOR, holder_id, &conn)) ||
		    (rc = s->ops->network_clients(
			     s->be, json_string_value(json_object_get(conn, "network_id")),
			     pn_now(), &clients))) {
			json_decref(conn);
			json_decref(arr);
			goto out;
		}
		json_decref(conn);
		json_array_foreach(clients, i, c) {
			json_t *o = json_pack("{s:O}", "client_id", json_object_get(c, "cred_id"));

			rc = acl_b64(ctl, json_string_value(json_object_get(c, "holder_kind")),
				     json_string_value(json_object_get(c, "holder_id")),
				     json_string_value(json_object_get(c, "cred_id")),
				     json_string_value(json_object_get(c, "key_fp")), version, o,
				     "acl");
			if (rc) {
				json_decref(o);
				json_decref(arr);
				goto out;
			}
			json_array_append_new(arr, o);
		}
		json_object_set_new(st, "client_acls", arr);
	}
out:
	pn_store_rollback(s);
	json_decref(revoked);
	json_decref(relays);
	json_decref(clients);
	if (rc) {
		json_decref(st);
		return rc;
	}
	*out = st;
	return 0;
}
