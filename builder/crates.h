/*
 * crates: the Rust crates of a project (maturin, setuptools-rust) fetched on the
 * host before the sandboxed build, which has no network. See docs/builds.md,
 * "Rust extensions".
 *
 *  1. The project's files come out of the sdist (regular files and directories
 *     only, bounded) into a host directory, or are read in place from a source
 *     tree. Nothing of the project runs on the host.
 *  2. The host's python3 (isolated mode) finds the Cargo manifests: the one at
 *     the top, [tool.maturin] manifest-path, [tool.setuptools-rust] paths, the
 *     `path=".../Cargo.toml"` of setup.py's RustExtension, or else a bounded
 *     search (depth 2). It reads them and their path dependencies and workspace
 *     members, and refuses what Kiln does not fetch: git dependencies, other
 *     registries, paths leading out of the project, symlinked manifests. A
 *     manifest only the search found (the project names none) is not held
 *     against the project: when Kiln would refuse it, or cargo does, the note
 *     says so and the build goes on without vendored crates.
 *  3. The host's `cargo vendor` (--locked when the project ships Cargo.lock)
 *     copies every crate into a per-job directory. It runs with a clean
 *     environment, CARGO_HOME a Kiln-owned directory (the download cache, shared
 *     by jobs), its working directory outside the project (so no .cargo/config
 *     of the project is read), a timeout and the cancel flag; output to the log.
 *     Afterwards no Cargo.lock of the project may name a git source.
 *  4. Next to the vendored crates goes a cargo config.toml: source replacement
 *     of the crate registry by the vendored directory, net.offline = true. The
 *     directory goes into the sandbox as /work/cargo and becomes CARGO_HOME.
 */
#ifndef KILN_BUILDER_CRATES_H
#define KILN_BUILDER_CRATES_H

#include "builder/prefetch.h"

struct kerr;

/* Where the vendored directory is inside the sandbox (its CARGO_HOME). */
#define CRATES_SANDBOX_HOME "/work/cargo"

#define CRATES_EXTRACT_MAX (1ull << 30)   /* bytes of the sdist extracted for reading */
#define CRATES_VENDOR_MAX (1ull << 30)    /* bytes of vendored crates handed in */

struct crates_opts {
	const char *cargo;        /* NULL: "cargo" from PATH */
	const char *python;       /* NULL: "python3" from PATH */
	const char *cargo_home;   /* Kiln's CARGO_HOME on the host (download cache); created */
	const char *ca_file;      /* NULL or "": the system's CA certificates */
	unsigned timeout_s;       /* per subprocess; 0: 600 */
	prefetch_log_fn on_log;   /* may be NULL; streams 1, 2 and 3 (Kiln's notes) */
	void *log_ctx;
	const atomic_int *cancel;     /* may be NULL */
};

/*
 * Vendor the crates of the project in sdist_path or source_dir (exactly one)
 * into out_dir (created; it must not exist): out_dir/vendor/ and
 * out_dir/config.toml. work_dir is scratch space of the job (an extracted copy
 * of the sdist goes below it). *found is 1 if the project has a Cargo manifest
 * (then out_dir is complete on success), 0 if not (nothing was done).
 * Errors: KERR_INVAL for a verdict on the project (git or other non-registry
 * crate source, a manifest Kiln cannot read, cargo refusing the Cargo.lock or
 * finding no such crate), KERR_AGAIN when this host cannot do it now (no cargo,
 * the registry unreachable) and KERR_TIMEOUT, KERR_CONFLICT (cancelled),
 * KERR_TOOBIG (past CRATES_*_MAX) or KERR_IO otherwise. e says which.
 */
int crates_vendor(const struct crates_opts *o, const char *sdist_path, const char *source_dir,
		  const char *work_dir, const char *out_dir, int *found, struct kerr *e);

#endif
