/*
 * health: /healthz (the process answers), /readyz (the database answers a query
 * now), /metrics (Prometheus text).
 */
#ifndef KILN_HEALTH_H
#define KILN_HEALTH_H

#include "backend/http.h"

void health_handle_live(struct http_req *req);
void health_handle_ready(struct http_req *req);
void health_handle_metrics(struct http_req *req);

#endif
