#ifndef PN_RELAY_RPATH_H
#define PN_RELAY_RPATH_H
/*
 * A relay session (relay/rclient.h) as a path (core/path.h): the relay's
 * side of the seam with the tunnel.  The glue hands the path to the
 * tunnel endpoint (pn_tep_accept_path, pn_tunnel_config.path,
 * pn_tunnel_migrate_path) and forwards nothing itself:
 *   - while a user is attached, the session's datagrams go to the path's
 *     sink instead of the rclient's ops.datagram;
 *   - when the session ends (closed by the peer, the relay, idleness,
 *     pn_rsession_close or pn_rclient_close) the sink's `lost` fires
 *     first (before ops.session_closed), and sends fail with -EPIPE;
 *   - the path's memory lives until the session is gone and the user
 *     released it, in either order.
 * The path's kind follows the session's transport (relay-udp, relay-tls,
 * relay-ws).
 */
#include "core/path.h"
#include "relay/rclient.h"

/* The path of session s (made on first call, the same one afterwards).
 * 0 and *out, PN_E_CLOSED (session not ready), -ENOMEM. */
int pn_rsession_path(struct pn_rsession *s, struct pn_path **out);
#endif
