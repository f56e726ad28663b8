/*
 * pyname: Python project names (PEP 503 / the "Names and normalization"
 * specification).
 *
 * A valid name matches ^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$ ignoring case:
 * ASCII letters and digits, with '.', '_' and '-' allowed inside but not at
 * either end. Its normalized form is re.sub(r"[-_.]+", "-", name).lower(), which
 * is how Kiln stores, compares and routes names (/simple/<normalized>/).
 *
 * Inputs are (pointer, length) pairs and need no NUL terminator. Output goes
 * through struct buf and is appended, so callers can build paths in one buffer.
 */
#ifndef KILN_PYNAME_H
#define KILN_PYNAME_H

#include <stddef.h>

struct buf;
struct kerr;

/* 1 if the n bytes at s are a valid project name, else 0 (also for n == 0). */
int pyname_valid(const char *s, size_t n);

/*
 * Append the normalized form of the name at s to out ("Friendly.Bard" ->
 * "friendly-bard"). Returns 0; KERR_INVAL (message in e, if not NULL) when the
 * name is not valid; KERR_TOOBIG when out's maximum would be passed. On failure
 * out is unchanged.
 */
int pyname_normalize(const char *s, size_t n, struct buf *out, struct kerr *e);

/*
 * Append the form a name takes inside wheel and sdist filenames (binary and
 * source distribution format specifications): the normalized name with '-'
 * replaced by '_' ("Friendly.Bard" -> "friendly_bard"). Same returns and
 * guarantees as pyname_normalize().
 */
int pyname_to_filename_component(const char *s, size_t n, struct buf *out,
	struct kerr *e);

/*
 * 1 if a and b are both valid and name the same project (their normalized forms
 * are equal), else 0. Allocates nothing.
 */
int pyname_equal(const char *a, size_t na, const char *b, size_t nb);

#endif
