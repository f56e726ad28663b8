/* health: liveness, readiness and metrics endpoints (contract in health.h). */
#include "backend/health.h"

#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/server.h"

#include <string.h>

void health_handle_live(struct http_req *req)
{
	static const char body[] = "{\"status\":\"ok\"}";
	http_respond(req, 200, "application/json", "Cache-Control: no-store\r\n", body,
		     sizeof(body) - 1);
}

static void health__ready_done(void *ctx, PGresult *r, const char *err)
{
	struct http_req *req = ctx;

	req->pending = NULL;
	if (err)
		http_error(req, 503, KERR_DB, "%s", err);
	else
		http_respond(req, 200, "application/json", "Cache-Control: no-store\r\n",
			     "{\"status\":\"ready\",\"database\":\"ok\"}", 34);
	http_wake(req);
}

void health_handle_ready(struct http_req *req)
{
	if (!pgpool_ready(req->srv->db)) {
		http_error(req, 503, KERR_DB, "database not connected");
		return;
	}
	req->pending = pgpool_query(req->srv->db, "select 1", 0, NULL, health__ready_done, req);
	if (!req->pending)
		http_error(req, 503, KERR_AGAIN, "database queue full");
}

void health_handle_metrics(struct http_req *req)
{
	struct buf b = BUF_INIT(4u << 20);
	struct pgpool_stats st;

	pgpool_get_stats(req->srv->db, &st);
	if (metrics_render(req->srv->metrics, &st, &b))
		http_error(req, 500, KERR_TOOBIG, "metrics too large");
	else
		http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			     "Cache-Control: no-store\r\n", b.ptr, b.len);
	buf_release(&b);
}
