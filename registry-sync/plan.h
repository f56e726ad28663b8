/*
 * plan: decide what to build for releases that gained an sdist.
 *
 * For every live, unyanked release of a project that has a live sdist (or is
 * a git release: a tag's commit, see gitsrc.h) and no
 * release_plans row for an enabled target: if one of the release's upstream
 * wheels already installs on that target (wheelname_matches with the target's
 * python tag and platform, so py3-none-any and abi3 wheels count), the decision
 * is 'skipped' with reason 'covered by upstream wheel'; otherwise a queued job is
 * inserted (a live job for the same release and target is left alone, thanks to
 * the jobs_one_active index) and the decision is 'planned', 'new release'.
 *
 * A wheel Kiln built (or was given) for the release counts the same way, before
 * anything else but a deny: 'skipped', 'covered by kiln wheel', so a release
 * already built is never planned again, even under 'always_source'.
 *
 * Scope rules (scope_rules, first glob match over the normalized name wins, no
 * match allows) come first: 'deny' records 'skipped', 'denied by scope';
 * 'always_source' plans a job even when an upstream wheel covers the target.
 *
 * Decisions are final: a release x target with a release_plans row is never
 * planned again here. Like store, plan runs inside the caller's transaction.
 */
#ifndef KILN_SYNC_PLAN_H
#define KILN_SYNC_PLAN_H

#include "common/kerr.h"

#include <libpq-fe.h>
#include <stdint.h>

struct plan_stats {
	long planned; /* jobs queued */
	long skipped; /* covered by an upstream wheel or denied by scope */
};

/* Plan the project's undecided releases. 0 or KERR_DB with e filled. */
int plan_project(PGconn *c, int64_t project_id, struct plan_stats *st, struct kerr *e);

#endif
