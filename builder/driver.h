/*
 * driver: the in-sandbox build driver and what it reports back.
 *
 * The driver is builder/driver/kiln_build.py, embedded into kiln-builder at
 * build time (builder/driver/embed.py) and run by sandbox.c as
 * `python3 -I -c SCRIPT --src PATH --round N` in the build container, so a
 * builder upgrade needs no new image and nothing in /work (which the project's
 * code may change) is ever run as the driver. docs/builds.md lists its steps.
 *
 * It tells the host two things: its exit code (DRIVER_EXIT_*), and
 * /work/result.json, a small JSON object rewritten at the start of each stage:
 *
 *   {"stage": "requires"|"build"|"repair"|"import"|"none",
 *    "reason": "one line",                     (on failure)
 *    "requires": ["req", ...],                 (exit DRIVER_EXIT_FETCH only)
 *    "source_date_epoch": N,                   (once the driver chose it)
 *    "wheels": [{"filename", "policy", "needed": ["soname", ...]}]}
 *
 * The file is written inside the sandbox, after the project's code ran there:
 * driver_result_parse treats it as hostile (size, types, counts, characters).
 */
#ifndef KILN_BUILDER_DRIVER_H
#define KILN_BUILDER_DRIVER_H

#include "builder/sandbox.h"

#include <stddef.h>

struct buf;
struct kerr;

/* The embedded script (NUL-terminated) and its length. */
extern const char driver_script[];
extern const size_t driver_script_len;

/* The driver's exit codes; anything else is a failed build (BUILD). */
#define DRIVER_EXIT_OK 0
#define DRIVER_EXIT_BUILD 1     /* the PEP 517 backend failed */
#define DRIVER_EXIT_REQUIRES 3  /* build requirements could not be installed */
#define DRIVER_EXIT_FETCH 4     /* round 1: the host must fetch "requires", then round 2 */
#define DRIVER_EXIT_REPAIR 5    /* auditwheel repair failed */
#define DRIVER_EXIT_IMPORT 6    /* the import check found the wheel broken */
#define DRIVER_EXIT_INTERNAL 7  /* the driver itself failed */

#define DRIVER_RESULT_PATH "/work/result.json"
#define DRIVER_RESULT_MAX (256u << 10) /* largest result.json read */
#define DRIVER_MAX_REQUIRES 100
#define DRIVER_MAX_WHEELS 16
#define DRIVER_MAX_NEEDED 64

struct driver_wheel {
	char filename[256];
	struct sandbox_wheel_report report; /* needed owned */
};

struct driver_result {
	enum sandbox_stage stage;  /* where it was (NONE: done, or not known) */
	char reason[200];          /* printable ASCII, "" if none */
	char **requires;           /* owned; each passed prefetch's character rules */
	size_t nrequires;
	struct driver_wheel *wheels; /* owned */
	size_t nwheels;
	long long source_date_epoch; /* the SOURCE_DATE_EPOCH the build ran with; 0 if not said */
};

void driver_result_init(struct driver_result *r);
void driver_result_release(struct driver_result *r);

/*
 * Parse n bytes of result.json into out (initialised here). Strict: unknown
 * stages, wrong types, too many or too long entries, wheel filenames that do not
 * parse, policies or sonames with unexpected characters are KERR_INVAL (out is
 * then empty). Control and non-ASCII bytes of the reason become '?'.
 */
int driver_result_parse(const char *json, size_t n, struct driver_result *out, struct kerr *e);

/*
 * Read the one regular file of a tar archive (Docker's GET archive of
 * DRIVER_RESULT_PATH) from fd into out, at most max bytes. 0; KERR_NOTFOUND if
 * the archive holds no regular file; KERR_TOOBIG past max; KERR_INVAL for a bad
 * archive.
 */
int driver_result_untar(int fd, size_t max, struct buf *out, struct kerr *e);

/*
 * Move the report of each wheel in paths (host paths, matched by file name)
 * into a new array parallel to paths (*reports, n entries; wheels the driver
 * did not describe get an empty report). The matched reports are taken out of r.
 */
void driver_result_reports(struct driver_result *r, char *const *paths, size_t n,
			   struct sandbox_wheel_report **reports);

/* Free an array made by driver_result_reports. */
void driver_reports_free(struct sandbox_wheel_report *reports, size_t n);

#endif
