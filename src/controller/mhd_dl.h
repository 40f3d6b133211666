#ifndef PN_CONTROLLER_MHD_DL_H
#define PN_CONTROLLER_MHD_DL_H
/*
 * libmicrohttpd, loaded at run time when the controller starts its API or
 * metrics listener (core/dlsyms.h): postern does not link it, so the
 * client, connector and relay do not load it at start.  Include after the
 * system headers in the files that call it: each MHD_* name below then
 * reads through the table.  Every function called must be listed here (an
 * unlisted one fails to link).
 */
#include <microhttpd.h>
#include <stddef.h>

#include "core/dlsyms.h"

#define PN_MHD_FUNCS(X)                                                                            \
	X(MHD_add_connection)                                                                      \
	X(MHD_add_response_header)                                                                 \
	X(MHD_create_response_from_buffer)                                                         \
	X(MHD_create_response_from_callback)                                                       \
	X(MHD_destroy_response)                                                                    \
	X(MHD_get_connection_info)                                                                 \
	X(MHD_get_daemon_info)                                                                     \
	X(MHD_lookup_connection_value)                                                             \
	X(MHD_queue_response)                                                                      \
	X(MHD_resume_connection)                                                                   \
	X(MHD_set_connection_option)                                                               \
	X(MHD_start_daemon)                                                                        \
	X(MHD_stop_daemon)                                                                         \
	X(MHD_suspend_connection)

enum pn_mhd_fn { PN_MHD_FUNCS(PN_DLSYMS_INDEX) PN_MHD_COUNT };
extern void *pn_mhd_sym[PN_MHD_COUNT];

/* Load libmicrohttpd.so.12 (once; thread-safe): 0 or PN_E_LIBRARY with the reason
 * (library or symbol missing, Debian package libmicrohttpd12) in err. */
int pn_mhd_load(char *err, size_t errsz);

#ifndef PN_MHD_DL_IMPL
#define MHD_add_connection		  PN_DLSYM(pn_mhd_sym, MHD_add_connection)
#define MHD_add_response_header		  PN_DLSYM(pn_mhd_sym, MHD_add_response_header)
#define MHD_create_response_from_buffer	  PN_DLSYM(pn_mhd_sym, MHD_create_response_from_buffer)
#define MHD_create_response_from_callback PN_DLSYM(pn_mhd_sym, MHD_create_response_from_callback)
#define MHD_destroy_response		  PN_DLSYM(pn_mhd_sym, MHD_destroy_response)
#define MHD_get_connection_info		  PN_DLSYM(pn_mhd_sym, MHD_get_connection_info)
#define MHD_get_daemon_info		  PN_DLSYM(pn_mhd_sym, MHD_get_daemon_info)
#define MHD_lookup_connection_value	  PN_DLSYM(pn_mhd_sym, MHD_lookup_connection_value)
#define MHD_queue_response		  PN_DLSYM(pn_mhd_sym, MHD_queue_response)
#define MHD_resume_connection		  PN_DLSYM(pn_mhd_sym, MHD_resume_connection)
#define MHD_set_connection_option	  PN_DLSYM(pn_mhd_sym, MHD_set_connection_option)
#define MHD_start_daemon		  PN_DLSYM(pn_mhd_sym, MHD_start_daemon)
#define MHD_stop_daemon			  PN_DLSYM(pn_mhd_sym, MHD_stop_daemon)
#define MHD_suspend_connection		  PN_DLSYM(pn_mhd_sym, MHD_suspend_connection)
#endif
#endif
