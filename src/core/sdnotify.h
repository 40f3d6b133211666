#ifndef PN_CORE_SDNOTIFY_H
#define PN_CORE_SDNOTIFY_H
/*
 * The service manager's notification protocol (sd_notify(3)) without
 * libsystemd: one datagram per state change ("READY=1", "WATCHDOG=1",
 * "STOPPING=1", "STATUS=...") to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).  A
 * process not started by a Type=notify unit has no NOTIFY_SOCKET, and
 * every function here then does nothing and succeeds.
 *
 * Each daemon makes one call once it is ready (listeners open, state
 * loaded): pn_sdnotify_ready() for a libuv daemon, pn_sdnotify_sigwait()
 * for one whose main thread waits for signals (the controller).
 */
#include <signal.h>
#include <stdint.h>

#include <uv.h>

/* Longest state string sent (systemd accepts far more; ours are short). */
#define PN_SDNOTIFY_MAX 512

/*
 * Send `state` (newline-separated assignments) to $NOTIFY_SOCKET.  Returns 1
 * if sent, 0 without NOTIFY_SOCKET, -EINVAL for an address that is neither
 * an absolute path nor "@name" or does not fit sockaddr_un, -EMSGSIZE for
 * a state longer than PN_SDNOTIFY_MAX, or the negative errno of socket(2) /
 * sendto(2).  Stateless and thread-safe; never blocks (datagram, MSG_DONTWAIT).
 */
int pn_sdnotify_send(const char *state);

/*
 * The watchdog interval the manager expects pings within, in microseconds:
 * $WATCHDOG_USEC when it is a positive decimal and $WATCHDOG_PID is unset
 * or names this process; 0 otherwise (no watchdog).
 */
uint64_t pn_sdnotify_watchdog_usec(void);

/*
 * A libuv daemon is ready: send "READY=1" (and "STATUS=<status>" when
 * `status` is not NULL), then, on `loop`,
 *  - send "WATCHDOG=1" every half watchdog interval from a timer, so a loop
 *    that stops turning stops the pings and the manager restarts the unit;
 *  - send "STOPPING=1" when SIGTERM or SIGINT arrives (alongside the
 *    daemon's own handlers for them, which still stop it), and close the
 *    watchdog.
 * Its handles are unreferenced: they never keep the loop running.  If the
 * daemon stops without a signal (for example, revoked), they stay open and
 * uv_loop_close() reports UV_EBUSY; the process is exiting anyway.
 * Without NOTIFY_SOCKET nothing is created.  Returns 0, or a negative errno
 * (the daemon runs on: readiness is best effort, the manager's start timeout
 * is the backstop).
 */
int pn_sdnotify_ready(uv_loop_t *loop, const char *status);

/*
 * A threaded daemon is ready: send "READY=1" (plus STATUS), then wait for a
 * signal of `set` (which the caller has blocked in every thread, as for
 * sigwait(3)), sending "WATCHDOG=1" every half watchdog interval meanwhile,
 * and "STOPPING=1" when SIGTERM or SIGINT arrives (another signal, such as
 * SIGHUP for a reload, is only returned: call again to go on waiting).
 * Stores the signal in *sig and returns 0, or a negative errno from
 * sigtimedwait(2).  Without NOTIFY_SOCKET this is sigwait(3).
 */
int pn_sdnotify_sigwait(const sigset_t *set, int *sig, const char *status);
#endif
