#ifndef PN_CLIENT_SOCKS5_H
#define PN_CLIENT_SOCKS5_H
/*
 * SOCKS5 server codec (RFC 1928), sans I/O.
 *
 * A pn_socks5_srv is the server side of one SOCKS5 control connection.  The
 * glue feeds it whatever bytes arrive (any split, one byte at a time is
 * fine); the codec answers with bytes to send back and, once a complete
 * request has been parsed, hands out the request.  The glue decides what to
 * do with it (open a tunnel flow, or refuse) and reports the outcome with
 * pn_socks5_srv_reply(), which encodes the reply.
 *
 *   greeting  -> method selection (0x00 no-auth, or 0xFF and close)
 *   request   -> CONNECT / UDP ASSOCIATE handed out; BIND and unknown
 *                commands get 0x07; unknown address types get 0x08
 *   reply     -> pn_socks5_srv_reply(rep, bound address)
 *
 * Only the "no authentication required" method is offered: the proxy
 * listens on loopback and the user's identity is the client's credential.
 * Domain names are not resolved here: they are validated, lower-cased and
 * handed to the connector (remote name resolution).  A domain that is a
 * dotted-quad IPv4 literal is converted to an IPv4 address so that
 * access-list matching sees one form.
 *
 * UDP ASSOCIATE datagrams (RFC 1928 section 7) are parsed and built with
 * pn_socks5_udp_parse() / pn_socks5_udp_build(); only FRAG = 0 is accepted.
 */
#include <stddef.h>
#include <stdint.h>

struct pn_buf;

enum {
	PN_SOCKS5_VERSION = 5,
	PN_SOCKS5_METHOD_NOAUTH = 0x00,
	PN_SOCKS5_METHOD_NONE_ACCEPTABLE = 0xFF,
	/* Largest messages of the protocol: greeting 2 + 255 methods; request
	 * 4 + (1 + 255 domain) + 2 port.  The codec never buffers more. */
	PN_SOCKS5_MAX_GREETING = 2 + 255,
	PN_SOCKS5_MAX_REQUEST = 4 + 1 + 255 + 2,
	PN_SOCKS5_MAX_NAME = 255,
	/* Largest reply: domain-form bound address. */
	PN_SOCKS5_MAX_REPLY = PN_SOCKS5_MAX_REQUEST,
	/* Largest UDP header (FRAG 0, domain address). */
	PN_SOCKS5_MAX_UDP_HEADER = 4 + 1 + 255 + 2,
};

enum pn_socks5_cmd {
	PN_SOCKS5_CMD_CONNECT = 1,
	PN_SOCKS5_CMD_BIND = 2,
	PN_SOCKS5_CMD_UDP_ASSOCIATE = 3,
};

enum pn_socks5_atyp {
	PN_SOCKS5_ATYP_IPV4 = 1,
	PN_SOCKS5_ATYP_DOMAIN = 3,
	PN_SOCKS5_ATYP_IPV6 = 4,
};

/* Reply codes (RFC 1928 section 6). */
enum pn_socks5_rep {
	PN_SOCKS5_REP_OK = 0x00,
	PN_SOCKS5_REP_GENERAL_FAILURE = 0x01,
	PN_SOCKS5_REP_NOT_ALLOWED = 0x02,
	PN_SOCKS5_REP_NET_UNREACHABLE = 0x03,
	PN_SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	PN_SOCKS5_REP_REFUSED = 0x05,
	PN_SOCKS5_REP_TTL_EXPIRED = 0x06,
	PN_SOCKS5_REP_CMD_UNSUPPORTED = 0x07,
	PN_SOCKS5_REP_ATYP_UNSUPPORTED = 0x08,
};

/* A SOCKS5 address: IPv4, IPv6 or a validated lower-case domain name. */
struct pn_socks5_addr {
	uint8_t atyp; /* enum pn_socks5_atyp */
	uint16_t port;
	union {
		uint8_t v4[4];
		uint8_t v6[16];
		char name[PN_SOCKS5_MAX_NAME + 1]; /* NUL-terminated */
	} u;
};

struct pn_socks5_request {
	uint8_t cmd; /* PN_SOCKS5_CMD_CONNECT or PN_SOCKS5_CMD_UDP_ASSOCIATE */
	struct pn_socks5_addr dst;
};

enum pn_socks5_state {
	PN_SOCKS5_S_GREETING = 0,
	PN_SOCKS5_S_REQUEST,
	PN_SOCKS5_S_WAIT_REPLY, /* request handed out; awaiting pn_socks5_srv_reply */
	PN_SOCKS5_S_OPEN,	/* success reply sent: the connection is a data pipe */
	PN_SOCKS5_S_CLOSED,	/* failure reply sent (or nothing): close after flushing */
};

/* Caller-owned server state; no heap, no teardown needed. */
struct pn_socks5_srv {
	enum pn_socks5_state state;
	size_t have; /* bytes of the current message held in msg[] */
	uint8_t msg[PN_SOCKS5_MAX_REQUEST];
};

/* Events returned by pn_socks5_srv_feed (>= 0). */
enum pn_socks5_event {
	PN_SOCKS5_EV_NEED_MORE = 0, /* everything consumed; feed more input */
	PN_SOCKS5_EV_REQUEST = 1,   /* *req filled; call pn_socks5_srv_reply */
};

void pn_socks5_srv_init(struct pn_socks5_srv *s);

/*
 * Feed bytes received from the SOCKS client.  *consumed is set to how many
 * of the `len` bytes were used; the rest (possible only after a request was
 * returned: data the client pipelined before our reply) belongs to the
 * flow and is the caller's to keep.  Bytes to send back are appended to
 * `out` (a writer with at least PN_SOCKS5_MAX_REPLY bytes available).
 *
 * Returns PN_SOCKS5_EV_NEED_MORE, PN_SOCKS5_EV_REQUEST (with *req filled),
 * or a negative error after which the state is CLOSED and `out` holds the
 * reply to flush before closing (possibly nothing):
 *   PN_E_MALFORMED      bad version, reserved byte, empty/invalid name,
 *                       port 0 on CONNECT (reply 0x01, or nothing for a
 *                       greeting that is not SOCKS5)
 *   PN_E_SOCKS_NOAUTH   no acceptable method offered (0x05 0xFF sent)
 *   PN_E_SOCKS_COMMAND  BIND or unknown command (reply 0x07)
 *   PN_E_SOCKS_ATYP     unknown address type (reply 0x08)
 *   PN_E_INVAL          fed in a state that takes no input (WAIT_REPLY,
 *                       OPEN, CLOSED): nothing consumed
 *   PN_E_NOSPACE        `out` too small
 */
int pn_socks5_srv_feed(struct pn_socks5_srv *s, const uint8_t *in, size_t len, size_t *consumed,
		       struct pn_buf *out, struct pn_socks5_request *req);

/*
 * Answer the request handed out by feed: rep is a PN_SOCKS5_REP_* code and
 * bnd the bound address to report (NULL: 0.0.0.0:0).  A success reply moves
 * to OPEN, any other to CLOSED.  Returns 0, PN_E_INVAL (not in WAIT_REPLY,
 * or rep is not a defined code) or PN_E_NOSPACE.
 */
int pn_socks5_srv_reply(struct pn_socks5_srv *s, struct pn_buf *out, uint8_t rep,
			const struct pn_socks5_addr *bnd);

/* Encode any reply (without the state machine), e.g. to refuse early. */
int pn_socks5_reply_encode(struct pn_buf *out, uint8_t rep, const struct pn_socks5_addr *bnd);

/*
 * The reply code for an error from the access check, the tunnel or the
 * connector (0 -> OK).  Unknown errors map to general failure (0x01).
 */
uint8_t pn_socks5_rep_from_err(int err);

/* Short name of a reply code for logs ("ok", "not_allowed", ...). */
const char *pn_socks5_rep_name(uint8_t rep);

/*
 * Parse one SOCKS5 UDP datagram (RSV(2) FRAG(1) ATYP DST.ADDR DST.PORT DATA).
 * On success *dst is filled and *payload and *plen point into `pkt`.
 * Errors: PN_E_TRUNCATED, PN_E_MALFORMED (reserved bytes non-zero, bad
 * name), PN_E_SOCKS_FRAG (FRAG != 0), PN_E_SOCKS_ATYP.
 */
int pn_socks5_udp_parse(const uint8_t *pkt, size_t len, struct pn_socks5_addr *dst,
			const uint8_t **payload, size_t *plen);

/* Append the UDP header for `src` and the payload to `out`.
 * Returns 0, PN_E_NOSPACE/PN_E_TOOBIG/-ENOMEM (nothing written) or PN_E_INVAL. */
int pn_socks5_udp_build(struct pn_buf *out, const struct pn_socks5_addr *src,
			const uint8_t *payload, size_t plen);

/*
 * Format an address as "host:port" ("[v6]:port" for IPv6) into out[outsz];
 * returns out.  Never fails (truncates).
 */
char *pn_socks5_addr_str(const struct pn_socks5_addr *a, char *out, size_t outsz);

/* The host part only (dotted quad, RFC 5952 IPv6, or the name). */
char *pn_socks5_addr_host(const struct pn_socks5_addr *a, char *out, size_t outsz);

/*
 * Fill *a from a host string (IPv4/IPv6 literal, "[v6]", or a domain name,
 * validated and lower-cased) and a port.  Returns 0 or PN_E_MALFORMED.
 */
int pn_socks5_addr_from_host(struct pn_socks5_addr *a, const char *host, uint16_t port);

/* Parse "host:port" / "[v6]:port" into *a.  Returns 0 or PN_E_MALFORMED. */
int pn_socks5_addr_parse(struct pn_socks5_addr *a, const char *hostport);
#endif
