/*
 * upload: builders put wheels here.
 *
 *   PUT /api/v1/jobs/{job}/artifacts/{filename}
 *   Authorization: Bearer <the job's lease token>
 *
 * Nothing is visible until everything checked out: the lease is checked before
 * any body byte is read (the socket is paused meanwhile); the body streams to a
 * private temp file while its SHA-256 and size are computed; then, on a worker
 * thread, the wheel is inspected (zip sound, entry paths safe, zip-bomb limits,
 * METADATA present and matching) and stored under a content-addressed key;
 * only then is the artifact row inserted, in one statement that re-checks the
 * lease. Re-uploading the same bytes under the same name answers 200; other
 * bytes under an existing name answer 409 and leave the stored file alone. A
 * failure at any step leaves no row and no stored object behind.
 */
#ifndef KILN_UPLOAD_H
#define KILN_UPLOAD_H

#include "backend/http.h"

void upload_handle(struct http_req *req);

/* The storage key of a wheel: wheels/{sha[0:2]}/{sha}/{filename}. 0 or KERR_TOOBIG. */
int upload_storage_key(const char *sha256, const char *filename, char *out, size_t n);

#endif
