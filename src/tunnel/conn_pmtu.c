/* QUIC connection core: Path MTU (tunnel/pmtu.h drives it; this file
 * feeds it from ngtcp2 and writes its probes).  See docs/tunnel.md, Path MTU. */
#include <string.h>

#include <ngtcp2/ngtcp2.h>

#include "core/err.h"
#include "tunnel/conn_int.h"

/* A probe packet: short header (1 + our peers' 18-byte CIDs + packet
 * number 1..4) + AEAD tag 16 + DATAGRAM frame type 1 + length 2.  With a
 * shorter packet number the probe comes out up to 3 bytes short; the
 * real length is what gets validated. */
#define PROBE_OVERHEAD (1 + PN_TCONN_CID_LEN + 4 + 16 + 3)
#define PROBE_MISS_MAX 16 /* packets that left no room for the probe (ACK and
			     control frames go first), then give up */

/* Probe payload: flow id 0 (never a flow's: pn_tunnel drops it unseen
 * here, older peers count it as a datagram for an unknown flow). */
static const uint8_t probe_fill[PN_PATH_MAX_UDP_PAYLOAD];

static size_t path_ceiling(const struct pn_tconn *c, const struct pn_path *p)
{
	const ngtcp2_transport_params *tp = ngtcp2_conn_get_remote_transport_params(c->q);
	size_t ceil = p && p->max_udp_payload ? p->max_udp_payload : PN_PATH_MAX_UDP_PAYLOAD;

	if (ceil > PN_PATH_MAX_UDP_PAYLOAD)
		ceil = PN_PATH_MAX_UDP_PAYLOAD;
	if (c->cfg.pmtu_max && ceil > c->cfg.pmtu_max)
		ceil = c->cfg.pmtu_max;
	/* probes are DATAGRAM frames: no DATAGRAM, no probing */
	if (!tp || tp->max_datagram_frame_size < 64)
		return PN_PMTU_BASE;
	if (tp->max_datagram_frame_size + PROBE_OVERHEAD - 3 < ceil)
		ceil = (size_t)tp->max_datagram_frame_size + PROBE_OVERHEAD - 3;
	return ceil;
}

static uint64_t pto_ns(const ngtcp2_conn_stat *cs)
{
	uint64_t v = 4 * cs->rttvar;

	if (v < NGTCP2_MILLISECONDS)
		v = NGTCP2_MILLISECONDS;
	return cs->smoothed_rtt + v + 25 * NGTCP2_MILLISECONDS;
}

size_t pn_tconn_i_pmtu_begin(struct pn_tconn *c, uint64_t now)
{
	struct pn_path *p;
	ngtcp2_conn_stat cs;

	if (!c->hs_done)
		return PN_PMTU_BASE; /* Initials are padded to it; the path is unproven */
	p = pn_tconn_path(c);
	if (p != c->pmtu_path) { /* a new path (or the first): search it */
		pn_pmtu_init(&c->pmtu, path_ceiling(c, p), now);
		c->pmtu_path = p;
		c->pmtu_miss = 0;
	}
	/* a loss episode (new congestion event, another PTO) may be a black
	   hole; PTOs in a row above the base: nothing gets through at all */
	ngtcp2_conn_get_conn_stat(c->q, &cs);
	if (cs.congestion_recovery_start_ts != c->pmtu_recovery) {
		c->pmtu_recovery = cs.congestion_recovery_start_ts;
		if (cs.congestion_recovery_start_ts != UINT64_MAX)
			pn_pmtu_suspect(&c->pmtu, now);
	}
	if (cs.pto_count >= PN_PMTU_STALL_PTOS && c->pmtu_pto < PN_PMTU_STALL_PTOS)
		pn_pmtu_stalled(&c->pmtu, now);
	if (cs.pto_count > c->pmtu_pto)
		pn_pmtu_suspect(&c->pmtu, now);
	c->pmtu_pto = cs.pto_count;
	return pn_pmtu_size(&c->pmtu);
}

ngtcp2_ssize pn_tconn_i_pmtu_probe(struct pn_tconn *c, ngtcp2_path *path, uint8_t *dst,
				   uint64_t now)
{
	const ngtcp2_transport_params *tp = ngtcp2_conn_get_remote_transport_params(c->q);
	ngtcp2_pkt_info pi;
	ngtcp2_conn_stat cs;
	ngtcp2_ssize nw;
	size_t size, n;
	uint64_t id;
	int accepted = 0;

	if (!c->hs_done || !c->pmtu_path || !pn_pmtu_want(&c->pmtu, now, &size, &id))
		return 0;
	n = size > PN_PATH_MAX_UDP_PAYLOAD ? PN_PATH_MAX_UDP_PAYLOAD : size;
	n = n > PROBE_OVERHEAD ? n - PROBE_OVERHEAD : 0;
	if (!tp || n < 8 || n + 3 > tp->max_datagram_frame_size) {
		pn_pmtu_unsent(&c->pmtu, id, now);
		return 0;
	}
	ngtcp2_vec v = {(uint8_t *)probe_fill, n};
	nw = ngtcp2_conn_writev_datagram(c->q, path, &pi, dst, size, &accepted,
					 NGTCP2_WRITE_DATAGRAM_FLAG_NONE, id, &v, 1, now);
	if (nw == NGTCP2_ERR_INVALID_ARGUMENT || nw == NGTCP2_ERR_INVALID_STATE) {
		pn_pmtu_unsent(&c->pmtu, id, now);
		return 0;
	}
	if (nw <= 0)
		return nw; /* congestion or pacing (0), or fatal */
	if (accepted) {
		ngtcp2_conn_get_conn_stat(c->q, &cs);
		pn_pmtu_sent(&c->pmtu, id, (size_t)nw, pto_ns(&cs), now);
		c->pmtu_miss = 0;
	} else if (++c->pmtu_miss >= PROBE_MISS_MAX) {
		/* other frames (ACKs) kept taking the room: try again later */
		pn_pmtu_unsent(&c->pmtu, id, now);
		c->pmtu_miss = 0;
	}
	return nw;
}

int pn_tconn_i_ack_dgram_cb(ngtcp2_conn *q, uint64_t id, void *ud)
{
	struct pn_tconn *c = ud;

	(void)q;
	if (id & PN_PMTU_ID_TAG)
		pn_pmtu_acked(&c->pmtu, id, c->now);
	return 0;
}

int pn_tconn_i_lost_dgram_cb(ngtcp2_conn *q, uint64_t id, void *ud)
{
	struct pn_tconn *c = ud;

	(void)q;
	if (id & PN_PMTU_ID_TAG)
		pn_pmtu_lost(&c->pmtu, id, c->now);
	return 0;
}

int pn_tconn_i_is_probe(const uint8_t *data, size_t len)
{
	static const uint8_t zero[8];

	return len >= 8 && memcmp(data, zero, 8) == 0;
}

uint64_t pn_tconn_i_pmtu_expiry(const struct pn_tconn *c)
{
	return c->hs_done && c->pmtu_path ? pn_pmtu_expiry(&c->pmtu) : UINT64_MAX;
}

void pn_tconn_i_pmtu_timeout(struct pn_tconn *c, uint64_t now)
{
	if (c->hs_done && c->pmtu_path && pn_pmtu_expiry(&c->pmtu) <= now)
		pn_pmtu_timeout(&c->pmtu, now);
}

void pn_tconn_tx_toobig(struct pn_tconn *c, const struct pn_path *path, size_t len, uint64_t now)
{
	if (c && !c->closed && c->hs_done && path && path == c->pmtu_path)
		pn_pmtu_toobig(&c->pmtu, len, now);
}

void pn_tconn_pmtu_info(const struct pn_tconn *c, struct pn_tconn_pmtu *out)
{
	memset(out, 0, sizeof(*out));
	out->max_udp_payload = c->hs_done && c->pmtu_path ? pn_pmtu_size(&c->pmtu) : PN_PMTU_BASE;
	if (!c->pmtu_path)
		return;
	out->ceiling = c->pmtu.ceiling;
	out->searching = c->pmtu.state == PN_PMTU_SEARCH;
	out->probes = c->pmtu.probes_sent;
	out->probes_lost = c->pmtu.probes_lost;
	out->black_holes = c->pmtu.black_holes;
	out->searches = c->pmtu.searches;
}
