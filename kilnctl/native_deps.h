/*
 * native_deps: a project's native build dependencies and why builds failed,
 * at the command line (the same statements as the admin API, common/queue_sql.h):
 *
 *   project deps list PROJECT          the Debian packages its builds get
 *   project deps add PROJECT PKG...    add them; requeues its builds that
 *                                      failed for a missing native dependency
 *   project deps remove PROJECT PKG... remove them (requeues the same)
 *   build show ID                      a build's state, failure class, what
 *                                      it missed and the command that fixes it
 */
#ifndef KILN_NATIVE_DEPS_H
#define KILN_NATIVE_DEPS_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>

/* Returned (with the reason in e) when the arguments are wrong: show the usage. */
#define NATIVE_DEPS_USAGE 2

/* Is word ("project", "build") a command native_deps_run takes? */
int native_deps_is_command(const char *word);

/*
 * Run the command argv[0] with its arguments, output in out. 0,
 * NATIVE_DEPS_USAGE, or a negative KERR_* with e filled (KERR_NOTFOUND for an
 * unknown project or build, KERR_INVAL for a name that is not a Debian
 * package, KERR_CONFLICT when a project would have more than
 * DEBPKG_PROJECT_MAX packages).
 */
int native_deps_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e);

#endif
