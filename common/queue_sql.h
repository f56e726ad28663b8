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

/* A job's priority as an admin may set it (rebuild --priority, the priority route). */
#define QUEUE_PRIORITY_MIN (-1000)
#define QUEUE_PRIORITY_MAX 1000

/*
 * Queue a rebuild: $1 normalized project name, $2 version in PEP 440 normalized
 * form (or as given when it is not PEP 440; NULL: every release), $3 version
 * as given, $4 target name (NULL: every enabled target), $5 priority (NULL:
 * QUEUE_ADMIN_PRIORITY). One job per (release with a source, enabled target)
 * that has no live job; a pair whose job is still queued has that job moved
 * ahead instead: its priority becomes $5 (NULL: at least
 * QUEUE_ADMIN_PRIORITY) and it goes first among its priority (fair_seq 0).
 * Nothing is queued when the project, the release or the target is unknown,
 * or the target is disabled. Always one row.
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
	QUEUE_REBUILD_JOBS_COUNT,
	QUEUE_REBUILD_MOVED_JSON,     /* ids of queued jobs moved ahead, a JSON array */
	QUEUE_REBUILD_MOVED_COUNT,
	QUEUE_REBUILD_PRIORITY        /* the priority new jobs got */
};

/*
 * Set a queued job's priority: $1 job id, $2 priority. A raise also puts it
 * first among its new priority (fair_seq 0). Always one row.
 */
extern const char queue_sql_priority[];
enum queue_priority_col {
	QUEUE_PRIORITY_STATE, /* the job's state; NULL: no such job */
	QUEUE_PRIORITY_DONE,  /* 't' if set (the job was queued) */
	QUEUE_PRIORITY_WAS    /* its priority before */
};

/*
 * Requeue failed work: $1 normalized project name (NULL: any), $2 target name
 * (NULL: any), $3 priority, $4 failure class (NULL: any; one of
 * QUEUE_FAILURE_CLASSES). For each (release, target) whose latest job failed
 * (with that class), on an enabled target, queue a new job. Nothing is queued
 * when a named project or target is unknown. Always one row.
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
 * SQL: the one command that fixes build b's native-dependency failure,
 * "kilnctl project deps add PROJECT PKG...", from the packages its missing
 * entries name (pnorm: the project's normalized name); NULL when they name
 * none. Names are valid Debian ones (checked on the way in), so the command
 * needs no quoting.
 */
#define QUEUE_FIX_SQL(b, pnorm) \
	"(select 'kilnctl project deps add ' || " pnorm " || ' ' ||" \
	" string_agg(distinct m->>'package', ' ' order by m->>'package')" \
	" from jsonb_array_elements(coalesce(" b ".missing, '[]'::jsonb)) m" \
	" where m->>'package' is not null having count(*) > 0)"

/* The failure classes (docs/protocol.md, finish), NULL-terminated. */
extern const char *const queue_failure_classes[];

/* 1 if s is one of the failure classes. */
int queue_failure_class_ok(const char *s);

/* Most native packages a project may have, as SQL text (common/debpkg.h). */
#define QUEUE_DEPS_MAX_TEXT "16"

/*
 * A project's native packages: $1 normalized name. 0 rows: no such project;
 * else one row per package in byte order (one row of NULL package columns
 * when it has none).
 */
extern const char queue_sql_deps_list[];
enum queue_deps_list_col {
	QUEUE_DEPS_PROJECT,  /* display name */
	QUEUE_DEPS_PACKAGE,  /* NULL: the project has none */
	QUEUE_DEPS_SOURCE,   /* admin or auto */
	QUEUE_DEPS_ADDED_BY, /* admin token name, 'kilnctl', or NULL (auto) */
	QUEUE_DEPS_BUILD,    /* auto: the build that suggested it (NULL once deleted) */
	QUEUE_DEPS_CREATED
};

/*
 * Add native packages to a project: $1 normalized name, $2 the packages as a
 * text array literal of valid names (debpkg_name_ok), $3 who (an admin token's
 * name or 'kilnctl'), $4 priority of the requeued jobs. All or nothing: none
 * is added when the project would have more than DEBPKG_PROJECT_MAX. When one
 * was added, the project's jobs whose latest attempt failed with class
 * native-dependency are queued again. Always one row.
 */
extern const char queue_sql_deps_add[];
enum queue_deps_add_col {
	QUEUE_DEPS_ADD_PROJECT,  /* display name; NULL: no such project */
	QUEUE_DEPS_ADD_FITS,     /* 't'/'f': within the cap */
	QUEUE_DEPS_ADD_ADDED,    /* JSON array of the packages added (not those it had) */
	QUEUE_DEPS_ADD_REQUEUED, /* jobs queued again */
	QUEUE_DEPS_ADD_TOTAL     /* packages the project has now */
};

/*
 * Remove native packages from a project: $1 normalized name, $2 text array
 * literal of names, $3 priority. When one was removed, the project's
 * native-dependency failures are queued again (as after an add). One row.
 */
extern const char queue_sql_deps_remove[];
enum queue_deps_remove_col {
	QUEUE_DEPS_RM_PROJECT,  /* display name; NULL: no such project */
	QUEUE_DEPS_RM_REMOVED,  /* JSON array of the packages removed */
	QUEUE_DEPS_RM_REQUEUED
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
 * The builders that can run a job of architecture `arch` (an SQL expression,
 * e.g. "t.arch") now, as a FROM item aliased sb: enabled, not paused, seen
 * alive within `window` seconds (an SQL expression, e.g. "$9", see
 * queue_online_window), whose hello named that architecture as its own
 * (capabilities.arch, x86_64 when absent) or as one it emulates
 * (capabilities.emulates); as GET /api/v1/targets counts `builders`. "(select count(*) from " QUEUE_SERVING_SQL(...) ")"
 * counts them. A queued job none of them serves waits for a builder of its
 * target's architecture; the UI and `kilnctl queue` say so.
 */
#define QUEUE_SERVING_SQL(arch, window) \
	"builders sb where sb.enabled and not sb.paused" \
	" and sb.last_seen_at > now() - make_interval(secs => (" window ")::int)" \
	" and (case when jsonb_typeof(sb.capabilities->'arch') = 'string'" \
	"  then coalesce(nullif(sb.capabilities->>'arch', ''), 'x86_64') else 'x86_64' end = (" arch ")" \
	"  or (jsonb_typeof(sb.capabilities->'emulates') = 'array'" \
	"   and sb.capabilities->'emulates' ? (" arch ")))"

/*
 * Seconds since a builder's last sign of life within which it counts as
 * online: two lease ticks (each replica records every lease_s/3 the builders
 * that answered its pings) plus slack for a slow tick; as GET /api/v1/builders.
 */
int queue_online_window(long lease_s);

/*
 * The live queue: assigned and running jobs first, then queued ones in the
 * order builders claim them (priority, fair share, age). $1 state, $2 target
 * name, $3 normalized project (each NULL: any); $4..$7 the keyset to continue
 * after (group, -priority, fair_seq, id; all NULL: from the start, see
 * queue_sql_cursor_parse); $8 rows to return; $9 the online window in
 * seconds (queue_online_window).
 */
extern const char queue_sql_list[];
enum queue_list_col {
	QUEUE_LIST_ID, QUEUE_LIST_PROJECT, QUEUE_LIST_NORMALIZED, QUEUE_LIST_VERSION,
	QUEUE_LIST_TARGET, QUEUE_LIST_STATE, QUEUE_LIST_PRIORITY, QUEUE_LIST_ATTEMPTS,
	QUEUE_LIST_MAX_ATTEMPTS, QUEUE_LIST_BUILDER, QUEUE_LIST_BUILD, QUEUE_LIST_PHASE,
	QUEUE_LIST_CREATED, QUEUE_LIST_ASSIGNED, QUEUE_LIST_STARTED, QUEUE_LIST_NOT_BEFORE,
	QUEUE_LIST_CURSOR, /* this row's keyset as a cursor string */
	QUEUE_LIST_WAITING_FOR, /* a queued job no online builder serves: "aarch64 builder"; else NULL */
	QUEUE_LIST_KIND         /* build, or check (a reproducibility check, docs/builds.md) */
};

/*
 * Split a queue_sql_list cursor ("G:P:F:ID", as the CURSOR column makes it)
 * into the four text parameters $4..$7 (each at least 24 bytes). 0, or
 * KERR_INVAL when cursor is not one.
 */
int queue_sql_cursor_parse(const char *cursor, char group[24], char prio[24], char fair[24],
			   char id[24]);

/* Priority of a reproducibility check: behind all other work (docs/builds.md). */
#define QUEUE_CHECK_PRIORITY_TEXT "-10"

/*
 * Queue a reproducibility check of build $1's job (kind 'check', check_of that
 * job, the same release and target, priority QUEUE_CHECK_PRIORITY_TEXT), as an
 * admin asks for one whatever KILN_REPRO says: only when that job is a build
 * (not itself a check) that succeeded and has published wheels of its own
 * (artifacts.job_id = it, published_at set). jobs_one_active allows one live
 * check per release and target: when one is live, nothing is queued and LIVE
 * names it. Always one row.
 */
extern const char queue_sql_check[];
enum queue_check_col {
	QUEUE_CHECK_JOB,       /* the build's job; NULL: no such build */
	QUEUE_CHECK_KIND,      /* its kind: build or check */
	QUEUE_CHECK_STATE,     /* its state */
	QUEUE_CHECK_PUBLISHED, /* 't'/'f': it has published wheels of its own */
	QUEUE_CHECK_NEW,       /* the new check's job id; NULL: none queued */
	QUEUE_CHECK_LIVE       /* the check of this release and target queued or running
				  before this statement, if any (NULL: none, or a concurrent
				  one not visible yet) */
};

#endif
