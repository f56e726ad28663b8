/* api_builds: build list and detail, artifact detail (contract in api_builds.h). */
#include "backend/api_builds.h"

#include "backend/api.h"
#include "backend/provenance.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/json.h"
#include "common/pyname.h"
#include "common/queue_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GET /api/v1/builds ---- */

/*
 * $1 state, $2 normalized project, $3 target, $4 builder (each NULL = any),
 * $5 cursor id (NULL = from the newest), $6 page size + 1, $7 failure class
 * (NULL = any), $8 job kind (build or check; NULL = any). A NULL filter folds
 * away when Postgres plans the statement with its parameters.
 */
static const char api_builds__sql_list[] =
	"select b.id, b.job_id, b.attempt, b.state, b.phase, b.exit_code, b.failure_reason,"
	" " API_TS("b.started_at") ", " API_TS("b.finished_at") ", b.duration_ms,"
	" r.version, t.name, bu.name, b.failure_class, j.kind, p.name, p.normalized"
	" from builds b"
	" join jobs j on j.id = b.job_id"
	" join releases r on r.id = j.release_id"
	" join projects p on p.id = r.project_id"
	" join targets t on t.id = j.target_id"
	" left join builders bu on bu.id = b.builder_id"
	" where ($1::text is null or b.state = $1)"
	" and ($2::text is null or p.normalized = $2)"
	" and ($3::text is null or t.name = $3)"
	" and ($4::text is null or bu.name = $4)"
	" and ($5::bigint is null or b.id < $5::bigint)"
	" and ($7::text is null or b.failure_class = $7)"
	" and ($8::text is null or j.kind = $8)"
	" order by b.id desc limit $6::int";

static const struct api_field api_builds__list_fields[] = {
	{ "id", API_INT }, { "job_id", API_INT }, { "attempt", API_INT }, { "state", API_STR },
	{ "phase", API_STR }, { "exit_code", API_INT }, { "failure_reason", API_STR },
	{ "started_at", API_STR }, { "finished_at", API_STR }, { "duration_ms", API_INT },
	{ "version", API_STR }, { "target", API_STR }, { "builder", API_STR },
	{ "failure_class", API_STR }, { "kind", API_STR },
};

static const struct api_field api_builds__project_fields[] = {
	{ "name", API_STR }, { "normalized", API_STR },
};

struct api_builds_list {
	struct api_call call;
	int64_t limit;
};

static void api_builds__list_done(struct http_req *req, PGresult *r)
{
	struct api_builds_list *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int n = PQntuples(r);
	int shown = n > st->limit ? (int)st->limit : n;
	size_t nf = sizeof(api_builds__list_fields) / sizeof(api_builds__list_fields[0]);

	api_list_begin(&b, "builds");
	for (int i = 0; i < shown; i++) {
		int col;

		buf_puts(&b, i ? ",{" : "{");
		col = api_json_fields(&b, r, i, 0, api_builds__list_fields, nf);
		api_json_key(&b, "project");
		buf_putc(&b, '{');
		api_json_fields(&b, r, i, col, api_builds__project_fields, 2);
		buf_puts(&b, "}}");
	}
	api_list_end(&b, n > shown ? PQgetvalue(r, shown - 1, 0) : NULL);
	api_respond(req, &b);
}

void api_builds_handle_list(struct http_req *req)
{
	static const char *const states[] = { "running", "succeeded", "failed", "cancelled",
					      "lost", NULL };
	static const char *const kinds[] = { "build", "check", NULL };
	char state[16], project[256], target[256], builder[256], cursor[24], lim[24], cls[32];
	char kind[8];
	struct buf norm = BUF_INIT(255);
	struct api_builds_list *st;
	const char *params[8];
	int64_t limit, after;

	if (api_arg_choice(req, "state", states, state, sizeof(state)) ||
	    api_arg_choice(req, "class", queue_failure_classes, cls, sizeof(cls)) ||
	    api_arg_choice(req, "kind", kinds, kind, sizeof(kind)) ||
	    api_arg_str(req, "project", project, sizeof(project)) ||
	    api_arg_str(req, "target", target, sizeof(target)) ||
	    api_arg_str(req, "builder", builder, sizeof(builder)) ||
	    api_arg_int(req, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT, &limit) ||
	    api_arg_int(req, "cursor", 1, INT64_MAX, 0, &after))
		goto out;
	if (*project && pyname_normalize(project, strlen(project), &norm, NULL)) {
		http_error(req, 400, KERR_INVAL, "'%s' is not a valid project name", project);
		goto out;
	}
	snprintf(cursor, sizeof(cursor), "%lld", (long long)after);
	snprintf(lim, sizeof(lim), "%lld", (long long)limit + 1);
	params[0] = *state ? state : NULL;
	params[1] = *project ? norm.ptr : NULL;
	params[2] = *target ? target : NULL;
	params[3] = *builder ? builder : NULL;
	params[4] = after ? cursor : NULL;
	params[5] = lim;
	params[6] = *cls ? cls : NULL;
	params[7] = *kind ? kind : NULL;
	st = api_call_new(req, sizeof(*st));
	st->limit = limit;
	api_query(req, api_builds__sql_list, 8, params, api_builds__list_done);
out:
	buf_release(&norm);
}

/* ---- GET /api/v1/builds/{id} ---- */

/*
 * Reproducibility (docs/builds.md, migrations/0016_repro.sql), for job j: its
 * kind; for a check, what it checks (the checked job and that job's latest
 * build); for a build, the latest result of its checks, with the check's
 * latest build and both builders' names, and whether a check of it is queued
 * or running now.
 */
#define API_BUILDS_REPRO_SQL \
	" j.kind," \
	" case when j.kind = 'check' then json_build_object('build', (select ob.id from builds ob" \
	"  where ob.job_id = j.check_of order by ob.attempt desc limit 1), 'job', j.check_of) end," \
	" case when j.kind = 'build' then (select json_build_object('result', rr.result," \
	"  'check_job', rr.job_id, 'check_build', (select cb.id from builds cb" \
	"   where cb.job_id = rr.job_id order by cb.attempt desc limit 1)," \
	"  'builder', rb.name, 'original_builder', ob.name," \
	"  'decided_at', " API_TS("rr.decided_at") ", 'wheels', rr.detail)" \
	"  from repro_results rr left join builders rb on rb.id = rr.builder_id" \
	"  left join builders ob on ob.id = rr.original_builder_id" \
	"  where rr.of_job_id = j.id order by rr.decided_at desc, rr.job_id desc limit 1) end," \
	" j.kind = 'build' and exists (select 1 from jobs k where k.check_of = j.id" \
	"  and k.state in ('queued', 'assigned', 'running'))"

static const struct api_field api_builds__repro_fields[] = {
	{ "kind", API_STR }, { "check_of", API_JSON }, { "reproducibility", API_JSON },
	{ "reproducibility_pending", API_BOOL },
};

static const char api_builds__sql_detail[] =
	"select b.id, b.attempt, b.state, b.phase, b.exit_code, b.failure_reason,"
	" " API_TS("b.started_at") ", " API_TS("b.finished_at") ", b.duration_ms,"
	/* a finished log's size, else what the live chunks hold so far */
	" coalesce(b.log_size, (select sum(length(c.data))::bigint from build_log_chunks c"
	"  where c.build_id = b.id)),"
	" b.log_key is not null, bu.name, b.failure_class,"
	/* missing entries in their order, as stored (checked by builder_msg) */
	" coalesce(b.missing, '[]'::jsonb)::text, " QUEUE_FIX_SQL("b", "p.normalized") ","
	" array_to_json(b.native_packages)::text,"
	/* what the automatic retry added to the project because of this build */
	" (select coalesce(json_agg(n.package order by n.package collate \"C\"), '[]')"
	"  from project_native_packages n where n.build_id = b.id),"
	" j.id, j.state, j.priority, j.attempts, j.max_attempts, j.failure_reason,"
	" " API_TS("j.created_at") ", " API_TS("j.assigned_at") ", " API_TS("j.started_at") ","
	" " API_TS("j.finished_at") ","
	" case when j.state = 'queued' and t.enabled and not exists (select 1 from "
	QUEUE_SERVING_SQL("t.arch", "$2") ") then t.arch || ' builder' end,"
	" p.name, p.normalized,"
	" r.version, r.version_normalized,"
	" t.name, t.python_tag, t.python_version, t.platform, t.arch, t.suite, t.glibc,"
	" (select coalesce(json_agg(json_build_object('id', a.id, 'filename', a.filename,"
	"  'url', '/files/' || p.normalized || '/' || a.filename, 'size', a.size,"
	"  'sha256', a.sha256, 'uploaded_at', " API_TS("a.created_at") ","
	"  'published_at', " API_TS("a.published_at") ", 'policy', a.policy,"
	"  'runtime_packages', a.runtime_packages,"
	/* signed provenance: a published wheel's, when the farm has a key (provenance.h) */
	"  'provenance', case when $3::boolean and a.published_at is not null then '/integrity/'"
	"  || p.normalized || '/' || r.version || '/' || a.filename || '/provenance' end)"
	"  order by a.filename),"
	"  '[]') from (select id, filename, size, sha256, created_at, published_at, policy,"
	"  runtime_packages from artifacts"
	"  where build_id = b.id order by filename limit 100) a),"
	/* How it ran, as its builder reported it (migration 0017); null from an older builder. */
	" case when coalesce(b.image_id, b.command::text, b.build_requirements::text) is not null"
	"  then json_build_object('image_id', b.image_id, 'image_base', b.image_base,"
	"  'image_name', b.image_name, 'command', b.command, 'environment', b.build_environment,"
	"  'build_requirements', jsonb_array_length(b.build_requirements))::text end,"
	API_BUILDS_REPRO_SQL
	" from builds b"
	" join jobs j on j.id = b.job_id"
	" join releases r on r.id = j.release_id"
	" join projects p on p.id = r.project_id"
	" join targets t on t.id = j.target_id"
	" left join builders bu on bu.id = b.builder_id"
	" where b.id = $1";

static void api_builds__detail_done(struct http_req *req, PGresult *r)
{
	static const struct api_field build[] = {
		{ "id", API_INT }, { "attempt", API_INT }, { "state", API_STR },
		{ "phase", API_STR }, { "exit_code", API_INT }, { "failure_reason", API_STR },
		{ "started_at", API_STR }, { "finished_at", API_STR }, { "duration_ms", API_INT },
		{ "log_size", API_INT }, { "log_archived", API_BOOL }, { "builder", API_STR },
		{ "failure_class", API_STR }, { "missing", API_JSON }, { "fix", API_STR },
		{ "native_packages", API_JSON }, { "auto_added", API_JSON },
	};
	static const struct api_field job[] = {
		{ "id", API_INT }, { "state", API_STR }, { "priority", API_INT },
		{ "attempts", API_INT }, { "max_attempts", API_INT }, { "failure_reason", API_STR },
		{ "created_at", API_STR }, { "assigned_at", API_STR }, { "started_at", API_STR },
		{ "finished_at", API_STR }, { "waiting_for", API_STR },
	};
	static const struct api_field release[] = {
		{ "version", API_STR }, { "version_normalized", API_STR },
	};
	static const struct api_field target[] = {
		{ "name", API_STR }, { "python_tag", API_STR }, { "python_version", API_STR },
		{ "platform", API_STR }, { "arch", API_STR }, { "suite", API_STR },
		{ "glibc", API_STR },
	};
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int col;

	if (PQntuples(r) == 0) {
		http_error(req, 404, KERR_NOTFOUND, "no build %s", req->params[0]);
		return;
	}
	buf_putc(&b, '{');
	col = api_json_fields(&b, r, 0, 0, build, sizeof(build) / sizeof(build[0]));
	buf_puts(&b, ",\"job\":{");
	col = api_json_fields(&b, r, 0, col, job, sizeof(job) / sizeof(job[0]));
	buf_puts(&b, "},\"project\":{");
	col = api_json_fields(&b, r, 0, col, api_builds__project_fields, 2);
	buf_puts(&b, "},\"release\":{");
	col = api_json_fields(&b, r, 0, col, release, sizeof(release) / sizeof(release[0]));
	buf_puts(&b, "},\"target\":{");
	col = api_json_fields(&b, r, 0, col, target, sizeof(target) / sizeof(target[0]));
	buf_puts(&b, "},\"artifacts\":");
	api_json_value(&b, r, 0, col++, API_JSON);
	buf_puts(&b, ",\"built_with\":");
	api_json_value(&b, r, 0, col++, API_JSON);
	api_json_fields(&b, r, 0, col, api_builds__repro_fields,
			sizeof(api_builds__repro_fields) / sizeof(api_builds__repro_fields[0]));
	buf_putc(&b, '}');
	api_respond(req, &b);
}

void api_builds_handle_detail(struct http_req *req)
{
	char id[24], window[24];
	int64_t v;
	const char *params[3] = { id, window, provenance_enabled(req->srv) ? "true" : "false" };

	if (api_path_id(req, 0, "build", &v, id))
		return;
	snprintf(window, sizeof(window), "%d",
		 queue_online_window(config_get_int(req->srv->cfg, CONFIG_LEASE_SECONDS)));
	api_query(req, api_builds__sql_detail, 3, params, api_builds__detail_done);
}

/* ---- GET /api/v1/artifacts/{id} ---- */

static const char api_builds__sql_artifact[] =
	"select a.id, a.filename, '/files/' || p.normalized || '/' || a.filename,"
	" '/files/' || p.normalized || '/' || a.filename || '.metadata',"
	" a.size, a.sha256, a.metadata_sha256,"
	" to_json(a.python_tags), to_json(a.abi_tags), to_json(a.platform_tags),"
	/* the expanded tag set, as installers match it */
	" (select coalesce(json_agg(x || '-' || y || '-' || z), '[]') from unnest(a.python_tags) x,"
	"  unnest(a.abi_tags) y, unnest(a.platform_tags) z),"
	" a.build_tag, a.requires_python, a.yanked, a.yanked_reason,"
	" " API_TS("a.created_at") ", " API_TS("a.published_at") ","
	" (select coalesce(sum(dc.count), 0)::bigint from download_counts dc"
	"  where dc.artifact_id = a.id),"
	" a.job_id, a.build_id, t.name, a.policy, array_to_json(a.runtime_packages),"
	" p.name, p.normalized, r.version, r.version_normalized"
	" from artifacts a"
	" join projects p on p.id = a.project_id"
	" join releases r on r.id = a.release_id"
	" left join jobs j on j.id = a.job_id"
	" left join targets t on t.id = j.target_id"
	" where a.id = $1";

static void api_builds__artifact_done(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "id", API_INT }, { "filename", API_STR }, { "url", API_STR },
		{ "metadata_url", API_STR }, { "size", API_INT }, { "sha256", API_STR },
		{ "metadata_sha256", API_STR }, { "python_tags", API_JSON },
		{ "abi_tags", API_JSON }, { "platform_tags", API_JSON }, { "tags", API_JSON },
		{ "build_tag", API_STR }, { "requires_python", API_STR }, { "yanked", API_BOOL },
		{ "yanked_reason", API_STR }, { "uploaded_at", API_STR },
		{ "published_at", API_STR }, { "downloads", API_INT },
		{ "job_id", API_INT }, { "build_id", API_INT }, { "target", API_STR },
		{ "policy", API_STR }, { "runtime_packages", API_JSON },
	};
	static const struct api_field release[] = {
		{ "version", API_STR }, { "version_normalized", API_STR },
	};
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int col;

	if (PQntuples(r) == 0) {
		http_error(req, 404, KERR_NOTFOUND, "no artifact %s", req->params[0]);
		return;
	}
	buf_putc(&b, '{');
	col = api_json_fields(&b, r, 0, 0, f, sizeof(f) / sizeof(f[0]));
	buf_puts(&b, ",\"project\":{");
	col = api_json_fields(&b, r, 0, col, api_builds__project_fields, 2);
	buf_puts(&b, "},\"release\":{");
	api_json_fields(&b, r, 0, col, release, sizeof(release) / sizeof(release[0]));
	buf_puts(&b, "}}");
	api_respond(req, &b);
}

void api_builds_handle_artifact(struct http_req *req)
{
	char id[24];
	int64_t v;
	const char *params[1] = { id };

	if (api_path_id(req, 0, "artifact", &v, id))
		return;
	api_query(req, api_builds__sql_artifact, 1, params, api_builds__artifact_done);
}
