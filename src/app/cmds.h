#ifndef PN_APP_CMDS_H
#define PN_APP_CMDS_H
/*
 * Subcommand entry points.  Each gets argv with argv[0] = the subcommand
 * name and returns the process exit code: 0 ok, 1 runtime failure,
 * 2 usage or configuration error.
 */
int pn_cmd_controller(int argc, char **argv);
int pn_cmd_relay(int argc, char **argv);
int pn_cmd_connector(int argc, char **argv);
int pn_cmd_client(int argc, char **argv);
int pn_cmd_ctl(int argc, char **argv);
int pn_cmd_version(int argc, char **argv);
int pn_cmd_doctor(int argc, char **argv);

/* Each daemon role's `run` option table (app/opts.h), for `postern doctor`
 * to read that role's configuration file with the role's own schema. */
#include <stddef.h>
struct pn_opt;
const struct pn_opt *pn_cmd_client_opts(size_t *n);
const struct pn_opt *pn_cmd_connector_opts(size_t *n);
const struct pn_opt *pn_cmd_relay_opts(size_t *n);
const struct pn_opt *pn_cmd_controller_opts(size_t *n);
#endif
