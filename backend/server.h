/*
 * server: what every handler may reach: configuration, the lws context, the
 * database pool, metrics. One per process; handlers get it through req->srv.
 */
#ifndef KILN_SERVER_H
#define KILN_SERVER_H

#include "common/config.h"

#include <libwebsockets.h>
#include <signal.h>

struct pgpool;
struct metrics;
struct index_cache;
struct storage;
struct workers;
struct bws_state;
struct log_state;
struct downloads;
struct storage_sweep;
struct provenance;

struct server {
	const struct config *cfg;
	struct lws_context *context;
	struct lws_vhost *vhost;
	struct pgpool *db;
	struct metrics *metrics;
	struct index_cache *index;
	struct storage *storage;  /* artifacts and logs (fs or s3 driver) */
	struct workers *workers;  /* blocking work off the loop */
	struct bws_state *builders; /* connected builders and the dispatcher */
	struct log_state *logs;     /* live log viewers */
	struct downloads *downloads; /* file lookups and download counters */
	struct storage_sweep *sweep; /* deletes objects no row references */
	struct provenance *provenance; /* the farm's signing key; NULL: provenance off */
	int repro_percent;        /* KILN_REPRO as a sample size, 0 (off) to 100 (all) */
	char *frontend_dir;       /* absolute path of the static UI */
	size_t max_body;          /* default request body limit */
	volatile sig_atomic_t stop; /* set by SIGTERM/SIGINT */
};

#endif
