/* Optional shared libraries loaded on first use (dlsyms.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/dlsyms.h"
#include "core/err.h"

static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

/* Copy s into d->msg with the characters a log value cannot carry replaced. */
static void set_msg(struct pn_dlsyms *d, const char *s)
{
	size_t i;

	snprintf(d->msg, sizeof(d->msg), "%s", s);
	for (i = 0; d->msg[i]; i++)
		if (d->msg[i] == '"' || d->msg[i] == '\n')
			d->msg[i] = ' ';
}

static int load(struct pn_dlsyms *d)
{
	char m[sizeof(d->msg)];
	const char *e;
	size_t i;

	dlerror();
	if (!(d->handle = dlopen(d->soname, RTLD_NOW | RTLD_LOCAL))) {
		e = dlerror();
		snprintf(m, sizeof(m), "%s not loadable (install the package %s): %s", d->soname,
			 d->package, e ? e : "dlopen failed");
		set_msg(d, m);
		return PN_E_LIBRARY;
	}
	for (i = 0; d->names[i]; i++) {
		dlerror();
		d->syms[i] = dlsym(d->handle, d->names[i]);
		if (!d->syms[i] || dlerror()) {
			snprintf(m, sizeof(m), "%s lacks the symbol %s (install a newer %s)",
				 d->soname, d->names[i], d->package);
			set_msg(d, m);
			memset(d->syms, 0, (i + 1) * sizeof(*d->syms));
			dlclose(d->handle);
			d->handle = NULL;
			return PN_E_LIBRARY;
		}
	}
	if (d->init && d->init(d->syms, m, sizeof(m))) {
		set_msg(d, m);
		memset(d->syms, 0, i * sizeof(*d->syms));
		dlclose(d->handle);
		d->handle = NULL;
		return PN_E_LIBRARY;
	}
	return 0;
}

int pn_dlsyms_load(struct pn_dlsyms *d, char *err, size_t errsz)
{
	int r;

	pthread_mutex_lock(&dl_lock);
	if (!d->state) {
		d->state = load(d);
		if (!d->state)
			d->state = 1;
	}
	r = d->state == 1 ? 0 : d->state;
	if (r && err && errsz)
		snprintf(err, errsz, "%s", d->msg);
	pthread_mutex_unlock(&dl_lock);
	return r;
}
