#ifndef PN_APP_DOCTOR_NET_H
#define PN_APP_DOCTOR_NET_H
/*
 * `postern doctor`'s probes: each bounded by a deadline, none of them
 * changing anything on the far side (no relay registration, no session).
 *
 *   pn_doc_resolve      a name, on a thread of its own abandoned at the
 *                       deadline (getaddrinfo cannot be cancelled)
 *   pn_doc_udp_stun     STUN Binding to up to PN_NATDISC_MAX_SERVERS relays
 *                       from one UDP socket (tunnel/natdisc.h): who
 *                       answered, the mapped addresses, the NAT kind
 *   pn_doc_udp_mtu      path MTU: padded Binding requests of each size
 *                       (core/stun.h pn_stun_build_probe) with the Don't
 *                       Fragment bit set; the largest answered wins
 *   pn_doc_streams      TLS (or TLS inside a WebSocket) to relays with the
 *                       component's credential, the relay's credential
 *                       checked against the pinned CA, then a PING the
 *                       relay answers with PONG
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctlapi/relays.h"

int pn_doc_resolve(const char *host, uint16_t port, int socktype, unsigned timeout_ms,
		   struct sockaddr_storage *out);

/* Does a unix stream socket at `path` accept and send something within
 * timeout_ms (a running client's status socket)?  1 or 0. */
int pn_doc_unix_answers(const char *path, unsigned timeout_ms);

struct pn_doc_stun {
	struct sockaddr_storage addr; /* in: the relay's UDP address */
	int answered;		      /* out */
	unsigned rtt_ms;
	struct sockaddr_storage mapped;
};
/* 0 with *nat (enum pn_nat_kind), or -errno (no socket). */
int pn_doc_udp_stun(struct pn_doc_stun *s, size_t n, unsigned timeout_ms, int *nat);

/* answered[i] for sizes[i]; local_too_big[i]: the kernel refused to send
 * it (larger than our own interface's MTU).  0 or -errno. */
int pn_doc_udp_mtu(const struct sockaddr_storage *to, const unsigned *sizes, size_t n,
		   unsigned timeout_ms, int *answered, int *local_too_big);

struct pn_doc_stream {
	/* in */
	struct sockaddr_storage addr;
	int ws, wss;
	char ws_host[PN_RELAY_ADDR_MAX + 1], ws_path[PN_RELAY_PATH_MAX + 1];
	char wss_name[PN_RELAY_HOST_MAX + 1];
	/* out */
	int err;	     /* 0: answered; else why not */
	int stage;	     /* how far it got: 0 nothing, 1 TCP/TLS up, 2 relay verified */
	unsigned ready_ms;   /* TLS (and WebSocket) up */
	unsigned rtt_ms;     /* PING -> PONG */
	char relay_name[65]; /* from its credential */
};
/*
 * Run every probe at once on a loop of its own, each within timeout_ms.
 * ping: 1 to expect a PONG (client and connector credentials; a relay
 * answers only those), 0 to stop at the verified handshake.  wss_ca: PEM
 * file for wss:// proxies (NULL: the system's trust store).  0, or an
 * error that stopped every probe (credential unusable: PN_E_*, -ENOMEM).
 */
int pn_doc_streams(const char *ca_pem, const char *cert_pem, const char *key_pem,
		   const char *wss_ca, int ping, struct pn_doc_stream *p, size_t n,
		   unsigned timeout_ms);
#endif
