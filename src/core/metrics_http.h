#ifndef PN_CORE_METRICS_HTTP_H
#define PN_CORE_METRICS_HTTP_H
/*
 * The metrics listener of the libuv daemons (relay, connector, client):
 * one small HTTP/1.1 responder that serves `GET /metrics` and nothing
 * else.  Off by default; a daemon starts it for `--metrics-listen
 * ADDR:PORT`.  It is not a web server and keeps every cost bounded:
 *
 *   - at most PN_MHTTP_CONNS_MAX connections at once (more are accepted
 *     and closed at once), each with a PN_MHTTP_REQ_MAX byte request
 *     buffer (a longer request head gets 431) and a PN_MHTTP_IDLE_MS
 *     deadline for the whole exchange (then it is closed without answer);
 *   - one request per connection: the answer carries `Connection: close`
 *     and the connection is closed once it is written;
 *   - GET /metrics (a query string is ignored) gets 200 and the exposition
 *     from collect(); any other path 404, another method on /metrics 405,
 *     a request line that is not HTTP/1.x 400.
 *
 * The parser (pn_mhttp_parse) is sans-I/O; the listener runs on the
 * daemon's loop thread, so collect() reads the daemon's counters without
 * locks.
 */
#include <stddef.h>

#include <uv.h>

#include "core/metrics.h"

#define PN_MHTTP_CONNS_MAX 16
#define PN_MHTTP_REQ_MAX   4096
#define PN_MHTTP_IDLE_MS   10000

/*
 * Look at the request bytes received so far (buf, n).  0: the head is not
 * complete yet (read more, unless n reached PN_MHTTP_REQ_MAX: then 431);
 * else the HTTP status to answer: 200 (GET /metrics), 400, 404, 405.
 */
int pn_mhttp_parse(const char *buf, size_t n);

/*
 * The whole response for status (body: the exposition for 200, else a
 * one-line reason is used): *out heap, *len bytes.  0 or -ENOMEM.
 */
int pn_mhttp_response(int status, const char *body, size_t body_len, char **out, size_t *len);

/* Fill m with the daemon's metrics (families declared here).  0 or an
 * error (answered 500). */
typedef int (*pn_mhttp_collect_fn)(struct pn_metrics *m, void *user);

struct pn_mhttp;

/*
 * Listen on addr ("ip:port", "[v6]:port"; port 0 = any) on loop; module
 * names the daemon in logs.  0 and *out, PN_E_CONFIG (address), -ENOMEM,
 * -errno (bind, listen).
 */
int pn_mhttp_start(uv_loop_t *loop, const char *addr, const char *module,
		   pn_mhttp_collect_fn collect, void *user, struct pn_mhttp **out);
/* The bound port. */
int pn_mhttp_port(const struct pn_mhttp *s);
/* Stop listening, close every connection; cb(arg) when all is released.
 * NULL-safe (cb is then called at once if set). */
void pn_mhttp_close(struct pn_mhttp *s, void (*cb)(void *arg), void *arg);
#endif
