/*
 * failclass: why a build failed, in one word, and what native files it missed.
 *
 * The one place that reads a build's log for meaning (issue 15, part 6). A
 * scanner is fed the build's output as it streams (any chunking, any bytes:
 * the log is hostile), keeps bounded memory (one partial line per stream, cut
 * at FAILCLASS_LINE_MAX; the rest of a longer line is skipped) and collects
 * up to FAILCLASS_MAX_MISSING distinct "missing" items:
 *
 *   header      gcc  "x.c:1:10: fatal error: yaml.h: No such file or directory"
 *               clang "fatal error: 'yaml.h' file not found"
 *   pkg-config  "Package yaml-0.1 was not found in the pkg-config search path."
 *               "No package 'yaml-0.1' found", "Package 'x', required by 'y', not found"
 *               meson "Dependency "yaml-0.1" not found", "Run-time dependency x found: NO"
 *               cmake "Could NOT find ZLIB" (a REQUIRED one; a known find module
 *               becomes the file it looks for, e.g. TIFF -> libtiff-4.pc, BZip2 ->
 *               bzlib.h; another, best effort, the lowercased name)
 *               mysqlclient "Command 'pkg-config --exists mysqlclient' returned non-zero"
 *   library     ld "cannot find -lyaml" (the name kept as "-lyaml")
 *   program     "pg_config executable not found", "mysql_config not found",
 *               "/bin/sh: 1: xml2-config: not found", "No such file or directory: 'pg_config'",
 *               "error: command 'swig' failed: No such file or directory", mod_wsgi's
 *               "The 'apxs' command appears not to be installed"; only names that look
 *               like a native build tool (*-config, *_config, swig*, pkg-config, apxs)
 *   phrases     a project's own words that name no file, mapped to the file its build
 *               looks for: lxml's "libxml2 and libxslt development packages" (xml2-config,
 *               xslt-config), bsddb3's "Can't find a local Berkeley DB installation"
 *               (db.h), PyTables' "Could not find a local HDF5 installation" (hdf5.h),
 *               shapely's "Could not find library geos_c" (-lgeos_c), "Please install swig"
 *
 * Names are kept only when they are short and made of [A-Za-z0-9_.+/-] without
 * "..", so what goes on to the Contents lookup and the finish message is tame.
 * It also notes pip's "No matching distribution found for X" / "Could not find
 * a version that satisfies the requirement X" (a build requirement is missing).
 *
 * failclass_classify then turns the facts of the attempt and what was seen into
 * exactly one class (docs/builds.md has the table):
 *   the builder could not run it -> infrastructure; timed out -> timeout;
 *   OOM killed -> out-of-memory; stopped at the import check -> import;
 *   a missing native file seen -> native-dependency; pip found no distribution
 *   for a requirement, or stopped installing requirements -> build-requirement;
 *   anything else (the project's code, the log or output caps) -> compile.
 */
#ifndef KILN_BUILDER_FAILCLASS_H
#define KILN_BUILDER_FAILCLASS_H

#include "builder/sandbox.h"

#include <stddef.h>

#define FAILCLASS_MAX_MISSING 8
#define FAILCLASS_NAME_MAX 128   /* bytes of a missing name, NUL included */
#define FAILCLASS_PACKAGE_MAX 65 /* a Debian package name, NUL included */
#define FAILCLASS_LINE_MAX 4096  /* longer lines are judged on their first 4096 bytes */

enum failclass_class {
	FAILCLASS_NONE = 0,         /* the build succeeded */
	FAILCLASS_NATIVE_DEPENDENCY,
	FAILCLASS_BUILD_REQUIREMENT,
	FAILCLASS_COMPILE,
	FAILCLASS_IMPORT,
	FAILCLASS_TIMEOUT,
	FAILCLASS_OUT_OF_MEMORY,
	FAILCLASS_INFRASTRUCTURE,
};

enum failclass_kind {
	FAILCLASS_HEADER = 0,
	FAILCLASS_PKGCONFIG,
	FAILCLASS_LIBRARY,
	FAILCLASS_PROGRAM,
};

struct failclass_missing {
	enum failclass_kind kind;
	char name[FAILCLASS_NAME_MAX];      /* as the log named it: "libpq-fe.h", "-lpq" */
	char package[FAILCLASS_PACKAGE_MAX]; /* filled by the caller (contents.h); "" if none */
};

/* The scanner. Plain data: no release needed. */
struct failclass {
	char line[3][FAILCLASS_LINE_MAX]; /* the partial line per stream (1 stdout, 2 stderr; 0 other) */
	size_t linelen[3];
	int skipping[3];                  /* past FAILCLASS_LINE_MAX: drop until the newline */
	struct failclass_missing missing[FAILCLASS_MAX_MISSING];
	size_t nmissing;
	int requirement_missing;          /* pip found no distribution for a requirement */
	char requirement[FAILCLASS_NAME_MAX]; /* which, if it was a tame name; else "" */
};

/* The facts of one attempt besides its log. */
struct failclass_facts {
	int infrastructure;        /* the builder could not run the build (sandbox_build < 0,
				      a transient source or upload failure) */
	int build_requirement;     /* the requirements could not be fetched on the host */
	enum sandbox_stage stage;  /* sandbox_result.stage */
	int exit_code;
	int oom, timed_out, log_capped;
};

void failclass_init(struct failclass *f);

/* Feed n bytes of output of stream (SANDBOX_STDOUT / SANDBOX_STDERR; others share a slot). */
void failclass_feed(struct failclass *f, int stream, const char *p, size_t n);

/* Judge the partial last lines (output that did not end in a newline). Idempotent. */
void failclass_end(struct failclass *f);

/* Judge one complete line (no newline) as if fed: for tests and single messages. */
void failclass_line(struct failclass *f, const char *p, size_t n);

/* The class of a failed attempt (never FAILCLASS_NONE). */
enum failclass_class failclass_classify(const struct failclass *f,
					const struct failclass_facts *facts);

/* "native-dependency", ... ("" for FAILCLASS_NONE): the protocol's strings. */
const char *failclass_name(enum failclass_class c);

/* "header", "pkg-config", "library", "program". */
const char *failclass_kind_name(enum failclass_kind k);

/*
 * Is msg (an error text from Docker, e.g. of PUT archive) the kernel's ENOSPC?
 * Docker passes the errno only as its text: this is the one place that matches it.
 */
int failclass_is_nospace(const char *msg);

/*
 * Does msg, libgit2's text for a network-class error of a fetch, say the failure
 * is permanent (HTTP 401/403/404, a bad certificate, no such repository) rather
 * than transient? libgit2 passes no status code: this is the one place that reads
 * its words.
 */
int failclass_git_permanent(const char *msg);

#endif
