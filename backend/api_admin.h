/*
 * api_admin: the build queue's admin side in REST API v1, for the web UI;
 * `kilnctl job cancel|rebuild|requeue-failed|builder pause|resume|queue` do the
 * same things with the same statements (common/queue_sql.h).
 *
 * Every /api/v1/admin route needs an admin bearer token (admin_auth.h: 401
 * without one or with a malformed one, 403 for an unknown or disabled one),
 * takes an optional JSON object as its body (at most API_ADMIN_BODY_MAX bytes;
 * malformed JSON or a mistyped field is a 400 naming it) and logs what it did
 * with the token's name:
 *
 *   POST /api/v1/admin/jobs/{id}/cancel          {"reason": TEXT}
 *        A queued, assigned or running job becomes cancelled; the builder
 *        holding it is told to stop by whichever replica it is connected to
 *        (NOTIFY kiln_cancel). 404 no such job, 409 the job already ended.
 *   POST /api/v1/admin/jobs/{id}/priority        {"priority": N}
 *        A queued job's priority (-1000 to 1000; higher goes first; a raise
 *        puts it first among its priority). 404 no such job, 409 not queued.
 *   POST /api/v1/admin/projects/{name}/rebuild   {"version": V, "target": T, "priority": N}
 *        Queue a job, at QUEUE_ADMIN_PRIORITY, for each (release with a
 *        source, enabled target) of the project, or of the given release or
 *        target, that has no live job. 404 for an unknown project, release or
 *        target, 409 for a disabled target.
 *   POST /api/v1/admin/jobs/requeue-failed       {"project": P, "target": T,
 *                                                 "class": C}
 *        Queue a new job wherever the latest job of a (release, enabled
 *        target) failed (with failure class C). Answers the counts.
 *   GET /api/v1/admin/projects/{name}/native-packages
 *        The project's native packages, who added each (an admin token's
 *        name; or source "auto" with the build that suggested it), and when.
 *   POST /api/v1/admin/projects/{name}/native-packages {"packages": [P...]}
 *        Add Debian packages (400 for a name that is not one; 409 past
 *        DEBPKG_PROJECT_MAX, all or nothing); then the project's jobs whose
 *        latest attempt failed with class native-dependency are queued again.
 *   DELETE /api/v1/admin/projects/{name}/native-packages/{package}
 *        Remove one (404 if the project does not have it); requeues the same.
 *   POST /api/v1/admin/builders/{name}/pause     (and /resume)
 *        The builder gets no new job (again), on every replica at once (NOTIFY
 *        kiln_builders); what it runs it finishes.
 *   POST /api/v1/admin/builds/{id}/check
 *        Queue a reproducibility check of the build's job, whatever
 *        KILN_REPRO says (queue_sql_check): 202 {"job": the check's job id,
 *        "check_of", "build", "priority"}. 404 no such build; 409 when the job
 *        did not succeed with published wheels of its own, is a check itself,
 *        or a check of its release and target is already live (named).
 *
 * And the queue page's read side, public like the rest of the read API:
 *
 *   GET /api/v1/queue?state=&target=&project=&limit=&cursor=
 *        Live jobs: assigned and running first, then queued ones in the
 *        order builders will claim them (priority, fair share, age). A queued
 *        job that no online builder serves (none of its target's architecture,
 *        natively or emulated) has waiting_for "<arch> builder"; kind says
 *        whether a job is a build or a reproducibility check.
 */
#ifndef KILN_API_ADMIN_H
#define KILN_API_ADMIN_H

#include "backend/http.h"

/* Largest request body an admin route reads. */
#define API_ADMIN_BODY_MAX (16 * 1024)

void api_admin_handle_cancel(struct http_req *req);
/* POST /api/v1/admin/jobs/{id}/priority {"priority": N}: a queued job's priority. */
void api_admin_handle_priority(struct http_req *req);
void api_admin_handle_rebuild(struct http_req *req);
void api_admin_handle_requeue_failed(struct http_req *req);
void api_admin_handle_pause(struct http_req *req);
void api_admin_handle_resume(struct http_req *req);
/* POST /api/v1/admin/builds/{id}/check: queue a reproducibility check. */
void api_admin_handle_check(struct http_req *req);
void api_admin_handle_queue(struct http_req *req);
/* GET (list) and POST (add) of /api/v1/admin/projects/{name}/native-packages. */
void api_admin_handle_deps(struct http_req *req);
void api_admin_handle_deps_remove(struct http_req *req);

#endif
