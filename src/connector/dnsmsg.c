/*
 * DNS_MSG flows at the connector: a record of any type for a name the
 * client may reach, answered by the connector's own resolver (the one its
 * /etc/resolv.conf names, on the resource network).
 *
 * The client writes one query framed as DNS over TCP (u16 length +
 * message) and finishes.  The query is parsed (core/dns_msg.h) and must
 * be a standard query with exactly one question, class IN, for exactly the
 * name of the flow header (the name the policy check allowed): nothing
 * else is asked of the resolver on the client's behalf.  The connector
 * does not forward the client's bytes: it makes its own query for (name,
 * type) with libresolv (res_nmkquery: a fresh random id; res_nsend: the
 * reply must match id and question, TC retried over TCP), on the thread
 * pool (it blocks), and writes the reply back framed the same way, then
 * finishes.  A query that fails the checks resets the flow with
 * PN_FLOW_BAD_REQUEST; a resolver that does not answer, with
 * PN_FLOW_RESOLVE_FAILED (the client answers SERVFAIL).
 */
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns_msg.h"
#include "connector/connector_int.h"
#include "core/buf.h"
#include "core/err.h"

#define DQ_MAX (2 + 4096) /* one framed query: far more than a question needs */

struct cdns {
	uv_work_t work;
	struct cflow *cf;
	uint8_t q[DQ_MAX];
	size_t qlen;
	char name[PN_DNS_PNAME_MAX + 1];
	uint16_t qtype;
	int busy;	/* work queued */
	int ok;		/* resolver answered */
	uint8_t *ans;	/* 2-byte frame + reply */
	size_t anslen, ansoff;
	int fin_sent;
};

static void dm_abort(struct cflow *cf, int code, const char *why)
{
	snprintf(cf->end_reason, sizeof(cf->end_reason), "%s", why);
	if (cf->f) {
		struct pn_flow *f = cf->f;
		cf->f = NULL;
		pn_flow_close(f, code);
	}
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	pn_cflow_release(cf);
}

static void dm_work(uv_work_t *w)
{
	struct cdns *d = w->data;
	struct __res_state rs;
	uint8_t qb[PN_DNS_NAME_WIRE_MAX + 64];
	int n, len;

	d->ok = 0;
	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return;
	n = res_nmkquery(&rs, ns_o_query, d->name, ns_c_in, d->qtype, NULL, 0, NULL, qb,
			 (int)sizeof(qb));
	if (n > 0 && (d->ans = malloc(2 + PN_DNS_MSG_MAX)) != NULL) {
		len = res_nsend(&rs, qb, n, d->ans + 2, PN_DNS_MSG_MAX);
		if (len >= PN_DNS_HDR_LEN && len <= PN_DNS_MSG_MAX) {
			pn_store_be16(d->ans, (uint16_t)len);
			d->anslen = 2 + (size_t)len;
			d->ok = 1;
		}
	}
	res_nclose(&rs);
}

static void dm_flush(struct cflow *cf)
{
	struct cdns *d = cf->dns;
	ssize_t w;

	if (!cf->f || !d->ans)
		return;
	if (d->ansoff < d->anslen) {
		w = pn_flow_write(cf->f, d->ans + d->ansoff, d->anslen - d->ansoff);
		if (w < 0) {
			dm_abort(cf, PN_FLOW_RESET, "tunnel_write");
			return;
		}
		d->ansoff += (size_t)w;
		cf->down += (uint64_t)w;
	}
	if (d->ansoff == d->anslen && !d->fin_sent) {
		d->fin_sent = 1;
		pn_flow_shutdown(cf->f);
	}
}

static void dm_after(uv_work_t *w, int status)
{
	struct cdns *d = w->data;
	struct cflow *cf = d->cf;

	d->busy = 0;
	cf->pending--;
	if (cf->released) {
		pn_cflow_maybe_free(cf);
		return;
	}
	if (status != 0 || !d->ok) {
		dm_abort(cf, PN_FLOW_RESOLVE_FAILED, "resolver_failed");
		return;
	}
	dm_flush(cf);
}

/* The framed query is complete: check it, then ask the resolver. */
static void dm_query(struct cflow *cf)
{
	struct cdns *d = cf->dns;
	struct pn_dns_msg m;
	size_t len = pn_load_be16(d->q);

	if (pn_dns_parse(d->q + 2, len, &m) != 0 || (m.flags & PN_DNS_F_QR) ||
	    PN_DNS_OPCODE(m.flags) != 0 || m.qdcount != 1 || m.ancount || m.nscount ||
	    m.name_odd || m.qclass != PN_DNS_CLASS_IN || strcmp(m.qname, cf->dest) != 0 ||
	    m.qtype == PN_DNS_T_OPT) {
		/* another name than the one the policy check allowed, or not
		 * a plain question */
		dm_abort(cf, PN_FLOW_BAD_REQUEST, "bad_dns_query");
		return;
	}
	snprintf(d->name, sizeof(d->name), "%s", m.qname);
	d->qtype = m.qtype;
	d->work.data = d;
	if (uv_queue_work(cf->c->cfg.loop, &d->work, dm_work, dm_after) != 0) {
		dm_abort(cf, PN_FLOW_EXHAUSTED, "queue_work");
		return;
	}
	d->busy = 1;
	cf->pending++;
}

static void dm_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *cf = u;
	struct cdns *d = cf->dns;

	if (cf->released)
		return;
	pn_flow_consumed(f, n);
	cf->up += n;
	/* one query per flow, bounded: anything beyond it is a bad request */
	if (d->busy || d->ans || n > sizeof(d->q) - d->qlen) {
		dm_abort(cf, PN_FLOW_BAD_REQUEST, "bad_dns_query");
		return;
	}
	memcpy(d->q + d->qlen, p, n);
	d->qlen += n;
	if (d->qlen >= 2) {
		size_t want = 2 + (size_t)pn_load_be16(d->q);
		if (d->qlen > want || want < 2 + PN_DNS_HDR_LEN) {
			dm_abort(cf, PN_FLOW_BAD_REQUEST, "bad_dns_query");
			return;
		}
		if (d->qlen == want)
			dm_query(cf);
	}
}

static void dm_eof(struct pn_flow *f, void *u)
{
	struct cflow *cf = u;

	(void)f;
	if (!cf->released && !cf->dns->busy && !cf->dns->ans)
		dm_abort(cf, PN_FLOW_BAD_REQUEST, "bad_dns_query"); /* ended before a query */
}

static void dm_writable(struct pn_flow *f, void *u)
{
	struct cflow *cf = u;

	(void)f;
	if (!cf->released)
		dm_flush(cf);
}

static void dm_closed(struct pn_flow *f, int code, void *u)
{
	struct cflow *cf = u;

	(void)f;
	cf->f = NULL;
	if (!cf->end_reason[0])
		snprintf(cf->end_reason, sizeof(cf->end_reason), "%s",
			 code == PN_FLOW_OK ? "dns_answered" : pn_flow_code_name(code));
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	pn_cflow_release(cf);
}

static const struct pn_flow_ops dm_ops = {
	.data = dm_data,
	.eof = dm_eof,
	.writable = dm_writable,
	.closed = dm_closed,
};

void pn_cdnsmsg_start(struct cflow *cf)
{
	struct pn_flow_status st;

	if (!(cf->dns = calloc(1, sizeof(*cf->dns)))) {
		pn_cflow_fail(cf, PN_FLOW_EXHAUSTED, "out of memory");
		return;
	}
	cf->dns->cf = cf;
	cf->st = CF_OPEN;
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	if (pn_flow_respond(cf->f, &st, &dm_ops, cf) != 0) {
		cf->f = NULL;
		pn_cflow_release(cf);
		return;
	}
	pn_connector_flow_event(cf, "start", "allow", "dns");
}

void pn_cdnsmsg_stop(struct cflow *cf)
{
	if (cf->dns && cf->dns->busy)
		uv_cancel((uv_req_t *)&cf->dns->work); /* dm_after follows either way */
}

void pn_cdnsmsg_free(struct cflow *cf)
{
	if (cf->dns) {
		free(cf->dns->ans);
		free(cf->dns);
		cf->dns = NULL;
	}
}
