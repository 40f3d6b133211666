#ifndef PN_CONNECTOR_INT_H
#define PN_CONNECTOR_INT_H
/* Internals shared by connector.c (policy, tunnels) and proxy.c (flow I/O). */
#include "connector/connector.h"
#include "trust/policy.h"
#include "tunnel/flowproto.h"

#define CF_RBUF 65536 /* resource -> client read buffer per flow */

struct ctun;

enum cf_state { CF_RESOLVING = 1, CF_CONNECTING, CF_OPEN, CF_DONE };

struct cflow {
	struct pn_connector *c;
	struct ctun *ct;
	struct pn_flow *f; /* NULL once the tunnel side is gone */
	struct pn_flow_hdr hdr;
	char dest[PN_FLOW_NAME_MAX + 1];
	unsigned proto; /* PN_PROTO_TCP / UDP; 0 for DNS */
	enum cf_state st;
	int released, pending; /* pending: async callbacks still to come */
	uv_getaddrinfo_t gai;
	int gai_active;
	struct addrinfo *ai, *ai_next;
	union {
		uv_handle_t h;
		uv_tcp_t tcp;
		uv_udp_t udp;
	} io;
	int io_init;
	uv_connect_t creq;
	uv_timer_t ctimer;
	int ctimer_init;
	/* resource -> client */
	uint8_t *rbuf;
	size_t roff, rlen;
	int reading;
	/* client -> resource */
	uint8_t *wbuf;
	size_t wcap, whead, wlen, writing;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	int c_eof, shut_sent;
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
	uv_timer_t recheck;
	int closing_handles;
	void (*close_cb)(void *);
	void *close_arg;
};

/* proxy.c */
void pn_cflow_start(struct cflow *cf);
void pn_cflow_release(struct cflow *cf);
extern const struct pn_flow_ops pn_cflow_ops;
/* connector.c */
void pn_connector_flow_event(struct cflow *cf, const char *event, const char *verdict,
			     const char *reason);
void pn_cflow_unlink(struct cflow *cf);
int64_t pn_connector_now_ms(void);
#endif
