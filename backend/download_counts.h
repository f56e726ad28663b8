/*
 * download_counts: how often each wheel is downloaded, and by which installer.
 *
 * Counting happens in memory on the service thread: per (artifact, UTC day) and
 * per (project, UTC day, installer, installer version, Python major.minor).
 * Every flush interval one query (an insert per table, joined in one statement
 * through a data-modifying WITH, so both tables change together or not at all)
 * adds the counts to download_counts and download_agents through the async pool.
 *
 * Nothing is lost and nothing is counted twice: a flush marks the counts it
 * sends, and only when the database confirms the statement are exactly those
 * subtracted; counts made meanwhile stay, and a failed flush leaves everything
 * for the next one. Counts of artifacts or projects deleted in the meantime are
 * dropped by the statement (they have no row to count against).
 *
 * At shutdown download_counts_finish waits for a flush in flight (servicing the
 * loop a little longer) and download_counts_flush_sync writes the rest over a
 * blocking connection of its own.
 *
 * Memory is bounded: past DOWNLOAD_COUNTS_MAX keys per table new artifact keys
 * are dropped and new agent keys are counted as installer "unknown" (each
 * counted in kiln_downloads_dropped_total). Service thread only.
 */
#ifndef KILN_DOWNLOAD_COUNTS_H
#define KILN_DOWNLOAD_COUNTS_H

#include "common/kerr.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DOWNLOAD_COUNTS_MAX 100000

struct download_counts;
struct metrics;
struct pgpool;
struct useragent;

/*
 * Start counting; the first flush runs flush_seconds (>= 1) from now, on the
 * context's loop, through db. metrics may be NULL. Never fails (aborts on OOM).
 */
struct download_counts *download_counts_new(struct lws_context *context, struct pgpool *db,
					    struct metrics *metrics, int flush_seconds);

/*
 * Stop the timer and free c (NULL is fine). Counts not yet written are lost: call
 * download_counts_finish and download_counts_flush_sync first. Free c after the
 * pool: pgpool_free fails a flush still in flight by calling back into c.
 */
void download_counts_free(struct download_counts *c);

/* Count one download of artifact_id (of project_id) at time now by ua. */
void download_counts_add(struct download_counts *c, int64_t artifact_id, int64_t project_id,
			 const struct useragent *ua, time_t now);

/*
 * Start a flush now unless one is in flight or there is nothing to write.
 * 1 if a flush was started, else 0.
 */
int download_counts_flush(struct download_counts *c);

/*
 * For shutdown, after the main loop stopped: cancel the timer and, if a flush is
 * in flight, service the loop until it completes or timeout_ms passes (then its
 * counts are kept, and may be written twice if the database did commit it).
 */
void download_counts_finish(struct download_counts *c, int timeout_ms);

/*
 * Write every pending count now over a new blocking connection to db_url. 0 (the
 * counts are cleared), or KERR_DB with e set (they are kept). No flush may be in
 * flight (call download_counts_finish first).
 */
int download_counts_flush_sync(struct download_counts *c, const char *db_url, struct kerr *e);

/* Downloads counted and not yet written (sum over artifacts). */
uint64_t download_counts_pending(const struct download_counts *c);

#endif
