/* metrics: counters and histograms in Prometheus text format (contract in metrics.h). */
#include "backend/metrics.h"

#include "backend/pgpool.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define METRICS_ROUTES 64
#define METRICS_STATUSES 16
#define METRICS_COUNTERS 64

static const double metrics__buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
					   1,      2.5,     5,      10 };
#define METRICS_NBUCKETS (sizeof(metrics__buckets) / sizeof(metrics__buckets[0]))

struct metrics_route {
	const char *name;
	int statuses[METRICS_STATUSES];
	uint64_t status_counts[METRICS_STATUSES];
	uint64_t buckets[METRICS_NBUCKETS]; /* non-cumulative; summed at render */
	uint64_t count;
	double sum;
};

struct metrics_counter {
	const char *name;
	const char *help;
	uint64_t value;
};

struct metrics {
	struct metrics_route routes[METRICS_ROUTES];
	int nroutes;
	struct metrics_counter counters[METRICS_COUNTERS];
	int ncounters;
};

struct metrics *metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	free(m);
}

void metrics_observe_request(struct metrics *m, const char *route, int status, int64_t usec)
{
	struct metrics_route *r = NULL;
	double secs = (double)usec / 1e6;
	size_t b;
	int i;

	for (i = 0; i < m->nroutes; i++)
		if (m->routes[i].name == route || !strcmp(m->routes[i].name, route)) {
			r = &m->routes[i];
			break;
		}
	if (!r) {
		if (m->nroutes == METRICS_ROUTES)
			return;
		r = &m->routes[m->nroutes++];
		r->name = route;
	}
	for (i = 0; i < METRICS_STATUSES; i++) {
		if (r->statuses[i] == status || r->statuses[i] == 0) {
			r->statuses[i] = status;
			r->status_counts[i]++;
			break;
		}
	}
	for (b = 0; b < METRICS_NBUCKETS; b++)
		if (secs <= metrics__buckets[b]) {
			r->buckets[b]++;
			break;
		}
	r->count++;
	r->sum += secs;
}

void metrics_add(struct metrics *m, const char *name, const char *help, uint64_t delta)
{
	for (int i = 0; i < m->ncounters; i++)
		if (m->counters[i].name == name || !strcmp(m->counters[i].name, name)) {
			m->counters[i].value += delta;
			return;
		}
	if (m->ncounters == METRICS_COUNTERS)
		return;
	m->counters[m->ncounters].name = name;
	m->counters[m->ncounters].help = help;
	m->counters[m->ncounters].value = delta;
	m->ncounters++;
}

int metrics_render(const struct metrics *m, const struct pgpool_stats *pool, struct buf *out)
{
	int rc = 0;

	rc |= buf_puts(out, "# HELP kiln_http_requests_total HTTP requests by route and status.\n"
			    "# TYPE kiln_http_requests_total counter\n");
	for (int i = 0; i < m->nroutes; i++)
		for (int s = 0; s < METRICS_STATUSES && m->routes[i].statuses[s]; s++)
			rc |= buf_printf(out, "kiln_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
					 m->routes[i].name, m->routes[i].statuses[s],
					 (unsigned long long)m->routes[i].status_counts[s]);
	rc |= buf_puts(out, "# HELP kiln_http_request_duration_seconds Time from request to response handed to the socket.\n"
			    "# TYPE kiln_http_request_duration_seconds histogram\n");
	for (int i = 0; i < m->nroutes; i++) {
		const struct metrics_route *r = &m->routes[i];
		uint64_t cum = 0;
		for (size_t b = 0; b < METRICS_NBUCKETS; b++) {
			cum += r->buckets[b];
			rc |= buf_printf(out, "kiln_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
					 r->name, metrics__buckets[b], (unsigned long long)cum);
		}
		rc |= buf_printf(out, "kiln_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
				 r->name, (unsigned long long)r->count);
		rc |= buf_printf(out, "kiln_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", r->name, r->sum);
		rc |= buf_printf(out, "kiln_http_request_duration_seconds_count{route=\"%s\"} %llu\n", r->name,
				 (unsigned long long)r->count);
	}
	for (int i = 0; i < m->ncounters; i++)
		rc |= buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m->counters[i].name,
				 m->counters[i].help, m->counters[i].name, m->counters[i].name,
				 (unsigned long long)m->counters[i].value);
	if (pool) {
		rc |= buf_printf(out,
				 "# HELP kiln_db_pool_connections Database connections by state.\n"
				 "# TYPE kiln_db_pool_connections gauge\n"
				 "kiln_db_pool_connections{state=\"configured\"} %d\n"
				 "kiln_db_pool_connections{state=\"connected\"} %d\n"
				 "kiln_db_pool_connections{state=\"busy\"} %d\n"
				 "# HELP kiln_db_pool_queued Queries waiting for a connection.\n"
				 "# TYPE kiln_db_pool_queued gauge\n"
				 "kiln_db_pool_queued %d\n"
				 "# HELP kiln_db_queries_total Queries completed.\n"
				 "# TYPE kiln_db_queries_total counter\n"
				 "kiln_db_queries_total{result=\"ok\"} %llu\n"
				 "kiln_db_queries_total{result=\"error\"} %llu\n"
				 "# HELP kiln_db_reconnects_total Reconnection attempts.\n"
				 "# TYPE kiln_db_reconnects_total counter\n"
				 "kiln_db_reconnects_total %llu\n",
				 pool->size, pool->connected, pool->busy, pool->queued, pool->queries,
				 pool->errors, pool->reconnects);
	}
	return rc ? KERR_TOOBIG : 0;
}

int metrics_render_repro(const struct metrics_repro *r, struct buf *out)
{
	int rc = buf_printf(out,
			    "# HELP kiln_repro_results Reproducibility checks decided, by result.\n"
			    "# TYPE kiln_repro_results gauge\n"
			    "kiln_repro_results{result=\"reproducible\"} %lld\n"
			    "kiln_repro_results{result=\"differs\"} %lld\n"
			    "kiln_repro_results{result=\"failed\"} %lld\n"
			    "# HELP kiln_repro_checks_pending Reproducibility checks queued or running.\n"
			    "# TYPE kiln_repro_checks_pending gauge\n"
			    "kiln_repro_checks_pending %lld\n",
			    r->reproducible, r->differs, r->failed, r->pending);
	return rc ? KERR_TOOBIG : 0;
}
