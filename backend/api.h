/*
 * api: what the REST API v1 handlers share: running a query on behalf of a
 * request, turning result rows into JSON, parsing query and path parameters,
 * the list envelope with keyset pagination, and the mapping of failures onto
 * the JSON error body.
 *
 * A handler validates its parameters (the api_arg_* and api_path_* helpers
 * answer 400/404 themselves and return a negative code), then calls api_query.
 * The api_done callback runs on the loop with the result and must either
 * answer (api_respond, http_error, ...) or start the next api_query; a failed
 * query is answered for it (503 when the database is unreachable or busy, 500
 * otherwise; the database's message goes to the log, not to the client).
 *
 * Every API response carries `Cache-Control: no-store`. Bodies are built in
 * unlimited bufs: what bounds them is the LIMIT every query carries.
 *
 * Timestamps are RFC 3339 in UTC with a Z, formatted by Postgres (API_TS).
 */
#ifndef KILN_API_H
#define KILN_API_H

#include "backend/http.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* SQL: a timestamptz expression as "2026-01-02T03:04:05Z" (NULL stays NULL). */
#define API_TS(expr) "to_char((" expr ") at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* SQL: the current day in UTC, which download_counts.day is counted in. */
#define API_TODAY "((now() at time zone 'UTC')::date)"

/* Pagination bounds shared by the list endpoints. */
#define API_LIMIT_DEFAULT 50
#define API_LIMIT_MAX 200

typedef void (*api_done)(struct http_req *req, PGresult *r);

/*
 * Per-request state of an API handler, in req->state. A handler that needs
 * more embeds it as the first member of its own struct and allocates that with
 * api_call_new. When the request ends, release (if set) is called to free what
 * the struct points to, then the struct itself is freed.
 */
struct api_call {
	size_t size;    /* of the whole struct that embeds this one */
	api_done done;
	void (*release)(struct api_call *c);
	int in_query;   /* inside pgpool_query: a callback now ran synchronously */
	int sync_done;
};

/*
 * req's state, at least size bytes (>= sizeof(struct api_call)), zeroed when
 * new. Returns the existing state when there is one (grown if it is smaller,
 * which moves it: call this before keeping pointers into it).
 */
void *api_call_new(struct http_req *req, size_t size);

/*
 * Queue sql with text params ($1..$n, NULL entries are SQL NULL) for req; done
 * runs with the result. If the query cannot be queued, or fails, req is
 * answered with a JSON error and done does not run. The query is cancelled if
 * the client goes away.
 */
void api_query(struct http_req *req, const char *sql, int nparams, const char *const *params,
	       api_done done);

/* Answer 200 with the JSON in b and release b. */
void api_respond(struct http_req *req, struct buf *b);

/* Answer 404 for a path under /api/ that names nothing. */
void api_handle_not_found(struct http_req *req);

/*
 * Query argument name as an integer in [min, max]; def when absent or empty.
 * 0, or KERR_INVAL after answering 400.
 */
int api_arg_int(struct http_req *req, const char *name, int64_t min, int64_t max, int64_t def,
		int64_t *out);

/* Query argument name into dst ("" when absent). 0, or KERR_INVAL after answering 400. */
int api_arg_str(struct http_req *req, const char *name, char *dst, size_t n);

/*
 * Query argument name that must be one of the NULL-terminated choices (or
 * absent/empty: then dst is ""). 0, or KERR_INVAL after answering 400.
 */
int api_arg_choice(struct http_req *req, const char *name, const char *const *choices,
		   char *dst, size_t n);

/*
 * Path parameter i as an id (1 .. 2^63-1), also kept as text in text (for the
 * query). 0, or KERR_INVAL after answering 400 naming what ("build").
 */
int api_path_id(struct http_req *req, int i, const char *what, int64_t *out, char text[24]);

/*
 * Path parameter i as a project name. When it is already normalized: 0, and
 * out (n >= 256) holds it. Otherwise the request is answered and a negative
 * code returned: a 301 to the same URL with the normalized name (query string
 * kept), or a 404 when it cannot be a project name at all.
 */
int api_path_project(struct http_req *req, int i, char *out, size_t n);

/*
 * Normalize a search term as project names are ("Django_REST " -> "django-rest"):
 * surrounding spaces trimmed, ASCII letters lowered, runs of '-', '_', '.' and
 * spaces made one '-'. Returns 0, or KERR_INVAL when the term holds a byte no
 * project name has (then nothing can match). out must have room for
 * strlen(q) + 1 bytes.
 */
int api_search_term(const char *q, char *out, size_t n);

/*
 * One column of a result row as a JSON value. Every type maps SQL NULL to null;
 * API_JSON columns are JSON text made by Postgres and copied as they are.
 */
enum api_type { API_STR, API_INT, API_BOOL, API_JSON };

struct api_field {
	const char *key;
	enum api_type type;
};

/* Append the JSON value of column col of row to b. */
void api_json_value(struct buf *b, const PGresult *r, int row, int col, enum api_type type);

/*
 * Append `"key":value` pairs, comma-separated, for the n fields taken from
 * columns col0, col0+1, ... of row; with a leading comma unless b ends in
 * '{'. Returns the next column index (col0 + n).
 */
int api_json_fields(struct buf *b, const PGresult *r, int row, int col0,
		    const struct api_field *f, size_t n);

/* Append `"key":` (with a leading comma unless b ends in '{' or '['). */
void api_json_key(struct buf *b, const char *key);

/*
 * The list envelope: api_list_begin appends `{"<key>":[`; api_list_end closes
 * it with `],"next_cursor":<cursor as a JSON string, or null>}`.
 */
void api_list_begin(struct buf *b, const char *key);
void api_list_end(struct buf *b, const char *next_cursor);

/*
 * Answer `{"<key>":[{fields of row 0},{fields of row 1},...]}`: every row of r
 * as an object of the n fields taken from its columns 0..n-1.
 */
void api_respond_rows(struct http_req *req, const PGresult *r, const char *key,
		      const struct api_field *f, size_t n);

/* Is column col of row SQL true? */
int api_bool(const PGresult *r, int row, int col);

#endif
