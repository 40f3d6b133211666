/*
 * sd_notify(3) by hand: the protocol is one datagram of "KEY=value" lines
 * to the socket in $NOTIFY_SOCKET, so libsystemd is not worth a dependency.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/sdnotify.h"

/* $NOTIFY_SOCKET as a sockaddr_un: 1 if set and valid, 0 if unset. */
static int notify_addr(struct sockaddr_un *sa, socklen_t *len)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!e || !*e)
		return 0;
	n = strlen(e);
	/* a path or an abstract name; systemd's other forms (vsock:) are not ours */
	if ((e[0] != '/' && e[0] != '@') || n < 2 || n > sizeof(sa->sun_path) - 1)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, e, n);
	if (e[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends it */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
	return 1;
}

int pn_sdnotify_send(const char *state)
{
	struct sockaddr_un sa;
	socklen_t salen = 0;
	size_t len = strlen(state);
	int fd, r;

	if ((r = notify_addr(&sa, &salen)) <= 0)
		return r;
	if (len > PN_SDNOTIFY_MAX)
		return -EMSGSIZE;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	r = 1;
	if (sendto(fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int env_u64(const char *name, uint64_t *out)
{
	const char *e = getenv(name);
	char *end;
	unsigned long long v;

	if (!e || *e < '0' || *e > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(e, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

uint64_t pn_sdnotify_watchdog_usec(void)
{
	uint64_t usec, pid;

	if (env_u64("WATCHDOG_USEC", &usec) || usec == 0)
		return 0;
	/* the manager names the process it watches; a child must not ping */
	if (getenv("WATCHDOG_PID") && (env_u64("WATCHDOG_PID", &pid) || pid != (uint64_t)getpid()))
		return 0;
	return usec;
}

/* Send, logging the first failure only (a broken socket stays broken). */
static void notify(const char *state, int *warned)
{
	int r = pn_sdnotify_send(state);

	if (r < 0 && !*warned) {
		*warned = 1;
		PN_LOG_WARN("core", "sdnotify_failed", "err=%s state=%.*s", pn_errname(r),
			    (int)strcspn(state, "\n"), state);
	}
}

static int send_ready(const char *status, int *warned)
{
	char msg[PN_SDNOTIFY_MAX + 1];
	int n;

	n = status ? snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status)
		   : snprintf(msg, sizeof(msg), "READY=1");
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EMSGSIZE;
	notify(msg, warned);
	return 0;
}

/* ------------------------------------------------------------- libuv -- */

struct sdn {
	uv_timer_t watchdog;
	uv_signal_t sigterm, sigint;
	int nopen, stopping, warned;
};

static void on_closed(uv_handle_t *h)
{
	struct sdn *s = h->data;

	if (--s->nopen == 0)
		free(s);
}

static void on_watchdog(uv_timer_t *t)
{
	struct sdn *s = t->data;

	notify("WATCHDOG=1", &s->warned);
}

static void on_stop_signal(uv_signal_t *h, int sig)
{
	struct sdn *s = h->data;

	(void)sig;
	if (s->stopping)
		return;
	s->stopping = 1;
	notify("STOPPING=1", &s->warned);
	uv_close((uv_handle_t *)&s->watchdog, on_closed);
	uv_close((uv_handle_t *)&s->sigterm, on_closed);
	uv_close((uv_handle_t *)&s->sigint, on_closed);
}

int pn_sdnotify_ready(uv_loop_t *loop, const char *status)
{
	struct sockaddr_un sa;
	socklen_t salen;
	struct sdn *s;
	uint64_t usec, ms;
	int r;

	if ((r = notify_addr(&sa, &salen)) <= 0) {
		if (r < 0)
			PN_LOG_WARN("core", "sdnotify_failed", "err=%s", pn_errname(r));
		return r;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	uv_timer_init(loop, &s->watchdog);
	uv_signal_init(loop, &s->sigterm);
	uv_signal_init(loop, &s->sigint);
	s->nopen = 3;
	s->watchdog.data = s->sigterm.data = s->sigint.data = s;
	uv_unref((uv_handle_t *)&s->watchdog);
	uv_unref((uv_handle_t *)&s->sigterm);
	uv_unref((uv_handle_t *)&s->sigint);
	if ((r = send_ready(status, &s->warned)) ||
	    (r = uv_signal_start(&s->sigterm, on_stop_signal, SIGTERM)) ||
	    (r = uv_signal_start(&s->sigint, on_stop_signal, SIGINT)))
		goto fail;
	usec = pn_sdnotify_watchdog_usec();
	ms = usec / 2000;
	if (usec) {
		if (ms == 0)
			ms = 1; /* an interval under 2 ms: ping as often as a timer can */
		if ((r = uv_timer_start(&s->watchdog, on_watchdog, ms, ms)))
			goto fail;
	}
	PN_LOG_INFO("core", "sdnotify_ready", "watchdog_ms=%llu", (unsigned long long)ms);
	return 0;
fail:
	s->stopping = 1;
	uv_close((uv_handle_t *)&s->watchdog, on_closed);
	uv_close((uv_handle_t *)&s->sigterm, on_closed);
	uv_close((uv_handle_t *)&s->sigint, on_closed);
	return r;
}

/* ------------------------------------------------------------ threads -- */

int pn_sdnotify_sigwait(const sigset_t *set, int *sig, const char *status)
{
	struct sockaddr_un sa;
	socklen_t salen;
	struct timespec ts;
	uint64_t usec, half;
	int r, warned = 0;

	if ((r = notify_addr(&sa, &salen)) <= 0) {
		if (r < 0)
			PN_LOG_WARN("core", "sdnotify_failed", "err=%s", pn_errname(r));
		r = sigwait(set, sig);
		return -r;
	}
	if ((r = send_ready(status, &warned)))
		return r;
	usec = pn_sdnotify_watchdog_usec();
	half = usec / 2 ? usec / 2 : 1;
	ts.tv_sec = (time_t)(half / 1000000);
	ts.tv_nsec = (long)(half % 1000000) * 1000;
	PN_LOG_INFO("core", "sdnotify_ready", "watchdog_ms=%llu",
		    (unsigned long long)(usec ? half / 1000 : 0));
	for (;;) {
		r = usec ? sigtimedwait(set, NULL, &ts) : sigwaitinfo(set, NULL);
		if (r > 0)
			break;
		if (errno == EAGAIN)
			notify("WATCHDOG=1", &warned);
		else if (errno != EINTR)
			return -errno;
	}
	*sig = r;
	if (r == SIGTERM || r == SIGINT)
		notify("STOPPING=1", &warned);
	return 0;
}
