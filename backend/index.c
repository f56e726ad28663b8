/* index: simple repository API handlers (contract in index.h). */
#include "backend/index.h"

#include "backend/index_cache.h"
#include "backend/index_render.h"
#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/provenance.h"
#include "backend/route.h"
#include "backend/server.h"
#include "common/accept.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/sha256.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In order of preference on a tie (a bare Accept: *\/\* gets HTML, as on PyPI). */
enum index_format { INDEX_HTML = 0, INDEX_HTML_V1 = 1, INDEX_JSON = 2 };

static const char *const index__types[] = {
	"text/html",
	"application/vnd.pypi.simple.v1+html",
	"application/vnd.pypi.simple.v1+json",
};

#define INDEX_CACHE_MAX 200000
#define INDEX_CACHE_CONTROL "max-age=30, public"

/*
 * A Kiln wheel's upload-time (PEP 700) is when the upstream published its
 * release, not when Kiln built it: tools that pick versions as of a date (an
 * "exclude newer" option) then treat Kiln's wheel like the upstream's files of
 * the same release. A release made from a git tag has no upstream time and
 * says when the wheel was built.
 */
static const char index__sql_project[] =
	"select p.index_serial, a.filename, r.version, a.sha256, a.size,"
	" coalesce(a.requires_python, ''), a.metadata_sha256, a.yanked::int,"
	" coalesce(a.yanked_reason, ''),"
	" to_char(coalesce(r.uploaded_at, a.created_at) at time zone 'UTC',"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
	" from projects p"
	" join artifacts a on a.project_id = p.id"
	" join releases r on r.id = a.release_id"
	" where p.normalized = $1 and p.deleted_at is null and a.published_at is not null"
	" and r.deleted_at is null";

static const char index__sql_root[] =
	"select p.name, p.normalized, p.index_serial,"
	" (select coalesce(max(index_serial), 0) from projects)"
	" from projects p"
	" where p.deleted_at is null and exists (select 1 from artifacts a"
	" join releases r on r.id = a.release_id where a.project_id = p.id"
	" and a.published_at is not null and r.deleted_at is null)"
	" order by p.normalized";

struct index_load {
	struct server *srv;
	struct index_entry *entry;
};

static void index__on_notify(void *ctx, const char *channel, const char *payload)
{
	struct server *srv = ctx;

	if (!channel) {
		/* The listener (re)connected: anything may have changed meanwhile. */
		index_cache_flush(srv->index);
		return;
	}
	index_cache_invalidate(srv->index, payload ? payload : "");
	metrics_add(srv->metrics, "kiln_index_invalidations_total",
		    "Index cache invalidations received.", 1);
}

int index_init(struct server *srv)
{
	srv->index = index_cache_new(INDEX_CACHE_MAX);
	return pgpool_listen(srv->db, "kiln_index", index__on_notify, srv);
}

void index_release(struct server *srv)
{
	index_cache_free(srv->index);
	srv->index = NULL;
}

/*
 * The representation an Accept header asks for, or -1 if none is acceptable.
 * Installers send one of a few fixed strings, so the last answers are kept by
 * exact header value and the q-value parse is skipped for them.
 */
#define INDEX_ACCEPT_MEMO 8
#define INDEX_ACCEPT_MEMO_LEN 160

static struct {
	char value[INDEX_ACCEPT_MEMO_LEN];
	size_t len;
	int fmt;
} index__accept_memo[INDEX_ACCEPT_MEMO];
static unsigned index__accept_next;

static int index__choose(const char *accept_in)
{
	char accept[1024];
	size_t n = strlen(accept_in);
	int f;

	for (int i = 0; i < INDEX_ACCEPT_MEMO; i++)
		if (index__accept_memo[i].len == n + 1 && !memcmp(index__accept_memo[i].value, accept_in, n))
			return index__accept_memo[i].fmt;
	if (n >= sizeof(accept))
		return accept_choose(accept_in, index__types, 3);
	memcpy(accept, accept_in, n + 1);
	/* "latest" aliases name the newest version of each form: today v1. */
	for (char *p; (p = strstr(accept, "simple.latest+")) != NULL;) {
		memcpy(p + 7, "v1+", 3);
		memmove(p + 10, p + 14, strlen(p + 14) + 1);
	}
	f = accept_choose(accept, index__types, 3);
	if (n < INDEX_ACCEPT_MEMO_LEN) {
		unsigned slot = index__accept_next++ % INDEX_ACCEPT_MEMO;
		memcpy(index__accept_memo[slot].value, accept_in, n + 1);
		index__accept_memo[slot].len = n + 1; /* 0 marks an empty slot */
		index__accept_memo[slot].fmt = f;
	}
	return f;
}

/* Which representation? -1 = none acceptable (406 sent). */
static int index__format(struct http_req *req)
{
	char fmt[128], accept[1024];
	int f;

	if (lws_hdr_total_length(req->wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0 &&
	    http_query(req, "format", fmt, sizeof(fmt))) {
		/* A literal '+' in a query string may arrive decoded as a space. */
		for (char *p = fmt; *p; p++)
			if (*p == ' ')
				*p = '+';
		if (!strcmp(fmt, "application/vnd.pypi.simple.latest+json"))
			return INDEX_JSON;
		if (!strcmp(fmt, "application/vnd.pypi.simple.latest+html"))
			return INDEX_HTML_V1;
		for (f = 0; f < 3; f++)
			if (!strcmp(fmt, index__types[f]))
				return f;
		http_error(req, 406, KERR_INVAL, "format '%s' is not served; use one of %s, %s, %s", fmt,
			   index__types[2], index__types[1], index__types[0]);
		return -1;
	}
	http_header(req, WSI_TOKEN_HTTP_ACCEPT, accept, sizeof(accept));
	f = index__choose(accept);
	if (f < 0)
		http_error(req, 406, KERR_INVAL, "no acceptable representation; this index serves %s, %s "
			   "and %s", index__types[2], index__types[1], index__types[0]);
	return f;
}

#define INDEX_HEADERS_FMT                                                               \
	"Vary: Accept\r\nETag: %s\r\nCache-Control: " INDEX_CACHE_CONTROL "\r\n"         \
	"X-PyPI-Last-Serial: %lld\r\nAccess-Control-Allow-Origin: *\r\n"                  \
	"Access-Control-Expose-Headers: X-PyPI-Last-Serial\r\n"

static const char *index__content_type(int fmt)
{
	return fmt == INDEX_HTML ? "text/html; charset=utf-8" : index__types[fmt];
}

/* Build the complete HTTP/1.1 response for one representation of a READY entry. */
static void index__prebuild(const struct index_entry *e, const struct buf *body, const char *etag,
			    const char *ctype, struct buf *raw)
{
	buf_reset(raw);
	/* LWS_PRE writable bytes ahead of the response, as lws_write wants. */
	buf_grow(raw, LWS_PRE);
	memset(raw->ptr, 0, LWS_PRE);
	raw->len = LWS_PRE;
	buf_printf(raw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			INDEX_HEADERS_FMT "\r\n", ctype, body->len, etag, e->serial);
	buf_append(raw, body->ptr, body->len);
}

/* The prebuilt response of a READY entry in form fmt (INDEX_HTML or INDEX_JSON). */
static void index__prebuilt_of(struct index_entry *e, int fmt, struct index_prebuilt *out)
{
	const struct buf *raw = fmt == INDEX_JSON ? &e->raw_json : &e->raw_html;
	const struct buf *body = fmt == INDEX_JSON ? &e->json : &e->html;

	out->bytes = raw->ptr + LWS_PRE;
	out->len = raw->len - LWS_PRE;
	out->head_len = out->len - body->len;
	out->fd = index_entry_memfd(e);
	out->off = fmt == INDEX_JSON ? (int64_t)(e->raw_html.len - LWS_PRE) : 0;
}

int index_prebuilt_get(struct server *srv, const char *name, const char *accept,
		       struct index_prebuilt *out)
{
	struct index_entry *e;
	int fmt;

	if (!*name)
		return 0;
	e = index_cache_get(srv->index, name);
	if (!e || e->state != INDEX_READY)
		return 0;
	fmt = index__choose(accept);
	if (fmt != INDEX_HTML && fmt != INDEX_JSON)
		return 0;
	metrics_add(srv->metrics, "kiln_index_cache_hits_total", "Index pages served from memory.", 1);
	index__prebuilt_of(e, fmt, out);
	return 1;
}

/* sync: called in the request's first callback, so the cached bytes may be borrowed. */
static void index__serve(struct http_req *req, struct index_entry *e, int fmt, int sync)
{
	const struct buf *body = fmt == INDEX_JSON ? &e->json : &e->html;
	const char *etag = fmt == INDEX_JSON ? e->etag_json : e->etag_html;
	char hdr[512], inm[256];

	if (e->state == INDEX_ABSENT) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s' in this index",
			   e->key);
		return;
	}
	http_header(req, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm));
	if (sync && !*inm && req->method == HTTP_GET && fmt != INDEX_HTML_V1 && http_is_h1(req)) {
		/* The hot path: the whole response was built when the page was loaded. */
		struct index_prebuilt pb;
		index__prebuilt_of(e, fmt, &pb);
		http_respond_prebuilt(req, 200, pb.bytes, pb.len, pb.fd, pb.off);
		return;
	}
	snprintf(hdr, sizeof(hdr), INDEX_HEADERS_FMT, etag, e->serial);
	if (*inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
		http_respond(req, 304, NULL, hdr, NULL, 0);
		return;
	}
	http_respond(req, 200, index__content_type(fmt), hdr, body->ptr, body->len);
}

static void index__etag(const struct buf *b, char out[40])
{
	char hex[SHA256_HEX_LEN + 1];
	if (sha256_hex(b->ptr, b->len, hex))
		hex[0] = '\0';
	snprintf(out, 40, "\"%.32s\"", hex);
}

static void index__fill_project(struct index_entry *e, PGresult *r, int provenance)
{
	int n = PQntuples(r);
	struct index_file *files;

	if (n == 0) {
		e->state = INDEX_ABSENT;
		return;
	}
	files = xcalloc((size_t)n, sizeof(*files));
	for (int i = 0; i < n; i++) {
		files[i].filename = PQgetvalue(r, i, 1);
		files[i].version = PQgetvalue(r, i, 2);
		files[i].sha256 = PQgetvalue(r, i, 3);
		files[i].size = strtoll(PQgetvalue(r, i, 4), NULL, 10);
		files[i].requires_python = PQgetvalue(r, i, 5);
		files[i].metadata_sha256 = PQgetvalue(r, i, 6);
		files[i].yanked = PQgetvalue(r, i, 7)[0] == '1';
		files[i].yanked_reason = PQgetvalue(r, i, 8);
		files[i].upload_time = PQgetvalue(r, i, 9);
		files[i].provenance = provenance;
	}
	index_sort_files(files, (size_t)n);
	e->serial = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	index_render_project_html(e->key, e->serial, files, (size_t)n, &e->html);
	index_render_project_json(e->key, e->serial, files, (size_t)n, &e->json);
	free(files);
	e->state = INDEX_READY;
}

static void index__fill_root(struct index_entry *e, PGresult *r)
{
	int n = PQntuples(r);
	struct index_project *p = xcalloc((size_t)(n ? n : 1), sizeof(*p));

	for (int i = 0; i < n; i++) {
		p[i].name = PQgetvalue(r, i, 0);
		p[i].normalized = PQgetvalue(r, i, 1);
		p[i].serial = strtoll(PQgetvalue(r, i, 2), NULL, 10);
	}
	e->serial = n ? strtoll(PQgetvalue(r, 0, 3), NULL, 10) : 0;
	index_render_root_html(p, (size_t)n, e->serial, &e->html);
	index_render_root_json(p, (size_t)n, e->serial, &e->json);
	free(p);
	e->state = INDEX_READY;
}


static void index__loaded(void *ctx, PGresult *r, const char *err)
{
	struct index_load *ld = ctx;
	struct index_entry *e = ld->entry;
	struct server *srv = ld->srv;

	free(ld);
	if (!err) {
		if (e->key[0])
			index__fill_project(e, r, provenance_enabled(srv));
		else
			index__fill_root(e, r);
		index__etag(&e->html, e->etag_html);
		index__etag(&e->json, e->etag_json);
		if (e->state == INDEX_READY) {
			index__prebuild(e, &e->html, e->etag_html, index__content_type(INDEX_HTML),
					&e->raw_html);
			index__prebuild(e, &e->json, e->etag_json, index__content_type(INDEX_JSON),
					&e->raw_json);
		}
	}
	for (size_t i = 0; i < e->nwaiters; i++) {
		struct http_req *req = e->waiters[i];
		req->state = NULL;
		req->on_close = NULL;
		if (err)
			http_error(req, 503, KERR_DB, "%s", err);
		else
			index__serve(req, e, req->tag, 0);
		http_wake(req);
	}
	if (err) {
		/* Do not cache a failure: the next request tries again. */
		e->stale = 1;
	}
	index_cache_settle(srv->index, e);
}

static void index__unwait(struct http_req *req)
{
	if (req->state)
		index_entry_unwait(req->state, req);
}

static void index__lookup(struct http_req *req, const char *key, int fmt)
{
	struct server *srv = req->srv;
	struct index_entry *e = index_cache_get(srv->index, key);
	struct index_load *ld;
	const char *params[1] = { key };

	if (e && e->state != INDEX_LOADING) {
		metrics_add(srv->metrics, "kiln_index_cache_hits_total", "Index pages served from memory.", 1);
		index__serve(req, e, fmt, 1);
		return;
	}
	req->tag = fmt;
	if (e) {
		index_entry_wait(e, req);
		req->state = e;
		req->on_close = index__unwait;
		return;
	}
	metrics_add(srv->metrics, "kiln_index_cache_misses_total", "Index pages loaded from the database.", 1);
	e = index_cache_add_loading(srv->index, key);
	ld = xmalloc(sizeof(*ld));
	ld->srv = srv;
	ld->entry = e;
	if (!pgpool_query(srv->db, key[0] ? index__sql_project : index__sql_root, key[0] ? 1 : 0,
			  params, index__loaded, ld)) {
		free(ld);
		e->stale = 1;
		index_cache_settle(srv->index, e);
		http_error(req, 503, KERR_AGAIN, "database busy, try again");
		return;
	}
	index_entry_wait(e, req);
	req->state = e;
	req->on_close = index__unwait;
}

void index_handle_root(struct http_req *req)
{
	int fmt = index__format(req);
	if (fmt >= 0)
		index__lookup(req, "", fmt);
}

void index_handle_project(struct http_req *req)
{
	const char *name = req->params[0];
	struct buf norm = BUF_INIT(256);
	char loc[HTTP_MAX_PATH + 64], fmt_arg[128];
	int fmt;

	if (pyname_normalize(name, strlen(name), &norm, NULL)) {
		http_error(req, 404, KERR_NOTFOUND, "'%s' is not a valid project name", name);
		goto done;
	}
	if (strcmp(norm.ptr, name)) {
		/* PEP 503: clients must ask for the normalized name; we help those that do not. */
		const char *f = http_query(req, "format", fmt_arg, sizeof(fmt_arg));
		snprintf(loc, sizeof(loc), "/simple/%s/%s%s", norm.ptr, f ? "?format=" : "", f ? f : "");
		http_redirect(req, 301, loc);
		goto done;
	}
	fmt = index__format(req);
	if (fmt >= 0)
		index__lookup(req, norm.ptr, fmt);
done:
	buf_release(&norm);
}

void index_handle_redirect(struct http_req *req)
{
	char loc[HTTP_MAX_PATH + 160], fmt_arg[128];
	const char *f = http_query(req, "format", fmt_arg, sizeof(fmt_arg));
	struct buf norm = BUF_INIT(256);
	const char *name = req->params[0];

	/* Straight to the canonical URL in one hop, keeping ?format=. */
	if (req->route && strcmp(req->route->pattern, "/simple") &&
	    !pyname_normalize(name, strlen(name), &norm, NULL))
		snprintf(loc, sizeof(loc), "/simple/%s/", norm.ptr);
	else
		snprintf(loc, sizeof(loc), "%s/", req->path);
	if (f) {
		size_t n = strlen(loc);
		snprintf(loc + n, sizeof(loc) - n, "?format=%s", f);
	}
	buf_release(&norm);
	http_redirect(req, 301, loc);
}
