/* The client's tunnels over relays (tunnels.h): which relay a tunnel's
 * session goes to, the session's start and end, the relay list. */
#include <string.h>

#include "client/p2p.h"
#include "client/tunnels_int.h"
#include "core/err.h"
#include "core/log.h"

struct pn_rrelay *ctun_relay_choose(struct pn_ctuns *t)
{
	/* A ready relay if there is one (lowest control RTT), else the first:
	 * pn_rclient_open waits for it to connect. */
	struct pn_rrelay *best = NULL;

	for (unsigned i = 0; i < t->nrelays; i++) {
		struct pn_rrelay *r = t->relays[i];
		if (pn_rrelay_state(r) != PN_RRELAY_READY)
			continue;
		if (!best || pn_rrelay_rtt_ms(r) < pn_rrelay_rtt_ms(best))
			best = r;
	}
	return best ? best : (t->nrelays ? t->relays[0] : NULL);
}

/* The ctun of session s (sessions are opened for a ctun). */
static struct ctun *ctun_by_session(struct pn_ctuns *t, const struct pn_rsession *s)
{
	for (struct ctun *c = t->tuns; c; c = c->next)
		if (c->sess == s)
			return c;
	return NULL;
}

static void session_ready(struct pn_rsession *s, int status, void *user)
{
	struct ctun *c = ctun_by_session(user, s);

	if (!c) { /* cannot happen: sessions are opened for a ctun */
		if (status == 0)
			pn_rsession_close(s);
		return;
	}
	if (status != 0) {
		c->sess = NULL; /* already dead, no session_closed follows */
		ctun_fail(c, status);
		return;
	}
	ctun_tunnel_start(c, s);
}

static void session_closed(struct pn_rsession *s, int reason, void *user)
{
	struct pn_ctuns *t = user;
	struct ctun *c = ctun_by_session(t, s);

	/* the endpoint heard of it first (path lost) */
	if (!c)
		return;
	c->sess = NULL;
	if (c->tun) {
		struct pn_tunnel_info info;
		pn_tunnel_info(c->tun, &info);
		if (info.path == PN_PATH_DIRECT && info.state == PN_TUNNEL_UP) {
			/* The tunnel runs on a direct path (NAT traversal): it does
			 * not need the relay session; it loses its fallback only
			 * (the endpoint ends it if the direct path dies too). */
			PN_LOG_WARN("client", "session_closed",
				    "connector=%s reason=%s tunnel=kept path=direct flows=%u",
				    c->idhex, pn_errname(reason), info.flows);
			return;
		}
	}
	PN_LOG_WARN("client", "session_closed", "connector=%s reason=%s", c->idhex,
		    pn_errname(reason));
	ctun_mark_failed(c, PN_E_TUNNEL_LOST);
	if (c->tun) {
		struct pn_tunnel *tun = c->tun;
		/* The connector (or the relay) is gone: end open flows now, with
		 * an explicit reset, instead of waiting for the idle timeout. */
		ctun_bank(c, tun);
		c->tun = NULL;
		pn_tunnel_close(tun, PN_FLOW_RESET);
	}
	ctun_redispatch(c);
}

static void relay_state(struct pn_rrelay *r, enum pn_rrelay_state st, int err, void *user)
{
	(void)user;
	if (st == PN_RRELAY_READY)
		PN_LOG_INFO("client", "relay_ready", "relay=%s transport=%u", pn_rrelay_name(r),
			    pn_rrelay_transport(r));
	else if (st == PN_RRELAY_DOWN)
		PN_LOG_WARN("client", "relay_down", "relay=%s err=%s", pn_rrelay_name(r),
			    pn_errname(err));
}

const struct pn_rclient_ops ctun_rclient_ops = {
    .session_ready = session_ready,
    .session_closed = session_closed,
    .relay_state = relay_state,
};

int pn_ctuns_set_relays(struct pn_ctuns *t, const struct pn_relay_entry *e, size_t n,
			void (*skipped)(size_t index, const char *name, int err, const char *why,
					void *arg))
{
	struct pn_rclient_sync st;
	int r = pn_rclient_sync(t->rc, t->relays, &t->nrelays, MAX_RELAYS, e, n, t->transports,
				"relay", skipped, &st);

	if (st.added || st.removed || st.failed)
		PN_LOG_INFO("client", "relays_set", "added=%u removed=%u failed=%u relays=%u",
			    st.added, st.removed, st.failed, t->nrelays);
	/* direct paths by NAT traversal, STUN from these relays (client/p2p.h) */
	if ((st.added || st.removed) && (t->transports & PN_RT_UDP)) {
		int e2 = pn_client_p2p_start(t->tep, t->relays, t->nrelays);

		if (e2)
			PN_LOG_WARN("client", "p2p_off", "err=%s", pn_errname(e2));
	}
	return r;
}

unsigned pn_ctuns_nrelays(const struct pn_ctuns *t)
{
	return t->nrelays;
}
