/* The relay daemon.  See daemon.h. */
#include "relay/daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics_http.h"
#include "node/metrics.h"
#include "node/node.h"

struct pn_relay_daemon {
	struct pn_node_ident id;
	struct pn_relay_server *srv;
	struct pn_node_ctl ctl;
	int own_ctl, stopping;
	struct pn_node *node;
	struct pn_mhttp *metrics;
	void (*close_cb)(void *);
	void *close_arg;
};

/* A renewed credential: new connections present it (server.h). */
static int h_credential(void *user, const char *cert_pem, const struct pn_cred_info *ci)
{
	struct pn_relay_daemon *d = user;

	(void)ci;
	return pn_relay_server_set_credential(d->srv, d->id.key, cert_pem);
}

static void finish(void *arg)
{
	struct pn_relay_daemon *d = arg;
	void (*cb)(void *) = d->close_cb;
	void *cb_arg = d->close_arg;

	if (d->own_ctl)
		pn_node_ctl_free(&d->ctl);
	pn_node_ident_free(&d->id);
	free(d);
	if (cb)
		cb(cb_arg);
}

static void srv_closed(void *arg)
{
	struct pn_relay_daemon *d = arg;
	struct pn_node *n = d->node;

	d->srv = NULL;
	d->node = NULL;
	if (n)
		pn_node_close(n, finish, d);
	else
		finish(d);
}

static void metrics_closed(void *arg)
{
	struct pn_relay_daemon *d = arg;

	if (d->srv)
		pn_relay_server_close(d->srv, srv_closed, d);
	else
		srv_closed(d);
}

void pn_relay_daemon_close(struct pn_relay_daemon *d, void (*cb)(void *arg), void *arg)
{
	if (!d || d->stopping)
		return;
	d->stopping = 1;
	d->close_cb = cb;
	d->close_arg = arg;
	if (d->metrics) { /* the listener first: no scrape sees a closed server */
		pn_mhttp_close(d->metrics, metrics_closed, d);
		d->metrics = NULL;
	} else {
		metrics_closed(d);
	}
}

/* A scrape (core/metrics_http.h), on the loop thread. */
static int collect(struct pn_metrics *m, void *user)
{
	struct pn_relay_daemon *d = user;
	int r;

	if (!d->srv)
		return PN_E_CLOSED;
	if ((r = pn_relay_server_metrics(d->srv, m)) != 0)
		return r;
	return pn_node_metrics(m, "relay", &d->id, d->node);
}

int pn_relay_daemon_new(uv_loop_t *loop, const struct pn_relay_daemon_config *cfg,
			struct pn_relay_daemon **out, char *err, size_t errsz)
{
	struct pn_relay_daemon *d = calloc(1, sizeof(*d));
	struct pn_relay_server_config sc;
	const char *failed;
	int r;

	*out = NULL;
	if (!d) {
		snprintf(err, errsz, "%s", pn_strerror(-ENOMEM));
		return -ENOMEM;
	}
	r = pn_node_ident_load(&d->id, PN_CRED_RELAY, cfg->state, cfg->ca, cfg->cert, cfg->key,
			       (uint64_t)pn_wall_s(), &failed);
	if (r) {
		snprintf(err, errsz, "%s %s: %s",
			 r == PN_E_WRONG_HOLDER	    ? "credential certifies another key:"
			 : failed == d->id.ca_path  ? "CA"
			 : failed == d->id.key_path ? "key"
						    : "cannot read",
			 failed ? failed : "?", pn_strerror(r));
		goto fail;
	}
	sc = cfg->server;
	sc.anchor = d->id.anchor;
	sc.key = d->id.key;
	sc.cert_pem = d->id.cert_pem;
	if ((r = pn_relay_server_new(loop, &sc, &d->srv)) != 0) {
		snprintf(err, errsz, "%s", pn_strerror(r));
		d->srv = NULL;
		goto fail;
	}
	d->ctl = cfg->ctl;
	if (!d->ctl.ops && cfg->state) {
		r = pn_node_ctl_open(cfg->state, &d->ctl);
		if (r == 0) {
			d->own_ctl = 1;
		} else {
			/* serve anyway; without renewal the credential runs out */
			PN_LOG_WARN("relay", "controller_unconfigured", "state=%s err=%s",
				    cfg->state, pn_errname(r));
			r = 0;
		}
	}
	if (d->ctl.ops) {
		struct pn_node_config nc = {0};

		nc.loop = loop;
		nc.module = "relay";
		nc.ident = &d->id;
		nc.ctl = d->ctl;
		nc.renew.first_ms = (uint64_t)cfg->renew_after_s * 1000;
		nc.hooks.credential = h_credential;
		nc.report_status = 1; /* version and presence for the console */
		nc.user = d;
		if ((r = pn_node_new(&nc, &d->node)) != 0) {
			snprintf(err, errsz, "controller: %s", pn_strerror(r));
			goto fail;
		}
	}
	if (cfg->metrics_listen &&
	    (r = pn_mhttp_start(loop, cfg->metrics_listen, "relay", collect, d, &d->metrics)) != 0) {
		snprintf(err, errsz, "metrics listener %s: %s", cfg->metrics_listen,
			 pn_strerror(r));
		goto fail;
	}
	*out = d;
	return 0;
fail:
	pn_relay_daemon_close(d, NULL, NULL);
	return r;
}

struct pn_relay_server *pn_relay_daemon_server(struct pn_relay_daemon *d)
{
	return d->srv;
}

int pn_relay_daemon_metrics_port(const struct pn_relay_daemon *d)
{
	return pn_mhttp_port(d->metrics);
}
