/*
 * core/udp.h building blocks over loopback: a GSO send of equal segments
 * arrives as the same datagrams (split at the GRO size when the kernel
 * coalesced them), a message larger than its slot is reported truncated,
 * a callback can stop the split, and the GSO-refusal errors.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/udp.h"

struct got {
	size_t len[16];
	uint8_t first[16];
	unsigned n, stop_after;
};

static int collect(const struct sockaddr *from, socklen_t fromlen, const uint8_t *p, size_t n,
		   void *user)
{
	struct got *g = user;

	assert_int_equal(from->sa_family, AF_INET);
	assert_true(fromlen >= sizeof(struct sockaddr_in));
	if (g->n < 16) {
		g->len[g->n] = n;
		g->first[g->n] = p[0];
	}
	g->n++;
	return g->stop_after && g->n >= g->stop_after;
}

static void pair(unsigned opts, int *rx, int *tx, unsigned *caps)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	unsigned txcaps;

	assert_int_equal(pn_udp_socket(AF_INET, 1 << 20, opts, rx, caps), 0);
	assert_int_equal(bind(*rx, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(*rx, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(pn_udp_socket(AF_INET, 1 << 20, opts | PN_UDP_DF, tx, &txcaps), 0);
	assert_int_equal(connect(*tx, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
}

static void test_gso_roundtrip(void **state)
{
	uint8_t buf[350], ctl[PN_UDP_SEG_CTL];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct pn_udp_rx rx;
	struct got g = {0};
	unsigned caps;
	int r, w;

	(void)state;
	pair(PN_UDP_OFFLOAD, &r, &w, &caps);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i / 100 + 1); /* segment k starts with k+1 */
	if (caps & PN_UDP_CAP_GSO) {
		pn_udp_msg_segment(&m, ctl, 100);
		assert_int_equal(sendmsg(w, &m, 0), (ssize_t)sizeof(buf));
	} else {
		for (size_t off = 0; off < sizeof(buf); off += 100)
			assert_true(send(w, buf + off, off + 100 > sizeof(buf) ? 50 : 100, 0) > 0);
	}
	assert_int_equal(pn_udp_rx_init(&rx, 4, 65536), 0);
	while (g.n < 4) {
		int k;
		wait_readable(r);
		k = pn_udp_rx_read(r, &rx);
		for (int i = 0; i < k; i++)
			assert_int_equal(pn_udp_rx_split(&rx, (unsigned)i, collect, &g), 0);
	}
	assert_int_equal(g.n, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(g.len[i], i < 3 ? 100 : 50);
		assert_int_equal(g.first[i], i + 1);
	}
	pn_udp_rx_fini(&rx);
	pn_udp_rx_fini(&rx); /* idempotent */
	close(r);
	close(w);
}

static void test_truncated_and_stop(void **state)
{
	uint8_t buf[100] = {7};
	struct pn_udp_rx rx;
	struct got g = {.stop_after = 1};
	unsigned caps;
	int r, w, k;

	(void)state;
	pair(0, &r, &w, &caps);
	assert_int_equal(caps, 0); /* no offload asked for */
	assert_int_equal(pn_udp_rx_init(&rx, 2, 64), 0);
	assert_int_equal(send(w, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	wait_readable(r);
	k = pn_udp_rx_read(r, &rx);
	assert_int_equal(k, 1);
	assert_int_equal(pn_udp_rx_split(&rx, 0, collect, &g), -EMSGSIZE);
	assert_int_equal(g.n, 0);
	assert_int_equal(send(w, buf, 10, 0), 10);
	wait_readable(r);
	assert_int_equal(pn_udp_rx_read(r, &rx), 1);
	assert_int_equal(pn_udp_rx_split(&rx, 0, collect, &g), 1); /* stopped */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 10);
	assert_int_equal(pn_udp_rx_read(r, &rx), 0); /* nothing waiting */
	pn_udp_rx_fini(&rx);
	close(r);
	close(w);
}

static void test_gso_refused(void **state)
{
	(void)state;
	assert_true(pn_udp_gso_refused(-EIO));
	assert_true(pn_udp_gso_refused(-EINVAL));
	assert_true(pn_udp_gso_refused(-EOPNOTSUPP));
	assert_false(pn_udp_gso_refused(-EAGAIN));
	assert_false(pn_udp_gso_refused(-ENOBUFS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gso_roundtrip),
	    cmocka_unit_test(test_truncated_and_stop),
	    cmocka_unit_test(test_gso_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
