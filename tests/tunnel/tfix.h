#ifndef PN_TESTS_TUNNEL_TFIX_H
#define PN_TESTS_TUNNEL_TFIX_H
/*
 * The tunnel unit tests' fixture: identities minted through the one test
 * PKI (tests/lib/pki.h) with their TLS credentials, and a virtual network
 * between one client (a tunnel, or a bare QUIC connection) and one
 * connector tunnel, created from the first packet that reaches it:
 *
 *   client ── pa ═══ mempath (loss / reorder / dup) ═══ pb ── connector
 *          ── pa2 ══ a second pair, for migration ═════ pb2 ─┘
 *
 * driven step by step on a virtual clock (real ngtcp2, real GnuTLS).  The
 * tests keep their own glue (connector callbacks, client flows); the
 * fixture fails the running cmocka test on any setup error.
 */
#include <stdint.h>

#include "pki.h"
#include "tunnel/path.h"
#include "tunnel/session.h"

/* A credential with the TLS credentials a tunnel presents. */
struct tfix_ident {
	struct tpki_cred c; /* c.info: id, type, name, validity */
	gnutls_certificate_credentials_t cred;
};

/* `type` NAME from `ca`, valid [issued, issued + life] (clients: user
 * NAME@test), verified against `a`. */
void tfix_ident(struct tfix_ident *id, struct pn_ca *ca, const struct pn_anchor *a,
		enum pn_cred_type type, const char *name, uint64_t issued, uint64_t life);
void tfix_ident_free(struct tfix_ident *id);

struct tfix_net {
	struct pn_mempath *pa, *pb;   /* the client's end, the connector's end */
	struct pn_mempath *pa2, *pb2; /* a second pair (migration), made by the test */
	struct pn_tunnel *cl, *sv;    /* the connector's: made from its first packet */
	struct pn_tconn *raw;	      /* a bare QUIC client in place of cl */
	uint64_t now;		      /* the virtual monotonic clock, ns */
	uint64_t step_ns;	      /* a step that moved packets (default 20 us) */
	uint64_t idle_max_ns;	      /* an idle step jumps to the next timer, at most
					 this far (0: no limit; default) */
	int cl_dead, sv_dead;	      /* the driver was told the tunnel ended */
	/* the connector's parameters (fill `p` after tfix_params), asked for
	   when its first packet arrives */
	void (*sv_params)(struct pn_tunnel_params *p);
};

/* A fresh network: the first pair with `faults` (NULL: none), the clock at
 * 1 s, default step lengths.  The test then makes the client. */
void tfix_net_init(struct tfix_net *n, const struct pn_mempath_faults *faults,
		   void (*sv_params)(struct pn_tunnel_params *p));
/* Zeroes `p` and sets the driver (dead -> cl_dead / sv_dead of `n`) and the
 * path kind; the test sets credentials, windows and ops. */
void tfix_params(struct tfix_net *n, struct pn_tunnel_params *p);
/* The client has not ended (tunnel not dead; bare connection not closed). */
int tfix_client_alive(const struct tfix_net *n);
/* One step: both sides write what they have (a dead tunnel: its
 * CONNECTION_CLOSE), every queued packet is delivered, the clock moves
 * (step_ns, or to the next timer when nothing moved), timers run. */
void tfix_step(struct tfix_net *n);
/* The client writes what it has now (no delivery, no clock move): 1 if
 * it sent anything. */
int tfix_client_write(struct tfix_net *n);
/* A few steps (the closes go out), then everything is freed. */
void tfix_net_free(struct tfix_net *n);
#endif
