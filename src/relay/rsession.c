/* Relay client: the session table (open, ready, data, close) of each relay
 * connection; see relay/rclient.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/udp.h"
#include "ctlapi/relays.h"
#include "relay/idmap.h"
#include "relay/resolve.h"
#include "relay/rclient_int.h"
#include "relay/rpath.h"
#include "relay/server.h"
#include "relay/stream.h"
#include "relay/udpmsg.h"
#include "trust/cred.h"
#include "trust/key.h"

void rc_session_free(struct pn_rsession *s)
{
	if (s->path)
		pn_rpath_gone(s->path, PN_E_CLOSED);
	free(s->acl);
	pn_wipe(s, sizeof(*s));
	free(s);
}

static void pending_unlink(struct pn_rsession *s)
{
	struct pn_rrelay *r = s->r;

	if (s->prev)
		s->prev->next = s->next;
	else if (r->pending == s)
		r->pending = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

void rc_send_open(struct pn_rsession *s)
{
	struct pn_relay_msg m = {
	    .type = PN_RELAY_F_OPEN, .tag = s->tag, .acl = s->acl, .acl_len = s->acl_len};

	memcpy(m.id, s->peer_id, PN_RELAY_ID_LEN);
	rc_send_msg(s->r, &m);
	s->st = SS_OPENING;
}

enum pn_relay_side rc_my_side(const struct pn_rclient *rc)
{
	return rc->mode == PN_RCLIENT_CLIENT ? PN_RELAY_SIDE_CLIENT : PN_RELAY_SIDE_CONNECTOR;
}

void rc_send_bind(struct pn_rsession *s, uint64_t now)
{
	struct pn_rrelay *r = s->r;
	uint8_t b[PN_RELAY_BIND_LEN];

	if (r->udp_fd < 0)
		return;
	pn_relay_bind_encode(b, s->sid,
			     r->rc->mode == PN_RCLIENT_CLIENT ? PN_RELAY_SIDE_CLIENT
							      : PN_RELAY_SIDE_CONNECTOR,
			     ++s->bind_counter, s->secret);
	(void)send(r->udp_fd, b, sizeof(b), MSG_DONTWAIT);
	s->bind_tries++;
	/* Quick retries until the first BIND_OK, then the NAT keepalive pace. */
	s->next_bind = now + (s->last_bind_ok ? PN_RELAY_BIND_REFRESH_MS : BIND_RETRY_MS);
}

void rc_session_ready(struct pn_rsession *s, uint64_t now)
{
	struct pn_rrelay *r = s->r;

	s->st = SS_READY;
	free(s->acl);
	s->acl = NULL;
	if (r->udp_fd >= 0 && (r->allowed & PN_RT_UDP))
		rc_send_bind(s, now);
}

/* A ready session ends: tell the user unless it is a local close. */
void rc_session_end(struct pn_rsession *s, int reason, int notify)
{
	struct pn_rrelay *r = s->r;

	pn_idmap_del(&r->sessions, s);
	s->st = SS_DEAD; /* a pn_rsession_close from the callback is a no-op */
	if (s->path) /* the path's user first, as it may name s */
		pn_rpath_gone(s->path, reason ? reason : PN_E_CLOSED);
	if (notify && r->rc->ops->session_closed && !r->rc->closing)
		r->rc->ops->session_closed(s, reason, r->rc->user);
	rc_session_free(s);
}

/* A pending open fails. */
void rc_open_fail(struct pn_rsession *s, int reason)
{
	struct pn_rclient *rc = s->r->rc;

	pending_unlink(s);
	s->st = SS_DEAD;
	if (!rc->closing)
		rc->ops->session_ready(s, reason, rc->user);
	rc_session_free(s);
}

int pn_rclient_open(struct pn_rclient *rc, struct pn_rrelay *r,
		    const uint8_t connector_id[PN_RELAY_ID_LEN], const uint8_t *acl, size_t acl_len,
		    void *session_user, struct pn_rsession **out)
{
	struct pn_rsession *s;

	if (rc->mode != PN_RCLIENT_CLIENT || !r || !acl || !acl_len || acl_len > PN_RELAY_MAX_ACL ||
	    rc->closing || r->retiring)
		return PN_E_INVAL;
	if (!(s = calloc(1, sizeof(*s))) || !(s->acl = malloc(acl_len))) {
		free(s);
		return -ENOMEM;
	}
	memcpy(s->acl, acl, acl_len);
	s->acl_len = acl_len;
	memcpy(s->peer_id, connector_id, PN_RELAY_ID_LEN);
	s->r = r;
	s->user = session_user;
	s->tag = ++r->next_tag ? r->next_tag : ++r->next_tag; /* tag 0 means "the connection" */
	s->deadline = uv_now(rc->loop) + OPEN_TIMEOUT_MS;
	s->st = SS_PENDING;
	s->next = r->pending;
	if (r->pending)
		r->pending->prev = s;
	r->pending = s;
	if (r->st == PN_RRELAY_READY)
		rc_send_open(s);
	*out = s;
	return 0;
}

int pn_rsession_send(struct pn_rsession *s, const uint8_t *p, size_t n)
{
	struct pn_rrelay *r = s->r;
	struct pn_rclient *rc = r->rc;
	int e;

	if (n == 0 || n > PN_RELAY_MAX_PAYLOAD)
		return PN_E_TOOBIG;
	if (s->st != SS_READY)
		return PN_E_CLOSED;
	if (s->udp) {
		/* Queue (one copy, no allocation); sent at the end of this loop
		 * iteration, batched with whatever else is sent meanwhile. */
		uint8_t *d;
		if (r->ntx == TXQ)
			rc_udp_flush(r);
		d = r->txbuf[r->ntx];
		d[0] = PN_RELAY_UDP_DATA;
		memcpy(d + 1, s->sid, PN_RELAY_SID_LEN);
		memcpy(d + PN_RELAY_DATA_HDR, p, n);
		r->txlen[r->ntx++] = (uint16_t)(PN_RELAY_DATA_HDR + n);
		if (r->ntx == 1)
			uv_idle_start(&r->prep, rc_on_flush_idle);
	} else {
		uint8_t hdr[PN_RELAY_DATA_FRAME_HDR];
		if (!r->s)
			return PN_E_CLOSED;
		pn_relay_data_frame_hdr(hdr, s->sid, n);
		if ((e = pn_rstream_send2(r->s, hdr, sizeof(hdr), p, n, 1))) {
			rc->st.tx_drops++;
			return e;
		}
	}
	rc->st.tx_packets++;
	rc->st.tx_bytes += n;
	return 0;
}

void pn_rsession_close(struct pn_rsession *s)
{
	struct pn_relay_msg m = {.type = PN_RELAY_F_CLOSE, .code = PN_E_CLOSED};

	if (s->st == SS_DEAD)
		return;

	if (s->st == SS_READY) {
		memcpy(m.sid, s->sid, PN_RELAY_SID_LEN);
		rc_send_msg(s->r, &m);
		rc_session_end(s, 0, 0);
		return;
	}
	/* Still opening: forget it; a late OPENED is answered with CLOSE. */
	pending_unlink(s);
	rc_session_free(s);
}

int pn_rsession_ready(const struct pn_rsession *s)
{
	return s->st == SS_READY;
}

void pn_rsession_set_user(struct pn_rsession *s, void *user)
{
	s->user = user;
}
void *pn_rsession_user(const struct pn_rsession *s)
{
	return s->user;
}
struct pn_rrelay *pn_rsession_relay(const struct pn_rsession *s)
{
	return s->r;
}
unsigned pn_rsession_transport(const struct pn_rsession *s)
{
	if (s->udp)
		return PN_RT_UDP;
	return s->r->s_is_ws ? PN_RT_WS : PN_RT_TLS;
}
const uint8_t *pn_rsession_peer_id(const struct pn_rsession *s)
{
	return s->peer_id;
}
const uint8_t *pn_rsession_sid(const struct pn_rsession *s)
{
	return s->sid;
}

struct pn_rsession *rc_pending_by_tag(struct pn_rrelay *r, uint32_t tag)
{
	for (struct pn_rsession *s = r->pending; s; s = s->next)
		if (s->tag == tag)
			return s;
	return NULL;
}

void rc_deliver(struct pn_rsession *s, const uint8_t *p, size_t n)
{
	struct pn_rclient *rc = s->r->rc;

	rc->st.rx_packets++;
	rc->st.rx_bytes += n;
	if (s->path && pn_rpath_input(s->path, p, n))
		return;
	if (rc->ops->datagram)
		rc->ops->datagram(s, p, n, rc->user);
}

int rc_on_opened(struct pn_rrelay *r, struct pn_relay_msg *m, uint64_t now)
{
	struct pn_rsession *s = rc_pending_by_tag(r, m->tag);

	if (!s || s->st != SS_OPENING) {
		/* Abandoned by a local close: release it at the relay. */
		struct pn_relay_msg c = {.type = PN_RELAY_F_CLOSE, .code = PN_E_CLOSED};
		memcpy(c.sid, m->sid, PN_RELAY_SID_LEN);
		rc_send_msg(r, &c);
		return 0;
	}
	pending_unlink(s);
	memcpy(s->sid, m->sid, PN_RELAY_SID_LEN);
	memcpy(s->secret, m->secret, PN_RELAY_SECRET_LEN);
	if (pn_idmap_get(&r->sessions, s->sid) || pn_idmap_put(&r->sessions, s)) {
		s->st = SS_DEAD;
		r->rc->ops->session_ready(s, PN_E_RELAY_PROTOCOL, r->rc->user);
		rc_session_free(s);
		return PN_E_RELAY_PROTOCOL;
	}
	rc_session_ready(s, now);
	r->rc->ops->session_ready(s, 0, r->rc->user);
	return 0;
}

int rc_on_session(struct pn_rrelay *r, struct pn_relay_msg *m, uint64_t now)
{
	struct pn_rsession *s;

	if (r->rc->mode != PN_RCLIENT_CONNECTOR || pn_idmap_get(&r->sessions, m->sid))
		return PN_E_RELAY_PROTOCOL;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->r = r;
	memcpy(s->sid, m->sid, PN_RELAY_SID_LEN);
	memcpy(s->secret, m->secret, PN_RELAY_SECRET_LEN);
	memcpy(s->peer_id, m->id, PN_RELAY_ID_LEN);
	if (pn_idmap_put(&r->sessions, s)) {
		rc_session_free(s);
		return -ENOMEM;
	}
	rc_session_ready(s, now);
	r->rc->ops->session_new(s, m->id, r->rc->user);
	return 0;
}
