/*
 * jobsource: get a job's source onto the builder and its build requirements
 * next to it, before anything runs in the sandbox: the sdist downloaded and its
 * sha256 checked (or the git commit checked out), then the static build
 * requirements downloaded as wheels by the host's pip and, for a Rust project,
 * its crates vendored by the host's cargo (docs/builds.md).
 */
#ifndef KILN_BUILDER_JOBSOURCE_H
#define KILN_BUILDER_JOBSOURCE_H

#include "common/kerr.h"

#include <stddef.h>

struct bjob;

struct jobsource {
	char sdist_path[2048]; /* the verified sdist, or "" */
	char source_dir[2048]; /* the checked-out tree, or "" */
	char wheels_dir[2048]; /* prefetched build requirements */
	char cargo_dir[2048];  /* vendored Rust crates (crates.h), or "" for no Rust */
	long long source_date_epoch; /* a git source's commit time; 0: the driver takes
					the sdist's (sandbox.h) */
};

typedef void (*jobsource_log_fn)(void *ctx, int stream, const char *p, size_t n);

void jobsource_init(struct jobsource *s);
void jobsource_release(struct jobsource *s);

/*
 * Fetch j's source and build requirements under j->work_dir. 0, KERR_AGAIN for
 * a transient failure (worth a retry elsewhere or later), or another code for a
 * permanent one (hash mismatch, no such commit, unsatisfiable requirement).
 */
int jobsource_prepare(struct bjob *j, struct jobsource *s, jobsource_log_fn on_log, void *ctx,
		      struct kerr *e);

#endif
