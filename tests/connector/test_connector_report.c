/*
 * Flow reports, sans I/O (connector/report.h): batches cut by encoded size
 * to the controller's limits, retries with backoff, refused batches halved
 * down to the one bad event, a bounded queue with counted drops, flush
 * timing, and fields cut to the controller's limits as valid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "connector/report.h"
#include "connector/reporter.h"
#include "core/err.h"
#include "ctlapi/limits.h"

static uint8_t cid[PN_ID_LEN] = {1, 2, 3}, rid[PN_ID_LEN] = {9, 8, 7};

/* A realistic event; `wide` fills every string to its limit and beyond. */
static void mk(struct pn_connector_event *ev, uint64_t flow, int wide)
{
	static char dest[1024], user[512], reason[512];

	memset(ev, 0, sizeof(*ev));
	ev->event = flow & 1 ? "end" : "start";
	ev->flow_id = flow;
	ev->client_id = cid;
	ev->user = "alice@corp.example";
	ev->resource_id = rid;
	ev->dest = "db-primary.internal.corp.example";
	ev->port = 5432;
	ev->proto = "tcp";
	ev->path = "relay-udp";
	ev->verdict = "allow";
	ev->reason = flow & 1 ? "ok" : "";
	ev->bytes_up = flow * 1000;
	ev->bytes_down = flow * 7777;
	ev->ts_ms = 1790000000000 + (int64_t)flow;
	if (wide) {
		/* control characters: escaped as \u00XX, six bytes each */
		memset(dest, 'd', sizeof(dest) - 1);
		memset(user, 0x01, sizeof(user) - 1);
		memset(reason, '"', sizeof(reason) - 1);
		ev->dest = dest;
		ev->user = user;
		ev->reason = reason;
	}
}

/* Parse a body, check it against the controller's limits, and return its
 * flow ids (in order) in ids[]. */
static size_t check_body(const char *body, size_t len, size_t body_max, uint64_t *ids)
{
	json_error_t err;
	json_t *o = json_loadb(body, len, 0, &err), *evs, *e;
	size_t i, n;

	assert_non_null(o);
	assert_true(len <= body_max);
	evs = json_object_get(o, "events");
	n = json_array_size(evs);
	assert_true(n >= 1 && n <= PN_CTLAPI_FLOW_BATCH_MAX);
	json_array_foreach(evs, i, e)
	{
		const char *fid = json_string_value(json_object_get(e, "flow_id"));
		assert_non_null(fid);
		assert_true(json_string_length(json_object_get(e, "user")) <=
			    PN_CTLAPI_FLOW_USER_MAX);
		assert_true(json_string_length(json_object_get(e, "dest")) <=
			    PN_CTLAPI_FLOW_DEST_MAX);
		assert_true(json_string_length(json_object_get(e, "reason")) <=
			    PN_CTLAPI_FLOW_REASON_MAX);
		ids[i] = strtoull(fid, NULL, 16);
	}
	json_decref(o);
	return n;
}

/* Drain r into a controller that stores everything; returns requests. */
static unsigned drain(struct pn_report *r, size_t body_max, uint64_t first, uint64_t count)
{
	static uint64_t ids[PN_CTLAPI_FLOW_BATCH_MAX];
	const char *body;
	size_t len, n;
	uint64_t next = first;
	unsigned reqs = 0;

	while (pn_report_take(r, 0, 1, &body, &len, &n)) {
		assert_int_equal(check_body(body, len, body_max, ids), n);
		for (size_t i = 0; i < n; i++)
			assert_true(ids[i] == next++); /* in order, none lost */
		pn_report_done(r, 0, 0);
		reqs++;
	}
	assert_true(next == first + count);
	return reqs;
}

/* The regression: 256 events of real size exceeded 64 KiB in one body. */
static void test_batches_cut_by_size(void **st)
{
	struct pn_report *r;
	struct pn_connector_event ev;
	struct pn_report_stats s;
	unsigned reqs;

	(void)st;
	assert_int_equal(pn_report_new(NULL, &r), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		mk(&ev, i, i % 3 == 0);
		assert_int_equal(pn_report_push(r, &ev, 0), 0);
	}
	reqs = drain(r, PN_CTLAPI_BODY_MAX, 0, 1000);
	assert_true(reqs > 1000 / PN_CTLAPI_FLOW_BATCH_MAX + 1); /* cut by bytes, not count */
	pn_report_stats(r, &s);
	assert_true(s.stored == 1000 && s.pending == 0 && s.pending_bytes == 0);
	pn_report_free(r);

	/* small events: at most PN_CTLAPI_FLOW_BATCH_MAX per request */
	assert_int_equal(pn_report_new(NULL, &r), 0);
	for (uint64_t i = 0; i < 600; i++) {
		mk(&ev, i, 0);
		ev.dest = "a";
		ev.user = "";
		assert_int_equal(pn_report_push(r, &ev, 0), 0);
	}
	assert_int_equal(drain(r, PN_CTLAPI_BODY_MAX, 0, 600), 3);
	pn_report_free(r);

	/* a smaller body limit is honoured too; below one worst event: refused */
	{
		struct pn_report_config c = {.body_max = 8192};
		assert_int_equal(pn_report_new(&c, &r), 0);
		for (uint64_t i = 0; i < 300; i++) {
			mk(&ev, i, i % 2);
			assert_int_equal(pn_report_push(r, &ev, 0), 0);
		}
		drain(r, 8192, 0, 300);
		pn_report_free(r);
		c.body_max = 1024;
		assert_int_equal(pn_report_new(&c, &r), PN_E_INVAL);
		c.body_max = PN_CTLAPI_BODY_MAX + 1;
		assert_int_equal(pn_report_new(&c, &r), PN_E_INVAL);
	}
}

static void test_retry_backoff(void **st)
{
	struct pn_report_config c = {.backoff_min_ms = 200, .backoff_max_ms = 3000, .seed = 42};
	struct pn_report *r;
	struct pn_connector_event ev;
	struct pn_report_stats s;
	const char *body;
	size_t len, n, n0;
	uint64_t now = 5000, prev = 0;

	(void)st;
	assert_int_equal(pn_report_new(&c, &r), 0);
	for (uint64_t i = 0; i < 300; i++) {
		mk(&ev, i, 0);
		pn_report_push(r, &ev, now);
	}
	assert_true(pn_report_due(r) == 0); /* a full batch: at once */
	assert_int_equal(pn_report_take(r, now, 0, &body, &len, &n0), 1);
	/* one request at a time */
	assert_int_equal(pn_report_take(r, now, 1, &body, &len, &n), 0);
	assert_true(pn_report_due(r) == UINT64_MAX);
	/* failures: kept, retried later and later, up to the maximum */
	for (int k = 0; k < 8; k++) {
		uint64_t due, wait, cap = 200u << k;
		pn_report_done(r, PN_E_CTL_CONNECT, now);
		due = pn_report_due(r);
		wait = due - now;
		if (cap > 3000)
			cap = 3000;
		assert_true(wait >= cap / 2 && wait <= cap);
		if (k >= 1 && cap < 3000)
			assert_true(wait >= prev / 2); /* growing */
		prev = wait;
		assert_int_equal(pn_report_take(r, due - 1, 1, &body, &len, &n),
				 0); /* not even flushed */
		now = due;
		assert_int_equal(pn_report_take(r, now, 0, &body, &len, &n), 1);
		assert_true(n == n0);
		assert_non_null(strstr(body, "\"flow_id\":\"0000000000000000\"")); /* same events */
	}
	pn_report_stats(r, &s);
	assert_true(s.failures == 8 && s.stored == 0 && s.pending == 300);
	assert_true(s.dropped_full == 0 && s.dropped_refused == 0);
	/* success: stored, backoff gone, the rest follows at once */
	pn_report_done(r, 0, now);
	pn_report_stats(r, &s);
	assert_true(s.stored == n0 && s.backoff_ms == 0);
	assert_true(pn_report_due(r) <= now);
	assert_true(drain(r, PN_CTLAPI_BODY_MAX, n0, 300 - n0) >= 1);
	assert_true(pn_report_take_dropped(r) == 0);
	pn_report_free(r);
}

/* The controller refuses any request holding flow `bad`. */
static void test_refused_event_isolated(void **st)
{
	struct pn_report *r;
	struct pn_connector_event ev;
	struct pn_report_stats s;
	static uint64_t ids[PN_CTLAPI_FLOW_BATCH_MAX], seen[1000];
	const char *body;
	size_t len, n, nseen = 0;
	const uint64_t bad = 437;
	unsigned reqs = 0;

	(void)st;
	assert_int_equal(pn_report_new(NULL, &r), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		mk(&ev, i, 0);
		pn_report_push(r, &ev, 0);
	}
	while (pn_report_take(r, 0, 1, &body, &len, &n)) {
		int refuse = 0;
		check_body(body, len, PN_CTLAPI_BODY_MAX, ids);
		for (size_t i = 0; i < n; i++)
			refuse |= ids[i] == bad;
		if (!refuse)
			for (size_t i = 0; i < n; i++)
				seen[nseen++] = ids[i];
		pn_report_done(r, refuse ? PN_E_CTL_REJECTED : 0, 0);
		assert_true(++reqs < 200);
	}
	pn_report_stats(r, &s);
	assert_true(s.stored == 999 && s.dropped_refused == 1 && s.pending == 0);
	assert_true(nseen == 999);
	for (size_t i = 0; i < nseen; i++) /* in order, only `bad` missing */
		assert_true(seen[i] == (i < bad ? i : i + 1));
	assert_true(pn_report_take_dropped(r) == 1);
	assert_true(pn_report_take_dropped(r) == 0);
	pn_report_free(r);
}

static void test_bounded_queue(void **st)
{
	struct pn_report_config c = {.max_events = 100};
	struct pn_report *r;
	struct pn_connector_event ev;
	struct pn_report_stats s;
	int full = 0;

	(void)st;
	assert_int_equal(pn_report_new(&c, &r), 0);
	for (uint64_t i = 0; i < 150; i++) {
		mk(&ev, i, 0);
		if (pn_report_push(r, &ev, 0) == PN_E_NOSPACE)
			full++;
	}
	assert_int_equal(full, 50);
	pn_report_stats(r, &s);
	assert_true(s.queued == 100 && s.dropped_full == 50 && s.pending == 100);
	assert_true(pn_report_take_dropped(r) == 50); /* one log line for the burst */
	assert_true(pn_report_take_dropped(r) == 0);
	drain(r, PN_CTLAPI_BODY_MAX, 0, 100); /* the oldest were kept */
	/* room again */
	mk(&ev, 1000, 0);
	assert_int_equal(pn_report_push(r, &ev, 0), 0);
	pn_report_free(r);

	/* bounded by bytes as well */
	c.max_events = 0;
	c.max_bytes = 10000;
	assert_int_equal(pn_report_new(&c, &r), 0);
	full = 0;
	for (uint64_t i = 0; i < 100; i++) {
		mk(&ev, i, 0);
		if (pn_report_push(r, &ev, 0) == PN_E_NOSPACE)
			full++;
	}
	pn_report_stats(r, &s);
	assert_true(full > 0 && s.pending_bytes <= 10000 && s.pending + (size_t)full == 100);
	pn_report_free(r);
}

static void test_flush_timing(void **st)
{
	struct pn_report_config c = {.flush_ms = 1000};
	struct pn_report *r;
	struct pn_connector_event ev;
	const char *body;
	size_t len, n;

	(void)st;
	assert_int_equal(pn_report_new(&c, &r), 0);
	assert_true(pn_report_due(r) == UINT64_MAX); /* nothing queued */
	mk(&ev, 1, 0);
	pn_report_push(r, &ev, 10000);
	mk(&ev, 2, 0);
	pn_report_push(r, &ev, 10400);
	assert_true(pn_report_due(r) == 11000); /* the oldest waited flush_ms */
	assert_int_equal(pn_report_take(r, 10999, 0, &body, &len, &n), 0);
	assert_int_equal(pn_report_take(r, 10500, 1, &body, &len, &n), 1); /* flush: now */
	assert_true(n == 2);
	pn_report_done(r, 0, 10500);
	assert_true(pn_report_due(r) == UINT64_MAX);
	pn_report_free(r);
}

/* Strings are cut to the controller's limits on whole UTF-8 characters;
 * invalid bytes do not make the event unencodable. */
static void test_fields(void **st)
{
	struct pn_report *r;
	struct pn_connector_event ev;
	char user[600];
	const char *body;
	size_t len, n, o = 0;
	json_t *j, *e;

	(void)st;
	while (o + 3 < sizeof(user)) { /* U+20AC, 3 bytes each */
		memcpy(user + o, "\xe2\x82\xac", 3);
		o += 3;
	}
	user[o] = '\0';
	assert_int_equal(pn_report_new(NULL, &r), 0);
	mk(&ev, 7, 0);
	ev.user = user;
	ev.reason = "bad \xff\xfe byte";
	ev.event = "deny"; /* reported as the end of a flow that never started */
	assert_int_equal(pn_report_push(r, &ev, 0), 0);
	assert_int_equal(pn_report_take(r, 0, 1, &body, &len, &n), 1);
	j = json_loadb(body, len, 0, NULL);
	assert_non_null(j);
	e = json_array_get(json_object_get(j, "events"), 0);
	assert_true(json_string_length(json_object_get(e, "user")) == 126); /* 42 whole chars */
	assert_string_equal(json_string_value(json_object_get(e, "reason")), "bad ?? byte");
	assert_string_equal(json_string_value(json_object_get(e, "event")), "end");
	assert_string_equal(json_string_value(json_object_get(e, "client_id")),
			    "01020300000000000000000000000000");
	assert_true(json_integer_value(json_object_get(e, "bytes_down")) == 7 * 7777);
	json_decref(j);
	pn_report_done(r, 0, 0);
	pn_report_free(r);
}

/* ---- the reporter (libuv + thread pool) against a fake controller ---- */

struct fake_ctl {
	int fail_first; /* controller unreachable for this many requests */
	int posts;
	uint64_t stored[256];
	size_t nstored;
};

static int fake_post(void *ctl, const char *body, size_t len)
{
	struct fake_ctl *f = ctl;
	uint64_t ids[PN_CTLAPI_FLOW_BATCH_MAX];
	size_t n;

	if (f->posts++ < f->fail_first)
		return PN_E_CTL_CONNECT;
	n = check_body(body, len, PN_CTLAPI_BODY_MAX, ids);
	for (size_t i = 0; i < n && f->nstored < 256; i++)
		f->stored[f->nstored++] = ids[i];
	return 0;
}

static const struct pn_node_ctl_ops fake_ops = {.post_flows = fake_post};

static void rep_closed(void *arg)
{
	*(int *)arg = 1;
}

/* Controller outage: 20 queued (the bound), 5 more dropped and counted,
 * retried with backoff; once the controller is back every queued event is
 * stored exactly once, in order. */
static void test_reporter_outage(void **st)
{
	uv_loop_t loop;
	struct fake_ctl f = {.fail_first = 4};
	struct pn_reporter_config rc = {0};
	struct pn_reporter *rep;
	struct pn_connector_event ev;
	struct pn_report_stats s;
	int busy = 0, closed = 0;

	(void)st;
	assert_int_equal(uv_loop_init(&loop), 0);
	rc.loop = &loop;
	rc.ctl.ops = &fake_ops;
	rc.ctl.ctl = &f;
	rc.api_busy = &busy;
	rc.core.max_events = 20;
	rc.core.batch_max = 8;
	rc.core.flush_ms = 5;
	rc.core.backoff_min_ms = 5;
	rc.core.backoff_max_ms = 20;
	assert_int_equal(pn_reporter_new(&rc, &rep), 0);
	for (uint64_t i = 0; i < 25; i++) {
		mk(&ev, i, 0);
		pn_reporter_event(&ev, rep);
	}
	pn_reporter_stats(rep, &s);
	assert_true(s.pending == 20 && s.dropped_full == 5);
	pn_reporter_close(rep, 5000, rep_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(closed);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(f.posts > f.fail_first); /* retried through the outage */
	assert_int_equal(f.nstored, 20);
	for (size_t i = 0; i < 20; i++)
		assert_true(f.stored[i] == i); /* the oldest kept, none lost */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batches_cut_by_size),	   cmocka_unit_test(test_retry_backoff),
	    cmocka_unit_test(test_refused_event_isolated), cmocka_unit_test(test_bounded_queue),
	    cmocka_unit_test(test_flush_timing),	   cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_reporter_outage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
