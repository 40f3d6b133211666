/*
 * The controller's own metrics listener (`--metrics-listen`): plain HTTP
 * on libmicrohttpd (the API's server library), GET /metrics only, bounded
 * like the libuv daemons' responder (core/metrics_http.h): few
 * connections, a short idle timeout, a small request memory, one answer
 * per connection.  See metrics.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "controller/metrics.h"
#include "controller/mhd_dl.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/metrics_http.h"

#define ML_PER_IP 4
#define ML_MEMORY (8 * 1024) /* request head and MHD's buffers, per connection */

struct pn_ctl_mlisten {
	struct MHD_Daemon *d;
	struct pn_ctl *ctl;
	uint16_t port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
			     const char *type)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Connection", "close");
	if (status == 405)
		MHD_add_response_header(resp, "Allow", "GET");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned status, const char *text)
{
	char *b = strdup(text);

	return b ? reply(c, status, b, strlen(b), "text/plain; charset=utf-8") : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct pn_ctl_mlisten *l = cls;
	char *text = NULL;
	size_t len = 0;
	int r;

	(void)version;
	(void)upload_data;
	if (*con_cls) { /* answered on the first call: drop any body */
		*upload_size = 0;
		return MHD_YES;
	}
	*con_cls = l;
	if (strcmp(url, "/metrics"))
		return text_reply(c, 404, "Not Found\n");
	if (strcmp(method, "GET"))
		return text_reply(c, 405, "Method Not Allowed\n");
	if ((r = pn_controller_metrics_text(l->ctl, &text, &len)) != 0) {
		PN_LOG_WARN("controller", "metrics_failed", "err=%s", pn_errname(r));
		return text_reply(c, 500, "Internal Server Error\n");
	}
	return reply(c, 200, text, len, PN_METRICS_CONTENT_TYPE);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap; /* MHD's own chatter (closed sockets, timeouts): not ours to log */
}

int pn_ctl_mlisten_start(struct pn_ctl *ctl, const char *addr, struct pn_ctl_mlisten **out)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct pn_ctl_mlisten *l;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	char err[256];
	int r;

	*out = NULL;
	if (!addr || pn_addr_parse(addr, &ss, PN_ADDR_PORT0) != 0)
		return PN_E_CONFIG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if ((r = pn_mhd_load(err, sizeof(err)))) { /* by the controller only (mhd_dl.h) */
		PN_LOG_ERROR("controller", "metrics_listen_failed", "addr=%s msg=\"%s\"", addr,
			     err);
		return r;
	}
	if (!(l = calloc(1, sizeof(*l))))
		return -ENOMEM;
	l->ctl = ctl;
	l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)PN_MHTTP_CONNS_MAX,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ML_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)(PN_MHTTP_IDLE_MS / 1000),
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ML_MEMORY,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l, MHD_OPTION_END);
	if (!l->d) {
		PN_LOG_ERROR("controller", "metrics_listen_failed", "addr=%s errno=%d", addr, errno);
		free(l);
		return PN_E_IO;
	}
	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info ? info->port : 0;
	PN_LOG_INFO("controller", "metrics_listening", "addr=%s port=%u", addr, l->port);
	*out = l;
	return 0;
}

uint16_t pn_ctl_mlisten_port(const struct pn_ctl_mlisten *l)
{
	return l ? l->port : 0;
}

void pn_ctl_mlisten_stop(struct pn_ctl_mlisten *l)
{
	if (!l)
		return;
	MHD_stop_daemon(l->d);
	free(l);
}
