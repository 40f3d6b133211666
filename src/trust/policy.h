#ifndef PN_TRUST_POLICY_H
#define PN_TRUST_POLICY_H
/*
 * The flow authorization check (connector, on every flow; also usable by
 * the client to decide what to send).  Pure function of its inputs: no
 * I/O, no clock, no allocation.
 *
 * A flow (proto, destination, port) from a client to a connector is
 * ALLOWED iff all of:
 *   1. the client credential is a CLIENT credential, inside its validity
 *      window (PN_TRUST_DEFAULT_SKEW tolerance) at `now`;
 *   2. the client list is a client list bound to that credential (holder id
 *      and key fingerprint) and now < its expires_at + PN_TRUST_DEFAULT_SKEW;
 *   3. the connector list is a connector list and now < its expires_at (+ skew);
 *   4. some client-list entry matches (destination pattern, protocol bit,
 *      port range; ports are ignored for ICMP) AND the client list names
 *      this connector (the connector list's holder) for that entry's
 *      remote network;
 *   5. some connector-list entry matches the same (proto, destination, port).
 * i.e. destination in (client list ∩ connector list), checked after the
 * signature/certificate checks that produced the inputs (pn_cred_verify*,
 * pn_acl_verify, pn_acl_gate_check).  Otherwise the first failing rule, in
 * the order above, is the deny reason.
 *
 * Names are matched only against name patterns and addresses only against
 * CIDRs (dest.h): a client granted "db.corp.example" is not thereby granted
 * the address it resolves to, and vice versa.
 */
#include <stddef.h>
#include <stdint.h>

#include "trust/acl.h"
#include "trust/cred.h"
#include "trust/dest.h"

/*
 * Deny reasons.  Values and names are stable (audit log, API): append only.
 * pn_deny_name gives the snake_case name shown in the comment.
 */
enum pn_deny {
	PN_ALLOW = 0,			      /* allowed */
	PN_DENY_BAD_REQUEST = 1,	      /* bad_request: bad destination/proto, port 0 */
	PN_DENY_CRED_WRONG_TYPE = 2,	      /* cred_wrong_type: not a client credential */
	PN_DENY_CRED_NOT_YET_VALID = 3,	      /* cred_not_yet_valid */
	PN_DENY_CRED_EXPIRED = 4,	      /* cred_expired */
	PN_DENY_CLIENT_ACL_WRONG_KIND = 5,    /* client_acl_wrong_kind */
	PN_DENY_WRONG_HOLDER = 6,	      /* wrong_holder: list bound to another id/key */
	PN_DENY_CLIENT_ACL_EXPIRED = 7,	      /* client_acl_expired */
	PN_DENY_CONNECTOR_ACL_WRONG_KIND = 8, /* connector_acl_wrong_kind */
	PN_DENY_CONNECTOR_ACL_EXPIRED = 9,    /* connector_acl_expired */
	PN_DENY_NOT_IN_CLIENT_ACL = 10,	      /* not_in_client_acl */
	PN_DENY_CONNECTOR_NOT_NAMED = 11,     /* connector_not_named: network not served here */
	PN_DENY_NOT_IN_CONNECTOR_ACL = 12,    /* not_in_connector_acl */
	/* Produced by callers from verification errors (pn_deny_from_*err): */
	PN_DENY_CRED_UNTRUSTED = 13, /* cred_untrusted: not from the pinned CA / malformed */
	PN_DENY_ACL_INVALID = 14,    /* acl_invalid: list fails signature/format checks */
	PN_DENY_STALE_VERSION = 15,  /* stale_version: older than a version already seen */
	PN_DENY_REVOKED = 16,	     /* revoked: the controller revoked grant/device */
	PN_DENY_NO_ACL = 17,	     /* no_acl: no list presented */
	PN_DENY_INTERNAL = 18,	     /* internal_error */
	/* issued_at ahead of the checker's clock by more than the tolerance: */
	PN_DENY_CLIENT_ACL_NOT_YET_VALID = 19,	  /* client_acl_not_yet_valid */
	PN_DENY_CONNECTOR_ACL_NOT_YET_VALID = 20, /* connector_acl_not_yet_valid */
	PN_DENY__COUNT
};

/* Stable snake_case name; "unknown" for values out of range.  Never NULL. */
const char *pn_deny_name(enum pn_deny r);
/* Parse a name back; -1 if unknown. */
int pn_deny_parse(const char *name);
/*
 * Map an error to the deny reason to log (0 -> PN_ALLOW).
 * pn_deny_from_err: from pn_cred_verify* (PN_E_EXPIRED -> cred_expired, ...)
 * and generic codes.  pn_deny_from_acl_err: from pn_acl_verify /
 * pn_acl_check_holder / pn_acl_gate_check on a list of `kind`
 * (PN_E_ACL_EXPIRED -> client_acl_expired or connector_acl_expired,
 * PN_E_ACL_NOT_YET_VALID -> *_acl_not_yet_valid,
 * PN_E_WRONG_TYPE -> *_acl_wrong_kind, PN_E_WRONG_HOLDER -> wrong_holder,
 * PN_E_STALE_VERSION -> stale_version, any other failure -> acl_invalid).
 */
enum pn_deny pn_deny_from_err(int err);
enum pn_deny pn_deny_from_acl_err(int err, enum pn_acl_kind kind);

struct pn_policy_result {
	enum pn_deny reason;
	/* When allowed: the matching entries (pointers into the lists). */
	const struct pn_acl_entry *client_entry;
	const struct pn_acl_entry *connector_entry;
};

/*
 * The check, with the destination as text (pn_dest_parse; len bytes, no
 * NUL needed).  proto is exactly one PN_PROTO_* value; port is ignored for
 * ICMP and must be 1..65535 otherwise.  Returns the reason (PN_ALLOW == 0);
 * `res` may be NULL.
 */
enum pn_deny pn_policy_check(const struct pn_cred_info *client, const struct pn_acl *client_acl,
			     const struct pn_acl *connector_acl, unsigned proto, const char *dest,
			     size_t dest_len, uint16_t port, uint64_t now,
			     struct pn_policy_result *res);

/* The same with an already parsed destination. */
enum pn_deny pn_policy_check_dest(const struct pn_cred_info *client,
				  const struct pn_acl *client_acl,
				  const struct pn_acl *connector_acl, unsigned proto,
				  const struct pn_dest *dest, uint16_t port, uint64_t now,
				  struct pn_policy_result *res);

/*
 * One list alone: the first entry matching (proto, dest, port), or NULL.
 * The client uses it to pick the resource and its network's connectors
 * (then pn_acl_network_find); the connector check uses it for rule 5.
 */
const struct pn_acl_entry *pn_acl_lookup(const struct pn_acl *acl, unsigned proto,
					 const struct pn_dest *dest, uint16_t port);
/* Does one entry match?  1 or 0 (proto must be a single valid bit). */
int pn_acl_entry_match(const struct pn_acl_entry *e, unsigned proto, const struct pn_dest *dest,
		       uint16_t port);
#endif
