#include <stdlib.h>
#include <string.h>

#include "ctlapi/body.h"

size_t pn_body_write(char *p, size_t size, size_t n, void *body)
{
	struct pn_body *b = body;
	size_t add = size * n;
	char *nb;

	if (add > b->max || b->len > b->max - add) { /* refuse, never truncate */
		b->too_big = 1;
		return 0;
	}
	if (!(nb = realloc(b->data, b->len + add + 1)))
		return 0;
	b->data = nb;
	memcpy(b->data + b->len, p, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}
