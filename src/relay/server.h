#ifndef PN_RELAY_SERVER_H
#define PN_RELAY_SERVER_H
/*
 * The relay daemon (libuv glue around relay/core.h): per worker one UDP
 * socket (recvmmsg/sendmmsg, UDP GRO/GSO where the kernel has them) for
 * DATA, BIND and STUN and one TCP listener for TLS and WebSocket streams.
 */
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "relay/core.h"
#include "relay/peerfilter.h"
#include "trust/cred.h"
#include "trust/key.h"

struct pn_relay_server;

struct pn_relay_server_config {
	const char *udp_addr; /* "ip:port", NULL: no UDP */
	const char *tls_addr; /* "ip:port", NULL: no stream listener */
	const char *ws_path;  /* accepted WebSocket path, NULL: no upgrades */
	/* The relay's credential (PN_CRED_RELAY) and the pinned CA.  Borrowed. */
	const struct pn_anchor *anchor;
	const struct pn_key *key;
	const char *cert_pem;
	struct pn_relay_limits limits;
	uint32_t max_pending, max_pending_per_ip, max_conns;
	uint32_t stats_ms; /* 0: no periodic stats line */
	int no_gso;	   /* 1: never use UDP GSO/GRO (benchmarks, old kernels) */
	/* Worker loops, each with its own UDP socket and TCP listener on the
	 * same port (SO_REUSEPORT); 0 or 1: one, on the caller's loop, no
	 * thread.  Others run on their own threads; the caller's loop stays
	 * worker 0 (timers, signals, the close callback). */
	unsigned workers;
	/* Ranges exempt from the denied peer addresses (relay/peerfilter.h):
	 * CIDR texts, borrowed for the call of pn_relay_server_new. */
	const char *allow_peer[PN_RELAY_ALLOW_MAX];
	unsigned n_allow_peer;
};

/* Defaults from relay/wire.h for everything but addresses and credential. */
void pn_relay_server_config_default(struct pn_relay_server_config *c);

/*
 * Create and start listening.  UDP from denied peer addresses (the
 * defaults of relay/peerfilter.h and this host's own addresses, re-read
 * every 30 s, minus allow_peer) is never answered.
 * 0, PN_E_CONFIG (address, allow_peer), PN_E_UNTRUSTED /
 * PN_E_WRONG_TYPE (own certificate not a relay credential of this CA),
 * PN_E_CRYPTO, -errno (bind), -ENOMEM.
 */
int pn_relay_server_new(uv_loop_t *loop, const struct pn_relay_server_config *cfg,
			struct pn_relay_server **out);

/*
 * Present a renewed relay credential to connections made from now on
 * (existing ones keep theirs).  key and cert_pem are only read during the
 * call.  0, or the errors of pn_relay_server_new's credential check.
 */
int pn_relay_server_set_credential(struct pn_relay_server *s, const struct pn_key *key,
				   const char *cert_pem);

/*
 * Change the limits, admission caps and stats interval of a running
 * server (SIGHUP): they hold for what happens from now on; nothing already
 * open is closed.  Addresses, ws_path and no_gso need a restart (ignored
 * here).  0 or PN_E_INVAL.
 */
int pn_relay_server_set_limits(struct pn_relay_server *s, const struct pn_relay_server_config *cfg);

/* One "key=value ..." line of counters (for logs and SIGUSR1), summed
 * over the workers, then per worker (worker_udp_rx=a,b,...). */
void pn_relay_server_stats_line(const struct pn_relay_server *s, char *buf, size_t n);

/* The relay's metrics (postern_relay_*) into m, from the counters above
 * (relay/server_metrics.c).  0 or the registry's error. */
struct pn_metrics;
int pn_relay_server_metrics(struct pn_relay_server *s, struct pn_metrics *m);

/* The bound UDP / TCP ports (useful with port 0). */
int pn_relay_server_udp_port(const struct pn_relay_server *s);
int pn_relay_server_tls_port(const struct pn_relay_server *s);

/* Stop: close every connection and handle, then free and call cb. */
void pn_relay_server_close(struct pn_relay_server *s, void (*cb)(void *arg), void *arg);

/* Parse "ip:port" / "[v6]:port" into a sockaddr.  0 or PN_E_CONFIG. */
int pn_relay_parse_addr(const char *s, struct sockaddr_storage *ss);
#endif
