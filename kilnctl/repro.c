/* repro: reproducibility checks for kilnctl (contract in repro.h). */
#include "kilnctl/repro.h"

#include "common/db.h"
#include "common/json.h"
#include "common/pyname.h"
#include "common/pyversion.h"
#include "common/queue_sql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPRO_LIMIT_MAX 10000

/* A timestamptz as "2026-01-02 03:04:05Z" for a table column. */
#define REPRO_TS(expr) "to_char((" expr ") at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"')"

/*
 * What `repro check` would check: $1 normalized project, $2 version in PEP 440
 * normalized form (or as given; NULL: every release), $3 version as given, $4
 * target name (NULL: every target). One row with the project's display name,
 * the releases and targets matched, and per release x target (NULL when none)
 * the latest succeeded build job that published wheels of its own, with its
 * latest build, in version and target order.
 */
static const char repro__sql_candidates[] =
	"with p as (select id, name from projects where normalized = $1 and deleted_at is null),"
	" r as (select r.id, r.version from releases r"
	"  where r.project_id = (select id from p) and r.deleted_at is null"
	"  and ($2::text is null or r.version_normalized = $2 or r.version = $3)),"
	" t as (select id, name from targets where $4::text is null or name = $4),"
	" c as (select distinct on (j.release_id, j.target_id) j.id as job, r.version,"
	"  t.name as target, (select b.id from builds b where b.job_id = j.id"
	"  order by b.attempt desc limit 1) as build"
	"  from jobs j join r on r.id = j.release_id join t on t.id = j.target_id"
	"  where j.kind = 'build' and j.state = 'succeeded'"
	"  and exists (select 1 from artifacts a where a.job_id = j.id and a.published_at is not null)"
	"  order by j.release_id, j.target_id, j.id desc)"
	" select (select name from p), (select count(*) from r), (select count(*) from t),"
	" c.job, c.version, c.target, c.build"
	" from (select 1) one left join c on true order by c.version, c.target";

enum repro__cand_col {
	REPRO_CAND_PROJECT, REPRO_CAND_RELEASES, REPRO_CAND_TARGETS, REPRO_CAND_JOB,
	REPRO_CAND_VERSION, REPRO_CAND_TARGET, REPRO_CAND_BUILD
};

/* $1 normalized project (NULL: any), $2 rows. Newest first. */
static const char repro__sql_list[] =
	"select p.normalized, r.version, t.name, rr.result, coalesce(cb.name, '-'),"
	" coalesce(ob.name, '-'), " REPRO_TS("rr.decided_at") ", rr.detail::text, rr.job_id"
	" from repro_results rr"
	" join jobs j on j.id = rr.of_job_id"
	" join releases r on r.id = j.release_id"
	" join projects p on p.id = r.project_id"
	" join targets t on t.id = j.target_id"
	" left join builders cb on cb.id = rr.builder_id"
	" left join builders ob on ob.id = rr.original_builder_id"
	" where ($1::text is null or p.normalized = $1)"
	" order by rr.decided_at desc, rr.job_id desc limit $2::int";

enum repro__list_col {
	REPRO_LIST_PROJECT, REPRO_LIST_VERSION, REPRO_LIST_TARGET, REPRO_LIST_RESULT,
	REPRO_LIST_BUILDER, REPRO_LIST_ORIGINAL, REPRO_LIST_DECIDED, REPRO_LIST_DETAIL,
	REPRO_LIST_CHECK
};

/*
 * Append s with control bytes as '?': member and file names come out of wheels
 * that a project's own build made, and must not drive the admin's terminal.
 */
static void repro__put_safe(struct buf *out, const char *s)
{
	for (; *s; s++)
		buf_putc(out, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* One member of a differing wheel: "m (content)", "m (metadata: date, mode)". */
static void repro__member(const cJSON *m, struct buf *out)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "member");
	const cJSON *what = cJSON_GetObjectItemCaseSensitive(m, "what");
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(m, "fields");
	const cJSON *f;
	int n = 0;

	repro__put_safe(out, cJSON_IsString(name) ? name->valuestring : "(the archive)");
	buf_puts(out, " (");
	repro__put_safe(out, cJSON_IsString(what) ? what->valuestring : "?");
	cJSON_ArrayForEach(f, fields) {
		if (cJSON_IsString(f)) {
			buf_puts(out, n++ ? ", " : ": ");
			repro__put_safe(out, f->valuestring);
		}
	}
	buf_putc(out, ')');
}

void repro_detail_lines(const char *detail, struct buf *out)
{
	cJSON *d = cJSON_Parse(detail ? detail : "");
	const cJSON *w;

	if (!cJSON_IsArray(d))
		goto out;
	cJSON_ArrayForEach(w, d) {
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(w, "filename");
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(w, "result");
		const cJSON *members = cJSON_GetObjectItemCaseSensitive(w, "members");
		const cJSON *m;
		long long more = 0;
		int shown = 0;

		if (!cJSON_IsString(file) || !cJSON_IsString(res) || !strcmp(res->valuestring, "same"))
			continue;
		buf_puts(out, "  ");
		repro__put_safe(out, file->valuestring);
		buf_puts(out, ": ");
		if (!strcmp(res->valuestring, "missing")) {
			buf_puts(out, "missing from the check\n");
			continue;
		}
		if (!strcmp(res->valuestring, "extra")) {
			buf_puts(out, "only in the check\n");
			continue;
		}
		repro__put_safe(out, res->valuestring);
		cJSON_ArrayForEach(m, members) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "more");
			if (cJSON_IsNumber(n)) {
				more += (long long)n->valuedouble;
			} else if (shown < REPRO_LIST_MEMBERS) {
				buf_puts(out, shown++ ? ", " : ": ");
				repro__member(m, out);
			} else {
				more++;
			}
		}
		if (more)
			buf_printf(out, " and %lld more", more);
		buf_putc(out, '\n');
	}
out:
	cJSON_Delete(d);
}

/* ---- repro check PROJECT [VERSION] [--target T] ---- */

/*
 * Queue a check of the build of candidate row; one line in out either way.
 * job gets the new check's id, "" when none was queued.
 */
static int repro__check_one(PGconn *c, const PGresult *cand, int row, struct buf *out,
			    struct kerr *e, char job[24])
{
	const char *params[1] = { PQgetvalue(cand, row, REPRO_CAND_BUILD) };
	PGresult *r = NULL;
	int rc;

	job[0] = '\0';
	if ((rc = db_query(c, queue_sql_check, 1, params, &r, e)))
		return rc;
	buf_printf(out, "%s %s on %s (build %s): ", PQgetvalue(cand, row, REPRO_CAND_PROJECT),
		   PQgetvalue(cand, row, REPRO_CAND_VERSION), PQgetvalue(cand, row, REPRO_CAND_TARGET),
		   params[0]);
	if (!PQgetisnull(r, 0, QUEUE_CHECK_NEW)) {
		snprintf(job, 24, "%s", PQgetvalue(r, 0, QUEUE_CHECK_NEW));
		buf_printf(out, "check queued, job %s\n", job);
	} else if (!PQgetisnull(r, 0, QUEUE_CHECK_LIVE)) {
		buf_printf(out, "a check is already queued or running, job %s\n",
			   PQgetvalue(r, 0, QUEUE_CHECK_LIVE));
	} else {
		/* Changed since the candidates were read: say what the statement saw. */
		buf_printf(out, "not queued (job %s is %s)\n", PQgetvalue(r, 0, QUEUE_CHECK_JOB),
			   PQgetvalue(r, 0, QUEUE_CHECK_STATE));
	}
	PQclear(r);
	return 0;
}

static int repro__check(PGconn *c, const char *project, const char *version, const char *target,
			struct buf *out, struct kerr *e)
{
	struct buf norm = BUF_INIT(255), vnorm = BUF_INIT(512), ids = BUF_INIT(BUF_NOLIMIT);
	struct pyversion v;
	const char *params[4];
	PGresult *r = NULL;
	int rc = 0, n, queued = 0;

	if (pyname_normalize(project, strlen(project), &norm, NULL)) {
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", project);
		goto out;
	}
	if (version && (pyversion_parse_str(&v, version, NULL) || pyversion_normalize(&v, &vnorm)))
		buf_puts(&vnorm, version);
	params[0] = norm.ptr;
	params[1] = version ? vnorm.ptr : NULL;
	params[2] = version ? version : "";
	params[3] = target;
	if ((rc = db_query(c, repro__sql_candidates, 4, params, &r, e)))
		goto out;
	if (PQgetisnull(r, 0, REPRO_CAND_PROJECT))
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", project);
	else if (version && !strcmp(PQgetvalue(r, 0, REPRO_CAND_RELEASES), "0"))
		rc = kerr_set(e, KERR_NOTFOUND, "project '%s' has no release '%s'", norm.ptr, version);
	else if (target && !strcmp(PQgetvalue(r, 0, REPRO_CAND_TARGETS), "0"))
		rc = kerr_set(e, KERR_NOTFOUND, "no target named '%s'", target);
	if (rc)
		goto out;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		char job[24];

		if (PQgetisnull(r, i, REPRO_CAND_BUILD))
			continue;
		if ((rc = repro__check_one(c, r, i, out, e, job)))
			goto out;
		if (*job)
			buf_printf(&ids, "%s%s", queued++ ? ", " : "", job);
	}
	if (n == 1 && PQgetisnull(r, 0, REPRO_CAND_BUILD))
		buf_printf(out, "nothing to check: no build of %s%s%s%s%s published wheels of its own\n",
			   PQgetvalue(r, 0, REPRO_CAND_PROJECT), version ? " " : "",
			   version ? version : "", target ? " on " : "", target ? target : "");
	buf_printf(out, "queued %d check%s for %s at priority %s: [%s]\n", queued,
		   queued == 1 ? "" : "s", PQgetvalue(r, 0, REPRO_CAND_PROJECT),
		   QUEUE_CHECK_PRIORITY_TEXT, ids.ptr);
out:
	PQclear(r);
	buf_release(&norm);
	buf_release(&vnorm);
	buf_release(&ids);
	return rc;
}

/* ---- repro list [--project P] [--limit N] ---- */

static int repro__list(PGconn *c, const char *project, const char *limit_arg, struct buf *out,
		       struct kerr *e)
{
	struct buf norm = BUF_INIT(255);
	const char *params[2];
	PGresult *r = NULL;
	long long limit = 20;
	char lim[24], *end;
	int rc = 0, n;

	if (limit_arg) {
		errno = 0;
		limit = strtoll(limit_arg, &end, 10);
		if (errno || *end || !*limit_arg || limit < 1 || limit > REPRO_LIMIT_MAX)
			return kerr_set(e, REPRO_USAGE, "--limit must be 1 to %d", REPRO_LIMIT_MAX);
	}
	if (project && pyname_normalize(project, strlen(project), &norm, NULL))
		return kerr_set(e, KERR_NOTFOUND, "no project named '%s'", project);
	snprintf(lim, sizeof(lim), "%lld", limit);
	params[0] = project ? norm.ptr : NULL;
	params[1] = lim;
	if ((rc = db_query(c, repro__sql_list, 2, params, &r, e)))
		goto out;
	n = PQntuples(r);
	buf_printf(out, "%-24s %-12s %-26s %-13s %-16s %-16s %-21s %s\n", "PROJECT", "VERSION",
		   "TARGET", "RESULT", "BUILDER", "ORIGINAL", "DECIDED", "CHECK");
	for (int i = 0; i < n; i++) {
		buf_printf(out, "%-24s %-12s %-26s %-13s %-16s %-16s %-21s %s\n",
			   PQgetvalue(r, i, REPRO_LIST_PROJECT), PQgetvalue(r, i, REPRO_LIST_VERSION),
			   PQgetvalue(r, i, REPRO_LIST_TARGET), PQgetvalue(r, i, REPRO_LIST_RESULT),
			   PQgetvalue(r, i, REPRO_LIST_BUILDER), PQgetvalue(r, i, REPRO_LIST_ORIGINAL),
			   PQgetvalue(r, i, REPRO_LIST_DECIDED), PQgetvalue(r, i, REPRO_LIST_CHECK));
		if (!strcmp(PQgetvalue(r, i, REPRO_LIST_RESULT), "differs"))
			repro_detail_lines(PQgetvalue(r, i, REPRO_LIST_DETAIL), out);
	}
	if (n == 0)
		buf_puts(out, "no reproducibility results yet\n");
out:
	PQclear(r);
	buf_release(&norm);
	return rc;
}

int repro_is_command(const char *word)
{
	return !strcmp(word, "repro");
}

int repro_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e)
{
	const char *pos[2] = { NULL, NULL }, *target = NULL, *project = NULL, *limit = NULL;
	int check, npos = 0;

	if (argc < 2 || (strcmp(argv[1], "check") && strcmp(argv[1], "list")))
		return kerr_set(e, REPRO_USAGE, "repro takes: check PROJECT [VERSION] [--target T] | "
				"list [--project P] [--limit N]");
	check = !strcmp(argv[1], "check");
	for (int i = 2; i < argc; i++) {
		const char **slot = NULL;

		if (argv[i][0] != '-' || !argv[i][1]) {
			if (!check || npos >= 2)
				return kerr_set(e, REPRO_USAGE, "unexpected argument '%s'", argv[i]);
			pos[npos++] = argv[i];
			continue;
		}
		if (check && !strcmp(argv[i], "--target"))
			slot = &target;
		else if (!check && !strcmp(argv[i], "--project"))
			slot = &project;
		else if (!check && !strcmp(argv[i], "--limit"))
			slot = &limit;
		if (!slot)
			return kerr_set(e, REPRO_USAGE, "unknown option '%s'", argv[i]);
		if (i + 1 >= argc)
			return kerr_set(e, REPRO_USAGE, "option %s needs a value", argv[i]);
		*slot = argv[++i];
	}
	if (!check)
		return repro__list(c, project, limit, out, e);
	if (npos < 1)
		return kerr_set(e, REPRO_USAGE, "repro check takes PROJECT [VERSION] [--target T]");
	return repro__check(c, pos[0], pos[1], target, out, e);
}
