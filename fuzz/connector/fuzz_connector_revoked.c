/*
 * libFuzzer: the connector's revocation file (`connector run --revoked
 * FILE`), through pn_connector_set_revoked_text into a connector's
 * revocation set.  Every id and serial the set took must then be reported
 * revoked by pn_connector_is_revoked, and the set must be sorted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connector/connector_int.h"
#include "core/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_connector *conn;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_connector *c;
	struct pn_cred_info ci;
	char *text;
	size_t ni, ns;

	if (size > (1u << 20) || !(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* the lists live in the connector; nothing else of it is touched
	 * while it has no tunnels (one zeroed connector, allocated once) */
	if (!conn && !(conn = calloc(1, sizeof(*conn))))
		abort();
	c = conn;
	if (pn_connector_set_revoked_text(c, text, &ni, &ns) == 0) {
		if (c->n_rev_ids > ni || c->n_rev_serials > ns)
			abort();
		for (size_t i = 0; i < c->n_rev_ids; i++) {
			if (i && memcmp(c->rev_ids[i - 1], c->rev_ids[i], PN_ID_LEN) > 0)
				abort();
			memset(&ci, 0, sizeof(ci));
			memcpy(ci.id, c->rev_ids[i], PN_ID_LEN);
			if (!pn_connector_is_revoked(c, &ci))
				abort();
		}
		for (size_t i = 0; i < c->n_rev_serials; i++) {
			const char *s = c->rev_serials[i];
			size_t n = strlen(s);

			if (i && strcmp(c->rev_serials[i - 1], s) > 0)
				abort();
			memset(&ci, 0, sizeof(ci));
			if (n == 0 || n % 2 || n / 2 > sizeof(ci.serial) ||
			    pn_hex_decode(s, ci.serial, n / 2))
				continue; /* not a serial any credential can have */
			ci.serial_len = n / 2;
			ci.id[0] = 0xff; /* not among the ids unless listed */
			if (!pn_connector_is_revoked(c, &ci))
				abort();
		}
	}
	free(c->rev_ids);
	for (size_t i = 0; i < c->n_rev_serials; i++)
		free(c->rev_serials[i]);
	free(c->rev_serials);
	c->rev_ids = NULL;
	c->rev_serials = NULL;
	c->n_rev_ids = c->n_rev_serials = 0;
	free(text);
	return 0;
}
