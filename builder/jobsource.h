/*
 * jobsource: get a job's source onto the builder and its build requirements
 * next to it, before anything runs in the sandbox: the sdist downloaded and its
 * sha256 checked (or the git commit checked out), then the static build
 * requirements downloaded as wheels by the host's pip and, for a Rust project,
 * its crates vendored by the host's cargo (docs/builds.md).
 */
#ifndef KILN_BUILDER_JOBSOURCE_H
#define KILN_BUILDER_JOBSOURCE_H

#include "builder/prefetch.h"
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
	char requirement[PREFETCH_NAME_MAX]; /* after a failed prefetch: the build requirement pip
				  found no wheel of, or "" */
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

/*
 * Is v a valid KILN_BUILD_FARM_INDEX (`auto`, `off`, or an http(s) URL)? 0, or
 * KERR_INVAL with e naming the forms: the builder refuses to start on it.
 */
int jobsource_farm_index_check(const char *v, struct kerr *e);

/*
 * The farm's own index for j's build requirements into out (n bytes): "" for
 * `off`; for `auto` the /simple/ of the backend the builder is connected to.
 */
void jobsource_farm_index(struct bjob *j, char *out, size_t n);

#endif
