/* builder_notify: news from the database and the other replicas (contract in builder_notify.h). */
#include "backend/builder_notify.h"

#include "backend/builder_conn.h"
#include "backend/builder_ws.h"
#include "backend/pgpool.h"
#include "backend/server.h"
#include "common/kerr.h"
#include "common/log.h"
#include "common/queue_sql.h"

#include <stdio.h>
#include <stdlib.h>

/* A job was queued (migrations/0004_queue.sql): look for an idle builder for it. */
static void builder_notify__on_jobs(void *ctx, const char *channel, const char *payload)
{
	builder_ws_dispatch(ctx);
}

/* "BUILDER_ID:JOB_ID" (common/queue_sql.c, the cancel statement): tell it if it is ours. */
static void builder_notify__on_cancel(void *ctx, const char *channel, const char *payload)
{
	long long builder_id = 0, job = 0;
	char rest;

	/* A lost notification (channel NULL) is caught when the builder next reports. */
	if (!channel || sscanf(payload, "%lld:%lld%c", &builder_id, &job, &rest) != 2)
		return;
	builder_ws_cancel(ctx, builder_id, job, QUEUE_CANCEL_REASON);
	builder_ws_dispatch(ctx); /* its slot is free again */
}

static void builder_notify__paused_loaded(void *ctx, PGresult *r, const char *err)
{
	struct server *srv = ctx;
	struct bws_state *st;
	int resumed = 0;

	if (err || !(st = builder_conn_state(srv)))
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		int paused = PQgetvalue(r, i, 1)[0] == 't';

		for (struct builder_conn *c = st->conns; c; c = c->next) {
			if (c->builder_id != id || c->paused == paused)
				continue;
			c->paused = paused;
			resumed |= !paused;
			log_info(paused ? "builder paused" : "builder resumed", "builder=%s", c->name);
		}
	}
	if (resumed)
		builder_ws_dispatch(srv);
}

/*
 * A builder was paused, resumed, disabled or enabled (payload: its id), or the
 * listener reconnected (channel NULL) and any of that may have been missed:
 * reload the flag of the connections concerned. A disabled builder's open
 * connection is treated as paused; its token is refused at the next hello.
 */
static void builder_notify__on_builders(void *ctx, const char *channel, const char *payload)
{
	struct server *srv = ctx;
	struct bws_state *st = builder_conn_state(srv);
	struct buf ids = BUF_INIT(BUF_NOLIMIT);
	long long only = channel ? strtoll(payload, NULL, 10) : 0;
	const char *params[1];

	if (!st)
		goto out;
	buf_putc(&ids, '{');
	for (struct builder_conn *c = st->conns; c; c = c->next)
		if (!channel || c->builder_id == only)
			buf_printf(&ids, "%s%lld", ids.len > 1 ? "," : "", c->builder_id);
	if (ids.len == 1)
		goto out; /* not connected here */
	buf_putc(&ids, '}');
	params[0] = ids.ptr;
	pgpool_query(srv->db,
		     "select id, (paused or not enabled)::text from builders where id = any($1::bigint[])",
		     1, params, builder_notify__paused_loaded, srv);
out:
	buf_release(&ids);
}

int builder_notify_listen(struct server *srv)
{
	if (pgpool_listen(srv->db, "kiln_cancel", builder_notify__on_cancel, srv) ||
	    pgpool_listen(srv->db, "kiln_builders", builder_notify__on_builders, srv))
		return KERR_INVAL;
	return pgpool_listen(srv->db, "kiln_jobs", builder_notify__on_jobs, srv);
}
