#ifndef PN_CTLAPI_SSE_H
#define PN_CTLAPI_SSE_H
/*
 * Server-sent-events parser (sans I/O): feed bytes as they arrive, get one
 * callback per complete event (the "event:" name and the joined "data:"
 * lines).  Comments (":...") and unknown fields are ignored; lines end in
 * LF or CRLF.  Memory is bounded: one event's data and any single line are
 * limited to `max` bytes (PN_E_TOOBIG).
 */
#include <stddef.h>

struct pn_sse {
	char *line;   /* current partial line */
	size_t line_len, line_cap;
	char *data;   /* data of the event being assembled */
	size_t data_len, data_cap;
	char event[32];
	size_t max;
};

/* Callback per event; return nonzero to stop parsing (returned by feed). */
typedef int (*pn_sse_cb)(const char *event, const char *data, size_t len, void *arg);

void pn_sse_init(struct pn_sse *p, size_t max);
/* Forget any partial line/event (after a reconnect); keeps buffers. */
void pn_sse_reset(struct pn_sse *p);
void pn_sse_fini(struct pn_sse *p);
/* 0, PN_E_TOOBIG, -ENOMEM, or the callback's nonzero value. */
int pn_sse_feed(struct pn_sse *p, const char *bytes, size_t n, pn_sse_cb cb, void *arg);
#endif
