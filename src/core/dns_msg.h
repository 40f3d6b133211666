#ifndef PN_CORE_DNS_MSG_H
#define PN_CORE_DNS_MSG_H
/*
 * DNS messages (RFC 1035, EDNS0 RFC 6891), sans I/O: just what the
 * client's local resolver needs — parse a query (or a reply) completely,
 * and encode local answers and simple queries.
 *
 * Parsing is strict and bounded:
 *   - every count and length is checked against the bytes present; a
 *     message shorter than its counts say is PN_E_TRUNCATED, trailing
 *     bytes after the last record are PN_E_MALFORMED;
 *   - names: labels 1..63 bytes, at most 255 bytes in wire form;
 *     compression pointers must point strictly before the place they are
 *     read from (so they cannot loop) and at most PN_DNS_MAX_HOPS are
 *     followed per name; label types 01/10 (extended, obsolete) refused;
 *   - a message larger than PN_DNS_MSG_MAX is PN_E_TOOBIG;
 *   - at most one OPT record, in the additional section, with the root
 *     name (else PN_E_MALFORMED; a resolver answers FORMERR).
 * The question's name is returned in presentation form, lower-cased,
 * without the trailing dot ("" for the root).  A label holding a byte
 * outside [A-Za-z0-9-_] (dots, spaces, binary) is not an error of the
 * message: the name is then flagged `name_odd` and left empty, and the
 * caller treats it as nobody's name (forwards it untouched).
 */
#include <stddef.h>
#include <stdint.h>

#define PN_DNS_HDR_LEN	     12
#define PN_DNS_MSG_MAX	     65535 /* TCP length prefix is 16 bits */
#define PN_DNS_UDP_MIN	     512   /* plain DNS over UDP */
#define PN_DNS_EDNS_UDP	     1232  /* what we advertise (DNS flag day 2020) */
#define PN_DNS_NAME_WIRE_MAX 255
#define PN_DNS_PNAME_MAX     253 /* presentation, no trailing dot */
#define PN_DNS_MAX_HOPS	     16	 /* compression pointers followed per name */
#define PN_DNS_MAX_ANSWERS   16	 /* records we put in a local answer */

enum pn_dns_type {
	PN_DNS_T_A = 1,
	PN_DNS_T_NS = 2,
	PN_DNS_T_CNAME = 5,
	PN_DNS_T_SOA = 6,
	PN_DNS_T_PTR = 12,
	PN_DNS_T_MX = 15,
	PN_DNS_T_TXT = 16,
	PN_DNS_T_AAAA = 28,
	PN_DNS_T_SRV = 33,
	PN_DNS_T_OPT = 41,
	PN_DNS_T_HTTPS = 65,
	PN_DNS_T_ANY = 255,
};

enum pn_dns_rcode {
	PN_DNS_NOERROR = 0,
	PN_DNS_FORMERR = 1,
	PN_DNS_SERVFAIL = 2,
	PN_DNS_NXDOMAIN = 3,
	PN_DNS_NOTIMP = 4,
	PN_DNS_REFUSED = 5,
};

#define PN_DNS_CLASS_IN 1
/* Header flag bits (second 16-bit word). */
#define PN_DNS_F_QR	 0x8000
#define PN_DNS_F_AA	 0x0400
#define PN_DNS_F_TC	 0x0200
#define PN_DNS_F_RD	 0x0100
#define PN_DNS_F_RA	 0x0080
#define PN_DNS_OPCODE(f) (((f) >> 11) & 0xf)
#define PN_DNS_RCODE(f)	 ((f)&0xf)

struct pn_dns_msg {
	uint16_t id, flags;
	uint16_t qdcount, ancount, nscount, arcount;
	/* The first question (when qdcount >= 1). */
	char qname[PN_DNS_PNAME_MAX + 1];
	int name_odd; /* qname has bytes we do not render (see top) */
	uint16_t qtype, qclass;
	/* EDNS (an OPT record in the additional section). */
	int edns;
	uint16_t edns_udp; /* requester's UDP payload size */
	uint8_t edns_version;
	uint16_t edns_flags; /* DO bit etc. */
	uint8_t edns_ext_rcode;
	/* Records of the answer section we understood (A/AAAA/CNAME owner
	 * ignored): count and addresses, for tests and logs. */
	unsigned nanswer_addrs;
	uint8_t answer_addrs[PN_DNS_MAX_ANSWERS][16];
	uint8_t answer_fam[PN_DNS_MAX_ANSWERS]; /* 4 or 6 */
};

/*
 * Parse a whole message (see top).  0, PN_E_TRUNCATED, PN_E_MALFORMED,
 * PN_E_TOOBIG.  On error the header fields are filled if at least 12
 * bytes were given (so a FORMERR can echo the id).
 */
int pn_dns_parse(const uint8_t *msg, size_t len, struct pn_dns_msg *m);

/*
 * Read the name at *off of msg[len] into out[outsz] (>= 254: presentation,
 * lower case, no trailing dot), following compression pointers (see top);
 * *off moves past the name where it was read.  *odd set when a label has a
 * byte outside [A-Za-z0-9-_] (out is then "").  0, PN_E_TRUNCATED,
 * PN_E_MALFORMED, PN_E_TOOBIG.
 */
int pn_dns_name_read(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outsz,
		     int *odd);

/* Write a presentation name (labels 1..63, <= 253) in wire form, no
 * compression.  0, PN_E_BAD_NAME, PN_E_NOSPACE. */
int pn_dns_name_write(const char *name, uint8_t *out, size_t outsz, size_t *outlen);

/* One record of a local answer: an address for the question's name. */
struct pn_dns_rr {
	uint16_t type; /* PN_DNS_T_A (4 bytes) or PN_DNS_T_AAAA (16) */
	uint8_t addr[16];
};

/*
 * The reply to query q (parsed by pn_dns_parse): same id, opcode, RD and
 * question; QR, AA and RA set; `rcode`; the records rr[n] as answers for
 * the question's name with `ttl`; an OPT record (our payload size) when
 * the query had EDNS.  If the reply would not fit `max` bytes (the
 * requester's limit: 512, its EDNS size, or 65535 over TCP), the answers
 * are left out and TC is set.  0, PN_E_INVAL (n too large, bad type),
 * PN_E_NOSPACE (outsz too small even for the header and question).
 */
int pn_dns_reply(const struct pn_dns_msg *q, int rcode, const struct pn_dns_rr *rr, unsigned n,
		 uint32_t ttl, size_t max, uint8_t *out, size_t outsz, size_t *outlen);

/*
 * A bare error reply (FORMERR, SERVFAIL, REFUSED, NOTIMP) when the query
 * could not be parsed: the 12-byte header only, id and opcode echoed.
 * msg must hold at least 2 bytes (the id), else PN_E_TRUNCATED.
 */
int pn_dns_error_reply(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t outsz,
		       size_t *outlen);

/* A query (RD set; OPT with `edns_udp` when non-zero).  For tests and the
 * integration tools.  0, PN_E_BAD_NAME, PN_E_NOSPACE. */
int pn_dns_query(uint16_t id, const char *name, uint16_t qtype, uint16_t edns_udp, uint8_t *out,
		 size_t outsz, size_t *outlen);

/* The largest reply a UDP requester accepts: its EDNS size (at least 512,
 * at most our PN_DNS_EDNS_UDP... up to 4096) or 512. */
size_t pn_dns_udp_limit(const struct pn_dns_msg *q);
#endif
