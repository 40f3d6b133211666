/* Unit tests for core/accept.h and core/fdlimit.h: accepting pauses when
 * the process runs out of descriptors, no pending connection is lost, and
 * the burst is counted once. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/accept.h"
#include "core/fdlimit.h"

#define NCLIENTS 12

static int held[NCLIENTS];
static int nheld;

static void on_conn(struct pn_acceptor *a, int fd, void *user)
{
	(void)a, (void)user;
	assert_true(nheld < NCLIENTS);
	held[nheld++] = fd;
}

static void on_tick(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run the loop for about ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;

	uv_timer_init(loop, &t);
	uv_timer_start(&t, on_tick, ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_fdlimit_raise(void **state)
{
	struct rlimit rl, low;
	uint64_t soft, hard;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = rl.rlim_max > 512 ? 256 : rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(pn_fdlimit_raise(&soft, &hard), 0);
	assert_true(soft == hard);
	assert_true(pn_fdlimit_soft() == soft);
	assert_true(pn_fdlimit_open_count() >= 3);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void test_pause_on_emfile_loses_nothing(void **state)
{
	uv_loop_t loop;
	struct pn_acceptor *a;
	struct pn_acceptor_config cfg;
	struct pn_acceptor_stats st;
	struct sockaddr_in sin;
	struct sockaddr_storage bound;
	struct rlimit rl, low;
	int cl[NCLIENTS], open_now;

	(void)state;
	nheld = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = &loop;
	cfg.addr = (struct sockaddr *)&sin;
	cfg.module = "test";
	cfg.label = "test";
	cfg.cb = on_conn;
	assert_int_equal(pn_acceptor_new(&cfg, &a), 0);
	assert_int_equal(pn_acceptor_addr(a, &bound), 0);
	/* every client connects (the kernel completes them into the backlog) */
	for (int i = 0; i < NCLIENTS; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(cl[i] >= 0);
		assert_int_equal(connect(cl[i], (struct sockaddr *)&bound, sizeof(sin)), 0);
	}
	/* room for about 3 more descriptors */
	open_now = pn_fdlimit_open_count();
	assert_true(open_now > 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)open_now + 3;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	run_for(&loop, 100);
	pn_acceptor_stats(a, &st);
	/* a few (descriptor numbers below the limit may have holes), not all */
	assert_true(nheld >= 1 && nheld <= 3 + 2);
	assert_int_equal(st.accepted, nheld);
	assert_true(st.exhausted >= 1);
	assert_int_equal(st.bursts, 1);
	/* descriptors free again: the rest come out of the backlog */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int i = 0; i < 50 && nheld < NCLIENTS; i++)
		run_for(&loop, 50);
	assert_int_equal(nheld, NCLIENTS);
	pn_acceptor_stats(a, &st);
	assert_int_equal(st.accepted, NCLIENTS);
	assert_int_equal(st.bursts, 1);
	/* each accepted connection is one of ours, still open */
	for (int i = 0; i < NCLIENTS; i++)
		assert_int_equal(write(cl[i], "x", 1), 1);
	for (int i = 0; i < NCLIENTS; i++) {
		struct pollfd p = {.fd = held[i], .events = POLLIN};
		char c;
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(held[i], &c, 1), 1);
	}
	for (int i = 0; i < NCLIENTS; i++) {
		close(cl[i]);
		close(held[i]);
	}
	pn_acceptor_close(a, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fdlimit_raise),
	    cmocka_unit_test(test_pause_on_emfile_loses_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
