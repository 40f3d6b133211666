#ifndef PN_RELAY_WSHTTP_H
#define PN_RELAY_WSHTTP_H
/*
 * The HTTP/1.1 side of the WebSocket upgrade (RFC 6455 §4), sans-I/O.
 * Only what the relay needs: one GET with the upgrade headers, one 101.
 * Framing after the upgrade: relay/wsframe.h.
 */
#include <stddef.h>

#define PN_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define PN_WS_KEY_LEN	 24 /* base64 of 16 bytes */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (out: 29 bytes, NUL-terminated). */
void pn_ws_accept_value(const char *key, char out[PN_WS_ACCEPT_LEN + 1]);

/*
 * Check an upgrade request head (`head`, NUL-terminated, ending with the
 * blank line) for "GET <path> HTTP/1.1", Upgrade: websocket, Connection:
 * upgrade, Sec-WebSocket-Version: 13 and a 24-character key.  On success
 * writes the Sec-WebSocket-Accept value.  0 or PN_E_MALFORMED /
 * PN_E_TOOBIG (a header value too long).
 */
int pn_ws_parse_request(const char *head, const char *path, char accept[PN_WS_ACCEPT_LEN + 1]);

/*
 * Check a server's answer head: status 101 and the accept value that
 * matches our key.  0, PN_E_RELAY_UNREACHABLE (not 101: the proxy refused)
 * or PN_E_MALFORMED.
 */
int pn_ws_check_response(const char *head, const char *key);
#endif
