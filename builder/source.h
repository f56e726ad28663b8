/*
 * source: getting a job's source onto the builder: an sdist over HTTP(S)
 * (libcurl) checked against its sha256, or a git commit (libgit2; no git binary).
 *
 * Errors are classified for the daemon's retry policy:
 *   KERR_AGAIN    transient: no connection, DNS, timeouts, a broken transfer,
 *                 HTTP 408/425/429/5xx. Retry later, with backoff.
 *   KERR_INVAL    permanent: HTTP 404 and other 4xx, a hash mismatch, a bad
 *                 filename, URL or commit id, a TLS verification failure, a
 *                 commit that is not in the repository. Do not retry.
 *   KERR_TOOBIG   permanent: the download passed max_bytes.
 *   KERR_CONFLICT the cancel flag was raised.
 *   KERR_IO       local trouble (disk, temp files).
 * Every error comes with a message in e.
 */
#ifndef KILN_BUILDER_SOURCE_H
#define KILN_BUILDER_SOURCE_H

#include "common/stopflag.h"

#include <stdint.h>

struct kerr;

struct source_opts {
	const char *ca_file;        /* CA bundle (PEM); NULL: the system's store */
	long connect_timeout_s;     /* 0: 30 */
	long timeout_s;             /* the whole download or fetch; 0: 1800 */
	uint64_t max_bytes;         /* 0: 1 GiB */
	const char *user_agent;     /* NULL: "kiln-builder" */
	const atomic_int *cancel;       /* may be NULL */
};

/*
 * Download url (http or https; redirects followed, but from https only to https)
 * into dest_dir as a temporary file, check its sha256 against expected_sha256
 * (64 hex digits), and rename it to the sdist filename that ends the URL's path
 * (percent-decoded; it must pass sdistname_parse, so it cannot carry a path).
 * On success *path_out (if not NULL) is the malloc'd path of the file. On failure
 * nothing is left in dest_dir.
 */
int source_fetch_sdist(const char *url, const char *expected_sha256, const char *dest_dir,
		       const struct source_opts *o, char **path_out, struct kerr *e);

/*
 * Clone url (https, http, ssh as libgit2 supports them, or a local path) into
 * dest_dir, which must not exist or be empty, and check out exactly commit (40
 * hex digits) as a detached HEAD; HEAD is read back and compared. Submodules
 * are not fetched. On success *commit_time (if not NULL) is the commit's committer
 * time in seconds since the epoch: the build's SOURCE_DATE_EPOCH (docs/builds.md).
 * On failure dest_dir may hold a partial repository: the caller removes it.
 */
int source_checkout_git(const char *url, const char *commit, const char *dest_dir,
			const struct source_opts *o, long long *commit_time, struct kerr *e);

#endif
