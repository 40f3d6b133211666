/*
 * Push channel (see push.h).  Each subscriber is one HTTPS connection in
 * the API server's event loops (http.c: libmicrohttpd with poll and a
 * small thread pool); no thread waits for a subscriber.  The stream's
 * content reader sends what is due and otherwise suspends its connection
 * (it leaves the loop's poll set); one ticker thread resumes a suspended
 * stream when the policy version moves past what it has seen or when its
 * own next deadline (keepalive, re-signing, recycling, credential expiry)
 * comes.  What goes out is the subscriber's complete current state as one
 * server-sent event:
 *
 *   id: <version>
 *   event: policy
 *   data: {"version":..,"acl":..,"client_acls":[..],"revoked":[..],"relays":[..]}
 *
 * Sending complete state (not deltas) makes coalescing and resync trivial:
 * a reconnecting subscriber passes ?since=<last id> and gets the latest
 * state at once if anything changed.  When the subscriber's own credential
 * is revoked (connectors: the store's revoked flag; everyone: its serial in
 * the state's revoked list), the stream sends "event: revoked" and ends; the
 * subscriber stops.  When the credential the stream was opened with merely
 * expires (renewal normally replaced it already; the controller accepts a
 * credential until not_after + PN_TRUST_DEFAULT_SKEW, and so does the
 * stream), the stream sends "event: reconnect" and ends: the subscriber
 * reconnects with its current credential, or is refused (401) if it has no
 * valid one.  The
 * state is re-sent (same version, freshly signed lists) at half the access
 * lists' lifetime so a quiet subscriber never holds an expired list.  After
 * stream_max_s (default PN_PUSH_STREAM_MAX_S) a stream sends "event: reconnect" and ends; the
 * subscriber reconnects at once (and may renew its credential first).
 *
 * The ticker also reads the stored version once a second: the path by which
 * changes committed by another controller process arrive with SQLite, and
 * the fallback behind LISTEN/NOTIFY with PostgreSQL.  One read per second
 * for all streams, not one per stream.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/api.h"
#include "controller/console.h"
#include "controller/mhd_dl.h"
#include "controller/push.h"
#include "controller/push_state.h"
#include "core/err.h"
#include "core/log.h"

#define PUSH_POLL_MS  1000  /* store poll: changes by other controller processes */
#define PUSH_RETRY_MS 1000  /* state could not be built (store away): try again */
#define PUSH_BLOCK    4096  /* write chunk; events are copied out in pieces */
#define PUSH_STATS_MS 60000 /* subscriber count in the log at most this often */
#define PUSH_TICK_MS                                                                               \
	100 /* deadlines (keepalive, re-signing) are served at this grain:                         \
	     * one scan of all streams per tick, not one per deadline */

struct stream;

struct pn_push {
	struct pn_ctl *ctl;
	struct pn_push_snap *snap; /* what every subscriber shares at a version */
	pthread_mutex_t m;	   /* guards everything below and every stream's link fields */
	pthread_cond_t cv;
	pthread_t ticker;
	int ticker_started;
	uint64_t version;
	/* for the metrics: when the version last moved (mono ms), events sent
	 * for a new version and their lag from that moment */
	atomic_int_least64_t version_ms;
	atomic_uint_least64_t events, lag_ms_sum, last_lag_ms;
	int stopping;
	int kick;		/* pn_push_notify since the ticker last looked */
	struct stream *streams; /* every open stream (doubly linked) */
	size_t nstreams, nsuspended;
};

struct stream {
	struct pn_push *p;
	struct MHD_Connection *conn;
	struct stream *prev, *next; /* in p->streams, under p->m */
	int linked, suspended;	    /* under p->m */
	int64_t due_ms;		    /* under p->m: resume at this time */
	uint64_t seen;		    /* under p->m: notification version seen */
	char holder_kind[24], holder_id[40], cred_id[PN_ID_HEX_LEN + 1];
	char fpr[PN_FPR_HEX_LEN + 1], serial[64];
	uint64_t sent;	    /* version sent */
	/* unix s: the credential's not_after + PN_TRUST_DEFAULT_SKEW, the last
	 * second the controller still accepts it (auth.c), so the stream ends
	 * when a reconnect with that credential would be refused */
	uint64_t cred_end;
	char *pending;
	size_t pending_len, pending_off;
	int64_t last_send_ms, last_state_ms, opened_ms, retry_ms;
	int64_t seen_ms; /* presence last noted (console overview) */
	int end;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int store_version(struct pn_store *s, uint64_t *v)
{
	int rc;

	if ((rc = pn_store_read(s)))
		return rc;
	rc = s->ops->version_get(s->be, v);
	pn_store_rollback(s);
	return rc;
}

/* Resume a suspended stream; p->m held. */
static void wake(struct pn_push *p, struct stream *st)
{
	if (!st->suspended)
		return;
	st->suspended = 0;
	p->nsuspended--;
	MHD_resume_connection(st->conn);
}

static void *ticker_main(void *arg)
{
	struct pn_push *p = arg;
	int64_t next_poll = mono_ms() + PUSH_POLL_MS, next_stats = 0;
	size_t last_logged = (size_t)-1;

	pthread_mutex_lock(&p->m);
	while (!p->stopping) {
		int64_t now = mono_ms(), next = next_poll;
		struct timespec ts;

		if (now >= next_poll) {
			uint64_t v = 0;

			/* the store may block (PostgreSQL): never under p->m */
			pthread_mutex_unlock(&p->m);
			if (store_version(p->ctl->store, &v))
				v = 0;
			pthread_mutex_lock(&p->m);
			if (v > p->version) {
				p->version = v;
				atomic_store(&p->version_ms, mono_ms());
			}
			now = mono_ms();
			next_poll = now + PUSH_POLL_MS;
			next = next_poll;
			if (now >= next_stats && p->nstreams != last_logged) {
				PN_LOG_INFO("controller", "push_stats",
					    "subscribers=%zu suspended=%zu", p->nstreams,
					    p->nsuspended);
				last_logged = p->nstreams;
				next_stats = now + PUSH_STATS_MS;
			}
		}
		p->kick = 0;
		for (struct stream *st = p->streams; st; st = st->next) {
			if (!st->suspended)
				continue;
			if (p->version > st->seen || now >= st->due_ms)
				wake(p, st);
			else if (st->due_ms < next)
				next = st->due_ms;
		}
		if (p->kick || p->stopping)
			continue;
		if (next < now + PUSH_TICK_MS)
			next = now + PUSH_TICK_MS;
		ts.tv_sec = next / 1000;
		ts.tv_nsec = (next % 1000) * 1000000;
		pthread_cond_timedwait(&p->cv, &p->m, &ts);
	}
	pthread_mutex_unlock(&p->m);
	return NULL;
}

int pn_push_new(struct pn_ctl *ctl, struct pn_push **out)
{
	struct pn_push *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int rc;

	if (!p)
		return -ENOMEM;
	p->ctl = ctl;
	if (pn_push_snap_new(&p->snap)) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&p->ticker, NULL, ticker_main, p))) {
		pn_push_free(p);
		return -rc;
	}
	p->ticker_started = 1;
	*out = p;
	return 0;
}

void pn_push_shutdown(struct pn_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->m);
	p->stopping = 1;
	/* the HTTP server must not be stopped with suspended connections */
	for (struct stream *st = p->streams; st; st = st->next)
		wake(p, st);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->m);
	if (p->ticker_started) {
		pthread_join(p->ticker, NULL);
		p->ticker_started = 0;
	}
}

void pn_push_free(struct pn_push *p)
{
	if (!p)
		return;
	pn_push_shutdown(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->m);
	pn_push_snap_free(p->snap);
	free(p);
}

void pn_push_notify(struct pn_push *p, uint64_t version)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->m);
	if (version > p->version) {
		p->version = version;
		atomic_store(&p->version_ms, mono_ms());
		p->kick = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->m);
}

void pn_push_stats(struct pn_push *p, struct pn_push_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!p)
		return;
	st->subscribers = pn_push_subscribers(p);
	st->events = atomic_load(&p->events);
	st->lag_ms_sum = atomic_load(&p->lag_ms_sum);
	st->last_lag_ms = atomic_load(&p->last_lag_ms);
}

size_t pn_push_subscribers(struct pn_push *p)
{
	size_t n;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->m);
	n = p->nstreams;
	pthread_mutex_unlock(&p->m);
	return n;
}

/* Not revoked?  Only the revoked flag counts: expiry is not a revocation
 * (it ends the stream with "event: reconnect", see step()). */
static int cred_live(struct stream *st)
{
	struct pn_store *s = st->p->ctl->store;
	json_t *row = NULL;
	int ok = 0;

	if (pn_store_read(s))
		return 1; /* transient: keep the stream, retry next tick */
	if (pn_store_get(s, PN_OBJ_CREDENTIAL, st->serial, &row) == 0)
		ok = !json_integer_value(json_object_get(row, "revoked"));
	pn_store_rollback(s);
	json_decref(row);
	return ok;
}

static int queue_text(struct stream *st, char *text)
{
	free(st->pending);
	st->pending = text;
	st->pending_len = text ? strlen(text) : 0;
	st->pending_off = 0;
	st->last_send_ms = mono_ms();
	return 0;
}

/* Build the next event if the version moved: 1 if something was queued,
 * 0 if nothing was due, <0 if it could not be built (retry later). */
static int make_event(struct stream *st, int force)
{
	struct pn_push_holder h = {st->holder_kind, st->holder_id, st->cred_id, st->fpr,
				   st->serial};
	char *ev = NULL;
	uint64_t v = 0;
	int rc;

	/* Its credential was revoked (connectors: read here; everyone else:
	 * found in the state's revoked list): the stream ends. */
	if (!strcmp(st->holder_kind, "connector") && !cred_live(st)) {
		rc = PN_PUSH_STATE_REVOKED;
	} else {
		rc = pn_push_state_event(st->p->ctl, st->p->snap, &h, st->sent, force, st->seen,
					 &ev, &v);
	}
	if (rc == PN_PUSH_STATE_REVOKED) {
		queue_text(st, strdup("event: revoked\ndata: {}\n\n"));
		st->end = 1;
		return st->pending ? 1 : -ENOMEM;
	}
	if (rc < 0) {
		/* database away: the store logs that (rate-limited); the stream
		 * stays open and the subscriber keeps its current state */
		if (rc != PN_E_STORE_DOWN)
			PN_LOG_WARN("controller", "push_state_failed", "holder=%s err=%s",
				    st->holder_id, pn_errname(rc));
		return rc;
	}
	if (rc == 0)
		return 0;
	if (st->sent && v > st->sent) {
		/* a change reaching a subscriber (not its first state, not a
		 * re-signing): lag from when this controller learnt of it */
		int64_t lag = mono_ms() - atomic_load(&st->p->version_ms);
		uint64_t l = lag > 0 ? (uint64_t)lag : 0;

		atomic_fetch_add(&st->p->events, 1);
		atomic_fetch_add(&st->p->lag_ms_sum, l);
		atomic_store(&st->p->last_lag_ms, l);
	}
	st->sent = v;
	st->last_state_ms = mono_ms();
	queue_text(st, ev);
	return 1;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* When this stream next needs attention without a new version. */
static int64_t next_due(const struct stream *st)
{
	const struct pn_ctl *ctl = st->p->ctl;
	int64_t now = mono_ms(), wall = (int64_t)pn_now(), due;

	due = st->last_send_ms + PN_PUSH_KEEPALIVE_S * 1000;
	due = min64(due, st->last_state_ms + (int64_t)ctl->acl_ttl * 500);
	due = min64(due, st->opened_ms + (int64_t)ctl->stream_max_s * 1000);
	if (st->retry_ms)
		due = min64(due, st->retry_ms);
	/* the credential's own expiry ends the stream ("event: reconnect") */
	due = min64(due, now + ((int64_t)st->cred_end + 1 - wall) * 1000);
	return due;
}

/*
 * Decide what is due now (runs on an HTTP loop thread, may read the store).
 * 1: something was queued or the stream ends; 0: nothing to send.
 */
static int step(struct stream *st, int version_moved)
{
	struct pn_push *p = st->p;
	int64_t now = mono_ms();
	int rc;

	/* An open stream is a live component: the overview's presence is
	 * refreshed while it lasts (we wake at least every keepalive). */
	if (now - st->seen_ms >= PN_CONSOLE_SEEN_EVERY_S * 1000) {
		st->seen_ms = now;
		pn_console_seen_holder(p->ctl, st->holder_kind, st->holder_id);
	}
	/* Streams are recycled so subscribers regularly pass through their
	 * reconnect path (credential renewal, server rebalancing).  The expiry
	 * of the credential the stream was opened with is no revocation: the
	 * subscriber reconnects with its current (renewed) credential. */
	if (now - st->opened_ms >= (int64_t)p->ctl->stream_max_s * 1000 ||
	    (uint64_t)pn_now() > st->cred_end) {
		queue_text(st, strdup("event: reconnect\ndata: {}\n\n"));
		st->end = 1;
		return 1;
	}
	if (version_moved || (st->retry_ms && now >= st->retry_ms) || !st->last_state_ms ||
	    now - st->last_state_ms >= (int64_t)p->ctl->acl_ttl * 500) {
		/* Access lists expire: re-send the same version, freshly signed,
		 * at half their lifetime even when nothing changed.  The first
		 * state always goes out, so a reconnecting subscriber also gets
		 * freshly signed lists. */
		rc = make_event(st, !st->last_state_ms ||
					now - st->last_state_ms >= (int64_t)p->ctl->acl_ttl * 500);
		st->retry_ms = rc < 0 ? now + PUSH_RETRY_MS : 0;
		if (rc > 0)
			return 1;
		if (rc == -ENOMEM) { /* end rather than spin */
			st->end = 1;
			return 1;
		}
	}
	if (now - st->last_send_ms >= PN_PUSH_KEEPALIVE_S * 1000) {
		queue_text(st, strdup(": keepalive\n\n"));
		if (!st->pending)
			st->end = 1;
		return 1;
	}
	return 0;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct pn_push *p = st->p;

	(void)pos;
	for (;;) {
		uint64_t v;

		if (st->pending && st->pending_off < st->pending_len) {
			size_t n = st->pending_len - st->pending_off;

			if (n > max)
				n = max;
			memcpy(buf, st->pending + st->pending_off, n);
			st->pending_off += n;
			return (ssize_t)n;
		}
		if (st->pending) { /* sent in full: give the memory back now */
			free(st->pending);
			st->pending = NULL;
		}
		if (st->end)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&p->m);
		if (p->stopping) {
			pthread_mutex_unlock(&p->m);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		v = p->version;
		if (v <= st->seen && mono_ms() < st->due_ms) {
			/* Nothing due: leave the event loop until the ticker
			 * resumes us (new version or our deadline). */
			st->suspended = 1;
			p->nsuspended++;
			MHD_suspend_connection(st->conn);
			pthread_mutex_unlock(&p->m);
			return 0;
		}
		st->seen = v;
		pthread_mutex_unlock(&p->m);
		if (step(st, v > st->sent) == 0) {
			int64_t due = next_due(st);

			pthread_mutex_lock(&p->m);
			st->due_ms = due;
			pthread_mutex_unlock(&p->m);
		}
		if (!st->pending && !st->end) {
			/* nothing queued: computed due time is in the future
			 * unless the clock moved; loop suspends */
			pthread_mutex_lock(&p->m);
			if (st->due_ms <= mono_ms())
				st->due_ms = mono_ms() + PUSH_RETRY_MS;
			pthread_mutex_unlock(&p->m);
		}
	}
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	struct pn_push *p = st->p;

	pthread_mutex_lock(&p->m);
	if (st->linked) {
		if (st->prev)
			st->prev->next = st->next;
		else
			p->streams = st->next;
		if (st->next)
			st->next->prev = st->prev;
		p->nstreams--;
		if (st->suspended) /* cannot happen: MHD closes no suspended connection */
			p->nsuspended--;
	}
	pthread_mutex_unlock(&p->m);
	free(st->pending);
	free(st);
}

int pn_push_handle_stream(struct pn_req *r)
{
	struct stream *st;
	const char *since = pn_api_query(r, "since");
	uint64_t v = 0, cur = 0;

	if (r->body && json_object_size(r->body))
		return pn_api_error(r, 400, "unknown_field", "no body expected");
	if (since) {
		char *end;

		v = strtoull(since, &end, 10);
		if (!*since || *end)
			return pn_api_error(r, 400, "invalid_query", "since must be an integer");
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return pn_api_error(r, 500, "internal", "out of memory");
	st->p = r->ctl->push;
	snprintf(st->holder_kind, sizeof(st->holder_kind), "%s", r->holder_kind);
	snprintf(st->holder_id, sizeof(st->holder_id), "%s", r->principal_id);
	snprintf(st->serial, sizeof(st->serial), "%s", r->peer_serial);
	pn_id_hex(r->peer.id, st->cred_id);
	pn_fpr_hex(r->peer.key_fpr, st->fpr);
	st->cred_end = r->peer.not_after + PN_TRUST_DEFAULT_SKEW;
	st->sent = v;
	st->last_send_ms = mono_ms();
	st->opened_ms = st->last_send_ms;
	st->seen_ms = st->last_send_ms; /* auth.c noted it just now */
	/* A subscriber ahead of us (restored database): resend from scratch. */
	if (store_version(r->ctl->store, &cur) == 0 && v > cur)
		st->sent = 0;
	r->stream = 1;
	r->stream_ctx = st;
	return 0;
}

struct MHD_Response *pn_push_response(struct pn_req *r)
{
	struct stream *st = r->stream_ctx;
	struct pn_push *p = st->p;
	struct MHD_Response *resp;

	/* Open with a comment so the subscriber sees the channel is up even
	 * when nothing changed since its last version. */
	queue_text(st, strdup(": postern push channel\n\n"));
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, PUSH_BLOCK, reader, st,
						 stream_free);
	if (!resp) {
		stream_free(st);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	st->conn = r->conn;
	pthread_mutex_lock(&p->m);
	st->next = p->streams;
	if (p->streams)
		p->streams->prev = st;
	p->streams = st;
	st->linked = 1;
	p->nstreams++;
	pthread_mutex_unlock(&p->m);
	PN_LOG_INFO("controller", "push_subscribed", "holder=%s kind=%s since=%llu", st->holder_id,
		    st->holder_kind, (unsigned long long)st->sent);
	return resp;
}
