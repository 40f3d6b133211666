#ifndef PN_BENCH_ADMIN_H
#define PN_BENCH_ADMIN_H
/* The controller benchmarks' admin-API call: one JSON request with an
 * admin API key, verified against the network CA. */
#include <jansson.h>

struct bench_admin {
	const char *url; /* controller base URL */
	const char *ca;	 /* CA file */
	const char *key; /* admin API key */
};

/* HTTP status (0 when the request failed); *out (if out) the parsed JSON
 * reply or NULL. */
long bench_admin_call(const struct bench_admin *a, const char *method, const char *path,
		      const char *body, json_t **out);
#endif
