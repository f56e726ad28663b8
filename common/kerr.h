/*
 * kerr: Kiln's one error convention.
 *
 * Every fallible function returns int: 0 on success, a negative KERR_* code on
 * failure. Where a human needs to know more, the function also takes a
 * `struct kerr *` (which may be NULL) and fills its message in the postgres
 * style: lowercase, no trailing period, what failed and why, e.g.
 * "could not open 'x.whl': No such file or directory".
 *
 * The codes map onto HTTP statuses (kerr_http_status) so an API handler can turn
 * any failure into a JSON error body without a second table.
 */
#ifndef KILN_KERR_H
#define KILN_KERR_H

#include <stddef.h>

enum kerr_code {
	KERR_OK = 0,
	KERR_INVAL = -1,    /* malformed input from outside */
	KERR_NOMEM = -2,    /* reserved: xalloc aborts instead */
	KERR_IO = -3,       /* file, socket or peer I/O failed */
	KERR_NOTFOUND = -4, /* the thing asked for does not exist */
	KERR_CONFLICT = -5, /* exists already / state forbids it */
	KERR_TOOBIG = -6,   /* a size limit was hit */
	KERR_DB = -7,       /* the database failed or refused */
	KERR_PROTO = -8,    /* a peer broke the protocol */
	KERR_AUTH = -9,     /* missing or bad credentials */
	KERR_TIMEOUT = -10, /* a deadline passed */
	KERR_AGAIN = -11,   /* transient: retry later */
	KERR_INTERNAL = -12 /* a bug or an impossible state */
};

#define KERR_MSG_MAX 512

struct kerr {
	int code;
	char msg[KERR_MSG_MAX];
};

/* Reset e (if not NULL) to "no error". */
void kerr_clear(struct kerr *e);

/*
 * Record a failure: if e is not NULL, store code and the formatted message
 * (truncated to KERR_MSG_MAX-1 bytes). Returns code, so callers can write
 * `return kerr_set(e, KERR_INVAL, "bad version '%s'", s);`.
 */
int kerr_set(struct kerr *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix e's message with context ("loading config: " + old message). Returns
 * e->code (or KERR_INTERNAL if e is NULL).
 */
int kerr_wrap(struct kerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A short stable name for a code ("invalid", "not_found", ...), for JSON bodies. */
const char *kerr_name(int code);

/* The HTTP status that best describes code (400, 404, 409, 413, 500, ...). */
int kerr_http_status(int code);

#endif
