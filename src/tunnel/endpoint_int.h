#ifndef PN_TUNNEL_ENDPOINT_INT_H
#define PN_TUNNEL_ENDPOINT_INT_H
/*
 * Internals of the tunnel endpoint (tunnel/endpoint.h), shared by its files:
 *   endpoint.c   lifecycle: credentials, the tunnel table, write batching
 *                and timers, the public calls;
 *   ep_intake.c  demux of received datagrams and the unauthenticated
 *                intake (caps, Retry address validation, new tunnels);
 *   ep_path.c    paths: the endpoint's own UDP paths and paths from
 *                elsewhere (core/path.h);
 *   ep_p2p.c     direct paths by NAT traversal (tunnel/p2p.h);
 *   ep_spray.c   its probing through one symmetric NAT (tunnel/spray.h).
 */
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/path.h"
#include "core/udp.h"
#include "tunnel/endpoint.h"
#include "tunnel/session.h"

#define PN_TEP_FLUSH_EVERY     32   /* received packets between flushes */
#define PN_TEP_FLUSH_BUDGET    64   /* GSO batches per tunnel per flush */
#define PN_TEP_PATHS	       4    /* UDP paths remembered per tunnel */
#define PN_TEP_HASH	       1024 /* demux buckets */
#define PN_TEP_PENDING_PER_SRC 8    /* handshaking tunnels per source address */
#define PN_TEP_RETRY_BUCKETS   256  /* source buckets of the Retry budget */
#define PN_TEP_RETRIES_PER_S   256  /* Retries sent per bucket a second */

struct ep_cred {
	gnutls_certificate_credentials_t cred;
	unsigned refs;
};

struct ep_path {
	struct pn_path path;
	struct pn_udp *sock;
	struct ep_tunnel *et;
	uint64_t last_used;
};

/* A path from elsewhere (core/path.h), attached to the endpoint.  Kept
 * until the path is lost AND no tunnel uses it (ngtcp2 may still name it
 * until then); then released to its provider. */
struct ep_xpath {
	struct pn_path *p;
	struct pn_tep *ep;
	int lost;
	struct ep_tunnel *et; /* tunnel using it, if any */
	struct ep_xpath *next;
};

struct ep_tunnel {
	struct pn_tep *ep;
	struct pn_tunnel *t;
	struct ep_cred *cred;
	uv_timer_t timer;
	struct pn_udp *own_sock; /* client: per-tunnel socket */
	struct ep_path paths[PN_TEP_PATHS];
	uint8_t key[PN_TCONN_CID_KEY_LEN], key2[PN_TCONN_CID_KEY_LEN];
	int has_key2, dirty, dead, freeing, blocked;
	/* a GSO batch the socket refused (EAGAIN), resent when writable:
	   packets ngtcp2 already counted as sent are not thrown away */
	uint8_t *held;
	size_t held_len, held_seg;
	struct pn_path *held_path;
	struct pn_path *cur_path; /* last path logged */
	size_t pmtu_logged;	  /* last Path MTU size logged */
	unsigned rx_since_flush;
	struct ep_tunnel *hnext, *hnext2; /* demux chains */
	struct ep_tunnel *dnext;	  /* dirty list */
	struct ep_tunnel *next, *prev;	  /* all tunnels */
	struct sockaddr_storage src;	  /* server: first source (per-source cap) */
	struct ep_p2p *p2p;		  /* NAT traversal (ep_p2p.c), or NULL */
	uint64_t direct_rx;		  /* last datagram on the direct socket */
};

struct pn_tep {
	struct pn_tep_config cfg;
	char *cert_pem;
	struct ep_cred *cred;
	struct pn_udp *sock;
	uv_prepare_t prep;
	uv_idle_t kick; /* keeps the next poll from blocking while tunnels are dirty */
	struct ep_tunnel *hash[PN_TEP_HASH], *hash2[PN_TEP_HASH];
	struct ep_tunnel *dirty;
	struct ep_tunnel *all;
	unsigned ntunnels;
	uint8_t *txbuf;
	int closing;
	unsigned pending_closes;
	void (*close_cb)(void *);
	void *close_arg;
	uint64_t drops_unknown, retries;
	struct ep_xpath *xpaths;
	uint8_t retry_secret[PN_TCONN_RETRY_SECRET_LEN]; /* Retry token key, wiped */
	/* Retries sent this second per source bucket (ep_intake.c) */
	struct {
		uint32_t sec, n;
	} retry_budget[PN_TEP_RETRY_BUCKETS];
	uint32_t retry_seed;
	struct ep_p2p_ep *p2p; /* NAT traversal (ep_p2p.c), or NULL */
	unsigned spray_socks;  /* extra sockets open for symmetric NATs (ep_spray.c) */
};

static inline uint64_t ep_now_ns(void)
{
	return uv_hrtime();
}

/* endpoint.c */
struct ep_tunnel *ep_lookup(struct pn_tep *ep, const uint8_t *key);
void ep_mark_dirty(struct ep_tunnel *et);
void ep_flush(struct ep_tunnel *et);
void ep_tunnel_params(struct pn_tep *ep, struct ep_tunnel *et, struct pn_tunnel_params *p);
struct ep_tunnel *ep_et_new(struct pn_tep *ep);
void ep_et_link(struct pn_tep *ep, struct ep_tunnel *et);
void ep_et_discard(struct ep_tunnel *et);

/* ep_intake.c */
int ep_may_accept(struct pn_tep *ep, const struct sockaddr *from, const uint8_t *p, size_t n);
void ep_accept_on(struct pn_tep *ep, struct ep_tunnel *et, struct pn_path *path, const uint8_t *p,
		  size_t n, const uint8_t *dkey, const struct pn_tconn_config *retry);
void ep_udp_recv(struct pn_udp *sock, const struct sockaddr *from, socklen_t fromlen,
		 const uint8_t *p, size_t n, void *user);
void ep_udp_writable(struct pn_udp *sock, void *user);
void ep_udp_burst(struct pn_udp *sock, void *user);
void ep_xpath_recv(struct pn_path *p, const uint8_t *d, size_t n, void *user);

/* ep_p2p.c */
/* A non-QUIC datagram on the direct socket (STUN answer, keyed probe):
 * 1 taken (never for the intake), 0 QUIC or NAT traversal off. */
int ep_p2p_raw(struct pn_tep *ep, struct pn_udp *sock, const struct sockaddr *from,
	       const uint8_t *p, size_t n);
/* A keyed probe over an attached path (relay keepalive): 1 taken. */
int ep_p2p_path_raw(struct pn_tep *ep, struct pn_path *path, const uint8_t *p, size_t n);
void ep_p2p_ctl(struct pn_tunnel *t, void *drv, uint8_t type, const uint8_t *body, size_t len);
void ep_p2p_tunnel_free(struct ep_tunnel *et);
/* The tunnel's QUIC path changed (seen by the flush): the traversal state
 * (current path, time to direct, keep-alive) follows at once, not on the
 * next tick, so `client status` never shows a direct path without it. */
void ep_p2p_path_seen(struct ep_tunnel *et, uint64_t now);
void ep_p2p_close(struct pn_tep *ep);
void ep_close_done(struct pn_tep *ep); /* endpoint.c: a handle of ep closed */

/* ep_path.c */
struct ep_path *ep_get_path(struct ep_tunnel *et, struct pn_udp *sock, const struct sockaddr *from,
			    socklen_t fromlen);
struct ep_xpath *ep_xpath_new(struct pn_tep *ep, struct pn_path *p);
void ep_xpath_unlink_free(struct pn_tep *ep, struct ep_xpath *xp);
void ep_xpath_forget(struct pn_tep *ep, struct ep_xpath *xp);
void ep_xpaths_drop_tunnel(struct pn_tep *ep, struct ep_tunnel *et);
struct pn_udp *ep_path_sock(const struct pn_path *p);
void ep_paths_retarget_sock(struct ep_tunnel *et, struct pn_udp *from, struct pn_udp *to);
int ep_migrate_sock(struct ep_tunnel *et, struct pn_udp *sock, const struct sockaddr *peer);

/* ep_spray.c: probing through one symmetric NAT (tunnel/spray.h), per
 * tunnel (*spp, created on demand), driven by ep_p2p.c */
struct ep_spray;
struct pn_cand;
void ep_spray_start(struct ep_tunnel *et, struct ep_spray **spp, int role,
		    const struct pn_cand *remote, size_t n, uint64_t now);
/* Send what is due (probe: a keyed probe for the peer); `direct`: the
 * tunnel is on a direct path (stop sending). */
void ep_spray_tick(struct ep_tunnel *et, struct ep_spray *sp, int direct, const uint8_t *probe,
		   uint64_t now);
/* A valid probe or answer arrived on sock (keep it a while). */
void ep_spray_hit(struct ep_spray *sp, struct pn_udp *sock, uint64_t now);
int ep_spray_role(const struct ep_spray *sp);
int ep_spray_sending(const struct ep_spray *sp, uint64_t now);
void ep_spray_free(struct ep_tunnel *et, struct ep_spray **spp);
/* Is p an attached path that its provider has lost (or not attached)? */
int ep_path_lost(const struct pn_tep *ep, const struct pn_path *p);

#endif
