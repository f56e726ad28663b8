/*
 * plan: release_plans and jobs for new releases. The contract is in plan.h.
 */
#include "registry-sync/plan.h"

#include "common/db.h"
#include "common/log.h"
#include "common/pyversion.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum plan_scope { SCOPE_ALLOW, SCOPE_DENY, SCOPE_ALWAYS_SOURCE };

/*
 * The project's releases that could be built (live, unyanked, with an sdist or
 * a git commit), with whether they were published on or after $2 (a date, or
 * NULL: all are). Ranked newest first in C, by PEP 440 order.
 */
static const char *const sql_releases =
	"select r.id, r.version, ($2::date is null or coalesce((select min(f.upload_time)"
	"  from upstream_files f where f.release_id = r.id and f.deleted_at is null),"
	"  r.created_at) >= $2::date)::text"
	" from releases r where r.project_id = $1::bigint and r.deleted_at is null and not r.yanked"
	"  and (r.git_commit is not null or exists (select 1 from upstream_files s"
	"   where s.release_id = r.id and s.kind = 'sdist' and s.deleted_at is null))";

/* Undecided (release, target) pairs of a project, with the release's wheel names. */
static const char *const sql_pending =
	"select r.id, t.id, t.python_tag, t.platform, r.version,"
	"  coalesce((select string_agg(w.filename, '/') from upstream_files w"
	"   where w.release_id = r.id and w.kind = 'wheel' and w.deleted_at is null), ''),"
	"  coalesce((select string_agg(a.filename, '/') from artifacts a"
	"   where a.release_id = r.id and not a.yanked), ''), coalesce(t.glibc, '')"
	" from releases r cross join targets t"
	" where r.project_id = $1::bigint and t.enabled and r.deleted_at is null and not r.yanked"
	"  and (r.git_commit is not null or exists (select 1 from upstream_files s"
	"   where s.release_id = r.id and s.kind = 'sdist' and s.deleted_at is null))"
	"  and not exists (select 1 from release_plans p"
	"   where p.release_id = r.id and p.target_id = t.id)"
	" order by r.id, t.id";

static const char *const sql_job =
	"insert into jobs (release_id, target_id, priority) values ($1::bigint, $2::bigint, $3::int)"
	/* jobs_one_active is per kind since migration 0016 (a check may be live beside a build) */
	" on conflict (release_id, target_id, kind) where state in ('queued', 'assigned', 'running')"
	" do nothing";

static const char *const sql_decide =
	"insert into release_plans (release_id, target_id, decision, reason)"
	" values ($1::bigint, $2::bigint, $3, $4) on conflict do nothing";

/* One release that could be built, for ranking. */
struct plan_rel {
	long long id;
	struct pyversion v;
	int parsed;
	int since_ok; /* published on or after the policy's date (or no date) */
	int rank;     /* 1: the newest */
};

/* Newest first: PEP 440 order, versions that do not parse last, then the newer id. */
static int plan__rel_cmp(const void *pa, const void *pb)
{
	const struct plan_rel *a = pa, *b = pb;
	int c;

	if (a->parsed != b->parsed)
		return b->parsed - a->parsed;
	if (a->parsed && (c = pyversion_cmp(&b->v, &a->v)))
		return c;
	return a->id < b->id ? 1 : a->id > b->id ? -1 : 0;
}

/*
 * The first scope rule whose glob matches the project's normalized name
 * (allow, versions 'all' if none): its action and version policy.
 */
static int scope(PGconn *c, const char *spid, enum plan_scope *out, char *versions, size_t vn,
	struct kerr *e)
{
	const char *pp[] = { spid };
	PGresult *r = NULL;
	int rc;

	*out = SCOPE_ALLOW;
	snprintf(versions, vn, "all");
	if ((rc = db_query(c, "select s.pattern, s.action, p.normalized, s.versions from scope_rules s,"
			" projects p where p.id = $1::bigint order by s.position", 1, pp, &r, e)))
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		if (fnmatch(PQgetvalue(r, i, 0), PQgetvalue(r, i, 2), 0))
			continue;
		const char *a = PQgetvalue(r, i, 1);
		*out = !strcmp(a, "deny") ? SCOPE_DENY :
			!strcmp(a, "always_source") ? SCOPE_ALWAYS_SOURCE : SCOPE_ALLOW;
		snprintf(versions, vn, "%s", PQgetvalue(r, i, 3));
		break;
	}
	PQclear(r);
	return 0;
}

/* The project's buildable releases, ranked; *out owned by the caller (free). */
static int plan__ranked(PGconn *c, const char *spid, const char *since, struct plan_rel **out,
	int *n, struct kerr *e)
{
	const char *pp[] = { spid, since };
	PGresult *r = NULL;
	struct plan_rel *rel;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_query(c, sql_releases, 2, pp, &r, e)))
		return rc;
	rel = xcalloc((size_t)PQntuples(r) + 1, sizeof(*rel));
	for (int i = 0; i < PQntuples(r); i++) {
		rel[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		rel[i].parsed = !pyversion_parse_str(&rel[i].v, PQgetvalue(r, i, 1), NULL);
		rel[i].since_ok = PQgetvalue(r, i, 2)[0] == 't';
	}
	*n = PQntuples(r);
	PQclear(r);
	qsort(rel, (size_t)*n, sizeof(*rel), plan__rel_cmp);
	for (int i = 0; i < *n; i++)
		rel[i].rank = i + 1;
	*out = rel;
	return 0;
}

static const struct plan_rel *plan__find(const struct plan_rel *rel, int n, long long id)
{
	for (int i = 0; i < n; i++)
		if (rel[i].id == id)
			return &rel[i];
	return NULL;
}

/* A pending pair, with its release's rank, for ordering newest first. */
struct plan_row {
	int row;
	int rank;
};

static int plan__row_cmp(const void *pa, const void *pb)
{
	const struct plan_row *a = pa, *b = pb;
	return a->rank != b->rank ? a->rank - b->rank : a->row - b->row;
}

int plan_project(PGconn *c, int64_t project_id, int backfill, struct plan_stats *st,
	struct kerr *e)
{
	char spid[32], versions[64], prio[16];
	const char *pp[] = { spid };
	const char *since = NULL;
	PGresult *r = NULL;
	struct plan_rel *rel = NULL;
	struct plan_row *order = NULL;
	enum plan_scope sc;
	long newest = 0;
	int nrel = 0, rc;

	memset(st, 0, sizeof(*st));
	snprintf(spid, sizeof(spid), "%" PRId64, project_id);
	if ((rc = scope(c, spid, &sc, versions, sizeof(versions), e)))
		goto out;
	if (!strncmp(versions, "newest:", 7))
		newest = strtol(versions + 7, NULL, 10);
	else if (!strncmp(versions, "since:", 6))
		since = versions + 6;
	if ((rc = plan__ranked(c, spid, since, &rel, &nrel, e)))
		goto out;
	if ((rc = db_query(c, sql_pending, 1, pp, &r, e)))
		goto out;
	order = xcalloc((size_t)PQntuples(r) + 1, sizeof(*order));
	for (int i = 0; i < PQntuples(r); i++) {
		const struct plan_rel *pr = plan__find(rel, nrel, strtoll(PQgetvalue(r, i, 0), NULL, 10));
		order[i].row = i;
		order[i].rank = pr ? pr->rank : nrel + 1;
	}
	/* Newest first: a new farm's first jobs are each project's latest release. */
	qsort(order, (size_t)PQntuples(r), sizeof(*order), plan__row_cmp);
	for (int k = 0; k < PQntuples(r); k++) {
		int i = order[k].row;
		const char *rid = PQgetvalue(r, i, 0), *tid = PQgetvalue(r, i, 1);
		const char *pytag = PQgetvalue(r, i, 2), *plat = PQgetvalue(r, i, 3);
		const char *glibc = PQgetvalue(r, i, 7);
		const struct plan_rel *pr = plan__find(rel, nrel, strtoll(rid, NULL, 10));
		char kiln[WHEELNAME_MAX_LEN + 1], reason[WHEELNAME_MAX_LEN + 64];
		int skip = 1;

		snprintf(reason, sizeof(reason), "new release");
		if (sc == SCOPE_DENY)
			snprintf(reason, sizeof(reason), "denied by scope");
		/* Even "always from source" is served by a wheel Kiln built itself. */
		else if (wheelname_list_installs(PQgetvalue(r, i, 6), pytag, plat, glibc, 1, kiln,
				sizeof(kiln)))
			snprintf(reason, sizeof(reason), "covered by kiln wheel %s", kiln);
		else if (sc == SCOPE_ALLOW &&
			 wheelname_list_installs(PQgetvalue(r, i, 5), pytag, plat, glibc, 0, NULL, 0))
			snprintf(reason, sizeof(reason), "covered by upstream wheel");
		else if (!pr || (newest > 0 && pr->rank > newest) || !pr->since_ok)
			snprintf(reason, sizeof(reason), "outside version policy");
		else
			skip = 0;
		/*
		 * A project's newest release goes ahead of its history, and anything a
		 * new upstream release brings ahead of what a backfill plans.
		 */
		snprintf(prio, sizeof(prio), "%d",
			 (pr && pr->rank == 1 ? 0 : -1) - (backfill ? 1 : 0));
		const char *jp[] = { rid, tid, prio };
		const char *dp[] = { rid, tid, skip ? "skipped" : "planned", reason };

		if (!skip && (rc = db_command(c, sql_job, 3, jp, NULL, e)))
			goto out;
		if ((rc = db_command(c, sql_decide, 4, dp, NULL, e)))
			goto out;
		if (skip)
			st->skipped++;
		else
			st->planned++;
		log_debug("planned", "release_id=%s target_id=%s version=%s decision=%s reason=\"%s\"",
			rid, tid, PQgetvalue(r, i, 4), skip ? "skipped" : "planned", reason);
	}
out:
	PQclear(r);
	free(rel);
	free(order);
	return rc;
}

int plan_backlog_pass(PGconn *c, long limit, struct plan_stats *st, long *left, struct kerr *e)
{
	char lim[24];
	const char *lp[] = { lim };
	PGresult *r = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	*left = 0;
	snprintf(lim, sizeof(lim), "%ld", limit > 0 ? limit : 1);
	if ((rc = db_query(c, "select project_id, reason from plan_backlog"
			" order by requested_at desc, project_id limit $1::int", 1, lp, &r, e)))
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *pid = PQgetvalue(r, i, 0);
		const char *dp[] = { pid };
		struct plan_stats ps;
		struct kerr re;

		/* One transaction per project: a failure costs that project only. */
		if ((rc = db_exec(c, "begin", e)))
			break;
		if ((rc = plan_project(c, strtoll(pid, NULL, 10), 1, &ps, e)) ||
		    (rc = db_command(c, "delete from plan_backlog where project_id = $1::bigint", 1,
				dp, NULL, e)) ||
		    (rc = db_exec(c, "commit", e))) {
			db_exec(c, "rollback", &re);
			break;
		}
		st->planned += ps.planned;
		st->skipped += ps.skipped;
		st->projects++;
	}
	PQclear(r);
	if (rc)
		return rc;
	if ((rc = db_query(c, "select count(*) from plan_backlog", 0, NULL, &r, e)))
		return rc;
	*left = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (st->projects)
		log_info("backfill planned", "projects=%ld planned=%ld skipped=%ld left=%ld",
			st->projects, st->planned, st->skipped, *left);
	return 0;
}
