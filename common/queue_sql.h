/*
 * queue_sql: the build queue's admin statements, shared by kiln-backend (the
 * admin API, run on its async pool) and kilnctl (run blocking), so that an
 * operator at the command line and one in the web UI do exactly the same thing.
 *
 * Each statement is one round trip that validates what it was given and
 * changes the queue only when everything named exists, so a typo never queues
 * half of what was asked. Every value is a text parameter ($1..$n; NULL means
 * "not given"); the result layouts are the enums below. New jobs go in with
 * `insert ... on conflict do nothing`: the partial unique index jobs_one_active
 * makes "only where no job is live" hold even against a concurrent enqueue.
 */
#ifndef KILN_QUEUE_SQL_H
#define KILN_QUEUE_SQL_H

/* Priority of jobs an admin queues: ahead of planned work (priority 0). */
#define QUEUE_ADMIN_PRIORITY 10
#define QUEUE_ADMIN_PRIORITY_TEXT "10"

/* Reason recorded on a job cancelled without one. */
#define QUEUE_CANCEL_REASON "cancelled by an administrator"

/*
 * Cancel a queued, assigned or running job: $1 job id, $2 reason. The job and
 * its current build become cancelled (the build's log gets a closing line),
 * the attempt's unpublished artifacts are dropped, and `kiln_cancel` is
 * notified with "BUILDER_ID:JOB_ID" when a builder held the job, so whichever
 * backend replica has that builder connected tells it to stop. Always one row.
 */
extern const char queue_sql_cancel[];
enum queue_cancel_col {
	QUEUE_CANCEL_PRIOR_STATE, /* the job's state before; NULL: no such job */
	QUEUE_CANCEL_DONE,        /* 't' if this statement cancelled it */
	QUEUE_CANCEL_BUILDER,     /* name of the builder that held it, or NULL */
	QUEUE_CANCEL_KEYS         /* storage keys of the dropped artifacts, a text array literal;
				     registered in storage_pending, deleted by a backend's sweep */
};

/*
 * Queue a rebuild: $1 normalized project name, $2 version in PEP 440 normalized
 * form (or as given when it is not PEP 440; NULL: every release), $3 version
 * as given, $4 target name (NULL: every enabled target), $5 priority. One job
 * per (release with a source, enabled target) that has no live job. Nothing is
 * queued when the project, the release or the target is unknown, or the target
 * is disabled. Always one row.
 */
extern const char queue_sql_rebuild[];
enum queue_rebuild_col {
	QUEUE_REBUILD_PROJECT,        /* display name; NULL: no such project */
	QUEUE_REBUILD_RELEASES,       /* releases matched */
	QUEUE_REBUILD_NO_SOURCE,      /* of those, without an sdist or git commit */
	QUEUE_REBUILD_TARGETS,        /* targets matched, enabled or not */
	QUEUE_REBUILD_TARGETS_ENABLED,
	QUEUE_REBUILD_PAIRS,          /* (release, target) pairs considered */
	QUEUE_REBUILD_JOBS_JSON,      /* new job ids as a JSON array */
	QUEUE_REBUILD_JOBS_COUNT
};

/*
 * Requeue failed work: $1 normalized project name (NULL: any), $2 target name
 * (NULL: any), $3 priority. For each (release, target) whose latest job failed,
 * on an enabled target, queue a new job. Nothing is queued when a named
 * project or target is unknown. Always one row.
 */
extern const char queue_sql_requeue_failed[];
enum queue_requeue_col {
	QUEUE_REQUEUE_PROJECT_FOUND, /* 't'/'f' ('t' when not given) */
	QUEUE_REQUEUE_TARGET_FOUND,  /* 't'/'f' ('t' when not given) */
	QUEUE_REQUEUE_FAILED,        /* latest jobs that failed, on enabled targets */
	QUEUE_REQUEUE_REQUEUED,      /* new jobs queued */
	QUEUE_REQUEUE_DISABLED       /* failed ones left alone: their target is disabled */
};

/*
 * Pause ($2 'true') or resume ($2 'false') builder $1 (its name). The trigger
 * of migrations/0005_admin.sql notifies `kiln_builders` so every replica stops
 * or restarts sending it jobs at once. 0 rows: no such builder.
 */
extern const char queue_sql_pause[];
enum queue_pause_col {
	QUEUE_PAUSE_NAME,
	QUEUE_PAUSE_STATE /* enabled, paused or disabled */
};

/*
 * The live queue: assigned and running jobs first, then queued ones in the
 * order builders claim them (priority, fair share, age). $1 state, $2 target
 * name, $3 normalized project (each NULL: any); $4..$7 the keyset to continue
 * after (group, -priority, fair_seq, id; all NULL: from the start, see
 * queue_sql_cursor_parse); $8 rows to return.
 */
extern const char queue_sql_list[];
enum queue_list_col {
	QUEUE_LIST_ID, QUEUE_LIST_PROJECT, QUEUE_LIST_NORMALIZED, QUEUE_LIST_VERSION,
	QUEUE_LIST_TARGET, QUEUE_LIST_STATE, QUEUE_LIST_PRIORITY, QUEUE_LIST_ATTEMPTS,
	QUEUE_LIST_MAX_ATTEMPTS, QUEUE_LIST_BUILDER, QUEUE_LIST_BUILD, QUEUE_LIST_PHASE,
	QUEUE_LIST_CREATED, QUEUE_LIST_ASSIGNED, QUEUE_LIST_STARTED, QUEUE_LIST_NOT_BEFORE,
	QUEUE_LIST_CURSOR /* this row's keyset as a cursor string */
};

/*
 * Split a queue_sql_list cursor ("G:P:F:ID", as the CURSOR column makes it)
 * into the four text parameters $4..$7 (each at least 24 bytes). 0, or
 * KERR_INVAL when cursor is not one.
 */
int queue_sql_cursor_parse(const char *cursor, char group[24], char prio[24], char fair[24],
			   char id[24]);

#endif
