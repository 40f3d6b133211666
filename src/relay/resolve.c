#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "relay/resolve.h"

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pn_resolve *rs = req->data;
	int r = 0;

	rs->busy = 0;
	rs->n = 0;
	if (status == UV_ECANCELED) {
		r = PN_E_CLOSED;
	} else if (status < 0) {
		PN_LOG_WARN("relay", "resolve_failed", "host=%s err=%s", rs->host,
			    pn_errname(status));
		r = PN_E_RELAY_UNREACHABLE;
	} else {
		for (struct addrinfo *a = res; a && rs->n < PN_RESOLVE_MAX; a = a->ai_next)
			if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
			    a->ai_addrlen <= sizeof(rs->addr[0])) {
				memset(&rs->addr[rs->n], 0, sizeof(rs->addr[0]));
				memcpy(&rs->addr[rs->n++], a->ai_addr, a->ai_addrlen);
			}
		if (!rs->n)
			r = PN_E_RELAY_UNREACHABLE;
	}
	uv_freeaddrinfo(res);
	rs->cb(rs, r, rs->arg);
}

int pn_resolve_start(uv_loop_t *loop, struct pn_resolve *rs, const char *host, uint16_t port,
		     int socktype, void (*cb)(struct pn_resolve *, int, void *), void *arg)
{
	struct addrinfo hints;
	char service[8];
	int r;

	if (rs->busy)
		return -EBUSY;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	snprintf(rs->host, sizeof(rs->host), "%s", host);
	rs->cb = cb;
	rs->arg = arg;
	rs->req.data = rs;
	if ((r = uv_getaddrinfo(loop, &rs->req, on_resolved, host, service, &hints)))
		return r;
	rs->busy = 1;
	return 0;
}

void pn_resolve_cancel(struct pn_resolve *rs)
{
	if (rs->busy)
		uv_cancel((uv_req_t *)&rs->req);
}
