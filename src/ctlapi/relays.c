#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/err.h"
#include "ctlapi/relays.h"
#include "trust/dest.h"

#define LIST_MAX (1u << 20)

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return PN_E_CONFIG;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int pn_relay_endpoint_parse(const char *s, struct pn_relay_endpoint *out, const char **why)
{
	static const char rule[] = "must be host:port (a DNS name, IPv4, or [IPv6]; port 1..65535)";
	struct pn_dest d;
	int br;

	memset(out, 0, sizeof(*out));
	if (!s || !*s || strlen(s) > PN_RELAY_ADDR_MAX || !printable(s))
		return fail(why, rule);
	/* the one host:port parser (core/addr.h); [host] must be IPv6 */
	if (pn_addr_split(s, out->host, sizeof(out->host), &out->port, &br, 0))
		return fail(why, rule);
	if (br) {
		out->family = AF_INET6;
		return 0;
	}
	/* A name or IPv4; an IPv6 address needs brackets (its colons). */
	if (pn_dest_parse(out->host, strlen(out->host), &d) || d.kind == PN_DEST_IP6)
		return fail(why, rule);
	out->family = d.kind == PN_DEST_IP4 ? AF_INET : 0;
	return 0;
}

int pn_relay_wsurl_parse(const char *s, struct pn_relay_wsurl *out, const char **why)
{
	static const char rule[] = "must be ws://host:port/path or wss://host:port/path";
	const char *rest, *slash;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) > PN_RELAY_URL_MAX || !printable(s))
		return fail(why, rule);
	if (!strncmp(s, "wss://", 6)) {
		out->secure = 1;
		rest = s + 6;
	} else if (!strncmp(s, "ws://", 5)) {
		rest = s + 5;
	} else {
		return fail(why, rule);
	}
	slash = rest + strcspn(rest, "/");
	n = (size_t)(slash - rest);
	if (n == 0 || n > PN_RELAY_ADDR_MAX)
		return fail(why, rule);
	memcpy(out->hostport, rest, n);
	out->hostport[n] = '\0';
	/* No user info ("user@host"): nothing to send it with, and it hides the host. */
	if (strchr(out->hostport, '@'))
		return fail(why, rule);
	if (pn_relay_endpoint_parse(out->hostport, &out->ep, why))
		return PN_E_CONFIG;
	if (!*slash) {
		strcpy(out->path, "/");
		return 0;
	}
	/* The path goes into our request line: no spaces (printable checked
	 * above), no fragment. */
	if (strlen(slash) > PN_RELAY_PATH_MAX)
		return fail(why, "the URL path is too long");
	if (strpbrk(slash, " #"))
		return fail(why, "the URL path may not contain spaces or '#'");
	strcpy(out->path, slash);
	return 0;
}

int pn_relay_name_check(const char *s, const char **why)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > PN_RELAY_NAME_MAX)
		return fail(why, "a name must be 1..64 bytes");
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			return fail(why, "a name may contain only letters, digits and -_.@");
	}
	return 0;
}

/* Validate the fields of a filled entry. */
static int entry_check(const struct pn_relay_entry *e, const char **why)
{
	struct pn_relay_endpoint ep;
	struct pn_relay_wsurl u;

	if (!*e->udp && !*e->tls && !*e->ws)
		return fail(why, "a relay needs at least one of udp, tls, ws");
	if (*e->name && pn_relay_name_check(e->name, why))
		return PN_E_CONFIG;
	if ((*e->udp && pn_relay_endpoint_parse(e->udp, &ep, why)) ||
	    (*e->tls && pn_relay_endpoint_parse(e->tls, &ep, why)) ||
	    (*e->ws && pn_relay_wsurl_parse(e->ws, &u, why)))
		return PN_E_CONFIG;
	return 0;
}

static int set_field(char *dst, size_t dstsz, const char *v, size_t n)
{
	if (n >= dstsz)
		return PN_E_TOOBIG;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int pn_relay_spec_parse(const char *spec, struct pn_relay_entry *e, const char **why)
{
	static const struct {
		const char *key;
		size_t off, size;
	} keys[] = {
	    {"tls=", offsetof(struct pn_relay_entry, tls), PN_RELAY_ADDR_MAX + 1},
	    {"udp=", offsetof(struct pn_relay_entry, udp), PN_RELAY_ADDR_MAX + 1},
	    {"ws=", offsetof(struct pn_relay_entry, ws), PN_RELAY_URL_MAX + 1},
	    {"name=", offsetof(struct pn_relay_entry, name), PN_RELAY_NAME_MAX + 1},
	};
	const char *p = spec;

	memset(e, 0, sizeof(*e));
	if (!spec || !*spec)
		return fail(why, "empty relay spec");
	while (*p) {
		size_t k, klen = 0, vlen;
		const char *v, *end;
		char *dst;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			klen = strlen(keys[k].key);
			if (!strncmp(p, keys[k].key, klen))
				break;
		}
		if (k == sizeof(keys) / sizeof(keys[0]))
			return fail(why, "relay spec: expected tls=, udp=, ws= or name=");
		v = p + klen;
		/* The value runs to the next ",key=": a comma in a URL path stays. */
		for (end = v;; end++) {
			end += strcspn(end, ",");
			if (!*end)
				break;
			size_t j;
			for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
				if (!strncmp(end + 1, keys[j].key, strlen(keys[j].key)))
					break;
			if (j < sizeof(keys) / sizeof(keys[0]))
				break;
		}
		vlen = (size_t)(end - v);
		dst = (char *)e + keys[k].off;
		if (*dst)
			return fail(why, "relay spec: a key appears twice");
		if (vlen == 0 || set_field(dst, keys[k].size, v, vlen))
			return fail(why, "relay spec: empty or too long value");
		p = *end ? end + 1 : end;
	}
	return entry_check(e, why);
}

/* A string field of a JSON entry: absent/null/"" -> "", else copied. */
static int json_field(const json_t *o, const char *key, char *dst, size_t dstsz, const char **why)
{
	const json_t *v = json_object_get(o, key);

	dst[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(why, "a field is not a string");
	if (json_string_length(v) != strlen(json_string_value(v)))
		return fail(why, "a field contains NUL");
	if (set_field(dst, dstsz, json_string_value(v), json_string_length(v)))
		return fail(why, "a field is too long");
	return 0;
}

int pn_relays_parse_json(const char *text, size_t len, struct pn_relay_entry *out, size_t max,
			 size_t *n, pn_relays_skip_fn skip, void *arg)
{
	json_error_t jerr;
	json_t *arr, *o;
	size_t i;

	*n = 0;
	if (len > LIST_MAX)
		return PN_E_TOOBIG;
	arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return PN_E_CONFIG;
	}
	json_array_foreach(arr, i, o)
	{
		struct pn_relay_entry e;
		const char *why = NULL;
		char id[PN_RELAY_NAME_MAX + 1];
		int r = PN_E_CONFIG;

		memset(&e, 0, sizeof(e));
		if (!json_is_object(o)) {
			why = "an entry is not an object";
		} else if (*n >= max) {
			why = "too many relays in the list";
			r = PN_E_TOOBIG;
		} else if (!json_field(o, "name", e.name, sizeof(e.name), &why) &&
			   !json_field(o, "udp", e.udp, sizeof(e.udp), &why) &&
			   !json_field(o, "tls", e.tls, sizeof(e.tls), &why) &&
			   !json_field(o, "ws", e.ws, sizeof(e.ws), &why) &&
			   !entry_check(&e, &why)) {
			/* Unnamed (older lists): label it by its id. */
			if (!*e.name && !json_field(o, "id", id, sizeof(id), &why) && *id &&
			    !pn_relay_name_check(id, NULL))
				strcpy(e.name, id);
			e.index = i;
			out[(*n)++] = e;
			continue;
		}
		if (skip)
			skip(i, *e.name ? e.name : "?", r, why ? why : "invalid entry", arg);
	}
	json_decref(arr);
	return 0;
}
