#ifndef PN_CORE_ERR_H
#define PN_CORE_ERR_H
/*
 * Errors are ints: 0 on success, a negative errno (-ENOMEM, -EINVAL, ...)
 * or a negative PN_E_* code from errors.def.  Never a bare -1.
 */
enum pn_err {
#define PN_ERR(name, value, msg) name = value,
#include "core/errors.def"
#undef PN_ERR
};

/* A static, human-readable message for any error code (also for -errno).
 * Unknown codes yield "unknown error"; never NULL. */
const char *pn_strerror(int err);

/* The symbolic name ("PN_E_EXPIRED", "ENOMEM") for logs and JSON; never NULL. */
const char *pn_errname(int err);
#endif
