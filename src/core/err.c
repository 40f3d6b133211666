#include <errno.h>
#include <string.h>

#include "core/err.h"

const char *pn_strerror(int err)
{
	switch (err) {
	case 0: return "success";
#define PN_ERR(name, value, msg)                                                                   \
	case name:                                                                                 \
		return msg;
#include "core/errors.def"
#undef PN_ERR
	default: break;
	}
	/* strerrordesc_np returns a static string and is thread-safe. */
	if (err < 0 && err > -1000) {
		const char *s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	return "unknown error";
}

const char *pn_errname(int err)
{
	switch (err) {
	case 0: return "OK";
#define PN_ERR(name, value, msg)                                                                   \
	case name:                                                                                 \
		return #name;
#include "core/errors.def"
#undef PN_ERR
	default: break;
	}
	if (err < 0 && err > -1000) {
		const char *s = strerrorname_np(-err);
		if (s)
			return s;
	}
	return "UNKNOWN";
}
