/* A TCP listener with a pause on resource exhaustion; see accept.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/accept.h"
#include "core/err.h"
#include "core/fdlimit.h"
#include "core/log.h"

struct pn_acceptor {
	uv_loop_t *loop;
	int fd;
	uv_poll_t poll;
	uv_timer_t pause;
	uv_timer_t quiet; /* ends a burst after PN_ACCEPT_BURST_QUIET_MS without failure */
	int handles;	  /* open libuv handles (close waits for all) */
	int closing;
	pn_accept_cb cb;
	void *user;
	char module[32];
	char label[128];
	/* burst state */
	int in_burst, last_err;
	uint32_t pause_ms;
	uint64_t burst_start_ms, burst_failures, burst_paused_ms, burst_accepted;
	struct pn_acceptor_stats st;
	void (*close_cb)(void *);
	void *close_arg;
};

static void on_readable(uv_poll_t *h, int status, int events);

static int is_exhaustion(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOMEM || err == -ENOBUFS;
}

static void pause_done(uv_timer_t *h)
{
	struct pn_acceptor *a = h->data;

	if (a->closing)
		return;
	a->st.paused = 0;
	uv_poll_start(&a->poll, UV_READABLE, on_readable);
}

static void burst_over(uv_timer_t *h)
{
	struct pn_acceptor *a = h->data;

	if (a->closing || !a->in_burst)
		return;
	PN_LOG_INFO(
	    a->module, "resource_recovered",
	    "what=accept listener=%s cause=%s burst_ms=%llu paused_ms=%llu failures=%llu "
	    "accepted_meanwhile=%llu",
	    a->label, pn_errname(a->last_err),
	    (unsigned long long)(uv_now(a->loop) - a->burst_start_ms - PN_ACCEPT_BURST_QUIET_MS),
	    (unsigned long long)a->burst_paused_ms, (unsigned long long)a->burst_failures,
	    (unsigned long long)a->burst_accepted);
	a->in_burst = 0;
	a->burst_failures = a->burst_paused_ms = a->burst_accepted = 0;
}

void pn_acceptor_exhausted(struct pn_acceptor *a, int err)
{
	a->st.exhausted++;
	a->burst_failures++;
	if (!a->in_burst || err != a->last_err) {
		/* The first failure of a burst (or a new cause): log it once. */
		char open_s[24] = "", lim_s[24] = "unlimited";
		int open_n = err == -EMFILE ? -1 : pn_fdlimit_open_count();
		uint64_t lim = pn_fdlimit_soft();

		/* At EMFILE the count is the limit (and listing it needs an fd). */
		if (open_n >= 0)
			snprintf(open_s, sizeof(open_s), " fds_open=%d", open_n);
		if (lim != UINT64_MAX)
			snprintf(lim_s, sizeof(lim_s), "%llu", (unsigned long long)lim);
		if (!a->in_burst)
			a->burst_start_ms = uv_now(a->loop);
		a->in_burst = 1;
		a->st.bursts++;
		PN_LOG_WARN(a->module, "resource_exhausted",
			    "what=accept listener=%s cause=%s%s fd_limit=%s "
			    "action=\"pause accepting, connections wait in the backlog\"",
			    a->label, pn_errname(err), open_s, lim_s);
	}
	a->last_err = err;
	uv_timer_start(&a->quiet, burst_over, PN_ACCEPT_BURST_QUIET_MS, 0);
	if (a->closing || a->st.paused)
		return;
	a->st.paused = 1;
	a->burst_paused_ms += a->pause_ms;
	uv_poll_stop(&a->poll);
	uv_timer_start(&a->pause, pause_done, a->pause_ms, 0);
	/* Failing again soon after resuming waits longer; an accept that
	   succeeds brings the pause back to the minimum. */
	if (a->pause_ms < PN_ACCEPT_PAUSE_MAX_MS) {
		a->pause_ms *= 2;
		if (a->pause_ms > PN_ACCEPT_PAUSE_MAX_MS)
			a->pause_ms = PN_ACCEPT_PAUSE_MAX_MS;
	}
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct pn_acceptor *a = h->data;

	(void)events;
	if (status < 0)
		return; /* EBADF etc.: nothing to accept; the next event retries */
	for (int i = 0; i < PN_ACCEPT_BATCH && !a->closing && !a->st.paused; i++) {
		int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = -errno;
			if (err == -EAGAIN || err == -EWOULDBLOCK)
				return;
			if (err == -EINTR || err == -ECONNABORTED || err == -EPROTO)
				continue;
			if (is_exhaustion(err)) {
				pn_acceptor_exhausted(a, err);
				return;
			}
			/* Anything else (e.g. EPERM from a firewall hook) concerns
			   one connection: log it, keep going next event. */
			PN_LOG_WARN(a->module, "accept_failed", "listener=%s err=%s", a->label,
				    pn_errname(err));
			return;
		}
		if (a->in_burst)
			a->burst_accepted++;
		a->pause_ms = PN_ACCEPT_PAUSE_MIN_MS;
		a->st.accepted++;
		a->cb(a, fd, a->user);
	}
}

int pn_acceptor_new(const struct pn_acceptor_config *cfg, struct pn_acceptor **out)
{
	struct pn_acceptor *a;
	socklen_t len;
	int one = 1, r;

	*out = NULL;
	if (!cfg || !cfg->loop || !cfg->addr || !cfg->cb ||
	    (cfg->addr->sa_family != AF_INET && cfg->addr->sa_family != AF_INET6))
		return PN_E_INVAL;
	len = cfg->addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6);
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	a->loop = cfg->loop;
	a->cb = cfg->cb;
	a->user = cfg->user;
	snprintf(a->module, sizeof(a->module), "%s", cfg->module ? cfg->module : "core");
	snprintf(a->label, sizeof(a->label), "%s", cfg->label ? cfg->label : "-");
	a->fd = socket(cfg->addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		r = -errno;
		goto fail;
	}
	(void)setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg->ip_transparent &&
	    (cfg->addr->sa_family == AF_INET6
		 ? setsockopt(a->fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))
		 : setsockopt(a->fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one))) != 0) {
		r = -errno;
		goto fail;
	}
	if (bind(a->fd, cfg->addr, len) != 0 ||
	    listen(a->fd, cfg->backlog > 0 ? cfg->backlog : 4096) != 0) {
		r = -errno;
		goto fail;
	}
	if ((r = uv_poll_init_socket(a->loop, &a->poll, a->fd)) != 0)
		goto fail;
	a->poll.data = a;
	a->handles++;
	uv_timer_init(a->loop, &a->pause);
	a->pause.data = a;
	a->handles++;
	uv_timer_init(a->loop, &a->quiet);
	a->quiet.data = a;
	a->handles++;
	a->pause_ms = PN_ACCEPT_PAUSE_MIN_MS;
	uv_poll_start(&a->poll, UV_READABLE, on_readable);
	*out = a;
	return 0;
fail:
	if (a->handles) {
		/* the poll handle is live: let libuv release it first */
		pn_acceptor_close(a, NULL, NULL);
		return r;
	}
	if (a->fd >= 0)
		close(a->fd);
	free(a);
	return r;
}

int pn_acceptor_addr(const struct pn_acceptor *a, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	return getsockname(a->fd, (struct sockaddr *)ss, &len) == 0 ? 0 : -errno;
}

void pn_acceptor_stats(const struct pn_acceptor *a, struct pn_acceptor_stats *st)
{
	*st = a->st;
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_acceptor *a = h->data;

	if (--a->handles > 0)
		return;
	close(a->fd);
	if (a->close_cb)
		a->close_cb(a->close_arg);
	free(a);
}

void pn_acceptor_close(struct pn_acceptor *a, void (*cb)(void *arg), void *arg)
{
	if (!a || a->closing)
		return;
	a->closing = 1;
	a->close_cb = cb;
	a->close_arg = arg;
	uv_close((uv_handle_t *)&a->poll, handle_closed);
	if (a->handles > 1) {
		uv_close((uv_handle_t *)&a->pause, handle_closed);
		uv_close((uv_handle_t *)&a->quiet, handle_closed);
	}
}
