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

enum pn_pq_fn {
#define PN_PQ_ENUM(n) PN_PQ_##n,
	PN_PQ_FUNCS(PN_PQ_ENUM)
#undef PN_PQ_ENUM
	PN_PQ_COUNT
};
extern void *pn_pq_sym[PN_PQ_COUNT];

/* Load libpq.so.5 (once; thread-safe): 0 or PN_E_STORE_LIBRARY with the
 * reason (library or symbol missing, Debian package libpq5) in err. */
int pn_pq_load(char *err, size_t errsz);

#define PN_PQ(n) ((__typeof__(n) *)pn_pq_sym[PN_PQ_##n])
#ifndef PN_PQ_DL_IMPL
#define PQclear		     PN_PQ(PQclear)
#define PQcmdStatus	     PN_PQ(PQcmdStatus)
#define PQcmdTuples	     PN_PQ(PQcmdTuples)
#define PQconnectdbParams    PN_PQ(PQconnectdbParams)
#define PQconsumeInput	     PN_PQ(PQconsumeInput)
#define PQerrorMessage	     PN_PQ(PQerrorMessage)
#define PQexec		     PN_PQ(PQexec)
#define PQexecParams	     PN_PQ(PQexecParams)
#define PQfinish	     PN_PQ(PQfinish)
#define PQfname		     PN_PQ(PQfname)
#define PQfreemem	     PN_PQ(PQfreemem)
#define PQftype		     PN_PQ(PQftype)
#define PQgetisnull	     PN_PQ(PQgetisnull)
#define PQgetlength	     PN_PQ(PQgetlength)
#define PQgetvalue	     PN_PQ(PQgetvalue)
#define PQnfields	     PN_PQ(PQnfields)
#define PQnotifies	     PN_PQ(PQnotifies)
#define PQntuples	     PN_PQ(PQntuples)
#define PQresultErrorField   PN_PQ(PQresultErrorField)
#define PQresultStatus	     PN_PQ(PQresultStatus)
#define PQsetNoticeProcessor PN_PQ(PQsetNoticeProcessor)
#define PQsocket	     PN_PQ(PQsocket)
#define PQstatus	     PN_PQ(PQstatus)
#define PQtransactionStatus  PN_PQ(PQtransactionStatus)
#endif
#endif
