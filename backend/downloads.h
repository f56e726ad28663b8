/*
 * downloads: the files the index links to.
 *
 *   GET|HEAD /files/{project}/{filename}           the wheel
 *   GET|HEAD /files/{project}/{filename}.metadata  its core metadata (PEP 658)
 *
 * {project} is the normalized name (other spellings get a 301 to it). The
 * artifact row is looked up through the async pool, with the answers (found or
 * not) kept in a small cache that kiln_index notifications invalidate per
 * project, as the index's pages are.
 *
 * Wheels are immutable (a filename names one set of bytes forever), so every
 * answer carries a strong ETag of the file's sha256 and a year-long immutable
 * Cache-Control, honours If-None-Match (304), and never a Content-Encoding
 * (pip hashes the raw bytes). With the fs storage driver the file is streamed
 * from disk in fixed-size pieces, with Range (single ranges: 206; several: the
 * whole file; none satisfiable: 416) and If-Range, as uv's HEAD-then-Range
 * reading of a remote zip and pip's resumed downloads need. With the s3 driver
 * the answer is a 302 to a presigned URL (valid KILN_S3_PRESIGN_TTL seconds);
 * clients send their Range to the object store themselves.
 *
 * The .metadata file comes from artifacts.metadata, checked against
 * metadata_sha256 before it is served (text/plain; charset=utf-8, Range too).
 *
 * Each counted download (a GET of a wheel answered 200, 302, or 206 from byte
 * 0) goes to download_counts with the installer and Python version parsed from
 * the User-Agent; the kiln_downloads_* counters in /metrics say what was served.
 */
#ifndef KILN_DOWNLOADS_H
#define KILN_DOWNLOADS_H

#include "backend/http.h"

struct server;

/*
 * Set up the lookup cache, LISTEN kiln_index on the server's pool and start the
 * download counters (flushed every KILN_DOWNLOADS_FLUSH_SECONDS). Needs srv's
 * context, db, metrics, storage and cfg. 0 or KERR_*.
 */
int downloads_init(struct server *srv);

/*
 * After the main loop ended: wait for a counts write in flight, then write the
 * remaining counts over a blocking connection (logging if that fails).
 */
void downloads_shutdown(struct server *srv);

/* Free everything (after pgpool_free, before the lws context is destroyed). */
void downloads_release(struct server *srv);

/* The route handler for /files/{project}/{filename}. */
void downloads_handle_file(struct http_req *req);

#endif
