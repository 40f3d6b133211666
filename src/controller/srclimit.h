#ifndef PN_CONTROLLER_SRCLIMIT_H
#define PN_CONTROLLER_SRCLIMIT_H
/*
 * Caps on unauthenticated work per source address and in total: a
 * connection counts from its accept until it is either closed or promoted
 * to an authenticated push stream (which then no longer counts, so any
 * number of subscribers may share one NAT address).  Thread-safe; the
 * table holds only sources with a connection in progress, so its size is
 * bounded by the global cap.
 */
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

struct pn_srclimit;

/* A source's key: IPv4 as v4-mapped IPv6, so both families share one space. */
struct pn_srckey {
	uint8_t a[16];
};

/* 0, -ENOMEM, -EINVAL (a cap of 0). */
int pn_srclimit_new(unsigned per_source, unsigned total, struct pn_srclimit **out);
void pn_srclimit_free(struct pn_srclimit *l);
/* The key of a socket address; -EAFNOSUPPORT for anything but IPv4/IPv6. */
int pn_srckey_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct pn_srckey *out);
/* Would one more connection from this source be within both caps? */
int pn_srclimit_allowed(struct pn_srclimit *l, const struct pn_srckey *k);
/* Count a connection (after it was accepted); 0 or -ENOMEM (then not counted). */
int pn_srclimit_add(struct pn_srclimit *l, const struct pn_srckey *k);
/* Stop counting one connection of this source (closed, or authenticated). */
void pn_srclimit_release(struct pn_srclimit *l, const struct pn_srckey *k);
/* Connections counted now: total, and for one source. */
size_t pn_srclimit_total(struct pn_srclimit *l);
unsigned pn_srclimit_count(struct pn_srclimit *l, const struct pn_srckey *k);
#endif
