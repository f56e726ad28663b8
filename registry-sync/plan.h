/*
 * plan: decide what to build for releases that gained an sdist, and for
 * releases a new (or re-enabled) target has not decided yet.
 *
 * For every live, unyanked release of a project that has a live sdist (or is
 * a git release: a tag's commit, see gitsrc.h) and no release_plans row for an
 * enabled target, in order newest first (PEP 440 order of the project's
 * buildable releases; versions that do not parse come last):
 *  - scope rules first (scope_rules, first glob match over the normalized name
 *    wins, no match allows): 'deny' records 'skipped', 'denied by scope';
 *  - a wheel Kiln built (or was given) for the release that the target
 *    installs (wheelname_list_installs, with the target's glibc): 'skipped',
 *    'covered by kiln wheel F', even under 'always_source', so a release
 *    already built is never planned again;
 *  - an upstream wheel the target installs (py3-none-any, abi3, manylinux up
 *    to the target's glibc, linux_<arch>): 'skipped', 'covered by upstream
 *    wheel', unless the rule is 'always_source';
 *  - the matching rule's version policy (scope_rules.versions: 'all',
 *    'newest:N' the N newest buildable releases, 'since:YYYY-MM-DD' releases
 *    whose first file the upstream published that day or later, a git release
 *    by when Kiln saw it): the others are 'skipped', 'outside version policy';
 *  - otherwise a queued job is inserted (a live job for the same release and
 *    target is left alone, thanks to the jobs_one_active index) and the
 *    decision is 'planned', 'new release'.
 *
 * Job priority: the project's newest release 0, its older ones -1, so a new
 * farm serves each project's latest release before its history; a backfill
 * (backfill != 0) plans one lower (-1 and -2), so new upstream releases go
 * ahead of it. Fair share between projects is the queue's (fair_seq,
 * migrations/0004_queue.sql).
 *
 * Decisions are final: a release x target with a release_plans row is never
 * planned again here. Like store, plan_project runs inside the caller's
 * transaction.
 */
#ifndef KILN_SYNC_PLAN_H
#define KILN_SYNC_PLAN_H

#include "common/kerr.h"

#include <libpq-fe.h>
#include <stdint.h>

struct plan_stats {
	long planned;  /* jobs queued */
	long skipped;  /* covered, outside the version policy, or denied by scope */
	long projects; /* plan_backlog_pass: projects planned */
};

/* Plan the project's undecided releases. 0 or KERR_DB with e filled. */
int plan_project(PGconn *c, int64_t project_id, int backfill, struct plan_stats *st,
	struct kerr *e);

/*
 * One bounded backfill pass: plan (as a backfill) up to limit projects of
 * plan_backlog (migrations/0014_queue_matrix.sql: filled when a target is
 * added or re-enabled), most recent request first, each in its own
 * transaction, deleting its row once planned. c must not be in a
 * transaction. *left: rows still in the backlog. Logs what it did when it did
 * something. 0 or KERR_DB (what was committed stays).
 */
int plan_backlog_pass(PGconn *c, long limit, struct plan_stats *st, long *left, struct kerr *e);

#endif
