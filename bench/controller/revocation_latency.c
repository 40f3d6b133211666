/*
 * Revocation latency: from the admin API call that removes (or adds) a
 * grant to the moment a connected connector, subscribed through ctlapi's
 * push channel, holds the new policy version.  A real controller runs in
 * this process (HTTPS on 127.0.0.1, SQLite in a temp dir); the admin call
 * is a real HTTPS request; the subscriber is a real ctlapi subscription
 * delivering into a libuv loop.
 *
 *   usage: revocation_latency [N=100]
 *   prints: p50/p99/max over N changes (alternating remove/add of a grant)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "controller/controller.h"
#include "ctlapi/ctlapi.h"

struct sink {
	char *p;
	size_t n;
};

static const char *g_url, *g_ca;
static char g_key[PN_CONTROLLER_KEY_MAX];

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	char *nb = realloc(s->p, s->n + sz * n + 1);

	if (!nb)
		return 0;
	s->p = nb;
	memcpy(s->p + s->n, p, sz * n);
	s->n += sz * n;
	s->p[s->n] = '\0';
	return sz * n;
}

static long call(const char *method, const char *path, const char *body, json_t **out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct sink s = {0};
	char url[512], auth[128];
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", g_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g_key);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, g_ca);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (out)
		*out = s.p ? json_loads(s.p, 0, NULL) : NULL;
	free(s.p);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return status;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct ctx {
	uv_loop_t loop;
	uv_timer_t timer;
	size_t want_clients;
	uint64_t version;
	double t_event;
	int hit;
};

static void on_event(const struct pn_ctlapi_event *ev, void *arg)
{
	struct ctx *c = arg;

	if (ev->kind != PN_CTLAPI_EV_POLICY)
		return;
	c->version = ev->version;
	if (ev->n_client_acls == c->want_clients && !c->hit) {
		c->hit = 1;
		c->t_event = now_ms();
		uv_stop(&c->loop);
	}
}

static void on_timeout(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static int wait_for(struct ctx *c, size_t clients, unsigned ms)
{
	c->want_clients = clients;
	uv_timer_start(&c->timer, on_timeout, ms, 0);
	if (!c->hit)
		uv_run(&c->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&c->timer);
	return c->hit ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	char dir[] = "/tmp/pn-bench-ctl-XXXXXX", data[128], ca[160], cstate[160], sstate[160];
	struct pn_controller_init_opts o = {0};
	struct pn_controller *ctl = NULL;
	struct pn_ctlapi *api = NULL;
	struct pn_ctlapi_sub *sub = NULL;
	struct ctx c;
	json_t *j = NULL;
	double *lat, *call_ms;
	char *tok, *sakey, cmd[256];

	if (n < 1 || n > 100000 || !mkdtemp(dir))
		return 2;
	lat = calloc((size_t)n, sizeof(*lat));
	call_ms = calloc((size_t)n, sizeof(*call_ms));
	pn_ctlapi_global_init();
	snprintf(data, sizeof(data), "%s/ctl", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", data);
	snprintf(cstate, sizeof(cstate), "%s/connector", dir);
	snprintf(sstate, sizeof(sstate), "%s/client", dir);
	o.data_dir = data;
	o.listen = "127.0.0.1:0";
	o.hostnames = "localhost";
	if (pn_controller_init(&o, g_key) || pn_controller_start(data, NULL, &ctl))
		return 1;
	g_url = pn_controller_url(ctl);
	g_ca = ca;
	call("POST", "/v1/networks", "{\"name\":\"corp\"}", NULL);
	call("POST", "/v1/resources", "{\"name\":\"db\",\"network\":\"corp\",\"address\":"
				      "\"db.corp.example\",\"protocols\":[\"tcp/5432\"]}", NULL);
	call("POST", "/v1/groups", "{\"name\":\"eng\"}", NULL);
	call("POST", "/v1/connectors", "{\"name\":\"c1\",\"network\":\"corp\"}", &j);
	tok = strdup(json_string_value(json_object_get(j, "enrollment_token")));
	json_decref(j);
	call("POST", "/v1/service-accounts", "{\"name\":\"ci\",\"groups\":[\"eng\"]}", &j);
	sakey = strdup(json_string_value(json_object_get(j, "api_key")));
	json_decref(j);
	if (pn_ctlapi_enroll(cstate, tok) || pn_ctlapi_login(sstate, g_url, ca, sakey) ||
	    pn_ctlapi_open(cstate, &api)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	memset(&c, 0, sizeof(c));
	uv_loop_init(&c.loop);
	uv_timer_init(&c.loop, &c.timer);
	pn_ctlapi_subscribe(api, &c.loop, on_event, &c, &sub);
	wait_for(&c, 0, 5000); /* initial state: no grant yet -> 0 clients */
	for (int i = 0; i < n; i++) {
		int add = i % 2 == 0;
		double t0, t_done;
		long st;

		c.hit = 0;
		t0 = now_ms();
		if (add) {
			st = call("POST", "/v1/policies", "{\"group\":\"eng\",\"resource\":\"db\"}", NULL);
		} else {
			char path[128];

			call("GET", "/v1/policies?group=eng", NULL, &j);
			snprintf(path, sizeof(path), "/v1/policies/%s",
				 json_string_value(json_object_get(
					 json_array_get(json_object_get(j, "policies"), 0), "id")));
			json_decref(j);
			t0 = now_ms(); /* measure only the removing call */
			st = call("DELETE", path, NULL, NULL);
		}
		if (st != 200 && st != 201) {
			fprintf(stderr, "change %d failed: HTTP %ld\n", i, st);
			return 1;
		}
		t_done = now_ms();
		if (wait_for(&c, add ? 1 : 0, 5000)) {
			fprintf(stderr, "change %d not delivered within 5 s\n", i);
			return 1;
		}
		lat[i] = c.t_event - t0;
		call_ms[i] = t_done - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	qsort(call_ms, (size_t)n, sizeof(*call_ms), cmp);
	printf("revocation latency (API call -> subscriber holds new version), %d changes:\n"
	       "  p50 %.1f ms  p99 %.1f ms  max %.1f ms  (goal p99 <= 1000 ms)\n",
	       n, lat[n / 2], lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], lat[n - 1]);
	printf("  (of which the admin API call itself, incl. TLS handshake and commit: p50 %.1f ms)\n",
	       call_ms[n / 2]);
	pn_ctlapi_sub_stop(sub, NULL);
	uv_close((uv_handle_t *)&c.timer, NULL);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	uv_loop_close(&c.loop);
	pn_ctlapi_free(api);
	pn_controller_stop(ctl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
	}
	free(lat);
	free(call_ms);
	free(tok);
	free(sakey);
	return 0;
}
