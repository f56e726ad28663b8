/*
 * metrics: the backend's Prometheus metrics. Requests are counted by route and
 * status, with a latency histogram per route; other parts add named counters
 * (index cache hits and misses, uploads, ...) and gauges are read at scrape
 * time: the database pool's own, and the reproducibility counts from a query
 * (backend/health.c). Used from the service thread only, so no locking.
 */
#ifndef KILN_METRICS_H
#define KILN_METRICS_H

#include "common/buf.h"

#include <stdint.h>

struct metrics;
struct pgpool_stats;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Count one finished request: route label (a static string), status, latency. */
void metrics_observe_request(struct metrics *m, const char *route, int status, int64_t usec);

/* Add delta to the counter name (a static string; created on first use, at most 64). */
void metrics_add(struct metrics *m, const char *name, const char *help, uint64_t delta);

/* Append the exposition text (format 0.0.4) to out, with the pool's gauges. */
int metrics_render(const struct metrics *m, const struct pgpool_stats *pool, struct buf *out);

/* Reproducibility checks (docs/builds.md), read from the database at scrape time. */
struct metrics_repro {
	long long reproducible, differs, failed; /* decided checks, by result */
	long long pending;                       /* checks queued, assigned or running */
};

/* Append kiln_repro_results{result=...} and kiln_repro_checks_pending to out. */
int metrics_render_repro(const struct metrics_repro *r, struct buf *out);

#endif
