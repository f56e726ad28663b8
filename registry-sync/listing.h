/*
 * listing: the PEP 691 JSON listing (/simple/ as JSON) parsed as a stream.
 *
 * The public index's listing is about 40 MB of JSON for 700,000+ projects.
 * Parsed whole (cJSON), its tree takes several times that; parsed as it
 * arrives (yajl's token callbacks), only the project names and serials are
 * kept, and the body never needs to be held. (libwebsockets' LEJP did this
 * before, at four times yajl's instructions per byte.)
 *
 * Feed the bytes in any number of pieces, then end. The checks are those of a
 * whole-document parse: an object at the root, "meta" an object, "projects" an
 * array of objects each with a string "name" and an optional non-negative
 * integer "_last-serial"; anything else is KERR_INVAL with a message naming
 * the entry ("projects[3]: ..."), and the listing is then emptied. Bounds,
 * so a hostile listing cannot make the parse hold much: a name of at most
 * 1024 bytes, nesting at most 64 deep, and no more than 1 MiB of input without
 * a token ending, give or take 64 KiB (a longer string or run of white space
 * is refused).
 */
#ifndef KILN_SYNC_LISTING_H
#define KILN_SYNC_LISTING_H

#include "common/kerr.h"
#include "registry-sync/upstream.h"

#include <stddef.h>

struct listing_stream;

/* Start parsing into *out (emptied now; the caller releases it). Never NULL. */
struct listing_stream *listing_stream_new(struct upstream_listing *out);

/* Parse the next n bytes. 0, or KERR_INVAL (every later call fails the same way). */
int listing_stream_feed(struct listing_stream *ls, const char *p, size_t n, struct kerr *e);

/* The document must be complete now. 0, or KERR_INVAL ("truncated", ...). */
int listing_stream_end(struct listing_stream *ls, struct kerr *e);

void listing_stream_free(struct listing_stream *ls);

#endif
