#ifndef PN_CONTROLLER_SIGNER_WIRE_H
#define PN_CONTROLLER_SIGNER_WIRE_H
/*
 * The CA signer's request format (sans-I/O codec; signer.h has the
 * processes).  The front sends one request frame and reads one response
 * frame at a time over a private socketpair; every field has a fixed size
 * or an explicit bounded length, and a frame decodes only if it is
 * consumed exactly.
 *
 * Frame: header (PN_SIGNER_HDR_LEN bytes, big-endian)
 *   u16 magic "PS" | u8 version (1) | u8 op | u32 seq | u32 body_len
 * then body_len bytes (<= PN_SIGNER_BODY_MAX).
 *
 * Request bodies:
 *   PING  (empty)
 *   CRED  u8 type (1 client, 2 connector, 3 relay) | id[16]
 *         | str8 name (<= PN_NAME_MAX) | str8 user (<= PN_USER_MAX)
 *         | u8 ngroups (<= PN_GROUPS_MAX) | ngroups x str8 group (<= PN_GROUP_MAX)
 *         | u64 policy_version | u32 lifetime_s | Ed25519 public key[32]
 *         (strings carry no NUL byte)
 *   ACL   the access list's signed part (trust/acl_wire.h, encode_unsigned),
 *         PN_SIGNER_ACL_MIN..PN_SIGNER_ACL_MAX bytes, the whole body
 * Response bodies: i32 status (0 or a negative PN_E_* / errno), then, on 0:
 *   PING  CA fingerprint[32]
 *   CRED  serial[16] | u64 not_before | u64 not_after | lv16 PEM (<= PN_CRED_PEM_MAX)
 *   ACL   Ed25519 signature[64]
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "trust/acl.h"
#include "trust/cred.h"

#define PN_SIGNER_MAGIC	     0x5053u /* "PS" */
#define PN_SIGNER_VERSION    1
#define PN_SIGNER_HDR_LEN    12
#define PN_SIGNER_ACL_MIN    64			     /* below any real header */
#define PN_SIGNER_ACL_MAX    (PN_ACL_MAX_BYTES - 65) /* room for the trailer */
#define PN_SIGNER_BODY_MAX   PN_SIGNER_ACL_MAX	     /* the largest body of either side */
#define PN_SIGNER_SERIAL_LEN 16

enum pn_signer_op {
	PN_SIGNER_OP_PING = 1,
	PN_SIGNER_OP_CRED = 2,
	PN_SIGNER_OP_ACL = 3,
};

struct pn_signer_hdr {
	uint8_t op;
	uint32_t seq;
	uint32_t body_len;
};

struct pn_signer_req {
	uint8_t op;
	uint32_t seq;
	/* CRED: type, id, name, user, ngroups/groups, policy_version */
	struct pn_cred_info info;
	uint32_t lifetime_s;
	uint8_t pubkey[PN_ED25519_PUB_LEN];
	/* ACL: a view into the decoded frame (not owned) */
	const uint8_t *acl;
	size_t acl_len;
};

struct pn_signer_resp {
	uint8_t op;
	uint32_t seq;
	int32_t status;
	uint8_t fpr[PN_FPR_LEN];		   /* PING */
	uint8_t serial[PN_SIGNER_SERIAL_LEN];	   /* CRED */
	uint64_t not_before, not_after;		   /* CRED */
	const char *pem;			   /* CRED: view, not NUL-terminated */
	size_t pem_len;
	uint8_t sig[PN_SIG_LEN];		   /* ACL */
};

/*
 * Header of a frame whose first `len` bytes are at p (len >= HDR_LEN).
 * 0, PN_E_TRUNCATED (fewer bytes), PN_E_MALFORMED (magic, unknown op),
 * PN_E_UNSUPPORTED (version), PN_E_TOOBIG (body_len over PN_SIGNER_BODY_MAX).
 */
int pn_signer_hdr_decode(const uint8_t *p, size_t len, struct pn_signer_hdr *h);

/*
 * Whole frames (exactly len bytes: header + body).  Decoders: 0, or the
 * header's errors, PN_E_TRUNCATED / PN_E_MALFORMED (trailing bytes, a
 * length that disagrees, a NUL in a string, an unknown type),
 * PN_E_TOOBIG (a field over its limit).  Encoders append to a dynamic
 * pn_buf: 0, PN_E_INVAL (a field over its limit), PN_E_TOOBIG, -ENOMEM.
 */
int pn_signer_req_decode(const uint8_t *p, size_t len, struct pn_signer_req *req);
int pn_signer_req_encode(const struct pn_signer_req *req, struct pn_buf *out);
int pn_signer_resp_decode(const uint8_t *p, size_t len, struct pn_signer_resp *resp);
int pn_signer_resp_encode(const struct pn_signer_resp *resp, struct pn_buf *out);

/* "ping" / "cred" / "acl" / "unknown" */
const char *pn_signer_op_name(unsigned op);
#endif
