/* queue_sql: the admin statements of the build queue (contract in queue_sql.h). */
#include "common/queue_sql.h"

#include "common/kerr.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A timestamptz as "2026-01-02T03:04:05Z", as the REST API writes them. */
#define QUEUE_TS(expr) "to_char((" expr ") at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * Data-modifying CTEs run to completion whether or not the final select reads
 * them, and the final select sees the rows as they were before: the prior
 * state comes from the same snapshot the cancel started from.
 */
const char queue_sql_cancel[] =
	"with x as (select id, builder_id, attempts from jobs where id = $1::bigint"
	" and state in ('queued', 'assigned', 'running') for update),"
	" j as (update jobs set state = 'cancelled', failure_reason = $2, finished_at = now(),"
	" lease_token_hash = null, lease_expires_at = null, not_before = null"
	" from x where jobs.id = x.id returning jobs.id),"
	" b as (update builds set state = 'cancelled', finished_at = now(), phase = 'cancelled',"
	" failure_reason = $2 from x where builds.job_id = x.id"
	" and builds.attempt = x.attempts and builds.state = 'running' returning builds.id),"
	" l as (insert into build_log_chunks (build_id, seq, data)"
	" select b.id, 1000000000, convert_to(E'\\nkiln: the job was cancelled: ' || $2 || E'\\n',"
	" 'UTF8') from b on conflict do nothing returning build_id),"
	" u as (delete from artifacts a using x where a.job_id = x.id and a.published_at is null"
	" returning a.storage_key),"
	" g as (insert into storage_pending (key, not_before) select storage_key, now() from u"
	" on conflict (key) do nothing)"
	" select (select state from jobs where id = $1::bigint), (j.id is not null)::text,"
	" (select name from builders where id = x.builder_id),"
	" coalesce((select array_agg(storage_key) from u), '{}')::text,"
	" (select count(*) from l), (select count(pg_notify('kiln_build', b.id::text)) from b),"
	" (select count(pg_notify('kiln_cancel', c.builder_id::text || ':' || c.id::text))"
	"  from x c where c.builder_id is not null)"
	" from (select 1) one left join x on true left join j on j.id = x.id";

const char queue_sql_rebuild[] =
	"with p as (select id, name from projects where normalized = $1 and deleted_at is null),"
	" r as (select r.id, (r.git_commit is not null or exists (select 1 from upstream_files f"
	"  where f.release_id = r.id and f.kind = 'sdist' and f.deleted_at is null)) as has_source"
	"  from releases r where r.project_id = (select id from p) and r.deleted_at is null"
	"  and ($2::text is null or r.version_normalized = $2 or r.version = $3)"
	"  order by (r.version_normalized = $2) desc nulls last"
	"  limit case when $2::text is null then null else 1 end),"
	" t as (select id, enabled from targets where $4::text is null or name = $4),"
	" pairs as (select r.id as release_id, t.id as target_id from r cross join t"
	"  where r.has_source and t.enabled),"
	" ins as (insert into jobs (release_id, target_id, priority)"
	"  select release_id, target_id, coalesce($5::int, " QUEUE_ADMIN_PRIORITY_TEXT ")"
	"  from pairs order by release_id, target_id"
	"  on conflict do nothing returning id),"
	/*
	 * Already queued: moved ahead (fair_seq 0 puts it before the others of
	 * its priority). The insert's new rows are not in this statement's
	 * snapshot, so only jobs that were queued before are moved.
	 */
	" mv as (update jobs j set priority = case when $5::int is null"
	"  then greatest(j.priority, " QUEUE_ADMIN_PRIORITY_TEXT ") else $5::int end, fair_seq = 0"
	"  from pairs where j.release_id = pairs.release_id and j.target_id = pairs.target_id"
	"  and j.state = 'queued' and j.kind = 'build' returning j.id, j.priority)"
	" select (select name from p), (select count(*) from r),"
	" (select count(*) from r where not has_source), (select count(*) from t),"
	" (select count(*) from t where enabled), (select count(*) from pairs),"
	" coalesce((select json_agg(id order by id) from ins), '[]')::text,"
	" (select count(*) from ins),"
	" coalesce((select json_agg(id order by id) from mv), '[]')::text,"
	" (select count(*) from mv), coalesce($5::int, " QUEUE_ADMIN_PRIORITY_TEXT ")";

const char queue_sql_priority[] =
	"with x as (select id, state, priority from jobs where id = $1::bigint for update),"
	" u as (update jobs set priority = $2::int,"
	"  fair_seq = case when $2::int > x.priority then 0 else jobs.fair_seq end"
	"  from x where jobs.id = x.id and x.state = 'queued' returning jobs.id)"
	" select x.state, (u.id is not null)::text, x.priority"
	" from (select 1) one left join x on true left join u on u.id = x.id";

/*
 * The latest job of each (release, target) when it failed, of live releases
 * and projects, where cond holds (j the job, r its release, tt its target):
 * columns id, release_id, target_id, enabled. A later job for the pair, live
 * or finished, takes the place of the failed one. Builds only: a failed
 * reproducibility check is a result, not work to do again, and never hides
 * the build it checked.
 */
#define QUEUE_FAILED_LATEST(cond) \
	"select j.id, j.release_id, j.target_id, tt.enabled from jobs j" \
	" join releases r on r.id = j.release_id join projects pp on pp.id = r.project_id" \
	" join targets tt on tt.id = j.target_id" \
	" where j.state = 'failed' and j.kind = 'build' and r.deleted_at is null" \
	" and pp.deleted_at is null and " cond \
	" and not exists (select 1 from jobs k where k.release_id = j.release_id" \
	"  and k.target_id = j.target_id and k.kind = 'build' and k.id > j.id)"

/* Queue a job for each row of CTE f on an enabled target, at priority prio. */
#define QUEUE_REQUEUE_INSERT(prio) \
	"insert into jobs (release_id, target_id, priority)" \
	" select release_id, target_id, " prio "::int from f where f.enabled order by f.id" \
	" on conflict do nothing returning id"

const char queue_sql_requeue_failed[] =
	"with p as (select id from projects where normalized = $1),"
	" t as (select id from targets where name = $2),"
	" f as (" QUEUE_FAILED_LATEST("($1::text is null or r.project_id = (select id from p))"
	"  and ($2::text is null or j.target_id = (select id from t))"
	"  and ($4::text is null or j.failure_class = $4)") "),"
	" ins as (" QUEUE_REQUEUE_INSERT("$3") ")"
	" select ($1::text is null or exists (select 1 from p))::text,"
	" ($2::text is null or exists (select 1 from t))::text,"
	" (select count(*) from f where enabled), (select count(*) from ins),"
	" (select count(*) from f where not enabled)";

const char queue_sql_deps_list[] =
	"select p.name, n.package, n.source, n.added_by, n.build_id, " QUEUE_TS("n.created_at")
	" from projects p left join project_native_packages n on n.project_id = p.id"
	" where p.normalized = $1 and p.deleted_at is null"
	" order by n.package collate \"C\"";

/* What failed for a missing native dependency in project p: what a change of its packages requeues. */
#define QUEUE_FAILED_NATIVE \
	QUEUE_FAILED_LATEST("r.project_id = (select id from p)" \
	" and j.failure_class = 'native-dependency'")

const char queue_sql_deps_add[] =
	"with p as (select id, name from projects where normalized = $1 and deleted_at is null),"
	" have as (select package from project_native_packages where project_id = (select id from p)),"
	" new as (select distinct x as package from unnest($2::text[]) x"
	"  where x not in (select package from have)),"
	" fits as (select (select count(*) from have) + (select count(*) from new) <= "
	QUEUE_DEPS_MAX_TEXT " as ok),"
	" ins as (insert into project_native_packages (project_id, package, source, added_by)"
	"  select p.id, new.package, 'admin', $3 from p, new, fits where fits.ok"
	"  order by new.package returning package),"
	" f as (" QUEUE_FAILED_NATIVE " and exists (select 1 from ins)),"
	" rq as (" QUEUE_REQUEUE_INSERT("$4") ")"
	" select (select name from p), fits.ok::text,"
	" coalesce((select json_agg(package order by package collate \"C\") from ins), '[]')::text,"
	" (select count(*) from rq), (select count(*) from have) + (select count(*) from ins)"
	" from fits";

const char queue_sql_deps_remove[] =
	"with p as (select id, name from projects where normalized = $1 and deleted_at is null),"
	" del as (delete from project_native_packages where project_id = (select id from p)"
	"  and package = any($2::text[]) returning package),"
	" f as (" QUEUE_FAILED_NATIVE " and exists (select 1 from del)),"
	" rq as (" QUEUE_REQUEUE_INSERT("$3") ")"
	" select (select name from p),"
	" coalesce((select json_agg(package order by package collate \"C\") from del), '[]')::text,"
	" (select count(*) from rq)";

const char queue_sql_pause[] =
	"update builders set paused = $2::boolean where name = $1 returning name,"
	" case when not enabled then 'disabled' when paused then 'paused' else 'enabled' end";

const char queue_sql_list[] =
	"select j.id, p.name, p.normalized, r.version, t.name, j.state, j.priority, j.attempts,"
	" j.max_attempts, bu.name, b.id, b.phase, " QUEUE_TS("j.created_at") ","
	" " QUEUE_TS("j.assigned_at") ", " QUEUE_TS("j.started_at") ","
	" " QUEUE_TS("j.not_before") ","
	" k.grp || ':' || k.np || ':' || j.fair_seq || ':' || j.id,"
	" case when j.state = 'queued' and t.enabled and not exists (select 1 from "
	QUEUE_SERVING_SQL("t.arch", "$9") ") then t.arch || ' builder' end, j.kind"
	" from jobs j"
	" cross join lateral (select case when j.state = 'queued' then 1 else 0 end as grp,"
	"  -(j.priority::bigint) as np) k"
	" join releases r on r.id = j.release_id"
	" join projects p on p.id = r.project_id"
	" join targets t on t.id = j.target_id"
	" left join builders bu on bu.id = j.builder_id"
	" left join builds b on b.job_id = j.id and b.attempt = j.attempts and j.state <> 'queued'"
	" where j.state in ('queued', 'assigned', 'running')"
	" and ($1::text is null or j.state = $1)"
	" and ($2::text is null or t.name = $2)"
	" and ($3::text is null or p.normalized = $3)"
	" and ($4::int is null or (k.grp, k.np, j.fair_seq, j.id)"
	"  > ($4::int, $5::bigint, $6::int, $7::bigint))"
	" order by k.grp, k.np, j.fair_seq, j.id"
	" limit $8::int";

int queue_online_window(long lease_s)
{
	return (int)(2 * (lease_s < 3 ? 1 : lease_s / 3) + 5);
}

/* Parse the n bytes at s as a decimal integer in [min, max]; write it back canonically. */
static int queue_sql__field(const char *s, size_t n, long long min, long long max, char out[24])
{
	char tmp[24], *end;
	size_t sign;
	long long v;

	if (n == 0 || n >= sizeof(tmp))
		return KERR_INVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	sign = tmp[0] == '-';
	if (n == sign || strspn(tmp + sign, "0123456789") != n - sign)
		return KERR_INVAL;
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno || *end || v < min || v > max)
		return KERR_INVAL;
	snprintf(out, 24, "%lld", v);
	return 0;
}

int queue_sql_cursor_parse(const char *cursor, char group[24], char prio[24], char fair[24],
			   char id[24])
{
	static const long long lim[4][2] = {
		{ 0, 1 }, { -2147483647LL, 2147483648LL }, { 0, 2147483647LL }, { 1, INT64_MAX },
	};
	char *out[4] = { group, prio, fair, id };
	const char *p = cursor;

	for (int i = 0; i < 4; i++) {
		size_t n = strcspn(p, ":");
		if (queue_sql__field(p, n, lim[i][0], lim[i][1], out[i]))
			return KERR_INVAL;
		p += n;
		if (i < 3) {
			if (*p != ':')
				return KERR_INVAL;
			p++;
		}
	}
	return *p ? KERR_INVAL : 0;
}

const char *const queue_failure_classes[] = {
	"native-dependency", "build-requirement", "compile", "import", "timeout", "out-of-memory",
	"infrastructure", NULL,
};

int queue_failure_class_ok(const char *s)
{
	for (const char *const *c = queue_failure_classes; s && *c; c++)
		if (!strcmp(s, *c))
			return 1;
	return 0;
}

const char queue_sql_check[] =
	"with j as (select j.id, j.release_id, j.target_id, j.kind, j.state,"
	"  exists (select 1 from artifacts a where a.job_id = j.id and a.published_at is not null)"
	"  as published"
	"  from jobs j where j.id = (select job_id from builds where id = $1::bigint)),"
	" ins as (insert into jobs (release_id, target_id, priority, kind, check_of)"
	"  select release_id, target_id, " QUEUE_CHECK_PRIORITY_TEXT ", 'check', id from j"
	"  where kind = 'build' and state = 'succeeded' and published"
	"  on conflict do nothing returning id)"
	" select j.id, j.kind, j.state, j.published::text, (select id from ins),"
	" (select k.id from jobs k where k.release_id = j.release_id and k.target_id = j.target_id"
	"  and k.kind = 'check' and k.state in ('queued', 'assigned', 'running')"
	"  order by k.id desc limit 1)"
	" from (select 1) one left join j on true";
