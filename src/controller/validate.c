/*
 * Input validation for API bodies: unknown fields refused, types and
 * lengths checked, addresses normalised through the trust library's
 * destination parser (the same one the connector matches with), ports and
 * relay endpoints checked.  Every failure sets a 400 with a message naming
 * the field and returns nonzero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "core/err.h"
#include "ctlapi/relays.h"
#include "trust/dest.h"

#define PROTO_ENTRIES_MAX 16 /* = PN_ACL_MAX_PORT_RANGES: one entry's ranges */

int pn_api_only_fields(struct pn_req *r, const char *const *allowed)
{
	const char *key;
	json_t *v;

	if (!r->body)
		return pn_api_error(r, 400, "missing_body", "a JSON object body is required");
	json_object_foreach(r->body, key, v) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i])
			return pn_api_error(r, 400, "unknown_field", "unknown field '%.64s'", key);
	}
	return 0;
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '@';
}

int pn_api_str(struct pn_req *r, const char *field, int required, size_t max, int name,
	       const char **out)
{
	json_t *v = r->body ? json_object_get(r->body, field) : NULL;
	const char *s;
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return pn_api_error(r, 400, "missing_field", "field '%s' is required",
					    field);
		return 0;
	}
	if (!json_is_string(v))
		return pn_api_error(r, 400, "invalid_type", "field '%s' must be a string", field);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return pn_api_error(r, 400, "invalid_length", "field '%s' must be 1..%zu bytes",
				    field, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		int ok = name == 1 ? name_char((char)c)
				   : (c >= 0x20 && c <= 0x7e) || (name == 2 && (c == '\n' || c == '\r'));

		if (!ok)
			return pn_api_error(
			    r, 400, "invalid_characters",
			    name == 1 ? "field '%s' may contain only letters, digits and -_.@"
				      : "field '%s' must be printable ASCII",
			    field);
	}
	*out = s;
	return 0;
}

/* "5432" or "8000-8100" -> lo, hi; 1 <= lo <= hi <= 65535.  0 or
 * PN_E_MALFORMED. */
static int parse_ports(const char *s, unsigned *lo, unsigned *hi)
{
	char *end;
	unsigned long a, b;

	if (*s < '0' || *s > '9')
		return PN_E_MALFORMED;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return PN_E_MALFORMED;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end || a < 1 || b > 65535 || a > b)
		return PN_E_MALFORMED;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pn_api_protocols(struct pn_req *r, const json_t *v, char **out_text)
{
	char buf[PROTO_ENTRIES_MAX][24];
	char *sorted[PROTO_ENTRIES_MAX];
	json_t *arr = NULL;
	size_t n, i, m = 0;
	json_t *e;

	*out_text = NULL;
	if (!json_is_array(v) || (n = json_array_size(v)) == 0 || n > PROTO_ENTRIES_MAX) {
		return pn_api_error(
		    r, 400, "invalid_protocols",
		    "'protocols' must be a list of 1..%d entries like \"tcp/5432\", "
		    "\"udp/53-54\", \"tcp\", \"icmp\"",
		    PROTO_ENTRIES_MAX);
	}
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		unsigned lo = 1, hi = 65535;

		if (!s || strlen(s) > 16)
			goto bad;
		if (!strcmp(s, "icmp")) {
			snprintf(buf[i], sizeof(buf[i]), "icmp");
		} else if (!strncmp(s, "tcp", 3) || !strncmp(s, "udp", 3)) {
			if (s[3] == '/') {
				if (parse_ports(s + 4, &lo, &hi))
					goto bad;
			} else if (s[3]) {
				goto bad;
			}
			if (lo == hi)
				snprintf(buf[i], sizeof(buf[i]), "%.3s/%u", s, lo);
			else
				snprintf(buf[i], sizeof(buf[i]), "%.3s/%u-%u", s, lo, hi);
		} else {
			goto bad;
		}
		continue;
bad:
	return pn_api_error(r, 400, "invalid_protocols",
			    "protocol entry %zu must be tcp[/port[-port]], udp[/port[-port]] or "
			    "icmp with ports 1..65535",
			    i);
	}
	for (i = 0; i < n; i++)
		sorted[i] = buf[i];
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	arr = json_array();
	for (i = 0; arr && i < n; i++)
		if (i == 0 || strcmp(sorted[i], sorted[i - 1])) /* drop duplicates */
			json_array_append_new(arr, json_string(sorted[i]));
	if (arr)
		m = json_array_size(arr);
	*out_text = arr && m ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	if (!*out_text)
		return pn_api_error(r, 500, "internal", "out of memory");
	return 0;
}

int pn_api_address(struct pn_req *r, const char *in, char *out, size_t outsz)
{
	struct pn_dest_pattern p;

	if (pn_dest_pattern_parse(in, &p) || pn_dest_pattern_format(&p, out, outsz))
		return pn_api_error(r, 400, "invalid_address",
				    "'address' must be a DNS name, *.name, **.name, an IPv4/IPv6 "
				    "address or a CIDR with zero host bits");
	return 0;
}

/* Relay endpoints: the parser every role uses for relays.json and --relay
 * (ctlapi/relays.h), so what is accepted here is what they can use. */
int pn_api_hostport(struct pn_req *r, const char *field, const char *v)
{
	struct pn_relay_endpoint ep;
	const char *why = "";

	if (pn_relay_endpoint_parse(v, &ep, &why))
		return pn_api_error(r, 400, "invalid_endpoint", "field '%s' %s", field, why);
	return 0;
}

int pn_api_wsurl(struct pn_req *r, const char *field, const char *v)
{
	struct pn_relay_wsurl u;
	const char *why = "";

	if (pn_relay_wsurl_parse(v, &u, &why))
		return pn_api_error(r, 400, "invalid_endpoint", "field '%s': %s", field, why);
	return 0;
}
