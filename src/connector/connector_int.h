#ifndef PN_CONNECTOR_INT_H
#define PN_CONNECTOR_INT_H
/* Internals shared by connector.c (policy, tunnels) and proxy.c (flow I/O). */
#include "connector/connector.h"
#include "core/memtrim.h"
#include "core/metrics.h"
#include "core/swriter.h"
#include "trust/policy.h"
#include "tunnel/flowproto.h"

#define CF_RBUF 65536 /* resource -> client reads (one buffer for all flows) */
#define CF_WRITE_VECS 16 /* vectors per write to the resource (queue chunks) */
#define CF_DIAL_MAX 16 /* addresses of one name tried per flow */
#define CF_DIAL_STAGGER_MS 250 /* RFC 8305 "connection attempt delay" */

struct ctun;
struct cflow;
struct cdns;

enum cf_state { CF_RESOLVING = 1, CF_CONNECTING, CF_OPEN, CF_DONE };

/* A socket toward the resource, in memory of its own: each connection
 * attempt gets a fresh one (a handle being closed is never initialised
 * again) and the one that connects becomes the flow's.  Freed in its
 * close callback. */
struct csock {
	union {
		uv_handle_t h;
		uv_tcp_t tcp;
		uv_udp_t udp;
	} u; /* first: a handle pointer is a csock pointer */
	uv_connect_t creq;
	struct cflow *cf;
	struct csock *next; /* attempts in flight */
	int connecting;     /* creq outstanding */
};

struct cflow {
	struct pn_connector *c;
	struct ctun *ct;
	struct pn_flow *f; /* NULL once the tunnel side is gone */
	struct pn_flow_hdr hdr;
	char dest[PN_FLOW_NAME_MAX + 1];
	unsigned proto; /* PN_PROTO_TCP / UDP / ICMP; 0 for DNS and DNS_MSG */
	int icmp_family; /* ICMP: AF_INET / AF_INET6 of the ping socket */
	struct cdns *dns; /* DNS_MSG flows (dnsmsg.c) */
	enum cf_state st;
	int released, pending; /* pending: async callbacks still to come */
	uv_getaddrinfo_t gai;
	int gai_active;
	struct addrinfo *ai;
	/* dialing (dial.c): addresses in the order tried, attempts in flight */
	const struct addrinfo *order[CF_DIAL_MAX];
	unsigned norder, nexta;
	struct csock *att;
	uint64_t deadline;  /* uv_now() when connecting gives up */
	int dial_err;       /* last attempt's libuv error */
	struct csock *io;   /* the resource socket, once connected */
	uv_timer_t ctimer;  /* dialing: stagger + deadline; UDP: idle */
	int ctimer_init;
	/* resource -> client: bytes read that the flow did not take, in a
	   buffer of their size (only while there are any) */
	uint8_t *rbuf;
	size_t roff, rlen;
	int reading;
	/* client -> resource: what arrived and is not written yet (memory
	   follows the bytes queued, within the flow's receive window) */
	struct pn_swriter w;
	int shut_done; /* the FIN is on its way to the resource */
	/* the stream ended cleanly but bytes (or the FIN) are still on their
	   way to the resource: the flow's end is logged once they are out */
	int draining;
	int ended; /* its end (or denial) has been reported */
	uint64_t up, down;
	uint64_t last_io; /* UDP: uv_now() of the last datagram either way */
	int64_t start_ms;
	char end_reason[48];
	struct cflow *next, *prev;
};

struct ctun {
	struct pn_connector *c;
	struct pn_tunnel *t;
	struct pn_cred_info peer;
	struct pn_acl acl;
	int acl_ok;
	struct cflow *flows;
	struct ctun *next, *prev;
};

struct pn_connector {
	struct pn_connector_config cfg;
	char *cert_pem;
	struct pn_cred_info self;
	struct pn_acl acl;
	struct pn_acl_gate *gate;
	struct pn_tep *tep;
	struct ctun *tuns;
	/* revocations: sorted 16-byte holder ids, sorted lowercase hex serials */
	uint8_t (*rev_ids)[PN_ID_LEN];
	size_t n_rev_ids;
	char **rev_serials;
	size_t n_rev_serials;
	struct pn_connector_stats stats;
	/* for the metrics (metrics.c): bytes of flows that ended, denials by
	 * reason, handshakes failed by cause */
	uint64_t ended_up, ended_down;
	struct pn_metrics_reasons denials, handshake_failures;
	uv_timer_t recheck;
	/* resource exhaustion (EMFILE...): logged once per burst */
	uint64_t exh_logged_ms, exh_count;
	int closing_handles;
	int handles_closed; /* the endpoint and timer are closed: free with the last flow */
	void (*close_cb)(void *);
	void *close_arg;
	uint8_t rbuf[CF_RBUF]; /* every flow's resource reads land here */
	size_t nflows_mem;      /* flows allocated (freed in pn_cflow_maybe_free) */
	struct pn_memtrim trim; /* the heap given back after bursts */
};

/* proxy.c: flow I/O and ends.  pn_cflow_release aborts: the resource's
 * connection is reset, never closed with a FIN. */
void pn_cflow_release(struct cflow *cf);
void pn_cflow_fail(struct cflow *cf, int code, const char *why);
void pn_cflow_connected(struct cflow *cf, struct csock *s);
void pn_csock_close(struct csock *s, int reset);
/* SO_LINGER {on, 0}: with on, closing the socket resets the connection. */
void pn_csock_linger0(struct csock *s, int on);
void pn_cflow_maybe_free(struct cflow *cf);
extern const struct pn_swriter_ops pn_cflow_wops; /* client -> resource */
void pn_connector_i_free_if_done(struct pn_connector *c);
/* dial.c: resolve, answer DNS flows, connect (happy eyeballs) */
void pn_cflow_start(struct cflow *cf);
void pn_cflow_dial_stop(struct cflow *cf);
/* dnsmsg.c: DNS_MSG flows (stop: cancel the resolver work; free: with cf) */
void pn_cdnsmsg_start(struct cflow *cf);
void pn_cdnsmsg_stop(struct cflow *cf);
void pn_cdnsmsg_free(struct cflow *cf);
/* icmp.c: ICMP echo flows over an unprivileged ICMP socket */
int pn_cicmp_attempt(struct cflow *cf, const struct addrinfo *ai, struct csock **out);
void pn_cicmp_to_resource(struct cflow *cf, const uint8_t *p, size_t n);
void pn_cicmp_from_resource(struct cflow *cf, const uint8_t *p, size_t n);
/* Is err (libuv) resource exhaustion (descriptors, memory, buffers)? */
int pn_cflow_err_exhausted(int err);
/* Count an exhaustion failure; logs once per burst with its cause. */
void pn_connector_exhausted(struct pn_connector *c, int err, const char *op);
/* connector.c */
void pn_connector_flow_event(struct cflow *cf, const char *event, const char *verdict,
			     const char *reason);
void pn_cflow_unlink(struct cflow *cf);
int64_t pn_connector_now_ms(void);
/* The peer's credential is revoked (holder id or serial; lists.c). */
int pn_connector_is_revoked(const struct pn_connector *c, const struct pn_cred_info *ci);
/* Re-check every tunnel and flow after a list changed (connector.c). */
void pn_connector_reevaluate_all(struct pn_connector *c);
#endif
