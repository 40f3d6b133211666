#ifndef PN_TUNNEL_FLOWPROTO_H
#define PN_TUNNEL_FLOWPROTO_H
/*
 * The flow protocol carried inside one QUIC connection between a client and
 * a connector.  Sans-I/O: encoders and decoders over core/buf only.
 *
 * Streams (all client-initiated bidirectional):
 *   - stream 0 is the CONTROL stream: the client sends control messages
 *     (first of all its CA-signed access list, PN_CTL_ACL), the connector
 *     answers each in order with PN_CTL_ACL_OK or PN_CTL_ERROR.  No flow is
 *     served before an access list bound to the client's certificate is
 *     accepted.  A client that renewed its credential re-presents it
 *     (PN_CTL_CRED), answered PN_CTL_CRED_OK or PN_CTL_ERROR.
 *   - every other stream is ONE FLOW: the client writes an open header
 *     (struct pn_flow_hdr), the connector answers with a status
 *     (struct pn_flow_status); after an OK status the stream carries raw
 *     bytes both ways (TCP; DNS_MSG: one framed DNS query and its reply),
 *     nothing more (UDP and ICMP: the stream only holds the authorization;
 *     payload travels in DATAGRAM frames), or nothing (DNS: the status
 *     carries the answer and both sides finish the stream).
 *
 * Wire layouts (big-endian), each message self-delimited so a reader can
 * tell "need more bytes" (PN_E_TRUNCATED) from "bad" (any other error):
 *
 *   open header   u8 version (PN_FLOW_VERSION) | u16 body length | body
 *     body:       u8 kind | u8 flags (0) | u64 flow id | 16 resource id |
 *                 u8 address type | address | u16 port | u8 dns qtype
 *     address:    NAME: u8 len + 1..253 bytes of LDH/underscore/dot
 *                 IPV4: 4 bytes; IPV6: 16 bytes
 *   status        u8 version | u16 body length | body
 *     body:       u8 code | u64 flow id | u8 text len + text (<= 120,
 *                 printable ASCII) | u8 naddr (<= 16) | naddr × (u8 family
 *                 4|6 + 4|16 bytes) | u32 ttl seconds
 *   DATAGRAM      u64 flow id | payload (0 .. PN_FLOW_DGRAM_PAYLOAD_MAX)
 *   control msg   u8 type | u32 body length (<= PN_CTL_BODY_MAX) | body
 *     ACL:        the access-list document bytes (verified by trust)
 *     ACL_OK:     empty
 *     ERROR:      u8 code (enum pn_flow_code) | u8 text len + text
 *     CRED:       the client's renewed credential: its leaf certificate in
 *                 DER, as the TLS handshake carries it (1 ..
 *                 PN_CTL_CRED_MAX bytes; verified by trust)
 *     CRED_OK:    empty
 *
 * A UDP flow is opened like a TCP flow (kind UDP); its OK status authorizes
 * DATAGRAM frames carrying that flow id, in both directions, for as long as
 * the stream is open.  Either side ends the flow by finishing or resetting
 * the stream; datagrams for unknown flow ids are dropped and counted.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define PN_FLOW_VERSION 1
#define PN_FLOW_ALPN "postern/1"

/* Limits.  Every decoded length is checked against one of these. */
#define PN_FLOW_HDR_MAX 512          /* whole open header incl. prefix */
#define PN_FLOW_STATUS_MAX 512       /* whole status incl. prefix */
#define PN_FLOW_PREFIX_LEN 3         /* u8 version + u16 body length */
#define PN_FLOW_NAME_MAX 253         /* RFC 1035 presentation length */
#define PN_FLOW_LABEL_MAX 63         /* RFC 1035 label */
#define PN_FLOW_TEXT_MAX 120         /* status reason text */
#define PN_FLOW_DNS_ADDRS_MAX 16     /* addresses in a DNS answer */
#define PN_FLOW_RESOURCE_ID_LEN 16   /* random resource id from the ACL */
#define PN_FLOW_DGRAM_HDR_LEN 8      /* u64 flow id */
#define PN_FLOW_DGRAM_PAYLOAD_MAX 1350 /* fits a 1452-byte QUIC packet */
#define PN_CTL_BODY_MAX (4u << 20)   /* a signed access list (PN_ACL_MAX_BYTES) */
#define PN_CTL_PREFIX_LEN 5          /* u8 type + u32 length */
#define PN_CTL_CRED_MAX 16384        /* one certificate (trust: PN_CRED_PEM_MAX) */

enum pn_flow_kind {
	PN_FLOW_TCP = 1,
	PN_FLOW_UDP = 2,
	PN_FLOW_DNS = 3,
	/* ICMP echo: authorized like UDP; DATAGRAM payloads are
	 * PN_FLOW_ICMP_SEQ_LEN bytes of sequence number + the echo data (the
	 * connector pings with an unprivileged ICMP socket of the resource's
	 * family and sends each echo reply back the same way). */
	PN_FLOW_ICMP = 4,
	/* A DNS message of any type for a protected name, answered by the
	 * connector's resolver: after the OK status the client writes one
	 * query as DNS over TCP frames it (u16 length + message; its one
	 * question must be the header's name, class IN), then finishes; the
	 * connector writes the resolver's reply the same way and finishes. */
	PN_FLOW_DNS_MSG = 5,
};
#define PN_FLOW_ICMP_SEQ_LEN 2 /* u16 echo sequence number */

enum pn_flow_addr_type {
	PN_FLOW_ADDR_NAME = 1,
	PN_FLOW_ADDR_IPV4 = 4,
	PN_FLOW_ADDR_IPV6 = 6,
};

/* DNS query types a DNS flow may ask for (port must be 0). */
enum pn_flow_qtype {
	PN_FLOW_QTYPE_NONE = 0, /* TCP / UDP flows */
	PN_FLOW_QTYPE_A = 1,
	PN_FLOW_QTYPE_AAAA = 28,
	PN_FLOW_QTYPE_ANY = 255, /* A and AAAA */
};

/*
 * Status / reason codes.  On the wire in the status body, in control ERROR
 * messages, and (plus PN_FLOW_APP_ERR_BASE) as QUIC application error codes
 * when a stream or the connection is reset, so the other side can tell why.
 */
enum pn_flow_code {
	PN_FLOW_OK = 0,
	PN_FLOW_DENIED = 1,          /* destination not in client ∩ connector */
	PN_FLOW_NO_ACL = 2,          /* no accepted client access list yet */
	PN_FLOW_BAD_ACL = 3,         /* access list signature/binding/version */
	PN_FLOW_BAD_REQUEST = 4,     /* malformed header */
	PN_FLOW_BAD_VERSION = 5,     /* unsupported flow protocol version */
	PN_FLOW_RESOLVE_FAILED = 6,  /* name did not resolve at the connector */
	PN_FLOW_REFUSED = 7,         /* resource refused the connection */
	PN_FLOW_UNREACHABLE = 8,     /* network/host unreachable */
	PN_FLOW_TIMEOUT = 9,         /* connect timed out */
	PN_FLOW_LIMIT = 10,          /* too many flows / resources exhausted */
	PN_FLOW_REVOKED = 11,        /* access withdrawn while open */
	PN_FLOW_CRED = 12,           /* client credential invalid or revoked */
	PN_FLOW_RESET = 13,          /* peer or resource reset the flow */
	PN_FLOW_INTERNAL = 14,
	PN_FLOW_EXHAUSTED = 15,      /* connector out of descriptors/memory/buffers */
	PN_FLOW_CODE_MAX = 15,
};
#define PN_FLOW_APP_ERR_BASE 0x100 /* QUIC app error = base + code */

/* Stable short name ("denied", "revoked", ...) for logs; never NULL. */
const char *pn_flow_code_name(int code);

/* A destination: a name (NUL-terminated) or an address. */
struct pn_flow_dest {
	uint8_t type; /* enum pn_flow_addr_type */
	union {
		char name[PN_FLOW_NAME_MAX + 1];
		uint8_t v4[4];
		uint8_t v6[16];
	} u;
};

struct pn_flow_hdr {
	uint8_t kind; /* enum pn_flow_kind */
	uint64_t flow_id;
	uint8_t resource_id[PN_FLOW_RESOURCE_ID_LEN]; /* zero: unspecified */
	struct pn_flow_dest dest;
	uint16_t port;   /* non-zero for TCP/UDP, 0 for DNS, ICMP, DNS_MSG */
	uint8_t qtype;   /* DNS only */
};

struct pn_flow_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t a[16];
};

struct pn_flow_status {
	uint8_t code; /* enum pn_flow_code */
	uint64_t flow_id;
	char text[PN_FLOW_TEXT_MAX + 1];
	uint8_t naddr;
	struct pn_flow_addr addr[PN_FLOW_DNS_ADDRS_MAX];
	uint32_t ttl;
};

enum pn_ctl_type {
	PN_CTL_ACL = 1,
	PN_CTL_ACL_OK = 2,
	PN_CTL_ERROR = 3,
	PN_CTL_CRED = 4,    /* client: renewed credential, same holder and key */
	PN_CTL_CRED_OK = 5, /* connector: accepted; the tunnel lives on under it */
	/* Both directions, after the handshake: the sender's direct-path
	 * candidates (tunnel/candmsg.h), re-sent when they change. */
	PN_CTL_CANDIDATES = 6,
};

/*
 * Validate and normalise a destination name in place: labels of letters,
 * digits, '-' and '_', 1..63 bytes each, <= 253 total, no empty label and
 * no wildcard (a flow names one concrete host), last label not all
 * digits (it would read as an address); one trailing dot removed,
 * lower-cased.  Returns 0 or PN_E_BAD_NAME.  Decoders accept only names
 * already in this canonical form.
 */
int pn_flow_name_check(char *name);

/* Parse text ("db.corp", "10.0.0.1", "fd00::1") into a dest: 0 or PN_E_BAD_NAME. */
int pn_flow_dest_parse(struct pn_flow_dest *d, const char *text);
/* Render for logs into out[outsz] (>= 256): name, dotted quad or IPv6. */
void pn_flow_dest_str(const struct pn_flow_dest *d, char *out, size_t outsz);

/*
 * Encode an open header.  Validates it first (kind, port rules, name):
 * returns 0, PN_E_INVAL for an invalid header, or a pn_buf put error.
 */
int pn_flow_hdr_encode(struct pn_buf *b, const struct pn_flow_hdr *h);
/*
 * Decode an open header from the front of `b`.  Returns 0 (consumed exactly
 * one header), PN_E_TRUNCATED (need more bytes; nothing consumed),
 * PN_E_UNSUPPORTED (version), PN_E_TOOBIG, PN_E_MALFORMED or PN_E_BAD_NAME.
 */
int pn_flow_hdr_decode(struct pn_buf *b, struct pn_flow_hdr *h);

/* Status: same conventions.  Encoding truncates nothing: text must fit. */
int pn_flow_status_encode(struct pn_buf *b, const struct pn_flow_status *s);
int pn_flow_status_decode(struct pn_buf *b, struct pn_flow_status *s);
/* Fill a status: code, flow id and text (cut at PN_FLOW_TEXT_MAX, non-
 * printable bytes replaced by '?'); no addresses. */
void pn_flow_status_set(struct pn_flow_status *s, uint64_t flow_id, int code,
			const char *text);

/*
 * DATAGRAM payload: out must hold PN_FLOW_DGRAM_HDR_LEN + len bytes.
 * Encode returns 0 or PN_E_TOOBIG; decode returns 0 (payload view into
 * data) or PN_E_TRUNCATED / PN_E_TOOBIG.
 */
int pn_flow_dgram_encode(uint8_t *out, size_t outsz, uint64_t flow_id,
			 const uint8_t *payload, size_t len, size_t *outlen);
int pn_flow_dgram_decode(const uint8_t *data, size_t len, uint64_t *flow_id,
			 const uint8_t **payload, size_t *plen);

/*
 * Control messages.  Decode returns 0 with *type and a view of the body,
 * PN_E_TRUNCATED (need more), PN_E_TOOBIG (body over PN_CTL_BODY_MAX, or
 * over PN_CTL_CRED_MAX for CRED: refused from the prefix, before the body
 * is waited for) or PN_E_MALFORMED (unknown type, an empty CRED, an OK
 * with a body).  Encode refuses the same with PN_E_INVAL.
 */
int pn_ctl_encode(struct pn_buf *b, uint8_t type, const uint8_t *body, size_t len);
int pn_ctl_decode(struct pn_buf *b, uint8_t *type, const uint8_t **body, size_t *len);
int pn_ctl_error_encode(struct pn_buf *b, int code, const char *text);
int pn_ctl_error_parse(const uint8_t *body, size_t len, int *code, char *text,
		       size_t textsz);
#endif
