#ifndef PN_CONTROLLER_SIGNER_SANDBOX_H
#define PN_CONTROLLER_SIGNER_SANDBOX_H
/*
 * Confine the CA signer process once its key is loaded: no core dumps
 * and not ptrace-able by its user (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), no
 * new file descriptors (RLIMIT_NOFILE = highest open fd + 1), no new
 * privileges (PR_SET_NO_NEW_PRIVS), and a seccomp BPF filter allowing only
 * what signing and answering over inherited descriptors needs: read/write
 * on open fds, memory management, futex, getrandom, clocks, exit.  No
 * open, socket, connect, fork/clone or exec: any other system call kills
 * the process (SIGSYS), which the front sees as a dead signer.
 *
 * `max_fd` is the highest descriptor the process keeps.  0, or -errno /
 * PN_E_UNSUPPORTED (no filter for this architecture: the caller decides).
 * Sanitizer builds (ASan/UBSan) log instead of killing (their runtimes
 * make system calls of their own on error paths).
 */
int pn_signer_sandbox(int max_fd);
#endif
