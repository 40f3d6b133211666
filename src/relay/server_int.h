#ifndef PN_RELAY_SERVER_INT_H
#define PN_RELAY_SERVER_INT_H
/*
 * Internals of the relay daemon (relay/server.h), shared by server.c
 * (core ops, lifecycle), server_conn.c (streams, admission),
 * server_udp.c (the UDP data path) and server_worker.c (worker threads,
 * the shared lock, the cross-worker hand-off).
 *
 * Workers.  Each worker is a libuv loop (worker 0 is the caller's loop,
 * the others run on their own threads) with its own UDP socket and TCP
 * listener bound to the same address with SO_REUSEPORT.  The forwarding
 * core (sessions, registrations), the admission caps and the peer filter
 * are shared under one mutex, srv->mu, taken once per receive batch (or
 * per decrypted stream chunk), never across a system call: what a batch
 * routes is sent after the unlock.  A stream belongs to the worker that
 * accepted it; another worker hands it bytes and closes through the
 * owner's inbox (batched, one uv_async wake-up per batch).  With one
 * worker there is no thread, no lock and no hand-off.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include <gnutls/gnutls.h>

#include "core/udp.h"
#include "relay/admit.h"
#include "relay/core.h"
#include "relay/idmap.h"
#include "relay/server.h"
#include "relay/stream.h"
#include "trust/cred.h"

#define CONN_OF(e) ((struct conn *)((char *)(e)-offsetof(struct conn, adm)))
#define SWEEP_MS   2000
#define OWN_REFRESH_SWEEPS 15 /* own addresses re-read every 30 s */
#define SLOT_SMALL 2048 /* receive slot without GRO */
#define MAX_SEND   (PN_RELAY_BATCH * 4)
#define MAX_PEND   256 /* stream sends of one locked batch, made after the unlock */
#define XQ_BATCH   (64 * 1024)	  /* one hand-off block */
#define XQ_MAX_BYTES (16u << 20) /* a worker's inbox bound: beyond, hand-offs are dropped */
#define PN_RELAY_MAX_WORKERS 256

struct worker;

struct conn {
	struct pn_relay_server *srv;
	struct worker *w; /* owner: only its thread touches s */
	uint64_t serial;  /* key in w->byserial: the hand-off's address */
	struct pn_rstream *s;
	struct pn_relay_peer *peer; /* after authentication */
	struct pn_admit_entry adm;  /* admission: pending list */
	struct conn *next, *prev;
	struct pn_cred_info info;
};

/*
 * One outgoing UDP message: equal-size datagrams to one address, sent as
 * one GSO message (segments gathered from several receive slots).
 * Distinct buffers per message; contiguous ones share one.  A stream's
 * DATA takes two (the type byte, then sid and payload in the plaintext).
 */
#define OUT_IOV 64
struct out {
	struct pn_relay_addr dst;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct iovec iov[OUT_IOV];
	unsigned niov, nseg;
	size_t len, seg;
	int closed; /* a short segment (or a reply) ended it */
};
#define GSO_LOOKBACK 8

/* A DATA frame for a stream of this worker, routed under the lock and
 * queued after it (the payload stays where it was received). */
struct pend {
	struct conn *c;
	const uint8_t *p;
	size_t n;
	uint8_t hdr[PN_RELAY_DATA_FRAME_HDR];
};

/* A block of hand-off messages from one worker to another. */
struct xbatch {
	struct xbatch *next;
	size_t len;  /* bytes used (XQ_BATCH, more for one larger message) */
	size_t nmsg; /* messages in it */
	uint8_t data[];
};

struct worker {
	struct pn_relay_server *srv;
	unsigned idx;
	uv_loop_t *loop;
	uv_loop_t own_loop; /* workers > 0 */
	uv_thread_t thread;
	int started;	  /* thread running (workers > 0) */
	int udp_fd, tcp_fd; /* before the handles take them */
	int handles, stopping, finished;
	uv_tcp_t tcp;
	uv_poll_t poll;
	uv_timer_t sweep;
	uv_async_t async; /* inbox and stop (workers > 0 and MT worker 0) */
	struct conn *conns;
	struct pn_idmap byserial;
	uint64_t nserial;
	uint8_t rxbuf[PN_RSTREAM_RXBUF], plainbuf[PN_RSTREAM_RXBUF];
	struct pn_rstream_config scfg;
	struct pn_rstream_stats sst; /* its streams: TLS records, writes */
	uint64_t now_ms;
	int locked; /* holds srv->mu (MT) */
	/* UDP batch state */
	struct pn_udp_rx rx;
	struct out out[MAX_SEND];
	unsigned nout;
	uint8_t replies[MAX_SEND][PN_RELAY_REPLY_MAX];
	unsigned nreplies;
	struct mmsghdr smsg[MAX_SEND];
	uint8_t sctl[MAX_SEND][PN_UDP_SEG_CTL];
	struct pend pend[MAX_PEND];
	unsigned npend;
	struct xbatch **xout; /* [nworkers]: being filled for each other worker */
	/* inbox: other workers' hand-offs (under inbox_mu) */
	uv_mutex_t inbox_mu;
	struct xbatch *in_head, *in_tail;
	size_t in_bytes;
	int dead, stop;
	/* counters: the owner writes (relaxed stores), anyone reads */
	uint64_t rx_pkts, tx_pkts, tx_bytes, tx_drops, gso_sends, drop_queue;
	uint64_t xq_sent, xq_drops, streams;
	uint64_t rx_batch; /* datagrams of the batch being routed */
};

#define W_ADD(f, n) __atomic_store_n(&(f), (f) + (n), __ATOMIC_RELAXED)
#define W_GET(f)    __atomic_load_n(&(f), __ATOMIC_RELAXED)

struct pn_relay_server {
	uv_loop_t *loop; /* worker 0's */
	struct pn_relay_server_config cfg;
	struct pn_relay_core *core;
	struct pn_relay_peerfilter filter; /* denied peer addresses (the core reads it) */
	unsigned sweeps;
	gnutls_certificate_credentials_t cred;
	uv_mutex_t mu; /* MT: core, filter, adm, cred, cur, refused_auth */
	int mt;	       /* nworkers > 1 */
	int steer;     /* the reuseport program steers UDP by sid[7] % nworkers */
	unsigned nworkers, nfinished;
	struct worker **w;
	struct worker *cur; /* the worker inside the core (holds mu) */
	int gro, gso, handles, joined;
	uv_timer_t stats;
	uv_signal_t sigusr1;
	uv_async_t done; /* MT: a worker thread finished */
	struct pn_admit adm; /* admission caps */
	uint64_t refused_auth;
	void (*close_cb)(void *);
	void *close_arg;
	int closing;
	/* Credentials replaced by a renewal: live TLS sessions still use them. */
	struct retired {
		struct retired *next;
		gnutls_certificate_credentials_t cred;
	} * retired;
};

/* server.c */
extern const struct pn_relay_core_ops srv_core_ops;
void srv_maybe_finish(struct pn_relay_server *srv);

/* server_conn.c: streams and admission */
void srv_on_connection(uv_stream_t *server, int status);
void srv_sweep_conns(struct worker *w, uint64_t now);
void srv_close_conns(struct worker *w);

/* server_udp.c */
void srv_on_udp(uv_poll_t *h, int status, int events);
int srv_queue_udp(struct worker *w, const struct pn_relay_addr *to, const struct iovec *iov,
		  unsigned niov);
void srv_udp_flush(struct worker *w);
int srv_udp_open(struct pn_relay_server *srv, const struct sockaddr_storage *ss, int reuseport,
		 int *fd);

/* server_worker.c */
/* Enter / leave the shared state (MT: srv->mu).  Leaving sends what the
 * locked section queued: UDP batch, this worker's stream sends, hand-offs. */
void srv_enter(struct worker *w);
void srv_leave(struct worker *w);
/* Mid-batch: send what is queued (leaving and re-entering when locked). */
void srv_make_room(struct worker *w);
/* A stream DATA frame (hdr + payload) for c from worker w. 0 or -EAGAIN. */
int srv_send_data(struct worker *w, struct conn *c, const uint8_t *hdr, size_t hn,
		  const uint8_t *p, size_t n);
/* A control frame for c; 0 or an error (then the caller kicks c). */
int srv_send_frame(struct worker *w, struct conn *c, const uint8_t *p, size_t n);
/* Close c (graceful: queued frames first). */
void srv_kick(struct worker *w, struct conn *c, int err, int graceful);
/* Conns of w by serial (for hand-offs). */
int srv_conn_add(struct worker *w, struct conn *c);
void srv_conn_del(struct worker *w, struct conn *c);
/* Sockets, threads, handles. */
int srv_workers_open(struct pn_relay_server *srv, const struct sockaddr_storage *udp,
		     const struct sockaddr_storage *tcp);
int srv_workers_start(struct pn_relay_server *srv);
void srv_workers_stop(struct pn_relay_server *srv);
void srv_workers_free(struct pn_relay_server *srv);
#endif
