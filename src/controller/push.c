/*
 * Push channel (see push.h).  Each subscriber is one HTTPS connection with
 * its own thread (MHD thread-per-connection); its content-reader callback
 * blocks on a condition variable until the policy version moves past what
 * it has sent, then sends the subscriber's complete current state as one
 * server-sent event:
 *
 *   id: <version>
 *   event: policy
 *   data: {"version":..,"acl":..,"client_acls":[..],"revoked":[..],"relays":[..]}
 *
 * Sending complete state (not deltas) makes coalescing and resync trivial:
 * a reconnecting subscriber passes ?since=<last id> and gets the latest
 * state at once if anything changed.  When the subscriber's own credential
 * is revoked or expires, the stream sends "event: revoked" and ends.  The
 * state is re-sent (same version, freshly signed lists) at half the access
 * lists' lifetime so a quiet subscriber never holds an expired list.  After
 * stream_max_s (default PN_PUSH_STREAM_MAX_S) a stream sends "event: reconnect" and ends; the
 * subscriber reconnects at once (and may renew its credential first).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "controller/api.h"
#include "controller/push.h"
#include "controller/state.h"
#include "core/err.h"
#include "core/log.h"

#define PUSH_POLL_MS 1000   /* store poll: changes by other controller processes */
#define PUSH_BLOCK 16384

struct pn_push {
	struct pn_ctl *ctl;
	pthread_mutex_t m;
	pthread_cond_t cv;
	uint64_t version;
	int stopping;
};

struct stream {
	struct pn_push *p;
	char holder_kind[24], holder_id[40], cred_id[PN_ID_HEX_LEN + 1];
	char fpr[PN_FPR_HEX_LEN + 1], serial[64];
	uint64_t sent, seen; /* version sent; notification version seen */
	char *pending;
	size_t pending_len, pending_off;
	int64_t last_send_ms, last_poll_ms, last_state_ms, opened_ms;
	int end;
};

int pn_push_new(struct pn_ctl *ctl, struct pn_push **out)
{
	struct pn_push *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return -ENOMEM;
	p->ctl = ctl;
	pthread_mutex_init(&p->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = p;
	return 0;
}

void pn_push_shutdown(struct pn_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->m);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->m);
}

void pn_push_free(struct pn_push *p)
{
	if (!p)
		return;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->m);
	free(p);
}

void pn_push_notify(struct pn_push *p, uint64_t version)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->m);
	if (version > p->version)
		p->version = version;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->m);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Still allowed to listen?  Its credential must be unrevoked and unexpired. */
static int cred_live(struct stream *st)
{
	struct pn_store *s = st->p->ctl->store;
	json_t *row = NULL;
	int ok = 0;

	if (pn_store_read(s))
		return 1; /* transient: keep the stream, retry next tick */
	if (pn_store_get(s, PN_OBJ_CREDENTIAL, st->serial, &row) == 0)
		ok = !json_integer_value(json_object_get(row, "revoked")) &&
		     json_integer_value(json_object_get(row, "not_after")) > pn_now();
	pn_store_rollback(s);
	json_decref(row);
	return ok;
}

static int queue_text(struct stream *st, char *text)
{
	free(st->pending);
	st->pending = text;
	st->pending_len = strlen(text);
	st->pending_off = 0;
	st->last_send_ms = mono_ms();
	return 0;
}

/* Build the next event if the version moved; 1 if something was queued. */
static int make_event(struct stream *st, int force)
{
	json_t *state = NULL;
	char *data, *ev;
	uint64_t v;
	int rc;

	if (!cred_live(st)) {
		queue_text(st, strdup("event: revoked\ndata: {}\n\n"));
		st->end = 1;
		return st->pending ? 1 : 0;
	}
	/* Cheap check first: signing lists only when the version moved. */
	if (pn_store_read(st->p->ctl->store) == 0) {
		struct pn_store *s = st->p->ctl->store;

		v = 0;
		rc = s->ops->version_get(s->be, &v);
		pn_store_rollback(s);
		if (!rc && v <= st->sent && !force)
			return 0;
	}
	rc = pn_state_build(st->p->ctl, st->holder_kind, st->holder_id, st->cred_id, st->fpr,
			    &state);
	if (rc) {
		/* database away: the store logs that (rate-limited); the stream
		 * stays open and the subscriber keeps its current state */
		if (rc != PN_E_STORE_DOWN)
			PN_LOG_WARN("controller", "push_state_failed", "holder=%s err=%s",
				    st->holder_id, pn_errname(rc));
		return 0;
	}
	v = (uint64_t)json_integer_value(json_object_get(state, "version"));
	if (v < st->sent || (v == st->sent && !force)) {
		json_decref(state);
		return 0;
	}
	data = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	if (!data)
		return 0;
	if (asprintf(&ev, "id: %llu\nevent: policy\ndata: %s\n\n", (unsigned long long)v, data) <
	    0) {
		free(data);
		return 0;
	}
	free(data);
	st->sent = v;
	st->last_state_ms = mono_ms();
	queue_text(st, ev);
	return 1;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct pn_push *p = st->p;

	for (;;) {
		if (st->pending && st->pending_off < st->pending_len) {
			size_t n = st->pending_len - st->pending_off;

			if (n > max)
				n = max;
			memcpy(buf, st->pending + st->pending_off, n);
			st->pending_off += n;
			return (ssize_t)n;
		}
		if (st->end)
			return MHD_CONTENT_READER_END_OF_STREAM;
		/* Streams are recycled so subscribers regularly pass through
		 * their reconnect path (credential renewal, server rebalancing). */
		if (mono_ms() - st->opened_ms >= (int64_t)p->ctl->stream_max_s * 1000) {
			queue_text(st, strdup("event: reconnect\ndata: {}\n\n"));
			st->end = 1;
			if (st->pending)
				continue;
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		/* Wait for a notification, the poll tick or the keepalive. */
		pthread_mutex_lock(&p->m);
		while (!p->stopping && p->version <= st->seen &&
		       mono_ms() - st->last_poll_ms < PUSH_POLL_MS) {
			struct timespec ts;
			int64_t wake = st->last_poll_ms + PUSH_POLL_MS;

			ts.tv_sec = wake / 1000;
			ts.tv_nsec = (wake % 1000) * 1000000;
			pthread_cond_timedwait(&p->cv, &p->m, &ts);
		}
		if (p->stopping) {
			pthread_mutex_unlock(&p->m);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		st->seen = p->version;
		pthread_mutex_unlock(&p->m);
		st->last_poll_ms = mono_ms();
		/* Access lists expire: re-send the same version, freshly signed,
		 * at half their lifetime even when nothing changed. */
		/* The first state always goes out, so a reconnecting subscriber
		 * also gets freshly signed lists. */
		if (make_event(st, !st->last_state_ms ||
					   st->last_poll_ms - st->last_state_ms >=
						   (int64_t)p->ctl->acl_ttl * 500))
			continue;
		if (mono_ms() - st->last_send_ms >= PN_PUSH_KEEPALIVE_S * 1000)
			queue_text(st, strdup(": keepalive\n\n"));
		if (!st->pending) /* out of memory: end rather than spin */
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	free(st->pending);
	free(st);
}

int pn_push_handle_stream(struct pn_req *r)
{
	struct stream *st;
	const char *since = pn_api_query(r, "since");
	uint64_t v = 0;

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
	st->sent = v;
	st->last_send_ms = mono_ms();
	st->opened_ms = st->last_send_ms;
	st->last_poll_ms = 0; /* first call builds the state at once */
	/* A subscriber ahead of us (restored database): resend from scratch. */
	{
		struct pn_store *s = r->ctl->store;
		uint64_t cur = 0;

		if (pn_store_read(s) == 0) {
			s->ops->version_get(s->be, &cur);
			pn_store_rollback(s);
		}
		if (v > cur)
			st->sent = 0;
	}
	r->stream = 1;
	r->stream_ctx = st;
	return 0;
}

struct MHD_Response *pn_push_response(struct pn_req *r)
{
	struct stream *st = r->stream_ctx;
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
	PN_LOG_INFO("controller", "push_subscribed", "holder=%s kind=%s since=%llu",
		    st->holder_id, st->holder_kind, (unsigned long long)st->sent);
	return resp;
}
