#ifndef PN_CTLAPI_RELAYS_H
#define PN_CTLAPI_RELAYS_H
/*
 * The relay list: one parser for every role, and for the controller's own
 * validation of what an admin enters, so that a relay the controller
 * accepts is a relay every connector and client can parse.
 *
 * Sources:
 *   - relays.json in a state directory (written from the controller's
 *     state, see ctlapi.h):
 *       [{"id": "<hex>", "name": "edge-1", "udp": "host:port",
 *         "tls": "host:port", "ws": "wss://host:port/path"}, ...]
 *     Absent, null or "" fields are absent.  Unknown fields are ignored.
 *   - the `--relay SPEC` option: "tls=host:port,udp=host:port,ws=URL,name=N"
 *     (any subset, any order; a comma inside a URL's path is kept).
 *
 * Fields (the controller's rules, POST /v1/relays):
 *   name  1..64 bytes of letters, digits and - _ . @  (a label for logs)
 *   udp   host:port       the relay's UDP port (data, STUN)
 *   tls   host:port       its TLS listener (control stream, data fallback)
 *   ws    ws://host:port[/path] or wss://host:port[/path]: the WebSocket
 *         upgrade, usually through an HTTP reverse proxy; wss:// reaches
 *         that proxy over TLS.
 *   host  a DNS name, an IPv4 address or a bracketed IPv6 address [::1];
 *   port  1..65535 (decimal); path: '/' then printable ASCII without
 *         spaces or '#' (at most PN_RELAY_PATH_MAX bytes; default "/").
 *   udp/tls at most 300 bytes, ws at most 400, all printable ASCII.
 *
 * A list is parsed entry by entry: a bad entry is skipped (reported to the
 * caller with its reason), never the whole list.
 */
#include <stddef.h>
#include <stdint.h>

#define PN_RELAYS_MAX	  16  /* entries taken from one list */
#define PN_RELAY_NAME_MAX 64  /* = the controller's PN_API_NAME_MAX */
#define PN_RELAY_ADDR_MAX 300 /* udp / tls text */
#define PN_RELAY_URL_MAX  400 /* ws text */
#define PN_RELAY_HOST_MAX 253 /* a DNS name; addresses are shorter */
#define PN_RELAY_PATH_MAX 255

/* host:port, parsed. */
struct pn_relay_endpoint {
	char host[PN_RELAY_HOST_MAX + 1]; /* name or address, IPv6 without brackets */
	uint16_t port;
	int family; /* AF_INET / AF_INET6 for an address literal, 0 for a name */
};

/* A WebSocket URL, parsed. */
struct pn_relay_wsurl {
	int secure;			  /* wss:// */
	struct pn_relay_endpoint ep;	  /* where to connect */
	char hostport[PN_RELAY_ADDR_MAX + 1]; /* as written, for the Host header */
	char path[PN_RELAY_PATH_MAX + 1];     /* request target, at least "/" */
};

/* One relay; strings are "" when absent.  Valid per the rules above. */
struct pn_relay_entry {
	char name[PN_RELAY_NAME_MAX + 1];
	char udp[PN_RELAY_ADDR_MAX + 1];
	char tls[PN_RELAY_ADDR_MAX + 1];
	char ws[PN_RELAY_URL_MAX + 1];
	size_t index; /* position in the list it came from (for messages) */
};

/*
 * Parse "host:port" (s NUL-terminated).  0, or PN_E_CONFIG with *why (a
 * static message naming the rule) set when why is not NULL.
 */
int pn_relay_endpoint_parse(const char *s, struct pn_relay_endpoint *out, const char **why);

/* Parse a ws:// or wss:// URL.  0 or PN_E_CONFIG (+ *why). */
int pn_relay_wsurl_parse(const char *s, struct pn_relay_wsurl *out, const char **why);

/* Is `s` a valid relay name?  0 or PN_E_CONFIG (+ *why). */
int pn_relay_name_check(const char *s, const char **why);

/*
 * Parse a `--relay` option value into *e.  At least one of tls, udp, ws.
 * 0 or PN_E_CONFIG (+ *why).
 */
int pn_relay_spec_parse(const char *spec, struct pn_relay_entry *e, const char **why);

/*
 * Called for every entry of a list that is skipped: its position, its
 * name (or "?"), the error and a static reason.
 */
typedef void (*pn_relays_skip_fn)(size_t index, const char *name, int err, const char *why,
				  void *arg);

/*
 * Parse a relays.json document (text[0..len), need not be NUL-terminated,
 * at most 1 MiB) into out[0..max), *n entries.  Bad entries, and entries
 * beyond `max`, are skipped and reported through skip (may be NULL).
 * 0 (even if every entry was skipped: *n says how many are usable), or
 * PN_E_CONFIG when the document is not a JSON array, PN_E_TOOBIG, -ENOMEM.
 */
int pn_relays_parse_json(const char *text, size_t len, struct pn_relay_entry *out, size_t max,
			 size_t *n, pn_relays_skip_fn skip, void *arg);
#endif
