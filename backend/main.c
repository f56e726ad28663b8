/*
 * kiln-backend: one event-driven process serving the REST API, the builders'
 * WebSocket channel, uploads and the package index. It keeps no state of its
 * own (everything is in Postgres and object storage), so replicas can run side
 * by side behind a load balancer.
 */
#include "backend/downloads.h"
#include "backend/fastpath.h"
#include "backend/build_logs.h"
#include "backend/builder_ws.h"
#include "backend/http.h"
#include "backend/index.h"
#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/provenance.h"
#include "backend/repro.h"
#include "backend/server.h"
#include "backend/storage_sweep.h"
#include "backend/workers.h"
#include "common/storage.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKEND_USAGE \
	"usage: kiln-backend [--config FILE] [--listen ADDR:PORT]\n" \
	"Settings come from the config file and KILN_* variables (see README).\n"

static struct server *backend__srv;

static void backend__on_signal(int sig)
{
	(void)sig;
	if (backend__srv) {
		backend__srv->stop = 1;
		/* Async-signal-safe: it writes to lws's wake pipe. */
		lws_cancel_service(backend__srv->context);
	}
}

static void backend__lws_log(int level, const char *line)
{
	char msg[512], q[600];
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* lws 4.1 says this at error level on every lws_adopt_socket_vhost_readbuf. */
	if (!strncmp(line, "adopt_socket_readbuf: ", 22))
		return;
	snprintf(msg, sizeof(msg), "%.*s", (int)n, line);
	log_write(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "libwebsockets", "detail=%s",
		  log_quote(q, sizeof(q), msg));
}

/* Split "addr:port" (or ":port", or "port"). 0 or KERR_INVAL. */
static int backend__parse_listen(const char *s, char *addr, size_t n, int *port,
				 struct kerr *e)
{
	const char *colon = strrchr(s, ':');
	const char *ps = colon ? colon + 1 : s;
	char *end;
	long p = strtol(ps, &end, 10);

	if (!*ps || *end || p < 0 || p > 65535)
		return kerr_set(e, KERR_INVAL, "KILN_HTTP_LISTEN must be ADDR:PORT, got '%s'", s);
	*port = (int)p;
	if (colon && colon > s) {
		if ((size_t)(colon - s) >= n)
			return kerr_set(e, KERR_INVAL, "listen address too long");
		memcpy(addr, s, (size_t)(colon - s));
		addr[colon - s] = '\0';
	} else {
		addr[0] = '\0';
	}
	return 0;
}

static struct lws_protocols backend__protocols[] = {
	{ "http", http_lws_callback, 0, 0, 0, NULL, 0 },
	{ PGPOOL_PROTOCOL_NAME, pgpool_lws_callback, 0, 0, 0, NULL, 0 },
	/*
	 * Small rx buffers: messages arrive in fragments and are reassembled
	 * (bounded) anyway, and lws allocates one per connection at the upgrade:
	 * 1 KiB instead of 4 took 10,000 idle builders from 90 to 62 MiB of RSS
	 * (docs/performance.md), for more callbacks per large log message.
	 */
	{ BUILDER_WS_PROTOCOL, builder_ws_callback, 0, 1024, 0, NULL, 0 },
	{ BUILD_LOGS_WS_PROTOCOL, build_logs_ws_callback, 0, 4096, 0, NULL, 0 },
	{ FASTPATH_PROTOCOL_NAME, fastpath_lws_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct config cfg;
	struct server srv;
	struct kerr e;
	char addr[256];
	char resolved[PATH_MAX];
	const char *config_path = NULL, *listen = NULL;
	struct fastpath *fast = NULL;
	struct in_addr ip4;
	int port = 0, rc = 1, use_fast;

	memset(&srv, 0, sizeof(srv));
	config_init(&cfg);
	kerr_clear(&e);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_path = argv[++i];
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(BACKEND_USAGE, stdout);
			return 0;
		} else {
			fputs(BACKEND_USAGE, stderr);
			return 2;
		}
	}
	log_init("kiln-backend");
	if (config_load(&cfg, config_path, &e) ||
	    (listen && config_set(&cfg, "KILN_HTTP_LISTEN", listen, &e)) ||
	    backend__parse_listen(config_get(&cfg, CONFIG_HTTP_LISTEN), addr, sizeof(addr), &port, &e))
		goto fail;
	if (!realpath(config_get(&cfg, CONFIG_FRONTEND_DIR), resolved)) {
		kerr_set(&e, KERR_INVAL, "frontend directory '%s' not found",
			 config_get(&cfg, CONFIG_FRONTEND_DIR));
		goto fail;
	}
	if (repro_policy_parse(config_get(&cfg, CONFIG_REPRO), &srv.repro_percent, &e))
		goto fail;
	srv.cfg = &cfg;
	srv.frontend_dir = xstrdup(resolved);
	srv.max_body = (size_t)config_get_int(&cfg, CONFIG_MAX_BODY);
	srv.metrics = metrics_new();

	lws_set_log_level(LLL_ERR | LLL_WARN, backend__lws_log);
	/* The channel's session size lives with its (private) struct. */
	backend__protocols[2].per_session_data_size = builder_ws_session_size;
	backend__protocols[3].per_session_data_size = build_logs_session_size;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = *addr ? addr : NULL;
	info.protocols = backend__protocols;
	info.user = &srv;
	info.vhost_name = "kiln";
	info.timeout_secs = 30;
	info.keepalive_timeout = 65;
	info.max_http_header_data = 8192;
	/*
	 * A connection holds one of these from its first byte until its headers are
	 * complete; once all are taken, new clients wait. Slow peers (slowloris) hold
	 * theirs until timeout_secs: 4096 x 8 KiB keeps thousands of them from
	 * starving everyone else (tests/integration/test_slow_peers.py).
	 */
	info.max_http_header_pool = 4096;
	info.pt_serv_buf_size = 64 * 1024;
	info.options = LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE | LWS_SERVER_OPTION_DISABLE_IPV6;
	if (*config_get(&cfg, CONFIG_TLS_CERT) || *config_get(&cfg, CONFIG_TLS_KEY)) {
		if (!*config_get(&cfg, CONFIG_TLS_CERT) || !*config_get(&cfg, CONFIG_TLS_KEY)) {
			kerr_set(&e, KERR_INVAL, "KILN_TLS_CERT and KILN_TLS_KEY go together");
			goto fail;
		}
		/* TLS brings HTTP/2 (ALPN "h2", "http/1.1"); every handler copes with both. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = config_get(&cfg, CONFIG_TLS_CERT);
		info.ssl_private_key_filepath = config_get(&cfg, CONFIG_TLS_KEY);
		info.alpn = "h2,http/1.1";
	}
	/*
	 * The fast path (fastpath.h) listens itself and hands lws what it does not
	 * answer; with TLS, or an address that is not IPv4, lws listens as before.
	 */
	use_fast = config_get_bool(&cfg, CONFIG_HTTP_FASTPATH) && !info.ssl_cert_filepath &&
		   (!*addr || inet_pton(AF_INET, addr, &ip4) == 1);
	if (use_fast)
		info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	srv.context = lws_create_context(&info);
	if (!srv.context) {
		kerr_set(&e, KERR_IO, "could not listen on %s (in use, or not an address here?)",
			 config_get(&cfg, CONFIG_HTTP_LISTEN));
		goto fail;
	}
	srv.vhost = lws_get_vhost_by_name(srv.context, "kiln");
	if (!srv.vhost) {
		kerr_set(&e, KERR_INTERNAL, "no vhost");
		goto fail;
	}
	if (use_fast && fastpath_listen(&srv, addr, port, (int)info.timeout_secs,
					(int)info.keepalive_timeout, &fast)) {
		kerr_set(&e, KERR_IO, "could not listen on %s: %s", config_get(&cfg, CONFIG_HTTP_LISTEN),
			 strerror(errno));
		goto fail;
	}
	if (pgpool_new(srv.context, srv.vhost, config_get(&cfg, CONFIG_DATABASE_URL),
		       (int)config_get_int(&cfg, CONFIG_DB_POOL_SIZE), 10000, &srv.db, &e))
		goto fail;
	if (storage_open(&cfg, &srv.storage, &e))
		goto fail;
	if (workers_new(srv.context, 4, 1024, &srv.workers)) {
		kerr_set(&e, KERR_INTERNAL, "could not start worker threads");
		goto fail;
	}
	if (builder_ws_init(&srv)) {
		kerr_set(&e, KERR_INTERNAL, "could not start the job dispatcher");
		goto fail;
	}
	if (storage_sweep_init(&srv)) {
		kerr_set(&e, KERR_INTERNAL, "could not start the storage sweep");
		goto fail;
	}
	if (build_logs_init(&srv)) {
		kerr_set(&e, KERR_INTERNAL, "could not set up live logs");
		goto fail;
	}
	if (provenance_init(&srv, &e))
		goto fail;
	if (index_init(&srv)) {
		kerr_set(&e, KERR_INTERNAL, "could not set up the index cache");
		goto fail;
	}
	if (downloads_init(&srv)) {
		kerr_set(&e, KERR_INTERNAL, "could not set up downloads");
		goto fail;
	}

	backend__srv = &srv;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, backend__on_signal);
	signal(SIGINT, backend__on_signal);
	log_info("listening", "addr=%s port=%d tls=%s fastpath=%s frontend=%s storage=%s",
		 *addr ? addr : "*", port, *config_get(&cfg, CONFIG_TLS_CERT) ? "on" : "off",
		 use_fast ? "on" : "off", srv.frontend_dir, storage_driver_name(srv.storage));
	while (!srv.stop)
		if (lws_service(srv.context, 0) < 0)
			break;
	log_info("shutting down", NULL);
	rc = 0;
	/* Write the download counts still in memory before the pool goes away. */
	downloads_shutdown(&srv);
	/* Let in-flight uploads finish their storage work before the loop goes away. */
	workers_free(srv.workers);
	srv.workers = NULL;
fail:
	if (rc && e.msg[0])
		log_error(e.msg, NULL);
	workers_free(srv.workers);
	pgpool_free(srv.db);
	index_release(&srv);
	provenance_release(&srv);
	builder_ws_release(&srv);
	build_logs_release(&srv);
	storage_sweep_release(&srv);
	downloads_release(&srv);
	storage_free(srv.storage);
	fastpath_free(fast);
	if (srv.context)
		lws_context_destroy(srv.context);
	http_release_pool();
	metrics_free(srv.metrics);
	free(srv.frontend_dir);
	config_release(&cfg);
	return rc;
}
