/*
 * api_projects: the project pages of REST API v1 (read side).
 *
 *   GET /api/v1/projects?q=&limit=&cursor=
 *       Projects that have releases, by normalized name. With q, names that
 *       start with the (normalized) term come first, then names that contain
 *       it; the substring scan only runs when the prefix matches do not fill
 *       the page. cursor is the last normalized name of the previous page.
 *   GET /api/v1/projects/{name}?limit=&cursor=
 *       One project (also one without releases, which the list leaves out;
 *       not one deleted upstream, which is 404 like its releases): its targets, and a page of its releases newest
 *       first by PEP 440 (sorted here, not in SQL), each with one status cell
 *       per target and its published artifacts. cursor is the last version of
 *       the previous page. The newest API_PROJECT_RELEASES_MAX releases (by
 *       upstream upload time, else creation) are considered; releases_truncated says when there are more.
 *       Two queries: the releases' versions (sorted and paged here), then the
 *       cells and artifacts of the page's releases only.
 *   GET /api/v1/projects/{name}/releases/{version}
 *       One release: the same cells and artifacts, plus its jobs and their
 *       builds. {version} is matched by its PEP 440 normalized form.
 *
 * A {name} that is not normalized answers 301 to the normalized URL. Cell
 * status per release x target, first that applies: built (a published
 * artifact from a job for that target exists; an uploaded wheel is published
 * when its job succeeds), running (live job assigned or running), queued
 * (waiting_for names "<arch> builder" when no online builder serves the
 * target's architecture), covered (the queue decided that a published wheel
 * built for another target installs on this one, pure, abi3 or an older glibc:
 * the job was dropped or its upload covered, jobs.covered_by, or the planner
 * skipped it as "covered by kiln wheel F"; covered_by names the wheel),
 * failed (the newest job failed; reason given), skipped (the planner decided
 * so; reason given), none. Each target carries arch, suite, glibc and builders
 * (how many online builders serve its architecture, natively or emulated).
 * Only jobs of kind 'build' decide a cell; a cell's reproducibility is the
 * latest check result (reproducible, differs, failed; null: never checked)
 * of the newest build job there that published wheels of its own. A
 * release's jobs include its checks (kind, check_of).
 */
#ifndef KILN_API_PROJECTS_H
#define KILN_API_PROJECTS_H

#include "backend/http.h"

#define API_PROJECT_RELEASES_MAX 5000

void api_projects_handle_list(struct http_req *req);
void api_projects_handle_detail(struct http_req *req);
void api_projects_handle_release(struct http_req *req);

#endif
