#ifndef PN_CLIENT_PROXY_INT_H
#define PN_CLIENT_PROXY_INT_H
/* Internals of the client's front ends (client/proxy.h), shared by
 * proxy.c (listeners, lifecycle, status) and proxy_conn.c (one accepted
 * connection and its flow). */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "client/proxy.h"
#include "client/socks5.h"
#include "client/tunnels.h"
#include "client/udpassoc.h"
#include "core/accept.h"
#include "core/buf.h"
#include "core/memtrim.h"
#include "core/swriter.h"

#define RBUF_SIZE (64u * 1024)
/* Flows reset by a dying tunnel before the connector answered are retried
 * this many times (on another connector: failover). */
#define MAX_ATTEMPTS 3
/* Connections the kernel queues for us (it caps this at net.core.somaxconn):
 * bursts of new flows, and the pause after running out of descriptors. */
#define LISTEN_BACKLOG 4096

struct listener {
	struct pn_proxy *px;
	struct pn_acceptor *acc;
	int socks;
	char label[300];
	char target_host[256];
	uint16_t target_port;
	pn_proxy_map_fn map; /* transparent listener */
	void *map_user;
	uint64_t accepted;
	struct listener *next;
};

struct conn {
	struct pn_proxy *px;
	struct listener *ln;
	uv_tcp_t tcp;
	uv_timer_t retry;
	int handles; /* libuv handles still to be closed before free */
	struct conn *prev, *next;
	char peer[64];

	struct pn_socks5_srv socks;
	int socks_open; /* SOCKS handshake done (or not SOCKS) */

	struct pn_creq req;
	struct pn_flow *flow;
	uint64_t flow_id;
	unsigned attempts;
	int status_seen, closing, close_when_drained, tcp_eof;
	unsigned writes_pending; /* replies of our own (SOCKS) in flight */

	/* Flow data for the application: received STREAM bytes gather here
	 * while one write of earlier ones is in flight, so a write(2)
	 * carries everything that arrived meanwhile instead of one write
	 * per QUIC packet (at most the flow's receive window: credit goes
	 * back with pn_flow_consumed once bytes reach the socket). */
	struct pn_swriter w;

	/* Bytes read and not yet taken by the flow (pend_off, pend_len): a
	 * buffer of their size, allocated only while there are any (reads go
	 * to the proxy's one read buffer) */
	uint8_t *rbuf;
	size_t pend_off, pend_len;
	/* Of those, bytes already written into the flow before its verdict
	 * (pipelined behind the open header): kept until the connector's OK,
	 * so a flow lost before it is retried elsewhere with the same bytes. */
	size_t early;
	struct pn_udpassoc *ua;
};

/* A reply of the proxy's own (SOCKS): written once, freed when done. */
struct wreq {
	uv_write_t w;
	struct conn *c;
	uint8_t data[];
};
/* Vectors per write of flow data (chunks of up to PN_BUFQ_CHUNK_MAX). */
#define DATA_WRITE_VECS 64

struct pn_proxy {
	uv_loop_t *loop;
	struct pn_ctuns *tuns;
	struct listener *listeners;
	struct conn *conns;
	uint64_t flows_ok, flows_refused, flows_failed, socks_errors;
	size_t nconns;		/* connections allocated */
	struct pn_memtrim trim; /* the heap given back after bursts */
	int closing;
	unsigned handles;
	void (*close_cb)(void *);
	void *close_arg;
	/* every connection reads into this one (bytes the flow does not take
	 * at once are copied out: conn.rbuf) */
	uint8_t rbuf[RBUF_SIZE];
};

/* proxy.c */
void px_proxy_free_if_done(struct pn_proxy *p);

/* proxy_conn.c */
void px_conn_close(struct conn *c, int reset);
void px_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
void px_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
void px_start_flow(struct conn *c);
extern const struct pn_swriter_ops px_data_ops; /* flow data into c->tcp */

#endif
