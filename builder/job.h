/*
 * job: one build on a builder, on its own thread: fetch the source and check
 * its hash, fetch the build requirements, build in the sandbox while streaming
 * the log, upload the wheels with the job's lease token, report the result.
 *
 * The job keeps every message it posted (progress, log chunks, finish) so the
 * daemon can send them again after a reconnect; the backend ignores repeats.
 */
#ifndef KILN_BUILDER_JOB_H
#define KILN_BUILDER_JOB_H

#include "builder/platform.h"
#include "builder/prefetch.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/kerr.h"
#include "common/stopflag.h"

#include <cjson/cJSON.h>
#include <pthread.h>

struct daemon;
struct docker;
struct failclass;

#define JOB_NATIVE_MAX 16   /* the protocol's limit on native_packages */

struct bjob {
	long long id, build, attempt;
	char lease[64];
	char project[256], version[128];
	char target[64], image[256], python_tag[16], python_version[16], platform[64];
	/* The target's arch (absent: x86_64, a backend before issue 16), suite and glibc
	 * ("" when the target has none), and the wheel platforms its image installs. */
	char arch[PLATFORM_ARCH_MAX], suite[32], glibc[8];
	struct platform_ladder ladder;
	char source_kind[8];            /* "sdist" or "git" */
	char *source_url;
	char sha256[65];
	char filename[256];
	char commit[41];
	long long timeout_s, memory_mib, cpus, pids, log_bytes, output_bytes;
	char upload_path[128];
	/* native_packages: valid, sorted, distinct Debian names (derived.h). A job whose
	 * list is bad is still parsed; it fails with bad_native before anything runs. */
	char native[JOB_NATIVE_MAX][65];
	size_t nnative;
	char bad_native[256];
	struct failclass *fc;           /* reads the build's output as it streams */
	char requirement[PREFETCH_NAME_MAX]; /* the build requirement the host's pip found no wheel
					   of (jobsource), else "": fc's, from the sandbox's pip */

	struct daemon *daemon;
	const struct config *cfg;
	struct docker *docker;
	const char *owner;              /* the builder's name: labels its Docker objects */
	char work_dir[1024];            /* this job's scratch directory on the host */

	/* Shared by the daemon's and the job's threads (stopflag.h): */
	atomic_int cancel;              /* raised by the daemon: stop and report nothing */
	int started;                    /* the thread exists */
	atomic_int done;                /* raised by the job: its thread is about to end */
	pthread_t thread;

	/* What was posted, for resending: guarded by lock. */
	pthread_mutex_t lock;
	char **sent;
	size_t nsent, capsent;
	long long next_seq;
	struct buf pending_log;         /* output not yet cut into a chunk */
	struct bjob *next;
};

/*
 * Parse a job message into a new job (caller frees with job_free). 0, or
 * KERR_INVAL with e saying which field is wrong (a malformed target arch,
 * suite or glibc among them).
 */
int job_parse(const cJSON *m, struct bjob **out, struct kerr *e);
void job_free(struct bjob *j);

/*
 * Is the backend's message m (a cancel, a finished) about j's attempt? 1 when
 * its "attempt" equals j->attempt or it has none (a backend from before the
 * field), 0 when it names another attempt of the same job (an earlier one,
 * whose late messages the backend refused).
 */
int job_is_attempt(const struct bjob *j, const cJSON *m);

/* Start the job's thread. 0 or KERR_INTERNAL. */
int job_start(struct bjob *j);

/* Repost everything the job has sent so far (after a reconnect). Daemon thread. */
void job_repost(struct bjob *j);

#endif
