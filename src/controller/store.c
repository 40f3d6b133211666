/* Back-end independent half of the store: locking and thin wrappers. */
#include <stdlib.h>
#include <string.h>

#include "controller/store.h"
#include "core/clock.h"
#include "core/err.h"

void pn_store_close(struct pn_store *s)
{
	if (!s)
		return;
	s->ops->close(s->be);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void count_begin(struct pn_store *s, int write, uint64_t t0)
{
	atomic_fetch_add(&s->begins[write], 1);
	atomic_fetch_add(&s->begin_ns[write], pn_now_ns() - t0);
}

static int begin(struct pn_store *s, int write)
{
	uint64_t t0 = pn_now_ns();
	int r;

	if (s->ops->concurrent) { /* per-thread connections: no global lock */
		r = s->ops->begin(s->be, write);
		count_begin(s, !!write, t0);
		return r;
	}
	pthread_mutex_lock(&s->lock);
	r = s->ops->begin(s->be, write);
	count_begin(s, !!write, t0);
	if (r) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	s->in_tx = 1;
	return 0;
}

int pn_store_begin(struct pn_store *s)
{
	return begin(s, 1);
}

int pn_store_read(struct pn_store *s)
{
	return begin(s, 0);
}

int pn_store_commit(struct pn_store *s)
{
	uint64_t t0 = pn_now_ns(), dt;
	int r = s->ops->commit(s->be);

	dt = pn_now_ns() - t0;
	atomic_fetch_add(&s->commits, 1);
	atomic_fetch_add(&s->commit_ns, dt);
	atomic_store(&s->last_commit_ns, dt);
	if (r) {
		atomic_fetch_add(&s->commit_failures, 1);
		s->ops->rollback(s->be); /* fail closed: nothing half-applied */
	}
	if (s->ops->concurrent)
		return r;
	s->in_tx = 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void pn_store_rollback(struct pn_store *s)
{
	if (s->ops->concurrent) { /* a no-op outside a transaction */
		s->ops->rollback(s->be);
		return;
	}
	if (!s->in_tx)
		return;
	s->ops->rollback(s->be);
	s->in_tx = 0;
	pthread_mutex_unlock(&s->lock);
}

void pn_store_stats(const struct pn_store *s, struct pn_store_stats *st)
{
	for (int i = 0; i < 2; i++) {
		st->begins[i] = atomic_load(&s->begins[i]);
		st->begin_ns[i] = atomic_load(&s->begin_ns[i]);
	}
	st->commits = atomic_load(&s->commits);
	st->commit_ns = atomic_load(&s->commit_ns);
	st->commit_failures = atomic_load(&s->commit_failures);
	st->last_commit_ns = atomic_load(&s->last_commit_ns);
}

int pn_store_insert(struct pn_store *s, enum pn_obj kind, const json_t *row)
{
	return s->ops->insert(s->be, kind, row);
}

int pn_store_get(struct pn_store *s, enum pn_obj kind, const char *id, json_t **out)
{
	const struct pn_objdesc *d = pn_store_desc(kind);

	if (!d)
		return PN_E_INVAL;
	return s->ops->get(s->be, kind, d->key, id, out);
}

int pn_store_get_by(struct pn_store *s, enum pn_obj kind, const char *col, const char *value,
		    json_t **out)
{
	return s->ops->get(s->be, kind, col, value, out);
}

int pn_store_list(struct pn_store *s, enum pn_obj kind, const struct pn_filter *f, unsigned nf,
		  unsigned limit, json_t **out)
{
	return s->ops->list(s->be, kind, f, nf, limit, out);
}

int pn_store_update(struct pn_store *s, enum pn_obj kind, const char *id, const json_t *set)
{
	return s->ops->update(s->be, kind, id, set);
}

int pn_store_remove(struct pn_store *s, enum pn_obj kind, const char *id)
{
	return s->ops->remove(s->be, kind, id);
}

int pn_store_is_pg(const char *spec)
{
	return spec && (!strncmp(spec, "postgres://", 11) || !strncmp(spec, "postgresql://", 13));
}

int pn_store_open(const char *spec, struct pn_store **out)
{
	if (pn_store_is_pg(spec))
		return pn_store_open_pg(spec, out);
	return pn_store_open_sqlite(spec, out);
}

int pn_store_watch(struct pn_store *s, void (*cb)(void *arg, uint64_t version), void *arg)
{
	return s->ops->watch ? s->ops->watch(s->be, cb, arg) : 0;
}
