/*
 * queue_admin: the build queue's admin commands, the same statements as the
 * backend's admin API (common/queue_sql.h), run on kilnctl's own connection:
 *
 *   job cancel ID [--reason TEXT]     cancel a queued or running job; the
 *                                     backend replica holding its builder
 *                                     hears NOTIFY kiln_cancel and tells it
 *   rebuild PROJECT [VERSION] [--target NAME]
 *                                     queue jobs where none is live
 *   requeue-failed [--project NAME] [--target NAME] [--class CLASS]
 *                                     queue again what failed last (for
 *                                     that failure class)
 *   queue [--state S] [--target T] [--project P] [--limit N]
 *                                     the live queue as a table
 *   builder pause|resume NAME         (queue_admin_pause; kilnctl builder ...)
 */
#ifndef KILN_QUEUE_ADMIN_H
#define KILN_QUEUE_ADMIN_H

#include "common/buf.h"
#include "common/config.h"
#include "common/kerr.h"

#include <libpq-fe.h>

/* Returned (with the reason in e) when the arguments are wrong: show the usage. */
#define QUEUE_ADMIN_USAGE 2

/* Is word ("job", "rebuild", "requeue-failed", "queue") a command queue_admin_run takes? */
int queue_admin_is_command(const char *word);

/*
 * Run the command argv[0] with its arguments, output in out. cfg locates
 * artifact storage, where a cancelled attempt's unpublished wheels are deleted
 * (a failure there is reported in out, not an error: the job is cancelled).
 * 0, QUEUE_ADMIN_USAGE, or a negative KERR_* code with e filled
 * (KERR_NOTFOUND for an unknown job, project, release, target; KERR_CONFLICT
 * for a job that already ended or a disabled target).
 */
int queue_admin_run(PGconn *c, const struct config *cfg, int argc, char **argv,
		    struct buf *out, struct kerr *e);

/* Pause (paused 1) or resume builder name. KERR_NOTFOUND if there is none. */
int queue_admin_pause(PGconn *c, const char *name, int paused, struct buf *out, struct kerr *e);

#endif
