/*
 * api_farm: the farm's state in REST API v1 (read side).
 *
 *   GET /api/v1/targets    build targets with their queue sizes
 *   GET /api/v1/builders   builders: name, state (enabled, paused, disabled),
 *                          capabilities, version, last_seen, online (it
 *                          answered its backend's pings within two lease
 *                          ticks, plus 5 s), live jobs. Never token hashes.
 *   GET /api/v1/stats      the home page counters
 *   GET /api/v1/stats/history  the last 24 hours by the hour: builds that
 *                          succeeded and failed in each, and the queue's
 *                          length at each hour's end (now, for the current one)
 *
 * Targets and builders are few: each list answers at most 500, no pagination.
 */
#ifndef KILN_API_FARM_H
#define KILN_API_FARM_H

#include "backend/http.h"

void api_farm_handle_targets(struct http_req *req);
void api_farm_handle_builders(struct http_req *req);
void api_farm_handle_stats(struct http_req *req);
void api_farm_handle_history(struct http_req *req);

#endif
