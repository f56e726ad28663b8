/*
 * sync_admin: what kiln-sync mirrors and plans, set from the command line.
 *
 *   kilnctl source add-git PROJECT URL [--tags GLOB]
 *   kilnctl source list
 *   kilnctl source remove PROJECT URL
 *       git repositories whose tags become releases (kiln-sync lists the tags
 *       with libgit2 and plans jobs whose source is URL + commit)
 *   kilnctl scope allow|deny|always-source GLOB [--position N] [--versions V]
 *   kilnctl scope list
 *   kilnctl scope remove GLOB
 *       scope rules over normalized project names, first match wins; no rule
 *       matching means allowed; always-source plans builds even where an
 *       upstream wheel would serve the target; --versions is the rule's
 *       version policy: all (the default), newest:N (a project's N newest
 *       releases) or since:YYYY-MM-DD (published that day or later); the
 *       planner skips the others ('outside version policy', plan.h)
 *
 * Rules change what is planned from the next sync on; decisions already taken
 * (release_plans) stay.
 */
#ifndef KILN_SYNC_ADMIN_H
#define KILN_SYNC_ADMIN_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>

/* Returned (with the reason in e) when the arguments are wrong: show the usage. */
#define SYNC_ADMIN_USAGE 2

/* Is word a command this module runs ("source", "scope")? */
int sync_admin_is_command(const char *word);

/*
 * Add a git source: the project (created if Kiln does not know it yet; PROJECT
 * must be a valid project name) and the repository URL (https, http, git or
 * ssh form), with the glob its tags must match ("*" for all). Adding the same
 * project and URL again updates the glob. 0, KERR_INVAL with e saying why.
 */
int sync_admin_add_git(PGconn *c, const char *project, const char *url, const char *glob,
	struct buf *out, struct kerr *e);

/*
 * Add a scope rule (action allow, deny or always_source) at position (<= 0:
 * last), with a version policy (NULL: "all"; see sync_admin_versions_ok).
 */
int sync_admin_scope_add(PGconn *c, const char *action, const char *glob, int position,
	const char *versions, struct buf *out, struct kerr *e);

/*
 * Is v a version policy: "all", "newest:N" (N 1 to 9999, no leading zero) or
 * "since:YYYY-MM-DD" (a real date from 1970)? 1 or 0.
 */
int sync_admin_versions_ok(const char *v);

/*
 * Run `source ARGS` or `scope ARGS` (argv[0] is the command word), output in out.
 * 0, SYNC_ADMIN_USAGE, or a negative KERR_* code with e filled.
 */
int sync_admin_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e);

#endif
