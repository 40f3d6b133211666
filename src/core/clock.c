#include <stddef.h>
#include <time.h>

#include "core/clock.h"

uint64_t pn_now_ns(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * PN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

int64_t pn_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t pn_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t pn_timeout_ms(uint64_t deadline_ns, uint64_t now_ns)
{
	uint64_t d;
	if (deadline_ns == PN_NO_DEADLINE)
		return UINT64_MAX;
	if (deadline_ns <= now_ns)
		return 0;
	d = deadline_ns - now_ns;
	return d / PN_NS_PER_MS + (d % PN_NS_PER_MS != 0);
}

static int arm(struct pn_deadline *d, uint64_t now);

static void on_timer(uv_timer_t *t)
{
	struct pn_deadline *d =
	    (struct pn_deadline *)((char *)t - offsetof(struct pn_deadline, timer));
	uint64_t now = pn_now_ns();

	if (d->deadline_ns == PN_NO_DEADLINE)
		return;
	/*
	 * libuv's loop time is millisecond-granular and may come from a coarse
	 * clock, so the timer can fire a little before the deadline on our
	 * clock.  Promise "never early": wait out the remainder.
	 */
	if (now < d->deadline_ns) {
		arm(d, now);
		return;
	}
	d->deadline_ns = PN_NO_DEADLINE;
	d->cb(d, now);
}

static int arm(struct pn_deadline *d, uint64_t now)
{
	uint64_t ms = pn_timeout_ms(d->deadline_ns, now);
	/* Refresh the loop's cached time so the relative timeout is measured from now. */
	uv_update_time(d->timer.loop);
	return uv_timer_start(&d->timer, on_timer, ms, 0);
}

int pn_deadline_init(uv_loop_t *loop, struct pn_deadline *d, pn_deadline_cb cb)
{
	d->deadline_ns = PN_NO_DEADLINE;
	d->cb = cb;
	d->close_cb = NULL;
	d->data = NULL;
	return uv_timer_init(loop, &d->timer);
}

int pn_deadline_set(struct pn_deadline *d, uint64_t deadline_ns)
{
	if (deadline_ns == d->deadline_ns)
		return 0;
	d->deadline_ns = deadline_ns;
	if (deadline_ns == PN_NO_DEADLINE)
		return uv_timer_stop(&d->timer);
	return arm(d, pn_now_ns());
}

uint64_t pn_deadline_get(const struct pn_deadline *d)
{
	return d->deadline_ns;
}

static void on_close(uv_handle_t *h)
{
	struct pn_deadline *d =
	    (struct pn_deadline *)((char *)h - offsetof(struct pn_deadline, timer));
	if (d->close_cb)
		d->close_cb(d);
}

void pn_deadline_close(struct pn_deadline *d, void (*close_cb)(struct pn_deadline *d))
{
	d->deadline_ns = PN_NO_DEADLINE;
	d->close_cb = close_cb;
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, on_close);
}
