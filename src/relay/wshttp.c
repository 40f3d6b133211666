#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <nettle/base64.h>

#include "core/err.h"
#include "relay/wshttp.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void pn_ws_accept_value(const char *key, char out[PN_WS_ACCEPT_LEN + 1])
{
	uint8_t d[20];
	char tmp[128];
	int n = snprintf(tmp, sizeof(tmp), "%s%s", key, WS_GUID);

	gnutls_hash_fast(GNUTLS_DIG_SHA1, tmp, n > 0 && (size_t)n < sizeof(tmp) ? (size_t)n : 0, d);
	base64_encode_raw(out, sizeof(d), d);
	out[PN_WS_ACCEPT_LEN] = '\0';
}

/* Find header `name` after the first line; copy its trimmed value. */
static int header(const char *head, const char *name, char *val, size_t cap)
{
	size_t nl = strlen(name);
	const char *l = strstr(head, "\r\n");

	while (l && l[2] && l[2] != '\r') {
		const char *h = l + 2, *e = strstr(h, "\r\n");
		if (!e)
			break;
		if ((size_t)(e - h) > nl && !strncasecmp(h, name, nl) && h[nl] == ':') {
			const char *v = h + nl + 1;
			size_t vl;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			vl = (size_t)(e - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			/* Values we read are short; a longer one is not what we expect. */
			if (vl >= cap)
				return PN_E_TOOBIG;
			memcpy(val, v, vl);
			val[vl] = '\0';
			return 0;
		}
		l = e;
	}
	return PN_E_MALFORMED;
}

int pn_ws_parse_request(const char *head, const char *path, char accept[PN_WS_ACCEPT_LEN + 1])
{
	char v[128];
	size_t pl = strlen(path);
	int r;

	/* Exactly "GET <path> HTTP/1.1\r\n": no query, no absolute form. */
	if (strncmp(head, "GET ", 4) || strncmp(head + 4, path, pl) ||
	    strncmp(head + 4 + pl, " HTTP/1.1\r\n", 11))
		return PN_E_MALFORMED;
	if ((r = header(head, "Upgrade", v, sizeof(v))) || strcasecmp(v, "websocket"))
		return r ? r : PN_E_MALFORMED;
	if ((r = header(head, "Connection", v, sizeof(v))) || !strcasestr(v, "upgrade"))
		return r ? r : PN_E_MALFORMED;
	if ((r = header(head, "Sec-WebSocket-Version", v, sizeof(v))) || strcmp(v, "13"))
		return r ? r : PN_E_MALFORMED;
	/* The key is 16 random bytes in base64: exactly 24 characters. */
	if ((r = header(head, "Sec-WebSocket-Key", v, sizeof(v))) || strlen(v) != PN_WS_KEY_LEN)
		return r ? r : PN_E_MALFORMED;
	pn_ws_accept_value(v, accept);
	return 0;
}

int pn_ws_check_response(const char *head, const char *key)
{
	char v[128], accept[PN_WS_ACCEPT_LEN + 1];

	if (strncmp(head, "HTTP/1.1 101 ", 13) && strncmp(head, "HTTP/1.1 101\r\n", 14))
		return PN_E_RELAY_UNREACHABLE;
	pn_ws_accept_value(key, accept);
	if (header(head, "Sec-WebSocket-Accept", v, sizeof(v)) || strcmp(v, accept))
		return PN_E_MALFORMED;
	return 0;
}
