/* native_deps: project deps and build show for kilnctl (contract in native_deps.h). */
#include "kilnctl/native_deps.h"

#include "common/db.h"
#include "common/debpkg.h"
#include "common/pyname.h"
#include "common/queue_sql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A text array literal {a,b} of the names in argv, each checked. 0 or KERR_INVAL. */
static int native_deps__names(int argc, char **argv, struct buf *arr, struct kerr *e)
{
	if (argc < 1)
		return kerr_set(e, NATIVE_DEPS_USAGE, "name at least one Debian package");
	if (argc > DEBPKG_PROJECT_MAX)
		return kerr_set(e, KERR_CONFLICT, "a project has at most %d native packages",
				DEBPKG_PROJECT_MAX);
	buf_putc(arr, '{');
	for (int i = 0; i < argc; i++) {
		if (!debpkg_name_ok(argv[i]))
			return kerr_set(e, KERR_INVAL, "'%s' is not a Debian package name "
					"([a-z0-9][a-z0-9+.-]{0,63})", argv[i]);
		buf_printf(arr, "%s%s", i ? "," : "", argv[i]);
	}
	buf_putc(arr, '}');
	return 0;
}

static int native_deps__list(PGconn *c, const char *norm, const char *name, struct buf *out,
			     struct kerr *e)
{
	const char *params[1] = { norm };
	PGresult *r = NULL;
	int rc;

	if ((rc = db_query(c, queue_sql_deps_list, 1, params, &r, e)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", name);
		goto out;
	}
	if (PQgetisnull(r, 0, QUEUE_DEPS_PACKAGE)) {
		buf_printf(out, "project %s has no native packages beyond its targets' images\n",
			   PQgetvalue(r, 0, QUEUE_DEPS_PROJECT));
		goto out;
	}
	buf_printf(out, "%-32s %-6s %-20s %s\n", "PACKAGE", "SOURCE", "ADDED", "BY");
	for (int i = 0; i < PQntuples(r); i++) {
		char by[96];

		if (!strcmp(PQgetvalue(r, i, QUEUE_DEPS_SOURCE), "auto"))
			snprintf(by, sizeof(by), "build %s",
				 PQgetisnull(r, i, QUEUE_DEPS_BUILD) ? "?" : PQgetvalue(r, i, QUEUE_DEPS_BUILD));
		else
			snprintf(by, sizeof(by), "%s", PQgetvalue(r, i, QUEUE_DEPS_ADDED_BY));
		buf_printf(out, "%-32s %-6s %-20s %s\n", PQgetvalue(r, i, QUEUE_DEPS_PACKAGE),
			   PQgetvalue(r, i, QUEUE_DEPS_SOURCE), PQgetvalue(r, i, QUEUE_DEPS_CREATED), by);
	}
out:
	PQclear(r);
	return rc;
}

static int native_deps__change(PGconn *c, int add, const char *norm, const char *name, int argc,
			       char **argv, struct buf *out, struct kerr *e)
{
	struct buf arr = BUF_INIT(BUF_NOLIMIT);
	const char *params[4];
	PGresult *r = NULL;
	int rc;

	if ((rc = native_deps__names(argc, argv, &arr, e)))
		goto out;
	params[0] = norm;
	params[1] = arr.ptr;
	if (add) {
		params[2] = "kilnctl";
		params[3] = QUEUE_ADMIN_PRIORITY_TEXT;
		rc = db_query(c, queue_sql_deps_add, 4, params, &r, e);
	} else {
		params[2] = QUEUE_ADMIN_PRIORITY_TEXT;
		rc = db_query(c, queue_sql_deps_remove, 3, params, &r, e);
	}
	if (rc)
		goto out;
	if (PQgetisnull(r, 0, 0)) {
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", name);
		goto out;
	}
	if (add && PQgetvalue(r, 0, QUEUE_DEPS_ADD_FITS)[0] != 't') {
		rc = kerr_set(e, KERR_CONFLICT, "project %s would have more than %d native packages; "
			      "none added", PQgetvalue(r, 0, 0), DEBPKG_PROJECT_MAX);
		goto out;
	}
	buf_printf(out, "%s %s: %s\n", add ? "added to" : "removed from", PQgetvalue(r, 0, 0),
		   PQgetvalue(r, 0, add ? QUEUE_DEPS_ADD_ADDED : QUEUE_DEPS_RM_REMOVED));
	buf_printf(out, "requeued %s job(s) that failed for a missing native dependency\n",
		   PQgetvalue(r, 0, add ? QUEUE_DEPS_ADD_REQUEUED : QUEUE_DEPS_RM_REQUEUED));
out:
	PQclear(r);
	buf_release(&arr);
	return rc;
}

static int native_deps__project(PGconn *c, int argc, char **argv, struct buf *out,
				struct kerr *e)
{
	struct buf norm = BUF_INIT(255);
	int rc;

	/* argv: project deps VERB PROJECT [PKG...] */
	if (argc < 3 || strcmp(argv[1], "deps"))
		return kerr_set(e, NATIVE_DEPS_USAGE, "project takes: deps list PROJECT | "
				"deps add|remove PROJECT PKG...");
	if (strcmp(argv[2], "list") && strcmp(argv[2], "add") && strcmp(argv[2], "remove"))
		return kerr_set(e, NATIVE_DEPS_USAGE, "project deps takes list, add or remove");
	if (!strcmp(argv[2], "list") ? argc != 4 : argc < 5)
		return kerr_set(e, NATIVE_DEPS_USAGE, "project deps %s takes PROJECT%s", argv[2],
				strcmp(argv[2], "list") ? " PKG..." : "");
	if (pyname_normalize(argv[3], strlen(argv[3]), &norm, NULL)) {
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", argv[3]);
		goto out;
	}
	if (!strcmp(argv[2], "list"))
		rc = native_deps__list(c, norm.ptr, argv[3], out, e);
	else
		rc = native_deps__change(c, !strcmp(argv[2], "add"), norm.ptr, argv[3], argc - 4,
					 argv + 4, out, e);
out:
	buf_release(&norm);
	return rc;
}

/* ---- build show ID ---- */

static const char native_deps__sql_build[] =
	"select b.id, b.state, b.failure_class, b.failure_reason, p.normalized, r.version, t.name,"
	" b.attempt, j.id, j.state, coalesce(b.missing, '[]'::jsonb)::text,"
	" " QUEUE_FIX_SQL("b", "p.normalized") ","
	" (select string_agg(m->>'kind' || E'\t' || (m->>'name') || E'\t' ||"
	"  coalesce(m->>'package', ''), E'\n') from jsonb_array_elements(coalesce(b.missing,"
	"  '[]'::jsonb)) m)"
	" from builds b join jobs j on j.id = b.job_id join releases r on r.id = j.release_id"
	" join projects p on p.id = r.project_id join targets t on t.id = j.target_id"
	" where b.id = $1::bigint";

static int native_deps__build(PGconn *c, int argc, char **argv, struct buf *out,
			      struct kerr *e)
{
	const char *params[1];
	PGresult *r = NULL;
	char *end, id[24], *lines = NULL, *save = NULL;
	long long v;
	int rc;

	if (argc != 3 || strcmp(argv[1], "show"))
		return kerr_set(e, NATIVE_DEPS_USAGE, "build takes: show ID");
	errno = 0;
	v = strtoll(argv[2], &end, 10);
	if (!*argv[2] || strspn(argv[2], "0123456789") != strlen(argv[2]) || errno || *end || v < 1)
		return kerr_set(e, KERR_INVAL, "build id must be a positive integer, got '%s'", argv[2]);
	snprintf(id, sizeof(id), "%lld", v);
	params[0] = id;
	if ((rc = db_query(c, native_deps__sql_build, 1, params, &r, e)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = kerr_set(e, KERR_NOTFOUND, "no build %s", id);
		goto out;
	}
	buf_printf(out, "build %s (job %s, attempt %s): %s %s on %s\n", PQgetvalue(r, 0, 0),
		   PQgetvalue(r, 0, 8), PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
		   PQgetvalue(r, 0, 6));
	buf_printf(out, "state:   %s (job %s)\n", PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 9));
	if (!PQgetisnull(r, 0, 2))
		buf_printf(out, "class:   %s\n", PQgetvalue(r, 0, 2));
	if (!PQgetisnull(r, 0, 3))
		buf_printf(out, "reason:  %s\n", PQgetvalue(r, 0, 3));
	if (!PQgetisnull(r, 0, 12)) {
		lines = strdup(PQgetvalue(r, 0, 12));
		for (char *l = lines ? strtok_r(lines, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save)) {
			char *name = strchr(l, '\t'), *pkg;

			if (!name || !(pkg = strchr(name + 1, '\t')))
				continue;
			*name++ = '\0';
			*pkg++ = '\0';
			if (*pkg)
				buf_printf(out, "missing: %s (%s), shipped by %s\n", name, l, pkg);
			else
				buf_printf(out, "missing: %s (%s), no Debian package ships it\n", name, l);
		}
	}
	if (!PQgetisnull(r, 0, 11))
		buf_printf(out, "fix:     %s\n", PQgetvalue(r, 0, 11));
out:
	free(lines);
	PQclear(r);
	return rc;
}

int native_deps_is_command(const char *word)
{
	return !strcmp(word, "project") || !strcmp(word, "build");
}

int native_deps_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e)
{
	if (argc >= 1 && !strcmp(argv[0], "project"))
		return native_deps__project(c, argc, argv, out, e);
	if (argc >= 1 && !strcmp(argv[0], "build"))
		return native_deps__build(c, argc, argv, out, e);
	return kerr_set(e, NATIVE_DEPS_USAGE, "unknown command");
}
