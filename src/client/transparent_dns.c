/* DNS_MSG flows for the local responder; see transparent_dns.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/transparent_dns.h"
#include "client/tunnels.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "tunnel/flowproto.h"

struct tdq {
	struct pn_ctuns *tuns;
	struct pn_creq req;
	struct pn_flow *f;
	void *ctx;	/* the responder's query */
	int waiting;	/* request waits for a tunnel */
	int answered;	/* the responder has its result (or cancelled) */
	size_t qlen, qoff;
	size_t rlen;
	uint8_t *r;	/* 2 + up to PN_DNS_MSG_MAX */
	uint8_t q[];	/* framed query */
};

static void tdq_free(struct tdq *d)
{
	free(d->r);
	free(d);
}

/* Tell the responder once. */
static void answer(struct tdq *d, const uint8_t *reply, size_t n)
{
	if (d->answered)
		return;
	d->answered = 1;
	pn_dnssrv_tunnel_done(d->ctx, reply, n);
}

static void push_query(struct tdq *d)
{
	ssize_t w;

	if (!d->f || d->qoff >= d->qlen)
		return;
	w = pn_flow_write(d->f, d->q + d->qoff, d->qlen - d->qoff);
	if (w < 0)
		return; /* closed follows */
	d->qoff += (size_t)w;
	if (d->qoff == d->qlen)
		pn_flow_shutdown(d->f);
}

static void op_status(struct pn_flow *f, const struct pn_flow_status *st, void *u)
{
	(void)f, (void)st, (void)u; /* a refusal: closed follows with its code */
}

static void op_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct tdq *d = u;

	pn_flow_consumed(f, n);
	if (d->answered)
		return;
	if (!d->r && !(d->r = malloc(2 + PN_DNS_MSG_MAX))) {
		answer(d, NULL, 0);
		return;
	}
	if (n > 2 + PN_DNS_MSG_MAX - d->rlen) { /* more than one framed reply */
		answer(d, NULL, 0);
		return;
	}
	memcpy(d->r + d->rlen, p, n);
	d->rlen += n;
	if (d->rlen >= 2 && d->rlen >= 2 + (size_t)pn_load_be16(d->r))
		answer(d, d->r + 2, pn_load_be16(d->r));
}

static void op_writable(struct pn_flow *f, void *u)
{
	(void)f;
	push_query(u);
}

static void op_closed(struct pn_flow *f, int code, void *u)
{
	struct tdq *d = u;

	(void)f;
	d->f = NULL;
	if (!d->answered)
		PN_LOG_DEBUG("client", "dns_tunnel_failed", "name=%s code=%s", d->req.host,
			     pn_flow_code_name(code));
	answer(d, NULL, 0);
	tdq_free(d);
}

static const struct pn_flow_ops tdq_ops = {
	.status = op_status,
	.data = op_data,
	.writable = op_writable,
	.closed = op_closed,
};

static void on_flow(struct pn_creq *r, struct pn_flow *f)
{
	struct tdq *d = r->user;

	d->waiting = 0;
	d->f = f;
	push_query(d);
}

static void on_fail(struct pn_creq *r, int err)
{
	struct tdq *d = r->user;

	d->waiting = 0;
	PN_LOG_DEBUG("client", "dns_tunnel_failed", "name=%s err=%s", d->req.host, pn_errname(err));
	answer(d, NULL, 0);
	tdq_free(d);
}

static int ask(void *user, const char *name, const uint8_t *q, size_t n, void *ctx, void **handle)
{
	struct tdq *d;
	struct pn_flow *f = NULL;
	int r;

	*handle = NULL;
	if (n > PN_DNS_MSG_MAX || !(d = calloc(1, sizeof(*d) + 2 + n)))
		return -ENOMEM;
	d->tuns = user;
	d->ctx = ctx;
	pn_store_be16(d->q, (uint16_t)n);
	memcpy(d->q + 2, q, n);
	d->qlen = 2 + n;
	d->req.proto = 0; /* DNS_MSG: any entry for the name */
	snprintf(d->req.host, sizeof(d->req.host), "%s", name);
	d->req.ops = &tdq_ops;
	d->req.user = d;
	d->req.on_flow = on_flow;
	d->req.on_fail = on_fail;
	r = pn_ctuns_request(d->tuns, &d->req, &f);
	if (r < 0) {
		PN_LOG_DEBUG("client", "dns_tunnel_refused", "name=%s err=%s", name, pn_errname(r));
		free(d);
		return r;
	}
	d->waiting = r == 1;
	d->f = f;
	push_query(d);
	*handle = d;
	return 0;
}

static void cancel(void *user, void *handle)
{
	struct tdq *d = handle;

	(void)user;
	d->answered = 1;
	if (d->waiting) {
		pn_ctuns_cancel(d->tuns, &d->req);
		tdq_free(d);
	} else if (d->f) {
		pn_flow_close(d->f, PN_FLOW_RESET); /* no callback after this */
		tdq_free(d);
	}
	/* else: closed or on_fail already freed it?  No: they answer first,
	 * and the responder never cancels an answered query. */
}

void pn_tdns_hooks(struct pn_ctuns *tuns, struct pn_dnssrv_tunnel *ops)
{
	ops->ask = ask;
	ops->cancel = cancel;
	ops->user = tuns;
}
