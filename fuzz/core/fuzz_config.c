/*
 * The config parser on arbitrary bytes: it must never crash, leak or read
 * out of bounds; a failure must leave exactly one message line naming the
 * file; a success must answer every getter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pn_cfg_key schema[] = {
    PN_CFG_KEY("", "name", PN_CFG_STR, .def = "x"),
    PN_CFG_KEY("relay", "listen", PN_CFG_STR, .required = true),
    PN_CFG_KEY("relay", "port", PN_CFG_INT, .min = 1, .max = 65535, .def = "443"),
    PN_CFG_KEY("relay", "n", PN_CFG_INT),
    PN_CFG_KEY("relay", "udp", PN_CFG_BOOL, .def = "yes"),
    PN_CFG_KEY("relay", "idle", PN_CFG_DURATION, .min = 1, .max = 86400000),
    PN_CFG_KEY("relay", "grace", PN_CFG_DURATION, .def = "1h30m"),
    PN_CFG_KEY("relay", "peers", PN_CFG_LIST, .max = 8),
    PN_CFG_KEY("relay", "tags", PN_CFG_LIST, .def = "[a, \"b\"]"),
    PN_CFG_KEY("relay", "token", PN_CFG_STR, .min = 1, .max = 64),
    PN_CFG_KEY("log", "level", PN_CFG_ENUM, .choices = "error|warn|info|debug|trace"),
    PN_CFG_KEY("a.b", "c-d", PN_CFG_INT),
};

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t n = sizeof(schema) / sizeof(schema[0]);
	struct pn_cfg *cfg = NULL;
	char err[256];
	int64_t ms;
	int r;

	/* The text is not NUL-terminated: the parser must respect `size`. */
	r = pn_cfg_load_mem(&cfg, "fuzz.conf", (const char *)data, size, schema, n, err,
			    sizeof(err));
	if (r != 0) {
		check(r == PN_E_CONFIG && cfg == NULL);
		check(strncmp(err, "fuzz.conf", 9) == 0);
		check(strchr(err, '\n') == NULL);
	} else {
		const char *const *items;
		size_t cnt;
		check(cfg != NULL && err[0] == '\0');
		check(pn_cfg_str(cfg, "relay", "listen") != NULL);
		check(pn_cfg_int(cfg, "relay", "port") >= 1 &&
		      pn_cfg_int(cfg, "relay", "port") <= 65535);
		(void)pn_cfg_int(cfg, "relay", "n");
		(void)pn_cfg_bool(cfg, "relay", "udp");
		ms = pn_cfg_duration_ms(cfg, "relay", "idle");
		check(ms >= 0 && ms <= 86400000);
		check(pn_cfg_duration_ms(cfg, "relay", "grace") >= 0);
		cnt = pn_cfg_list(cfg, "relay", "peers", &items);
		check(cnt <= 8);
		for (size_t i = 0; i < cnt; i++)
			check(items[i] != NULL && strlen(items[i]) <= PN_CFG_MAX_LINE);
		cnt = pn_cfg_list(cfg, "relay", "tags", &items);
		for (size_t i = 0; i < cnt; i++)
			check(items[i] != NULL);
		if (pn_cfg_str(cfg, "relay", "token"))
			check(strlen(pn_cfg_str(cfg, "relay", "token")) <= 64);
		check(pn_cfg_enum_index(cfg, "log", "level") >= -1 &&
		      pn_cfg_enum_index(cfg, "log", "level") < 5);
		(void)pn_cfg_int(cfg, "a.b", "c-d");
		pn_cfg_free(cfg);
	}
	/* The duration grammar on its own. */
	if (pn_cfg_parse_duration((const char *)data, size < 64 ? size : 64, &ms) == 0)
		check(ms >= 0);
	return 0;
}
