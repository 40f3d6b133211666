#ifndef PN_CONTROLLER_PUSH_STATE_H
#define PN_CONTROLLER_PUSH_STATE_H
/*
 * The policy event of one push subscriber, built cheaply enough for ten
 * thousand subscribers per change: what every subscriber shares at a policy
 * version (the revoked list, the relays) is read and serialized once per
 * version; per subscriber only its signed access list is added (from the
 * signed-list cache, signed at most once per credential and version).
 * Connectors get pn_state_build's full state (their client lists).
 * The event is byte-for-byte what pn_state_build would give, serialized.
 */
#include <stdint.h>

struct pn_ctl;
struct pn_push_snap;

struct pn_push_holder {
	const char *kind, *id;		/* holder kind and id */
	const char *cred_hex, *fpr_hex; /* the credential its list is bound to */
	const char *serial;		/* its credential's serial (hex) */
};

#define PN_PUSH_STATE_REVOKED 2

int pn_push_snap_new(struct pn_push_snap **out);
void pn_push_snap_free(struct pn_push_snap *s); /* NULL-safe */

/*
 * want: the newest version the caller was told about (pn_push_notify or
 * the poll); when the shared snapshot is at least that new and the list is
 * cached, the event is built without touching the store.
 * If the stored version is above `sent` (or force), build the subscriber's
 * event "id: V\nevent: policy\ndata: {...}\n\n" into *event (heap) and its
 * version into *version.  Returns 1 (event built), 0 (nothing new),
 * PN_PUSH_STATE_REVOKED (the subscriber's own credential is on the revoked
 * list), or a store / trust / -ENOMEM error.
 */
int pn_push_state_event(struct pn_ctl *ctl, struct pn_push_snap *snap,
			const struct pn_push_holder *h, uint64_t sent, int force, uint64_t want,
			char **event, uint64_t *version);
#endif
