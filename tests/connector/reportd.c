/*
 * reportd: feeds synthetic flow events into the connector's real flow
 * reporter (connector/reporter.h: queue, batches, retries, thread-pool
 * HTTPS through ctlapi) as an enrolled connector, then waits until every
 * event is confirmed stored or the deadline passes, and prints the counts.
 *
 *   reportd --state DIR --events N [--rate PER_S] [--queue N] [--wait-s S]
 *
 * Events are realistic (names, ids, reasons) and one in eight has every
 * string at the controller's limit, so batches counted by events alone
 * would exceed the request size limit.  Output (stdout, one line):
 *   generated=N queued=Q stored=S dropped_full=F dropped_refused=R requests=X failures=Y
 * Exit 0 if stored == generated, 1 otherwise, 2 on usage errors.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "connector/reporter.h"
#include "core/err.h"
#include "core/log.h"
#include "ctlapi/ctlapi.h"

static struct {
	uv_loop_t *loop;
	struct pn_reporter *rep;
	uv_timer_t gen, watch;
	uint64_t total, made, rate, deadline, run_id;
	struct pn_report_stats final;
	int api_busy, closing;
} D;

static void make_event(uint64_t i)
{
	static char longdest[PN_CTLAPI_FLOW_DEST_MAX + 1], longuser[PN_CTLAPI_FLOW_USER_MAX + 1],
	    longreason[PN_CTLAPI_FLOW_REASON_MAX + 1];
	static uint8_t cid[PN_ID_LEN], rid[PN_ID_LEN];
	struct pn_connector_event ev;
	char dest[64];

	if (!longdest[0]) {
		memset(longdest, 'x', sizeof(longdest) - 1);
		memset(longuser, 'u', sizeof(longuser) - 1);
		memset(longreason, 'r', sizeof(longreason) - 1);
	}
	memset(&ev, 0, sizeof(ev));
	memcpy(cid, &i, sizeof(i));
	memcpy(rid, &D.run_id, sizeof(D.run_id));
	snprintf(dest, sizeof(dest), "host-%" PRIu64 ".internal.corp.example", i % 997);
	ev.event = i % 2 ? "end" : "start";
	ev.flow_id = D.run_id << 32 | i;
	ev.client_id = cid;
	ev.user = i % 8 == 7 ? longuser : "service-account-batch-loader";
	ev.resource_id = rid;
	ev.dest = i % 8 == 7 ? longdest : dest;
	ev.port = (uint16_t)(1024 + i % 60000);
	ev.proto = i % 5 ? "tcp" : "udp";
	ev.path = i % 3 ? "direct" : "relay-udp";
	ev.verdict = "allow";
	ev.reason = i % 8 == 7 ? longreason : i % 2 ? "ok" : "";
	ev.bytes_up = i * 1311;
	ev.bytes_down = i * 98765;
	ev.ts_ms = (int64_t)(uv_now(D.loop) + 1790000000000ull);
	pn_reporter_event(&ev, D.rep);
}

static void closed(void *arg)
{
	(void)arg;
	uv_close((uv_handle_t *)&D.watch, NULL);
}

/* 100 times a second: the next slice of events at --rate. */
static void on_gen(uv_timer_t *t)
{
	uint64_t n = D.rate ? D.rate / 100 : D.total;

	if (!n)
		n = 1;
	for (uint64_t k = 0; k < n && D.made < D.total; k++)
		make_event(D.made++);
	if (D.made == D.total) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
	}
}

static void on_watch(uv_timer_t *t)
{
	struct pn_report_stats st;

	(void)t;
	if (D.closing)
		return;
	pn_reporter_stats(D.rep, &st);
	D.final = st;
	if ((D.made == D.total && st.pending == 0) || uv_now(D.loop) >= D.deadline) {
		D.closing = 1;
		pn_reporter_close(D.rep, 1000, closed, NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, 0, 's'},  {"events", required_argument, 0, 'n'},
	    {"rate", required_argument, 0, 'r'},   {"queue", required_argument, 0, 'q'},
	    {"wait-s", required_argument, 0, 'w'}, {0, 0, 0, 0},
	};
	struct pn_reporter_config rc;
	struct pn_ctlapi *api = NULL;
	const char *state = NULL;
	uint64_t wait_s = 80;
	int c, r;

	memset(&rc, 0, sizeof(rc));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'n': D.total = strtoull(optarg, NULL, 10); break;
		case 'r': D.rate = strtoull(optarg, NULL, 10); break;
		case 'q': rc.core.max_events = strtoul(optarg, NULL, 10); break;
		case 'w': wait_s = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!state || !D.total) {
		fprintf(stderr, "usage: reportd --state DIR --events N [--rate PER_S] [--queue N] "
				"[--wait-s S]\n");
		return 2;
	}
	pn_log_set_spec("info");
	if ((r = pn_ctlapi_global_init()) != 0 || (r = pn_ctlapi_open(state, &api)) != 0) {
		fprintf(stderr, "reportd: %s: %s\n", state, pn_strerror(r));
		return 2;
	}
	D.loop = uv_default_loop();
	D.run_id = (uv_hrtime() >> 10) & 0xffffffffu;
	rc.loop = D.loop;
	rc.ctl.ops = &pn_node_ctlapi_ops;
	rc.ctl.ctl = api;
	rc.api_busy = &D.api_busy;
	if ((r = pn_reporter_new(&rc, &D.rep)) != 0) {
		fprintf(stderr, "reportd: reporter: %s\n", pn_strerror(r));
		return 2;
	}
	D.deadline = uv_now(D.loop) + wait_s * 1000;
	uv_timer_init(D.loop, &D.gen);
	uv_timer_start(&D.gen, on_gen, 0, 10);
	uv_timer_init(D.loop, &D.watch);
	uv_timer_start(&D.watch, on_watch, 100, 100);
	uv_run(D.loop, UV_RUN_DEFAULT);
	printf("generated=%" PRIu64 " queued=%" PRIu64 " stored=%" PRIu64 " dropped_full=%" PRIu64
	       " dropped_refused=%" PRIu64 " requests=%" PRIu64 " failures=%" PRIu64 "\n",
	       D.made, D.final.queued, D.final.stored, D.final.dropped_full,
	       D.final.dropped_refused, D.final.requests, D.final.failures);
	pn_ctlapi_free(api);
	uv_loop_close(D.loop);
	return D.final.stored == D.made ? 0 : 1;
}
