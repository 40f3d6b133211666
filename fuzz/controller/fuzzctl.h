#ifndef PN_FUZZ_FUZZCTL_H
#define PN_FUZZ_FUZZCTL_H
/*
 * The controller's request handlers driven in memory for the fuzzers: no
 * HTTP, no TLS, one SQLite store in memory seeded once (networks, groups,
 * users, a service account with memberships, resources, policies, a
 * connector and a relay, an unused enrollment token, an admin key and a
 * service-account key with fixed texts, component credentials).
 *
 * Each input runs inside one outer write transaction that is rolled back
 * afterwards, so every input sees the same seeded store: the handlers'
 * own begin/commit/rollback become no-ops inside it (the store's ops are
 * wrapped).  pn_random is wrapped (-Wl,--wrap=pn_random) by a generator
 * reset for every input, so ids and secrets the handlers make are the
 * same on every run of an input.
 */
#include <stddef.h>
#include <stdint.h>

#include "controller/api.h"

/* Fixed secrets the seeds use. */
#define FZ_TOKEN_SECRET	  "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
#define FZ_ADMIN_KEY	  "pnak_" FZ_TOKEN_SECRET_B
#define FZ_SA_KEY	  "pnsk_" FZ_TOKEN_SECRET_B
#define FZ_RO_KEY	  "pnak_" FZ_TOKEN_SECRET_C
#define FZ_TOKEN_SECRET_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FZ_TOKEN_SECRET_C "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define FZ_NOW		  1800000000ll /* the handlers' clock (pn_now) is real; tokens expire far later */

struct fz {
	struct pn_ctl ctl;
	char connector_id[33], relay_id[33], sa_id[33];
	struct pn_cred_info conn_cred, relay_cred, client_cred; /* issued at set-up */
	char conn_serial[64];
};

/* Set up once (aborts on failure); later calls return the same. */
struct fz *fz_get(void);
/* Before / after one input: the outer transaction; fz_end also checks the
 * store's integrity when check is set, aborting if it fails. */
void fz_begin(struct fz *f);
void fz_end(struct fz *f, int check);
/* A fresh request (method static, principal set by the caller). */
void fz_req(struct fz *f, struct pn_req *r, const char *method);
/* Run r through find + allow + handler and check the response's shape:
 * a status in 200..599, JSON (or raw text) set, an "error" object on
 * 4xx/5xx.  Frees the response and body. */
void fz_dispatch(struct pn_req *r);
#endif
