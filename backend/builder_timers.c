/* builder_timers: leases, pings, the reaper, periodic dispatch (contract in builder_timers.h). */
#include "backend/builder_timers.h"

#include "backend/build_logs.h"
#include "backend/builder_conn.h"
#include "backend/builder_ws.h"
#include "backend/jobs.h"
#include "backend/metrics.h"
#include "backend/server.h"
#include "common/log.h"

#include <stdlib.h>

static void builder_timers__lease_extended(void *ctx, PGresult *r, const char *err)
{
	if (err)
		log_warn("could not extend leases", "error=\"%s\"", err);
}

/*
 * Every lease_s/3: one statement extends the leases of the jobs the connections
 * here hold (not every job of their builders: see jobs_extend_leases), for the
 * connections whose builder proved alive within that period only. An open
 * socket proves nothing: the kernel of a frozen or sleeping builder keeps it
 * open, and a half-open connection looks open for as long as nothing is sent.
 * Pings go out twice a period at least, so a live builder always has a pong in.
 */
static void builder_timers__lease_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, lease_sul);
	struct buf jobs = BUF_INIT(BUF_NOLIMIT), holders = BUF_INIT(BUF_NOLIMIT);
	struct buf ids = BUF_INIT(BUF_NOLIMIT);
	lws_usec_t period = (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 3, now = lws_now_usecs();
	int live = 0;

	buf_putc(&jobs, '{');
	buf_putc(&holders, '{');
	buf_putc(&ids, '{');
	for (struct builder_conn *c = st->conns; c; c = c->next) {
		if (now - c->alive_us > period)
			continue;
		live++;
		buf_printf(&ids, "%s%lld", ids.len > 1 ? "," : "", c->builder_id);
		for (int i = 0; i < c->running; i++) {
			buf_printf(&jobs, "%s%lld", jobs.len > 1 ? "," : "", c->held[i]);
			buf_printf(&holders, "%s%lld", holders.len > 1 ? "," : "", c->builder_id);
		}
	}
	buf_putc(&jobs, '}');
	buf_putc(&holders, '}');
	buf_putc(&ids, '}');
	if (live)
		jobs_extend_leases(st->srv->db, jobs.ptr, holders.ptr, ids.ptr, st->lease_s,
				   builder_timers__lease_extended, NULL);
	buf_release(&jobs);
	buf_release(&holders);
	buf_release(&ids);
	lws_sul_schedule(st->srv->context, 0, &st->lease_sul, builder_timers__lease_tick,
			 (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 3);
}

/*
 * Ping every connection; drop one whose builder has answered nothing for
 * silent_us (KILN_BUILDER_PING_TIMEOUT). Its leases are no longer extended
 * (above), so its jobs return to the queue when they run out, as after any lost
 * connection; a builder that wakes up reconnects and is told its jobs are gone.
 */
static void builder_timers__ping_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, ping_sul);
	lws_usec_t now = lws_now_usecs();
	/*
	 * A tick this late means our own loop stalled (a paused process, a
	 * starved host): the builders' pongs may be unread in the sockets, and
	 * timers run before the sockets are read. Judge them at the next tick.
	 */
	int stalled = st->ping_last_us && now - st->ping_last_us > 2 * st->ping_us;

	st->ping_last_us = now;
	for (struct builder_conn *c = st->conns; c; c = c->next) {
		if (c->closing)
			continue;
		if (!stalled && now - c->alive_us > st->silent_us) {
			log_warn("builder stopped answering; dropping its connection",
				 "builder=%s running=%d silent_ms=%lld", c->name, c->running,
				 (long long)((now - c->alive_us) / LWS_US_PER_MS));
			metrics_add(st->srv->metrics, "kiln_builder_silent_drops_total",
				    "Builder connections dropped for answering no ping.", 1);
			c->closing = 1;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
			continue;
		}
		c->ping_due = 1;
		lws_callback_on_writable(c->wsi);
	}
	lws_sul_schedule(st->srv->context, 0, &st->ping_sul, builder_timers__ping_tick, st->ping_us);
}

static void builder_timers__reaped(void *ctx, PGresult *r, const char *err)
{
	struct server *srv = ctx;

	if (err)
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		long long build = strtoll(PQgetvalue(r, i, 5), NULL, 10);

		log_warn("lease expired", "job=%s state=%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		metrics_add(srv->metrics, "kiln_jobs_reaped_total", "Jobs whose builder vanished.", 1);
		builder_conn_sweep_keys(srv, PQgetvalue(r, i, 2));
		/* The lost build's log ends with the reaper's line: store it like any other. */
		if (build > 0)
			build_logs_compact(srv, build);
	}
}

static void builder_timers__reap_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, reap_sul);
	struct server *srv = st->srv;

	/*
	 * Every replica reaps; SKIP LOCKED and the lease check keep them from
	 * colliding. Nothing for two leases after a database restart: one for the
	 * replicas' pools to reconnect and extend what their connections hold, one
	 * for builders whose connection closed meanwhile to come back.
	 */
	jobs_reap(srv->db, 2 * st->lease_s, builder_timers__reaped, srv);
	lws_sul_schedule(srv->context, 0, &st->reap_sul, builder_timers__reap_tick, 5 * LWS_US_PER_SEC);
}

/* Jobs whose backoff ran out do not notify: look for work now and then anyway. */
static void builder_timers__dispatch_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, dispatch_sul);

	builder_ws_dispatch(st->srv);
	lws_sul_schedule(st->srv->context, 0, &st->dispatch_sul, builder_timers__dispatch_tick,
			 5 * LWS_US_PER_SEC);
}

void builder_timers_start(struct bws_state *st)
{
	struct lws_context *ctx = st->srv->context;

	lws_sul_schedule(ctx, 0, &st->reap_sul, builder_timers__reap_tick, LWS_US_PER_SEC);
	lws_sul_schedule(ctx, 0, &st->dispatch_sul, builder_timers__dispatch_tick,
			 5 * LWS_US_PER_SEC);
	lws_sul_schedule(ctx, 0, &st->lease_sul, builder_timers__lease_tick,
			 (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 3);
	lws_sul_schedule(ctx, 0, &st->ping_sul, builder_timers__ping_tick, st->ping_us);
}

void builder_timers_stop(struct bws_state *st)
{
	lws_sul_cancel(&st->reap_sul);
	lws_sul_cancel(&st->dispatch_sul);
	lws_sul_cancel(&st->lease_sul);
	lws_sul_cancel(&st->ping_sul);
}
