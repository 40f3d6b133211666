/* The relay client's relay list (relay/rclient.h): a relay removed while
 * running, and a list brought to a new one (a relay list pushed by the
 * controller).  A removed relay's sessions end at once; its memory is
 * freed once its handles, name resolutions and stream have closed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/relays.h"
#include "relay/rclient_int.h"

void rc_retire_put(struct pn_rrelay *r)
{
	struct pn_rclient *rc = r->rc;
	struct pn_rrelay **pp;

	if (--r->busy)
		return;
	for (pp = &rc->gone; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = r->next;
	pn_idmap_fini(&r->sessions); /* empty: every session ended at removal */
	if (r->udp_fd >= 0)
		close(r->udp_fd);
	pn_wipe(r, sizeof(*r));
	free(r);
}

static void retire_handle_closed(uv_handle_t *h)
{
	struct pn_rrelay *r = h->data;
	struct pn_rclient *rc = r->rc;

	rc->handles--;
	rc_retire_put(r);
	rc_maybe_finish_close(rc);
}

void pn_rclient_remove_relay(struct pn_rclient *rc, struct pn_rrelay *r)
{
	struct pn_rrelay **pp;
	struct pn_rsession *s, *nx;
	size_t pos = 0, nsess = pn_idmap_count(&r->sessions), npend = 0;

	if (rc->closing || r->retiring)
		return;
	for (pp = &rc->relays; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	*pp = r->next;
	r->next = rc->gone;
	rc->gone = r;
	r->retiring = 1;
	/* everything that still calls back with r: the timer, the UDP poll
	 * and flush handles, resolutions in flight, the control stream */
	r->busy = 1 + (r->udp_fd >= 0 ? 2u : 0u) + (r->res.busy ? 1u : 0u) +
		  (r->ures.busy ? 1u : 0u) + (r->s ? 1u : 0u);
	for (s = r->pending; s; s = s->next)
		npend++;
	PN_LOG_INFO("relay", "relay_removed", "relay=%s sessions=%zu opening=%zu", r->name, nsess,
		    npend);
	/* Their users hear of it now and may open sessions on other relays
	 * (not on r: pn_rclient_open refuses a removed relay). */
	while ((s = pn_idmap_next(&r->sessions, &pos))) {
		rc_session_end(s, PN_E_RELAY_REMOVED, 1);
		pos--;
	}
	for (s = r->pending; s; s = nx) {
		nx = s->next;
		rc_open_fail(s, PN_E_RELAY_REMOVED);
	}
	pn_resolve_cancel(&r->res);
	pn_resolve_cancel(&r->ures);
	if (r->s)
		pn_rstream_close(r->s, PN_E_CLOSED, 0);
	uv_close((uv_handle_t *)&r->timer, retire_handle_closed);
	if (r->udp_fd >= 0) {
		uv_close((uv_handle_t *)&r->poll, retire_handle_closed);
		uv_close((uv_handle_t *)&r->prep, retire_handle_closed);
	}
}

static int spec_eq(const char *have, const char *want)
{
	return !strcmp(have, want ? want : "");
}

int pn_rrelay_is(const struct pn_rrelay *r, const struct pn_rrelay_config *cfg)
{
	const char *name = cfg->name ? cfg->name : cfg->tls_addr ? cfg->tls_addr : "relay";

	return !strncmp(r->name, name, sizeof(r->name) - 1) &&
	       (cfg->transports ? cfg->transports : PN_RT_ALL) == r->allowed &&
	       spec_eq(r->udp_spec, cfg->udp_addr) && spec_eq(r->tls_spec, cfg->tls_addr) &&
	       spec_eq(r->ws_spec, cfg->ws_url);
}

int pn_rclient_sync(struct pn_rclient *rc, struct pn_rrelay **arr, unsigned *n, unsigned max,
		    const struct pn_relay_entry *e, size_t ne, unsigned transports,
		    const char *default_name,
		    void (*skipped)(size_t index, const char *name, int err, const char *why,
				    void *arg),
		    struct pn_rclient_sync *out)
{
	struct pn_rrelay_config cfg[PN_RCLIENT_SYNC_MAX];
	struct pn_rrelay *keep[PN_RCLIENT_SYNC_MAX], *drop[PN_RCLIENT_SYNC_MAX];
	unsigned nkeep = 0, ndrop = 0, all = transports ? transports : PN_RT_ALL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (rc->closing || *n > PN_RCLIENT_SYNC_MAX || max > PN_RCLIENT_SYNC_MAX)
		return PN_E_INVAL;
	if (ne > PN_RCLIENT_SYNC_MAX)
		return PN_E_TOOBIG;
	memset(cfg, 0, sizeof(cfg));
	for (size_t j = 0; j < ne; j++) {
		cfg[j].name = *e[j].name ? e[j].name : default_name;
		cfg[j].udp_addr = (all & PN_RT_UDP) && *e[j].udp ? e[j].udp : NULL;
		cfg[j].tls_addr = *e[j].tls ? e[j].tls : NULL;
		cfg[j].ws_url = *e[j].ws ? e[j].ws : NULL;
		cfg[j].transports = transports;
	}
	for (unsigned i = 0; i < *n; i++) {
		size_t j = 0;

		while (j < ne && !pn_rrelay_is(arr[i], &cfg[j]))
			j++;
		if (j < ne)
			keep[nkeep++] = arr[i];
		else
			drop[ndrop++] = arr[i];
	}
	/* new relays first, so that sessions ending below can move to them */
	for (size_t j = 0; j < ne; j++) {
		unsigned i = 0;
		struct pn_rrelay *nr;
		int err;

		while (i < nkeep && !pn_rrelay_is(keep[i], &cfg[j]))
			i++;
		if (i < nkeep)
			continue;
		if ((err = nkeep >= max ? PN_E_TOOBIG : pn_rclient_add_relay(rc, &cfg[j], &nr))) {
			r = r ? r : err;
			out->failed++;
			if (skipped)
				skipped(e[j].index, *e[j].name ? e[j].name : "?", err,
					"the relay client cannot use it (see relay_invalid)", NULL);
			continue;
		}
		keep[nkeep++] = nr;
		out->added++;
	}
	/* the caller's array no longer names the relays removed when their
	 * sessions' users are told */
	memcpy(arr, keep, nkeep * sizeof(*arr));
	*n = nkeep;
	for (unsigned i = 0; i < ndrop; i++)
		pn_rclient_remove_relay(rc, drop[i]);
	out->removed = ndrop;
	return r;
}
