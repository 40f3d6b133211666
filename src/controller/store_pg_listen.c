/*
 * PostgreSQL change listener (see store_pg.h): one connection per store
 * that LISTENs on PN_PG_CHANNEL.  version_bump NOTIFYs inside its
 * transaction, so the notification is delivered to every listening
 * controller exactly when the change commits.  While the server is away
 * the thread retries once a second; after a reconnection it reports the
 * current version, so nothing committed in between is missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/pq_dl.h"
#include "controller/store_pg.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#define LISTEN_RETRY_MS 1000

struct pn_pg_listen {
	char *url;
	void (*cb)(void *arg, uint64_t version);
	void *arg;
	int pipe[2]; /* written to stop the thread */
	pthread_t thread;
};

static PGconn *subscribe(struct pn_pg_listen *l, int *logged_down)
{
	char err[256];
	PGconn *c = pn_pg_connect(l->url, err, sizeof(err));
	PGresult *res;
	uint64_t v = 0;

	if (!c) {
		if (!*logged_down)
			PN_LOG_WARN("store", "listen_down", "backend=postgres msg=\"%s\"", err);
		*logged_down = 1;
		return NULL;
	}
	res = PQexec(c, "LISTEN " PN_PG_CHANNEL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	res = PQexec(c, "SELECT value FROM meta WHERE key = 'policy_version'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (*logged_down)
		PN_LOG_INFO("store", "listen_up", "backend=postgres policy_version=%llu",
			    (unsigned long long)v);
	*logged_down = 0;
	if (v)
		l->cb(l->arg, v);
	return c;
}

static void *listen_thread(void *arg)
{
	struct pn_pg_listen *l = arg;
	PGconn *c = NULL;
	int logged_down = 0;

	for (;;) {
		struct pollfd fds[2];
		uint64_t maxv = 0;
		PGnotify *n;

		if (!c)
			c = subscribe(l, &logged_down);
		fds[0].fd = l->pipe[0];
		fds[0].events = POLLIN;
		fds[1].fd = c ? PQsocket(c) : -1;
		fds[1].events = POLLIN;
		fds[0].revents = fds[1].revents = 0;
		if (poll(fds, 2, c ? 10000 : LISTEN_RETRY_MS) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (!c || !fds[1].revents)
			continue;
		if (!PQconsumeInput(c) || PQstatus(c) == CONNECTION_BAD) {
			PN_LOG_WARN("store", "listen_lost", "backend=postgres");
			logged_down = 1;
			PQfinish(c);
			c = NULL;
			continue;
		}
		while ((n = PQnotifies(c))) {
			uint64_t v = strtoull(n->extra, NULL, 10);

			if (v > maxv)
				maxv = v;
			PQfreemem(n);
		}
		if (maxv)
			l->cb(l->arg, maxv);
	}
	PQfinish(c);
	return NULL;
}

int pn_pg_listen_start(const char *url, void (*cb)(void *arg, uint64_t version), void *arg,
		       struct pn_pg_listen **out)
{
	struct pn_pg_listen *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->cb = cb;
	l->arg = arg;
	l->pipe[0] = l->pipe[1] = -1;
	if (!(l->url = strdup(url))) {
		r = -ENOMEM;
		goto fail;
	}
	if (pipe2(l->pipe, O_CLOEXEC)) {
		r = -errno;
		goto fail;
	}
	if ((r = -pthread_create(&l->thread, NULL, listen_thread, l)))
		goto fail;
	*out = l;
	return 0;
fail:
	if (l->pipe[0] >= 0) {
		close(l->pipe[0]);
		close(l->pipe[1]);
	}
	if (l->url)
		pn_wipe(l->url, strlen(l->url));
	free(l->url);
	free(l);
	return r;
}

void pn_pg_listen_stop(struct pn_pg_listen *l)
{
	if (!l)
		return;
	if (write(l->pipe[1], "x", 1) < 0)
		PN_LOG_WARN("store", "listen_stop", "err=%s", pn_errname(-errno));
	pthread_join(l->thread, NULL);
	close(l->pipe[0]);
	close(l->pipe[1]);
	pn_wipe(l->url, strlen(l->url));
	free(l->url);
	free(l);
}
