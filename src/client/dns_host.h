#ifndef PN_CLIENT_DNS_HOST_H
#define PN_CLIENT_DNS_HOST_H
/*
 * Host DNS integration for transparent mode: point the host's resolver
 * configuration at the client's local responder, and put it back.
 *
 * /etc/resolv.conf (the only mode implemented; see docs/client.md for
 * systemd-resolved): the file's exact bytes (or, for a symlink, its
 * target) are saved in the state directory first (PN_DNSHOST_BACKUP,
 * written and fsynced before anything changes), then the file is replaced
 * by one naming only the local responder, keeping the original's
 * `search`/`domain`/`options` lines.  The nameservers the file named
 * become the responder's upstreams.  Replacing is a rename of a new file
 * over the old one; where the file is a mount point (a bind mount, e.g.
 * in containers) rename fails with EBUSY and the file is rewritten in
 * place.
 *
 * Restore writes the saved bytes (or the symlink) back, but only if the
 * file still is ours (starts with PN_DNSHOST_MARK): if something else
 * rewrote it meanwhile, that is left alone.  Then the backup goes.  A
 * backup found at start means the previous run did not restore (kill -9,
 * crash): it is restored first, so the upstreams come from the host's own
 * file, never from ours.
 */
#include <sys/socket.h>

#define PN_DNSHOST_BACKUP "resolv.conf.postern-backup"
#define PN_DNSHOST_MARK	  "# postern transparent mode"
#define PN_DNSHOST_RESOLV "/etc/resolv.conf"
#define PN_DNSHOST_MAX	  (64u * 1024) /* larger resolv.conf refused */

/* Nameservers of resolv.conf text (port 53), skipping `skip` (our own
 * listener, may be NULL).  *n of at most max.  0 or PN_E_MALFORMED. */
int pn_dnshost_parse(const char *text, const struct sockaddr_storage *skip,
		     struct sockaddr_storage *out, unsigned max, unsigned *n);

/*
 * Restore after a crash if a backup is in state_dir (see top).  0 (also
 * when there was nothing to do), -errno.
 */
int pn_dnshost_recover(const char *state_dir, const char *resolv);

/*
 * Save and take over `resolv` (see top) for the responder at `listen`
 * (a loopback address; port 53 — resolv.conf has no ports).  ups[*nups]
 * (at most max) receive the original nameservers.  0, PN_E_CONFIG (no
 * nameserver besides ours: refusing to leave the host without DNS),
 * PN_E_TOOBIG, -errno.  On failure nothing was changed.
 */
int pn_dnshost_takeover(const char *state_dir, const char *resolv,
			const struct sockaddr_storage *listen, struct sockaddr_storage *ups,
			unsigned max, unsigned *nups);

/* Put the original back (see top).  0 or -errno. */
int pn_dnshost_restore(const char *state_dir, const char *resolv);
#endif
