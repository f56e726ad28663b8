/* api: shared pieces of the REST API v1 handlers (contract in api.h). */
#include "backend/api.h"

#include "backend/pgpool.h"
#include "backend/route.h"
#include "backend/server.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_NO_STORE "Cache-Control: no-store\r\n"

static void api__free_state(struct http_req *req)
{
	struct api_call *c = req->state;

	if (c && c->release)
		c->release(c);
	free(c);
	req->state = NULL;
}

void *api_call_new(struct http_req *req, size_t size)
{
	struct api_call *c = req->on_close == api__free_state ? req->state : NULL;
	size_t had = c ? c->size : 0;

	if (size < sizeof(*c))
		size = sizeof(*c);
	if (c && had >= size)
		return c;
	/* Grown in place (contents kept) if a smaller state was made first. */
	c = xrealloc(c, size);
	memset((char *)c + had, 0, size - had);
	c->size = size;
	req->state = c;
	req->on_close = api__free_state;
	return c;
}

/*
 * SQLSTATE classes that mean "the database cannot serve this now" rather than
 * "this query is wrong": connection, resources, operator intervention, and
 * serialization/deadlock.
 */
static int api__transient(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (!st)
		return 1;
	return !strncmp(st, "08", 2) || !strncmp(st, "53", 2) || !strncmp(st, "57", 2) ||
	       !strncmp(st, "40", 2);
}

static void api__on_result(void *ctx, PGresult *r, const char *err)
{
	struct http_req *req = ctx;
	struct api_call *call = req->state;

	req->pending = NULL;
	if (call->in_query)
		call->sync_done = 1;
	if (err) {
		char qp[HTTP_MAX_PATH + 16], qe[600];
		int transient = api__transient(r);

		log_write(transient ? LOG_WARN : LOG_ERROR, "api query failed", "path=%s error=%s",
			  log_quote(qp, sizeof(qp), req->path), log_quote(qe, sizeof(qe), err));
		if (transient)
			http_error(req, 503, KERR_AGAIN, "the database is unavailable; try again");
		else
			http_error(req, 500, KERR_INTERNAL, "the database query failed");
	} else {
		call->done(req, r);
		if (!req->responded && !req->pending)
			http_error(req, 500, KERR_INTERNAL, "no answer was produced");
	}
	if (req->responded && !call->in_query)
		http_wake(req);
}

void api_query(struct http_req *req, const char *sql, int nparams, const char *const *params,
	       api_done done)
{
	struct api_call *call = api_call_new(req, sizeof(struct api_call));
	struct pgq *q;

	call->done = done;
	call->sync_done = 0;
	call->in_query = 1;
	/*
	 * pgpool may fail a query, and run its callback, before pgpool_query
	 * returns (when sending fails at once); the handle is stale then.
	 */
	q = pgpool_query(req->srv->db, sql, nparams, params, api__on_result, req);
	call->in_query = 0;
	if (call->sync_done) {
		if (req->responded)
			http_wake(req);
		return;
	}
	if (!q) {
		http_error(req, 503, KERR_AGAIN, "the database queue is full; try again");
		return;
	}
	req->pending = q;
}

void api_respond(struct http_req *req, struct buf *b)
{
	http_respond_json(req, 200, b);
	buf_release(b);
}

void api_handle_not_found(struct http_req *req)
{
	http_error(req, 404, KERR_NOTFOUND, "no such API path: %s", req->path);
}

int api_arg_str(struct http_req *req, const char *name, char *dst, size_t n)
{
	char tmp[1024];

	dst[0] = '\0';
	if (!http_query(req, name, tmp, sizeof(tmp)))
		return 0;
	if (strlen(tmp) >= n) {
		http_error(req, 400, KERR_INVAL, "query parameter '%s' is too long (at most %zu bytes)",
			   name, n - 1);
		return KERR_INVAL;
	}
	memcpy(dst, tmp, strlen(tmp) + 1);
	return 0;
}

/* Parse all of s as a decimal integer in [min, max]. 0 or KERR_INVAL. */
static int api__parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || !((*s >= '0' && *s <= '9') || *s == '-'))
		return KERR_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return KERR_INVAL;
	*out = v;
	return 0;
}

int api_arg_int(struct http_req *req, const char *name, int64_t min, int64_t max, int64_t def,
		int64_t *out)
{
	char v[32];

	if (api_arg_str(req, name, v, sizeof(v)))
		return KERR_INVAL;
	if (!*v) {
		*out = def;
		return 0;
	}
	if (api__parse_int(v, min, max, out)) {
		http_error(req, 400, KERR_INVAL, "query parameter '%s' must be an integer from %lld "
			   "to %lld, got '%s'", name, (long long)min, (long long)max, v);
		return KERR_INVAL;
	}
	return 0;
}

int api_arg_choice(struct http_req *req, const char *name, const char *const *choices,
		   char *dst, size_t n)
{
	struct buf list = BUF_INIT(1024);

	if (api_arg_str(req, name, dst, n))
		return KERR_INVAL;
	if (!*dst)
		return 0;
	for (const char *const *c = choices; *c; c++)
		if (!strcmp(dst, *c))
			return 0;
	for (const char *const *c = choices; *c; c++)
		buf_printf(&list, "%s%s", c == choices ? "" : ", ", *c);
	http_error(req, 400, KERR_INVAL, "query parameter '%s' must be one of %s, got '%s'", name,
		   list.ptr, dst);
	buf_release(&list);
	return KERR_INVAL;
}

int api_path_id(struct http_req *req, int i, const char *what, int64_t *out, char text[24])
{
	const char *s = req->params[i];

	/* Digits only: no sign, no spaces, no "0x". */
	if (strspn(s, "0123456789") != strlen(s) || api__parse_int(s, 1, INT64_MAX, out)) {
		http_error(req, 400, KERR_INVAL, "%s id must be a positive integer, got '%.64s'", what,
			   s);
		return KERR_INVAL;
	}
	snprintf(text, 24, "%lld", (long long)*out);
	return 0;
}

/* Append s percent-encoded for a path segment (or a query value if query). */
static void api__url_encode(struct buf *b, const char *s, int query)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~", *p) ||
			    (!query && strchr("!$'()*,;:@+", *p));
		if (plain) {
			buf_putc(b, (char)*p);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 15]);
		}
	}
}

/* The request's query string, re-encoded ("?a=1&b=2", or nothing). */
static void api__append_query(struct http_req *req, struct buf *b)
{
	char frag[1024];

	for (int i = 0; i < 64; i++) {
		int len = lws_hdr_copy_fragment(req->wsi, frag, (int)sizeof(frag),
						WSI_TOKEN_HTTP_URI_ARGS, i);
		char *eq;

		if (len < 0)
			break;
		buf_putc(b, i ? '&' : '?');
		eq = strchr(frag, '=');
		if (eq)
			*eq = '\0';
		api__url_encode(b, frag, 1);
		if (eq) {
			buf_putc(b, '=');
			api__url_encode(b, eq + 1, 1);
		}
	}
}

int api_path_project(struct http_req *req, int i, char *out, size_t n)
{
	const char *name = req->params[i];
	struct buf norm = BUF_INIT(255);
	struct buf loc = BUF_INIT(BUF_NOLIMIT);
	struct buf hdr = BUF_INIT(BUF_NOLIMIT);
	int rc = KERR_INVAL;

	if (pyname_normalize(name, strlen(name), &norm, NULL) || norm.len >= n) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%.200s'", name);
		goto out;
	}
	if (!strcmp(norm.ptr, name)) {
		memcpy(out, norm.ptr, norm.len + 1);
		rc = 0;
		goto out;
	}
	/* The canonical URL: the route's pattern with the captured segments put back. */
	for (const char *p = req->route->pattern; *p; p++) {
		if (*p == '*') {
			int k = 0;
			for (const char *q = req->route->pattern; q < p; q++)
				k += *q == '*';
			api__url_encode(&loc, k == i ? norm.ptr : req->params[k], 0);
		} else {
			buf_putc(&loc, *p);
		}
	}
	api__append_query(req, &loc);
	buf_printf(&hdr, "Location: %s\r\n" API_NO_STORE, loc.ptr);
	http_respond(req, 301, NULL, hdr.ptr, NULL, 0);
out:
	buf_release(&norm);
	buf_release(&loc);
	buf_release(&hdr);
	return rc;
}

int api_search_term(const char *q, char *out, size_t n)
{
	const char *end = q + strlen(q);
	size_t len = 0;

	while (*q == ' ')
		q++;
	while (end > q && end[-1] == ' ')
		end--;
	if ((size_t)(end - q) >= n)
		return KERR_INVAL;
	for (const char *p = q; p < end; p++) {
		char c = *p;
		if (c == '-' || c == '_' || c == '.' || c == ' ') {
			/* A leading or trailing separator stays: "-rest" and "django-" narrow the search. */
			if (!len || out[len - 1] != '-')
				out[len++] = '-';
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return KERR_INVAL;
		out[len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[len] = '\0';
	return 0;
}

int api_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

void api_json_value(struct buf *b, const PGresult *r, int row, int col, enum api_type type)
{
	const char *v;

	if (PQgetisnull(r, row, col)) {
		buf_puts(b, "null");
		return;
	}
	v = PQgetvalue(r, row, col);
	switch (type) {
	case API_STR:
		json_append_str(b, v);
		break;
	case API_INT:
		/* Postgres integers and numerics are valid JSON numbers as they print. */
		buf_puts(b, *v ? v : "null");
		break;
	case API_BOOL:
		buf_puts(b, v[0] == 't' ? "true" : "false");
		break;
	case API_JSON:
		buf_puts(b, *v ? v : "null");
		break;
	}
}

void api_json_key(struct buf *b, const char *key)
{
	if (b->len && b->ptr[b->len - 1] != '{' && b->ptr[b->len - 1] != '[')
		buf_putc(b, ',');
	json_append_str(b, key);
	buf_putc(b, ':');
}

int api_json_fields(struct buf *b, const PGresult *r, int row, int col0,
		    const struct api_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		api_json_key(b, f[i].key);
		api_json_value(b, r, row, col0 + (int)i, f[i].type);
	}
	return col0 + (int)n;
}

void api_list_begin(struct buf *b, const char *key)
{
	buf_putc(b, '{');
	json_append_str(b, key);
	buf_puts(b, ":[");
}

void api_list_end(struct buf *b, const char *next_cursor)
{
	buf_puts(b, "],\"next_cursor\":");
	if (next_cursor)
		json_append_str(b, next_cursor);
	else
		buf_puts(b, "null");
	buf_putc(b, '}');
}

void api_respond_rows(struct http_req *req, const PGresult *r, const char *key,
		      const struct api_field *f, size_t n)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	buf_putc(&b, '{');
	api_json_key(&b, key);
	buf_putc(&b, '[');
	for (int i = 0; i < PQntuples(r); i++) {
		buf_puts(&b, i ? ",{" : "{");
		api_json_fields(&b, r, i, 0, f, n);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}");
	api_respond(req, &b);
}
