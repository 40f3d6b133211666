#ifndef PN_CONTROLLER_SIGNER_H
#define PN_CONTROLLER_SIGNER_H
/*
 * The privilege-separated CA signer (the OpenSSH monitor pattern).
 *
 * The controller's front process (HTTP server, handlers, store) never
 * reads ca.key.  At start, before any thread exists, it forks a small
 * child that alone loads the key, confines itself (signer_sandbox.h) and
 * answers signing requests over a private socketpair (signer_wire.h),
 * signing only what signer_core.h allows.  Every signature is logged by
 * the child ("signer signed ...").
 *
 * A pool of such children (cfg.processes, default 2), each started the
 * same way with the same limits, so signing runs on several cores: a
 * request goes to an idle child (the search starts after the last one
 * used, spreading the load), and waits while all are busy.  The rate cap
 * is the pool's: each child enforces rate_per_s / processes (a pool is
 * never larger than rate_per_s).
 *
 * If a child dies or stops answering, the request in flight on it fails
 * with PN_E_SIGNER (signing fails closed: no credential or access list is
 * issued), the death is logged, and that child is started again at once
 * (at most one start per second per child); the other children keep
 * serving meanwhile.  Requests fail with PN_E_SIGNER only when no child is
 * alive or may be restarted.
 *
 * Thread-safe: each child serves one request at a time.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "controller/signer_core.h"
#include "trust/acl.h"
#include "trust/cred.h"

struct pn_signer_cfg {
	const char *data_dir; /* holds ca.key and ca.crt */
	/* The program to exec as `<exe> controller signer --fd 3 ...` (a
	 * fresh address space); NULL: the child runs pn_signer_child_run
	 * straight after fork (library users such as tests and benchmarks,
	 * which have no postern binary; the front never loaded the key, so
	 * the child inherits none). */
	const char *exe;
	struct pn_signer_limits lim; /* rate_per_s: the whole pool's */
	unsigned processes;	     /* children; 0: PN_SIGNER_PROCESSES_DEFAULT */
};

#define PN_SIGNER_PROCESSES_DEFAULT 2u
#define PN_SIGNER_PROCESSES_MAX	    64u

struct pn_signer;

/*
 * Start the child and check that it signs for the CA whose fingerprint is
 * ca_fpr (from ca.crt).  0, PN_E_SIGNER (it did not start or answer, see
 * the log), PN_E_CONFIG (another CA), PN_E_INVAL, -ENOMEM, -errno.
 */
int pn_signer_start(const struct pn_signer_cfg *cfg, const uint8_t ca_fpr[PN_FPR_LEN],
		    struct pn_signer **out);
/* Close the socket (the child exits on EOF), reap it.  NULL-safe. */
void pn_signer_free(struct pn_signer *s);
/* The first child's pid (tests), or -1 while it is not running. */
pid_t pn_signer_pid(struct pn_signer *s);
/* Each child's pid (-1: not running) into pids[0..max); returns how many
 * were written (the pool's size when max allows).  For tests and
 * benchmarks: a child being restarted meanwhile may read as either. */
unsigned pn_signer_pids(struct pn_signer *s, pid_t *pids, unsigned max);

/*
 * pn_cred_issue through the signer: the CSR is parsed and its proof of
 * possession checked here; the child gets the raw public key and the
 * fields.  Same errors as pn_cred_issue, plus PN_E_SIGNER (no signer),
 * PN_E_SIGNER_RATE (its rate cap) and PN_E_SIGNER_REFUSED (outside its
 * limits).  `issued` may alias `info`.
 */
int pn_signer_issue(struct pn_signer *s, const char *csr_pem, const struct pn_cred_info *info,
		    uint32_t lifetime_s, char **out_pem, struct pn_cred_info *issued);
/* pn_acl_sign through the signer; same errors plus the three above. */
int pn_signer_sign_acl(struct pn_signer *s, const struct pn_acl *acl, uint8_t **out,
		       size_t *outlen);

/*
 * The child's side.  pn_signer_child_run: serve on fd until EOF (0) or a
 * fatal error (<0); never returns to a caller that continues as the front:
 * the caller _exit()s.  pn_signer_child_main: `postern controller signer
 * --fd N --data DIR --cred-max S --acl-max S --rate N` (internal, started
 * by pn_signer_start).  Returns the process exit status.
 */
int pn_signer_child_run(int fd, const struct pn_signer_cfg *cfg);
int pn_signer_child_main(int argc, char **argv);

/*
 * `controller init`'s key work in a child process: create the CA in dir
 * (pn_ca_init_dir), an API key (api.key, 0600) and its CA-signed
 * certificate (api.crt) for `names`, so the calling process never holds
 * the CA key.  0 or the child's error (pn_ca_init_dir / pn_apicert_issue
 * codes), PN_E_INTERNAL if it died.
 */
int pn_signer_init_dir(const char *dir, const char *const *names, unsigned nnames,
		       uint64_t now, uint64_t api_lifetime_s);
#endif
