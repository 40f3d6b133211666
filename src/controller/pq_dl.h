#ifndef PN_CONTROLLER_PQ_DL_H
#define PN_CONTROLLER_PQ_DL_H
/*
 * libpq, loaded at run time by the first PostgreSQL store opened
 * (core/dlsyms.h): postern does not link it, so the roles that never open
 * one do not load it (with libssl, libcrypto, Kerberos, LDAP) at start.
 * Include after <libpq-fe.h> (store_pg.h) in the files that call libpq:
 * each PQ* name below then reads through the table.  Every function the
 * store calls must be listed here (an unlisted one fails to link).
 */
#include <libpq-fe.h>
#include <stddef.h>

#include "core/dlsyms.h"

#define PN_PQ_FUNCS(X)                                                                             \
	X(PQclear)                                                                                 \
	X(PQcmdStatus)                                                                             \
	X(PQcmdTuples)                                                                             \
	X(PQconnectdbParams)                                                                       \
	X(PQconsumeInput)                                                                          \
	X(PQerrorMessage)                                                                          \
	X(PQexec)                                                                                  \
	X(PQexecParams)                                                                            \
	X(PQfinish)                                                                                \
	X(PQfname)                                                                                 \
	X(PQfreemem)                                                                               \
	X(PQftype)                                                                                 \
	X(PQgetisnull)                                                                             \
	X(PQgetlength)                                                                             \
	X(PQgetvalue)                                                                              \
	X(PQnfields)                                                                               \
	X(PQnotifies)                                                                              \
	X(PQntuples)                                                                               \
	X(PQresultErrorField)                                                                      \
	X(PQresultStatus)                                                                          \
	X(PQsetNoticeProcessor)                                                                    \
	X(PQsocket)                                                                                \
	X(PQstatus)                                                                                \
	X(PQtransactionStatus)

enum pn_pq_fn { PN_PQ_FUNCS(PN_DLSYMS_INDEX) PN_PQ_COUNT };
extern void *pn_pq_sym[PN_PQ_COUNT];

/* Load libpq.so.5 (once; thread-safe): 0 or PN_E_STORE_LIBRARY with the
 * reason (library or symbol missing, Debian package libpq5) in err. */
int pn_pq_load(char *err, size_t errsz);

#ifndef PN_PQ_DL_IMPL
#define PQclear		     PN_DLSYM(pn_pq_sym, PQclear)
#define PQcmdStatus	     PN_DLSYM(pn_pq_sym, PQcmdStatus)
#define PQcmdTuples	     PN_DLSYM(pn_pq_sym, PQcmdTuples)
#define PQconnectdbParams    PN_DLSYM(pn_pq_sym, PQconnectdbParams)
#define PQconsumeInput	     PN_DLSYM(pn_pq_sym, PQconsumeInput)
#define PQerrorMessage	     PN_DLSYM(pn_pq_sym, PQerrorMessage)
#define PQexec		     PN_DLSYM(pn_pq_sym, PQexec)
#define PQexecParams	     PN_DLSYM(pn_pq_sym, PQexecParams)
#define PQfinish	     PN_DLSYM(pn_pq_sym, PQfinish)
#define PQfname		     PN_DLSYM(pn_pq_sym, PQfname)
#define PQfreemem	     PN_DLSYM(pn_pq_sym, PQfreemem)
#define PQftype		     PN_DLSYM(pn_pq_sym, PQftype)
#define PQgetisnull	     PN_DLSYM(pn_pq_sym, PQgetisnull)
#define PQgetlength	     PN_DLSYM(pn_pq_sym, PQgetlength)
#define PQgetvalue	     PN_DLSYM(pn_pq_sym, PQgetvalue)
#define PQnfields	     PN_DLSYM(pn_pq_sym, PQnfields)
#define PQnotifies	     PN_DLSYM(pn_pq_sym, PQnotifies)
#define PQntuples	     PN_DLSYM(pn_pq_sym, PQntuples)
#define PQresultErrorField   PN_DLSYM(pn_pq_sym, PQresultErrorField)
#define PQresultStatus	     PN_DLSYM(pn_pq_sym, PQresultStatus)
#define PQsetNoticeProcessor PN_DLSYM(pn_pq_sym, PQsetNoticeProcessor)
#define PQsocket	     PN_DLSYM(pn_pq_sym, PQsocket)
#define PQstatus	     PN_DLSYM(pn_pq_sym, PQstatus)
#define PQtransactionStatus  PN_DLSYM(pn_pq_sym, PQtransactionStatus)
#endif
#endif
