/*
 * core/sdnotify: a test socket stands in for the service manager and
 * receives what a daemon would send it (READY=1, WATCHDOG=1, STOPPING=1).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/sdnotify.h"

/* The manager's end: a datagram socket bound at `name` (path or @abstract). */
static int manager_socket(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len;
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_true(n < sizeof(sa.sun_path));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

/* The next message, waiting up to `ms`; "" when none came. */
static void recv_msg(int fd, char *buf, size_t sz, unsigned ms)
{
	uint64_t end = pn_now_ns() + ms * PN_NS_PER_MS;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sz - 1, 0);
		if (n >= 0) {
			buf[n] = '\0';
			return;
		}
		assert_int_equal(errno, EAGAIN);
		if (pn_now_ns() > end) {
			buf[0] = '\0';
			return;
		}
		usleep(2000);
	}
}

static char abstract_name[64];
static int ntests;

static int setup_env(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	/* a name per test: a failed one leaves its socket bound */
	snprintf(abstract_name, sizeof(abstract_name), "@pn-test-sdnotify-%d-%d", (int)getpid(),
		 ++ntests);
	return 0;
}

static void test_no_socket(void **state)
{
	uv_loop_t loop;

	(void)state;
	assert_int_equal(pn_sdnotify_send("READY=1"), 0);
	/* nothing is created: the loop has no handles and closes at once */
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(pn_sdnotify_ready(&loop, "x"), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_address(void **state)
{
	char longname[200];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(pn_sdnotify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	assert_int_equal(pn_sdnotify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(pn_sdnotify_send("READY=1"), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1); /* longer than sun_path */
	assert_int_equal(pn_sdnotify_send("READY=1"), -EINVAL);
	/* nobody listening there */
	setenv("NOTIFY_SOCKET", "/nonexistent/pn-notify", 1);
	assert_true(pn_sdnotify_send("READY=1") < 0);
}

static void test_send_path_and_abstract(void **state)
{
	char dir[] = "/tmp/pn-sdnotify-XXXXXX", path[128], buf[PN_SDNOTIFY_MAX + 8];
	char big[PN_SDNOTIFY_MAX + 2];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = manager_socket(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(pn_sdnotify_send("READY=1\nSTATUS=up"), 1);
	recv_msg(fd, buf, sizeof(buf), 5000);
	assert_string_equal(buf, "READY=1\nSTATUS=up");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pn_sdnotify_send(big), -EMSGSIZE);
	close(fd);
	unlink(path);
	rmdir(dir);

	fd = manager_socket(abstract_name);
	setenv("NOTIFY_SOCKET", abstract_name, 1);
	assert_int_equal(pn_sdnotify_send("WATCHDOG=1"), 1);
	recv_msg(fd, buf, sizeof(buf), 5000);
	assert_string_equal(buf, "WATCHDOG=1");
	close(fd);
}

static void test_watchdog_usec(void **state)
{
	char pid[32];

	(void)state;
	assert_int_equal(pn_sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(pn_sdnotify_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(pn_sdnotify_watchdog_usec(), 30000000);
	setenv("WATCHDOG_PID", "1", 1); /* another process is watched */
	assert_int_equal(pn_sdnotify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(pn_sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	assert_int_equal(pn_sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "12x", 1);
	assert_int_equal(pn_sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "99999999999999999999999", 1);
	assert_int_equal(pn_sdnotify_watchdog_usec(), 0);
}

/* A daemon on a loop: its own SIGTERM handler, and a poller that reads
 * what the manager socket received.  SIGTERM comes after three pings, or
 * at term_at_ns when that is set. */
struct daemon {
	uv_signal_t sigterm;
	uv_timer_t poll;
	int fd, watchdogs, stopping, ready, other, stopped, sent_term;
	uint64_t first_ping, last_ping, term_at_ns;
};

static void daemon_on_term(uv_signal_t *h, int sig)
{
	struct daemon *d = h->data;

	(void)sig;
	d->stopped = 1;
	uv_close((uv_handle_t *)&d->sigterm, NULL);
}

static void daemon_poll(uv_timer_t *t)
{
	struct daemon *d = t->data;
	char buf[PN_SDNOTIFY_MAX + 8];
	ssize_t n;

	while ((n = recv(d->fd, buf, sizeof(buf) - 1, 0)) >= 0) {
		buf[n] = '\0';
		if (!strcmp(buf, "READY=1\nSTATUS=serving"))
			d->ready++;
		else if (!strcmp(buf, "WATCHDOG=1")) {
			if (!d->watchdogs++)
				d->first_ping = pn_now_ns();
			d->last_ping = pn_now_ns();
		} else if (!strcmp(buf, "STOPPING=1"))
			d->stopping++;
		else
			d->other++;
	}
	/* the service manager asks us to stop */
	if (!d->sent_term && (d->term_at_ns ? pn_now_ns() >= d->term_at_ns : d->watchdogs >= 3)) {
		d->sent_term = 1;
		kill(getpid(), SIGTERM);
	}
	if (d->stopped && d->stopping)
		uv_close((uv_handle_t *)&d->poll, NULL);
}

static void stop_loop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void run_daemon(struct daemon *d)
{
	uv_loop_t loop;
	uv_timer_t guard;

	assert_int_equal(uv_loop_init(&loop), 0);
	uv_signal_init(&loop, &d->sigterm);
	d->sigterm.data = d;
	uv_signal_start(&d->sigterm, daemon_on_term, SIGTERM);
	uv_timer_init(&loop, &d->poll);
	d->poll.data = d;
	uv_timer_start(&d->poll, daemon_poll, 5, 5);
	uv_timer_init(&loop, &guard);
	uv_timer_start(&guard, stop_loop, 60000, 0); /* a broken module fails, not hangs */
	uv_unref((uv_handle_t *)&guard);
	assert_int_equal(pn_sdnotify_ready(&loop, "serving"), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* the module closed its handles on SIGTERM (and freed them: ASan's leak check) */
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_ready_watchdog_stopping(void **state)
{
	struct daemon d;
	char pid[32];
	uint64_t span_ms;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.fd = manager_socket(abstract_name);
	setenv("NOTIFY_SOCKET", abstract_name, 1);
	setenv("WATCHDOG_USEC", "100000", 1); /* 100 ms: a ping every 50 ms */
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	run_daemon(&d);
	assert_int_equal(d.ready, 1);
	assert_true(d.watchdogs >= 3);
	assert_int_equal(d.stopping, 1);
	assert_int_equal(d.other, 0);
	assert_true(d.stopped);
	/* pings come at half the interval: 3 of them span >= 2 periods of
	 * 50 ms (a loaded machine only makes them later, never earlier) */
	span_ms = (d.last_ping - d.first_ping) / PN_NS_PER_MS;
	assert_true(span_ms >= 90);
	close(d.fd);
}

/* WATCHDOG_PID names another process: READY=1, STOPPING=1, but no pings. */
static void test_watchdog_other_pid(void **state)
{
	struct daemon d;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.fd = manager_socket(abstract_name);
	d.term_at_ns = pn_now_ns() + 300 * PN_NS_PER_MS;
	setenv("NOTIFY_SOCKET", abstract_name, 1);
	setenv("WATCHDOG_USEC", "20000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	run_daemon(&d);
	assert_int_equal(d.ready, 1);
	assert_int_equal(d.watchdogs, 0);
	assert_int_equal(d.stopping, 1);
	close(d.fd);
}

/* SIGUSR1 (a reload, say) after 400 ms, SIGTERM after 800 ms */
static void *send_signals_later(void *arg)
{
	(void)arg;
	usleep(400 * 1000);
	kill(getpid(), SIGUSR1);
	usleep(400 * 1000);
	kill(getpid(), SIGTERM);
	return NULL;
}

static void test_sigwait(void **state)
{
	char buf[PN_SDNOTIFY_MAX + 8];
	sigset_t set, old;
	pthread_t th;
	int fd, sig = 0, pings = 0;

	(void)state;
	fd = manager_socket(abstract_name);
	setenv("NOTIFY_SOCKET", abstract_name, 1);
	setenv("WATCHDOG_USEC", "100000", 1);
	unsetenv("WATCHDOG_PID");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	assert_int_equal(pthread_create(&th, NULL, send_signals_later, NULL), 0);
	assert_int_equal(pn_sdnotify_sigwait(&set, &sig, "controller up"), 0);
	assert_int_equal(sig, SIGUSR1);
	recv_msg(fd, buf, sizeof(buf), 1000);
	assert_string_equal(buf, "READY=1\nSTATUS=controller up");
	/* pings until SIGUSR1, which is only returned: no STOPPING=1 */
	for (;;) {
		recv_msg(fd, buf, sizeof(buf), 100);
		if (strcmp(buf, "WATCHDOG=1"))
			break;
		pings++;
	}
	assert_string_equal(buf, "");
	/* 400 ms at a ping per 50 ms: at least one even on a loaded machine */
	assert_true(pings >= 1);
	/* waiting on (after a reload): READY=1 again, then SIGTERM: STOPPING=1 */
	assert_int_equal(pn_sdnotify_sigwait(&set, &sig, "controller up"), 0);
	assert_int_equal(sig, SIGTERM);
	pthread_join(th, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	recv_msg(fd, buf, sizeof(buf), 1000);
	assert_string_equal(buf, "READY=1\nSTATUS=controller up");
	do
		recv_msg(fd, buf, sizeof(buf), 1000);
	while (!strcmp(buf, "WATCHDOG=1"));
	assert_string_equal(buf, "STOPPING=1");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_no_socket, setup_env),
	    cmocka_unit_test_setup(test_bad_address, setup_env),
	    cmocka_unit_test_setup(test_send_path_and_abstract, setup_env),
	    cmocka_unit_test_setup(test_watchdog_usec, setup_env),
	    cmocka_unit_test_setup(test_ready_watchdog_stopping, setup_env),
	    cmocka_unit_test_setup(test_watchdog_other_pid, setup_env),
	    cmocka_unit_test_setup(test_sigwait, setup_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
