/*
 * The lists a connector checks every tunnel and flow against, pushed by the
 * controller or read from files: revocations (holder ids and credential
 * serials) and the clients' access lists.  Each change re-evaluates every
 * open tunnel and flow (connector.c).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector/connector_int.h"
#include "core/err.h"
#include "core/log.h"

/* ------------------------------------------------------- revocations -- */

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PN_ID_LEN);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pn_connector_is_revoked(const struct pn_connector *c, const struct pn_cred_info *ci)
{
	char hex[PN_SERIAL_HEX_LEN + 1], *key = hex;

	if (c->n_rev_ids && bsearch(ci->id, c->rev_ids, c->n_rev_ids, PN_ID_LEN, id_cmp))
		return 1;
	if (!c->n_rev_serials)
		return 0;
	pn_cred_serial_hex(ci, hex);
	return bsearch(&key, c->rev_serials, c->n_rev_serials, sizeof(char *), str_cmp) != NULL;
}

int pn_connector_set_client_acls(struct pn_connector *c, const uint8_t *const *acls,
				 const size_t *lens, size_t n, int complete, uint64_t version)
{
	uint8_t(*present)[PN_ID_LEN] = NULL;
	size_t npresent = 0;
	int refused = 0;

	if (complete && n && !(present = calloc(n, PN_ID_LEN)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pn_acl acl;
		int r;
		pn_acl_init(&acl, PN_ACL_CLIENT);
		r = pn_acl_verify(c->cfg.anchor, acls[i], lens[i], (uint64_t)time(NULL), &acl);
		if (r == 0 && acl.kind != PN_ACL_CLIENT)
			r = PN_E_WRONG_TYPE;
		if (r == 0 && present)
			/* verified: the set holds a list for this holder, even if
			 * the gate already knows a newer one (a client presented
			 * it before this push arrived) */
			memcpy(present[npresent++], acl.holder_id, PN_ID_LEN);
		if (r == 0)
			r = pn_acl_gate_check(c->gate, &acl);
		if (r != 0) {
			refused++;
			pn_acl_fini(&acl);
			continue;
		}
		/* install it in every tunnel of that holder (bound to its key);
		 * passing the gate makes it at least as new as theirs */
		for (struct ctun *ct = c->tuns; ct; ct = ct->next) {
			struct pn_acl copy;
			if (memcmp(ct->peer.id, acl.holder_id, PN_ID_LEN) ||
			    pn_acl_check_holder(&acl, &ct->peer) != 0)
				continue;
			pn_acl_init(&copy, PN_ACL_CLIENT);
			if (pn_acl_verify(c->cfg.anchor, acls[i], lens[i], (uint64_t)time(NULL),
					  &copy) != 0)
				continue;
			pn_acl_fini(&ct->acl);
			ct->acl = copy;
			ct->acl_ok = 1;
		}
		pn_acl_fini(&acl);
	}
	if (complete) {
		/* Holders absent from a complete set at `version` have no list
		 * at `version`: they lose their grants here, and no list of
		 * theirs up to `version` passes again (architecture §2), however
		 * often it is presented.  A tunnel holding a newer list than the
		 * set (the set arrived late) keeps it. */
		pn_acl_gate_complete(c->gate, PN_ACL_CLIENT, version,
				     (const uint8_t(*)[PN_ID_LEN])present, npresent);
		if (npresent)
			qsort(present, npresent, PN_ID_LEN, id_cmp);
		for (struct ctun *ct = c->tuns; ct; ct = ct->next) {
			char cid[PN_ID_HEX_LEN + 1];
			if (!ct->acl_ok || ct->acl.version > version ||
			    (npresent &&
			     bsearch(ct->peer.id, present, npresent, PN_ID_LEN, id_cmp)))
				continue;
			pn_id_hex(ct->peer.id, cid);
			PN_LOG_INFO("connector", "acl_withdrawn",
				    "client=%s user=%s version=%" PRIu64 " set_version=%" PRIu64,
				    cid, ct->peer.user, ct->acl.version, version);
			pn_acl_fini(&ct->acl);
			pn_acl_init(&ct->acl, PN_ACL_CLIENT);
			ct->acl_ok = 0;
		}
	}
	free(present);
	pn_connector_reevaluate_all(c);
	return refused;
}

int pn_connector_set_revoked(struct pn_connector *c, const char *const *holder_ids, size_t n_ids,
			     const char *const *serials, size_t n_serials)
{
	uint8_t(*ids)[PN_ID_LEN] = NULL;
	char **sers = NULL;
	size_t ni = 0, ns = 0;

	if (n_ids > PN_CONNECTOR_MAX_REVOKED || n_serials > PN_CONNECTOR_MAX_REVOKED)
		return PN_E_TOOBIG;
	if ((n_ids && !(ids = calloc(n_ids, PN_ID_LEN))) ||
	    (n_serials && !(sers = calloc(n_serials, sizeof(char *))))) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++)
		if (pn_id_parse(holder_ids[i], ids[ni]) == 0)
			ni++;
	for (size_t i = 0; i < n_serials; i++) {
		char *s = strdup(serials[i]);
		if (!s)
			continue;
		for (char *p = s; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		sers[ns++] = s;
	}
	if (ni)
		qsort(ids, ni, PN_ID_LEN, id_cmp);
	if (ns)
		qsort(sers, ns, sizeof(char *), str_cmp);
	free(c->rev_ids);
	for (size_t i = 0; i < c->n_rev_serials; i++)
		free(c->rev_serials[i]);
	free(c->rev_serials);
	c->rev_ids = ids;
	c->n_rev_ids = ni;
	c->rev_serials = sers;
	c->n_rev_serials = ns;
	pn_connector_reevaluate_all(c);
	return 0;
}

int pn_connector_set_revoked_text(struct pn_connector *c, char *text, size_t *n_ids,
				  size_t *n_serials)
{
	const char **ids = NULL, **sers = NULL;
	char *save = NULL, *line;
	size_t ni = 0, ns = 0, lines = 1;
	int r = -ENOMEM;

	for (const char *p = text; *p; p++) /* entries <= lines */
		lines += *p == '\n' || *p == '\r';
	if (lines > PN_CONNECTOR_MAX_REVOKED)
		lines = PN_CONNECTOR_MAX_REVOKED;
	ids = calloc(lines, sizeof(char *));
	sers = calloc(lines, sizeof(char *));
	if (!ids || !sers)
		goto out;
	for (line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (!strncmp(line, "serial:", 7)) {
			if (ns < lines)
				sers[ns++] = line + 7;
		} else if (ni < lines) {
			ids[ni++] = line;
		}
	}
	r = pn_connector_set_revoked(c, ids, ni, sers, ns);
	if (n_ids)
		*n_ids = ni;
	if (n_serials)
		*n_serials = ns;
out:
	free(ids);
	free(sers);
	return r;
}
