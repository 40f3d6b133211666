/*
 * Revocation latency: from the admin API call that removes (or adds) a
 * grant to the moment a connected connector, subscribed through ctlapi's
 * push channel, holds the new policy version.  A real controller runs in
 * this process (HTTPS on 127.0.0.1, SQLite in a temp dir); the admin call
 * is a real HTTPS request; the subscriber is a real ctlapi subscription
 * delivering into a libuv loop.
 *
 *   usage: bench_revocation_latency [N=100] [CONNECTORS=1] [CLIENTS=1]
 *   PN_BENCH_STORE=postgres://... (an empty database): the controller runs
 *   on PostgreSQL and a second controller (same data dir and database, own
 *   port) serves the connectors' push streams, so every change crosses
 *   controllers (LISTEN/NOTIFY).
 *   prints: p50/p99/max over N changes (alternating remove/add of a grant)
 *   of the time until EVERY subscribed connector holds the new state (its
 *   client-list set gained or lost the CLIENTS devices)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "admin.h"
#include "controller/controller.h"
#include "ctlapi/ctlapi.h"

static const char *g_url, *g_ca;
static char g_key[PN_CONTROLLER_KEY_MAX];

static long call(const char *method, const char *path, const char *body, json_t **out)
{
	const struct bench_admin a = {g_url, g_ca, g_key};

	return bench_admin_call(&a, method, path, body, out);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One subscribed connector. */
struct sub {
	struct bench *b;
	struct pn_ctlapi *api;
	struct pn_ctlapi_sub *sub;
	size_t nclients;
	int hit;
};

struct bench {
	uv_loop_t loop;
	uv_timer_t timer;
	size_t want_clients;
	int pending; /* subscribers that do not yet hold the wanted state */
	double t_last;
};

static void on_event(const struct pn_ctlapi_event *ev, void *arg)
{
	struct sub *s = arg;
	struct bench *b = s->b;

	if (ev->kind != PN_CTLAPI_EV_POLICY)
		return;
	s->nclients = ev->n_client_acls;
	if (!s->hit && s->nclients == b->want_clients) {
		s->hit = 1;
		b->t_last = now_ms();
		if (--b->pending == 0)
			uv_stop(&b->loop);
	}
}

static void on_timeout(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run until every subscriber holds a state with `clients` client lists. */
static int wait_all(struct bench *b, struct sub *subs, int k, size_t clients, unsigned ms)
{
	b->want_clients = clients;
	b->pending = 0;
	/* events are only delivered inside uv_run, so nobody has seen the new
	 * state yet unless it was marked while the loop ran */
	for (int i = 0; i < k; i++)
		if (!subs[i].hit)
			b->pending++;
	if (b->pending) {
		uv_timer_start(&b->timer, on_timeout, ms, 0);
		uv_run(&b->loop, UV_RUN_DEFAULT);
		uv_timer_stop(&b->timer);
	}
	return b->pending ? -1 : 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	int k = argc > 2 ? atoi(argv[2]) : 1;  /* connectors */
	int nc = argc > 3 ? atoi(argv[3]) : 1; /* clients */
	char dir[] = "/tmp/pn-bench-ctl-XXXXXX", data[128], ca[160], path[200], cmd[256];
	struct pn_controller_init_opts o = {0};
	struct pn_controller *ctl = NULL, *ctl2 = NULL;
	const char *store = getenv("PN_BENCH_STORE"), *url1;
	double t_login;
	struct bench b;
	struct sub *subs;
	json_t *j = NULL;
	double *lat, *call_ms;
	char *sakey;

	if (n < 1 || n > 100000 || k < 1 || k > 200 || nc < 1 || nc > 2000 || !mkdtemp(dir))
		return 2;
	lat = calloc((size_t)n, sizeof(*lat));
	call_ms = calloc((size_t)n, sizeof(*call_ms));
	subs = calloc((size_t)k, sizeof(*subs));
	pn_ctlapi_global_init();
	snprintf(data, sizeof(data), "%s/ctl", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", data);
	o.data_dir = data;
	o.listen = "127.0.0.1:0";
	o.hostnames = "localhost";
	o.store = store && *store ? store : NULL;
	if (pn_controller_init(&o, g_key) || pn_controller_start(data, NULL, &ctl))
		return 1;
	g_url = url1 = pn_controller_url(ctl);
	if (o.store) {
		struct pn_controller_run_opts ro = {"127.0.0.1:0", 0, NULL, NULL, NULL, 0};

		if (pn_controller_start_opts(data, &ro, &ctl2))
			return 1;
	}
	g_ca = ca;
	call("POST", "/v1/networks", "{\"name\":\"corp\"}", NULL);
	call("POST", "/v1/resources", "{\"name\":\"db\",\"network\":\"corp\",\"address\":"
				      "\"db.corp.example\",\"protocols\":[\"tcp/5432\"]}", NULL);
	call("POST", "/v1/groups", "{\"name\":\"eng\"}", NULL);
	call("POST", "/v1/service-accounts", "{\"name\":\"ci\",\"groups\":[\"eng\"]}", &j);
	sakey = strdup(json_string_value(json_object_get(j, "api_key")));
	json_decref(j);
	/* C client devices of one service account, K connectors in the network */
	t_login = now_ms();
	for (int i = 0; i < nc; i++) {
		snprintf(path, sizeof(path), "%s/client-%d", dir, i);
		if (pn_ctlapi_login(path, g_url, ca, sakey))
			return 1;
	}
	t_login = now_ms() - t_login;
	/* connectors created through controller 2: their tokens (and so their
	 * push streams) name it; changes below go through controller 1 */
	if (ctl2)
		g_url = pn_controller_url(ctl2);
	memset(&b, 0, sizeof(b));
	uv_loop_init(&b.loop);
	uv_timer_init(&b.loop, &b.timer);
	for (int i = 0; i < k; i++) {
		char body[128], *tok;

		snprintf(body, sizeof(body), "{\"name\":\"c%d\",\"network\":\"corp\"}", i);
		call("POST", "/v1/connectors", body, &j);
		tok = strdup(json_string_value(json_object_get(j, "enrollment_token")));
		json_decref(j);
		snprintf(path, sizeof(path), "%s/connector-%d", dir, i);
		if (pn_ctlapi_enroll(path, tok) || pn_ctlapi_open(path, &subs[i].api))
			return 1;
		free(tok);
		subs[i].b = &b;
		pn_ctlapi_subscribe(subs[i].api, &b.loop, on_event, &subs[i], &subs[i].sub);
	}
	g_url = url1;
	if (wait_all(&b, subs, k, 0, 10000)) { /* no grant yet: no client lists */
		fprintf(stderr, "subscribers did not come up\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int add = i % 2 == 0;
		double t0, t_done;
		long st;

		for (int x = 0; x < k; x++)
			subs[x].hit = 0;
		t0 = now_ms();
		if (add) {
			st = call("POST", "/v1/policies", "{\"group\":\"eng\",\"resource\":\"db\"}", NULL);
		} else {
			char p2[128];

			call("GET", "/v1/policies?group=eng", NULL, &j);
			snprintf(p2, sizeof(p2), "/v1/policies/%s",
				 json_string_value(json_object_get(
					 json_array_get(json_object_get(j, "policies"), 0), "id")));
			json_decref(j);
			t0 = now_ms(); /* measure only the removing call */
			st = call("DELETE", p2, NULL, NULL);
		}
		t_done = now_ms();
		if (st != 200 && st != 201) {
			fprintf(stderr, "change %d failed: HTTP %ld\n", i, st);
			return 1;
		}
		if (wait_all(&b, subs, k, add ? (size_t)nc : 0, 10000)) {
			fprintf(stderr, "change %d not delivered to all within 10 s\n", i);
			return 1;
		}
		lat[i] = b.t_last - t0;
		call_ms[i] = t_done - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	qsort(call_ms, (size_t)n, sizeof(*call_ms), cmp);
	printf("store %s%s; credential issuance: %d client logins in %.0f ms = %.1f/s"
	       " (sequential, incl. key generation and TLS)\n",
	       o.store ? "postgres" : "sqlite",
	       ctl2 ? ", changes via controller 1, subscribers on controller 2" : "", nc, t_login,
	       nc * 1000.0 / (t_login > 0 ? t_login : 1));
	printf("revocation latency (API call -> every subscribed connector holds the new version)\n"
	       "  %d changes, %d connectors, %d client devices\n"
	       "  p50 %.1f ms  p99 %.1f ms  max %.1f ms  (goal p99 <= 1000 ms)\n"
	       "  (of which the admin API call itself, incl. TLS handshake and commit: p50 %.1f ms)\n",
	       n, k, nc, lat[n / 2], lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], lat[n - 1],
	       call_ms[n / 2]);
	for (int i = 0; i < k; i++)
		pn_ctlapi_sub_stop(subs[i].sub, NULL);
	uv_close((uv_handle_t *)&b.timer, NULL);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	for (int i = 0; i < k; i++)
		pn_ctlapi_free(subs[i].api);
	pn_controller_stop(ctl2);
	pn_controller_stop(ctl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
	}
	free(lat);
	free(call_ms);
	free(subs);
	free(sakey);
	return 0;
}
