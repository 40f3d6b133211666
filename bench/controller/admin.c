/* The controller benchmarks' admin-API call (admin.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "admin.h"

struct sink {
	char *p;
	size_t n;
};

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

long bench_admin_call(const struct bench_admin *a, const char *method, const char *path,
		      const char *body, json_t **out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct sink s = {0};
	char url[512], auth[128];
	long status = 0;

	if (!h)
		return 0;
	snprintf(url, sizeof(url), "%s%s", a->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->key);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, a->ca);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
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
