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
#endif
