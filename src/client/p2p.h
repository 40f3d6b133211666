#ifndef PN_CLIENT_P2P_H
#define PN_CLIENT_P2P_H
/*
 * The client's side of NAT traversal (the work is the tunnel endpoint's,
 * tunnel/endpoint.h pn_tep_p2p): which STUN servers (the relays' UDP
 * addresses), and what `client status` shows per tunnel.
 */
#include <stddef.h>

#include <jansson.h>

#include "relay/rclient.h"
#include "tunnel/endpoint.h"

/* (Re)start NAT traversal on ep with the UDP addresses of relays[n].
 * 0 or an error of pn_tep_p2p. */
int pn_client_p2p_start(struct pn_tep *ep, struct pn_rrelay *const *relays, size_t n);

/* {"state", "nat", "peer_nat", "local", "remote", "on_path_ms",
 *  "time_to_direct_ms", "switches", "keepalive_ms", "keepalives",
 *  "mapping_expiries", "relay_fallback"} for t.  New reference or NULL. */
json_t *pn_client_p2p_json(const struct pn_tunnel *t);
#endif
