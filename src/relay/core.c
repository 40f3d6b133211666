#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/secret.h"
#include "relay/core.h"
#include "relay/idmap.h"
#include "relay/peerfilter.h"
#include "core/stun.h"
#include "relay/udpmsg.h"

struct pn_relay_session;

/* One side of a session: who it is and where its datagrams go. */
struct side {
	struct pn_relay_peer *peer;	      /* its control stream */
	struct pn_relay_session *next, *prev; /* in peer->sessions */
	uint64_t counter;		      /* last accepted BIND counter */
	struct pn_relay_addr udp;	      /* bound UDP source (family 0: none) */
	uint8_t via_udp;		      /* its latest packet came over UDP */
	uint8_t secret[PN_RELAY_SECRET_LEN];
};

struct pn_relay_session {
	uint8_t sid[PN_RELAY_SID_LEN]; /* idmap key */
	uint64_t last_active_ms;
	struct side side[2]; /* [PN_RELAY_SIDE_CLIENT], [PN_RELAY_SIDE_CONNECTOR] */
};

struct pn_relay_peer {
	uint8_t id[PN_RELAY_ID_LEN]; /* idmap key (connectors' registry) */
	enum pn_relay_role role;
	int registered;
	void *conn;
	struct pn_relay_session *sessions; /* list through side[my side] */
	uint32_t nsessions;
	/* OPEN rate limit: a token bucket refilled max_open_per_sec per second. */
	uint64_t bucket_ms;
	uint32_t tokens;
	uint32_t nheld; /* its OPENs held for an absent connector */
	/* Steering (ops->lane): has sent DATA on its stream; has bound UDP. */
	uint8_t stream_data, udp_bound;
};

/* A client's authorized OPEN waiting for its connector to register. */
struct held_open {
	struct held_open *next, *prev;
	struct pn_relay_peer *cl;
	uint8_t id[PN_RELAY_ID_LEN]; /* the connector */
	uint32_t tag;
	uint64_t deadline_ms;
};

struct pn_relay_core {
	struct pn_relay_limits lim;
	const struct pn_relay_core_ops *ops;
	void *user;
	struct pn_idmap sessions;   /* sid -> session */
	struct pn_idmap connectors; /* id -> registered peer */
	struct pn_relay_stats st;
	uint8_t cookie_key[PN_RELAY_SECRET_LEN]; /* BIND return-routability cookies */
	const struct pn_relay_peerfilter *filter;   /* denied sources; NULL: none */
	struct held_open *held;			    /* oldest first */
	struct held_open *held_tail;
	uint32_t nheld;
};

void pn_relay_addr_from_sa(struct pn_relay_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		a->port = s4->sin_port;
		memcpy(a->ip, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		a->port = s6->sin6_port;
		memcpy(a->ip, &s6->sin6_addr, 16);
	}
}

socklen_t pn_relay_addr_to_sa(const struct pn_relay_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = a->port;
		memcpy(&s4->sin_addr, a->ip, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = a->port;
	memcpy(&s6->sin6_addr, a->ip, 16);
	return sizeof(*s6);
}

void pn_relay_limits_default(struct pn_relay_limits *l)
{
	l->max_sessions = PN_RELAY_MAX_SESSIONS;
	l->max_sessions_per_conn = PN_RELAY_MAX_SESSIONS_PER_CONN;
	l->session_idle_ms = PN_RELAY_SESSION_IDLE_MS;
	l->max_open_per_sec = PN_RELAY_MAX_OPEN_PER_SEC;
	l->keepalive_ms = PN_RELAY_KEEPALIVE_MS;
	l->open_hold_ms = PN_RELAY_OPEN_HOLD_MS;
}

int pn_relay_core_set_limits(struct pn_relay_core *c, const struct pn_relay_limits *lim)
{
	if (!lim->max_sessions || !lim->max_sessions_per_conn)
		return PN_E_INVAL;
	c->lim = *lim;
	return 0;
}

int pn_relay_core_new(const struct pn_relay_limits *lim, const struct pn_relay_core_ops *ops,
		      void *user, struct pn_relay_core **out)
{
	struct pn_relay_core *c;
	int r;

	if (!lim || !ops || !lim->max_sessions || !lim->max_sessions_per_conn)
		return PN_E_INVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->lim = *lim;
	c->ops = ops;
	c->user = user;
	if ((r = pn_random(c->cookie_key, sizeof(c->cookie_key))))
		goto out;
	if ((r = pn_idmap_init(&c->sessions, offsetof(struct pn_relay_session, sid),
			       PN_RELAY_SID_LEN, 64)))
		goto out;
	if ((r = pn_idmap_init(&c->connectors, offsetof(struct pn_relay_peer, id), PN_RELAY_ID_LEN,
			       16)))
		goto out;
	*out = c;
	c = NULL;
out:
	if (c) {
		pn_idmap_fini(&c->sessions);
		free(c);
	}
	return r;
}

static void session_free(struct pn_relay_session *s)
{
	pn_wipe(s, sizeof(*s));
	free(s);
}

static void held_unlink(struct pn_relay_core *c, struct held_open *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		c->held = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		c->held_tail = h->prev;
	h->cl->nheld--;
	c->nheld--;
	free(h);
}

void pn_relay_core_free(struct pn_relay_core *c)
{
	struct pn_relay_session *s;
	size_t pos = 0;

	if (!c)
		return;
	while ((s = pn_idmap_next(&c->sessions, &pos)))
		session_free(s);
	while (c->held)
		held_unlink(c, c->held);
	/* Peers belong to connections; the glue detaches them before this. */
	pn_idmap_fini(&c->sessions);
	pn_idmap_fini(&c->connectors);
	pn_wipe(c->cookie_key, sizeof(c->cookie_key));
	free(c);
}

size_t pn_relay_core_session_size(void)
{
	return sizeof(struct pn_relay_session);
}

const struct pn_relay_stats *pn_relay_core_stats(const struct pn_relay_core *c)
{
	return &c->st;
}

struct pn_relay_stats *pn_relay_core_stats_mut(struct pn_relay_core *c)
{
	return &c->st;
}

/* ---- frames out ---- */

static void send_msg(struct pn_relay_core *c, struct pn_relay_peer *p, const struct pn_relay_msg *m)
{
	uint8_t tmp[PN_RELAY_FRAME_HDR + 128];
	struct pn_buf b;

	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	if (pn_relay_msg_encode(m, &b) == 0 &&
	    c->ops->send_frame(p->conn, tmp, pn_buf_len(&b), c->user))
		c->ops->kick(p->conn, PN_E_CLOSED, c->user);
	pn_wipe(tmp, sizeof(tmp));
}

static void send_error(struct pn_relay_core *c, struct pn_relay_peer *p, uint32_t tag, int code)
{
	struct pn_relay_msg m = {.type = PN_RELAY_F_ERROR, .tag = tag, .code = code};
	send_msg(c, p, &m);
}

/* ---- sessions ---- */

static void link_side(struct pn_relay_session *s, int k, struct pn_relay_peer *p)
{
	struct side *sd = &s->side[k];

	sd->peer = p;
	sd->prev = NULL;
	sd->next = p->sessions;
	if (p->sessions)
		p->sessions->side[k].prev = s;
	p->sessions = s;
	p->nsessions++;
}

static int side_of(const struct pn_relay_peer *p)
{
	return p->role == PN_RELAY_ROLE_CLIENT ? PN_RELAY_SIDE_CLIENT : PN_RELAY_SIDE_CONNECTOR;
}

static void unlink_side(struct pn_relay_session *s, int k)
{
	struct side *sd = &s->side[k];
	struct pn_relay_peer *p = sd->peer;

	if (!p)
		return;
	if (sd->prev)
		sd->prev->side[k].next = sd->next;
	else
		p->sessions = sd->next;
	if (sd->next)
		sd->next->side[k].prev = sd->prev;
	p->nsessions--;
	sd->peer = NULL;
}

/* End a session; tell the sides other than `quiet` (which already knows). */
static void session_close(struct pn_relay_core *c, struct pn_relay_session *s, int reason,
			  const struct pn_relay_peer *quiet)
{
	struct pn_relay_msg m = {.type = PN_RELAY_F_CLOSE, .code = reason};

	memcpy(m.sid, s->sid, PN_RELAY_SID_LEN);
	for (int k = 0; k < 2; k++) {
		struct pn_relay_peer *p = s->side[k].peer;
		unlink_side(s, k);
		if (p && p != quiet)
			send_msg(c, p, &m);
	}
	pn_idmap_del(&c->sessions, s);
	c->st.sessions--;
	c->st.sessions_closed++;
	session_free(s);
}

/* The glue steers a session's UDP by sid[7] % nlanes (ops->lane): make it
 * the lane of p's stream, keeping the rest of the byte random. */
static void sid_steer(struct pn_relay_core *c, uint8_t sid[PN_RELAY_SID_LEN],
		      const struct pn_relay_peer *p)
{
	unsigned lane, n, v = sid[PN_RELAY_SID_LEN - 1];

	if (!c->ops->lane || c->ops->lane(p->conn, &lane, &n, c->user) || n < 2 || n > 256 ||
	    lane >= n)
		return;
	v = v - v % n + lane;
	if (v > 255)
		v -= n;
	sid[PN_RELAY_SID_LEN - 1] = (uint8_t)v;
}

static int session_open(struct pn_relay_core *c, struct pn_relay_peer *cl, struct pn_relay_peer *co,
			uint32_t tag, uint64_t now)
{
	struct pn_relay_session *s;
	struct pn_relay_msg m;
	int r;

	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	/* Random, unique session id; a collision in 64 bits is just retried. */
	do {
		if ((r = pn_random(s->sid, sizeof(s->sid))))
			goto out;
		sid_steer(c, s->sid, co->stream_data && !co->udp_bound ? co : cl);
	} while (pn_idmap_get(&c->sessions, s->sid));
	if ((r = pn_random(s->side[0].secret, PN_RELAY_SECRET_LEN)) ||
	    (r = pn_random(s->side[1].secret, PN_RELAY_SECRET_LEN)))
		goto out;
	s->last_active_ms = now;
	if ((r = pn_idmap_put(&c->sessions, s)))
		goto out;
	link_side(s, PN_RELAY_SIDE_CLIENT, cl);
	link_side(s, PN_RELAY_SIDE_CONNECTOR, co);
	c->st.sessions++;
	c->st.sessions_opened++;

	memset(&m, 0, sizeof(m));
	m.type = PN_RELAY_F_SESSION;
	memcpy(m.sid, s->sid, PN_RELAY_SID_LEN);
	memcpy(m.id, cl->id, PN_RELAY_ID_LEN);
	memcpy(m.secret, s->side[PN_RELAY_SIDE_CONNECTOR].secret, PN_RELAY_SECRET_LEN);
	m.idle_ms = c->lim.session_idle_ms;
	send_msg(c, co, &m);
	m.type = PN_RELAY_F_OPENED;
	m.tag = tag;
	memset(m.id, 0, sizeof(m.id));
	memcpy(m.secret, s->side[PN_RELAY_SIDE_CLIENT].secret, PN_RELAY_SECRET_LEN);
	send_msg(c, cl, &m);
	pn_wipe(&m, sizeof(m));
	s = NULL;
out:
	if (s)
		session_free(s);
	return r;
}

/* ---- peers ---- */

struct pn_relay_peer *pn_relay_core_attach(struct pn_relay_core *c, void *conn,
					   enum pn_relay_role role,
					   const uint8_t id[PN_RELAY_ID_LEN])
{
	struct pn_relay_peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	memcpy(p->id, id, PN_RELAY_ID_LEN);
	p->role = role;
	p->conn = conn;
	p->tokens = c->lim.max_open_per_sec;
	c->st.peers++;
	return p;
}

void pn_relay_core_detach(struct pn_relay_core *c, struct pn_relay_peer *p)
{
	if (!p)
		return;
	while (p->sessions)
		session_close(c, p->sessions, PN_E_CLOSED, p);
	for (struct held_open *h = c->held, *next; p->nheld && h; h = next) {
		next = h->next;
		if (h->cl == p)
			held_unlink(c, h);
	}
	if (p->registered) {
		pn_idmap_del(&c->connectors, p);
		c->st.connectors--;
	}
	c->st.peers--;
	free(p);
}

static int open_checked(struct pn_relay_core *c, struct pn_relay_peer *p,
			struct pn_relay_peer *co, uint32_t tag, uint64_t now);

/* Connector p just registered: the OPENs held for it become sessions. */
static void serve_held(struct pn_relay_core *c, struct pn_relay_peer *p, uint64_t now)
{
	for (struct held_open *h = c->held, *next; h; h = next) {
		struct pn_relay_peer *cl = h->cl;
		uint32_t tag = h->tag;

		next = h->next;
		if (memcmp(h->id, p->id, PN_RELAY_ID_LEN))
			continue;
		held_unlink(c, h);
		open_checked(c, cl, p, tag, now);
		/* a failed send kicks through the glue, never synchronously:
		 * the list stays intact */
	}
}

static int on_register(struct pn_relay_core *c, struct pn_relay_peer *p, uint64_t now)
{
	struct pn_relay_msg m = {.type = PN_RELAY_F_REGISTERED,
				 .keepalive_ms = c->lim.keepalive_ms,
				 .idle_ms = c->lim.session_idle_ms};
	struct pn_relay_peer *old;
	int r;

	if (p->role != PN_RELAY_ROLE_CONNECTOR) {
		send_error(c, p, 0, PN_E_RELAY_BAD_ROLE);
		return 0;
	}
	if (!p->registered) {
		/* One registration per connector id: the newest connection wins
		 * (the old one is usually a dead TCP connection not yet noticed). */
		if ((old = pn_idmap_get(&c->connectors, p->id))) {
			pn_idmap_del(&c->connectors, old);
			old->registered = 0;
			c->st.connectors--;
			c->ops->kick(old->conn, PN_E_RELAY_REPLACED, c->user);
		}
		if ((r = pn_idmap_put(&c->connectors, p)))
			return r;
		p->registered = 1;
		c->st.connectors++;
		send_msg(c, p, &m);
		if (c->nheld)
			serve_held(c, p, now);
		return 0;
	}
	send_msg(c, p, &m);
	return 0;
}

static int take_token(struct pn_relay_core *c, struct pn_relay_peer *p, uint64_t now)
{
	uint64_t el = now - p->bucket_ms;

	if (el >= 1000 || p->bucket_ms == 0) {
		p->tokens = c->lim.max_open_per_sec;
		p->bucket_ms = now;
	}
	if (!p->tokens)
		return 0;
	p->tokens--;
	return 1;
}

static int on_open(struct pn_relay_core *c, struct pn_relay_peer *p, const struct pn_relay_msg *m,
		   uint64_t now)
{
	struct pn_relay_peer *co;
	int r;

	if (p->role != PN_RELAY_ROLE_CLIENT) {
		r = PN_E_RELAY_BAD_ROLE;
		goto deny;
	}
	/* Limits first: they cost nothing, signature checks do. */
	if (!take_token(c, p, now) || p->nsessions >= c->lim.max_sessions_per_conn ||
	    c->st.sessions >= c->lim.max_sessions) {
		r = PN_E_RELAY_LIMIT;
		goto deny;
	}
	if ((r = c->ops->authorize(p->conn, m->id, m->acl, m->acl_len, now, c->user)))
		goto deny;
	if (!(co = pn_idmap_get(&c->connectors, m->id))) {
		/* Not registered (yet): a connector started with the client is
		 * usually a few milliseconds away.  Hold the OPEN, bounded per
		 * connection and overall, instead of sending the client into its
		 * retry backoff. */
		if (c->lim.open_hold_ms && p->nheld < PN_RELAY_MAX_HELD_PER_CONN &&
		    c->nheld < c->lim.max_sessions) {
			struct held_open *h = calloc(1, sizeof(*h));

			if (h) {
				h->cl = p;
				h->tag = m->tag;
				memcpy(h->id, m->id, PN_RELAY_ID_LEN);
				h->deadline_ms = now + c->lim.open_hold_ms;
				h->prev = c->held_tail;
				if (c->held_tail)
					c->held_tail->next = h;
				else
					c->held = h;
				c->held_tail = h;
				p->nheld++;
				c->nheld++;
				c->st.opens_held++;
				return 0;
			}
		}
		r = PN_E_RELAY_NO_CONNECTOR;
		goto deny;
	}
	return open_checked(c, p, co, m->tag, now);
deny:
	c->st.opens_denied++;
	send_error(c, p, m->tag, r);
	return 0;
}

/* An authorized OPEN from p for registered connector co: a session, or
 * ERROR to p.  Always 0 (refusals are answers). */
static int open_checked(struct pn_relay_core *c, struct pn_relay_peer *p,
			struct pn_relay_peer *co, uint32_t tag, uint64_t now)
{
	int r;

	/* A connector whose credential expired (not re-presented) takes no
	 * new sessions; it still holds the registration until it reconnects. */
	if (c->ops->connector_valid && c->ops->connector_valid(co->conn, c->user))
		r = PN_E_RELAY_NO_CONNECTOR;
	else if (p->nsessions >= c->lim.max_sessions_per_conn || c->st.sessions >= c->lim.max_sessions)
		r = PN_E_RELAY_LIMIT; /* checked again: a held OPEN may meet a full relay */
	else if ((r = session_open(c, p, co, tag, now)) == 0)
		return 0;
	c->st.opens_denied++;
	send_error(c, p, tag, r);
	return 0;
}

/* Forward a payload from side k of s to the other side. */
static void forward(struct pn_relay_core *c, struct pn_relay_session *s, int k,
		    const uint8_t *payload, size_t n, uint64_t now, struct pn_relay_route *rt)
{
	struct side *o = &s->side[!k];

	s->last_active_ms = now;
	if (o->via_udp && o->udp.family) {
		rt->kind = PN_RELAY_ROUTE_UDP;
		rt->to = o->udp;
	} else if (o->peer) {
		rt->kind = PN_RELAY_ROUTE_STREAM;
		rt->conn = o->peer->conn;
	} else {
		rt->kind = PN_RELAY_ROUTE_DROP;
		c->st.drop_no_session++;
		return;
	}
	(void)payload;
	c->st.fwd_pkts++;
	c->st.fwd_bytes += n;
}

static int on_data(struct pn_relay_core *c, struct pn_relay_peer *p, const struct pn_relay_msg *m,
		   uint64_t now)
{
	struct pn_relay_session *s = pn_idmap_get(&c->sessions, m->sid);
	struct pn_relay_route rt;
	int k = side_of(p);

	/* Only a side of the session may send on it; anything else is a stale
	 * session after a close race: drop quietly. */
	if (!s || s->side[k].peer != p) {
		c->st.drop_no_session++;
		return 0;
	}
	s->side[k].via_udp = 0;
	p->stream_data = 1;
	forward(c, s, k, m->payload, m->payload_len, now, &rt);
	if (rt.kind == PN_RELAY_ROUTE_UDP) {
		/* static: the glue may hold the iovecs until its batch ends */
		static const uint8_t type = PN_RELAY_UDP_DATA;
		struct iovec iov[2] = {
		    {(void *)&type, 1},
		    {(void *)(m->payload - PN_RELAY_SID_LEN), PN_RELAY_SID_LEN + m->payload_len}};
		c->ops->send_udp(&rt.to, iov, 2, c->user);
	} else if (rt.kind == PN_RELAY_ROUTE_STREAM) {
		uint8_t hdr[PN_RELAY_DATA_FRAME_HDR];
		pn_relay_data_frame_hdr(hdr, m->sid, m->payload_len);
		if (c->ops->send_data(rt.conn, hdr, sizeof(hdr), m->payload, m->payload_len,
				      c->user))
			c->st.drop_queue++;
	}
	return 0;
}

int pn_relay_core_frame(struct pn_relay_core *c, struct pn_relay_peer *p,
			const struct pn_relay_frame *f, uint64_t now_ms)
{
	struct pn_relay_msg m;
	struct pn_relay_session *s;
	int r;

	if ((r = pn_relay_msg_decode(f, &m)))
		return r;
	switch (m.type) {
	case PN_RELAY_F_REGISTER: return on_register(c, p, now_ms);
	case PN_RELAY_F_OPEN: return on_open(c, p, &m, now_ms);
	case PN_RELAY_F_DATA: return on_data(c, p, &m, now_ms);
	case PN_RELAY_F_CLOSE:
		s = pn_idmap_get(&c->sessions, m.sid);
		if (s && s->side[side_of(p)].peer == p)
			session_close(c, s, PN_E_CLOSED, p);
		return 0;
	case PN_RELAY_F_PING:
		m.type = PN_RELAY_F_PONG;
		send_msg(c, p, &m);
		return 0;
	case PN_RELAY_F_PONG: return 0;
	case PN_RELAY_F_RENEW: {
		uint64_t not_after = 0;

		/* A signature check each: same budget as OPEN (renewals are rare). */
		if (!take_token(c, p, now_ms)) {
			send_error(c, p, 0, PN_E_RELAY_LIMIT);
			return 0;
		}
		r = c->ops->renew ? c->ops->renew(p->conn, m.cert, m.cert_len, &not_after, c->user)
				  : PN_E_RELAY_PROTOCOL;
		if (r) {
			/* Refused: say why, then the connection ends (a peer that
			 * presents someone else's credential is not kept). */
			send_error(c, p, 0, r);
			c->ops->kick(p->conn, r, c->user);
			return 0;
		}
		m.type = PN_RELAY_F_RENEWED;
		m.not_after = not_after;
		send_msg(c, p, &m);
		return 0;
	}
	default:
		/* REGISTERED, OPENED, SESSION, ERROR, RENEWED flow relay -> peer only. */
		return PN_E_RELAY_PROTOCOL;
	}
}

/* ---- UDP ---- */

static void bind_ok(struct pn_relay_core *c, struct pn_relay_session *s, int k,
		    const struct pn_relay_addr *from, uint64_t counter, uint64_t now,
		    uint8_t *reply, struct pn_relay_route *rt)
{
	s->side[k].counter = counter;
	s->side[k].udp = *from;
	s->side[k].via_udp = 1;
	if (s->side[k].peer)
		s->side[k].peer->udp_bound = 1;
	s->last_active_ms = now;
	c->st.binds_ok++;
	pn_relay_bind_ok_encode(reply, s->sid, counter);
	rt->kind = PN_RELAY_ROUTE_REPLY;
	rt->reply_len = PN_RELAY_BIND_OK_LEN;
}

static void on_bind(struct pn_relay_core *c, const struct pn_relay_addr *from, const uint8_t *p,
		    uint64_t now, uint8_t *reply, struct pn_relay_route *rt)
{
	struct pn_relay_session *s = pn_idmap_get(&c->sessions, pn_relay_udp_sid(p));
	uint8_t cookie[PN_RELAY_COOKIE_LEN];
	uint64_t counter;
	uint8_t k;

	pn_relay_bind_fields(p, &k, &counter);
	/* Unknown session, bad side, replayed counter or bad MAC: silent drop,
	 * so a scanner learns nothing and gets no bytes. */
	if (!s || k > 1 || counter <= s->side[k].counter ||
	    pn_relay_bind_verify(p, s->side[k].secret)) {
		c->st.binds_bad++;
		return;
	}
	/* Same address: a keepalive, refresh at once. */
	if (s->side[k].udp.family && pn_relay_addr_eq(&s->side[k].udp, from)) {
		bind_ok(c, s, k, from, counter, now, reply, rt);
		return;
	}
	/* A new address must show it receives there: answer with a cookie
	 * (stateless, smaller than the BIND) and bind only on CONFIRM. */
	pn_relay_cookie(c->cookie_key, s->sid, k, counter, from, sizeof(*from), cookie);
	pn_relay_challenge_encode(reply, s->sid, counter, cookie);
	c->st.binds_challenged++;
	rt->kind = PN_RELAY_ROUTE_REPLY;
	rt->reply_len = PN_RELAY_CHALLENGE_LEN;
}

static void on_confirm(struct pn_relay_core *c, const struct pn_relay_addr *from, const uint8_t *p,
		       uint64_t now, uint8_t *reply, struct pn_relay_route *rt)
{
	struct pn_relay_session *s = pn_idmap_get(&c->sessions, pn_relay_udp_sid(p));
	uint8_t want[PN_RELAY_COOKIE_LEN];
	const uint8_t *cookie;
	uint64_t counter;
	uint8_t k;

	pn_relay_confirm_fields(p, &k, &counter, &cookie);
	if (!s || k > 1 || counter <= s->side[k].counter ||
	    pn_relay_confirm_verify(p, s->side[k].secret)) {
		c->st.binds_bad++;
		return;
	}
	/* The cookie was made for this source address: it came back from there. */
	pn_relay_cookie(c->cookie_key, s->sid, k, counter, from, sizeof(*from), want);
	if (pn_ct_memcmp(want, cookie, PN_RELAY_COOKIE_LEN)) {
		c->st.binds_bad++;
		return;
	}
	bind_ok(c, s, k, from, counter, now, reply, rt);
}

void pn_relay_core_udp(struct pn_relay_core *c, const struct pn_relay_addr *from,
		       const struct sockaddr *from_sa, const uint8_t *p, size_t n, uint64_t now_ms,
		       uint8_t reply[PN_RELAY_REPLY_MAX], struct pn_relay_route *rt)
{
	struct pn_relay_session *s;
	uint8_t txid[PN_STUN_TXID_LEN];
	int kind, fpr, k;

	rt->kind = PN_RELAY_ROUTE_DROP;
	c->st.udp_rx_pkts++;
	c->st.udp_rx_bytes += n;
	kind = pn_relay_udp_classify(p, n);
	/* Whatever is answered goes to the (spoofable) source: never to a
	 * denied address.  DATA needs no check: it is accepted only from, and
	 * forwarded only to, addresses bound below. */
	if (kind != PN_RELAY_KIND_DATA && c->filter && pn_relay_peer_denied(c->filter, from)) {
		c->st.drop_denied++;
		return;
	}
	switch (kind) {
	case PN_RELAY_KIND_DATA:
		s = pn_idmap_get(&c->sessions, pn_relay_udp_sid(p));
		if (!s) {
			c->st.drop_no_session++;
			return;
		}
		/* The source must be the address that proved this side's secret. */
		if (s->side[0].udp.family && pn_relay_addr_eq(&s->side[0].udp, from))
			k = 0;
		else if (s->side[1].udp.family && pn_relay_addr_eq(&s->side[1].udp, from))
			k = 1;
		else {
			c->st.drop_addr++;
			return;
		}
		s->side[k].via_udp = 1;
		forward(c, s, k, p + PN_RELAY_DATA_HDR, n - PN_RELAY_DATA_HDR, now_ms, rt);
		return;
	case PN_RELAY_KIND_BIND: on_bind(c, from, p, now_ms, reply, rt); return;
	case PN_RELAY_KIND_CONFIRM: on_confirm(c, from, p, now_ms, reply, rt); return;
	case PN_RELAY_KIND_STUN:
		if (pn_stun_parse_request(p, n, txid, &fpr)) {
			c->st.drop_malformed++;
			return;
		}
		/* No amplification: the answer must fit in the request's size. */
		if (pn_stun_build_response(txid, from_sa, fpr, reply,
					   n < PN_RELAY_REPLY_MAX ? n : PN_RELAY_REPLY_MAX,
					   &rt->reply_len)) {
			c->st.drop_amplification++;
			return;
		}
		c->st.stun++;
		rt->kind = PN_RELAY_ROUTE_REPLY;
		return;
	default: /* BIND_OK is relay -> peer only; garbage */ c->st.drop_malformed++; return;
	}
}

void pn_relay_core_set_peerfilter(struct pn_relay_core *c, const struct pn_relay_peerfilter *f)
{
	c->filter = f;
}

size_t pn_relay_core_tick(struct pn_relay_core *c, uint64_t now_ms)
{
	struct pn_relay_session *s;
	size_t pos = 0, n = 0;

	while ((s = pn_idmap_next(&c->sessions, &pos))) {
		/* Workers' loops read the clock at different moments: a session
		 * touched "after" now_ms is active, not 2^64 ms idle. */
		if (now_ms <= s->last_active_ms || now_ms - s->last_active_ms < c->lim.session_idle_ms)
			continue;
		session_close(c, s, PN_E_TIMEOUT, NULL);
		/* Backward-shift may have moved a later entry into this slot. */
		pos--;
		n++;
	}
	/* Held OPENs whose connector did not come: refused as without a hold. */
	for (struct held_open *h = c->held, *next; h; h = next) {
		struct pn_relay_peer *cl = h->cl;
		uint32_t tag = h->tag;

		next = h->next;
		if (h->deadline_ms > now_ms)
			continue;
		held_unlink(c, h);
		c->st.opens_denied++;
		send_error(c, cl, tag, PN_E_RELAY_NO_CONNECTOR);
	}
	return n;
}
