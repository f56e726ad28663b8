/*
 * gitsrc: releases from git repositories' tags (git_sources, added with
 * `kilnctl source add-git PROJECT URL [--tags GLOB]`).
 *
 * For each source, the remote's tags are listed with libgit2 (no git binary,
 * nothing cloned: the ref advertisement is enough). A tag matching the source's
 * glob whose name is a PEP 440 version, bare or after a leading "v" ("1.2.0",
 * "v1.2.0"), becomes a release of the project with git_source_id, git_tag and
 * git_commit (an annotated tag counts by the commit it points to); then the
 * project is planned, so jobs whose source is URL + commit are queued (the
 * builder checks the commit out, see docs/protocol.md). A version the project
 * already has (an upstream sdist, an earlier tag) is left alone: a tag moved
 * after the fact never changes what a release is.
 *
 * Each source is written in its own transaction with its last_checked_at; a
 * source that cannot be listed gets last_error and does not stop the others.
 */
#ifndef KILN_SYNC_GITSRC_H
#define KILN_SYNC_GITSRC_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>

struct gitsrc_stats {
	long sources;  /* sources looked at */
	long failed;   /* sources whose tags could not be listed */
	long releases; /* releases added */
	long planned;  /* jobs queued */
};

/*
 * Look at every git source once. 0 when every source was listed, else the last
 * failure (e filled); KERR_DB failures stop at once. Call git_libgit2_init first.
 */
int gitsrc_sync_all(PGconn *db, struct gitsrc_stats *st, struct kerr *e);

/*
 * The version a tag names: 0 and the PEP 440 normalized form in out (the text
 * as published in published, without the "v"), or KERR_INVAL.
 */
int gitsrc_tag_version(const char *tag, struct buf *published, struct buf *out, struct kerr *e);

#endif
