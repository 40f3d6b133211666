#ifndef PN_APP_DOCTOR_CHECKS_H
#define PN_APP_DOCTOR_CHECKS_H
/*
 * `postern doctor`: each check, from what cmd_doctor.c read of the role's
 * configuration and state, into the report (doctor.h).
 */
#include "app/doctor.h"
#include "ctlapi/relays.h"
#include "trust/cred.h"

struct pn_doc_input {
	const char *role;      /* "client", "connector", "relay", "controller" */
	enum pn_cred_type type; /* the credential's type (PN_CRED_ANY: none) */
	const char *state;     /* state (or data) directory, may be NULL */
	char url[512];	       /* controller URL ("" when unknown) */
	const char *ca_file;   /* pinned CA (PEM file) */
	const char *cert_file, *key_file;
	struct pn_relay_entry relays[PN_RELAYS_MAX];
	size_t nrelays;
	int udp_used;	    /* the role uses relays over UDP (transport allows it) */
	int ping;	    /* relays answer our PING (client and connector credentials) */
	int nat;	    /* NAT kind and path MTU are this role's business */
	const char *wss_ca; /* wss:// proxies' CA file, or NULL */
	/* client only */
	int client, transparent;
	const char *dns_listen, *dns_mode;
	unsigned timeout_ms; /* each check's deadline */
};

/* Every check for the role, in order: clock, controller, credential,
 * relays (udp, tls, ws), NAT, path MTU, DNS. */
void pn_doc_run(const struct pn_doc_input *in, struct pn_doc_report *rep);
#endif
