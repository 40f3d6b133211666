#ifndef PN_CONTROLLER_HTTP_H
#define PN_CONTROLLER_HTTP_H
/* The controller's HTTPS listener (libmicrohttpd + GnuTLS, TLS 1.3 only). */
#include <stdint.h>

struct pn_ctl;
struct pn_http;

/*
 * Listen on host (IPv4 or IPv6 literal) and port (0 = any free port) with
 * the given PEM server key/certificate; client certificates are requested
 * and checked against ca_pem by auth.c.  Serves until pn_http_stop.
 * 0, -ENOMEM, PN_E_CONFIG (bad host), PN_E_IO (cannot listen / TLS setup).
 */
int pn_http_start(struct pn_ctl *ctl, const char *host, uint16_t port, const char *key_pem,
		  const char *cert_pem, const char *ca_pem, struct pn_http **out);
/* The bound port (useful with port 0). */
uint16_t pn_http_port(const struct pn_http *h);
/* Stop accepting, close connections (push streams end), join threads; NULL-safe. */
void pn_http_stop(struct pn_http *h);
#endif
