#include <string.h>

#include <nettle/hmac.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/secret.h"
#include "relay/udpmsg.h"

int pn_relay_udp_classify(const uint8_t *p, size_t n)
{
	if (n == 0)
		return PN_E_MALFORMED;
	switch (p[0]) {
	case PN_RELAY_UDP_DATA:
		if (n <= PN_RELAY_DATA_HDR)
			return PN_E_MALFORMED;
		if (n > PN_RELAY_MAX_DATAGRAM)
			return PN_E_TOOBIG;
		return PN_RELAY_KIND_DATA;
	case PN_RELAY_UDP_BIND: return n == PN_RELAY_BIND_LEN ? PN_RELAY_KIND_BIND : PN_E_MALFORMED;
	case PN_RELAY_UDP_BIND_OK:
		return n == PN_RELAY_BIND_OK_LEN ? PN_RELAY_KIND_BIND_OK : PN_E_MALFORMED;
	case PN_RELAY_UDP_CHALLENGE:
		return n == PN_RELAY_CHALLENGE_LEN ? PN_RELAY_KIND_CHALLENGE : PN_E_MALFORMED;
	case PN_RELAY_UDP_CONFIRM:
		return n == PN_RELAY_CONFIRM_LEN ? PN_RELAY_KIND_CONFIRM : PN_E_MALFORMED;
	default: break;
	}
	/* STUN: top two bits zero, 20-byte header, magic cookie (RFC 8489 §5). */
	if ((p[0] & 0xc0) == 0 && n >= PN_STUN_HDR && pn_load_be32(p + 4) == PN_STUN_MAGIC)
		return PN_RELAY_KIND_STUN;
	return PN_E_MALFORMED;
}

static void bind_mac(const uint8_t *msg, const uint8_t secret[PN_RELAY_SECRET_LEN],
		     uint8_t mac[PN_RELAY_MAC_LEN])
{
	struct hmac_sha256_ctx h;

	hmac_sha256_set_key(&h, PN_RELAY_SECRET_LEN, secret);
	hmac_sha256_update(&h, sizeof(PN_RELAY_BIND_LABEL) - 1,
			   (const uint8_t *)PN_RELAY_BIND_LABEL);
	/* sid, side, counter: everything between the type byte and the MAC. */
	hmac_sha256_update(&h, PN_RELAY_SID_LEN + 1 + 8, msg + 1);
	hmac_sha256_digest(&h, PN_RELAY_MAC_LEN, mac);
	pn_wipe(&h, sizeof(h));
}

void pn_relay_bind_encode(uint8_t out[PN_RELAY_BIND_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
			  enum pn_relay_side side, uint64_t counter,
			  const uint8_t secret[PN_RELAY_SECRET_LEN])
{
	out[0] = PN_RELAY_UDP_BIND;
	memcpy(out + 1, sid, PN_RELAY_SID_LEN);
	out[1 + PN_RELAY_SID_LEN] = (uint8_t)side;
	pn_store_be64(out + 2 + PN_RELAY_SID_LEN, counter);
	bind_mac(out, secret, out + PN_RELAY_BIND_LEN - PN_RELAY_MAC_LEN);
}

void pn_relay_bind_fields(const uint8_t p[PN_RELAY_BIND_LEN], uint8_t *side, uint64_t *counter)
{
	*side = p[1 + PN_RELAY_SID_LEN];
	*counter = pn_load_be64(p + 2 + PN_RELAY_SID_LEN);
}

/* Compare the expected MAC with the one ending the n-byte message p, in
 * constant time, and wipe it.  0 or PN_E_SIGNATURE. */
static int mac_check(const uint8_t *p, size_t n, uint8_t mac[PN_RELAY_MAC_LEN])
{
	int r = pn_ct_memcmp(mac, p + n - PN_RELAY_MAC_LEN, PN_RELAY_MAC_LEN) ? PN_E_SIGNATURE : 0;

	pn_wipe(mac, PN_RELAY_MAC_LEN);
	return r;
}

int pn_relay_bind_verify(const uint8_t p[PN_RELAY_BIND_LEN],
			 const uint8_t secret[PN_RELAY_SECRET_LEN])
{
	uint8_t mac[PN_RELAY_MAC_LEN];

	bind_mac(p, secret, mac);
	return mac_check(p, PN_RELAY_BIND_LEN, mac);
}

void pn_relay_bind_ok_encode(uint8_t out[PN_RELAY_BIND_OK_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
			     uint64_t counter)
{
	out[0] = PN_RELAY_UDP_BIND_OK;
	memcpy(out + 1, sid, PN_RELAY_SID_LEN);
	pn_store_be64(out + 1 + PN_RELAY_SID_LEN, counter);
}

uint64_t pn_relay_bind_ok_counter(const uint8_t p[PN_RELAY_BIND_OK_LEN])
{
	return pn_load_be64(p + 1 + PN_RELAY_SID_LEN);
}

void pn_relay_challenge_encode(uint8_t out[PN_RELAY_CHALLENGE_LEN],
			       const uint8_t sid[PN_RELAY_SID_LEN], uint64_t counter,
			       const uint8_t cookie[PN_RELAY_COOKIE_LEN])
{
	out[0] = PN_RELAY_UDP_CHALLENGE;
	memcpy(out + 1, sid, PN_RELAY_SID_LEN);
	pn_store_be64(out + 1 + PN_RELAY_SID_LEN, counter);
	memcpy(out + 1 + PN_RELAY_SID_LEN + 8, cookie, PN_RELAY_COOKIE_LEN);
}

uint64_t pn_relay_challenge_counter(const uint8_t p[PN_RELAY_CHALLENGE_LEN])
{
	return pn_load_be64(p + 1 + PN_RELAY_SID_LEN);
}

const uint8_t *pn_relay_challenge_cookie(const uint8_t p[PN_RELAY_CHALLENGE_LEN])
{
	return p + 1 + PN_RELAY_SID_LEN + 8;
}

/* MAC over sid, side, counter, cookie: everything between type and MAC. */
static void confirm_mac(const uint8_t *msg, const uint8_t secret[PN_RELAY_SECRET_LEN],
			uint8_t mac[PN_RELAY_MAC_LEN])
{
	struct hmac_sha256_ctx h;

	hmac_sha256_set_key(&h, PN_RELAY_SECRET_LEN, secret);
	hmac_sha256_update(&h, sizeof(PN_RELAY_CONFIRM_LABEL) - 1,
			   (const uint8_t *)PN_RELAY_CONFIRM_LABEL);
	hmac_sha256_update(&h, PN_RELAY_SID_LEN + 1 + 8 + PN_RELAY_COOKIE_LEN, msg + 1);
	hmac_sha256_digest(&h, PN_RELAY_MAC_LEN, mac);
	pn_wipe(&h, sizeof(h));
}

void pn_relay_confirm_encode(uint8_t out[PN_RELAY_CONFIRM_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
			     enum pn_relay_side side, uint64_t counter,
			     const uint8_t cookie[PN_RELAY_COOKIE_LEN],
			     const uint8_t secret[PN_RELAY_SECRET_LEN])
{
	out[0] = PN_RELAY_UDP_CONFIRM;
	memcpy(out + 1, sid, PN_RELAY_SID_LEN);
	out[1 + PN_RELAY_SID_LEN] = (uint8_t)side;
	pn_store_be64(out + 2 + PN_RELAY_SID_LEN, counter);
	memcpy(out + 10 + PN_RELAY_SID_LEN, cookie, PN_RELAY_COOKIE_LEN);
	confirm_mac(out, secret, out + PN_RELAY_CONFIRM_LEN - PN_RELAY_MAC_LEN);
}

void pn_relay_confirm_fields(const uint8_t p[PN_RELAY_CONFIRM_LEN], uint8_t *side,
			     uint64_t *counter, const uint8_t **cookie)
{
	*side = p[1 + PN_RELAY_SID_LEN];
	*counter = pn_load_be64(p + 2 + PN_RELAY_SID_LEN);
	*cookie = p + 10 + PN_RELAY_SID_LEN;
}

int pn_relay_confirm_verify(const uint8_t p[PN_RELAY_CONFIRM_LEN],
			    const uint8_t secret[PN_RELAY_SECRET_LEN])
{
	uint8_t mac[PN_RELAY_MAC_LEN];

	confirm_mac(p, secret, mac);
	return mac_check(p, PN_RELAY_CONFIRM_LEN, mac);
}

void pn_relay_cookie(const uint8_t key[PN_RELAY_SECRET_LEN], const uint8_t sid[PN_RELAY_SID_LEN],
		     uint8_t side, uint64_t counter, const void *addr, size_t addr_len,
		     uint8_t out[PN_RELAY_COOKIE_LEN])
{
	struct hmac_sha256_ctx h;
	uint8_t c[8];

	pn_store_be64(c, counter);
	hmac_sha256_set_key(&h, PN_RELAY_SECRET_LEN, key);
	hmac_sha256_update(&h, PN_RELAY_SID_LEN, sid);
	hmac_sha256_update(&h, 1, &side);
	hmac_sha256_update(&h, sizeof(c), c);
	hmac_sha256_update(&h, addr_len, addr);
	hmac_sha256_digest(&h, PN_RELAY_COOKIE_LEN, out);
	pn_wipe(&h, sizeof(h));
}
