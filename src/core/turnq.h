#ifndef PN_CORE_TURNQ_H
#define PN_CORE_TURNQ_H
/*
 * pn_turnq: work deferred to the end of this loop turn.  Objects given
 * input during a turn (a flow handed the STREAM frames of a receive
 * burst) add themselves once; a libuv check handle, which runs right after
 * the turn's I/O callbacks and before the loop can block again, takes
 * each one off and runs it.  So the work is done once per burst, with no
 * wait: the check handle is active only while the queue is not empty.
 *
 * Nodes are intrusive (embed a struct pn_turnq_node); an object that goes
 * away removes its node first.  Once the queue is closing, pn_turnq_add
 * runs the node at once instead.
 */
#include <stddef.h>
#include <uv.h>

/* the object a node is embedded in */
#define PN_TURNQ_OWNER(n, type, member) ((type *)(void *)((char *)(n)-offsetof(type, member)))

struct pn_turnq_node {
	struct pn_turnq_node *prev, *next;
	int queued;
};

struct pn_turnq {
	uv_check_t check; /* first: the check callback finds the queue; its
			     data field is the owner's (the close callback) */
	uv_idle_t idle;
	struct pn_turnq_node *head;
	void (*run)(struct pn_turnq_node *n);
	uv_close_cb close_cb;
	int closing; /* handles still closing */
};

void pn_turnq_init(uv_loop_t *loop, struct pn_turnq *q, void (*run)(struct pn_turnq_node *n));
/* Queue n for the end of this turn (no-op if it is queued already). */
void pn_turnq_add(struct pn_turnq *q, struct pn_turnq_node *n);
/* Take n off the queue, if it is on it. */
void pn_turnq_remove(struct pn_turnq *q, struct pn_turnq_node *n);
/* Close the queue's handles; cb gets the check handle (with the data the
 * owner set in q->check.data) once both are closed.  Nodes still queued
 * are not run. */
void pn_turnq_close(struct pn_turnq *q, uv_close_cb cb);
#endif
