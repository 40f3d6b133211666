/* Packetization Layer Path MTU Discovery for one path (tunnel/pmtu.h). */
#include <string.h>

#include "tunnel/pmtu.h"

#define MS 1000000ull

static void search_maybe_done(struct pn_pmtu *m, uint64_t now);

static void search_from(struct pn_pmtu *m, size_t lo)
{
	m->state = PN_PMTU_SEARCH;
	m->lo = lo;
	m->hi = m->ceiling + 1;
	m->tries = 0;
	m->raise_at = 0;
	m->searches++;
	memset(m->probe, 0, sizeof(m->probe));
	m->checking = 0;
}

void pn_pmtu_init(struct pn_pmtu *m, size_t ceiling, uint64_t now)
{
	memset(m, 0, sizeof(*m));
	m->ceiling = ceiling < PN_PMTU_BASE ? PN_PMTU_BASE : ceiling;
	m->cur = PN_PMTU_BASE;
	m->raise_ms = PN_PMTU_RAISE_MS;
	m->next_id = 1;
	m->check_after = now;
	search_from(m, PN_PMTU_BASE);
	search_maybe_done(m, now); /* nothing to search above the base */
}

size_t pn_pmtu_size(const struct pn_pmtu *m)
{
	return m->cur;
}

/* The search is over when the gap between works and fails is small. */
static void search_maybe_done(struct pn_pmtu *m, uint64_t now)
{
	if (m->hi - m->lo > PN_PMTU_STEP && m->lo < m->ceiling)
		return;
	m->state = PN_PMTU_DONE;
	m->cur = m->lo;
	m->check_after = now;
	if (m->lo + PN_PMTU_STEP > m->ceiling) { /* (a probe may come out a few bytes short) */
		m->raise_ms = PN_PMTU_RAISE_MS;
		return;
	}
	/* stopped below the ceiling: the path may grow (RFC 8899 5.1.1) */
	m->raise_at = now + m->raise_ms * MS;
	m->raise_ms = m->raise_ms * 2 > PN_PMTU_RAISE_MAX_MS ? PN_PMTU_RAISE_MAX_MS : m->raise_ms * 2;
}

static size_t search_size(const struct pn_pmtu *m)
{
	if (m->hi > m->ceiling)
		return m->ceiling; /* the ceiling first: most paths have it */
	return m->lo + (m->hi - m->lo) / 2;
}

static struct pn_pmtu_probe *slot_of(struct pn_pmtu *m, uint64_t id)
{
	if (!(id & PN_PMTU_ID_TAG))
		return NULL;
	for (int i = 0; i < 2; i++)
		if (m->probe[i].id == id)
			return &m->probe[i];
	return NULL;
}

static void slot_new(struct pn_pmtu *m, int i, int kind, size_t size)
{
	m->probe[i] = (struct pn_pmtu_probe){.id = PN_PMTU_ID_TAG | m->next_id++, .size = size,
					     .kind = kind};
}

int pn_pmtu_want(struct pn_pmtu *m, uint64_t now, size_t *size, uint64_t *id)
{
	(void)now;
	if (m->state == PN_PMTU_SEARCH && !m->probe[0].id)
		slot_new(m, 0, PN_PMTU_P_SEARCH, search_size(m));
	for (int i = 0; i < 2; i++)
		if (m->probe[i].id && !m->probe[i].deadline) {
			*size = m->probe[i].size;
			*id = m->probe[i].id;
			return 1;
		}
	return 0;
}

void pn_pmtu_sent(struct pn_pmtu *m, uint64_t id, size_t len, uint64_t pto_ns, uint64_t now)
{
	struct pn_pmtu_probe *p = slot_of(m, id);
	uint64_t wait = 3 * pto_ns;

	if (!p)
		return;
	if (wait < PN_PMTU_PROBE_MIN_MS * MS)
		wait = PN_PMTU_PROBE_MIN_MS * MS;
	if (wait > PN_PMTU_PROBE_MAX_MS * MS)
		wait = PN_PMTU_PROBE_MAX_MS * MS;
	p->size = len;
	p->deadline = now + wait;
	m->probes_sent++;
}

static void black_hole(struct pn_pmtu *m, uint64_t now)
{
	m->black_holes++;
	m->cur = m->lo = PN_PMTU_BASE;
	m->hi = m->ceiling + 1;
	m->state = PN_PMTU_DONE;
	m->strikes = 0;
	m->checking = 0;
	memset(m->probe, 0, sizeof(m->probe));
	m->raise_at = now + m->raise_ms * MS;
	m->raise_ms = m->raise_ms * 2 > PN_PMTU_RAISE_MAX_MS ? PN_PMTU_RAISE_MAX_MS : m->raise_ms * 2;
}

static void check_start(struct pn_pmtu *m)
{
	slot_new(m, 0, PN_PMTU_P_BIG, m->cur);
	slot_new(m, 1, PN_PMTU_P_SMALL, PN_PMTU_BASE);
	m->checking = 1;
}

static void check_end(struct pn_pmtu *m, uint64_t now, uint64_t gap_ms)
{
	memset(m->probe, 0, sizeof(m->probe));
	m->checking = 0;
	m->check_after = now + gap_ms * MS;
}

/* A check's verdict, once its probes' fates say enough. */
static void check_eval(struct pn_pmtu *m, uint64_t now)
{
	int big = m->probe[0].result, small = m->probe[1].result;

	if (big > 0) { /* the current size still gets through */
		m->strikes = 0;
		check_end(m, now, PN_PMTU_CHECK_GAP_MS);
	} else if (big < 0 && small > 0) {
		/* large lost, small through: what a black hole looks like */
		if (++m->strikes >= PN_PMTU_STRIKES) {
			black_hole(m, now);
			return;
		}
		check_end(m, now, 0);
		check_start(m); /* confirm at once */
	} else if (big < 0 && small < 0) {
		check_end(m, now, 0); /* everything lost: not a size problem */
	}
}

static void search_fail(struct pn_pmtu *m, size_t size, uint64_t now)
{
	m->tries = 0;
	if (size < m->hi)
		m->hi = size;
	if (m->hi <= m->lo)
		m->hi = m->lo + 1;
	search_maybe_done(m, now);
}

void pn_pmtu_unsent(struct pn_pmtu *m, uint64_t id, uint64_t now)
{
	struct pn_pmtu_probe *p = slot_of(m, id);

	if (!p)
		return;
	if (p->kind == PN_PMTU_P_SEARCH) {
		size_t size = p->size;
		memset(p, 0, sizeof(*p));
		search_fail(m, size, now);
	} else {
		check_end(m, now, PN_PMTU_CHECK_GAP_MS);
	}
}

void pn_pmtu_acked(struct pn_pmtu *m, uint64_t id, uint64_t now)
{
	struct pn_pmtu_probe *p = slot_of(m, id);

	if (!p || p->result)
		return;
	if (p->kind == PN_PMTU_P_SEARCH) {
		if (p->size > m->lo)
			m->lo = p->size;
		if (m->hi <= m->lo)
			m->hi = m->lo + 1;
		m->cur = m->lo; /* use it at once */
		m->tries = 0;
		memset(p, 0, sizeof(*p));
		search_maybe_done(m, now);
		return;
	}
	p->result = 1;
	check_eval(m, now);
}

void pn_pmtu_lost(struct pn_pmtu *m, uint64_t id, uint64_t now)
{
	struct pn_pmtu_probe *p = slot_of(m, id);

	if (!p || p->result || !p->deadline)
		return;
	m->probes_lost++;
	if (p->kind == PN_PMTU_P_SEARCH) {
		size_t size = p->size;
		memset(p, 0, sizeof(*p));
		if (++m->tries >= PN_PMTU_TRIES)
			search_fail(m, size, now);
		return;
	}
	p->result = -1;
	check_eval(m, now);
}

void pn_pmtu_suspect(struct pn_pmtu *m, uint64_t now)
{
	if (m->state != PN_PMTU_DONE || m->cur <= PN_PMTU_BASE || m->checking ||
	    now < m->check_after)
		return;
	check_start(m);
}

void pn_pmtu_stalled(struct pn_pmtu *m, uint64_t now)
{
	uint64_t ms = m->raise_ms;

	if (m->cur <= PN_PMTU_BASE)
		return;
	black_hole(m, now);
	m->raise_ms = ms; /* not a confirmed black hole: the timer stays */
	m->raise_at = now + PN_PMTU_STALL_RESEARCH_MS * MS;
}

void pn_pmtu_toobig(struct pn_pmtu *m, size_t len, uint64_t now)
{
	if (len <= PN_PMTU_BASE)
		return;
	if (m->state == PN_PMTU_SEARCH && m->probe[0].id && m->probe[0].size >= len) {
		memset(&m->probe[0], 0, sizeof(m->probe[0]));
		search_fail(m, len, now);
		return;
	}
	if (len <= m->cur) { /* this host cannot send the size in use any more */
		black_hole(m, now);
		m->hi = len;
	}
}

uint64_t pn_pmtu_expiry(const struct pn_pmtu *m)
{
	uint64_t e = UINT64_MAX;

	for (int i = 0; i < 2; i++)
		if (m->probe[i].id && m->probe[i].deadline && !m->probe[i].result &&
		    m->probe[i].deadline < e)
			e = m->probe[i].deadline;
	if (m->state == PN_PMTU_DONE && m->raise_at && m->raise_at < e)
		e = m->raise_at;
	return e;
}

void pn_pmtu_timeout(struct pn_pmtu *m, uint64_t now)
{
	for (int i = 0; i < 2; i++) {
		struct pn_pmtu_probe *p = &m->probe[i];
		if (p->id && p->deadline && !p->result && now >= p->deadline)
			pn_pmtu_lost(m, p->id, now); /* may rearrange the slots */
	}
	if (m->state == PN_PMTU_DONE && m->raise_at && now >= m->raise_at && !m->checking)
		search_from(m, m->cur);
}
