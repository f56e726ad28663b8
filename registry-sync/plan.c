/*
 * plan: release_plans and jobs for new releases. The contract is in plan.h.
 */
#include "registry-sync/plan.h"

#include "common/db.h"
#include "common/log.h"
#include "common/wheelname.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum plan_scope { SCOPE_ALLOW, SCOPE_DENY, SCOPE_ALWAYS_SOURCE };

/* Undecided (release, target) pairs of a project, with the release's wheel names. */
static const char *const sql_pending =
	"select r.id, t.id, t.python_tag, t.platform, r.version,"
	"  coalesce((select string_agg(w.filename, '/') from upstream_files w"
	"   where w.release_id = r.id and w.kind = 'wheel' and w.deleted_at is null), ''),"
	"  coalesce((select string_agg(a.filename, '/') from artifacts a"
	"   where a.release_id = r.id and not a.yanked), '')"
	" from releases r cross join targets t"
	" where r.project_id = $1::bigint and t.enabled and r.deleted_at is null and not r.yanked"
	"  and (r.git_commit is not null or exists (select 1 from upstream_files s"
	"   where s.release_id = r.id and s.kind = 'sdist' and s.deleted_at is null))"
	"  and not exists (select 1 from release_plans p"
	"   where p.release_id = r.id and p.target_id = t.id)"
	" order by r.id, t.id";

static const char *const sql_job =
	"insert into jobs (release_id, target_id) values ($1::bigint, $2::bigint)"
	" on conflict (release_id, target_id) where state in ('queued', 'assigned', 'running')"
	" do nothing";

static const char *const sql_decide =
	"insert into release_plans (release_id, target_id, decision, reason)"
	" values ($1::bigint, $2::bigint, $3, $4) on conflict do nothing";

/* Does one of the '/'-joined wheel names install on interpreter x platform? */
static int covered(const char *wheels, const char *interp, const char *platform)
{
	const char *p = wheels;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct wheelname w;

		if (!wheelname_parse(&w, p, n, NULL) && wheelname_matches(&w, interp, platform))
			return 1;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* The first scope rule whose glob matches the project's normalized name; allow if none. */
static int scope(PGconn *c, const char *spid, enum plan_scope *out, struct kerr *e)
{
	const char *pp[] = { spid };
	PGresult *r = NULL;
	int rc;

	*out = SCOPE_ALLOW;
	if ((rc = db_query(c, "select s.pattern, s.action, p.normalized from scope_rules s,"
			" projects p where p.id = $1::bigint order by s.position", 1, pp, &r, e)))
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		if (fnmatch(PQgetvalue(r, i, 0), PQgetvalue(r, i, 2), 0))
			continue;
		const char *a = PQgetvalue(r, i, 1);
		*out = !strcmp(a, "deny") ? SCOPE_DENY :
			!strcmp(a, "always_source") ? SCOPE_ALWAYS_SOURCE : SCOPE_ALLOW;
		break;
	}
	PQclear(r);
	return 0;
}

int plan_project(PGconn *c, int64_t project_id, struct plan_stats *st, struct kerr *e)
{
	char spid[32];
	const char *pp[] = { spid };
	PGresult *r = NULL;
	enum plan_scope sc;
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(spid, sizeof(spid), "%" PRId64, project_id);
	if ((rc = scope(c, spid, &sc, e)))
		return rc;
	if ((rc = db_query(c, sql_pending, 1, pp, &r, e)))
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *rid = PQgetvalue(r, i, 0), *tid = PQgetvalue(r, i, 1);
		const char *reason = "new release";
		int skip = 1;
		if (sc == SCOPE_DENY)
			reason = "denied by scope";
		/* Even "always from source" is served by a wheel Kiln built itself. */
		else if (covered(PQgetvalue(r, i, 6), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)))
			reason = "covered by kiln wheel";
		else if (sc == SCOPE_ALLOW &&
			 covered(PQgetvalue(r, i, 5), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)))
			reason = "covered by upstream wheel";
		else
			skip = 0;
		const char *jp[] = { rid, tid };
		const char *dp[] = { rid, tid, skip ? "skipped" : "planned", reason };

		if (!skip && (rc = db_command(c, sql_job, 2, jp, NULL, e)))
			break;
		if ((rc = db_command(c, sql_decide, 4, dp, NULL, e)))
			break;
		if (skip)
			st->skipped++;
		else
			st->planned++;
		log_debug("planned", "release_id=%s target_id=%s version=%s decision=%s", rid, tid,
			PQgetvalue(r, i, 4), skip ? "skipped" : "planned");
	}
	PQclear(r);
	return rc;
}
