/* Work deferred to the end of the loop turn; see turnq.h. */
#include "core/turnq.h"

static void on_check(uv_check_t *h)
{
	struct pn_turnq *q = (struct pn_turnq *)h;
	struct pn_turnq_node *n;

	/* a node's work may queue others (or itself again): all run now */
	while ((n = q->head)) {
		pn_turnq_remove(q, n);
		q->run(n);
	}
}

static void on_idle(uv_idle_t *h)
{
	(void)h; /* only there to keep the poll from blocking */
}

void pn_turnq_init(uv_loop_t *loop, struct pn_turnq *q, void (*run)(struct pn_turnq_node *n))
{
	uv_check_init(loop, &q->check);
	uv_idle_init(loop, &q->idle);
	q->idle.data = q;
	q->head = NULL;
	q->run = run;
	q->close_cb = NULL;
	q->closing = 0;
}

void pn_turnq_add(struct pn_turnq *q, struct pn_turnq_node *n)
{
	if (n->queued)
		return;
	if (uv_is_closing((uv_handle_t *)&q->check)) {
		q->run(n);
		return;
	}
	n->queued = 1;
	n->prev = NULL;
	n->next = q->head;
	if (q->head) {
		q->head->prev = n;
	} else {
		uv_check_start(&q->check, on_check);
		uv_idle_start(&q->idle, on_idle);
	}
	q->head = n;
}

void pn_turnq_remove(struct pn_turnq *q, struct pn_turnq_node *n)
{
	if (!n->queued)
		return;
	n->queued = 0;
	if (n->prev)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
	if (!q->head && !uv_is_closing((uv_handle_t *)&q->check)) {
		uv_check_stop(&q->check);
		uv_idle_stop(&q->idle);
	}
}

/* libuv runs close callbacks in no order we may rely on: the owner hears
 * of the last one */
static void closed_one(struct pn_turnq *q)
{
	if (--q->closing == 0 && q->close_cb)
		q->close_cb((uv_handle_t *)&q->check);
}

static void check_closed(uv_handle_t *h)
{
	closed_one((struct pn_turnq *)(void *)h);
}

static void idle_closed(uv_handle_t *h)
{
	closed_one(h->data);
}

void pn_turnq_close(struct pn_turnq *q, uv_close_cb cb)
{
	while (q->head)
		pn_turnq_remove(q, q->head);
	q->close_cb = cb;
	q->closing = 2;
	uv_close((uv_handle_t *)&q->check, check_closed);
	uv_close((uv_handle_t *)&q->idle, idle_closed);
}
