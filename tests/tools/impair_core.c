/* Impairment decisions and release scheduling; see impair_core.h. */
#include "impair_core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int imp_init(struct imp *m, const struct imp_params *p, uint64_t seed, size_t cap)
{
	memset(m, 0, sizeof(*m));
	m->p = *p;
	/* splitmix64 of the seed: a zero seed still gives a good state */
	m->rng = seed;
	m->rng = imp_rand(m) | 1;
	m->cap = cap ? cap : 1;
	m->heap = calloc(m->cap, sizeof(*m->heap));
	return m->heap ? 0 : -ENOMEM;
}

void imp_free(struct imp *m)
{
	free(m->heap);
	m->heap = NULL;
	m->n = m->cap = 0;
}

uint64_t imp_rand(struct imp *m)
{
	uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 bits */
static double unit(struct imp *m)
{
	return (double)(imp_rand(m) >> 11) * (1.0 / 9007199254740992.0);
}

static int chance(struct imp *m, uint32_t ppm)
{
	/* always draw, so one parameter's change keeps the others' sequence */
	uint32_t r = (uint32_t)(imp_rand(m) % 1000000u);
	return r < ppm;
}

static uint64_t sample_delay(struct imp *m)
{
	double mean = (double)m->p.delay_us, j = (double)m->p.jitter_us, d;
	double u1 = unit(m), u2 = unit(m);

	if (m->p.dist == IMP_NORMAL) {
		/* Box-Muller; u1 in (0, 1] */
		d = mean + j * sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
	} else {
		d = mean + j * (2.0 * u1 - 1.0);
	}
	return d <= 0 ? 0 : (uint64_t)d;
}

static int ev_less(const struct imp_event *a, const struct imp_event *b)
{
	if (a->due_us != b->due_us)
		return a->due_us < b->due_us;
	if (a->seq != b->seq)
		return a->seq < b->seq;
	return a->kind < b->kind;
}

static int push(struct imp *m, const struct imp_event *ev)
{
	size_t i, up;
	struct imp_event t;

	if (m->n >= m->cap)
		return 0;
	i = m->n++;
	m->heap[i] = *ev;
	while (i > 0) {
		up = (i - 1) / 2;
		if (!ev_less(&m->heap[i], &m->heap[up]))
			break;
		t = m->heap[up];
		m->heap[up] = m->heap[i];
		m->heap[i] = t;
		i = up;
	}
	if (m->n > m->c.max_held)
		m->c.max_held = m->n;
	return 1;
}

static void pop_top(struct imp *m, struct imp_event *ev)
{
	size_t i = 0, l, r, s;
	struct imp_event t;

	*ev = m->heap[0];
	m->heap[0] = m->heap[--m->n];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		s = i;
		if (l < m->n && ev_less(&m->heap[l], &m->heap[s]))
			s = l;
		if (r < m->n && ev_less(&m->heap[r], &m->heap[s]))
			s = r;
		if (s == i)
			break;
		t = m->heap[s];
		m->heap[s] = m->heap[i];
		m->heap[i] = t;
		i = s;
	}
}

static void account_release(struct imp *m, const struct imp_event *ev, uint64_t now_us)
{
	if (ev->kind == IMP_EV_DUP) {
		m->c.dups_released++;
		return;
	}
	m->c.released++;
	if (m->max_released_seq > ev->seq + 1)
		m->c.out_of_order++;
	else
		m->max_released_seq = ev->seq + 1;
	(void)now_us;
}

void imp_packet(struct imp *m, uint64_t now_us, uint64_t tag, struct imp_decision *d)
{
	struct imp_event ev;
	int lost, reorder, dup;
	uint64_t delay;

	memset(d, 0, sizeof(*d));
	d->seq = m->next_seq++;
	m->c.seen++;
	/* the draws, in a fixed order and always all of them */
	lost = chance(m, m->p.loss_ppm);
	reorder = chance(m, m->p.reorder_ppm);
	dup = chance(m, m->p.dup_ppm);
	delay = sample_delay(m);
	if (lost) {
		m->c.dropped++;
		d->drop = 1;
		return;
	}
	if (reorder) {
		m->c.reorder_draws++;
		delay = m->p.reorder_delay_us;
	}
	d->dup = dup;
	d->due_us = now_us + delay;
	ev.due_us = d->due_us;
	ev.seq = d->seq;
	ev.tag = tag;
	ev.kind = IMP_EV_RELEASE;
	if (push(m, &ev)) {
		d->held = 1;
		m->c.delay_sum_us += delay;
	} else {
		/* fail open: the caller releases it now */
		m->c.overflow++;
		account_release(m, &ev, now_us);
	}
}

int imp_dup(struct imp *m, uint64_t now_us, const struct imp_decision *d, uint64_t tag)
{
	struct imp_event ev;

	ev.due_us = now_us + sample_delay(m);
	ev.seq = d->seq;
	ev.tag = tag;
	ev.kind = IMP_EV_DUP;
	if (!push(m, &ev)) {
		m->c.overflow++;
		return 0;
	}
	m->c.dups++;
	return 1;
}

uint64_t imp_next_due(const struct imp *m)
{
	return m->n ? m->heap[0].due_us : UINT64_MAX;
}

int imp_pop_due(struct imp *m, uint64_t now_us, struct imp_event *ev)
{
	if (!m->n || m->heap[0].due_us > now_us)
		return 0;
	pop_top(m, ev);
	account_release(m, ev, now_us);
	return 1;
}

int imp_pop_any(struct imp *m, struct imp_event *ev)
{
	if (!m->n)
		return 0;
	pop_top(m, ev);
	account_release(m, ev, ev->due_us);
	return 1;
}

int64_t imp_parse_pct(const char *s)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || (*end && strcmp(end, "%")) || !(v >= 0.0) || v > 100.0)
		return -1;
	return (int64_t)llround(v * 10000.0);
}
