/* `postern doctor`: the checks (doctor_checks.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "app/doctor_checks.h"
#include "app/doctor_net.h"
#include "client/dns_host.h"
#include "client/status.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/secret.h"
#include "ctlapi/probe.h"
#include "tunnel/cand.h"
#include "tunnel/natdisc.h"
#include "tunnel/p2p.h"

#define MTU_MS_MIN 1500 /* three rounds of probes, 300 ms apart, and their answers */
#define NAME_MAX_ 40

static void utc(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outsz, "%lld", (long long)t);
}

static void errtext(int err, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s (%s)", pn_strerror(err), pn_errname(err));
}

/* ------------------------------------------------ clock, controller -- */

static void check_controller(const struct pn_doc_input *in, struct pn_doc_report *rep)
{
	struct pn_doc_check *clk = pn_doc_add(rep, "clock skew");
	struct pn_doc_check *ctl = pn_doc_add(rep, "controller");
	struct pn_ctlapi_probe p;
	int64_t skew;

	if (!in->url[0]) {
		pn_doc_set(clk, PN_DOC_SKIP, "not measured (no controller known)");
		pn_doc_set(ctl, PN_DOC_SKIP, "no controller URL (no controller.json in the state)");
		return;
	}
	pn_ctlapi_probe(in->url, in->ca_file, NULL, NULL, in->timeout_ms, &p);
	switch (p.err) {
	case 0:
		pn_doc_set(ctl, PN_DOC_OK, "%s answered in %u ms (TLS up in %u ms), CA pin verified",
			   in->url, p.total_ms, p.tls_ms);
		break;
	case PN_E_TIMEOUT:
		pn_doc_set(ctl, PN_DOC_FAIL, "%s: no answer within %u ms", in->url, in->timeout_ms);
		pn_doc_advise(ctl, "packets to the controller are dropped (a firewall?) or it is "
				   "stuck: check the network path to %s and the controller's host "
				   "(systemctl status postern-controller)",
			      in->url);
		break;
	case PN_E_CTL_PIN:
		pn_doc_set(ctl, PN_DOC_FAIL, "%s: TLS certificate does not verify under the pinned "
					     "CA %s (%s)",
			   in->url, in->ca_file, p.detail);
		pn_doc_advise(ctl, "another server answers at this URL, the controller's CA changed, "
				   "or this host's clock is far off (see clock skew): check the URL; "
				   "after a CA change enroll again (log in again for a client)");
		break;
	case PN_E_CTL_CONNECT:
		pn_doc_set(ctl, PN_DOC_FAIL, "%s: unreachable (%s)", in->url, p.detail);
		pn_doc_advise(ctl, "start the controller (systemctl start postern-controller) or fix "
				   "the path to it: is it listening on that address and port, does "
				   "a firewall refuse TCP to it, is the URL in %s/controller.json "
				   "right?",
			      in->state ? in->state : "the state directory");
		break;
	default:
		pn_doc_set(ctl, PN_DOC_FAIL, "%s: HTTP %ld (%s)", in->url, p.status,
			   pn_errname(p.err));
		pn_doc_advise(ctl, "the controller answers but refuses GET /v1/ca: a proxy in "
				   "between, or a controller in trouble (see its log)");
		break;
	}
	if (!p.date_s) {
		pn_doc_set(clk, PN_DOC_SKIP, "not measured (no answer from the controller)");
		return;
	}
	/* Date has whole seconds: take the middle of its second, against the
	 * middle of our request. */
	skew = (p.sent_ms + p.recv_ms) / 2 - (p.date_s * 1000 + 500);
	pn_doc_set(clk, pn_doc_skew_status(skew), "%+.1f s (this host %s the controller's Date)",
		   (double)skew / 1000.0, skew >= 0 ? "is ahead of" : "is behind");
	if (clk->st != PN_DOC_OK)
		pn_doc_advise(clk, "fix time synchronisation (NTP) on this host or the controller's "
				   "(timedatectl status; enable systemd-timesyncd or chrony): "
				   "credentials are checked with %d s of tolerance and short-lived "
				   "ones fail outright beyond it (warn above %d s, fail above %d s)",
			      PN_TRUST_DEFAULT_SKEW, PN_DOC_SKEW_WARN_MS / 1000,
			      PN_DOC_SKEW_FAIL_MS / 1000);
}

/* ------------------------------------------------------- credential -- */

static int cert_times(const char *pem, size_t len, int64_t *nb, int64_t *na)
{
	gnutls_x509_crt_t c;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
	int r = PN_E_MALFORMED;

	if (gnutls_x509_crt_init(&c))
		return -ENOMEM;
	if (gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM) == 0) {
		*nb = (int64_t)gnutls_x509_crt_get_activation_time(c);
		*na = (int64_t)gnutls_x509_crt_get_expiration_time(c);
		r = 0;
	}
	gnutls_x509_crt_deinit(c);
	return r;
}

static const char *renew_advice(const char *role)
{
	if (!strcmp(role, "client"))
		return "log in again (postern client login); a running client renews its "
		       "credential on its own while the controller is reachable";
	return "a running daemon renews at two thirds of the lifetime while the controller is "
	       "reachable; once expired, enroll again with a new token (postern ctl "
	       "connector add / relay add)";
}

static void check_credential(const struct pn_doc_input *in, struct pn_doc_report *rep)
{
	struct pn_doc_check *c = pn_doc_add(rep, "credential");
	struct pn_anchor *a = NULL;
	struct pn_cred_info info;
	char *ca = NULL, *cert = NULL, left[32], when[32], life[32];
	size_t calen, clen;
	int64_t nb = 0, na = 0, now = pn_wall_s();
	int r;

	if ((r = pn_file_read(in->ca_file, PN_CRED_PEM_MAX, &ca, &calen))) {
		pn_doc_set(c, PN_DOC_FAIL, "cannot read the pinned CA %s: %s", in->ca_file,
			   pn_strerror(r));
		pn_doc_advise(c, "enroll (connector, relay) or log in (client) to create the state");
		goto out;
	}
	if ((r = pn_file_read(in->cert_file, PN_CRED_PEM_MAX, &cert, &clen)) ||
	    (r = cert_times(cert, clen, &nb, &na))) {
		pn_doc_set(c, PN_DOC_FAIL, "cannot read the credential %s: %s", in->cert_file,
			   pn_strerror(r));
		pn_doc_advise(c, "%s", renew_advice(in->role));
		goto out;
	}
	utc(na, when, sizeof(when));
	if ((r = pn_anchor_new(ca, calen, &a)) ||
	    ((r = pn_cred_verify(a, cert, clen, in->type, (uint64_t)now, 0, &info)) &&
	     r != PN_E_EXPIRED && r != PN_E_NOT_YET_VALID)) {
		pn_doc_set(c, PN_DOC_FAIL, "%s does not verify under the pinned CA: %s",
			   in->cert_file, pn_strerror(r));
		pn_doc_advise(c, "the credential is not from this network's CA (or not a %s "
				 "credential): enroll again / log in again",
			      in->role);
		goto out;
	}
	pn_doc_duration(na - now, left, sizeof(left));
	pn_doc_duration(na - nb, life, sizeof(life));
	pn_doc_set(c, pn_doc_expiry_status(now, nb, na), "%s %s (%s), lifetime %s",
		   na > now ? "expires in" : "expired", na > now ? left : left + 1, when, life);
	if (r == PN_E_NOT_YET_VALID) {
		pn_doc_set(c, PN_DOC_FAIL, "not valid before %lld s from now (this host's clock?)",
			   (long long)(nb - now));
		pn_doc_advise(c, "this host's clock is behind: fix NTP");
	} else if (c->st == PN_DOC_FAIL) {
		pn_doc_advise(c, "%s", renew_advice(in->role));
	} else if (c->st == PN_DOC_WARN) {
		pn_doc_advise(c, "renewal is overdue (due at two thirds of the lifetime): is "
				 "`postern %s run` running, and can it reach the controller?",
			      in->role);
	}
out:
	pn_anchor_free(a);
	free(ca);
	free(cert);
}

/* ----------------------------------------------------------- relays -- */

struct relay_udp {
	int have;		/* the relay has a UDP address */
	int resolved;		/* 0, else the resolution error */
	struct pn_doc_stun stun; /* its answer */
};

static const char *rname(const struct pn_doc_input *in, size_t i, char *buf, size_t n)
{
	if (in->relays[i].name[0])
		snprintf(buf, n, "relay %.*s", NAME_MAX_, in->relays[i].name);
	else
		snprintf(buf, n, "relay #%zu", i + 1);
	return buf;
}

static int resolve_ep(const char *hostport, int socktype, unsigned ms, struct sockaddr_storage *ss)
{
	struct pn_relay_endpoint ep;

	if (pn_relay_endpoint_parse(hostport, &ep, NULL))
		return PN_E_CONFIG;
	return pn_doc_resolve(ep.host, ep.port, socktype, ms, ss);
}

/* STUN to every relay's UDP address, in batches of one address family;
 * the NAT kind from the batch with the most answers. */
static void udp_stun_all(const struct pn_doc_input *in, struct relay_udp *u, int *nat)
{
	int done[PN_RELAYS_MAX] = {0}, best = -1;

	*nat = PN_NAT_UNKNOWN;
	for (;;) {
		struct pn_doc_stun b[PN_NATDISC_MAX_SERVERS];
		size_t idx[PN_NATDISC_MAX_SERVERS], nb = 0;
		int fam = 0, k, answers = 0;

		for (size_t i = 0; i < in->nrelays && nb < PN_NATDISC_MAX_SERVERS; i++) {
			if (!u[i].have || u[i].resolved || done[i])
				continue;
			if (!fam)
				fam = u[i].stun.addr.ss_family;
			if (u[i].stun.addr.ss_family != fam)
				continue;
			done[i] = 1;
			memset(&b[nb], 0, sizeof(b[nb]));
			b[nb].addr = u[i].stun.addr;
			idx[nb++] = i;
		}
		if (!nb)
			break;
		if (pn_doc_udp_stun(b, nb, in->timeout_ms, &k))
			k = PN_NAT_UNKNOWN;
		for (size_t j = 0; j < nb; j++) {
			u[idx[j]].stun = b[j];
			answers += b[j].answered;
		}
		if (answers > best) {
			best = answers;
			*nat = answers ? k : PN_NAT_BLOCKED;
		}
	}
}

static void check_relay_udp(const struct pn_doc_input *in, struct pn_doc_report *rep,
			    struct relay_udp *u, int *nat, int *first_answer)
{
	char nm[64], row[80], a[64], m[64];

	*first_answer = -1;
	for (size_t i = 0; i < in->nrelays; i++) {
		if (!in->relays[i].udp[0])
			continue;
		u[i].have = 1;
		u[i].resolved = resolve_ep(in->relays[i].udp, SOCK_DGRAM, in->timeout_ms,
					   &u[i].stun.addr);
	}
	udp_stun_all(in, u, nat);
	for (size_t i = 0; i < in->nrelays; i++) {
		struct pn_doc_check *c;

		if (!u[i].have)
			continue;
		snprintf(row, sizeof(row), "%s udp", rname(in, i, nm, sizeof(nm)));
		c = pn_doc_add(rep, row);
		if (!in->udp_used) {
			pn_doc_set(c, PN_DOC_SKIP, "%s: not used (transport without UDP)",
				   in->relays[i].udp);
			continue;
		}
		if (u[i].resolved) {
			pn_doc_set(c, PN_DOC_FAIL, "%s: cannot resolve (%s)", in->relays[i].udp,
				   pn_errname(u[i].resolved));
			pn_doc_advise(c, "check DNS for the relay's name, or the relay list");
			continue;
		}
		pn_sa_str((struct sockaddr *)&u[i].stun.addr, a, sizeof(a));
		if (!u[i].stun.answered) {
			pn_doc_set(c, PN_DOC_FAIL, "%s: no STUN answer within %u ms", a,
				   in->timeout_ms);
			pn_doc_advise(c, "UDP to %s is blocked (a firewall, NAT or network policy "
					 "drops it), or the relay's UDP port is not open: tunnels "
					 "fall back to TLS (then WebSocket) through the relay, which "
					 "works but is slower; allow UDP to that port for the best "
					 "path",
				      a);
			continue;
		}
		if (*first_answer < 0)
			*first_answer = (int)i;
		pn_sa_str((struct sockaddr *)&u[i].stun.mapped, m, sizeof(m));
		pn_doc_set(c, PN_DOC_OK, "%s: STUN answered in %u ms, we are seen as %s", a,
			   u[i].stun.rtt_ms, m);
	}
}

static void stream_result(const struct pn_doc_input *in, struct pn_doc_check *c,
			  const struct pn_doc_stream *p, const char *what, const char *target)
{
	char e[160];

	errtext(p->err, e, sizeof(e));
	if (!p->err) {
		if (in->ping)
			pn_doc_set(c, PN_DOC_OK, "%s: %s up in %u ms, relay '%s' verified, PING "
						 "answered in %u ms",
				   target, what, p->ready_ms, p->relay_name, p->rtt_ms);
		else
			pn_doc_set(c, PN_DOC_OK, "%s: %s up in %u ms, relay '%s' verified", target,
				   what, p->ready_ms, p->relay_name);
		return;
	}
	if (p->stage == 0 && p->err == PN_E_TIMEOUT) {
		pn_doc_set(c, PN_DOC_FAIL, "%s: no %s handshake within %u ms", target, what,
			   in->timeout_ms);
		pn_doc_advise(c, "TCP to %s is dropped on the way (a firewall?) or the relay is "
				 "overloaded",
			      target);
	} else if (p->stage == 0) {
		pn_doc_set(c, PN_DOC_FAIL, "%s: %s failed: %s", target, what, e);
		pn_doc_advise(c, "is the relay running and listening there (and, for WebSocket, "
				 "its --ws-path or the proxy in front of it)? Is TCP to it "
				 "allowed? A refused handshake can also mean our credential is "
				 "not accepted (see credential)");
	} else if (p->stage == 1) {
		pn_doc_set(c, PN_DOC_FAIL, "%s: the relay's credential does not verify: %s", target,
			   e);
		pn_doc_advise(c, "another server answers there, or the relay's credential is "
				 "expired or from another CA: run postern doctor --role relay on "
				 "its host");
	} else {
		pn_doc_set(c, PN_DOC_FAIL, "%s: %s up but no PING answer: %s", target, what, e);
		pn_doc_advise(c, "the relay refused or dropped us (limits, our credential): see "
				 "the relay's log");
	}
}

static void check_relay_streams(const struct pn_doc_input *in, struct pn_doc_report *rep)
{
	struct pn_doc_stream p[2 * PN_RELAYS_MAX];
	struct pn_doc_check *rows[2 * PN_RELAYS_MAX];
	const char *targets[2 * PN_RELAYS_MAX];
	char *ca = NULL, *cert = NULL, *key = NULL, nm[64], row[80];
	size_t n = 0, len;
	int r;

	memset(p, 0, sizeof(p));
	for (size_t i = 0; i < in->nrelays; i++) {
		const struct pn_relay_entry *e = &in->relays[i];
		struct pn_relay_wsurl w;

		rname(in, i, nm, sizeof(nm));
		if (e->tls[0]) {
			snprintf(row, sizeof(row), "%s tls", nm);
			rows[n] = pn_doc_add(rep, row);
			targets[n] = e->tls;
			if ((r = resolve_ep(e->tls, SOCK_STREAM, in->timeout_ms, &p[n].addr))) {
				pn_doc_set(rows[n], PN_DOC_FAIL, "%s: cannot resolve (%s)", e->tls,
					   pn_errname(r));
				p[n].err = r, p[n].stage = -1;
			}
			n++;
		}
		if (e->ws[0] && pn_relay_wsurl_parse(e->ws, &w, NULL) == 0) {
			snprintf(row, sizeof(row), "%s ws", nm);
			rows[n] = pn_doc_add(rep, row);
			targets[n] = e->ws;
			p[n].ws = 1;
			p[n].wss = w.secure;
			snprintf(p[n].ws_host, sizeof(p[n].ws_host), "%s", w.hostport);
			snprintf(p[n].ws_path, sizeof(p[n].ws_path), "%s", w.path);
			snprintf(p[n].wss_name, sizeof(p[n].wss_name), "%s", w.ep.host);
			if ((r = pn_doc_resolve(w.ep.host, w.ep.port, SOCK_STREAM, in->timeout_ms,
						&p[n].addr))) {
				pn_doc_set(rows[n], PN_DOC_FAIL, "%s: cannot resolve (%s)", e->ws,
					   pn_errname(r));
				p[n].err = r, p[n].stage = -1;
			}
			n++;
		}
	}
	if (!n)
		return;
	if ((r = pn_file_read(in->ca_file, PN_CRED_PEM_MAX, &ca, &len)) ||
	    (r = pn_file_read(in->cert_file, PN_CRED_PEM_MAX, &cert, &len)) ||
	    (r = pn_file_read(in->key_file, 64 * 1024, &key, &len))) {
		for (size_t i = 0; i < n; i++)
			if (p[i].stage != -1)
				pn_doc_set(rows[i], PN_DOC_SKIP, "%s: not tried (no usable credential)",
					   targets[i]);
		goto out;
	}
	{
		/* The probes that resolved, run together. */
		struct pn_doc_stream q[2 * PN_RELAYS_MAX];
		size_t map[2 * PN_RELAYS_MAX], nq = 0;

		for (size_t i = 0; i < n; i++)
			if (p[i].stage != -1) {
				q[nq] = p[i];
				map[nq++] = i;
			}
		r = pn_doc_streams(ca, cert, key, in->wss_ca, in->ping, q, nq, in->timeout_ms);
		for (size_t i = 0; i < nq; i++) {
			size_t k = map[i];

			if (r) {
				pn_doc_set(rows[k], PN_DOC_SKIP, "%s: not tried (%s)", targets[k],
					   pn_errname(r));
				continue;
			}
			stream_result(in, rows[k], &q[i], p[k].ws ? "WebSocket+TLS" : "TLS",
				      targets[k]);
		}
	}
out:
	free(ca);
	free(cert);
	if (key)
		pn_wipe_free_str(key);
}

/* ------------------------------------------------------- NAT, MTU -- */

static void check_nat(struct pn_doc_report *rep, int nat, size_t nanswered)
{
	struct pn_doc_check *c = pn_doc_add(rep, "nat");

	switch (nat) {
	case PN_NAT_NONE:
		pn_doc_set(c, PN_DOC_OK, "none: the relays see this host's own address");
		break;
	case PN_NAT_EIM:
		pn_doc_set(c, PN_DOC_OK, "endpoint-independent mapping (%zu relays saw the same "
					 "address): direct paths work",
			   nanswered);
		break;
	case PN_NAT_EDM:
		pn_doc_set(c, PN_DOC_WARN, "endpoint-dependent mapping (\"symmetric\"): each relay "
					   "saw another port");
		pn_doc_advise(c, "direct paths rarely get through this NAT and traffic stays on "
				 "the relays; if you manage the NAT, make its UDP mappings "
				 "endpoint-independent (keep the source port)");
		break;
	case PN_NAT_BLOCKED:
		pn_doc_set(c, PN_DOC_WARN, "udp-blocked: no relay answered over UDP");
		pn_doc_advise(c, "no direct paths and no relayed UDP: tunnels use TLS/WebSocket "
				 "to the relays (see the relay udp checks)");
		break;
	default:
		pn_doc_set(c, PN_DOC_WARN, "unknown: %zu relay(s) answered over UDP, two are needed "
					   "to tell the NAT kind",
			   nanswered);
		pn_doc_advise(c, "add a second relay (postern ctl relay add) for NAT "
				 "classification and failover");
		break;
	}
}

static void check_mtu(const struct pn_doc_input *in, struct pn_doc_report *rep,
		      const struct sockaddr_storage *to, const char *relay)
{
	static const unsigned sizes[PN_DOC_MTU_NSIZES] = PN_DOC_MTU_SIZES;
	int answered[PN_DOC_MTU_NSIZES], local[PN_DOC_MTU_NSIZES], r;
	struct pn_doc_check *c = pn_doc_add(rep, "path mtu");
	enum pn_doc_status st;
	unsigned best, hdr, cap = 0;

	if (!to) {
		pn_doc_set(c, PN_DOC_SKIP, "not measured (no relay answered over UDP)");
		return;
	}
	hdr = to->ss_family == AF_INET ? 28 : 48; /* IP + UDP headers */
	if ((r = pn_doc_udp_mtu(to, sizes, PN_DOC_MTU_NSIZES,
				in->timeout_ms / 2 > MTU_MS_MIN ? in->timeout_ms / 2 : MTU_MS_MIN,
				answered, local))) {
		pn_doc_set(c, PN_DOC_SKIP, "not measured (%s)", pn_errname(r));
		return;
	}
	for (size_t i = 0; i < PN_DOC_MTU_NSIZES; i++)
		if (local[i] && (!cap || sizes[i] < cap))
			cap = sizes[i];
	st = pn_doc_mtu_status(sizes, answered, PN_DOC_MTU_NSIZES, &best);
	if (!best) {
		pn_doc_set(c, PN_DOC_FAIL, "no probe of %u bytes or more came back from %s",
			   PN_DOC_MTU_MIN, relay);
		pn_doc_advise(c, "UDP datagrams of QUIC's minimum size (1200 bytes) do not get "
				 "through: something on the path has an MTU below 1228 bytes or "
				 "drops fragments' ICMP; tunnels will use TLS to the relay");
		return;
	}
	pn_doc_set(c, st, "%u bytes of UDP payload reach %s (path MTU >= %u)%s", best, relay,
		   best + hdr, cap ? "; larger probes exceed this host's link MTU" : "");
	if (c->st == PN_DOC_WARN) {
		pn_doc_advise(c, "the path carries less than 1280 bytes of UDP payload: tunnels "
				 "work with small packets; check tunnels or PPPoE links on the way");
	}
}

/* -------------------------------------------------------------- DNS -- */

static void check_dns(const struct pn_doc_input *in, struct pn_doc_report *rep)
{
	struct pn_doc_check *c = pn_doc_add(rep, "dns");
	const char *listen = in->dns_listen ? in->dns_listen : "127.0.0.153:53";
	const char *mode = in->dns_mode ? in->dns_mode : "auto";
	char *text = NULL, sock[4200];
	size_t len;
	int ours, running;

	if (!in->transparent) {
		pn_doc_set(c, PN_DOC_OK, "transparent mode off (SOCKS5 / port-forward): host DNS "
					 "is not touched");
		return;
	}
	snprintf(sock, sizeof(sock), "%s/%s", in->state ? in->state : ".", PN_CLIENT_SOCK_NAME);
	running = in->state && pn_doc_unix_answers(sock, in->timeout_ms);
	ours = pn_file_read(PN_DNSHOST_RESOLV, PN_DNSHOST_MAX, &text, &len) == 0 &&
	       !strncmp(text, PN_DNSHOST_MARK, strlen(PN_DNSHOST_MARK));
	free(text);
	if (running && ours)
		pn_doc_set(c, PN_DOC_OK, "transparent (dns_mode %s): %s points at the responder %s",
			   mode, PN_DNSHOST_RESOLV, listen);
	else if (running && !strcmp(mode, "resolv.conf")) {
		pn_doc_set(c, PN_DOC_FAIL, "transparent, but %s does not point at the responder %s",
			   PN_DNSHOST_RESOLV, listen);
		pn_doc_advise(c, "something rewrote %s after the client took it over (a network "
				 "manager, DHCP client): make it leave the file alone, then "
				 "restart the client",
			      PN_DNSHOST_RESOLV);
	} else if (running) {
		pn_doc_set(c, PN_DOC_OK, "transparent (dns_mode %s): %s is the host's own, names "
					 "go to the responder %s through systemd-resolved",
			   mode, PN_DNSHOST_RESOLV, listen);
	} else if (ours) {
		pn_doc_set(c, PN_DOC_FAIL, "%s still points at the responder %s, but no client runs",
			   PN_DNSHOST_RESOLV, listen);
		pn_doc_advise(c, "this host has no working DNS: start the client (it restores "
				 "the file first), or copy %s/%s back over %s",
			      in->state ? in->state : "STATE", PN_DNSHOST_BACKUP, PN_DNSHOST_RESOLV);
	} else {
		pn_doc_set(c, PN_DOC_WARN, "transparent mode configured, but no client runs for %s",
			   in->state ? in->state : "this state");
		pn_doc_advise(c, "start it: postern client run --config FILE (or its systemd "
				 "unit postern-client@PROFILE)");
	}
}

void pn_doc_run(const struct pn_doc_input *in, struct pn_doc_report *rep)
{
	struct relay_udp u[PN_RELAYS_MAX];
	int nat = PN_NAT_UNKNOWN, first = -1;
	size_t nans = 0;
	char nm[64];

	memset(u, 0, sizeof(u));
	snprintf(rep->role, sizeof(rep->role), "%s", in->role);
	check_controller(in, rep);
	if (in->cert_file)
		check_credential(in, rep);
	if (in->nrelays == 0 && in->nat) {
		struct pn_doc_check *c = pn_doc_add(rep, "relays");
		pn_doc_set(c, PN_DOC_WARN, "no relays known");
		pn_doc_advise(c, "the relay list comes from the controller (relays.json in the "
				 "state); add relays with postern ctl relay add");
	}
	check_relay_udp(in, rep, u, &nat, &first);
	check_relay_streams(in, rep);
	for (size_t i = 0; i < in->nrelays; i++)
		nans += u[i].stun.answered;
	if (in->nat && in->udp_used && in->nrelays) {
		check_nat(rep, nat, nans);
		check_mtu(in, rep, first >= 0 ? &u[first].stun.addr : NULL,
			  first >= 0 ? rname(in, (size_t)first, nm, sizeof(nm)) : "");
	}
	if (in->client)
		check_dns(in, rep);
}
