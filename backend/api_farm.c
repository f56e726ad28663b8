/* api_farm: targets, builders and the home page counters (contract in api_farm.h). */
#include "backend/api_farm.h"

#include "backend/api.h"
#include "backend/server.h"
#include "common/config.h"

#include <stdio.h>

/*
 * Online: seen alive within two lease ticks (each replica records every
 * lease_s/3 the builders that answered its pings, backend/builder_ws.c), plus
 * slack for a slow tick. A builder that stops answering goes offline within
 * that, whether or not its connection is still open.
 */
#define API_FARM_ONLINE "b.last_seen_at > now() - make_interval(secs => $1::int)"

static void api_farm__online_window(struct http_req *req, char out[24])
{
	long lease_s = config_get_int(req->srv->cfg, CONFIG_LEASE_SECONDS);

	snprintf(out, 24, "%ld", 2 * (lease_s < 3 ? 1 : lease_s / 3) + 5);
}

/* ---- GET /api/v1/targets ---- */

/*
 * builders: online, enabled, unpaused builders whose hello's arch (absent:
 * x86_64) or emulates names the target's arch (builder_ws.c keeps both in
 * builders.capabilities), whether or not they list the target: "waiting for
 * an aarch64 builder" when 0.
 */
static const char api_farm__sql_targets[] =
	"select t.name, t.image, t.python_tag, t.python_version, t.platform, t.enabled,"
	" " API_TS("t.created_at") ","
	" (select count(*) from jobs j where j.target_id = t.id and j.state = 'queued'),"
	" (select count(*) from jobs j where j.target_id = t.id"
	"  and j.state in ('assigned', 'running')),"
	" t.arch, t.suite, t.glibc,"
	" (select count(*) from builders b where b.enabled and not b.paused and " API_FARM_ONLINE
	"  and (case when jsonb_typeof(b.capabilities->'arch') = 'string'"
	"   then coalesce(nullif(b.capabilities->>'arch', ''), 'x86_64') else 'x86_64' end = t.arch"
	"   or (jsonb_typeof(b.capabilities->'emulates') = 'array'"
	"    and b.capabilities->'emulates' ? t.arch)))"
	" from targets t order by t.name limit 500";

static void api_farm__targets_done(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "name", API_STR }, { "image", API_STR }, { "python_tag", API_STR },
		{ "python_version", API_STR }, { "platform", API_STR }, { "enabled", API_BOOL },
		{ "created_at", API_STR }, { "queued", API_INT }, { "running", API_INT },
		{ "arch", API_STR }, { "suite", API_STR }, { "glibc", API_STR },
		{ "builders", API_INT },
	};

	api_respond_rows(req, r, "targets", f, sizeof(f) / sizeof(f[0]));
}

void api_farm_handle_targets(struct http_req *req)
{
	char window[24];
	const char *params[1] = { window };

	api_farm__online_window(req, window);
	api_query(req, api_farm__sql_targets, 1, params, api_farm__targets_done);
}

/* ---- GET /api/v1/builders ---- */

/* Never the token hash: the columns are named, not starred. */
static const char api_farm__sql_builders[] =
	"select b.name,"
	" case when not b.enabled then 'disabled' when b.paused then 'paused' else 'enabled' end,"
	" b.capabilities, b.version, " API_TS("b.last_seen_at") ", " API_TS("b.created_at") ","
	" coalesce(" API_FARM_ONLINE ", false),"
	" (select count(*) from jobs j where j.builder_id = b.id"
	"  and j.state in ('assigned', 'running'))"
	" from builders b order by b.name limit 500";

static void api_farm__builders_done(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "name", API_STR }, { "state", API_STR }, { "capabilities", API_JSON },
		{ "version", API_STR }, { "last_seen", API_STR }, { "created_at", API_STR },
		{ "online", API_BOOL }, { "active_jobs", API_INT },
	};

	api_respond_rows(req, r, "builders", f, sizeof(f) / sizeof(f[0]));
}

void api_farm_handle_builders(struct http_req *req)
{
	char window[24];
	const char *params[1] = { window };

	api_farm__online_window(req, window);
	api_query(req, api_farm__sql_builders, 1, params, api_farm__builders_done);
}

/* ---- GET /api/v1/stats ---- */

/*
 * Download counts are kept per UTC day, so "the last 24 hours" is the days
 * that overlap them: today and yesterday.
 */
static const char api_farm__sql_stats[] =
	"select"
	" (select count(*) from projects p where p.deleted_at is null and exists"
	"  (select 1 from releases r where r.project_id = p.id and r.deleted_at is null)),"
	" (select count(*) from releases where deleted_at is null),"
	" (select count(*) from artifacts a join releases r on r.id = a.release_id"
	"  where a.published_at is not null and r.deleted_at is null),"
	" (select count(*) from builds where state = 'succeeded'"
	"  and finished_at > now() - interval '24 hours'),"
	" (select count(*) from builds where state = 'failed'"
	"  and finished_at > now() - interval '24 hours'),"
	" (select count(*) from jobs where state = 'queued'),"
	" (select count(*) from jobs where state = 'assigned'),"
	" (select count(*) from jobs where state = 'running'),"
	" (select count(*) from builders b where " API_FARM_ONLINE "),"
	" (select coalesce(sum(count), 0)::bigint from download_counts"
	"  where day >= " API_TODAY " - 1),"
	" (select coalesce(sum(count), 0)::bigint from download_counts)";

static void api_farm__stats_done(struct http_req *req, PGresult *r)
{
	static const struct api_field counts[] = {
		{ "projects", API_INT }, { "releases", API_INT }, { "artifacts", API_INT },
	};
	static const struct api_field builds[] = {
		{ "succeeded", API_INT }, { "failed", API_INT },
	};
	static const struct api_field queue[] = {
		{ "queued", API_INT }, { "assigned", API_INT }, { "running", API_INT },
	};
	static const struct api_field online[] = { { "builders_online", API_INT } };
	static const struct api_field downloads[] = {
		{ "last_24h", API_INT }, { "total", API_INT },
	};
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int col;

	buf_putc(&b, '{');
	col = api_json_fields(&b, r, 0, 0, counts, 3);
	buf_puts(&b, ",\"builds_24h\":{");
	col = api_json_fields(&b, r, 0, col, builds, 2);
	buf_puts(&b, "},\"queue\":{");
	col = api_json_fields(&b, r, 0, col, queue, 3);
	buf_putc(&b, '}');
	col = api_json_fields(&b, r, 0, col, online, 1);
	buf_puts(&b, ",\"downloads\":{");
	api_json_fields(&b, r, 0, col, downloads, 2);
	buf_puts(&b, "}}");
	api_respond(req, &b);
}

void api_farm_handle_stats(struct http_req *req)
{
	char window[24];
	const char *params[1] = { window };

	api_farm__online_window(req, window);
	api_query(req, api_farm__sql_stats, 1, params, api_farm__stats_done);
}

/* ---- GET /api/v1/stats/history ---- */

/*
 * The last 24 hours in 24 hourly buckets, oldest first; the last bucket is
 * the current hour, so far. A job counts as queued at an instant from its
 * creation until its first build started (or it was assigned, or it ended);
 * a retry's wait after a lost attempt is not counted, since jobs keep only
 * their latest assignment. Only jobs that could have been waiting during the
 * day are looked at: those not ended before it began.
 */
static const char api_farm__sql_history[] =
	"with hours as (select g as h from generate_series("
	"  date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()),"
	"  interval '1 hour') g),"
	" recent as (select j.created_at, coalesce((select min(b.started_at) from builds b"
	"  where b.job_id = j.id), j.assigned_at, j.finished_at) as left_queue"
	"  from jobs j where j.finished_at is null"
	"  or j.finished_at > date_trunc('hour', now()) - interval '23 hours'),"
	" ended as (select date_trunc('hour', finished_at) as h,"
	"  count(*) filter (where state = 'succeeded') as ok,"
	"  count(*) filter (where state = 'failed') as bad from builds"
	"  where finished_at >= date_trunc('hour', now()) - interval '23 hours'"
	"  group by 1)"
	" select " API_TS("hours.h") ", coalesce(ended.ok, 0), coalesce(ended.bad, 0),"
	" (select count(*) from recent where recent.created_at <= least(hours.h + interval '1 hour', now())"
	"  and (recent.left_queue is null"
	"  or recent.left_queue > least(hours.h + interval '1 hour', now())))"
	" from hours left join ended on ended.h = hours.h order by hours.h";

static void api_farm__history_done(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "hour", API_STR }, { "succeeded", API_INT }, { "failed", API_INT },
		{ "queued", API_INT },
	};

	api_respond_rows(req, r, "hours", f, sizeof(f) / sizeof(f[0]));
}

void api_farm_handle_history(struct http_req *req)
{
	api_query(req, api_farm__sql_history, 0, NULL, api_farm__history_done);
}
