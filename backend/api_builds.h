/*
 * api_builds: builds and artifacts in REST API v1 (read side).
 *
 *   GET /api/v1/builds?state=&project=&target=&builder=&limit=&cursor=
 *       Builds (one per attempt at a job), newest first, filtered by build
 *       state, project (any spelling of its name), target name and builder
 *       name. cursor is the id of the last build of the previous page.
 *   GET /api/v1/builds/{id}
 *       One build: its job, release, project, target, builder, state, phase,
 *       timings, exit code, failure reason, log size and every artifact it
 *       uploaded (published or not yet). A job queued again that no online
 *       builder serves has job.waiting_for ("aarch64 builder", as the queue).
 *   GET /api/v1/artifacts/{id}
 *       One artifact: project, version, wheel tags, requires_python, hashes,
 *       download count and its public URL.
 *
 * Nothing secret is ever selected: no storage keys, no token or lease hashes.
 */
#ifndef KILN_API_BUILDS_H
#define KILN_API_BUILDS_H

#include "backend/http.h"

void api_builds_handle_list(struct http_req *req);
void api_builds_handle_detail(struct http_req *req);
void api_builds_handle_artifact(struct http_req *req);

#endif
