/* Flow reports: bounded queue and size-limited batches.  See report.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connector/report.h"
#include "core/err.h"
#include "core/hex.h"
#include "ctlapi/limits.h"

#define BODY_HEAD  "{\"events\":["
#define BODY_TAIL  "]}"
#define BODY_FRAME (sizeof(BODY_HEAD) - 1 + sizeof(BODY_TAIL) - 1)
/* An event's JSON, every string at its limit and each byte escaped as
 * \u00XX (6 bytes): the body must hold at least one. */
#define EVENT_WORST                                                                                \
	(6u * (PN_CTLAPI_FLOW_USER_MAX + PN_CTLAPI_FLOW_DEST_MAX + PN_CTLAPI_FLOW_REASON_MAX +     \
	       16 + 3 * PN_ID_HEX_LEN + 64) +                                                      \
	 512u)

struct qent {
	char *json;
	size_t len;
	uint64_t t; /* when queued */
};

struct pn_report {
	struct pn_report_config cfg;
	struct qent *q; /* ring of cfg.max_events */
	size_t head, count, bytes;
	char *body; /* the request out: cfg.body_max + 1 */
	size_t body_len, out_n;
	size_t split;	  /* events per batch after refusals (halving) */
	unsigned streak;  /* consecutive failures */
	uint32_t backoff; /* ms, 0 if none */
	uint64_t retry_at;
	uint64_t rng;
	uint64_t dropped_since;
	struct pn_report_stats st;
};

int pn_report_new(const struct pn_report_config *cfg, struct pn_report **out)
{
	struct pn_report *r;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	if (cfg)
		r->cfg = *cfg;
	if (!r->cfg.max_events)
		r->cfg.max_events = PN_REPORT_QUEUE_EVENTS;
	if (!r->cfg.max_bytes)
		r->cfg.max_bytes = PN_REPORT_QUEUE_BYTES;
	if (!r->cfg.body_max)
		r->cfg.body_max = PN_CTLAPI_BODY_MAX;
	if (!r->cfg.batch_max || r->cfg.batch_max > PN_CTLAPI_FLOW_BATCH_MAX)
		r->cfg.batch_max = PN_CTLAPI_FLOW_BATCH_MAX;
	if (!r->cfg.flush_ms)
		r->cfg.flush_ms = PN_REPORT_FLUSH_MS;
	if (!r->cfg.backoff_min_ms)
		r->cfg.backoff_min_ms = PN_REPORT_BACKOFF_MIN_MS;
	if (!r->cfg.backoff_max_ms)
		r->cfg.backoff_max_ms = PN_REPORT_BACKOFF_MAX_MS;
	r->rng = r->cfg.seed ? r->cfg.seed : 0x9e3779b97f4a7c15ull;
	r->split = r->cfg.batch_max;
	if (r->cfg.body_max < BODY_FRAME + EVENT_WORST || r->cfg.body_max > PN_CTLAPI_BODY_MAX) {
		free(r);
		return PN_E_INVAL;
	}
	r->q = calloc(r->cfg.max_events, sizeof(*r->q));
	r->body = malloc(r->cfg.body_max + 1);
	if (!r->q || !r->body) {
		pn_report_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void pn_report_free(struct pn_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->q && i < r->count; i++)
		free(r->q[(r->head + i) % r->cfg.max_events].json);
	free(r->q);
	free(r->body);
	free(r);
}

/* ------------------------------------------------------------ encoding -- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Copy s into out (at most max bytes + NUL), whole UTF-8 characters only;
 * invalid bytes become '?' (the controller takes JSON strings, i.e. UTF-8,
 * and refuses longer fields). */
static void field(const char *s, size_t max, char *out)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), o = 0;

	while (n) {
		size_t k = utf8_seq(p, n);
		if (o + (k ? k : 1) > max)
			break;
		if (k) {
			memcpy(out + o, p, k);
			o += k;
		} else {
			out[o++] = '?';
			k = 1;
		}
		p += k;
		n -= k;
	}
	out[o] = '\0';
}

static json_int_t clamp(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

static char *encode(const struct pn_connector_event *ev, size_t *len)
{
	char fid[17], cid[PN_ID_HEX_LEN + 1] = "", rid[PN_ID_HEX_LEN + 1] = "";
	char user[PN_CTLAPI_FLOW_USER_MAX + 1], dest[PN_CTLAPI_FLOW_DEST_MAX + 1];
	char reason[PN_CTLAPI_FLOW_REASON_MAX + 1], proto[9], path[17], verdict[9];
	json_t *o;
	char *s;

	snprintf(fid, sizeof(fid), "%016" PRIx64, ev->flow_id);
	if (ev->client_id)
		pn_hex_encode(ev->client_id, PN_ID_LEN, cid);
	if (ev->resource_id)
		pn_hex_encode(ev->resource_id, PN_ID_LEN, rid);
	field(ev->user, PN_CTLAPI_FLOW_USER_MAX, user);
	field(ev->dest, PN_CTLAPI_FLOW_DEST_MAX, dest);
	field(ev->reason, PN_CTLAPI_FLOW_REASON_MAX, reason);
	field(ev->proto, 8, proto);
	field(ev->path, 16, path);
	field(ev->verdict, 8, verdict);
	/* a denial is the end of a flow that never started */
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I}", "event",
		      ev->event && !strcmp(ev->event, "start") ? "start" : "end", "flow_id", fid,
		      "client_id", cid, "user", user, "resource_id", rid, "dest", dest, "proto",
		      proto, "path", path, "verdict", verdict, "reason", reason, "port",
		      (int)ev->port, "bytes_up", clamp(ev->bytes_up), "bytes_down",
		      clamp(ev->bytes_down), "ts_ms",
		      ev->ts_ms < 0 ? (json_int_t)0 : (json_int_t)ev->ts_ms);
	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

/* --------------------------------------------------------------- queue -- */

static struct qent *at(const struct pn_report *r, size_t i)
{
	return &r->q[(r->head + i) % r->cfg.max_events];
}

static void pop(struct pn_report *r, size_t n)
{
	while (n-- && r->count) {
		struct qent *e = at(r, 0);
		r->bytes -= e->len;
		free(e->json);
		e->json = NULL;
		r->head = (r->head + 1) % r->cfg.max_events;
		r->count--;
	}
}

static void dropped(struct pn_report *r, uint64_t *counter)
{
	(*counter)++;
	r->dropped_since++;
}

int pn_report_push(struct pn_report *r, const struct pn_connector_event *ev, uint64_t now_ms)
{
	struct qent *e;
	size_t len = 0;
	char *json;

	if (r->count == r->cfg.max_events) {
		dropped(r, &r->st.dropped_full);
		return PN_E_NOSPACE;
	}
	if (!(json = encode(ev, &len))) {
		dropped(r, &r->st.dropped_full);
		return -ENOMEM;
	}
	if (r->bytes + len > r->cfg.max_bytes) {
		free(json);
		dropped(r, &r->st.dropped_full);
		return PN_E_NOSPACE;
	}
	e = at(r, r->count);
	e->json = json;
	e->len = len;
	e->t = now_ms;
	r->count++;
	r->bytes += len;
	r->st.queued++;
	return 0;
}

/* -------------------------------------------------------------- batches -- */

static size_t batch_cap(const struct pn_report *r)
{
	return r->split < r->cfg.batch_max ? r->split : r->cfg.batch_max;
}

uint64_t pn_report_due(const struct pn_report *r)
{
	uint64_t t;

	if (r->out_n || !r->count)
		return UINT64_MAX;
	/* a full batch waits for nothing but the backoff */
	if (r->count >= batch_cap(r) || r->bytes + r->count + BODY_FRAME > r->cfg.body_max)
		t = 0;
	else
		t = at(r, 0)->t + r->cfg.flush_ms;
	return t > r->retry_at ? t : r->retry_at;
}

int pn_report_take(struct pn_report *r, uint64_t now_ms, int flush, const char **body, size_t *len,
		   size_t *n)
{
	size_t cap = batch_cap(r), k = 0, o;

	if (r->out_n || !r->count || now_ms < r->retry_at || (!flush && now_ms < pn_report_due(r)))
		return 0;
	memcpy(r->body, BODY_HEAD, sizeof(BODY_HEAD) - 1);
	o = sizeof(BODY_HEAD) - 1;
	while (k < cap && k < r->count) {
		const struct qent *e = at(r, k);
		size_t need = e->len + (k ? 1 : 0);
		/* cut by encoded size: the body stays within the
		 * controller's limit (encode() bounds every field, so one
		 * event always fits: EVENT_WORST) */
		if (o + need + sizeof(BODY_TAIL) - 1 > r->cfg.body_max)
			break;
		if (k)
			r->body[o++] = ',';
		memcpy(r->body + o, e->json, e->len);
		o += e->len;
		k++;
	}
	memcpy(r->body + o, BODY_TAIL, sizeof(BODY_TAIL) - 1);
	o += sizeof(BODY_TAIL) - 1;
	r->body[o] = '\0';
	r->body_len = o;
	r->out_n = k;
	r->st.requests++;
	*body = r->body;
	*len = o;
	*n = k;
	return 1;
}

static uint64_t rnd(struct pn_report *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

void pn_report_done(struct pn_report *r, int err, uint64_t now_ms)
{
	size_t n = r->out_n;

	if (!n)
		return;
	r->out_n = 0;
	if (err == 0) {
		pop(r, n);
		r->st.stored += n;
		r->streak = 0;
		r->backoff = 0;
		r->retry_at = 0;
		/* grow back after refusals: whole batches again once clean */
		r->split = r->split > r->cfg.batch_max / 2 ? r->cfg.batch_max : r->split * 2;
		return;
	}
	if (err == PN_E_CTL_REJECTED) {
		/* Refused as a request (400/413): some event in it is bad.
		 * Halve until it is alone, then drop it; no backoff, the
		 * controller answered. */
		if (n > 1) {
			r->split = n / 2;
		} else {
			pop(r, 1);
			dropped(r, &r->st.dropped_refused);
		}
		return;
	}
	/* Not stored, not refused: keep the events, retry after backoff. */
	r->st.failures++;
	if (r->streak < 32)
		r->streak++;
	{
		uint64_t b = (uint64_t)r->cfg.backoff_min_ms << (r->streak - 1);
		if (b > r->cfg.backoff_max_ms)
			b = r->cfg.backoff_max_ms;
		/* jitter in [b/2, b]: connectors that lost the controller
		 * together do not come back in step */
		b = b / 2 + rnd(r) % (b / 2 + 1);
		r->backoff = (uint32_t)b;
		r->retry_at = now_ms + b;
	}
}

void pn_report_stats(const struct pn_report *r, struct pn_report_stats *st)
{
	*st = r->st;
	st->pending = r->count;
	st->pending_bytes = r->bytes;
	st->backoff_ms = r->backoff;
}

uint64_t pn_report_take_dropped(struct pn_report *r)
{
	uint64_t n = r->dropped_since;

	r->dropped_since = 0;
	return n;
}
