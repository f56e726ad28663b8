/* api_projects: project list, project and release detail (contract in api_projects.h). */
#include "backend/api_projects.h"

#include "backend/api.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/json.h"
#include "common/pyversion.h"
#include "common/queue_sql.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Targets are the columns of the release grid: all of them, by name (a farm
 * has a few), each with the builders that serve its architecture now (online
 * within `window` seconds, an SQL expression: see QUEUE_SERVING_SQL).
 */
#define API_PROJECTS_TARGETS(window) \
	"t as (select t0.id, t0.name, t0.python_tag, t0.python_version, t0.platform, t0.enabled," \
	" t0.arch, t0.suite, t0.glibc," \
	" (select count(*) from " QUEUE_SERVING_SQL("t0.arch", window) ") as builders" \
	" from targets t0 order by t0.name limit 100)"

#define API_PROJECTS_TARGETS_JSON \
	"(select coalesce(json_agg(json_build_object('name', t.name, 'python_tag', t.python_tag," \
	" 'python_version', t.python_version, 'platform', t.platform, 'enabled', t.enabled," \
	" 'arch', t.arch, 'suite', t.suite, 'glibc', t.glibc, 'builders', t.builders)" \
	" order by t.name), '[]') from t)"

/*
 * The reproducibility of a cell (docs/builds.md): the latest check result of
 * the newest build job of release rid on target t that published wheels of
 * its own; rx.result NULL when it was never checked.
 */
#define API_PROJECTS_REPRO(rid) \
	" left join lateral (select pj.id from jobs pj where pj.release_id = " rid \
	"  and pj.target_id = t.id and pj.kind = 'build' and exists (select 1 from artifacts pa" \
	"  where pa.job_id = pj.id and pa.release_id = " rid " and pa.published_at is not null)" \
	"  order by pj.id desc limit 1) px on true" \
	" left join lateral (select rr.result from repro_results rr where rr.of_job_id = px.id" \
	"  order by rr.decided_at desc, rr.job_id desc limit 1) rx on true"

/*
 * One status cell per target (in CTE t) for release rid; the precedence is
 * documented in api_projects.h. The newest job is the live one if any is live
 * (jobs_one_active allows one per kind, and a new job only follows a finished
 * one). Only builds make a cell: a reproducibility check (jobs.kind 'check')
 * never shows as its release's job, only as the cell's reproducibility.
 */
#define API_PROJECTS_CELLS(rid) \
	"(select coalesce(json_agg(json_build_object('target', t.name, 'status', case" \
	" when ba.n > 0 then 'built'" \
	" when lj.state in ('assigned', 'running') then 'running'" \
	" when lj.state = 'queued' then 'queued'" \
	" when cw.filename is not null then 'covered'" \
	" when lj.state = 'failed' then 'failed'" \
	" when rp.decision = 'skipped' then 'skipped'" \
	" else 'none' end, 'reason', case" \
	" when ba.n > 0 or lj.state in ('queued', 'assigned', 'running') then null" \
	" when cw.filename is not null then 'covered by kiln wheel'" \
	" when lj.state = 'failed' then coalesce(lj.failure_reason, lb.failure_reason)" \
	" when rp.decision = 'skipped' then rp.reason end," \
	" 'artifacts', ba.n, 'job_id', lj.id, 'job_state', lj.state, 'build_id', lb.id," \
	" 'plan', rp.decision, 'failure_class', case when ba.n = 0 and lj.state = 'failed'" \
	"  and cw.filename is null then lj.failure_class end," \
	" 'waiting_for', case when lj.state = 'queued' and t.enabled and t.builders = 0" \
	"  then t.arch || ' builder' end," \
	" 'covered_by', case when ba.n = 0 and cw.filename is not null then json_build_object(" \
	"  'filename', cw.filename, 'target', cw.target, 'build_id', cw.build_id) end," \
	" 'reproducibility', rx.result)" \
	" order by t.name), '[]')" \
	" from t" \
	" left join release_plans rp on rp.release_id = " rid " and rp.target_id = t.id" \
	" left join lateral (select j.id, j.state, j.failure_reason, j.failure_class, j.covered_by" \
	"  from jobs j" \
	"  where j.release_id = " rid " and j.target_id = t.id and j.kind = 'build'" \
	"  order by j.id desc limit 1) lj on true" \
	" left join lateral (select b.id, b.failure_reason from builds b where b.job_id = lj.id" \
	"  order by b.attempt desc limit 1) lb on true" \
	" left join lateral (select count(*) as n from artifacts a join jobs aj on aj.id = a.job_id" \
	"  where a.release_id = " rid " and aj.target_id = t.id and aj.kind = 'build'" \
	"  and a.published_at is not null) ba on true" \
	API_PROJECTS_REPRO(rid) \
	/*
	 * A wheel built for another target that covers this one (pure, abi3, older
	 * glibc), as the queue decided it (one rule: wheelname_installs): the job
	 * dropped or whose upload was covered names it (jobs.covered_by, backend/
	 * covered.h), or the planner skipped the target for it.
	 */ \
	" left join lateral (select a.filename, a.build_id, ct.name as target from artifacts a" \
	"  left join jobs cj on cj.id = a.job_id left join targets ct on ct.id = cj.target_id" \
	"  where a.release_id = " rid " and a.published_at is not null and not a.yanked" \
	"  and a.filename = coalesce(lj.covered_by, case when rp.decision = 'skipped'" \
	"   and rp.reason like 'covered by kiln wheel _%' then substr(rp.reason, 23) end)" \
	"  limit 1) cw on true)"

/*
 * The published artifacts of release rid (those the index serves), by
 * filename; no storage keys, only the public URL.
 */
#define API_PROJECTS_ARTIFACTS(rid) \
	"(select coalesce(json_agg(json_build_object('id', a.id, 'filename', a.filename," \
	" 'url', '/files/' || ap.normalized || '/' || a.filename, 'size', a.size," \
	" 'sha256', a.sha256, 'requires_python', a.requires_python, 'yanked', a.yanked," \
	" 'uploaded_at', " API_TS("a.created_at") "," \
	" 'downloads', (select coalesce(sum(dc.count), 0)::bigint from download_counts dc" \
	"  where dc.artifact_id = a.id)," \
	" 'build_id', a.build_id, 'job_id', a.job_id, 'target', tg.name, 'policy', a.policy," \
	" 'runtime_packages', a.runtime_packages) order by a.filename), '[]')" \
	" from (select id, project_id, job_id, build_id, filename, size, sha256, requires_python," \
	"  yanked, created_at, policy, runtime_packages from artifacts where release_id = " rid \
	"  and published_at is not null order by filename limit 500) a" \
	" join projects ap on ap.id = a.project_id" \
	" left join jobs aj on aj.id = a.job_id left join targets tg on tg.id = aj.target_id)"

/* The jobs of release rid, newest first, each with its builds (attempts). */
#define API_PROJECTS_JOBS(rid) \
	"(select coalesce(json_agg(json_build_object('id', j.id, 'target', jt.name," \
	" 'state', j.state, 'priority', j.priority, 'attempts', j.attempts," \
	" 'max_attempts', j.max_attempts, 'failure_reason', j.failure_reason," \
	" 'failure_class', j.failure_class, 'builder', jb.name," \
	" 'created_at', " API_TS("j.created_at") ", 'started_at', " API_TS("j.started_at") "," \
	" 'finished_at', " API_TS("j.finished_at") ", 'kind', j.kind, 'check_of', j.check_of," \
	" 'waits_for', j.waits_for," \
	" 'builds'," \
	" (select coalesce(json_agg(json_build_object('id', b.id, 'attempt', b.attempt," \
	"   'state', b.state, 'phase', b.phase, 'exit_code', b.exit_code," \
	"   'failure_reason', b.failure_reason, 'failure_class', b.failure_class," \
	"   'builder', bb.name," \
	"   'started_at', " API_TS("b.started_at") ", 'finished_at', " API_TS("b.finished_at") "," \
	"   'duration_ms', b.duration_ms) order by b.attempt desc), '[]')" \
	"  from (select * from builds where job_id = j.id order by attempt desc limit 20) b" \
	"  left join builders bb on bb.id = b.builder_id)) order by j.id desc), '[]')" \
	" from (select * from jobs where release_id = " rid " order by id desc limit 100) j" \
	" join targets jt on jt.id = j.target_id left join builders jb on jb.id = j.builder_id)"

/* The online window of QUEUE_SERVING_SQL, as a text parameter in out. */
static const char *api_projects__window(struct http_req *req, char out[24])
{
	snprintf(out, 24, "%d",
		 queue_online_window(config_get_int(req->srv->cfg, CONFIG_LEASE_SECONDS)));
	return out;
}

/* ---- sorting releases by PEP 440 ---- */

struct api_rel {
	int64_t id;
	const char *version; /* borrowed from the result being read */
	int yanked;
	int valid;           /* a PEP 440 version; the others sort after, by text */
	struct pyversion v;
};

static void api_projects__rel_set(struct api_rel *rel, int64_t id, const char *version,
				  int yanked)
{
	rel->id = id;
	rel->version = version;
	rel->yanked = yanked;
	rel->valid = pyversion_parse_str(&rel->v, version, NULL) == 0;
}

/* Newest first: valid versions by PEP 440 descending, then invalid ones by text descending. */
static int api_projects__rel_cmp(const void *pa, const void *pb)
{
	const struct api_rel *a = pa, *b = pb;
	int c;

	if (a->valid != b->valid)
		return a->valid ? -1 : 1;
	c = a->valid ? pyversion_cmp(&a->v, &b->v) : 0;
	if (!c)
		c = strcmp(a->version, b->version); /* 1.0 and 1.0.0 compare equal */
	return (c < 0) - (c > 0);
}

/* The release a user means by "latest": the newest final release, else the newest one. */
static const struct api_rel *api_projects__latest(const struct api_rel *rels, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!rels[i].yanked && rels[i].valid && !pyversion_is_prerelease(&rels[i].v))
			return &rels[i];
	for (size_t i = 0; i < n; i++)
		if (!rels[i].yanked)
			return &rels[i];
	return NULL;
}

/* ---- GET /api/v1/projects ---- */

/*
 * $1 prefix pattern ('term%', or '%' without a term), $2 cursor within the
 * prefix group (NULL: that group is done), $3 substring pattern ('%term%', or
 * NULL without a term), $4 cursor within the substring group, $5 page size + 1.
 *
 * Names are ordered and compared bytewise (~<~, ~>~: the operators of
 * projects_normalized_pattern's text_pattern_ops), whatever the database's
 * collation: the prefix group then walks that index in order and stops at a
 * page, instead of collecting and sorting every match. The substring scan
 * (which no index serves) is gated on the prefix group not filling the page:
 * Postgres skips it entirely then.
 */
static const char api_projects__sql_list[] =
	"with pre as ("
	" select p.id, p.normalized, 0 as g from projects p"
	" where $2::text is not null and p.normalized like $1 and p.normalized ~>~ $2"
	"  and p.deleted_at is null"
	"  and exists (select 1 from releases r where r.project_id = p.id and r.deleted_at is null)"
	" order by p.normalized using ~<~ limit $5::int),"
	" sub as ("
	" select p.id, p.normalized, 1 as g from projects p"
	" where $3::text is not null and (select count(*) from pre) < $5::int"
	"  and p.normalized like $3 and p.normalized not like $1 and p.normalized ~>~ $4"
	"  and p.deleted_at is null"
	"  and exists (select 1 from releases r where r.project_id = p.id and r.deleted_at is null)"
	" order by p.normalized using ~<~ limit $5::int),"
	" page as (select * from pre union all select * from sub)"
	" select p.name, p.normalized,"
	" (select count(*) from releases r where r.project_id = p.id and r.deleted_at is null),"
	" (select count(*) from artifacts a join releases r on r.id = a.release_id"
	"  where a.project_id = p.id and a.published_at is not null and r.deleted_at is null),"
	" " API_TS("p.updated_at") ","
	/* latest_version: picked in C among the 20 newest non-yanked releases */
	" (select string_agg(v.version, E'\\n') from (select r.version from releases r"
	"  where r.project_id = p.id and r.deleted_at is null and not r.yanked"
	"  order by coalesce(r.uploaded_at, r.created_at) desc, r.id desc limit 20) v)"
	" from page join projects p on p.id = page.id"
	" order by page.g, page.normalized using ~<~ limit $5::int";

struct api_projects_list {
	struct api_call call;
	int64_t limit;
};

/* Append the latest of the newline-separated versions as a JSON string (or null). */
static void api_projects__append_latest(struct buf *b, const PGresult *r, int row, int col)
{
	struct api_rel rels[20];
	const struct api_rel *best;
	char *copy, *save = NULL;
	size_t n = 0;

	if (PQgetisnull(r, row, col)) {
		buf_puts(b, "null");
		return;
	}
	copy = xstrdup(PQgetvalue(r, row, col));
	for (char *v = strtok_r(copy, "\n", &save); v && n < 20; v = strtok_r(NULL, "\n", &save))
		api_projects__rel_set(&rels[n++], 0, v, 0);
	qsort(rels, n, sizeof(rels[0]), api_projects__rel_cmp);
	best = api_projects__latest(rels, n);
	if (best)
		json_append_str(b, best->version);
	else
		buf_puts(b, "null");
	free(copy);
}

static void api_projects__list_done(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "name", API_STR }, { "normalized", API_STR }, { "releases", API_INT },
		{ "artifacts", API_INT }, { "updated_at", API_STR },
	};
	struct api_projects_list *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int n = PQntuples(r);
	int shown = n > st->limit ? (int)st->limit : n;

	api_list_begin(&b, "projects");
	for (int i = 0; i < shown; i++) {
		int col;

		buf_puts(&b, i ? ",{" : "{");
		col = api_json_fields(&b, r, i, 0, f, sizeof(f) / sizeof(f[0]));
		api_json_key(&b, "latest_version");
		api_projects__append_latest(&b, r, i, col);
		buf_putc(&b, '}');
	}
	api_list_end(&b, n > shown ? PQgetvalue(r, shown - 1, 1) : NULL);
	api_respond(req, &b);
}

void api_projects_handle_list(struct http_req *req)
{
	char q[256], term[256], cursor[256], prefix[260], sub[260], lim[24];
	const char *params[5];
	struct api_projects_list *st;
	int64_t limit;
	int in_sub = 0;

	if (api_arg_str(req, "q", q, sizeof(q)) ||
	    api_arg_int(req, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT, &limit) ||
	    api_arg_str(req, "cursor", cursor, sizeof(cursor)))
		return;
	if (api_search_term(q, term, sizeof(term))) {
		/* A byte no project name has: nothing can match. */
		struct buf b = BUF_INIT(BUF_NOLIMIT);
		api_list_begin(&b, "projects");
		api_list_end(&b, NULL);
		api_respond(req, &b);
		return;
	}
	/* term holds only [a-z0-9-], so it needs no LIKE escaping. */
	snprintf(prefix, sizeof(prefix), "%s%%", term);
	snprintf(sub, sizeof(sub), "%%%s%%", term);
	snprintf(lim, sizeof(lim), "%lld", (long long)limit + 1);
	/* Names in the prefix group start with the term; a cursor that does not is past it. */
	if (*term && *cursor)
		in_sub = strncmp(cursor, term, strlen(term)) != 0;
	params[0] = prefix;
	params[1] = in_sub ? NULL : cursor;
	params[2] = *term ? sub : NULL;
	params[3] = in_sub ? cursor : "";
	params[4] = lim;
	st = api_call_new(req, sizeof(*st));
	st->limit = limit;
	api_query(req, api_projects__sql_list, 5, params, api_projects__list_done);
}

/* ---- GET /api/v1/projects/{name} ---- */

/* $1 normalized name, $2 most releases to consider (+1 to see truncation). */
static const char api_projects__sql_detail[] =
	"with p as ("
	" select p.id, p.name, p.normalized, p.created_at, p.updated_at, p.deleted_at,"
	" (select count(*) from releases r where r.project_id = p.id and r.deleted_at is null)"
	"  as releases,"
	" (select count(*) from artifacts a join releases r on r.id = a.release_id"
	"  where a.project_id = p.id and a.published_at is not null and r.deleted_at is null)"
	"  as artifacts"
	" from projects p where p.normalized = $1 and p.deleted_at is null)"
	" select p.name, p.normalized, " API_TS("p.created_at") ", " API_TS("p.updated_at") ","
	" " API_TS("p.deleted_at") ", p.releases, p.artifacts,"
	" (select coalesce(json_agg(json_build_object('package', n.package, 'source', n.source,"
	"  'build_id', n.build_id, 'created_at', " API_TS("n.created_at") ")"
	"  order by n.package collate \"C\"), '[]') from project_native_packages n"
	"  where n.project_id = p.id),"
	/* what the published wheels need from the system, all releases together */
	" (select coalesce(json_agg(x.pkg order by x.pkg collate \"C\"), '[]') from"
	"  (select distinct unnest(a.runtime_packages) as pkg from artifacts a"
	"  where a.project_id = p.id and a.published_at is not null) x),"
	" r.id, r.version, r.yanked"
	" from p left join lateral (select r.id, r.version, r.yanked from releases r"
	"  where r.project_id = p.id and r.deleted_at is null"
	"  order by coalesce(r.uploaded_at, r.created_at) desc, r.id desc limit $2::int) r on true";

/*
 * $1 the page's release ids as an array literal, $2 the online window in
 * seconds (queue_online_window). Row 0 carries the targets.
 */
static const char api_projects__sql_page[] =
	"with " API_PROJECTS_TARGETS("$2") ","
	" rel as (select r.id, r.version, r.version_normalized, r.yanked, r.yanked_reason,"
	"  r.created_at, r.uploaded_at, row_number() over (order by r.id) as rn"
	"  from releases r where r.id = any($1::bigint[]))"
	" select case when rel.rn is null or rel.rn = 1 then " API_PROJECTS_TARGETS_JSON " end,"
	" rel.id, rel.version, rel.version_normalized, rel.yanked, rel.yanked_reason,"
	" " API_TS("rel.created_at") ", " API_TS("rel.uploaded_at") ","
	" " API_PROJECTS_CELLS("rel.id") ","
	" " API_PROJECTS_ARTIFACTS("rel.id")
	" from (select 1) one left join rel on true";

static const struct api_field api_projects__release_fields[] = {
	{ "version", API_STR }, { "version_normalized", API_STR }, { "yanked", API_BOOL },
	{ "yanked_reason", API_STR }, { "created_at", API_STR }, { "uploaded_at", API_STR },
	{ "cells", API_JSON }, { "artifacts", API_JSON },
};

struct api_projects_detail {
	struct api_call call;
	int64_t limit;
	char cursor[256];
	struct buf head;     /* the project's fields, without the closing brace */
	int64_t *page;       /* ids of the releases on this page, in order */
	size_t npage;
	char *next_cursor;
};

static void api_projects__detail_release(struct api_call *c)
{
	struct api_projects_detail *st = (struct api_projects_detail *)c;

	buf_release(&st->head);
	free(st->page);
	free(st->next_cursor);
}

static void api_projects__page_done(struct http_req *req, PGresult *r)
{
	struct api_projects_detail *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int n = PQntuples(r);
	size_t shown = 0;

	buf_append(&b, st->head.ptr, st->head.len);
	api_json_key(&b, "targets");
	if (n > 0)
		api_json_value(&b, r, 0, 0, API_JSON);
	else
		buf_puts(&b, "[]");
	api_json_key(&b, "releases");
	buf_putc(&b, '[');
	/* Rows come in id order; the page's order is PEP 440's. Pages are small. */
	for (size_t i = 0; i < st->npage; i++) {
		for (int row = 0; row < n; row++) {
			if (PQgetisnull(r, row, 1) ||
			    strtoll(PQgetvalue(r, row, 1), NULL, 10) != st->page[i])
				continue;
			buf_puts(&b, shown++ ? ",{" : "{");
			api_json_fields(&b, r, row, 2, api_projects__release_fields,
					sizeof(api_projects__release_fields) /
						sizeof(api_projects__release_fields[0]));
			buf_putc(&b, '}');
			break;
		}
	}
	buf_putc(&b, ']');
	api_json_key(&b, "next_cursor");
	if (st->next_cursor)
		json_append_str(&b, st->next_cursor);
	else
		buf_puts(&b, "null");
	buf_putc(&b, '}');
	api_respond(req, &b);
}

static void api_projects__detail_done(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "name", API_STR }, { "normalized", API_STR }, { "created_at", API_STR },
		{ "updated_at", API_STR }, { "deleted_at", API_STR }, { "releases_total", API_INT },
		{ "artifacts", API_INT }, { "native_packages", API_JSON },
		{ "runtime_packages", API_JSON },
	};
	struct api_projects_detail *st = req->state;
	int n = PQntuples(r);
	struct api_rel *rels, key;
	const struct api_rel *latest;
	struct buf ids = BUF_INIT(BUF_NOLIMIT);
	const char *params[2];
	char window[24];
	size_t nrel = 0, start = 0, end;
	int truncated;

	if (n == 0) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	rels = xcalloc((size_t)n, sizeof(*rels));
	for (int i = 0; i < n; i++)
		if (!PQgetisnull(r, i, 9))
			api_projects__rel_set(&rels[nrel++], strtoll(PQgetvalue(r, i, 9), NULL, 10),
					      PQgetvalue(r, i, 10), api_bool(r, i, 11));
	truncated = nrel > API_PROJECT_RELEASES_MAX;
	if (truncated)
		nrel = API_PROJECT_RELEASES_MAX;
	qsort(rels, nrel, sizeof(*rels), api_projects__rel_cmp);
	latest = api_projects__latest(rels, nrel);

	buf_putc(&st->head, '{');
	api_json_fields(&st->head, r, 0, 0, f, sizeof(f) / sizeof(f[0]));
	api_json_key(&st->head, "latest_version");
	if (latest)
		json_append_str(&st->head, latest->version);
	else
		buf_puts(&st->head, "null");
	api_json_key(&st->head, "releases_truncated");
	buf_puts(&st->head, truncated ? "true" : "false");

	if (*st->cursor) {
		/* Resume after the cursor's place in the order, even if it is gone now. */
		api_projects__rel_set(&key, 0, st->cursor, 0);
		while (start < nrel && api_projects__rel_cmp(&rels[start], &key) <= 0)
			start++;
	}
	end = start + (size_t)st->limit < nrel ? start + (size_t)st->limit : nrel;
	st->npage = end - start;
	st->page = xcalloc(st->npage ? st->npage : 1, sizeof(*st->page));
	buf_putc(&ids, '{');
	for (size_t i = start; i < end; i++) {
		st->page[i - start] = rels[i].id;
		buf_printf(&ids, "%s%lld", i > start ? "," : "", (long long)rels[i].id);
	}
	buf_putc(&ids, '}');
	if (end < nrel)
		st->next_cursor = xstrdup(rels[end - 1].version);
	free(rels);
	params[0] = ids.ptr;
	params[1] = api_projects__window(req, window);
	api_query(req, api_projects__sql_page, 2, params, api_projects__page_done);
	buf_release(&ids);
}

void api_projects_handle_detail(struct http_req *req)
{
	char name[256], lim[24];
	const char *params[2];
	struct api_projects_detail *st;
	int64_t limit;

	if (api_path_project(req, 0, name, sizeof(name)) ||
	    api_arg_int(req, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT, &limit))
		return;
	st = api_call_new(req, sizeof(*st));
	st->call.release = api_projects__detail_release;
	buf_init(&st->head, BUF_NOLIMIT);
	st->limit = limit;
	if (api_arg_str(req, "cursor", st->cursor, sizeof(st->cursor)))
		return;
	snprintf(lim, sizeof(lim), "%d", API_PROJECT_RELEASES_MAX + 1);
	params[0] = name;
	params[1] = lim;
	api_query(req, api_projects__sql_detail, 2, params, api_projects__detail_done);
}

/* ---- GET /api/v1/projects/{name}/releases/{version} ---- */

/*
 * $1 normalized name, $2 the version's PEP 440 normalized form (or the text as
 * given when it is not PEP 440), $3 the version as given, $4 the online window
 * in seconds (queue_online_window). One row when the project exists; release
 * columns are NULL when the release does not.
 */
static const char api_projects__sql_release[] =
	"with p as (select id, name, normalized from projects where normalized = $1"
	"  and deleted_at is null),"
	" " API_PROJECTS_TARGETS("$4") ","
	" rel as (select r.id, r.version, r.version_normalized, r.yanked, r.yanked_reason,"
	"  r.created_at, r.uploaded_at, r.git_tag, r.git_commit from releases r"
	"  where r.project_id = (select id from p) and r.deleted_at is null"
	"  and (r.version_normalized = $2 or r.version = $3)"
	"  order by (r.version_normalized = $2) desc limit 1)"
	" select p.name, p.normalized, rel.version, rel.version_normalized, rel.yanked,"
	" rel.yanked_reason, " API_TS("rel.created_at") ", " API_TS("rel.uploaded_at") ","
	" rel.git_tag, rel.git_commit,"
	" " API_PROJECTS_TARGETS_JSON ","
	" " API_PROJECTS_CELLS("rel.id") ","
	" " API_PROJECTS_ARTIFACTS("rel.id") ","
	" " API_PROJECTS_JOBS("rel.id") ","
	" rel.id"
	" from p left join rel on true";

static void api_projects__release_done(struct http_req *req, PGresult *r)
{
	static const struct api_field project[] = {
		{ "name", API_STR }, { "normalized", API_STR },
	};
	static const struct api_field f[] = {
		{ "version", API_STR }, { "version_normalized", API_STR }, { "yanked", API_BOOL },
		{ "yanked_reason", API_STR }, { "created_at", API_STR }, { "uploaded_at", API_STR },
		{ "git_tag", API_STR }, { "git_commit", API_STR }, { "targets", API_JSON },
		{ "cells", API_JSON },
		{ "artifacts", API_JSON }, { "jobs", API_JSON },
	};
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	if (PQntuples(r) == 0) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	if (PQgetisnull(r, 0, 14)) {
		http_error(req, 404, KERR_NOTFOUND, "project '%s' has no release '%s'",
			   req->params[0], req->params[1]);
		return;
	}
	buf_puts(&b, "{\"project\":{");
	api_json_fields(&b, r, 0, 0, project, 2);
	buf_putc(&b, '}');
	api_json_fields(&b, r, 0, 2, f, sizeof(f) / sizeof(f[0]));
	buf_putc(&b, '}');
	api_respond(req, &b);
}

void api_projects_handle_release(struct http_req *req)
{
	char name[256], window[24];
	struct pyversion v;
	struct buf norm = BUF_INIT(512);
	const char *params[4];

	if (api_path_project(req, 0, name, sizeof(name)))
		return;
	if (pyversion_parse_str(&v, req->params[1], NULL) || pyversion_normalize(&v, &norm))
		buf_puts(&norm, req->params[1]);
	params[0] = name;
	params[1] = norm.ptr;
	params[2] = req->params[1];
	params[3] = api_projects__window(req, window);
	api_query(req, api_projects__sql_release, 4, params, api_projects__release_done);
	buf_release(&norm);
}
