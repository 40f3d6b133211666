/*
 * The decision and scheduling core of the impairment tool (impair.c), with
 * no I/O: per packet, a seeded draw decides loss, delay, reordering and
 * duplication, and a min-heap of release times says what is due when.
 *
 * The model follows netem's (tc-netem(8)) for the parameters the design's
 * harsh network names (loss 20%, delay 300 ms ± 100, reorder 25%, dup 1%):
 *   - loss: each packet independently, with probability loss;
 *   - delay: mean ± jitter, uniform over [mean - jitter, mean + jitter]
 *     or normal (sigma = jitter), clamped at 0; with jitter larger than
 *     the gap between packets, this alone reorders;
 *   - reorder: with probability reorder a packet skips the delay and goes
 *     after reorder_delay (0 by default, netem's "sent immediately"), so
 *     it overtakes the packets held before it (reorder_delay larger than
 *     the mean gives the other kind: late packets);
 *   - duplication: with probability dup a copy is released too, with a
 *     delay of its own (netem re-enqueues the copy).
 * A dropped packet is neither delayed nor duplicated.
 *
 * Times are microseconds of any monotonic clock, given by the caller.
 * Counters measure what happened, not only what was drawn: out_of_order
 * counts released packets that a packet which arrived after them had
 * already overtaken.
 */
#ifndef PN_TEST_IMPAIR_CORE_H
#define PN_TEST_IMPAIR_CORE_H

#include <stddef.h>
#include <stdint.h>

enum imp_dist { IMP_UNIFORM, IMP_NORMAL };

struct imp_params {
	uint32_t loss_ppm, dup_ppm, reorder_ppm; /* parts per million */
	uint64_t delay_us, jitter_us, reorder_delay_us;
	enum imp_dist dist;
};

enum imp_kind { IMP_EV_RELEASE = 1, IMP_EV_DUP = 2 };

struct imp_event {
	uint64_t due_us;
	uint64_t seq;  /* arrival order of the packet (ties keep it) */
	uint64_t tag;  /* the caller's: a queue id, a copy's handle */
	enum imp_kind kind;
};

struct imp_counters {
	uint64_t seen, dropped, released, dups, dups_released;
	uint64_t reorder_draws; /* packets that drew the reorder lottery */
	uint64_t out_of_order;  /* released after a later arrival */
	uint64_t overflow;      /* held set full: released at once */
	uint64_t max_held;
	uint64_t delay_sum_us;  /* over released originals */
};

struct imp {
	struct imp_params p;
	uint64_t rng;
	struct imp_event *heap;
	size_t n, cap;
	uint64_t next_seq;
	uint64_t max_released_seq; /* +1; 0: none yet */
	struct imp_counters c;
};

/* What imp_packet decided. */
struct imp_decision {
	int drop;       /* 1: drop it now */
	int held;       /* 1: scheduled (0 with drop=0: release now, overflow) */
	int dup;        /* 1: a copy must be scheduled with imp_dup */
	uint64_t seq;
	uint64_t due_us;
};

/* cap: how many events may be held at once.  0 or -ENOMEM. */
int imp_init(struct imp *m, const struct imp_params *p, uint64_t seed, size_t cap);
void imp_free(struct imp *m);

/* A packet arrived at now_us; tag is given back with its release event. */
void imp_packet(struct imp *m, uint64_t now_us, uint64_t tag, struct imp_decision *d);
/* Schedule the copy that d->dup asked for (tag: the caller's handle of the
   copy).  1 scheduled, 0 held set full (the caller drops the copy). */
int imp_dup(struct imp *m, uint64_t now_us, const struct imp_decision *d, uint64_t tag);

/* When the next event is due (UINT64_MAX: none held). */
uint64_t imp_next_due(const struct imp *m);
/* Pop one event due at or before now_us into *ev: 1, or 0 if none is due. */
int imp_pop_due(struct imp *m, uint64_t now_us, struct imp_event *ev);
/* Pop any event (due or not), earliest first: for a flush at exit. */
int imp_pop_any(struct imp *m, struct imp_event *ev);

/* The seeded generator (exposed for tests): next 64 random bits. */
uint64_t imp_rand(struct imp *m);
/* Percent ("20", "0.5", "20%") to parts per million; -1 if malformed or > 100. */
int64_t imp_parse_pct(const char *s);

#endif
