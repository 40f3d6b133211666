#ifndef PN_CLIENT_PICK_H
#define PN_CLIENT_PICK_H
/*
 * Connector choice, sans I/O: which of the connectors serving a remote
 * network gets a new flow.  The client access list names 1..16 connector
 * ids per network (trust/acl.h); the glue describes what it knows of each
 * and this decides.
 *
 * Order of preference:
 *   1. a connector whose tunnel is UP: lowest RTT, then fewest flows
 *      (one tunnel per connector, reused by all flows);
 *   2. a connector whose tunnel is CONNECTING (the flow waits for it
 *      rather than starting a second handshake);
 *   3. a connector with no tunnel and not in failure backoff: a new tunnel
 *      is started; among several, `salt` (e.g. from the client id) spreads
 *      different clients over different connectors;
 * A tunnel that is full (flows >= max_flows: it carries as many flows as
 * it may) is skipped in 1 and 2, so a flow goes to another connector's
 * tunnel, or starts one, instead of being refused; only when every
 * usable connector is full is there nothing to pick (PN_E_TUN_LIMIT).
 * A connector in backoff after its tunnel failed or was lost is skipped
 * until `retry_at_ms`: that is the failover.  If every connector is in
 * backoff, there is nothing to pick (PN_E_NO_CONNECTOR): flows fail fast
 * with "network unreachable" instead of hanging.
 */
#include <stddef.h>
#include <stdint.h>

enum pn_pick_state {
	PN_PICK_IDLE = 0,	/* no tunnel */
	PN_PICK_CONNECTING = 1, /* tunnel handshake under way */
	PN_PICK_UP = 2,		/* tunnel up */
	PN_PICK_FAILED = 3,	/* last tunnel failed/lost; retry after retry_at_ms */
};

struct pn_pick_cand {
	enum pn_pick_state state;
	uint64_t retry_at_ms; /* FAILED: earliest retry (same clock as now_ms) */
	uint64_t rtt_us;      /* UP: smoothed RTT, 0 unknown */
	unsigned flows;	      /* UP, CONNECTING: open flows + flows waiting for it */
	unsigned max_flows;   /* UP, CONNECTING: flows it may carry; 0 = no limit */
};

/* Backoff after the n-th consecutive failure (n >= 1): 50 ms, 100 ms,
 * 200 ms ... 30 s.  Short at first: a connector that is restarting or not
 * yet registered at the relay is usually back within a second. */
uint64_t pn_pick_backoff_ms(unsigned nfail);

/*
 * Pick among n candidates (n <= 16) at now_ms.  A FAILED candidate whose
 * retry_at_ms has passed counts as IDLE.  Returns the index, PN_E_TUN_LIMIT
 * (every tunnel that could take the flow is full, none to start),
 * PN_E_NO_CONNECTOR (n == 0 or all in backoff) or PN_E_INVAL (n too
 * large, NULL).
 */
int pn_pick(const struct pn_pick_cand *c, size_t n, uint64_t now_ms, uint32_t salt);
#endif
