/* Destination parsing, normalisation and matching (rules: dest.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "trust/dest.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Would inet_aton() read this (lowercased) last label as a number? */
static int numeric_label(const char *l, size_t n)
{
	size_t i = 0;

	if (n >= 2 && l[0] == '0' && l[1] == 'x') {
		for (i = 2; i < n; i++)
			if (!is_hex(l[i]))
				return 0;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (l[i] < '0' || l[i] > '9')
			return 0;
	return 1;
}

/*
 * Normalise a name of n bytes into out (PN_DNS_NAME_MAX + 1): lowercase,
 * strip one trailing dot, check labels and charset.  0 or PN_E_BAD_NAME.
 */
static int norm_name(const char *in, size_t n, char *out, uint8_t *out_len)
{
	size_t label = 0, last_start = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	/* RFC 1035 limits: 253 bytes of text, 63 per label. */
	if (n == 0 || n > PN_DNS_NAME_MAX)
		return PN_E_BAD_NAME;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '.') {
			if (label == 0)
				return PN_E_BAD_NAME; /* empty label */
			label = 0;
			last_start = i + 1;
			out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return PN_E_BAD_NAME; /* includes every non-ASCII (IDN U-label) byte */
		if (++label > PN_DNS_LABEL_MAX)
			return PN_E_BAD_NAME;
		out[i] = c;
	}
	if (label == 0)
		return PN_E_BAD_NAME; /* "a.." after stripping one dot */
	if (numeric_label(out + last_start, n - last_start))
		return PN_E_BAD_NAME;
	out[n] = '\0';
	*out_len = (uint8_t)n;
	return 0;
}

/* Address text -> kind/addr; IPv4-mapped IPv6 becomes IPv4.  0 or -1. */
static int parse_addr(const char *s, uint8_t *kind, uint8_t addr[16])
{
	uint8_t a6[16];

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*kind = PN_DEST_IP4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a6) == 1) {
		if (memcmp(a6, v4mapped, sizeof(v4mapped)) == 0) {
			*kind = PN_DEST_IP4;
			memcpy(addr, a6 + 12, 4);
		} else {
			*kind = PN_DEST_IP6;
			memcpy(addr, a6, 16);
		}
		return 0;
	}
	return -1;
}

int pn_dest_parse(const char *s, size_t len, struct pn_dest *out)
{
	char buf[PN_DEST_TEXT_MAX + 1];

	memset(out, 0, sizeof(*out));
	/* Bounded copy so inet_pton sees a NUL-terminated string. */
	if (len == 0 || len > PN_DEST_TEXT_MAX || memchr(s, '\0', len))
		return PN_E_BAD_NAME;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_addr(buf, &out->kind, out->addr) == 0)
		return 0;
	out->kind = PN_DEST_NAME;
	if (norm_name(buf, len, out->name, &out->name_len) < 0) {
		memset(out, 0, sizeof(*out));
		return PN_E_BAD_NAME;
	}
	return 0;
}

static int host_bits_zero(const uint8_t *a, unsigned bytes, unsigned prefix)
{
	for (unsigned bit = prefix; bit < bytes * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return 0;
	return 1;
}

int pn_dest_pattern_check(const struct pn_dest_pattern *p)
{
	char tmp[PN_DNS_NAME_MAX + 1];
	uint8_t n = 0;
	static const uint8_t zero[12];

	switch (p->kind) {
	case PN_DEST_NAME:
	case PN_DEST_WILD1:
	case PN_DEST_WILDN:
		/* Canonical iff normalising it changes nothing. */
		if (p->name_len == 0 || p->name_len > PN_DNS_NAME_MAX ||
		    memchr(p->name, '\0', p->name_len) || p->name[p->name_len] != '\0' ||
		    p->prefix != 0)
			return PN_E_BAD_NAME;
		if (p->name[p->name_len - 1] == '.' ||
		    norm_name(p->name, p->name_len, tmp, &n) < 0 || n != p->name_len ||
		    memcmp(tmp, p->name, n) != 0)
			return PN_E_BAD_NAME;
		return 0;
	case PN_DEST_IP4:
		if (p->prefix > 32 || !host_bits_zero(p->addr, 4, p->prefix) ||
		    memcmp(p->addr + 4, zero, 12) != 0 || p->name_len != 0)
			return PN_E_BAD_NAME;
		return 0;
	case PN_DEST_IP6:
		if (p->prefix > 128 || !host_bits_zero(p->addr, 16, p->prefix) || p->name_len != 0)
			return PN_E_BAD_NAME;
		/* A range inside ::ffff:0:0/96 is written as IPv4 (queries there
		 * are IPv4): refuse the second spelling. */
		if (p->prefix >= 96 && memcmp(p->addr, v4mapped, sizeof(v4mapped)) == 0)
			return PN_E_BAD_NAME;
		return 0;
	default: return PN_E_BAD_NAME;
	}
}

/* Decimal prefix length, no sign, no leading zeros. */
static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int pn_dest_pattern_parse(const char *s, struct pn_dest_pattern *out)
{
	char buf[PN_DEST_TEXT_MAX + 1];
	size_t len = strnlen(s, PN_DEST_TEXT_MAX + 1);
	const char *name = s;
	char *slash;
	unsigned prefix;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > PN_DEST_TEXT_MAX)
		return PN_E_BAD_NAME;
	memcpy(buf, s, len + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (parse_addr(buf, &out->kind, out->addr) == 0) {
		unsigned max = out->kind == PN_DEST_IP4 ? 32 : 128;
		int mapped = strchr(buf, ':') != NULL && out->kind == PN_DEST_IP4;

		/* "::ffff:a.b.c.d" patterns must be written as IPv4. */
		if (mapped)
			goto bad;
		if (slash) {
			if (parse_prefix(slash + 1, max, &prefix) < 0)
				goto bad;
		} else {
			prefix = max;
		}
		out->prefix = (uint8_t)prefix;
		if (pn_dest_pattern_check(out) < 0)
			goto bad;
		return 0;
	}
	if (slash)
		goto bad;
	if (strncmp(s, "**.", 3) == 0) {
		out->kind = PN_DEST_WILDN;
		name = s + 3;
	} else if (strncmp(s, "*.", 2) == 0) {
		out->kind = PN_DEST_WILD1;
		name = s + 2;
	} else {
		out->kind = PN_DEST_NAME;
	}
	if (norm_name(name, strlen(name), out->name, &out->name_len) < 0)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return PN_E_BAD_NAME;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rem = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rem == 0)
		return 1;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

int pn_dest_match(const struct pn_dest_pattern *p, const struct pn_dest *d)
{
	size_t pl = p->name_len, dl = d->name_len, head;

	switch (p->kind) {
	case PN_DEST_NAME:
		return d->kind == PN_DEST_NAME && dl == pl && memcmp(d->name, p->name, pl) == 0;
	case PN_DEST_WILD1:
	case PN_DEST_WILDN:
		/* d = <head> "." <suffix>, head non-empty. */
		if (d->kind != PN_DEST_NAME || dl < pl + 2)
			return 0;
		head = dl - pl - 1;
		if (d->name[head] != '.' || memcmp(d->name + head + 1, p->name, pl) != 0)
			return 0;
		/* Labels are never empty in a normalised name, so a head
		 * without a dot is exactly one label. */
		return p->kind == PN_DEST_WILDN || memchr(d->name, '.', head) == NULL;
	case PN_DEST_IP4:
		return d->kind == PN_DEST_IP4 && prefix_match(d->addr, p->addr, p->prefix);
	case PN_DEST_IP6:
		return d->kind == PN_DEST_IP6 && prefix_match(d->addr, p->addr, p->prefix);
	default: return 0;
	}
}

int pn_dest_pattern_format(const struct pn_dest_pattern *p, char *out, size_t outsz)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	switch (p->kind) {
	case PN_DEST_NAME: n = snprintf(out, outsz, "%s", p->name); break;
	case PN_DEST_WILD1: n = snprintf(out, outsz, "*.%s", p->name); break;
	case PN_DEST_WILDN: n = snprintf(out, outsz, "**.%s", p->name); break;
	case PN_DEST_IP4:
	case PN_DEST_IP6:
		if (!inet_ntop(p->kind == PN_DEST_IP4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a)))
			return PN_E_INVAL;
		n = snprintf(out, outsz, "%s/%u", a, p->prefix);
		break;
	default: return PN_E_INVAL;
	}
	return n < 0 || (size_t)n >= outsz ? PN_E_NOSPACE : 0;
}

int pn_dest_format(const struct pn_dest *d, char *out, size_t outsz)
{
	int n;

	if (d->kind == PN_DEST_NAME) {
		n = snprintf(out, outsz, "%s", d->name);
		return n < 0 || (size_t)n >= outsz ? PN_E_NOSPACE : 0;
	}
	if (d->kind != PN_DEST_IP4 && d->kind != PN_DEST_IP6)
		return PN_E_INVAL;
	if (!inet_ntop(d->kind == PN_DEST_IP4 ? AF_INET : AF_INET6, d->addr, out, (socklen_t)outsz))
		return PN_E_NOSPACE;
	return 0;
}
