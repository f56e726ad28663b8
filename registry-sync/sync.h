/*
 * sync: one pass of kiln-sync over the upstream index, full or from the feed.
 *
 * A full sync reads the listing (conditionally, with the ETag stored last
 * time: 304 means nothing to do) and stores it whole (table upstream_listing:
 * every project with the serial the listing gives, see store.h), then walks,
 * in normalized-name order, the projects whose page is behind: new, serial
 * risen, deleted and back (upstreams without serials: every page,
 * conditionally with its ETag). Pages are fetched a batch at a time and
 * written in one transaction per batch, together with the sync position
 * (sync_state.position: the listing it belongs to and the last name done), so
 * a crash or kill -9 resumes after the last committed batch instead of
 * starting again; each page is stored and planned under its own savepoint, so
 * one bad page does not cost the batch. The
 * listing's ETag and serial are recorded only when every page made it in.
 *
 * A feed sync reads the upstream's feed of newest releases (RSS, see feed.h)
 * and refreshes just the projects it names, so a new release is noticed within
 * seconds while the full listing reconciles on a longer interval. A page the
 * feed led to must list the announced version and be no older than the page
 * stored, else it is fetched again (a CDN's stale copy); after the last
 * attempt, a page not older than the stored one is stored anyway and the next
 * full sync catches up.
 *
 * A page older than the serial its listing promised (a stale CDN copy) is
 * fetched again with backoff, never stored. A project page answering 404 is a
 * project that went away between listing and page: it is marked deleted and
 * does not fail the sync.
 */
#ifndef KILN_SYNC_SYNC_H
#define KILN_SYNC_SYNC_H

#include "common/kerr.h"
#include "registry-sync/selection.h"
#include "registry-sync/upstream.h"

#include <libpq-fe.h>
#include <signal.h>

struct sync {
	PGconn *db;                        /* borrowed, holds the sync lock */
	struct upstream_client http;       /* owned */
	const char *upstream;              /* simple API root, borrowed */
	const char *feed_url;              /* feed of newest releases, borrowed, "" for none */
	long batch;                        /* pages per transaction */
	int listing_only;                  /* full syncs store the listing, count the pages
	                                      behind it (logged), fetch no page */
	/*
	 * KILN_SYNC_PROJECTS (borrowed; NULL or empty: every project): the only
	 * projects stored from the listing, fetched, and followed when they leave
	 * the listing. Others are never marked deleted, so narrowing the selection
	 * loses nothing, and the listing's ETag is not kept (a 304 must not hide
	 * what a widened selection wants next time).
	 */
	const struct selection *only;
	long retry_base_ms;                /* first backoff step of retries */
	volatile sig_atomic_t *stop;       /* set by a signal: finish the batch and return */
	char *feed_etag;                   /* owned: the feed's ETag, for conditional polls */
	char *feed_seen;                   /* owned: "\nTITLE\n..." of the previous poll's items */
	/* Counters of the last sync_full / sync_feed call. */
	long projects, fetched, unchanged, failed, planned, skipped, gone;
};

/*
 * Prepare s (upstream_client_init, zeroed counters) for the given database
 * and settings. 0, or KERR_INTERNAL. Release with sync_release.
 */
int sync_init(struct sync *s, PGconn *db, const char *upstream, const char *feed_url,
	long batch, volatile sig_atomic_t *stop, struct kerr *e);
void sync_release(struct sync *s);

/*
 * One full sync. 0 when every page was stored (or the listing was a 304);
 * otherwise the last failure, with e filled; what was committed stays.
 * KERR_AGAIN when a stop was asked before the end of the listing.
 */
int sync_full(struct sync *s, struct kerr *e);

/*
 * One poll of the feed: refresh the projects it names (all of them on the
 * first poll, then only if the feed changed). 0, or the last failure.
 */
int sync_feed(struct sync *s, struct kerr *e);

#endif
