/* downloads: wheel and .metadata files (contract in downloads.h). */
#include "backend/downloads.h"

#include "backend/download_counts.h"
#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/fnv.h"
#include "common/httprange.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/sha256.h"
#include "common/storage.h"
#include "common/useragent.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DL_BUCKETS 4096        /* a power of two */
#define DL_CACHE_MAX 65536     /* lookups kept; when full the cache starts over */
#define DL_NAME_MAX 255
#define DL_SUFFIX ".metadata"
#define DL_CACHE_CONTROL "public, max-age=31536000, immutable"
#define DL_FINISH_MS 5000      /* how long shutdown waits for a counts write in flight */

static const char dl__sql_lookup[] =
	"select a.id, a.project_id, a.storage_key, a.size, a.sha256, a.metadata_sha256"
	" from artifacts a join projects p on p.id = a.project_id"
	" join releases r on r.id = a.release_id"
	" where p.normalized = $1 and a.filename = $2 and a.published_at is not null"
	" and p.deleted_at is null and r.deleted_at is null";

static const char dl__sql_metadata[] =
	"select encode(metadata, 'hex') from artifacts where id = $1";

/* What a lookup found; the part of a request's state that the cache keeps too. */
struct dl_artifact {
	int found;
	int64_t id;
	int64_t project_id;
	uint64_t size;
	char sha256[SHA256_HEX_LEN + 1];
	char metadata_sha256[SHA256_HEX_LEN + 1];
	char storage_key[STORAGE_KEY_MAX + 1];
};

struct dl_entry {
	struct dl_entry *next;
	uint64_t hash;
	char project[DL_NAME_MAX + 1];
	char filename[DL_NAME_MAX + 1];
	struct dl_artifact art;
};

struct downloads {
	struct dl_entry *buckets[DL_BUCKETS];
	size_t n;
	/* Bumped by every invalidation: a lookup started before one is not cached. */
	uint64_t generation;
	struct download_counts *counts;
};

/* One request's state (req->state), freed by dl__on_close. */
struct dl_req {
	int metadata;                   /* the .metadata file, not the wheel */
	uint64_t generation;
	char project[DL_NAME_MAX + 1];
	char filename[DL_NAME_MAX + 1]; /* the wheel's name, without .metadata */
	struct dl_artifact art;
	int fd;                         /* the wheel being streamed, or -1 */
	uint64_t off, end;              /* the bytes [off, end) still to send */
};

static void dl__metric(struct server *srv, const char *name, const char *help)
{
	metrics_add(srv->metrics, name, help, 1);
}

/* ---- the lookup cache ---- */

static uint64_t dl__hash(const char *project, const char *filename)
{
	uint64_t h = fnv_str(FNV_INIT, project);

	h = fnv_bytes(h, "/", 1);
	return fnv_str(h, filename);
}

static const struct dl_entry *dl__cache_find(const struct downloads *d, const char *project,
					     const char *filename)
{
	uint64_t h = dl__hash(project, filename);

	for (const struct dl_entry *e = d->buckets[h & (DL_BUCKETS - 1)]; e; e = e->next)
		if (e->hash == h && !strcmp(e->project, project) && !strcmp(e->filename, filename))
			return e;
	return NULL;
}

/* Drop the entries of project (all when project is NULL). */
static void dl__cache_drop(struct downloads *d, const char *project)
{
	for (size_t i = 0; i < DL_BUCKETS; i++) {
		struct dl_entry **pp = &d->buckets[i];
		while (*pp) {
			struct dl_entry *e = *pp;
			if (project && strcmp(e->project, project)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			d->n--;
		}
	}
}

static void dl__cache_put(struct downloads *d, const struct dl_req *st)
{
	uint64_t h = dl__hash(st->project, st->filename);
	struct dl_entry *e;

	if (dl__cache_find(d, st->project, st->filename))
		return;
	if (d->n >= DL_CACHE_MAX)
		dl__cache_drop(d, NULL);
	e = xcalloc(1, sizeof(*e));
	e->hash = h;
	memcpy(e->project, st->project, sizeof(e->project));
	memcpy(e->filename, st->filename, sizeof(e->filename));
	e->art = st->art;
	e->next = d->buckets[h & (DL_BUCKETS - 1)];
	d->buckets[h & (DL_BUCKETS - 1)] = e;
	d->n++;
}

static void dl__on_notify(void *ctx, const char *channel, const char *payload)
{
	struct downloads *d = ((struct server *)ctx)->downloads;

	if (!d)
		return;
	d->generation++;
	/* channel NULL: the listener reconnected and may have missed changes. */
	dl__cache_drop(d, channel ? (payload ? payload : "") : NULL);
}

/* ---- setup ---- */

int downloads_init(struct server *srv)
{
	struct downloads *d = xcalloc(1, sizeof(*d));

	d->counts = download_counts_new(srv->context, srv->db, srv->metrics,
					(int)config_get_int(srv->cfg, CONFIG_DOWNLOADS_FLUSH_SECONDS));
	srv->downloads = d;
	return pgpool_listen(srv->db, "kiln_index", dl__on_notify, srv);
}

void downloads_shutdown(struct server *srv)
{
	struct downloads *d = srv->downloads;
	struct kerr e;
	uint64_t pending;
	char q[KERR_MSG_MAX + 64];

	if (!d)
		return;
	download_counts_finish(d->counts, DL_FINISH_MS);
	pending = download_counts_pending(d->counts);
	kerr_clear(&e);
	if (download_counts_flush_sync(d->counts, config_get(srv->cfg, CONFIG_DATABASE_URL), &e))
		log_error("could not write download counts at shutdown; they are lost",
			  "downloads=%llu error=%s", (unsigned long long)pending,
			  log_quote(q, sizeof(q), e.msg));
	else if (pending)
		log_info("wrote download counts at shutdown", "downloads=%llu",
			 (unsigned long long)pending);
}

void downloads_release(struct server *srv)
{
	struct downloads *d = srv->downloads;

	if (!d)
		return;
	download_counts_free(d->counts);
	dl__cache_drop(d, NULL);
	free(d);
	srv->downloads = NULL;
}

/* ---- responses ---- */

static void dl__on_close(struct http_req *req)
{
	struct dl_req *st = req->state;

	if (st && st->fd >= 0)
		close(st->fd);
	free(st);
}

/* The validator and caching headers every 200/206/304 of a file carries. */
static void dl__file_headers(struct buf *h, const char *sha256)
{
	buf_printf(h, "ETag: \"%s\"\r\nCache-Control: " DL_CACHE_CONTROL "\r\n"
		      "Accept-Ranges: bytes\r\n", sha256);
}

/* If-None-Match against the strong tag of sha256: answer 304 and return 1. */
static int dl__not_modified(struct http_req *req, const char *sha256)
{
	struct buf h = BUF_INIT(1024);
	char inm[1024], etag[SHA256_HEX_LEN + 3];

	http_header(req, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm));
	snprintf(etag, sizeof(etag), "\"%s\"", sha256);
	if (!httprange_none_match(inm, etag))
		return 0;
	dl__file_headers(&h, sha256);
	http_respond(req, 304, NULL, h.ptr, NULL, 0);
	buf_release(&h);
	dl__metric(req->srv, "kiln_downloads_not_modified_total",
		   "File and metadata requests answered 304 Not Modified.");
	return 1;
}

/*
 * 200, 206 or 416 for this request on size bytes tagged sha256. Sets *r to the
 * bytes to send (for 200: all) and appends Content-Range to h when needed.
 */
static int dl__range(struct http_req *req, uint64_t size, const char *sha256,
		     struct httprange *r, struct buf *h)
{
	char range[1024], ifr[256], etag[SHA256_HEX_LEN + 3];
	struct httprange got;

	r->first = 0;
	r->last = size ? size - 1 : 0;
	/* Range is defined for GET only (RFC 9110 14.2): HEAD gets the 200 headers. */
	if (req->method != HTTP_GET)
		return 200;
	http_header(req, WSI_TOKEN_HTTP_RANGE, range, sizeof(range));
	if (!*range)
		return 200;
	snprintf(etag, sizeof(etag), "\"%s\"", sha256);
	http_header(req, WSI_TOKEN_HTTP_IF_RANGE, ifr, sizeof(ifr));
	/* An If-Range we could not read cannot have matched. */
	if (lws_hdr_total_length(req->wsi, WSI_TOKEN_HTTP_IF_RANGE) > 0 &&
	    (!*ifr || !httprange_if_range(ifr, etag)))
		return 200;
	switch (httprange_parse(range, size, &got)) {
	case HTTPRANGE_PARTIAL:
		*r = got;
		buf_printf(h, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)got.first,
			   (unsigned long long)got.last, (unsigned long long)size);
		return 206;
	case HTTPRANGE_UNSATISFIABLE:
		return 416;
	case HTTPRANGE_FULL:
	case HTTPRANGE_MULTI:
		break;
	}
	return 200;
}

static void dl__respond_416(struct http_req *req, uint64_t size)
{
	struct buf h = BUF_INIT(256), b = BUF_INIT(1024);
	char msg[128];

	snprintf(msg, sizeof(msg), "no requested range overlaps the file's %llu bytes",
		 (unsigned long long)size);
	buf_printf(&h, "Content-Range: bytes */%llu\r\nCache-Control: no-store\r\n",
		   (unsigned long long)size);
	buf_puts(&b, "{\"error\":{\"code\":");
	json_append_str(&b, kerr_name(KERR_INVAL));
	buf_puts(&b, ",\"message\":");
	json_append_str(&b, msg);
	buf_puts(&b, "}}");
	http_respond(req, 416, "application/json", h.ptr, b.ptr, b.len);
	buf_release(&h);
	buf_release(&b);
}

/* A download to count: a GET of the wheel answered 200, 302, or 206 from byte 0. */
static void dl__count(struct http_req *req, const struct dl_req *st)
{
	struct downloads *d = req->srv->downloads;
	struct useragent ua;
	char s[4096];

	http_header(req, WSI_TOKEN_HTTP_USER_AGENT, s, sizeof(s));
	useragent_parse(s, strlen(s), &ua);
	download_counts_add(d->counts, st->art.id, st->art.project_id, &ua, time(NULL));
	dl__metric(req->srv, "kiln_downloads_wheel_total",
		   "Wheel downloads counted (GET answered 200, 302, or 206 from byte 0).");
}

static int dl__produce(struct http_req *req, unsigned char *dst, size_t max, size_t *n,
		       int *final)
{
	struct dl_req *st = req->state;
	uint64_t left = st->end - st->off;
	size_t want = left < max ? (size_t)left : max;
	ssize_t got;

	*n = 0;
	*final = 0;
	if (!want) {
		*final = 1;
		return 0;
	}
	do
		got = pread(st->fd, dst, want, (off_t)st->off);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		/* The headers are out: all we can do is cut the connection. */
		log_error("could not read a stored wheel while sending it", "file=%s offset=%llu "
			  "error=\"%s\"", st->filename, (unsigned long long)st->off,
			  got < 0 ? strerror(errno) : "unexpected end of file");
		return -1;
	}
	st->off += (uint64_t)got;
	*n = (size_t)got;
	*final = st->off == st->end;
	return 0;
}

static void dl__serve_s3(struct http_req *req, struct dl_req *st)
{
	struct buf url = BUF_INIT(8192);
	struct kerr e;

	/* Presigning is HMAC arithmetic over the key and the clock: no I/O. */
	if (storage_presign_get(req->srv->storage, st->art.storage_key, 0, &url, &e)) {
		char q[KERR_MSG_MAX + 64];
		log_error("could not presign a wheel URL", "file=%s error=%s", st->filename,
			  log_quote(q, sizeof(q), e.msg));
		http_error(req, 500, KERR_INTERNAL, "could not make a download URL for '%s'",
			   st->filename);
		goto out;
	}
	http_redirect(req, 302, url.ptr);
	dl__metric(req->srv, "kiln_downloads_redirect_total",
		   "Wheel requests redirected to a presigned object storage URL (302).");
	if (req->method == HTTP_GET)
		dl__count(req, st);
out:
	buf_release(&url);
}

static void dl__serve_fs(struct http_req *req, struct dl_req *st)
{
	struct buf path = BUF_INIT(BUF_NOLIMIT), h = BUF_INIT(4096);
	struct httprange r;
	struct kerr e;
	struct stat sb;
	int status;

	if (dl__not_modified(req, st->art.sha256))
		goto out;
	if (storage_fs_path(req->srv->storage, st->art.storage_key, &path, &e)) {
		http_error(req, 500, KERR_INTERNAL, "%s", e.msg);
		goto out;
	}
	st->fd = open(path.ptr, O_RDONLY | O_CLOEXEC);
	if (st->fd < 0 || fstat(st->fd, &sb) || !S_ISREG(sb.st_mode)) {
		log_error("could not open a stored wheel", "file=%s path=\"%s\" error=\"%s\"",
			  st->filename, path.ptr, strerror(errno));
		http_error(req, 500, KERR_IO, "the stored file of '%s' cannot be read", st->filename);
		goto out;
	}
	if ((uint64_t)sb.st_size != st->art.size) {
		/* The ETag promises the recorded bytes: do not send others under it. */
		log_error("stored wheel has the wrong size", "file=%s size=%lld expected=%llu",
			  st->filename, (long long)sb.st_size, (unsigned long long)st->art.size);
		http_error(req, 500, KERR_IO, "the stored file of '%s' is damaged", st->filename);
		goto out;
	}
	dl__file_headers(&h, st->art.sha256);
	status = dl__range(req, st->art.size, st->art.sha256, &r, &h);
	if (status == 416) {
		dl__respond_416(req, st->art.size);
		goto out;
	}
	st->off = r.first;
	st->end = st->art.size ? r.last + 1 : 0;
	http_respond_stream(req, status, "application/octet-stream", h.ptr,
			    (int64_t)(st->end - st->off), dl__produce);
	if (status == 206)
		dl__metric(req->srv, "kiln_downloads_partial_total",
			   "Wheel responses carrying part of the file (206).");
	if (req->method == HTTP_GET && (status == 200 || st->off == 0))
		dl__count(req, st);
out:
	buf_release(&path);
	buf_release(&h);
}

static int dl__unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode Postgres's hex text of a bytea into a new buffer; NULL if malformed. */
static unsigned char *dl__unhex_all(const char *v, size_t *n)
{
	size_t len = strlen(v);
	unsigned char *out;

	if (len % 2)
		return NULL;
	*n = len / 2;
	out = xmalloc(*n + 1);
	for (size_t i = 0; i < *n; i++) {
		int hi = dl__unhex(v[2 * i]), lo = dl__unhex(v[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return out;
}

static void dl__metadata_loaded(void *ctx, PGresult *r, const char *err)
{
	struct http_req *req = ctx;
	struct dl_req *st = req->state;
	struct buf h = BUF_INIT(4096);
	char hex[SHA256_HEX_LEN + 1];
	unsigned char *bytes = NULL;
	struct httprange range;
	size_t n = 0;
	int status;

	req->pending = NULL;
	if (err) {
		http_error(req, 503, KERR_DB, "%s", err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		http_error(req, 404, KERR_NOTFOUND, "no file named '%s" DL_SUFFIX "' in project '%s'",
			   st->filename, st->project);
		goto out;
	}
	bytes = dl__unhex_all(PQgetvalue(r, 0, 0), &n);
	if (!bytes) {
		http_error(req, 500, KERR_INTERNAL, "unreadable metadata of '%s'", st->filename);
		goto out;
	}
	if (sha256_hex(bytes, n, hex) || strcmp(hex, st->art.metadata_sha256)) {
		/* pip would refuse it anyway; say where the fault is. */
		log_error("stored metadata does not match its sha256", "file=%s", st->filename);
		http_error(req, 500, KERR_INTERNAL, "the stored metadata of '%s' is damaged",
			   st->filename);
		goto out;
	}
	dl__file_headers(&h, st->art.metadata_sha256);
	status = dl__range(req, n, st->art.metadata_sha256, &range, &h);
	if (status == 416) {
		dl__respond_416(req, n);
		goto out;
	}
	http_respond(req, status, "text/plain; charset=utf-8", h.ptr, bytes + range.first,
		     n ? (size_t)(range.last - range.first + 1) : 0);
	dl__metric(req->srv, "kiln_downloads_metadata_total",
		   "Core metadata (.metadata) files served (200 or 206).");
out:
	free(bytes);
	buf_release(&h);
	http_wake(req);
}

static void dl__serve_metadata(struct http_req *req, struct dl_req *st)
{
	char id[24];
	const char *params[1] = { id };

	if (dl__not_modified(req, st->art.metadata_sha256))
		return;
	snprintf(id, sizeof(id), "%lld", (long long)st->art.id);
	req->pending = pgpool_query(req->srv->db, dl__sql_metadata, 1, params,
				    dl__metadata_loaded, req);
	if (!req->pending)
		http_error(req, 503, KERR_AGAIN, "database busy, try again");
}

static void dl__serve(struct http_req *req, struct dl_req *st)
{
	if (!st->art.found) {
		http_error(req, 404, KERR_NOTFOUND, "no file named '%s%s' in project '%s'",
			   st->filename, st->metadata ? DL_SUFFIX : "", st->project);
		return;
	}
	if (st->metadata)
		dl__serve_metadata(req, st);
	else if (!strcmp(storage_driver_name(req->srv->storage), "s3"))
		dl__serve_s3(req, st);
	else
		dl__serve_fs(req, st);
}

/* Copy the lookup's row into st->art; 0, or -1 if the row is not usable. */
static int dl__fill(struct dl_req *st, PGresult *r)
{
	struct dl_artifact *a = &st->art;

	memset(a, 0, sizeof(*a));
	if (PQntuples(r) != 1)
		return 0;
	if (strlen(PQgetvalue(r, 0, 2)) > STORAGE_KEY_MAX || !sha256_hex_valid(PQgetvalue(r, 0, 4)) ||
	    !sha256_hex_valid(PQgetvalue(r, 0, 5)))
		return -1;
	a->found = 1;
	a->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	a->project_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	memcpy(a->storage_key, PQgetvalue(r, 0, 2), strlen(PQgetvalue(r, 0, 2)) + 1);
	a->size = strtoull(PQgetvalue(r, 0, 3), NULL, 10);
	memcpy(a->sha256, PQgetvalue(r, 0, 4), SHA256_HEX_LEN + 1);
	memcpy(a->metadata_sha256, PQgetvalue(r, 0, 5), SHA256_HEX_LEN + 1);
	return 0;
}

static void dl__looked_up(void *ctx, PGresult *r, const char *err)
{
	struct http_req *req = ctx;
	struct dl_req *st = req->state;
	struct downloads *d = req->srv->downloads;

	req->pending = NULL;
	if (err) {
		http_error(req, 503, KERR_DB, "%s", err);
	} else if (dl__fill(st, r)) {
		http_error(req, 500, KERR_INTERNAL, "the record of '%s' is damaged", st->filename);
	} else {
		if (d->generation == st->generation)
			dl__cache_put(d, st);
		dl__serve(req, st);
	}
	http_wake(req);
}

/*
 * The n bytes at s (not NUL-terminated there) name a wheel as Kiln stores them:
 * no path tricks ('/', '\', ".."), no odd bytes. The route cannot deliver a
 * '/', but the name also reaches log lines and error messages.
 */
static int dl__filename_ok(const char *s, size_t n)
{
	if (n < 5 || n > DL_NAME_MAX || s[0] == '.' || memcmp(s + n - 4, ".whl", 4))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '+' || c == '!'))
			return 0;
	}
	return 1;
}

void downloads_handle_file(struct http_req *req)
{
	struct downloads *d = req->srv->downloads;
	const char *name = req->params[0], *file = req->params[1];
	size_t fl = strlen(file), sl = sizeof(DL_SUFFIX) - 1;
	struct buf norm = BUF_INIT(DL_NAME_MAX);
	const struct dl_entry *e;
	struct dl_req *st;
	const char *params[2];

	st = xcalloc(1, sizeof(*st));
	st->fd = -1;
	req->state = st;
	req->on_close = dl__on_close;
	if (fl > sl && !strcmp(file + fl - sl, DL_SUFFIX)) {
		st->metadata = 1;
		fl -= sl;
	}
	if (!dl__filename_ok(file, fl)) {
		http_error(req, 404, KERR_NOTFOUND, "not a wheel filename");
		goto out;
	}
	memcpy(st->filename, file, fl);
	st->filename[fl] = '\0';
	if (pyname_normalize(name, strlen(name), &norm, NULL)) {
		http_error(req, 404, KERR_NOTFOUND, "not a valid project name");
		goto out;
	}
	if (strcmp(norm.ptr, name)) {
		char loc[HTTP_MAX_PATH];
		snprintf(loc, sizeof(loc), "/files/%s/%s", norm.ptr, file);
		http_redirect(req, 301, loc);
		goto out;
	}
	memcpy(st->project, norm.ptr, norm.len + 1);

	e = dl__cache_find(d, st->project, st->filename);
	if (e) {
		dl__metric(req->srv, "kiln_downloads_cache_hits_total",
			   "File lookups answered from memory.");
		st->art = e->art;
		dl__serve(req, st);
		goto out;
	}
	dl__metric(req->srv, "kiln_downloads_cache_misses_total",
		   "File lookups sent to the database.");
	st->generation = d->generation;
	params[0] = st->project;
	params[1] = st->filename;
	req->pending = pgpool_query(req->srv->db, dl__sql_lookup, 2, params, dl__looked_up, req);
	if (!req->pending)
		http_error(req, 503, KERR_AGAIN, "database busy, try again");
out:
	buf_release(&norm);
}
