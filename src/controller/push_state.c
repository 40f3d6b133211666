/*
 * A push subscriber's policy event from a per-version snapshot (see
 * push_state.h).  Each call is one store read transaction: the version,
 * and only when the snapshot is older, the shared parts; then the
 * subscriber's list from the cache or, once per credential and version,
 * signed.  Building everything in that one transaction keeps the event
 * consistent: list, revoked set and relays all belong to one version.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/acl_cache.h"
#include "controller/push_state.h"
#include "controller/state.h"
#include "core/err.h"

struct pn_push_snap {
	pthread_mutex_t m;
	uint64_t version;
	char *revoked, *relays; /* compact JSON texts at version */
};

int pn_push_snap_new(struct pn_push_snap **out)
{
	struct pn_push_snap *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->m, NULL);
	*out = s;
	return 0;
}

void pn_push_snap_free(struct pn_push_snap *s)
{
	if (!s)
		return;
	free(s->revoked);
	free(s->relays);
	pthread_mutex_destroy(&s->m);
	free(s);
}

/* The same relay rows and fields as state.c's list. */
static int relays_text(struct pn_ctl *ctl, char **out)
{
	struct pn_filter f[2] = {{.col = "revoked", .integer = 0},
				 {.col = "enrolled", .integer = 1}};
	json_t *rows = NULL, *row, *arr;
	size_t i;
	int rc = pn_store_list(ctl->store, PN_OBJ_RELAY, f, 2, 0, &rows);

	if (rc)
		return rc;
	arr = json_array();
	json_array_foreach(rows, i, row) json_array_append_new(
	    arr, json_pack("{s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(row, "id"), "name",
			   json_object_get(row, "name"), "udp", json_object_get(row, "udp"), "tls",
			   json_object_get(row, "tls"), "ws", json_object_get(row, "ws")));
	json_decref(rows);
	*out = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return *out ? 0 : -ENOMEM;
}

/* Copies of the shared texts at version v (inside the read transaction). */
static int shared(struct pn_ctl *ctl, struct pn_push_snap *snap, uint64_t v, char **revoked,
		  char **relays)
{
	json_t *rv = NULL;
	char *rt = NULL, *lt = NULL;
	int rc = 0;

	pthread_mutex_lock(&snap->m);
	if (snap->version != v || !snap->revoked) {
		if ((rc = ctl->store->ops->revoked_list(ctl->store->be, pn_now(), &rv)) ||
		    (rc = relays_text(ctl, &lt)))
			goto out;
		rt = json_dumps(rv, JSON_COMPACT);
		if (!rt) {
			rc = -ENOMEM;
			goto out;
		}
		if (v > snap->version || !snap->revoked) { /* never go back */
			free(snap->revoked);
			free(snap->relays);
			snap->revoked = rt;
			snap->relays = lt;
			snap->version = v;
			rt = lt = NULL; /* transferred */
		}
	}
	*revoked = strdup(rt ? rt : snap->revoked);
	*relays = strdup(lt ? lt : snap->relays);
	if (!*revoked || !*relays) {
		free(*revoked);
		free(*relays);
		*revoked = *relays = NULL;
		rc = -ENOMEM;
	}
out:
	pthread_mutex_unlock(&snap->m);
	json_decref(rv);
	free(rt);
	free(lt);
	return rc;
}

/* The holder's signed list (base64) at v, cached like state.c's. */
static int acl_text(struct pn_ctl *ctl, const struct pn_push_holder *h, uint64_t v, char **out)
{
	uint8_t id[PN_ID_LEN], fpr[PN_FPR_LEN], *bytes = NULL;
	int64_t now = pn_now();
	char key[256];
	size_t len = 0;
	int rc;

	if (pn_id_parse(h->cred_hex, id) || pn_fpr_parse(h->fpr_hex, fpr))
		return PN_E_MALFORMED;
	/* the same key as state.c: one signature serves both paths */
	snprintf(key, sizeof(key), "%s|%s|%s|%s", h->kind, h->id, h->cred_hex, h->fpr_hex);
	*out = pn_acl_cache_get(ctl->acl_cache, key, v, now, (int64_t)ctl->acl_ttl / 2);
	if (*out)
		return 0;
	if ((rc = pn_state_acl(ctl, h->kind, h->id, id, fpr, v, &bytes, &len)))
		return rc;
	*out = pn_b64_encode(bytes, len);
	free(bytes);
	if (!*out)
		return -ENOMEM;
	pn_acl_cache_put(ctl->acl_cache, key, v, now + (int64_t)ctl->acl_ttl, *out);
	return 0;
}

static int full_state(struct pn_ctl *ctl, const struct pn_push_holder *h, uint64_t sent, int force,
		      char **event, uint64_t *version)
{
	json_t *state = NULL;
	char *data;
	uint64_t v;
	int rc;

	if ((rc = pn_state_build(ctl, h->kind, h->id, h->cred_hex, h->fpr_hex, &state)))
		return rc;
	v = (uint64_t)json_integer_value(json_object_get(state, "version"));
	if (v < sent || (v == sent && !force)) {
		json_decref(state);
		return 0;
	}
	data = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	if (!data)
		return -ENOMEM;
	rc = asprintf(event, "id: %llu\nevent: policy\ndata: %s\n\n", (unsigned long long)v, data);
	free(data);
	if (rc < 0)
		return -ENOMEM;
	*version = v;
	return 1;
}

/* The event from the shared texts and the list; 1, PN_PUSH_STATE_REVOKED, -ENOMEM. */
static int compose(const struct pn_push_holder *h, uint64_t v, const char *revoked,
		   const char *relays, const char *acl, char **event)
{
	int is_relay = !strcmp(h->kind, "relay");
	char needle[96];

	/* its own credential revoked (also: its holder disabled or deleted,
	 * which revokes every credential of the holder) */
	snprintf(needle, sizeof(needle), "\"serial\":\"%s\"", h->serial);
	if (h->serial[0] && strstr(revoked, needle))
		return PN_PUSH_STATE_REVOKED;
	if (asprintf(event,
		     "id: %llu\nevent: policy\ndata: "
		     "{\"version\":%llu,\"revoked\":%s,\"relays\":%s%s%s%s}"
		     "\n\n",
		     (unsigned long long)v, (unsigned long long)v, revoked, relays,
		     is_relay ? "" : ",\"acl\":\"", is_relay ? "" : acl,
		     is_relay ? "" : "\"") < 0) {
		*event = NULL;
		return -ENOMEM;
	}
	return 1;
}

/*
 * Without the store: the snapshot is at least at `want` (built in one
 * transaction by the first subscriber woken for it) and the list is cached
 * at that version.  1 (event), PN_PUSH_STATE_REVOKED, or 0 (take the
 * transaction path).
 */
static int fast(struct pn_ctl *ctl, struct pn_push_snap *snap, const struct pn_push_holder *h,
		uint64_t sent, int force, uint64_t want, char **event, uint64_t *version)
{
	char *revoked = NULL, *relays = NULL, *acl = NULL, key[256];
	uint64_t v = 0;
	int rc = 0;

	pthread_mutex_lock(&snap->m);
	if (snap->revoked && snap->version >= want && (snap->version > sent || force)) {
		v = snap->version;
		revoked = strdup(snap->revoked);
		relays = strdup(snap->relays);
	}
	pthread_mutex_unlock(&snap->m);
	if (!revoked || !relays)
		goto out;
	if (strcmp(h->kind, "relay")) {
		snprintf(key, sizeof(key), "%s|%s|%s|%s", h->kind, h->id, h->cred_hex, h->fpr_hex);
		acl = pn_acl_cache_get(ctl->acl_cache, key, v, pn_now(), (int64_t)ctl->acl_ttl / 2);
		if (!acl)
			goto out;
	}
	rc = compose(h, v, revoked, relays, acl, event);
	if (rc == -ENOMEM)
		rc = 0;
	if (rc == 1)
		*version = v;
out:
	free(revoked);
	free(relays);
	free(acl);
	return rc;
}

int pn_push_state_event(struct pn_ctl *ctl, struct pn_push_snap *snap,
			const struct pn_push_holder *h, uint64_t sent, int force, uint64_t want,
			char **event, uint64_t *version)
{
	struct pn_store *s = ctl->store;
	char *revoked = NULL, *relays = NULL, *acl = NULL;
	int is_relay = !strcmp(h->kind, "relay"), rc;
	uint64_t v = 0;

	*event = NULL;
	if (strcmp(h->kind, "connector") &&
	    (rc = fast(ctl, snap, h, sent, force, want, event, version)) != 0)
		return rc;
	if ((rc = pn_store_read(s)))
		return rc;
	if ((rc = s->ops->version_get(s->be, &v)))
		goto out;
	if (v < sent || (v == sent && !force)) {
		rc = 0;
		goto out;
	}
	if (!strcmp(h->kind, "connector")) { /* its client lists: the full build */
		pn_store_rollback(s);
		return full_state(ctl, h, sent, force, event, version);
	}
	if ((rc = shared(ctl, snap, v, &revoked, &relays)))
		goto out;
	if (!is_relay && (rc = acl_text(ctl, h, v, &acl)))
		goto out;
	if ((rc = compose(h, v, revoked, relays, acl, event)) != 1)
		goto out;
	*version = v;
	rc = 1;
out:
	pn_store_rollback(s);
	free(revoked);
	free(relays);
	free(acl);
	return rc;
}
