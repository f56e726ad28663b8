/*
 * covered: a wheel is built once for every target that installs it (issue 16).
 *
 * A py3-none-any wheel installs on every target, an abi3 one on the later
 * Pythons of its platform: when a job succeeds, the queued jobs of the same
 * release for other targets that one of the release's published wheels
 * covers (wheelname_list_installs, with each target's glibc) are dropped:
 * cancelled, failure_reason and jobs.covered_by naming the wheel ("covered by
 * kiln wheel F"), and their release_plans row becomes 'skipped' with that
 * reason, so the API and UI say why. A sibling already running when the wheel
 * was published uploads the same file name; upload.c takes that as covered
 * too and its job succeeds without a second artifact (jobs.c, finish).
 */
#ifndef KILN_COVERED_H
#define KILN_COVERED_H

#include "backend/pgpool.h"

/*
 * Job job just succeeded: drop its release's queued jobs its wheels (or any
 * published wheel of the release) cover. Fire and forget, two statements on
 * db; logs each job dropped. Failures are logged and leave the jobs queued
 * (they then build, and their upload is covered).
 */
void covered_after_success(struct pgpool *db, long long job);

#endif
