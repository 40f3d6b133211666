/* In-memory path pairs with fault injection (tests only; no I/O). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/path.h"

struct slot {
	uint16_t len;
	uint8_t data[PN_PATH_MAX_UDP_PAYLOAD];
};

struct pn_mempath {
	struct pn_path path;
	struct pn_mempath *peer;
	struct pn_mempath_faults f;
	uint64_t rng;
	int down;
	/* inbox: ring of packets queued for this end */
	struct slot *q;
	size_t head, count;
	uint64_t sent, dropped;
};

static uint64_t rnd(struct pn_mempath *m)
{
	/* xorshift64*: reproducible from the seed, good enough for faults */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ULL;
}

static int chance(struct pn_mempath *m, unsigned pct)
{
	return pct && (rnd(m) % 100) < pct;
}

static void enqueue(struct pn_mempath *to, const uint8_t *p, size_t n)
{
	struct slot *s;

	if (to->count == PN_MEMPATH_QUEUE || n > PN_PATH_MAX_UDP_PAYLOAD)
		return; /* queue full or oversize: lost, as on a real link */
	s = &to->q[(to->head + to->count) % PN_MEMPATH_QUEUE];
	s->len = (uint16_t)n;
	memcpy(s->data, p, n);
	to->count++;
}

static int mem_send(struct pn_path *p, const uint8_t *data, size_t len, size_t seg)
{
	struct pn_mempath *m = p->ctx, *to = m->peer;

	if (!to)
		return -EPIPE;
	for (size_t off = 0; off < len; off += seg) {
		size_t n = len - off < seg ? len - off : seg;
		m->sent++;
		if (m->down || to->down || chance(m, m->f.loss_pct) ||
		    (m->f.max_len && n > m->f.max_len)) {
			m->dropped++;
			continue;
		}
		enqueue(to, data + off, n);
		if (chance(m, m->f.dup_pct))
			enqueue(to, data + off, n);
		if (to->count >= 2 && chance(m, m->f.reorder_pct)) {
			/* swap the last two queued packets */
			struct slot tmp, *a = &to->q[(to->head + to->count - 1) % PN_MEMPATH_QUEUE],
					 *b = &to->q[(to->head + to->count - 2) % PN_MEMPATH_QUEUE];
			tmp = *a;
			*a = *b;
			*b = tmp;
		}
	}
	return 0;
}

static const struct pn_path_ops mem_ops = {.send = mem_send};

static struct pn_mempath *mem_new(const struct pn_mempath_faults *f)
{
	struct pn_mempath *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->q = malloc(sizeof(struct slot) * PN_MEMPATH_QUEUE);
	if (!m->q) {
		free(m);
		return NULL;
	}
	if (f)
		m->f = *f;
	m->rng = (f && f->seed) ? f->seed : 0x9e3779b97f4a7c15ULL;
	m->path.ops = &mem_ops;
	m->path.kind = PN_PATH_MEMORY;
	m->path.max_segments = 8;
	m->path.ctx = m;
	return m;
}

int pn_mempath_pair(const struct pn_mempath_faults *f, struct pn_mempath **a,
		    struct pn_mempath **b)
{
	struct pn_mempath *x = mem_new(f), *y = mem_new(f);

	if (!x || !y) {
		pn_mempath_free(x);
		pn_mempath_free(y);
		return -ENOMEM;
	}
	y->rng ^= 0x5555555555555555ULL;
	x->peer = y;
	y->peer = x;
	pn_path_synth_addrs(&x->path);
	/* y sees the same pair from the other side */
	y->path.local = x->path.remote;
	y->path.local_len = x->path.remote_len;
	y->path.remote = x->path.local;
	y->path.remote_len = x->path.local_len;
	*a = x;
	*b = y;
	return 0;
}

void pn_mempath_free(struct pn_mempath *m)
{
	if (!m)
		return;
	if (m->peer)
		m->peer->peer = NULL;
	free(m->q);
	free(m);
}

struct pn_path *pn_mempath_path(struct pn_mempath *m)
{
	return &m->path;
}

size_t pn_mempath_recv(struct pn_mempath *m, uint8_t *out, size_t cap)
{
	struct slot *s;
	size_t n;

	if (m->count == 0)
		return 0;
	s = &m->q[m->head];
	n = s->len < cap ? s->len : cap;
	memcpy(out, s->data, n);
	m->head = (m->head + 1) % PN_MEMPATH_QUEUE;
	m->count--;
	return n;
}

void pn_mempath_stats(const struct pn_mempath *m, uint64_t *sent, uint64_t *dropped)
{
	*sent = m->sent;
	*dropped = m->dropped;
}

void pn_mempath_set_faults(struct pn_mempath *m, const struct pn_mempath_faults *f)
{
	m->f = *f;
}

void pn_mempath_set_down(struct pn_mempath *m, int down)
{
	m->down = down;
}
