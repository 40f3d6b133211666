#ifndef PN_CORE_CLOCK_H
#define PN_CORE_CLOCK_H
/*
 * Time for Postern.  Protocol cores never read a clock: glue passes them
 * pn_now_ns() and asks them for their next deadline (an absolute value on
 * the same clock, UINT64_MAX meaning "none", as ngtcp2_conn_get_expiry()
 * returns).  pn_deadline is the libuv side of that contract: arm it with a
 * core's next deadline; its callback runs at or after that instant, never
 * before, and it is re-armed from whatever the core reports next.
 */
#include <stdint.h>

#include <uv.h>

#define PN_NS_PER_MS   1000000ull
#define PN_NS_PER_S    1000000000ull
#define PN_NO_DEADLINE UINT64_MAX

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC; same clock as uv_hrtime()). */
uint64_t pn_now_ns(void);
/* Wall-clock time in seconds since the epoch (for certificates, logs). */
int64_t pn_wall_s(void);
/* Wall-clock time in milliseconds since the epoch. */
int64_t pn_wall_ms(void);

/*
 * Milliseconds to wait from `now` until `deadline`, rounded up so a timer
 * never fires early: 0 if the deadline has passed; UINT64_MAX for
 * PN_NO_DEADLINE.
 */
uint64_t pn_timeout_ms(uint64_t deadline_ns, uint64_t now_ns);

struct pn_deadline;
/* Called on the loop thread with the current pn_now_ns() (>= the deadline). */
typedef void (*pn_deadline_cb)(struct pn_deadline *d, uint64_t now_ns);

/*
 * A one-shot timer on an absolute monotonic deadline.  Caller-owned memory
 * (embed it, find the owner with container_of or `data`); the fields are
 * private apart from `data`.
 */
struct pn_deadline {
	uv_timer_t timer;
	uint64_t deadline_ns; /* PN_NO_DEADLINE when disarmed */
	pn_deadline_cb cb;
	void (*close_cb)(struct pn_deadline *d);
	void *data;
};

/* Initialise on `loop`, disarmed.  0 or a negative libuv errno. */
int pn_deadline_init(uv_loop_t *loop, struct pn_deadline *d, pn_deadline_cb cb);
/*
 * (Re-)arm for the absolute time deadline_ns (pn_now_ns() clock); a deadline
 * in the past fires on the next loop iteration; PN_NO_DEADLINE disarms.
 * Setting the deadline already armed is cheap (no libuv call).  Safe to
 * call from the callback.  Returns 0 or a negative libuv errno.
 */
int pn_deadline_set(struct pn_deadline *d, uint64_t deadline_ns);
/* The armed deadline, or PN_NO_DEADLINE. */
uint64_t pn_deadline_get(const struct pn_deadline *d);
/*
 * Stop and close.  `close_cb` (may be NULL) runs from the loop once libuv
 * has released the handle; only then may the memory be freed.
 */
void pn_deadline_close(struct pn_deadline *d, void (*close_cb)(struct pn_deadline *d));
#endif
