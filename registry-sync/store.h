/*
 * store: write what upstream says into Postgres, idempotently.
 *
 * store_page makes the database's picture of one project equal to its upstream
 * page: the project row (by normalized name, with its serial and page ETag),
 * one release per version found in the file names, one upstream_files row per
 * file; files absent from the page get deleted_at, releases left without live
 * files too, and yanks and unyanks follow the page (a release is yanked when all
 * its live files are). Running it twice with the same page changes nothing.
 *
 * These functions do not begin or commit: the caller wraps a page and its plan
 * in one transaction (BEGIN .. COMMIT), so a crash leaves either all or nothing.
 */
#ifndef KILN_SYNC_STORE_H
#define KILN_SYNC_STORE_H

#include "common/buf.h"
#include "common/kerr.h"
#include "registry-sync/upstream.h"

#include <libpq-fe.h>
#include <stdint.h>

struct store_stats {
	long files_written;  /* files inserted or changed */
	long files_deleted;  /* files newly marked deleted */
	long files_skipped;  /* files whose name gave no version */
};

/*
 * Store page p for the project called name (as upstream spells it; it must be
 * a valid project name). serial (-1: none) and page_etag (NULL: none) are kept
 * on the project for the next incremental sync. *project_id receives the
 * project's id. 0, KERR_INVAL for an invalid name, KERR_DB with e filled.
 */
int store_page(PGconn *c, const char *name, int64_t serial, const char *page_etag,
	const struct upstream_page *p, int64_t *project_id, struct store_stats *st,
	struct kerr *e);

/*
 * The listing, written whole: it replaces the table upstream_listing (TRUNCATE,
 * then rows by COPY FREEZE; see migrations/0007). Project rows are not made
 * here: store_page makes them. Use: store_listing_start, store_listing_add per
 * project, store_listing_finish, all inside the caller's transaction (nothing
 * else before them in it: COPY FREEZE needs the truncate to be the
 * transaction's first work); on any failure roll back, which ends a COPY in
 * progress and brings the previous listing back. The listing then stays for
 * store_listing_pending, store_listing_behind and store_prune_unlisted, until
 * the next start.
 */
struct store_listing {
	PGconn *c;
	struct buf chunk; /* COPY text not yet sent */
	long rows;
};

int store_listing_start(struct store_listing *l, PGconn *c, struct kerr *e);

/*
 * name must be a valid project name and norm its normalized form (nothing to
 * escape); each norm at most once per listing.
 */
int store_listing_add(struct store_listing *l, const char *name, const char *norm,
	int64_t serial, struct kerr *e);

/* End the COPY and analyze the table (the joins over it are planned from that). */
int store_listing_finish(struct store_listing *l, struct kerr *e);

/* Free what l holds (after finish, or to give up after a rollback). */
void store_listing_release(struct store_listing *l);

/*
 * The listed projects whose page must be fetched, by normalized name (bytewise
 * order), after `after` if not NULL: those without a serial in the listing,
 * those with no page stored or a stored page older than the listing's serial,
 * and deleted ones listed again. Columns: normalized, name, listed serial,
 * page_etag (NULLs as NULL). *out is the caller's to PQclear.
 */
int store_listing_pending(PGconn *c, const char *after, PGresult **out, struct kerr *e);

/* How many projects store_listing_pending would return (after = NULL), into *n. */
int store_listing_behind(PGconn *c, long *n, struct kerr *e);

/*
 * Mark deleted the projects that came from upstream (they have upstream files)
 * and are not in the listing. *n gets how many. Call only after a complete
 * listing was read.
 */
int store_prune_unlisted(PGconn *c, long *n, struct kerr *e);

/*
 * The normalized names store_prune_unlisted would mark deleted, one per row
 * (column 0), into *out (the caller PQclears it), for a caller that prunes only
 * some of them (store_project_gone each).
 */
int store_unlisted(PGconn *c, PGresult **out, struct kerr *e);

/*
 * The normalized version (into version) and kind ("sdist" or "wheel") of a
 * distribution file name of the project normalized as norm; 0, or KERR_INVAL
 * when the name gives no version or names another project.
 */
int store_file_version(const char *norm, const char *filename, const char **kind,
	struct buf *version, struct kerr *e);

/* The serial of the project's stored page: *serial, -1 if none (or no such project). */
int store_project_serial(PGconn *c, const char *normalized, int64_t *serial, struct kerr *e);

/*
 * Mark the project normalized deleted, if it came from upstream (it has
 * upstream files): its page answered 404. *n gets 1 if it was live, else 0.
 */
int store_project_gone(PGconn *c, const char *normalized, long *n, struct kerr *e);

/*
 * Read the sync_state row of upstream: *etag (malloc'd or NULL), *serial (-1 if
 * none), and the position of a full sync that did not finish: *pos_listing (the
 * key of the listing it walked) and *pos_after (the last project name done),
 * both malloc'd, or NULL when no sync was left unfinished.
 */
int store_sync_state_get(PGconn *c, const char *upstream, char **etag, int64_t *serial,
	char **pos_listing, char **pos_after, struct kerr *e);

/*
 * Record how far a full sync over the listing known by listing_key has come:
 * every project up to after (normalized, in bytewise order) is stored. Meant
 * to commit in the same transaction as the pages it covers.
 */
int store_sync_position_put(PGconn *c, const char *upstream, const char *listing_key,
	const char *after, struct kerr *e);

/* Note that the feed was read now (sync_state.last_feed_at). */
int store_sync_feed_seen(PGconn *c, const char *upstream, struct kerr *e);

/*
 * Upsert the sync_state row of upstream with the listing's ETag and serial,
 * once a full sync has stored every page; the position is cleared.
 */
int store_sync_state_put(PGconn *c, const char *upstream, const char *etag,
	int64_t serial, const char *mode, struct kerr *e);

#endif
