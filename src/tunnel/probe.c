/* Keyed probes; see probe.h. */
#include <nettle/hmac.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/secret.h"
#include "tunnel/probe.h"

#define PROBE_LABEL  "pn-p2p-probe"
#define PROBE_SIGNED 24 /* bytes covered by the MAC */

static const uint8_t magic[4] = {0x00, 'P', 'N', 'p'};

static void mac(const uint8_t *p, const uint8_t key[PN_PROBE_KEY_LEN], uint8_t out[PN_PROBE_MAC_LEN])
{
	struct hmac_sha256_ctx h;
	uint8_t full[SHA256_DIGEST_SIZE];

	hmac_sha256_set_key(&h, PN_PROBE_KEY_LEN, key);
	hmac_sha256_update(&h, sizeof(PROBE_LABEL) - 1, (const uint8_t *)PROBE_LABEL);
	hmac_sha256_update(&h, PROBE_SIGNED, p);
	hmac_sha256_digest(&h, sizeof(full), full);
	memcpy(out, full, PN_PROBE_MAC_LEN);
	pn_wipe(&h, sizeof(h));
	pn_wipe(full, sizeof(full));
}

int pn_probe_is(const uint8_t *p, size_t n)
{
	return n == PN_PROBE_LEN && !memcmp(p, magic, sizeof(magic));
}

void pn_probe_build(uint8_t out[PN_PROBE_LEN], int type, uint64_t token, uint64_t txid,
		    const uint8_t key[PN_PROBE_KEY_LEN])
{
	memcpy(out, magic, 4);
	out[4] = (uint8_t)type;
	out[5] = out[6] = out[7] = 0;
	pn_store_be64(out + 8, token);
	pn_store_be64(out + 16, txid);
	mac(out, key, out + PROBE_SIGNED);
}

int pn_probe_parse(const uint8_t *p, size_t n, int *type, uint64_t *token, uint64_t *txid)
{
	if (!pn_probe_is(p, n) || (p[4] != PN_PROBE_REQ && p[4] != PN_PROBE_ANS) || p[5] || p[6] ||
	    p[7])
		return PN_E_MALFORMED;
	*type = p[4];
	*token = pn_load_be64(p + 8);
	*txid = pn_load_be64(p + 16);
	return 0;
}

int pn_probe_verify(const uint8_t *p, size_t n, const uint8_t key[PN_PROBE_KEY_LEN])
{
	uint8_t m[PN_PROBE_MAC_LEN];
	int r;

	if (n != PN_PROBE_LEN)
		return PN_E_SIGNATURE;
	mac(p, key, m);
	r = pn_ct_memcmp(m, p + PROBE_SIGNED, PN_PROBE_MAC_LEN) ? PN_E_SIGNATURE : 0;
	pn_wipe(m, sizeof(m));
	return r;
}
