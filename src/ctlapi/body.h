#ifndef PN_CTLAPI_BODY_H
#define PN_CTLAPI_BODY_H
/* An HTTP reply body collected by libcurl, bounded: the controller client
 * (xfer.c) and the controller's own client of the identity provider. */
#include <stddef.h>

struct pn_body {
	char *data; /* NUL-terminated; NULL until the first byte */
	size_t len;
	size_t max; /* set by the caller: a longer body fails the transfer */
	int too_big;
};

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA = the struct pn_body: appends,
 * or refuses (the transfer fails; too_big set past max, or out of memory). */
size_t pn_body_write(char *p, size_t size, size_t n, void *body);
#endif
