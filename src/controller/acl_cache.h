#ifndef PN_CONTROLLER_ACL_CACHE_H
#define PN_CONTROLLER_ACL_CACHE_H
/*
 * Signed access lists, cached per (holder, credential id, key) and policy
 * version.  A list's content is a function of the store at one policy
 * version (every change bumps it), so one signature serves every
 * subscriber that needs it: a change costs one signature per affected
 * client, not one per (connector, client) pair.  Thread-safe.
 */
#include <stdint.h>

struct pn_acl_cache;

/* max_entries: beyond it the cache is emptied (bounded memory).  0 / -ENOMEM. */
int pn_acl_cache_new(unsigned max_entries, struct pn_acl_cache **out);
void pn_acl_cache_free(struct pn_acl_cache *c); /* NULL-safe */
/* A copy (free()) of the cached base64 list for key at exactly `version`
 * that is still valid for at least min_left seconds after now, or NULL. */
char *pn_acl_cache_get(struct pn_acl_cache *c, const char *key, uint64_t version, int64_t now,
		       int64_t min_left);
/* Remember b64 (copied) for key at version, expiring at `expires`. */
void pn_acl_cache_put(struct pn_acl_cache *c, const char *key, uint64_t version, int64_t expires,
		      const char *b64);
#endif
