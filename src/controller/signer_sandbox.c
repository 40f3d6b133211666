/* Seccomp filter and limits for the CA signer (signer_sandbox.h). */
#include <errno.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "controller/signer_sandbox.h"
#include "core/err.h"

#if defined(__x86_64__)
#define PN_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PN_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(__SANITIZE_ADDRESS__)
#define PN_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define PN_SANITIZED 1
#endif
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif

#define ALLOW(nr)                                                                                  \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

int pn_signer_sandbox(int max_fd)
{
	struct rlimit none = {0, 0}, fds = {(rlim_t)max_fd + 1, (rlim_t)max_fd + 1};

	/* the key must not reach a core file or a same-user debugger */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &none) < 0)
		return -errno;
	if (setrlimit(RLIMIT_NOFILE, &fds) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
#ifndef PN_AUDIT_ARCH
	return PN_E_UNSUPPORTED;
#else
	{
		struct sock_filter f[] = {
			/* the architecture first: syscall numbers mean nothing without it */
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PN_AUDIT_ARCH, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
			/* x32 system calls share the arch value: refuse them all */
			BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
			ALLOW(__NR_read),
			ALLOW(__NR_write),
			ALLOW(__NR_writev),
			ALLOW(__NR_sendto),
			ALLOW(__NR_recvfrom),
			ALLOW(__NR_ppoll),
#ifdef __NR_poll
			ALLOW(__NR_poll),
#endif
			ALLOW(__NR_close),
			ALLOW(__NR_brk),
			ALLOW(__NR_mmap),
			ALLOW(__NR_munmap),
			ALLOW(__NR_mremap),
			ALLOW(__NR_mprotect),
			ALLOW(__NR_madvise),
			ALLOW(__NR_futex),
			ALLOW(__NR_getrandom),
			ALLOW(__NR_clock_gettime),
			ALLOW(__NR_gettimeofday),
#ifdef __NR_time
			ALLOW(__NR_time),
#endif
			ALLOW(__NR_getpid),
			ALLOW(__NR_gettid),
			ALLOW(__NR_rt_sigreturn),
			ALLOW(__NR_rt_sigprocmask),
			ALLOW(__NR_sched_yield),
			ALLOW(__NR_exit),
			ALLOW(__NR_exit_group),
#ifdef PN_SANITIZED
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
#else
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
		};
		struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};

		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
			return -errno;
	}
	return 0;
#endif
}
