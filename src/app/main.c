/*
 * postern: one binary, one subcommand per role.  This file only dispatches;
 * each role's glue is src/app/cmd_<role>.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/cmds.h"
#include "core/fdlimit.h"

struct pn_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct pn_cmd cmds[] = {
	{"controller", pn_cmd_controller, "control plane: CA, API, enrollment, policy push"},
	{"relay", pn_cmd_relay, "public zero-knowledge forwarder (UDP, TCP/TLS, WebSocket) and STUN"},
	{"connector", pn_cmd_connector, "private-network side: verifies and proxies flows"},
	{"client", pn_cmd_client, "user side: login, port-forward and SOCKS5, tunnels"},
	{"ctl", pn_cmd_ctl, "admin CLI for the controller's API"},
	{"doctor", pn_cmd_doctor, "check a role's clock, controller, relays, NAT, MTU, DNS"},
	{"version", pn_cmd_version, "print the version"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: postern <command> [options]\n\n"
		   "Postern is a zero-trust network access system: users reach exactly\n"
		   "the private resources that policy grants them, and nothing else.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun 'postern <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	/* Every role writes to sockets a peer may have reset; EPIPE is an
	 * error to handle, never a reason for the process to die. */
	signal(SIGPIPE, SIG_IGN);
	/* Every role holds a socket per flow, tunnel or subscriber: use all
	 * the descriptors the administrator allows (soft limit := hard).  A
	 * failure leaves the limit as it was; running out later is logged
	 * where it happens (resource_exhausted). */
	(void)pn_fdlimit_raise(NULL, NULL);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "postern: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
