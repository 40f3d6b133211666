/* A tunnel connection on a fixed clock for the fuzzer (fzconn.h). */
#include <stdlib.h>
#include <string.h>

#include "fzconn.h"
#include "pki.h"
#include "trust/ca.h"

static uint64_t rng;

int __wrap_pn_random(void *p, size_t n);
int __wrap_pn_random(void *p, size_t n)
{
	uint8_t *o = p;

	for (size_t i = 0; i < n; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		o[i] = (uint8_t)(rng >> 56);
	}
	return 0;
}

void fzc_reset(void)
{
	rng = 0x7e5715eedull;
}

static uint64_t unix_now(void *user)
{
	(void)user;
	return FZC_UNIX;
}

static int cb_stream_open(struct pn_tconn *c, int64_t sid, void *user)
{
	(void)c, (void)sid, (void)user;
	return 0;
}

static int cb_stream_data(struct pn_tconn *c, int64_t sid, const uint8_t *p, size_t n, int fin,
			  void *user, void *su)
{
	(void)p, (void)fin, (void)user, (void)su;
	pn_tconn_stream_consumed(c, sid, n);
	return 0;
}

static const struct pn_tconn_cbs cbs = {
    .stream_open = cb_stream_open,
    .stream_data = cb_stream_data,
};

struct fzc *fzc_get(void)
{
	static struct fzc F;
	static int ready;
	struct tpki_cred cl, sv;

	if (ready)
		return &F;
	fzc_reset();
	if (pn_ca_new(FZC_UNIX - 1000, &F.ca) || pn_anchor_from_ca(F.ca, &F.anchor) ||
	    tpki_issue(F.ca, PN_CRED_CLIENT, "fuzz-client", FZC_UNIX - 100, 86400, &cl) ||
	    tpki_issue(F.ca, PN_CRED_CONNECTOR, "fuzz-connector", FZC_UNIX - 100, 86400, &sv) ||
	    tpki_tls(&cl, F.anchor, &F.cl_tls) || tpki_tls(&sv, F.anchor, &F.sv_tls) ||
	    pn_mempath_pair(NULL, &F.pa, &F.pb))
		abort();
	memcpy(F.connector_id, sv.info.id, sizeof(F.connector_id));
	memset(F.retry_secret, 0x42, sizeof(F.retry_secret));
	tpki_cred_free(&cl);
	tpki_cred_free(&sv);
	ready = 1;
	return &F;
}

void fzc_config(struct fzc *f, enum pn_tconn_role role, struct pn_tconn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->role = role;
	cfg->cred = role == PN_TCONN_CLIENT ? f->cl_tls : f->sv_tls;
	cfg->anchor = f->anchor;
	memcpy(cfg->pinned_id, f->connector_id, sizeof(cfg->pinned_id));
	cfg->unix_now = unix_now;
	cfg->clock_skew_s = 60;
	cfg->cbs = &cbs;
	cfg->stream_sndbuf = 64 << 10;
	cfg->stream_window = 256 << 10;
	cfg->conn_window = 1 << 20;
	cfg->max_streams = 8;
	cfg->idle_ms = 30000;
	memset(cfg->cid_key, role == PN_TCONN_CLIENT ? 0xc1 : 0x5e, sizeof(cfg->cid_key));
}
