/* The client's side of NAT traversal; see p2p.h. */
#include <string.h>

#include "client/p2p.h"
#include "tunnel/cand.h"

int pn_client_p2p_start(struct pn_tep *ep, struct pn_rrelay *const *relays, size_t n)
{
	struct sockaddr_storage stun[PN_P2P_MAX_CANDS];

	return pn_tep_p2p(ep, stun, pn_rrelay_udp_addrs(relays, n, stun, PN_P2P_MAX_CANDS));
}

json_t *pn_client_p2p_json(const struct pn_tunnel *t)
{
	struct pn_tunnel_p2p pi;
	char l[64] = "", r[64] = "";

	pn_tunnel_p2p_info(t, &pi);
	if (pi.local.ss_family)
		pn_sa_str((struct sockaddr *)&pi.local, l, sizeof(l));
	if (pi.remote.ss_family)
		pn_sa_str((struct sockaddr *)&pi.remote, r, sizeof(r));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "state",
			 pi.state, "nat", pn_nat_kind_name(pi.nat), "peer_nat",
			 pn_nat_kind_name(pi.peer_nat), "local", l, "remote", r, "on_path_ms",
			 (json_int_t)pi.on_path_ms, "time_to_direct_ms",
			 (json_int_t)pi.time_to_direct_ms, "switches", (json_int_t)pi.switches,
			 "keepalive_ms", (json_int_t)pi.keepalive_ms, "keepalives",
			 (json_int_t)pi.keepalives, "mapping_expiries", (json_int_t)pi.expiries,
			 "relay_fallback", pi.relay_fallback);
}
