/* sync_admin: kilnctl source and scope (contract in sync_admin.h). */
#include "kilnctl/sync_admin.h"

#include "common/db.h"
#include "common/pyname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sync_admin_is_command(const char *word)
{
	return !strcmp(word, "source") || !strcmp(word, "scope");
}

/* A URL libgit2 can fetch, with nothing that could smuggle options or lines in. */
static int sync_admin__git_url_ok(const char *u)
{
	static const char *const schemes[] = { "https://", "http://", "git://", "ssh://", "file://" };
	int ok = 0;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		ok |= !strncmp(u, schemes[i], strlen(schemes[i]));
	return ok && strlen(u) < 2048 && !strpbrk(u, " \t\r\n");
}

static int sync_admin__glob_ok(const char *g)
{
	return *g && strlen(g) <= 200 && !strpbrk(g, "\t\r\n");
}

int sync_admin_add_git(PGconn *c, const char *project, const char *url, const char *glob,
	struct buf *out, struct kerr *e)
{
	struct buf norm = BUF_INIT(256);
	PGresult *r = NULL;
	int rc;

	if ((rc = pyname_normalize(project, strlen(project), &norm, e)))
		goto out;
	if (!sync_admin__git_url_ok(url)) {
		rc = kerr_set(e, KERR_INVAL, "'%s' is not a git URL kiln-sync can fetch "
			"(https://, http://, git://, ssh:// or file://, no spaces)", url);
		goto out;
	}
	if (!sync_admin__glob_ok(glob)) {
		rc = kerr_set(e, KERR_INVAL, "invalid tag glob '%s'", glob);
		goto out;
	}
	{
		const char *pp[] = { project, norm.ptr, url, glob };
		/* The project may be new to Kiln: git is then its only source. */
		rc = db_query(c,
			"with p as (insert into projects (name, normalized) values ($1, $2)"
			"  on conflict (normalized) do update set deleted_at = null"
			"  returning id)"
			" insert into git_sources (project_id, url, tag_glob) select id, $3, $4 from p"
			" on conflict (project_id, url) do update set tag_glob = excluded.tag_glob,"
			"  last_error = null"
			" returning id", 4, pp, &r, e);
	}
	if (rc)
		goto out;
	buf_printf(out, "git source %s for '%s': %s, tags matching '%s'\n", PQgetvalue(r, 0, 0),
		norm.ptr, url, glob);
out:
	PQclear(r);
	buf_release(&norm);
	return rc;
}

static int sync_admin__sources_list(PGconn *c, struct buf *out, struct kerr *e)
{
	PGresult *r = NULL;
	int rc = db_query(c,
		"select p.normalized, s.tag_glob, coalesce(to_char(s.last_checked_at at time zone 'utc',"
		"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
		" (select count(*) from releases r where r.git_source_id = s.id), s.url,"
		" coalesce(s.last_error, '')"
		" from git_sources s join projects p on p.id = s.project_id order by 1, s.url",
		0, NULL, &r, e);
	if (rc)
		return rc;
	buf_printf(out, "%-28s %-12s %-20s %-8s %s\n", "PROJECT", "TAGS", "CHECKED", "RELEASES", "URL");
	for (int i = 0; i < PQntuples(r); i++) {
		buf_printf(out, "%-28s %-12s %-20s %-8s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
		if (*PQgetvalue(r, i, 5))
			buf_printf(out, "  last error: %s\n", PQgetvalue(r, i, 5));
	}
	PQclear(r);
	return 0;
}

static int sync_admin__source_remove(PGconn *c, const char *project, const char *url,
	struct buf *out, struct kerr *e)
{
	struct buf norm = BUF_INIT(256);
	long n = 0;
	int rc;

	if ((rc = pyname_normalize(project, strlen(project), &norm, e)))
		goto out;
	{
		const char *pp[] = { norm.ptr, url };
		rc = db_command(c, "delete from git_sources s using projects p"
			" where p.id = s.project_id and p.normalized = $1 and s.url = $2", 2, pp, &n, e);
	}
	if (!rc && !n)
		rc = kerr_set(e, KERR_NOTFOUND, "no git source %s for '%s'", url, norm.ptr);
	if (!rc)
		buf_printf(out, "git source %s for '%s' removed (its releases stay)\n", url, norm.ptr);
out:
	buf_release(&norm);
	return rc;
}

int sync_admin_versions_ok(const char *v)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = 0, m = 0, d = 0, n = 0;
	char rest;

	if (!strcmp(v, "all"))
		return 1;
	if (!strncmp(v, "newest:", 7)) {
		const char *p = v + 7;
		if (*p < '1' || *p > '9' || strlen(p) > 4)
			return 0;
		for (; *p; p++)
			if (*p < '0' || *p > '9')
				return 0;
		return 1;
	}
	if (strncmp(v, "since:", 6) || strlen(v) != 16 ||
	    sscanf(v + 6, "%4d-%2d-%2d%n%c", &y, &m, &d, &n, &rest) != 3 || n != 10 ||
	    v[10] != '-' || v[13] != '-')
		return 0;
	return y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1] &&
	       !(m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)));
}

int sync_admin_scope_add(PGconn *c, const char *action, const char *glob, int position,
	const char *versions, struct buf *out, struct kerr *e)
{
	char spos[32];
	const char *pp[4];
	PGresult *r = NULL;
	int rc;

	if (strcmp(action, "allow") && strcmp(action, "deny") && strcmp(action, "always_source"))
		return kerr_set(e, KERR_INVAL, "unknown scope action '%s'", action);
	if (!sync_admin__glob_ok(glob))
		return kerr_set(e, KERR_INVAL, "invalid glob '%s'", glob);
	if (!versions)
		versions = "all";
	if (!sync_admin_versions_ok(versions))
		return kerr_set(e, KERR_INVAL, "--versions must be all, newest:N (N from 1 to 9999) or "
			"since:YYYY-MM-DD (a real date), got '%s'", versions);
	pp[3] = versions;
	snprintf(spos, sizeof(spos), "%d", position);
	pp[0] = glob;
	pp[1] = action;
	pp[2] = position > 0 ? spos : NULL;
	if ((rc = db_exec(c, "begin", e)))
		return rc;
	/*
	 * Positions are unique: inserting at N moves N and what follows one down,
	 * highest first so no two rows ever share a position.
	 */
	if (position > 0) {
		const char *mp[] = { spos };
		rc = db_command(c, "update scope_rules set position = position + 1000000"
			" where position >= $1::int", 1, mp, NULL, e);
		if (!rc)
			rc = db_command(c, "update scope_rules set position = position - 999999"
				" where position >= 1000000", 0, NULL, NULL, e);
	}
	if (!rc)
		rc = db_query(c, "insert into scope_rules (position, pattern, action, versions)"
			" values (coalesce($3::int, (select coalesce(max(position), 0) + 1 from scope_rules)),"
			"  $1, $2, $4) returning position", 4, pp, &r, e);
	if (!rc)
		rc = db_exec(c, "commit", e);
	if (rc) {
		db_exec(c, "rollback", NULL);
		PQclear(r);
		return rc;
	}
	buf_printf(out, "scope rule %s: %s %s (versions %s)\n", PQgetvalue(r, 0, 0), action, glob,
		versions);
	PQclear(r);
	return 0;
}

static int sync_admin__scope_list(PGconn *c, struct buf *out, struct kerr *e)
{
	PGresult *r = NULL;
	int rc = db_query(c, "select position, replace(action, '_', '-'), versions, pattern"
		" from scope_rules order by position", 0, NULL, &r, e);
	if (rc)
		return rc;
	buf_printf(out, "%-8s %-14s %-17s %s\n", "POSITION", "ACTION", "VERSIONS", "GLOB");
	for (int i = 0; i < PQntuples(r); i++)
		buf_printf(out, "%-8s %-14s %-17s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	if (!PQntuples(r))
		buf_puts(out, "(no rules: every project is in scope)\n");
	PQclear(r);
	return 0;
}

static int sync_admin__scope_remove(PGconn *c, const char *glob, struct buf *out, struct kerr *e)
{
	const char *pp[] = { glob };
	long n = 0;
	int rc = db_command(c, "delete from scope_rules where pattern = $1", 1, pp, &n, e);

	if (!rc && !n)
		return kerr_set(e, KERR_NOTFOUND, "no scope rule for '%s'", glob);
	if (!rc)
		buf_printf(out, "scope rule for '%s' removed\n", glob);
	return rc;
}

int sync_admin_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e)
{
	if (!strcmp(argv[0], "source")) {
		if (argc >= 4 && !strcmp(argv[1], "add-git")) {
			const char *glob = "*";
			for (int k = 4; k < argc; k++) {
				if (k + 1 < argc && !strcmp(argv[k], "--tags"))
					glob = argv[++k];
				else
					return kerr_set(e, SYNC_ADMIN_USAGE, "source add-git PROJECT URL [--tags GLOB]");
			}
			return sync_admin_add_git(c, argv[2], argv[3], glob, out, e);
		}
		if (argc == 2 && !strcmp(argv[1], "list"))
			return sync_admin__sources_list(c, out, e);
		if (argc == 4 && !strcmp(argv[1], "remove"))
			return sync_admin__source_remove(c, argv[2], argv[3], out, e);
		return kerr_set(e, SYNC_ADMIN_USAGE,
			"source takes: add-git PROJECT URL [--tags GLOB] | list | remove PROJECT URL");
	}
	if (argc >= 3 && (!strcmp(argv[1], "allow") || !strcmp(argv[1], "deny") ||
			  !strcmp(argv[1], "always-source"))) {
		const char *versions = NULL;
		int pos = 0;
		for (int k = 3; k < argc; k++) {
			char *end;
			if (k + 1 < argc && !strcmp(argv[k], "--position")) {
				pos = (int)strtol(argv[++k], &end, 10);
				if (*end || pos < 1)
					return kerr_set(e, SYNC_ADMIN_USAGE, "--position takes a number from 1");
			} else if (k + 1 < argc && !strcmp(argv[k], "--versions")) {
				versions = argv[++k];
			} else {
				return kerr_set(e, SYNC_ADMIN_USAGE, "scope allow|deny|always-source GLOB "
					"[--position N] [--versions all|newest:N|since:YYYY-MM-DD]");
			}
		}
		return sync_admin_scope_add(c, !strcmp(argv[1], "always-source") ? "always_source" : argv[1],
			argv[2], pos, versions, out, e);
	}
	if (argc == 2 && !strcmp(argv[1], "list"))
		return sync_admin__scope_list(c, out, e);
	if (argc == 3 && !strcmp(argv[1], "remove"))
		return sync_admin__scope_remove(c, argv[2], out, e);
	return kerr_set(e, SYNC_ADMIN_USAGE,
		"scope takes: allow|deny|always-source GLOB [--position N] [--versions V] | list "
		"| remove GLOB");
}
