/* Flow authorization: client list ∩ connector list (rules: policy.h). */
#include <errno.h>
#include <string.h>

#include "core/err.h"
#include "trust/policy.h"

/* clang-format off */
static const char *const deny_names[PN_DENY__COUNT] = {
	[PN_ALLOW] = "allowed",
	[PN_DENY_BAD_REQUEST] = "bad_request",
	[PN_DENY_CRED_WRONG_TYPE] = "cred_wrong_type",
	[PN_DENY_CRED_NOT_YET_VALID] = "cred_not_yet_valid",
	[PN_DENY_CRED_EXPIRED] = "cred_expired",
	[PN_DENY_CLIENT_ACL_WRONG_KIND] = "client_acl_wrong_kind",
	[PN_DENY_WRONG_HOLDER] = "wrong_holder",
	[PN_DENY_CLIENT_ACL_EXPIRED] = "client_acl_expired",
	[PN_DENY_CONNECTOR_ACL_WRONG_KIND] = "connector_acl_wrong_kind",
	[PN_DENY_CONNECTOR_ACL_EXPIRED] = "connector_acl_expired",
	[PN_DENY_NOT_IN_CLIENT_ACL] = "not_in_client_acl",
	[PN_DENY_CONNECTOR_NOT_NAMED] = "connector_not_named",
	[PN_DENY_NOT_IN_CONNECTOR_ACL] = "not_in_connector_acl",
	[PN_DENY_CRED_UNTRUSTED] = "cred_untrusted",
	[PN_DENY_ACL_INVALID] = "acl_invalid",
	[PN_DENY_STALE_VERSION] = "stale_version",
	[PN_DENY_REVOKED] = "revoked",
	[PN_DENY_NO_ACL] = "no_acl",
	[PN_DENY_INTERNAL] = "internal_error",
	[PN_DENY_CLIENT_ACL_NOT_YET_VALID] = "client_acl_not_yet_valid",
	[PN_DENY_CONNECTOR_ACL_NOT_YET_VALID] = "connector_acl_not_yet_valid",
};
/* clang-format on */

const char *pn_deny_name(enum pn_deny r)
{
	if ((unsigned)r >= PN_DENY__COUNT || !deny_names[r])
		return "unknown";
	return deny_names[r];
}

int pn_deny_parse(const char *name)
{
	for (int i = 0; i < PN_DENY__COUNT; i++)
		if (deny_names[i] && strcmp(deny_names[i], name) == 0)
			return i;
	return -1;
}

enum pn_deny pn_deny_from_err(int err)
{
	switch (err) {
	case 0: return PN_ALLOW;
	case PN_E_EXPIRED: return PN_DENY_CRED_EXPIRED;
	case PN_E_NOT_YET_VALID: return PN_DENY_CRED_NOT_YET_VALID;
	/* (client lists: the ones a connector checks on a tunnel) */
	case PN_E_ACL_EXPIRED: return PN_DENY_CLIENT_ACL_EXPIRED;
	case PN_E_ACL_NOT_YET_VALID: return PN_DENY_CLIENT_ACL_NOT_YET_VALID;
	case PN_E_WRONG_TYPE: return PN_DENY_CRED_WRONG_TYPE;
	case PN_E_WRONG_HOLDER: return PN_DENY_WRONG_HOLDER;
	case PN_E_STALE_VERSION: return PN_DENY_STALE_VERSION;
	case PN_E_UNTRUSTED:
	case PN_E_WRONG_ID: return PN_DENY_CRED_UNTRUSTED;
	case PN_E_SIGNATURE:
	case PN_E_UNSIGNED:
	case PN_E_MALFORMED:
	case PN_E_TRUNCATED:
	case PN_E_TOOBIG:
	case PN_E_UNSUPPORTED:
	case PN_E_BAD_NAME: return PN_DENY_ACL_INVALID;
	case PN_E_DENIED: return PN_DENY_NOT_IN_CLIENT_ACL;
	default: return PN_DENY_INTERNAL;
	}
}

enum pn_deny pn_deny_from_acl_err(int err, enum pn_acl_kind kind)
{
	int client = kind == PN_ACL_CLIENT;

	switch (err) {
	case 0: return PN_ALLOW;
	case PN_E_EXPIRED:
	case PN_E_ACL_EXPIRED:
		return client ? PN_DENY_CLIENT_ACL_EXPIRED : PN_DENY_CONNECTOR_ACL_EXPIRED;
	case PN_E_ACL_NOT_YET_VALID:
		return client ? PN_DENY_CLIENT_ACL_NOT_YET_VALID
			      : PN_DENY_CONNECTOR_ACL_NOT_YET_VALID;
	case PN_E_WRONG_TYPE:
		return client ? PN_DENY_CLIENT_ACL_WRONG_KIND : PN_DENY_CONNECTOR_ACL_WRONG_KIND;
	case PN_E_WRONG_HOLDER: return PN_DENY_WRONG_HOLDER;
	case PN_E_STALE_VERSION: return PN_DENY_STALE_VERSION;
	case -ENOMEM:
	case PN_E_NOSPACE:
	case PN_E_INTERNAL: return PN_DENY_INTERNAL;
	default: return PN_DENY_ACL_INVALID;
	}
}

static int valid_proto(unsigned proto)
{
	return proto == PN_PROTO_TCP || proto == PN_PROTO_UDP || proto == PN_PROTO_ICMP;
}

int pn_acl_entry_match(const struct pn_acl_entry *e, unsigned proto, const struct pn_dest *dest,
		       uint16_t port)
{
	if (!(e->protos & proto))
		return 0;
	if (proto != PN_PROTO_ICMP && e->nports) {
		unsigned i;

		for (i = 0; i < e->nports; i++)
			if (port >= e->ports[i].lo && port <= e->ports[i].hi)
				break;
		if (i == e->nports)
			return 0;
	}
	return pn_dest_match(&e->dest, dest);
}

const struct pn_acl_entry *pn_acl_lookup(const struct pn_acl *acl, unsigned proto,
					 const struct pn_dest *dest, uint16_t port)
{
	for (size_t i = 0; i < acl->nentries; i++)
		if (pn_acl_entry_match(&acl->entries[i], proto, dest, port))
			return &acl->entries[i];
	return NULL;
}

static enum pn_deny done(struct pn_policy_result *res, enum pn_deny r,
			 const struct pn_acl_entry *ce, const struct pn_acl_entry *ne)
{
	if (res) {
		res->reason = r;
		res->client_entry = r == PN_ALLOW ? ce : NULL;
		res->connector_entry = r == PN_ALLOW ? ne : NULL;
	}
	return r;
}

enum pn_deny pn_policy_check_dest(const struct pn_cred_info *client,
				  const struct pn_acl *client_acl,
				  const struct pn_acl *connector_acl, unsigned proto,
				  const struct pn_dest *dest, uint16_t port, uint64_t now,
				  struct pn_policy_result *res)
{
	const struct pn_acl_entry *ce = NULL, *ne;
	int named_miss = 0;

	if (!client || !client_acl || !connector_acl)
		return done(res, PN_DENY_NO_ACL, NULL, NULL);
	if (!valid_proto(proto) || (proto != PN_PROTO_ICMP && port == 0) || !dest ||
	    (dest->kind != PN_DEST_NAME && dest->kind != PN_DEST_IP4 && dest->kind != PN_DEST_IP6))
		return done(res, PN_DENY_BAD_REQUEST, NULL, NULL);
	/* 1. the client credential */
	if (client->type != PN_CRED_CLIENT)
		return done(res, PN_DENY_CRED_WRONG_TYPE, NULL, NULL);
	if (now + PN_TRUST_DEFAULT_SKEW < client->not_before)
		return done(res, PN_DENY_CRED_NOT_YET_VALID, NULL, NULL);
	if (now > client->not_after + PN_TRUST_DEFAULT_SKEW)
		return done(res, PN_DENY_CRED_EXPIRED, NULL, NULL);
	/* 2. the client list, bound to that credential */
	if (client_acl->kind != PN_ACL_CLIENT)
		return done(res, PN_DENY_CLIENT_ACL_WRONG_KIND, NULL, NULL);
	if (pn_acl_check_holder(client_acl, client) < 0)
		return done(res, PN_DENY_WRONG_HOLDER, NULL, NULL);
	if (now >= client_acl->expires_at + PN_TRUST_DEFAULT_SKEW)
		return done(res, PN_DENY_CLIENT_ACL_EXPIRED, NULL, NULL);
	/* 3. the connector list */
	if (connector_acl->kind != PN_ACL_CONNECTOR)
		return done(res, PN_DENY_CONNECTOR_ACL_WRONG_KIND, NULL, NULL);
	if (now >= connector_acl->expires_at + PN_TRUST_DEFAULT_SKEW)
		return done(res, PN_DENY_CONNECTOR_ACL_EXPIRED, NULL, NULL);
	/* 4. a client entry whose network this connector serves */
	for (size_t i = 0; i < client_acl->nentries; i++) {
		const struct pn_acl_entry *e = &client_acl->entries[i];

		if (!pn_acl_entry_match(e, proto, dest, port))
			continue;
		if (pn_acl_names_connector(client_acl, e->network_id, connector_acl->holder_id)) {
			ce = e;
			break;
		}
		named_miss = 1;
	}
	if (!ce)
		return done(res,
			    named_miss ? PN_DENY_CONNECTOR_NOT_NAMED : PN_DENY_NOT_IN_CLIENT_ACL,
			    NULL, NULL);
	/* 5. the connector's own list */
	ne = pn_acl_lookup(connector_acl, proto, dest, port);
	if (!ne)
		return done(res, PN_DENY_NOT_IN_CONNECTOR_ACL, NULL, NULL);
	return done(res, PN_ALLOW, ce, ne);
}

enum pn_deny pn_policy_check(const struct pn_cred_info *client, const struct pn_acl *client_acl,
			     const struct pn_acl *connector_acl, unsigned proto, const char *dest,
			     size_t dest_len, uint16_t port, uint64_t now,
			     struct pn_policy_result *res)
{
	struct pn_dest d;

	if (!dest || pn_dest_parse(dest, dest_len, &d) < 0)
		return done(res, PN_DENY_BAD_REQUEST, NULL, NULL);
	return pn_policy_check_dest(client, client_acl, connector_acl, proto, &d, port, now, res);
}
