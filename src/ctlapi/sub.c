/*
 * Push-channel subscription: a background thread holds a server-sent-events
 * stream (GET /v1/ctl/stream?since=V, mutual TLS), parses events, saves
 * acl.bin / relays.json, and queues decoded events for the caller's libuv
 * loop (uv_async).  Reconnects with jittered exponential backoff; a dead
 * connection is noticed by the controller's 10 s keepalive stopping (no
 * byte for 30 s aborts the transfer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/ctlapi_int.h"
#include "ctlapi/sse.h"

#define SSE_EVENT_MAX (32u << 20) /* one event's data: bounded */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
/* 503: the controller answers but its store is down; it will be back as
 * soon as the store is, so retry at a steady pace instead of backing off. */
#define BACKOFF_503_MAX_MS 2000
#define STALL_S 30

struct item {
	struct item *next;
	struct pn_ctlapi_event ev;
	uint8_t *acl;
	struct pn_ctlapi_client_acl *cacls;
	struct pn_ctlapi_revocation *rev;
	char *relays;
};

struct pn_ctlapi_sub {
	struct pn_ctlapi *c;
	uv_loop_t *loop;
	uv_async_t async;
	pn_ctlapi_event_cb cb;
	void *arg;
	void (*closed)(void *arg);
	pthread_t th;
	pthread_mutex_t m;
	pthread_cond_t cv;
	int stop, revoked, thread_started;
	int reconnect; /* the controller ended the stream on purpose */
	int quiet;     /* the current connection follows a planned recycle */
	struct item *head, *tail;
	uint64_t version;
	/* stream state (subscription thread only) */
	struct pn_sse sse;
	long status;
	int got_data;
	CURL *h;
};

static void item_free(struct item *it)
{
	if (!it)
		return;
	free(it->acl);
	for (size_t i = 0; it->cacls && i < it->ev.n_client_acls; i++)
		free((void *)it->cacls[i].acl);
	free(it->cacls);
	free(it->rev);
	free(it->relays);
	free(it);
}

static void enqueue(struct pn_ctlapi_sub *s, struct item *it)
{
	pthread_mutex_lock(&s->m);
	if (s->tail)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	pthread_mutex_unlock(&s->m);
	uv_async_send(&s->async);
}

static void simple_event(struct pn_ctlapi_sub *s, enum pn_ctlapi_event_kind kind)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it)
		return;
	it->ev.kind = kind;
	it->ev.version = s->version;
	enqueue(s, it);
}

/* Decode one "policy" event's JSON into a queue item. */
static struct item *decode_policy(const json_t *st)
{
	struct item *it = calloc(1, sizeof(*it));
	json_t *arr, *e;
	const char *acl;
	size_t i;

	if (!it)
		return NULL;
	it->ev.kind = PN_CTLAPI_EV_POLICY;
	it->ev.version = (uint64_t)json_integer_value(json_object_get(st, "version"));
	acl = json_string_value(json_object_get(st, "acl"));
	if (acl && pn_ctlapi_b64_decode(acl, &it->acl, &it->ev.acl_len))
		goto fail;
	it->ev.acl = it->acl;
	arr = json_object_get(st, "client_acls");
	if (json_array_size(arr)) {
		it->cacls = calloc(json_array_size(arr), sizeof(*it->cacls));
		if (!it->cacls)
			goto fail;
		json_array_foreach(arr, i, e) {
			const char *id = json_string_value(json_object_get(e, "client_id"));
			const char *a = json_string_value(json_object_get(e, "acl"));
			uint8_t *bytes = NULL;

			if (!id || !a || strlen(id) > PN_CTLAPI_ID_HEX ||
			    pn_ctlapi_b64_decode(a, &bytes, &it->cacls[i].acl_len))
				goto fail;
			snprintf(it->cacls[i].client_id, sizeof(it->cacls[i].client_id), "%s", id);
			it->cacls[i].acl = bytes;
			it->ev.n_client_acls = i + 1;
		}
		it->ev.client_acls = it->cacls;
	}
	arr = json_object_get(st, "revoked");
	if (json_array_size(arr)) {
		it->rev = calloc(json_array_size(arr), sizeof(*it->rev));
		if (!it->rev)
			goto fail;
		json_array_foreach(arr, i, e) {
			const char *serial = json_string_value(json_object_get(e, "serial"));
			const char *cid = json_string_value(json_object_get(e, "cred_id"));

			snprintf(it->rev[i].serial, sizeof(it->rev[i].serial), "%s",
				 serial ? serial : "");
			snprintf(it->rev[i].holder_id, sizeof(it->rev[i].holder_id), "%s",
				 cid ? cid : "");
		}
		it->ev.revoked = it->rev;
		it->ev.n_revoked = json_array_size(arr);
	}
	if (json_object_get(st, "relays")) {
		it->relays = json_dumps(json_object_get(st, "relays"), JSON_COMPACT);
	} else { /* none sent: an empty list (a new reference, freed here) */
		json_t *none = json_array();

		it->relays = none ? json_dumps(none, JSON_COMPACT) : NULL;
		json_decref(none);
	}
	if (!it->relays)
		goto fail;
	it->ev.relays_json = it->relays;
	return it;
fail:
	item_free(it);
	return NULL;
}

int pn_ctlapi_policy_decode(const char *data, size_t len, pn_ctlapi_event_cb cb, void *arg)
{
	json_t *st = json_loadb(data, len, 0, NULL);
	struct item *it = st ? decode_policy(st) : NULL;

	json_decref(st);
	if (!it)
		return PN_E_MALFORMED;
	cb(&it->ev, arg);
	item_free(it);
	return 0;
}

static int on_sse_event(const char *event, const char *data, size_t len, void *arg)
{
	struct pn_ctlapi_sub *s = arg;

	if (!strcmp(event, "revoked")) {
		PN_LOG_WARN("ctlapi", "credential_revoked", "id=%s", s->c->id);
		s->revoked = 1;
		return 1; /* stop: the stream is over for good */
	}
	if (!strcmp(event, "reconnect")) {
		s->reconnect = 1;
		return 1; /* planned end of stream: reconnect at once */
	}
	if (!strcmp(event, "policy")) {
		json_t *st = json_loadb(data, len, 0, NULL);
		struct item *it = st ? decode_policy(st) : NULL;

		/* equal version: the same policy re-signed with a later expiry */
		if (it && it->ev.version >= s->version) {
			if (pn_ctlapi_save_state(s->c->dir, st))
				PN_LOG_WARN("ctlapi", "state_save_failed", "dir=%s", s->c->dir);
			s->version = it->ev.version;
			enqueue(s, it);
		} else {
			if (!it)
				PN_LOG_WARN("ctlapi", "bad_event", "len=%zu", len);
			item_free(it);
		}
		json_decref(st);
	}
	return 0;
}

static size_t on_sse(char *p, size_t size, size_t nmemb, void *arg)
{
	struct pn_ctlapi_sub *s = arg;
	size_t n = size * nmemb;

	if (!s->got_data) {
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
		if (s->status != 200)
			return 0;
		s->got_data = 1;
		if (!s->quiet)
			simple_event(s, PN_CTLAPI_EV_CONNECTED);
	}
	/* any parser error (oversized event, no memory) or a revocation
	 * aborts the transfer */
	return pn_sse_feed(&s->sse, p, n, on_sse_event, s) ? 0 : n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct pn_ctlapi_sub *s = arg;
	int stop;

	pthread_mutex_lock(&s->m);
	stop = s->stop;
	pthread_mutex_unlock(&s->m);
	return stop; /* nonzero aborts the transfer */
}

static void *run(void *arg)
{
	struct pn_ctlapi_sub *s = arg;
	unsigned backoff = BACKOFF_MIN_MS;

	for (;;) {
		char url[PN_CTLAPI_URL_MAX + 64];
		struct pn_xfer x;
		uint32_t jitter = 0;
		struct timespec ts;
		int stop;

		pthread_mutex_lock(&s->m);
		stop = s->stop;
		pthread_mutex_unlock(&s->m);
		if (stop || s->revoked)
			break;
		s->quiet = s->reconnect;
		s->reconnect = 0;
		snprintf(url, sizeof(url), "%s/v1/ctl/stream?since=%llu", s->c->url,
			 (unsigned long long)s->version);
		pn_ctlapi_xfer_init(s->c, &x, url, "GET");
		/* libcurl missing: logged, retried after the backoff */
		if (pn_curl_easy_open("ctlapi", &s->h) == 0) {
			pn_xfer_setup_tls(s->h, &x);
			curl_easy_setopt(s->h, CURLOPT_URL, url);
			curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, 10L);
			curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_sse);
			curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
			curl_easy_setopt(s->h, CURLOPT_NOPROGRESS, 0L);
			curl_easy_setopt(s->h, CURLOPT_XFERINFOFUNCTION, on_progress);
			curl_easy_setopt(s->h, CURLOPT_XFERINFODATA, s);
			curl_easy_setopt(s->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
			curl_easy_setopt(s->h, CURLOPT_LOW_SPEED_TIME, (long)STALL_S);
			s->got_data = 0;
			s->status = 0;
			pn_sse_reset(&s->sse);
			curl_easy_perform(s->h);
			if (!s->got_data)
				curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
			curl_easy_cleanup(s->h);
			s->h = NULL;
		}
		if (s->revoked) {
			simple_event(s, PN_CTLAPI_EV_REVOKED);
			break;
		}
		if (s->reconnect) {
			backoff = BACKOFF_MIN_MS;
			continue; /* planned: no event, no wait */
		}
		if (s->got_data) {
			backoff = BACKOFF_MIN_MS;
			simple_event(s, PN_CTLAPI_EV_DISCONNECTED);
		} else if (s->status) {
			PN_LOG_WARN("ctlapi", "stream_refused", "status=%ld", s->status);
		}
		pn_random(&jitter, sizeof(jitter));
		{
			int64_t ms = backoff / 2 + jitter % (backoff / 2 + 1);
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += ms / 1000;
			ts.tv_nsec += (ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
		}
		pthread_mutex_lock(&s->m);
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->m, &ts) == 0)
			;
		pthread_mutex_unlock(&s->m);
		{
			unsigned cap = s->status == 503 ? BACKOFF_503_MAX_MS : BACKOFF_MAX_MS;
			backoff = backoff * 2 > cap ? cap : backoff * 2;
		}
	}
	return NULL;
}

static void on_async(uv_async_t *a)
{
	struct pn_ctlapi_sub *s = a->data;
	struct item *list;

	pthread_mutex_lock(&s->m);
	list = s->head;
	s->head = s->tail = NULL;
	pthread_mutex_unlock(&s->m);
	while (list) {
		struct item *next = list->next;

		s->cb(&list->ev, s->arg);
		item_free(list);
		list = next;
	}
}

int pn_ctlapi_subscribe(struct pn_ctlapi *c, uv_loop_t *loop, pn_ctlapi_event_cb cb, void *arg,
			struct pn_ctlapi_sub **out)
{
	struct pn_ctlapi_sub *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (!s)
		return -ENOMEM;
	s->c = c;
	pn_sse_init(&s->sse, SSE_EVENT_MAX);
	s->loop = loop;
	s->cb = cb;
	s->arg = arg;
	pthread_mutex_init(&s->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = uv_async_init(loop, &s->async, on_async))) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->m);
		free(s);
		return rc;
	}
	s->async.data = s;
	if ((rc = pthread_create(&s->th, NULL, run, s))) {
		s->closed = NULL;
		pn_ctlapi_sub_stop(s, NULL);
		return -rc;
	}
	s->thread_started = 1;
	*out = s;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct pn_ctlapi_sub *s = h->data;
	void (*closed)(void *) = s->closed;
	void *arg = s->arg;
	struct item *list = s->head;

	while (list) {
		struct item *next = list->next;

		item_free(list);
		list = next;
	}
	pn_sse_fini(&s->sse);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->m);
	free(s);
	if (closed)
		closed(arg);
}

void pn_ctlapi_sub_stop(struct pn_ctlapi_sub *s, void (*closed)(void *arg))
{
	if (!s)
		return;
	pthread_mutex_lock(&s->m);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->m);
	if (s->thread_started)
		pthread_join(s->th, NULL);
	s->closed = closed;
	uv_close((uv_handle_t *)&s->async, on_closed);
}
