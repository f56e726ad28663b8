/*
 * storage: where Kiln keeps artifacts (wheels, build logs, backups). One
 * interface, two drivers, chosen by KILN_STORAGE:
 *
 *  - s3: an S3-compatible store (KILN_S3_ENDPOINT, _BUCKET, _REGION, _ACCESS_KEY,
 *    _SECRET_KEY), path-style URLs ({endpoint}/{bucket}/{key}), SigV4-signed,
 *    over libcurl. Large files go up as multipart uploads.
 *  - fs: plain files under KILN_STORAGE_DIR (made at open if missing). A put
 *    writes a temporary file in the target directory, fsyncs it and renames it
 *    into place, so no reader ever sees a partial object.
 *
 * Every call is BLOCKING (network or disk I/O): call it from a worker thread,
 * never from an event loop. One struct storage may be used by several threads
 * at once: after storage_open (and storage_set_multipart, if used) it is never
 * written, and each call uses a libcurl handle of its own. Data streams both
 * ways in fixed-size pieces, so memory does not grow with object size.
 *
 * Keys are relative paths of at most STORAGE_KEY_MAX bytes from the characters
 * A-Z a-z 0-9 . _ / -, with no empty, "." or ".." segment and no leading '/'
 * (storage_key_check). Every call checks its key before any I/O, so a key can
 * never name anything outside the store. The fs driver cannot hold both "a" and
 * "a/b" (a file cannot also be a directory): such a put fails with KERR_CONFLICT.
 *
 * Errors follow kerr.h: KERR_INVAL for a bad key or argument, KERR_NOTFOUND for
 * a missing object, KERR_AUTH when S3 refuses the credentials, KERR_TIMEOUT,
 * KERR_AGAIN for a failure worth retrying later (S3 5xx, connection refused),
 * KERR_IO for other I/O failures, KERR_PROTO for an S3 answer Kiln cannot read.
 * S3 messages carry the S3 error Code and Message of the response.
 *
 * S3 requests time out when connecting takes over 10 s or a transfer moves less
 * than 1 KiB/s for 60 s. Idempotent requests (all but the multipart create and
 * complete) are tried up to 3 times over about 1.5 s on KERR_AGAIN, unless
 * bytes already reached a get's sink. Uploads send the sha256 of their body as
 * x-amz-content-sha256, computed by reading the file once before sending it.
 */
#ifndef KILN_STORAGE_H
#define KILN_STORAGE_H

#include "common/buf.h"
#include "common/config.h"
#include "common/kerr.h"

#include <stddef.h>
#include <stdint.h>

#define STORAGE_KEY_MAX 1024
/* Default multipart threshold and part size (storage_set_multipart). */
#define STORAGE_MULTIPART_THRESHOLD (64ull << 20)
#define STORAGE_PART_SIZE (16ull << 20)
/* The smallest part S3 accepts (all but the last part). */
#define STORAGE_PART_MIN (5ull << 20)

struct storage;

/*
 * Receives the bytes of storage_get in order, a piece at a time. Returns 0 to go
 * on, or a negative KERR_* code to stop the transfer (storage_get then returns
 * that code, with a message saying the sink refused the data).
 */
typedef int (*storage_sink_fn)(void *ctx, const void *p, size_t n);
/* Called once per key by storage_list. Returns 0 to go on, negative to stop. */
typedef int (*storage_each_fn)(void *ctx, const char *key, uint64_t size);

/*
 * Open the driver cfg selects (KILN_STORAGE). The fs driver makes its root
 * directory if missing and remembers its absolute path; the s3 driver checks
 * the endpoint URL and bucket name but does not connect. *out is the caller's,
 * to storage_free. 0, or KERR_INVAL/KERR_IO with e saying what is wrong.
 */
int storage_open(const struct config *cfg, struct storage **out, struct kerr *e);
/* Free s (NULL is fine). No call on s may be running. */
void storage_free(struct storage *s);
/* "s3" or "fs". */
const char *storage_driver_name(const struct storage *s);

/*
 * S3 only (a no-op for fs): files of at least threshold bytes (>= 1) are
 * uploaded in parts of part_size bytes (>= STORAGE_PART_MIN; doubled as often
 * as needed to stay within S3's 10,000 parts). Smaller files go up in a single
 * PUT. Defaults: STORAGE_MULTIPART_THRESHOLD, STORAGE_PART_SIZE. Call before s
 * is shared between threads. 0 or KERR_INVAL.
 */
int storage_set_multipart(struct storage *s, uint64_t threshold, uint64_t part_size,
			  struct kerr *e);

/*
 * Is key acceptable (see above)? 0, or KERR_INVAL with e saying why ("invalid
 * key 'a//b': empty path segment"); the key is echoed only when printable.
 */
int storage_key_check(const char *key, struct kerr *e);
/* The same as a yes/no answer. */
int storage_key_valid(const char *key);

/*
 * Store the file at path under key, replacing any object there. content_type
 * may be NULL (application/octet-stream; the fs driver ignores it), else 1 to
 * 255 printable ASCII characters (KERR_INVAL otherwise). On failure
 * nothing is visible under key that was not there before (S3 multipart uploads
 * are aborted). 0 or negative.
 */
int storage_put_file(struct storage *s, const char *key, const char *path,
		     const char *content_type, struct kerr *e);

/* Store n bytes at p under key (for small objects: logs, indexes). Like put_file. */
int storage_put_mem(struct storage *s, const char *key, const void *p, size_t n,
		    const char *content_type, struct kerr *e);

/*
 * Stream the bytes [offset, offset+length) of key to sink (length 0: to the
 * end; a range running past the end stops at the end). KERR_NOTFOUND if there is
 * no such object, KERR_INVAL if offset is at or past its end (except 0 on an
 * empty object). If it fails after some bytes reached the sink, the sink has
 * seen a prefix of the range only: callers that write files should write to a
 * temporary file and rename on success.
 */
int storage_get(struct storage *s, const char *key, uint64_t offset, uint64_t length,
		storage_sink_fn sink, void *ctx, struct kerr *e);

/* The size of key's object in *size. KERR_NOTFOUND if there is none. */
int storage_stat(struct storage *s, const char *key, uint64_t *size, struct kerr *e);

/* Delete key's object. Deleting a missing object succeeds. */
int storage_delete(struct storage *s, const char *key, struct kerr *e);

/*
 * Call each for every object whose key starts with prefix ("" or NULL: all).
 * prefix is checked like a key, except that it may be empty or end in '/'.
 * Stops early, returning that code, if each returns non-zero. Order: fs, byte
 * order of keys; s3, the store's order, which is byte order on AWS S3 but not on
 * every S3-compatible store (SeaweedFS lists a directory's keys where the
 * directory's name sorts: "a/1" before "a-3"). The fs driver skips files whose
 * names could not be keys (its own temporary files among them). Memory does not
 * grow with the number of keys (s3: one page of 1000 at a time).
 */
int storage_list(struct storage *s, const char *prefix, storage_each_fn each, void *ctx,
		 struct kerr *e);

/*
 * S3: append to url_out a presigned GET URL for key, valid expires_seconds
 * (0: KILN_S3_PRESIGN_TTL; at most 604800). It does not check that the object
 * exists. fs: KERR_INVAL ("the fs driver cannot presign").
 */
int storage_presign_get(struct storage *s, const char *key, int expires_seconds,
			struct buf *url_out, struct kerr *e);

/*
 * fs: append to path_out the absolute path of key's file (which may not exist),
 * for callers that serve files themselves. s3: KERR_INVAL.
 */
int storage_fs_path(struct storage *s, const char *key, struct buf *path_out, struct kerr *e);

#endif
