/*
 * repro: reproducibility checks at the command line (docs/builds.md,
 * "Reproducibility checks"), on kilnctl's own connection:
 *
 *   repro check PROJECT [VERSION] [--target T]
 *        queue a check (common/queue_sql.h, queue_sql_check: the statement
 *        POST /api/v1/admin/builds/{id}/check runs) of the latest succeeded
 *        build job of each matching release x target that published wheels of
 *        its own; prints each new check's job id, or the live check that is
 *        already there
 *   repro list [--project P] [--limit N]
 *        the newest results: project, version, target, result, the builder of
 *        the check and of the checked build, when it was decided; for a check
 *        that differs, the first members that differ, per wheel
 */
#ifndef KILN_REPRO_H
#define KILN_REPRO_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>

/* Returned (with the reason in e) when the arguments are wrong: show the usage. */
#define REPRO_USAGE 2

/* Members of a differing wheel `repro list` names before "and N more". */
#define REPRO_LIST_MEMBERS 3

/* Is word ("repro") a command repro_run takes? */
int repro_is_command(const char *word);

/*
 * Run the command argv[0] ("repro") with its arguments, output in out. 0,
 * REPRO_USAGE, or a negative KERR_* with e filled (KERR_NOTFOUND for an
 * unknown project, release or target).
 */
int repro_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e);

/*
 * Append one line per wheel of a result's detail (repro_results.detail as
 * JSON text) that is not the same, indented by two spaces: "F: differs:
 * m1 (content), m2 (metadata: date) and 4 more", "F: missing from the check",
 * "F: only in the check". Nothing for text that is not such an array.
 * Control bytes in names (which come out of a project's own wheels) are
 * written as '?'.
 */
void repro_detail_lines(const char *detail, struct buf *out);

#endif
