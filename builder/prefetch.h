/*
 * prefetch: the build requirements of a project, fetched on the host before the
 * sandboxed build (which has no network), without running any of the project's
 * code. See docs/builds.md.
 *
 *  1. prefetch_read_requires: `[build-system] requires` of pyproject.toml, taken
 *     out of the sdist with libarchive (or read from a source tree) and parsed by
 *     the host's python3 (>= 3.11, tomllib) in isolated mode, as a subprocess fed
 *     on stdin. Each requirement is checked with pip's own requirement parser
 *     (no direct URLs) and again here (no leading '-', printable ASCII only). With
 *     no pyproject.toml, or no [build-system] table, the requirements are PEP
 *     518's default (setuptools and wheel), which the image already has.
 *  2. prefetch_download: `python3 -m pip download --only-binary=:all:` for the
 *     target interpreter and platforms into a directory, from pip's own
 *     configured index (or KILN_BUILD_INDEX_URL when the caller passes one),
 *     and the farm's own index beside it (KILN_BUILD_FARM_INDEX): a build
 *     requirement the upstream has only as an sdist is found there once the farm
 *     has built it. Binary wheels only: nothing is built, so nothing of theirs
 *     runs either.
 *
 * Subprocesses are started with posix_spawn and argv arrays (no shell), in their
 * own process group, under a timeout and the cancel flag; their output goes to
 * on_log as it comes.
 */
#ifndef KILN_BUILDER_PREFETCH_H
#define KILN_BUILDER_PREFETCH_H

#include "common/stopflag.h"

#include <stddef.h>

struct buf;
struct kerr;

#define PREFETCH_PYPROJECT_MAX (1u << 20) /* largest pyproject.toml read */
#define PREFETCH_MAX_REQUIRES 100
#define PREFETCH_REQUIRE_MAX 1000        /* longest single requirement */
#define PREFETCH_NAME_MAX 128            /* a missing requirement's name, NUL included */

/* The target of the build, in pip download's terms. */
struct prefetch_target {
	const char *python_version;   /* "3.11" */
	const char *implementation;   /* "cp" */
	const char *abi;              /* "cp311" */
	const char *const *platforms; /* NULL-terminated, most specific first: the target's
					 platform ladder (platform_ladder, platform.h) */
};

typedef void (*prefetch_log_fn)(void *ctx, int stream, const char *p, size_t n);

struct prefetch_opts {
	const char *python;           /* host interpreter; NULL: "python3" from PATH */
	const char *index_url;        /* NULL or "": pip's own configuration */
	const char *farm_index_url;   /* NULL or "": none; else searched too (--extra-index-url) */
	char *missing_out;            /* NULL, or PREFETCH_NAME_MAX bytes: prefetch_download
					 writes the requirement pip found no wheel of ("" if none) */
	struct prefetch_target target;
	unsigned timeout_s;           /* per subprocess; 0: 600 */
	prefetch_log_fn on_log;       /* may be NULL; streams 1, 2 and 3 (Kiln's notes) */
	void *log_ctx;
	const atomic_int *cancel;         /* may be NULL */
	char *const *envp;            /* subprocess environment; NULL: ours */
};

struct prefetch_reqs {
	char **v;                     /* requirement strings, owned */
	size_t n;
	int is_default;               /* no [build-system]: the image's setuptools + wheel */
};

void prefetch_reqs_release(struct prefetch_reqs *r);

/*
 * Fill out with the static build requirements of an sdist (sdist_path, a .tar.gz
 * or .zip whose top directory holds pyproject.toml) or of a source tree
 * (source_dir): exactly one of them. KERR_INVAL (with e) for a malformed
 * pyproject.toml or requirement, KERR_IO when python3 cannot be run.
 */
int prefetch_read_requires(const struct prefetch_opts *o, const char *sdist_path,
			   const char *source_dir, struct prefetch_reqs *out, struct kerr *e);

/*
 * Fill out with the requirement strings v[0..n-1] (the ones a PEP 517 backend
 * named at build time, get_requires_for_build_wheel, so written by untrusted
 * code) after exactly the checks prefetch_read_requires makes: Kiln's own rules,
 * then pip's requirement parser, no direct URLs. KERR_INVAL (with e) for a bad
 * requirement, KERR_IO when python3 cannot be run.
 */
int prefetch_check_list(const struct prefetch_opts *o, char *const *v, size_t n,
			struct prefetch_reqs *out, struct kerr *e);

/*
 * Download reqs and their dependencies as wheels into dest_dir (which must
 * exist). An empty or default list downloads nothing. When pip fails: KERR_INVAL
 * if it found no matching wheel while the index answered (a permanent verdict on
 * the project: a build requirement without a wheel for the target; its name in
 * o->missing_out when pip said it), KERR_AGAIN otherwise (connection trouble,
 * retries; pip's output in the log tells).
 * KERR_TIMEOUT on the timeout, KERR_CONFLICT when cancelled.
 */
int prefetch_download(const struct prefetch_opts *o, const struct prefetch_reqs *reqs,
		      const char *dest_dir, struct kerr *e);

/*
 * Run argv (argv[0] looked up in our PATH; the child gets o->envp) in cwd (NULL:
 * ours) with an empty stdin, as the steps above run pip: in its own process
 * group, under o->timeout_s and o->cancel. Its stdout is captured in out (an
 * initialised buf whose max bounds it) or, with out NULL, goes to o->on_log like
 * its stderr. *status gets the wait status; tail (may be NULL; an initialised
 * buf) the last 64 KiB of its output, for a caller that reads a verdict there.
 * 0 once it exited (whatever its status), KERR_TIMEOUT, KERR_CONFLICT
 * (cancelled), KERR_TOOBIG (stdout past out->max) or KERR_IO.
 */
int prefetch_run(const struct prefetch_opts *o, char *const argv[], const char *cwd,
		 struct buf *out, int *status, struct buf *tail, struct kerr *e);

/* One downloaded build-requirement file, as the provenance names it. */
struct prefetch_file {
	char filename[256];
	char sha256[65];              /* lowercase hex */
};

/*
 * Append to *files (a malloc'd array of *n entries, grown here; free() it) the
 * name and sha256 of each file of dir that goes into the sandbox as a build
 * requirement: regular files whose name is a wheel's (worktar_write_wheels
 * takes the same), in name order. At most max entries in all: more is
 * KERR_TOOBIG. 0, or KERR_IO when dir or a file cannot be read.
 */
int prefetch_hash_dir(const char *dir, size_t max, struct prefetch_file **files, size_t *n,
		      struct kerr *e);

/* Both steps: read the requirements of the sdist or tree, download them. */
int prefetch_build_requires(const struct prefetch_opts *o, const char *sdist_path,
			    const char *source_dir, const char *dest_dir, struct kerr *e);

#endif
