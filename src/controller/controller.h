#ifndef PN_CONTROLLER_CONTROLLER_H
#define PN_CONTROLLER_CONTROLLER_H
/*
 * The controller role: data directory creation and the running service.
 *
 * Data directory (mode 0700):
 *   ca.key, ca.crt     the network CA (trust lib; ca.key 0600)
 *   api.key, api.crt   the API's TLS key (0600) and CA-signed certificate
 *   controller.db      SQLite store (+ -wal/-shm while running), unless
 *                      config.json's "store" names a PostgreSQL database
 *   config.json        {"listen": "host:port", "hostnames": [...]} and optional
 *                      "store": "postgres://..." (libpq URI) and
 *                      lifetimes in seconds: "token_ttl_s" (3600),
 *                      "credential_ttl_s" (3600), "acl_ttl_s" (3600),
 *                      "push_stream_max_s" (600)
 */
#include <stdint.h>

#define PN_CONTROLLER_KEY_MAX 80 /* "pnak_" + 64 hex + NUL */

struct pn_controller_init_opts {
	const char *data_dir;
	const char *listen;    /* "host:port" (IPv6 as [addr]:port); default 127.0.0.1:8443 */
	const char *hostnames; /* comma list for the API cert SAN; first = URL host */
	const char *store;     /* NULL: SQLite in the data dir; else a PostgreSQL URI
				* (recorded in config.json), whose database must
				* not hold a network yet (-EEXIST) */
};

/*
 * Create a new data directory: refuses an existing path (-EEXIST), creates
 * it 0700, the CA, the API key + certificate, the database (migrated), and
 * one bootstrap admin API key returned in key_out (shown once; only its
 * hash is stored).  On failure the partially created directory is removed.
 * 0, -EEXIST, -errno, PN_E_CONFIG (bad listen/hostnames), store/trust errors.
 */
int pn_controller_init(const struct pn_controller_init_opts *o,
		       char key_out[PN_CONTROLLER_KEY_MAX]);

struct pn_controller;

/*
 * Load the data directory and start serving HTTPS (own threads).
 * listen_override: NULL or "host:port" replacing config.json's listen
 * (port 0 = any free port).  Refuses a data dir readable by group/others.
 */
int pn_controller_start(const char *data_dir, const char *listen_override,
			struct pn_controller **out);
/*
 * The same with run-time options (`postern controller run`).  cred_ttl_s:
 * lifetime of every credential issued from now on (enrollment, client
 * login, renewal); 0 keeps config.json's "credential_ttl_s" (default 1 h);
 * else it must be within [PN_CONTROLLER_CRED_TTL_MIN, _MAX] (PN_E_CONFIG).
 * Push streams are recycled at least every quarter of that lifetime so
 * ctlapi auto-renew (which checks at each reconnect) keeps up.
 */
#define PN_CONTROLLER_CRED_TTL_MIN 10u
#define PN_CONTROLLER_CRED_TTL_MAX 86400u
struct pn_controller_run_opts {
	const char *listen_override;
	uint32_t cred_ttl_s;
	const char *store; /* NULL, or a store replacing config.json's (URI or SQLite path) */
	/* The program started as the CA signer (signer.h), normally
	 * "/proc/self/exe"; NULL: a forked child without exec (library users). */
	const char *signer_exe;
	/* "ip:port": Prometheus metrics on plain HTTP there (GET /metrics,
	 * controller/metrics.h); NULL: off (GET /v1/metrics is always served) */
	const char *metrics_listen;
	/* CA signer children (signer.h); 0: PN_SIGNER_PROCESSES_DEFAULT */
	unsigned signer_processes;
};
int pn_controller_start_opts(const char *data_dir, const struct pn_controller_run_opts *o,
			     struct pn_controller **out);
/*
 * Several controllers, one network (identity.c).  Every controller of a
 * network uses the same CA and API key and certificate (its SAN names the
 * load balancer) and one PostgreSQL database.
 *
 * export-identity: a JSON bundle (*bundle heap string) with both keys
 * encrypted under the passphrase (PKCS#8 PBES2 AES-256, PBKDF2), the
 * certificates and config.json.  PN_E_CONFIG for a passphrase shorter than
 * PN_BUNDLE_PASS_MIN or an incomplete data directory.
 * join: create data_dir (refuses an existing one, -EEXIST) from a bundle;
 * store/listen override the bundle's config; the store must be a PostgreSQL
 * database already holding the network (PN_E_CONFIG).  PN_E_CRYPTO on a
 * wrong passphrase, PN_E_MALFORMED for a bad bundle.
 */
#define PN_BUNDLE_PASS_MIN 12
int pn_controller_export_identity(const char *data_dir, const char *passphrase,
				  char **bundle);
struct pn_controller_join_opts {
	const char *data_dir, *bundle, *passphrase;
	const char *store;  /* NULL: the bundle's */
	const char *listen; /* NULL: the bundle's */
};
int pn_controller_join(const struct pn_controller_join_opts *o);
/*
 * migrate-store: copy the data directory's store (stopped) into the empty
 * PostgreSQL database `to` (one transaction), then point config.json at it.
 * The old SQLite file is left untouched.
 */
int pn_controller_migrate_store(const char *data_dir, const char *to);

/* The base URL in use ("https://host:port"). */
const char *pn_controller_url(const struct pn_controller *c);
uint16_t pn_controller_port(const struct pn_controller *c);
/* The metrics listener's port (0: none). */
uint16_t pn_controller_metrics_port(const struct pn_controller *c);
/* Stop: push streams end, connections close, store closes.  NULL-safe. */
void pn_controller_stop(struct pn_controller *c);
#endif
