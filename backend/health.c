/* health: liveness, readiness and metrics endpoints (contract in health.h). */
#include "backend/health.h"

#include "backend/builder_ws.h"
#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/server.h"

#include <stdlib.h>
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

/*
 * The gauges read from the database at scrape time, one statement: checks by
 * result (every repro_results row is one decided check) and the live checks.
 */
static const char health__sql_metrics[] =
	"select count(*) filter (where result = 'reproducible'),"
	" count(*) filter (where result = 'differs'), count(*) filter (where result = 'failed'),"
	" (select count(*) from jobs where kind = 'check'"
	"  and state in ('queued', 'assigned', 'running'))"
	" from repro_results";

/* Answer /metrics; repro NULL: the database did not answer, its gauges are left out. */
static void health__metrics_respond(struct http_req *req, const struct metrics_repro *repro)
{
	struct buf b = BUF_INIT(4u << 20);
	struct pgpool_stats st;

	pgpool_get_stats(req->srv->db, &st);
	if (metrics_render(req->srv->metrics, &st, &b) ||
	    (repro && metrics_render_repro(repro, &b)) ||
	    buf_printf(&b, "# HELP kiln_builders_connected Builder connections this replica holds.\n"
		       "# TYPE kiln_builders_connected gauge\nkiln_builders_connected %d\n",
		       builder_ws_count(req->srv)))
		http_error(req, 500, KERR_TOOBIG, "metrics too large");
	else
		http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			     "Cache-Control: no-store\r\n", b.ptr, b.len);
	buf_release(&b);
}

static void health__metrics_done(void *ctx, PGresult *r, const char *err)
{
	struct http_req *req = ctx;
	struct metrics_repro repro;

	req->pending = NULL;
	if (!err && r && PQntuples(r) == 1 && PQnfields(r) == 4) {
		repro.reproducible = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		repro.differs = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		repro.failed = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		repro.pending = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
		health__metrics_respond(req, &repro);
	} else {
		/* The process's own metrics matter most when the database is in trouble. */
		health__metrics_respond(req, NULL);
	}
	http_wake(req);
}

void health_handle_metrics(struct http_req *req)
{
	struct pgq *q = NULL;

	if (pgpool_ready(req->srv->db))
		q = pgpool_query(req->srv->db, health__sql_metrics, 0, NULL, health__metrics_done,
				 req);
	if (req->responded)
		return; /* the query failed at once and its callback answered */
	req->pending = q;
	if (!q)
		health__metrics_respond(req, NULL);
}
