/* Server-sent-events parser; see sse.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ctlapi/sse.h"

void pn_sse_init(struct pn_sse *p, size_t max)
{
	memset(p, 0, sizeof(*p));
	p->max = max;
}

void pn_sse_reset(struct pn_sse *p)
{
	p->line_len = 0;
	free(p->data);
	p->data = NULL;
	p->data_len = p->data_cap = 0;
	p->event[0] = '\0';
}

void pn_sse_fini(struct pn_sse *p)
{
	free(p->line);
	free(p->data);
	memset(p, 0, sizeof(*p));
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, size_t max)
{
	if (*len + n > max) /* bounded: never buffer more than one event */
		return PN_E_TOOBIG;
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 256;
		char *nb;

		while (nc < *len + n + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* One complete line (without its LF). */
static int line(struct pn_sse *p, const char *l, size_t n, pn_sse_cb cb, void *arg)
{
	if (n && l[n - 1] == '\r')
		n--;
	if (n == 0) { /* blank line: dispatch */
		int r = 0;

		if (p->data)
			r = cb(p->event, p->data_len ? p->data : "", p->data_len, arg);
		free(p->data);
		p->data = NULL;
		p->data_len = p->data_cap = 0;
		p->event[0] = '\0';
		return r;
	}
	if (l[0] == ':')
		return 0;
	if (n >= 6 && !memcmp(l, "event:", 6)) {
		size_t off = 6 + (n > 6 && l[6] == ' ');
		size_t vn = n - off;

		if (vn >= sizeof(p->event))
			vn = sizeof(p->event) - 1;
		memcpy(p->event, l + off, vn);
		p->event[vn] = '\0';
	} else if (n >= 5 && !memcmp(l, "data:", 5)) {
		size_t off = 5 + (n > 5 && l[5] == ' ');
		int r;

		/* several data lines join with LF; a present but empty field
		 * still makes an event */
		if (p->data && (r = append(&p->data, &p->data_len, &p->data_cap, "\n", 1, p->max)))
			return r;
		if (!p->data && (r = append(&p->data, &p->data_len, &p->data_cap, "", 0, p->max)))
			return r;
		return append(&p->data, &p->data_len, &p->data_cap, l + off, n - off, p->max);
	}
	return 0;
}

int pn_sse_feed(struct pn_sse *p, const char *bytes, size_t n, pn_sse_cb cb, void *arg)
{
	size_t start = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (bytes[i] != '\n')
			continue;
		if (p->line_len) { /* completes a buffered partial line */
			if ((r = append(&p->line, &p->line_len, &p->line_cap, bytes + start,
					i - start, p->max)))
				return r;
			r = line(p, p->line, p->line_len, cb, arg);
			p->line_len = 0;
		} else {
			r = line(p, bytes + start, i - start, cb, arg);
		}
		if (r)
			return r;
		start = i + 1;
	}
	return start < n ? append(&p->line, &p->line_len, &p->line_cap, bytes + start, n - start,
				  p->max)
			 : 0;
}
