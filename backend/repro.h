/*
 * repro: the farm's reproducibility checks (docs/builds.md, "Reproducibility
 * checks"; schema in migrations/0016_repro.sql).
 *
 * The policy (KILN_REPRO) decides which builds get a check: a job of kind
 * 'check' for the same release and target, queued behind all other work,
 * whose wheels upload.c compares with the checked build's instead of
 * publishing them. The comparison of two wheels that differ is
 * common/wheeldiff's; the result is decided in the database when the check
 * ends (trigger repro_decide).
 */
#ifndef KILN_REPRO_H
#define KILN_REPRO_H

#include "common/buf.h"
#include "common/kerr.h"

struct server;
struct storage;

/*
 * Parse a KILN_REPRO value: "off" (0), "all" (100) or "N%" with N an integer
 * 0 to 100, into *percent. KERR_INVAL with a message naming the forms.
 */
int repro_policy_parse(const char *s, int *percent, struct kerr *e);

/*
 * 1 if the release version of project (normalized names) on target falls in
 * the sample of percent: FNV-1a of "project version target" modulo 100 below
 * percent. The same on every replica and for every rebuild of the release.
 */
int repro_sampled(int percent, const char *project, const char *version, const char *target);

/*
 * Job job (a build) just succeeded with build build_id (its attempt's): when
 * it published wheels of its own and the policy samples it, queue its check
 * (queue_sql_check, as an admin's request). Fire and forget on srv->db; logs
 * the check queued and counts it (kiln_repro_checks_queued_total).
 */
void repro_after_success(struct server *srv, long long job, const char *build_id);

/*
 * Worker thread: compare the published wheel stored under build_key with the
 * check's wheel at check_path. Appends common/wheeldiff's JSON array to out
 * (at most WHEELDIFF_MAX_DIFFS entries). The published wheel is fetched from
 * storage into a private file next to check_path, removed before returning.
 * 0, or negative with e (the published wheel could not be read: the caller
 * records the difference without members).
 */
int repro_diff(struct storage *st, const char *build_key, const char *check_path, struct buf *out,
	       struct kerr *e);

#endif
