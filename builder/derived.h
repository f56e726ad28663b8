/*
 * derived: a target image plus a project's own Debian packages (issue 15, part 1).
 *
 * A job that carries native_packages builds in a derived image: the target's
 * image with those packages installed by `apt-get install --no-install-recommends`.
 * That install is a trusted step OUTSIDE the build sandbox: a container of the
 * target image, run as root with Docker's default (bridge) network, whose
 * filesystem is committed (POST /commit) as kiln/derived:<hash> (the network is
 * KILN_BUILDER_APT_NETWORK: "host" where the bridge has no route out). Only package
 * names that passed derived_package_valid reach it, each checked first with
 * apt-cache (an unknown one is a verdict, not an infrastructure failure). The
 * build itself then runs in the usual locked-down, offline sandbox.
 *
 * The hash covers the base image's id, the project and the sorted packages, so a
 * derived image serves that project alone and a new base image makes new ones.
 * An existing one is reused. Each use touches <state_dir>/<image id>.used;
 * derived_gc removes this builder's derived images (label org.kiln.derived-by)
 * not used for max_age_days, and beyond max_count the least recently used ones
 * (but never one used in the last 10 minutes, nor one a container still uses).
 */
#ifndef KILN_BUILDER_DERIVED_H
#define KILN_BUILDER_DERIVED_H

#include "common/stopflag.h"

#include <stddef.h>

struct docker;
struct kerr;

#define DERIVED_MAX_PACKAGES 16
#define DERIVED_REPO "kiln/derived"
#define DERIVED_REF_MAX 256
/* The exit status of the trusted step when apt knows no package of that name. */
#define DERIVED_EXIT_UNKNOWN 3

/* Is name a Debian package name Kiln accepts: [a-z0-9][a-z0-9+.-]{0,63}? */
int derived_package_valid(const char *name);

/* Streams passed to the log callback: the step's stdout / stderr, and Kiln's notes. */
typedef void (*derived_log_fn)(void *ctx, int stream, const char *p, size_t n);

struct derived_spec {
	const char *base_image;        /* the target's image: "kiln/bookworm-py311:latest" */
	const char *project;           /* its normalized name */
	const char *const *packages;   /* valid, sorted, distinct; 1..DERIVED_MAX_PACKAGES */
	size_t npackages;
	const char *owner;             /* may be NULL: labels the image and the container */
	const char *state_dir;         /* where use stamps live (created) */
	const char *network;           /* Docker network of the apt step; NULL: "bridge" */
	unsigned timeout_s;            /* the apt step's wall clock; 0: 1800 */
	derived_log_fn on_log;         /* may be NULL */
	void *log_ctx;
	const atomic_int *cancel;          /* may be NULL */
};

/*
 * Make sure the derived image for spec exists (building it if needed) and
 * write its reference ("kiln/derived:<hash>") into ref (DERIVED_REF_MAX bytes).
 * *built (may be NULL) is 1 when it was built now, 0 when reused. base_id (may
 * be NULL; DERIVED_REF_MAX bytes) gets the id ("sha256:...") of the base image
 * the derived one was made from: the one its hash covers.
 * 0; KERR_INVAL when the spec is bad (a package name, too many); KERR_NOTFOUND
 * when apt knows no package of a given name (a verdict on the project's list);
 * KERR_CONFLICT when cancelled; KERR_TIMEOUT; other KERR_* when Docker or apt
 * failed (worth a retry).
 */
int derived_ensure(struct docker *d, const struct derived_spec *spec, char *ref, int *built,
		   char *base_id, struct kerr *e);

/*
 * Remove the owner's derived images that are unused (see above). *removed (may
 * be NULL) counts them. 0, or the first Docker error (the rest is still tried).
 */
int derived_gc(struct docker *d, const char *owner, const char *state_dir, unsigned max_age_days,
	       unsigned max_count, size_t *removed, struct kerr *e);

#endif
