/*
 * jobs: the build queue's SQL, run asynchronously on the backend's pool.
 *
 * Every state change is one statement that re-checks who holds the job, so two
 * replicas, a late message from a builder that lost its lease, or a reaper
 * racing a finish can never both win:
 *
 *   queued --claim--> assigned --progress--> running --finish--> succeeded | failed
 *      ^                  |                     |                      (or queued again
 *      +---- lease expired (attempts < max) ----+                       for a transient error)
 *
 * Claims use FOR UPDATE SKIP LOCKED in the order priority, fair share, age. A
 * new job notifies kiln_jobs (migrations/0004_queue.sql) so dispatch needs no
 * polling. Leases are extended while a connection holding the job lives; the reaper
 * requeues (or fails, after max_attempts) jobs whose lease ran out, deleting the
 * unpublished artifacts of the lost attempt (their keys go to storage_pending,
 * in the same statement, for storage_sweep). Artifacts are published only when
 * their job succeeds.
 */
#ifndef KILN_JOBS_H
#define KILN_JOBS_H

#include "backend/pgpool.h"

#include <stdint.h>

struct server;

/* Columns of a claim's result rows, in order. */
enum jobs_claim_col {
	JOBS_C_JOB, JOBS_C_ATTEMPT, JOBS_C_BUILD, JOBS_C_PROJECT, JOBS_C_VERSION, JOBS_C_TARGET,
	JOBS_C_IMAGE, JOBS_C_PYTAG, JOBS_C_PYVER, JOBS_C_PLATFORM, JOBS_C_SDIST_URL,
	JOBS_C_SDIST_SHA, JOBS_C_SDIST_NAME, JOBS_C_GIT_URL, JOBS_C_GIT_COMMIT, JOBS_C_MAX_ATTEMPTS,
	JOBS_C_BUILDER,
	JOBS_C_NATIVE, /* the project's native packages, a JSON array of valid names, sorted */
	JOBS_C_ARCH, JOBS_C_SUITE, JOBS_C_GLIBC /* the target's; suite and glibc "" when unset */
};

/*
 * Claim up to n jobs at once, one for each of n builders that can all build
 * targets and serve the architectures in arches (a Postgres array literal:
 * only jobs of targets whose arch is one of them are claimed): builder_ids and lease_hashes are Postgres array literals of n
 * entries each, in the same order. One statement and one commit for the lot, so
 * a burst of jobs is dispatched at the database's statement rate times n, not
 * its commit rate. One row per job claimed (0 rows: nothing to do), columns as
 * in enum jobs_claim_col; JOBS_C_BUILDER says which builder got it.
 */
struct pgq *jobs_claim_batch(struct pgpool *db, const char *targets, const char *arches,
			     const char *builder_ids, const char *lease_hashes, int n, int lease_s,
			     pgpool_cb cb, void *ctx);

/* Is job held by builder_id? Result columns: held (t/f), ever_assigned (t/f), state,
 * attempts (the current attempt). */
struct pgq *jobs_check(struct pgpool *db, long long job, long long builder_id, pgpool_cb cb,
		       void *ctx);

/*
 * attempt, in jobs_progress, jobs_log and jobs_finish: the attempt the
 * builder's message is about (builder_msg.h); the statement changes nothing
 * unless it is the job's current attempt (jobs.attempts, whose builds row it
 * writes), so a late message of an old attempt never lands on a new one. 0:
 * the current attempt, whichever it is (a builder that sends no attempt).
 */

/*
 * Record a phase ("fetching", "building", ...): assigned jobs become running. The
 * phase only moves forward (a late earlier one changes nothing). 1 row if held.
 */
struct pgq *jobs_progress(struct pgpool *db, long long job, long long builder_id,
			  long long attempt, const char *phase, pgpool_cb cb, void *ctx);

/* Store one log chunk of the job's current build (idempotent per seq). 1 row if stored. */
struct pgq *jobs_log(struct pgpool *db, long long job, long long builder_id, long long attempt,
		     long long seq, const char *data, pgpool_cb cb, void *ctx);

/* A finish report with nothing in it (see builder_msg.h, report). */
#define JOBS_REPORT_NONE "{\"failure_class\":null,\"missing\":[],\"wheels\":[]}"

/*
 * Finish the job's current attempt. status: "succeeded", "failed" or "retry"
 * (transient: requeue with backoff unless attempts are used up). A success with
 * no uploaded artifact becomes a failure. report is the finish's checked
 * report (builder_msg.h; NULL: none): the failure class and missing entries go
 * onto the build and job (a retry's class is always infrastructure), each
 * wheel's policy and runtime packages onto the artifact of that name, a
 * succeeded status's image, command, environment and build requirements onto
 * the build (builds.image_id ... build_requirements). With
 * auto_retry, a native-dependency failure naming packages the attempt lacked
 * adds them to the project and queues the job once more (jobs.c says how).
 * A build-requirement failure whose report names a project this farm is
 * building for the same target fails waiting for it (jobs.waits_for, the
 * reason says so); a succeeded build queues the jobs that waited for its
 * project on its target again.
 * Result columns: build id, final job state, published artifact count,
 * dropped storage keys, (notify), packages added automatically (space
 * separated, "" if none), jobs queued again that waited for this one's
 * project; 0 rows if the job is not held by builder_id.
 */
struct pgq *jobs_finish(struct pgpool *db, long long job, long long builder_id,
			long long attempt, const char *status, const char *reason,
			long long exit_code, long long duration_ms, const char *report,
			int auto_retry, pgpool_cb cb, void *ctx);

/*
 * Extend to now + lease_s the leases of the jobs in job_ids, each still held by
 * the builder at the same place in holder_ids (Postgres array literals of the
 * same length: what the replica's connections hold), and mark the builders in
 * builder_ids seen: one statement for all builders connected to a replica.
 * Only jobs a live connection holds are extended, never every job assigned to a
 * connected builder: a builder that restarted (kill -9, a crash) and came back
 * within the lease no longer runs its old jobs, and their leases must run out.
 */
struct pgq *jobs_extend_leases(struct pgpool *db, const char *job_ids, const char *holder_ids,
			       const char *builder_ids, int lease_s, pgpool_cb cb, void *ctx);

/*
 * Requeue or fail jobs whose lease expired; mark their builds lost with a log
 * line saying so; drop their unpublished artifacts. Nothing is reaped until
 * the database has been up for grace_s: leases are not extended while it is
 * down, so after a restart every lease may have run out, builders alive or not,
 * and the live ones' connections must get the time to extend theirs (and
 * builders that lost their connection to reconnect) first. Result: one row per job
 * (job id, new state, storage keys of the dropped artifacts as a text array
 * literal (registered in storage_pending for the sweep), 0, 0,
 * the lost build's id or 0).
 */
struct pgq *jobs_reap(struct pgpool *db, int grace_s, pgpool_cb cb, void *ctx);

#endif
