/*
 * sandbox: run one wheel build in a locked-down Docker container and bring the
 * wheels back. docs/builds.md explains the design; in short:
 *
 *  - the build runs Kiln's build driver (driver.h: build requirements, the PEP 517
 *    build, auditwheel repair, the import check) as uid 1000 with no network
 *    (NetworkMode "none"), no capabilities, no-new-privileges, a read-only root
 *    filesystem, memory (no swap), CPU and PID limits;
 *  - when the project's backend asks for build requirements the sandbox does not
 *    have, the host checks and downloads them (prefetch.h), adds them to
 *    /work/job-wheels and runs the driver again in a second build container on
 *    the same /work: the one case with two containers;
 *  - /tmp is a tmpfs (exec allowed: compilers run there); /work is a per-job
 *    tmpfs *volume*, kept mounted by a second, idle "keeper" container so that
 *    the source can be put in before the build starts and the wheels taken out
 *    after it stopped (Docker's archive calls do not see a container's own tmpfs
 *    mounts, and a tmpfs volume is unmounted when its last user stops);
 *  - the source (an sdist or a directory) and the prefetched build requirements
 *    go in with PUT archive, as /work/src and /work/job-wheels; pip finds
 *    wheels in /opt/kiln/wheels (the image's) and /work/job-wheels only; a Rust
 *    project's vendored crates go in as /work/cargo, its CARGO_HOME, and cargo
 *    runs offline (CARGO_NET_OFFLINE, crates.h);
 *  - the output streams to on_log as it comes, up to a cap; the wall clock and
 *    the cancel flag are checked about once a second;
 *  - afterwards only regular *.whl files at the top of /work/out are extracted
 *    (wheelout.h), up to the output cap;
 *  - both containers and the volume are removed whatever happened.
 *
 * One call blocks its thread for the whole build; calls from several threads
 * may share one struct docker.
 */
#ifndef KILN_BUILDER_SANDBOX_H
#define KILN_BUILDER_SANDBOX_H

/* The most build-requirement files a result lists (the protocol's bound, docs/protocol.md). */
#define SANDBOX_MAX_REQUIREMENTS 512

#include "common/stopflag.h"

#include <stddef.h>
#include <stdint.h>

struct docker;
struct kerr;
struct prefetch_file;
struct prefetch_opts;

/* Streams passed to on_log: the build's stdout and stderr, and Kiln's own notes. */
enum sandbox_stream { SANDBOX_STDOUT = 1, SANDBOX_STDERR = 2, SANDBOX_NOTE = 3 };

typedef void (*sandbox_log_fn)(void *ctx, int stream, const char *p, size_t n);

struct sandbox_limits {
	uint64_t memory_bytes;   /* RAM, tmpfs pages included; swap is not allowed */
	int64_t nano_cpus;       /* 1e9 = one CPU */
	int64_t pids;            /* processes and threads */
	unsigned timeout_s;      /* wall clock of the build, from its start */
	uint64_t log_cap_bytes;  /* output passed to on_log before the build is killed */
	uint64_t output_cap_bytes; /* total size of the wheels taken out */
	uint64_t tmp_bytes;      /* size of the /tmp tmpfs */
	uint64_t work_bytes;     /* size of the /work volume (source, wheels, output) */
};

/* Kiln's defaults: 4 GiB, 2 CPUs, 1024 pids, 1 h, 16 MiB log, 1 GiB output, 4 GiB tmp,
 * 2 GiB work. */
void sandbox_limits_default(struct sandbox_limits *l);

struct sandbox_spec {
	const char *image;       /* "kiln/bookworm-py311:latest" */
	const char *sdist_path;  /* the sdist to build (its name must pass sdistname_parse), */
	const char *source_dir;  /* or a source tree (symlinks are copied as symlinks) */
	const char *wheels_dir;  /* prefetched build requirements (*.whl), or NULL */
	const char *cargo_dir;   /* vendored Rust crates + config.toml (crates.h), or NULL;
				    /work/cargo, the build's CARGO_HOME */
	const char *out_dir;     /* where the wheels go; must exist */
	long long source_date_epoch; /* > 0: the build's SOURCE_DATE_EPOCH (a git commit's
				    time); 0: the driver derives it from the sdist, or from
				    the newest file of a source tree (docs/builds.md) */
	struct sandbox_limits limits; /* zero fields take the defaults */
	sandbox_log_fn on_log;   /* may be NULL */
	void *log_ctx;
	const atomic_int *cancel;    /* may be NULL; raised (stopflag.h): stop the build */
	const char *owner;       /* may be NULL; the builder's name, as label org.kiln.builder
				    on the job's Docker objects, for sandbox_reap */
	const struct prefetch_opts *prefetch; /* may be NULL; how to download the build
				    requirements a backend names at build time (NULL: such a
				    build fails, stage REQUIRES) */
};

/*
 * Where inside the sandbox a failed build stopped (the in-container driver's
 * steps, docs/builds.md). The failure classifier (failclass.h) reads it.
 */
enum sandbox_stage {
	SANDBOX_STAGE_NONE = 0,     /* success, or not known (the build never ran) */
	SANDBOX_STAGE_REQUIRES = 1, /* installing the static or dynamic build requirements */
	SANDBOX_STAGE_BUILD = 2,    /* the PEP 517 build itself: the project's code */
	SANDBOX_STAGE_REPAIR = 3,   /* auditwheel repair of the built wheel */
	SANDBOX_STAGE_IMPORT = 4,   /* the import check found the wheel broken */
};

/* What the repair step said of one wheel (auditwheel show, after repair). */
struct sandbox_wheel_report {
	char policy[64];         /* the platform tag it got ("manylinux_2_36_x86_64"); "" if pure */
	char **needed;           /* sonames it still needs from the system (libc aside) */
	size_t nneeded;
};

struct sandbox_result {
	int exit_code;           /* the build's exit status; -1 if it never ran */
	enum sandbox_stage stage; /* where a failed build stopped; NONE on success */
	char reason[256];        /* why it failed; "" on success */
	int oom;                 /* the kernel's OOM killer struck */
	int timed_out;
	int log_capped;
	int cancelled;
	uint64_t duration_ms;    /* from the container's start to its stop */
	uint64_t log_bytes;      /* output bytes passed to on_log */
	char **wheels;           /* paths of the wheels written into out_dir */
	struct sandbox_wheel_report *reports; /* parallel to wheels (nwheels entries), or NULL */
	size_t nwheels;
	size_t nignored;         /* output entries that were not taken (see the log) */
	/*
	 * How the build ran, for the provenance (docs/protocol.md, finish), set
	 * once a build container ran: the id of the image it ran ("sha256:...");
	 * its argv as a JSON array text, the driver script (argv[3]) written as
	 * "<kiln_build.py sha256:HEX>"; its environment ("NAME=value" strings,
	 * SOURCE_DATE_EPOCH as the driver chose it) likewise; and the files of the
	 * build requirements the backend named at build time, fetched on the host
	 * (prefetch_hash_dir). NULL / "" / none otherwise; owned.
	 */
	char image_id[128];      /* DOCKER_ID_MAX */
	char *command, *environment;
	struct prefetch_file *requirements;
	size_t nrequirements;
};

void sandbox_result_init(struct sandbox_result *r);
void sandbox_result_release(struct sandbox_result *r);

/*
 * Run the build described by spec. Returns 0 when the build came to a verdict:
 * out->reason is "" and out->wheels lists at least one wheel on success, or
 * out->reason says why the build failed ("build failed with exit code 1",
 * "timed out after 600 s", "killed: out of memory (limit 4096 MiB)",
 * "log exceeded 16777216 bytes", "output exceeded ...", "build produced no wheel",
 * "cancelled", "does not import on CPython 3.11: ...", "auditwheel repair failed: ...",
 * "could not download the build requirements (...)"), and out->stage where it
 * stopped. out->reports has one entry per wheel. Returns a negative KERR_* with e when the builder itself could not
 * run the build (Docker unreachable, no such image, bad spec, local I/O): that is
 * a reason to retry elsewhere, not a verdict on the project.
 */
int sandbox_build(struct docker *d, const struct sandbox_spec *spec,
		  struct sandbox_result *out, struct kerr *e);

/*
 * Remove the containers and volumes that builds left behind when their process
 * died (SIGKILL, a crash, a power cut): every Docker object labelled by
 * sandbox_build with this owner (owner NULL: of any owner). Call it when no build
 * of that owner runs, e.g. when the daemon starts. *removed (may be NULL) counts
 * what went. 0, or the first Docker error (the rest is still tried).
 */
int sandbox_reap(struct docker *d, const char *owner, size_t *removed, struct kerr *e);

#endif
