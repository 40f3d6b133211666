#ifndef PN_CLIENT_TRANSPARENT_DNS_H
#define PN_CLIENT_TRANSPARENT_DNS_H
/*
 * Transparent mode: records of protected names other than A/AAAA asked of
 * the connector's resolver through the tunnel (flow kind DNS_MSG), for the
 * local responder (client/dns_server.h, struct pn_dnssrv_tunnel).
 *
 * Each query is one flow: pn_ctuns_request with protocol 0 (granted when an
 * entry of the access list matches the name), the requester's query bytes
 * written framed as DNS over TCP, the connector's reply read the same way
 * (at most PN_DNS_MSG_MAX bytes).  Refused locally, denied, reset or
 * ended without a whole reply: the responder answers SERVFAIL.
 */
#include "client/dns_server.h"

struct pn_ctuns;

/* Fill ops for dns_server with these hooks over `tuns` (borrowed). */
void pn_tdns_hooks(struct pn_ctuns *tuns, struct pn_dnssrv_tunnel *ops);
#endif
