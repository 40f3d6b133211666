/* Back-end independent half of the store: locking and thin wrappers. */
#include <stdlib.h>
#include <string.h>

#include "controller/store.h"
#include "core/err.h"

void pn_store_close(struct pn_store *s)
{
	if (!s)
		return;
	s->ops->close(s->be);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int begin(struct pn_store *s, int write)
{
	int r;

	if (s->ops->concurrent) /* per-thread connections: no global lock */
		return s->ops->begin(s->be, write);
	pthread_mutex_lock(&s->lock);
	r = s->ops->begin(s->be, write);
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
	int r = s->ops->commit(s->be);

	if (r)
		s->ops->rollback(s->be); /* fail closed: nothing half-applied */
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
