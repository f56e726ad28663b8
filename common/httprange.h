/*
 * httprange: the request headers a file server reads to send part of a file or
 * nothing at all (RFC 9110 sections 13.1 and 14): Range, If-Range and
 * If-None-Match. They come from outside, so every function here accepts any
 * bytes and never reads past the terminating NUL.
 *
 * Kiln serves one range or the whole file: a Range header with several ranges is
 * answered with the whole representation (200), which RFC 9110 allows, so there
 * is no multipart/byteranges code to get wrong.
 */
#ifndef KILN_HTTPRANGE_H
#define KILN_HTTPRANGE_H

#include <stdint.h>

enum httprange_result {
	HTTPRANGE_FULL = 0,      /* no usable Range header: send everything (200) */
	HTTPRANGE_PARTIAL,       /* one satisfiable range, in *out: send it (206) */
	HTTPRANGE_UNSATISFIABLE, /* no range overlaps the representation (416) */
	HTTPRANGE_MULTI          /* several ranges, at least one satisfiable (Kiln: 200) */
};

/* A byte range, both ends inclusive (as in Content-Range): first <= last < size. */
struct httprange {
	uint64_t first;
	uint64_t last;
};

/*
 * Evaluate the Range header value (NULL or "" for none) against a representation
 * of size bytes. Accepted: "bytes=" (unit case-insensitive) then a comma-separated
 * list of "a-b", "a-" and "-n" with optional whitespace around the commas;
 * "a-b" with b past the end is cut at the end, "-n" with n >= size is the whole
 * file. Anything else (another unit, a syntax error, b < a) makes the header
 * ignored: HTTPRANGE_FULL, as RFC 9110 permits. An empty representation has no
 * satisfiable byte, so a suffix range on it is ignored too (HTTPRANGE_FULL).
 * Numbers too large for 64 bits saturate. *out is written only for
 * HTTPRANGE_PARTIAL.
 */
enum httprange_result httprange_parse(const char *value, uint64_t size, struct httprange *out);

/*
 * Does a Range header apply, given the If-Range value (NULL or "" for none) and
 * the representation's strong entity tag (with its quotes, "\"abc\"")? 1 when
 * there is no If-Range or it is exactly that strong tag; 0 for any other tag, a
 * weak tag or a date (Kiln sends no Last-Modified, so no date can match): then
 * the whole representation is sent.
 */
int httprange_if_range(const char *value, const char *etag);

/*
 * Does If-None-Match (NULL or "" for none) match etag (with its quotes)? 1 for
 * "*" or a list holding the tag, compared weakly (W/"x" matches "x"); 0 when
 * absent, not matching, or malformed from the first bad element on.
 */
int httprange_none_match(const char *value, const char *etag);

#endif
