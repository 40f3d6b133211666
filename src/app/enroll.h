#ifndef PN_APP_ENROLL_H
#define PN_APP_ENROLL_H
#include <stdio.h>
/*
 * `postern <role> enroll --token T --state DIR`, shared by the roles that
 * enroll with a one-time token (connector, relay).  argv[0] is "enroll";
 * usage(f) prints the role's usage.  Returns the exit code: 0 enrolled,
 * 1 enrollment failed (message on stderr), 2 usage.
 */
int pn_app_enroll(const char *role, int argc, char **argv, void (*usage)(FILE *f));
#endif
