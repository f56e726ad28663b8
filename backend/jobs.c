/* jobs: queue statements (contract in jobs.h). */
#include "backend/jobs.h"

#include "common/queue_sql.h"

#include <stdio.h>

/*
 * The claim commits without waiting for its WAL flush (synchronous_commit off
 * for this transaction only, set by the statement itself through the s CTE,
 * which the final select references so it is evaluated): the flush was one
 * fsync on every dispatch's path (0.6 to 1.2 ms on the development machine's
 * disk, far more at its tail). What it risks: if Postgres itself crashes within
 * a few hundred milliseconds of a claim, the claim is lost and the job is queued
 * again while its builder already has it. That builder's reports and uploads
 * then fail the lease check (its lease token is not the job's) and the job is
 * built again, as after any lost lease: duplicate work, never a wrong result.
 */
static const char jobs__claim_batch_sql[] =
	"with s as (select set_config('synchronous_commit', 'off', true)),"
	" w as ("
	" select * from unnest($2::bigint[], $3::text[]) with ordinality as w(bid, lease, ord)"
	"), c as ("
	" select q.id, q.avoid, row_number() over (order by q.priority desc, q.fair_seq, q.id) as ord"
	" from ("
	"  select j.id, j.priority, j.fair_seq, v.avoid from jobs j join targets t on t.id = j.target_id"
	/*
	 * A check (migration 0016) avoids the builder of the build it checks
	 * while another online builder serves its target: then it is not given
	 * to a batch of that builder alone, nor paired with it below (it stays
	 * queued; the rotating batch order pairs it with the other next time).
	 */
	"  left join lateral (select o.builder_id as avoid from jobs o where o.id = j.check_of"
	"   and exists (select 1 from " QUEUE_SERVING_SQL("t.arch", "$4") " and sb.id <> o.builder_id"
	"    and jsonb_typeof(sb.capabilities->'targets') = 'array'"
	"    and sb.capabilities->'targets' ? t.name)) v on j.kind = 'check'"
	"  where j.state = 'queued' and t.enabled and t.name = any($1::text[])"
	"  and t.arch = any($6::text[])"
	"  and (j.not_before is null or j.not_before <= now())"
	"  and (v.avoid is null or exists (select 1 from unnest($2::bigint[]) x where x <> v.avoid))"
	"  order by j.priority desc, j.fair_seq, j.id"
	"  limit $5::int for update of j skip locked) q"
	"), a as ("
	" update jobs j set state = 'assigned', builder_id = w.bid, lease_token_hash = w.lease,"
	" lease_expires_at = now() + make_interval(secs => $4::int), assigned_at = now(),"
	" started_at = null, failure_reason = null, failure_class = null, covered_by = null,"
	" attempts = j.attempts + 1"
	" from c join w on w.ord = c.ord where j.id = c.id and c.avoid is distinct from w.bid"
	" returning j.id, j.attempts, j.release_id, j.target_id, j.max_attempts, j.builder_id"
	"), b as ("
	" insert into builds (job_id, attempt, builder_id, state, phase, native_packages)"
	" select a.id, a.attempts, a.builder_id, 'running', 'assigned',"
	/* the project's native packages as this attempt gets them, byte order (C) */
	" array(select n.package from project_native_packages n join releases nr"
	"  on nr.project_id = n.project_id where nr.id = a.release_id"
	"  order by n.package collate \"C\" limit 16) from a"
	" returning id, job_id, native_packages"
	")"
	" select a.id, a.attempts, b.id, p.normalized, r.version, t.name, t.image, t.python_tag,"
	" t.python_version, t.platform, coalesce(f.url, ''), coalesce(f.sha256, ''),"
	" coalesce(f.filename, ''), coalesce(gs.url, ''), coalesce(r.git_commit, ''), a.max_attempts,"
	" a.builder_id, array_to_json(b.native_packages)::text, t.arch, coalesce(t.suite, ''),"
	" coalesce(t.glibc, '')"
	" from a join b on b.job_id = a.id cross join s"
	" join releases r on r.id = a.release_id join projects p on p.id = r.project_id"
	" join targets t on t.id = a.target_id"
	" left join lateral (select uf.url, uf.sha256, uf.filename from upstream_files uf"
	"  where uf.release_id = r.id and uf.kind = 'sdist' and uf.deleted_at is null"
	"  order by uf.id limit 1) f on true"
	" left join git_sources gs on gs.id = r.git_source_id";

struct pgq *jobs_claim_batch(struct pgpool *db, const char *targets, const char *arches,
			     const char *builder_ids, const char *lease_hashes, int n, int lease_s,
			     pgpool_cb cb, void *ctx)
{
	char ls[16], ns[16];
	const char *params[6] = { targets, builder_ids, lease_hashes, ls, ns, arches };

	snprintf(ls, sizeof(ls), "%d", lease_s);
	snprintf(ns, sizeof(ns), "%d", n);
	return pgpool_query_named(db, "kiln_claim_batch", jobs__claim_batch_sql, 6, params, cb, ctx);
}

struct pgq *jobs_check(struct pgpool *db, long long job, long long builder_id, pgpool_cb cb,
		       void *ctx)
{
	char j[24], b[24];
	const char *params[2] = { j, b };

	snprintf(j, sizeof(j), "%lld", job);
	snprintf(b, sizeof(b), "%lld", builder_id);
	return pgpool_query(db,
			    "select (j.builder_id = $2::bigint and j.state in ('assigned', 'running'))::text,"
			    " exists (select 1 from builds b where b.job_id = j.id"
			    " and b.builder_id = $2::bigint)::text, j.state, j.attempts"
			    " from jobs j where j.id = $1::bigint",
			    2, params, cb, ctx);
}

/* A builder's phases in the order they come (builder_msg checks the names). */
#define JOBS__PHASES \
	"array['assigned','fetching','prefetching','building','uploading','cleaning']::text[]"

struct pgq *jobs_progress(struct pgpool *db, long long job, long long builder_id,
			  long long attempt, const char *phase, pgpool_cb cb, void *ctx)
{
	char j[24], b[24], a[24];
	const char *params[4] = { j, b, phase, a };

	snprintf(j, sizeof(j), "%lld", job);
	snprintf(b, sizeof(b), "%lld", builder_id);
	snprintf(a, sizeof(a), "%lld", attempt);
	/*
	 * Forward only: the pool runs each query on whichever connection is idle,
	 * so "prefetching" can land after "building" when the builder sends them
	 * moments apart (a build then showed "prefetching" to its end). The row is
	 * still returned when the phase stays: the job is this builder's.
	 */
	return pgpool_query_named(db, "kiln_progress",
			    "with j as (update jobs set state = 'running',"
			    " started_at = coalesce(started_at, now())"
			    " where id = $1::bigint and builder_id = $2::bigint"
			    " and state in ('assigned', 'running')"
			    " and ($4::int = 0 or attempts = $4::int) returning id, attempts)"
			    " update builds b set phase = case when"
			    "  coalesce(array_position(" JOBS__PHASES ", b.phase), 0)"
			    "  < array_position(" JOBS__PHASES ", $3::text) then $3 else b.phase end"
			    " from j where b.job_id = j.id and b.attempt = j.attempts returning b.id",
			    4, params, cb, ctx);
}

struct pgq *jobs_log(struct pgpool *db, long long job, long long builder_id, long long attempt,
		     long long seq, const char *data, pgpool_cb cb, void *ctx)
{
	char j[24], b[24], s[24], a[24];
	const char *params[5] = { j, b, s, data, a };

	snprintf(j, sizeof(j), "%lld", job);
	snprintf(b, sizeof(b), "%lld", builder_id);
	snprintf(s, sizeof(s), "%lld", seq);
	snprintf(a, sizeof(a), "%lld", attempt);
	return pgpool_query_named(db, "kiln_log_chunk",
			    "insert into build_log_chunks (build_id, seq, data)"
			    " select b.id, $3::int, convert_to($4, 'UTF8')"
			    " from jobs j join builds b on b.job_id = j.id and b.attempt = j.attempts"
			    " where j.id = $1::bigint and j.builder_id = $2::bigint"
			    " and j.state in ('assigned', 'running')"
			    " and ($5::int = 0 or j.attempts = $5::int)"
			    " on conflict (build_id, seq) do nothing returning build_id",
			    5, params, cb, ctx);
}

/*
 * $7 is the finish's report (builder_msg.h: failure_class, missing, wheels,
 * and a success's image, command, environment and build_requirements as
 * checked JSON), $8 the automatic retry policy (KILN_NATIVE_AUTO_RETRY), $9
 * the attempt the finish is about (0: the current one).
 *
 * The automatic retry (docs/builds.md, "Native dependencies"): a failure of
 * class native-dependency whose missing entries name packages this attempt
 * did not have gets those packages added to the project (source 'auto'; the
 * trigger of migrations/0011_native_deps.sql drops what is over the caps) and
 * the job queued once more, once per job (jobs.native_retried). It retries
 * only when a named package is now the project's (added here, or by another
 * job's finish since this attempt was claimed): otherwise the next attempt
 * would fail the same way.
 */
static const char jobs__finish_sql[] =
	"with cur as ("
	" select j.id, j.attempts, j.max_attempts, j.native_retried, b.id as build_id,"
	" b.native_packages, r.project_id, j.target_id, j.kind,"
	" (select count(*) from artifacts a where a.build_id = b.id)"
	/* a check's wheels are compared, not published (upload.c, migration 0016) */
	" + (select count(*) from repro_wheels w where w.build_id = b.id) as arts,"
	/* built once: an upload of a sibling's published wheel stood in for an artifact */
	" (select a.filename from artifacts a where a.filename = j.covered_by"
	"  and a.release_id = j.release_id and a.published_at is not null) as covered"
	" from jobs j join builds b on b.job_id = j.id and b.attempt = j.attempts"
	" join releases r on r.id = j.release_id"
	" where j.id = $1::bigint and j.builder_id = $2::bigint"
	" and j.state in ('assigned', 'running') and ($9::int = 0 or j.attempts = $9::int)"
	" for update of j"
	"), rep as ("
	" select case when $3 = 'retry' then 'infrastructure'"
	"  when $3 = 'failed' then $7::jsonb->>'failure_class' end as cls,"
	" $7::jsonb->'missing' as missing, $7::jsonb->'wheels' as wheels"
	"), want as ("
	" select distinct m->>'package' as package from cur, rep,"
	"  jsonb_array_elements(case when rep.cls = 'native-dependency' then rep.missing"
	"  else '[]' end) m"
	" where m->>'package' is not null and not (m->>'package' = any(cur.native_packages))"
	"), auto as ("
	" select $8::boolean and $3 = 'failed' and not cur.native_retried"
	"  and exists (select 1 from want) as go from cur"
	"), ins as ("
	" insert into project_native_packages (project_id, package, source, build_id)"
	" select cur.project_id, w.package, 'auto', cur.build_id from cur, want w, auto"
	" where auto.go order by w.package on conflict do nothing returning package"
	"), rt as ("
	" select auto.go and (exists (select 1 from ins) or exists (select 1 from want w"
	"  join project_native_packages n on n.package = w.package"
	"  where n.project_id = cur.project_id)) as yes from auto, cur"
	"), dep as ("
	/* A build requirement with no wheel anywhere that this farm is building for the
	 * same target: the job waits for it (migrations/0018_waits_for.sql). */
	" select dp.normalized, min(dj.id) as job from cur, rep, projects dp"
	" join releases dr on dr.project_id = dp.id join jobs dj on dj.release_id = dr.id"
	" where $3 = 'failed' and rep.cls = 'build-requirement' and cur.kind = 'build'"
	" and dp.normalized = $7::jsonb->>'requirement' and dp.id <> cur.project_id"
	" and dj.target_id = cur.target_id and dj.kind = 'build'"
	" and dj.state in ('queued', 'assigned', 'running') group by dp.normalized"
	"), d as ("
	" select cur.*, case when $3 = 'succeeded' then 'infrastructure' else rep.cls end as cls,"
	" (select normalized from dep) as waits_for,"
	" rt.yes as auto_retry, case"
	"  when $3 = 'succeeded' and (cur.arts > 0 or cur.covered is not null) then 'succeeded'"
	"  when $3 = 'retry' and cur.attempts < cur.max_attempts then 'queued'"
	"  when rt.yes then 'queued'"
	"  else 'failed' end as state,"
	" case when $3 = 'succeeded' and cur.arts = 0 and cur.covered is not null"
	"  then 'covered by kiln wheel ' || cur.covered"
	"  when $3 = 'succeeded' and cur.arts = 0 then 'the build succeeded but uploaded no wheel'"
	"  when $3 = 'retry' and cur.attempts >= cur.max_attempts"
	"  then nullif($4, '') || ' (gave up after ' || cur.attempts || ' attempts)'"
	"  when exists (select 1 from dep) then coalesce(nullif($4, '') || '; ', '')"
	"  || 'waits for ' || (select normalized from dep) || ', which this farm is building"
	" (job ' || (select job from dep) || '): queued again when it succeeds'"
	"  else nullif($4, '') end as reason"
	" from cur, rep, rt"
	"), j as ("
	" update jobs set state = d.state, failure_reason = d.reason,"
	" failure_class = case when d.state = 'succeeded' then null else d.cls end,"
	" native_retried = jobs.native_retried or d.auto_retry,"
	" waits_for = case when d.state = 'failed' then d.waits_for end,"
	" max_attempts = case when d.auto_retry then greatest(jobs.max_attempts, d.attempts + 1)"
	"  else jobs.max_attempts end,"
	" finished_at = case when d.state = 'queued' then null else now() end,"
	" builder_id = case when d.state = 'queued' then null else jobs.builder_id end,"
	" lease_token_hash = null, lease_expires_at = null,"
	" not_before = case when d.state = 'queued' and not d.auto_retry"
	"  then now() + least(interval '10 minutes', interval '15 seconds' * power(2, d.attempts - 1))"
	"  else null end"
	" from d where jobs.id = d.id returning jobs.id, jobs.state"
	"), b as ("
	" update builds set state = case when d.state = 'succeeded' then 'succeeded' else 'failed' end,"
	" failure_reason = d.reason, exit_code = $5::int, duration_ms = greatest($6::bigint, 0),"
	" failure_class = case when d.state = 'succeeded' then null else d.cls end,"
	" missing = case when d.cls = 'native-dependency' and d.state <> 'succeeded'"
	"  then (select missing from rep) end,"
	" finished_at = now(), phase = 'done',"
	/* How a succeeded build ran, as its builder reports it (migrations/0017_build_report.sql). */
	" image_id = case when $3 = 'succeeded' then $7::jsonb->'image'->>'id' end,"
	" image_base = case when $3 = 'succeeded' then $7::jsonb->'image'->>'base' end,"
	" image_name = case when $3 = 'succeeded' then $7::jsonb->'image'->>'name' end,"
	" command = case when $3 = 'succeeded' then nullif($7::jsonb->'command', 'null') end,"
	" build_environment = case when $3 = 'succeeded'"
	"  then nullif($7::jsonb->'environment', 'null') end,"
	" build_requirements = case when $3 = 'succeeded'"
	"  then nullif($7::jsonb->'build_requirements', 'null') end"
	" from d where builds.id = d.build_id returning builds.id"
	"), wh as ("
	" select x->>'filename' as filename, nullif(x->>'policy', '') as policy,"
	" array(select jsonb_array_elements_text(x->'runtime_packages')) as rp"
	" from rep, jsonb_array_elements(rep.wheels) x"
	"), p as ("
	" update artifacts set published_at = now(),"
	" policy = (select wh.policy from wh where wh.filename = artifacts.filename limit 1),"
	" runtime_packages = coalesce((select wh.rp from wh where wh.filename = artifacts.filename"
	"  limit 1), '{}')"
	" from d where artifacts.build_id = d.build_id and d.state = 'succeeded' returning artifacts.id"
	"), u as ("
	" delete from artifacts a using d where a.build_id = d.build_id and d.state <> 'succeeded'"
	" and a.published_at is null returning a.storage_key"
	"), g as ("
	" insert into storage_pending (key, not_before) select storage_key, now() from u"
	" on conflict (key) do nothing"
	"), rpc as ("
	/* Served by a sibling's wheel: the release x target shows why (api_projects.c). */
	" update release_plans rp set decision = 'skipped', reason = d.reason, decided_at = now()"
	" from d join jobs jj on jj.id = d.id where d.state = 'succeeded' and d.arts = 0"
	" and d.covered is not null and rp.release_id = jj.release_id and rp.target_id = jj.target_id"
	"), wake as ("
	/* Built: the jobs that waited for this project as a build requirement go again. */
	" update jobs w set state = 'queued', waits_for = null, failure_reason = null,"
	" failure_class = null, finished_at = null, not_before = null,"
	" max_attempts = greatest(w.max_attempts, w.attempts + 1)"
	" from d join projects wp on wp.id = d.project_id"
	" where d.state = 'succeeded' and d.kind = 'build' and w.waits_for = wp.normalized"
	" and w.target_id = d.target_id and w.state = 'failed'"
	" and w.failure_class = 'build-requirement'"
	/* not one of a release or project deleted meanwhile */
	" and exists (select 1 from releases wr join projects wq on wq.id = wr.project_id"
	"  where wr.id = w.release_id and wr.deleted_at is null and wq.deleted_at is null)"
	" and not exists (select 1 from jobs o"
	"  where o.release_id = w.release_id and o.target_id = w.target_id and o.kind = w.kind"
	"  and o.state in ('queued', 'assigned', 'running'))"
	" returning w.id"
	"), l as ("
	/* Say in the build's log what the backend did, after the builder's last chunk. */
	" insert into build_log_chunks (build_id, seq, data)"
	" select d.build_id, 1000000000, convert_to(E'\\nkiln: the build is missing '"
	"  || (select string_agg(distinct m->>'name', ', ') from rep,"
	"  jsonb_array_elements(rep.missing) m) || '; '"
	"  || case when exists (select 1 from ins) then 'added '"
	"  || (select string_agg(package, ' ' order by package) from ins)"
	"  || ' to the project''s native packages and queued'"
	"  else 'the project has what it needs now: queued' end"
	"  || E' the job once more (automatic retry, once per job).\\n', 'UTF8')"
	" from d where d.auto_retry on conflict do nothing"
	")"
	" select d.build_id, d.state, (select count(*) from p),"
	" coalesce((select array_agg(storage_key) from u), '{}')::text,"
	" pg_notify('kiln_build', d.build_id::text),"
	" coalesce((select string_agg(package, ' ' order by package) from ins), ''),"
	" (select count(*) from wake)"
	" from d join j on j.id = d.id join b on b.id = d.build_id";

struct pgq *jobs_finish(struct pgpool *db, long long job, long long builder_id,
			long long attempt, const char *status, const char *reason,
			long long exit_code, long long duration_ms, const char *report,
			int auto_retry, pgpool_cb cb, void *ctx)
{
	char j[24], b[24], ec[24], dur[24], a[24];
	const char *params[9] = { j, b, status, reason ? reason : "", ec, dur,
				  report ? report : JOBS_REPORT_NONE, auto_retry ? "true" : "false",
				  a };

	snprintf(a, sizeof(a), "%lld", attempt);
	snprintf(j, sizeof(j), "%lld", job);
	snprintf(b, sizeof(b), "%lld", builder_id);
	snprintf(ec, sizeof(ec), "%lld", exit_code);
	snprintf(dur, sizeof(dur), "%lld", duration_ms);
	return pgpool_query(db, jobs__finish_sql, 9, params, cb, ctx);
}

struct pgq *jobs_extend_leases(struct pgpool *db, const char *job_ids, const char *holder_ids,
			       const char *builder_ids, int lease_s, pgpool_cb cb, void *ctx)
{
	char ls[16];
	const char *params[4] = { job_ids, holder_ids, builder_ids, ls };

	snprintf(ls, sizeof(ls), "%d", lease_s);
	return pgpool_query(db,
			    "with e as (update jobs j set lease_expires_at = now() + make_interval(secs => $4::int)"
			    " from unnest($1::bigint[], $2::bigint[]) as h(job, builder)"
			    " where j.id = h.job and j.builder_id = h.builder and j.state in ('assigned', 'running')"
			    " returning j.id)"
			    " update builders set last_seen_at = now() where id = any($3::bigint[])"
			    " returning (select count(*) from e)",
			    4, params, cb, ctx);
}

static const char jobs__reap_sql[] =
	"with x as ("
	" select j.id, j.attempts, j.max_attempts, j.builder_id,"
	" (select name from builders where id = j.builder_id) as builder"
	" from jobs j where j.state in ('assigned', 'running') and j.lease_expires_at < now()"
	" and pg_postmaster_start_time() < now() - make_interval(secs => $1::int)"
	" for update skip locked limit 100"
	"), j as ("
	" update jobs set state = case when x.attempts >= x.max_attempts then 'failed' else 'queued' end,"
	" failure_reason = case when x.attempts >= x.max_attempts then"
	"  'builder ' || coalesce(x.builder, '?') || ' stopped responding; gave up after ' ||"
	"  x.attempts || ' attempts' else null end,"
	" failure_class = case when x.attempts >= x.max_attempts then 'infrastructure' end,"
	" finished_at = case when x.attempts >= x.max_attempts then now() else null end,"
	" builder_id = null, lease_token_hash = null, lease_expires_at = null, not_before = null"
	" from x where jobs.id = x.id returning jobs.id, jobs.state"
	"), b as ("
	" update builds set state = 'lost', finished_at = now(), phase = 'lost',"
	" failure_class = 'infrastructure',"
	" failure_reason = 'builder ' || coalesce(x.builder, '?') || ' stopped responding (lease expired)'"
	" from x where builds.job_id = x.id and builds.attempt = x.attempts and builds.state = 'running'"
	" returning builds.id, x.id as job_id, x.builder, x.attempts, x.max_attempts"
	"), l as ("
	" insert into build_log_chunks (build_id, seq, data)"
	" select b.id, 1000000000, convert_to(E'\\nkiln: builder ' || coalesce(b.builder, '?') ||"
	"  ' stopped responding and its lease expired; ' || case when b.attempts >= b.max_attempts"
	"  then 'the job failed after ' || b.attempts || ' attempts.' else"
	"  'the job was queued again (attempt ' || b.attempts || ' of ' || b.max_attempts || ' used).' end"
	"  || E'\\n', 'UTF8') from b"
	" on conflict do nothing returning build_id"
	"), u as ("
	" delete from artifacts a using x where a.job_id = x.id and a.published_at is null"
	" returning a.job_id, a.storage_key"
	"), g as ("
	" insert into storage_pending (key, not_before) select storage_key, now() from u"
	" on conflict (key) do nothing"
	")"
	" select j.id, j.state, coalesce((select array_agg(storage_key) from u where u.job_id = j.id),"
	" '{}')::text, (select count(*) from l),"
	" (select count(pg_notify('kiln_build', b.id::text)) from b where b.job_id = j.id),"
	" coalesce((select max(b.id) from b where b.job_id = j.id), 0) from j";

struct pgq *jobs_reap(struct pgpool *db, int grace_s, pgpool_cb cb, void *ctx)
{
	char gs[16];
	const char *params[1] = { gs };

	snprintf(gs, sizeof(gs), "%d", grace_s);
	return pgpool_query(db, jobs__reap_sql, 1, params, cb, ctx);
}
