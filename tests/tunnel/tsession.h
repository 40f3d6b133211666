#ifndef PN_TESTS_TUNNEL_TSESSION_H
#define PN_TESTS_TUNNEL_TSESSION_H
/*
 * The session tests' harness (test_tunnel_transfer, _flows, _handshake):
 * the tunnel end to end over the fixture's virtual network (tfix.h),
 *
 *   client tunnel ── mempath (loss / reorder / dup) ── connector tunnel
 *        flows: TCP (hash-checked both ways), UDP datagrams, DNS, denials
 *
 * with a connector whose glue checks the signed lists like the real one
 * (client list echo.test tcp,udp/7 and secret.test tcp/22; connector list
 * echo.test only), sends the test byte stream (tests/lib/pattern.h) on TCP flows, echoes
 * datagrams, and client flows that hash what they receive.
 */
#include <stdint.h>

#include "pattern.h"
#include "tfix.h"
#include "trust/acl.h"

#define NOW_UNIX 1900000000ull /* the unix clock of every party */

extern struct pn_ca *ca, *ca2; /* ca2: a foreign CA */
extern struct pn_anchor *anchor, *anchor2;
/* clients laptop, other (cli2), old (expired); connectors conn1 and evil
 * (from ca2) */
extern struct tfix_ident cli, cli2, con, con_foreign, cli_expired;
extern uint8_t net_id[PN_ID_LEN], res_id[PN_ID_LEN];

/* cmocka group setup / teardown: the identities above. */
int setup(void **st);
int teardown(void **st);
/* The signed list of `kind` for `holder` (a client list names `connector`). */
void mk_acl(const struct tfix_ident *holder, enum pn_acl_kind kind, const uint8_t *connector,
	    uint8_t **out, size_t *len);

/* What the client and the connector's glue saw (zeroed by start). */
struct tsession {
	/* client observations */
	enum pn_tunnel_state cl_state;
	int cl_err;
	/* server glue state */
	struct pn_acl client_acl, conn_acl;
	int acl_ok;
	const struct pn_cred_info *peer;
	int revoke_on_bytes; /* server: revoke flows after this many bytes */
	struct pn_flow *sv_flow;
	struct tpat_sink sv_sink; /* what the server's TCP flow received */
	int sv_eof;
	uint64_t sv_send_total, sv_sent;
	int last_deny;
	unsigned udp_echoed;
	int slow;      /* server: do not pass data on (hold credit) */
	int multi;     /* server: per-flow state (sfl) for TCP flows */
	uint64_t held; /* bytes received but not consumed */
};
extern struct tsession H;
extern struct tfix_net N;

/* multi mode: each server flow hashes what it gets and sends its own copy
 * of the pattern (sv_send_total bytes) */
struct sflow {
	struct tpat_sink sink;
	uint64_t sent, total;
	int eof;
};
extern struct sflow sfl[16];
extern unsigned nsfl;
/* echo mode: each server TCP flow sends back what it gets */
extern int sv_echo;
/* 4 concurrent flows per tunnel; a 16 KiB connection window both ways; 4
 * flows on the connector only (read when a tunnel is made) */
extern int small_limits, small_conn_window, sv_small_limits;
/* 4 MiB send buffers (the product's default) instead of 256 KiB */
extern int big_sndbuf;

/* Client `id` connecting to the connector presenting `srv`, pinning `pin`,
 * with client list `acl`, over a first path with faults `f`. */
void start(struct tfix_ident *id, struct tfix_ident *srv, const uint8_t *pin, const uint8_t *acl,
	   size_t acl_len, const struct pn_mempath_faults *f);
/* Let the closes go out, free the tunnels, paths and lists. */
void finish(void);

/* A client flow: sends `to_send` bytes of the pattern, hashes what comes. */
struct cflow {
	struct pn_flow *f;
	struct pn_flow_status st;
	int have_status, closed, closed_code, eof;
	struct tpat_sink sink;
	uint64_t to_send, sent;
	unsigned dgrams;
};
extern const struct pn_flow_ops cf_ops;
void cf_open(struct cflow *c, int kind, const char *dest, uint16_t port, uint64_t send);

/* Step until done(arg) (fails the test after max_steps). */
void run_until(int (*done)(void *), void *arg, int max_steps);
int is_up(void *a);	  /* the client tunnel is up (or dead) */
int flow_done(void *a);	  /* the cflow closed (or the tunnel died) */
int tunnel_dead(void *a); /* the client tunnel ended */
#endif
