/* upload: artifact upload from builders (contract in upload.h). */
#include "backend/upload.h"

#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/repro.h"
#include "backend/server.h"
#include "backend/storage_sweep.h"
#include "backend/workers.h"
#include "common/config.h"
#include "common/fdio.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pyversion.h"
#include "common/sha256.h"
#include "common/storage.h"
#include "common/token.h"
#include "common/wheel_inspect.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Body bytes lws may hand us before the lease check answers (it read them with the headers). */
#define UPLOAD_EARLY_MAX (256 * 1024)

struct upload {
	struct http_req *req; /* NULL once the client is gone */
	struct server *srv;
	int busy;             /* a query or worker task holds this upload */

	int64_t job_id;
	char job_id_text[24];
	char filename[WHEELNAME_MAX_LEN + 1];
	struct wheelname wn;
	char token_hash[SHA256_HEX_LEN + 1];
	uint64_t expected;

	int authed;
	struct buf early;      /* body that arrived before the lease check */
	int body_done;
	int fd;
	char tmp_path[PATH_MAX];
	struct sha256 hash;
	uint64_t size;
	char sha[SHA256_HEX_LEN + 1];
	char existing_sha[SHA256_HEX_LEN + 1]; /* of an artifact with this filename, if any */
	/*
	 * That artifact is a sibling's: another job's of the same release (another
	 * target's, which built the same py3-none-any or abi3 wheel). 'p' published,
	 * 'u' not yet (its job still runs), 0 not a sibling's.
	 */
	char sibling;
	/*
	 * The job is a reproducibility check (repro.h): its wheels are compared
	 * with the checked build's published wheel of the same name (build_sha,
	 * stored under build_key; empty when that build published none of this
	 * name) and recorded in repro_wheels, never published.
	 */
	int check;
	char build_sha[SHA256_HEX_LEN + 1];
	char build_key[512];
	struct buf differs;    /* wheeldiff's JSON when the bytes differ; empty: none computed */

	/* Worker results. */
	int status;            /* HTTP status of a failure, 0 if fine */
	struct kerr err;
	struct wheel_info info;
	char key[512];
	char registered[64];   /* not_before of our storage_pending registration */
	char metadata_sha[SHA256_HEX_LEN + 1];
	int stored;            /* we wrote key to storage */
};

int upload_storage_key(const char *sha256, const char *filename, char *out, size_t n)
{
	int w = snprintf(out, n, "wheels/%.2s/%s/%s", sha256, sha256, filename);
	return w < 0 || (size_t)w >= n ? KERR_TOOBIG : 0;
}

static void upload__free(struct upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp_path[0])
		unlink(u->tmp_path);
	if (u->hash.md)
		sha256_release(&u->hash);
	buf_release(&u->early);
	buf_release(&u->differs);
	wheel_info_release(&u->info);
	free(u);
}

/* The client went away: forget it; free now unless work is in flight. */
static void upload__on_close(struct http_req *req)
{
	struct upload *u = req->state;

	req->state = NULL;
	if (!u)
		return;
	u->req = NULL;
	if (!u->busy)
		upload__free(u);
}

/* Answer (if the client is still there) and end this upload. */
static void upload__finish(struct upload *u, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void upload__finish(struct upload *u, int status, int code, const char *fmt, ...)
{
	struct http_req *req = u->req;
	char msg[KERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	u->busy = 0;
	if (!req) {
		upload__free(u);
		return;
	}
	if (status >= 400) {
		char q[KERR_MSG_MAX + 8];
		log_info("upload refused", "job=%lld file=%s status=%d reason=%s", (long long)u->job_id,
			 u->filename, status, log_quote(q, sizeof(q), msg));
		metrics_add(u->srv->metrics, "kiln_uploads_refused_total", "Uploads refused.", 1);
		http_error(req, status, code, "%s", msg);
	} else {
		struct buf b = BUF_INIT(4096);
		buf_puts(&b, "{\"artifact\":{\"filename\":");
		json_append_str(&b, u->filename);
		buf_printf(&b, ",\"sha256\":\"%s\",\"size\":%llu,\"status\":\"%s\"}}", u->sha,
			   (unsigned long long)u->size, msg);
		http_respond_json(req, status, &b);
		buf_release(&b);
		metrics_add(u->srv->metrics, "kiln_uploads_total", "Uploads accepted.", 1);
	}
	/* The body may still be arriving (early refusal): let it in so lws can finish. */
	lws_rx_flow_control(req->wsi, 1);
	http_wake(req);
	/* The request keeps u until it closes or completes (on_close frees it). */
}

static int upload__on_body(struct http_req *req, const void *p, size_t n)
{
	struct upload *u = req->state;

	if (!u || req->responded)
		return 0;
	if (u->size + n > u->expected) {
		upload__finish(u, 400, KERR_INVAL, "body is longer than its Content-Length of %llu",
			       (unsigned long long)u->expected);
		return 0;
	}
	if (!u->authed) {
		if (buf_append(&u->early, p, n)) {
			upload__finish(u, 503, KERR_AGAIN, "lease check is slow; retry the upload");
			return 0;
		}
		return 0;
	}
	if (fdio_write_all(u->fd, p, n) || sha256_update(&u->hash, p, n)) {
		upload__finish(u, 507, KERR_IO, "could not spool the upload: %s", strerror(errno));
		return 0;
	}
	u->size += n;
	return 0;
}

static void upload__stored(void *arg);
static void upload__inspect_and_store(void *arg);

static void upload__covered(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;

	if (err) {
		upload__finish(u, 503, KERR_DB, "%s", err);
		return;
	}
	if (PQntuples(r) != 1) {
		upload__finish(u, 409, KERR_CONFLICT, "job %lld no longer holds a lease for this token",
			       (long long)u->job_id);
		return;
	}
	log_info("upload covered by a sibling's wheel", "job=%lld file=%s by_job=%s",
		 (long long)u->job_id, u->filename, PQgetvalue(r, 0, 0));
	upload__finish(u, 200, 0, "covered");
}

/*
 * The wheel a sibling target's job published already (built once, issue 16):
 * store nothing, note it on the job (jobs.covered_by), whose finish then
 * succeeds without an artifact of its own (jobs.c). Different bytes under
 * the same name are the sibling's build of the same source: the published
 * file stays the one file of that name.
 */
static void upload__cover(struct upload *u)
{
	const char *params[3] = { u->job_id_text, u->filename, u->token_hash };

	if (!pgpool_query(u->srv->db,
			  "update jobs j set covered_by = $2 where j.id = $1::bigint"
			  " and j.state in ('assigned', 'running') and j.lease_token_hash = $3"
			  " returning coalesce((select a.job_id::text from artifacts a"
			  "  where a.filename = $2), '?')",
			  3, params, upload__covered, u))
		upload__finish(u, 503, KERR_AGAIN, "database busy; retry the upload");
}

static void upload__registered(void *ctx, PGresult *r, const char *err);
static void upload__check_record(struct upload *u, int stored);

/* The whole body is in the temp file: hash known; register the key, then inspect and store. */
static void upload__body_complete(struct upload *u)
{
	const char *params[2];
	char grace[24];

	if (u->size != u->expected) {
		upload__finish(u, 400, KERR_INVAL, "body ended after %llu of %llu bytes",
			       (unsigned long long)u->size, (unsigned long long)u->expected);
		return;
	}
	if (sha256_final_hex(&u->hash, u->sha)) {
		upload__finish(u, 500, KERR_INTERNAL, "could not hash the upload");
		return;
	}
	if (u->check && !strcmp(u->sha, u->build_sha)) {
		/* Byte for byte the published wheel: nothing to store. */
		upload__check_record(u, 0);
		return;
	}
	if (u->sibling == 'u') {
		/* Its job may still fail and drop it: ask again once it decided. */
		upload__finish(u, 503, KERR_AGAIN, "%s is being published by another target's job of "
			       "this release; retry the upload", u->filename);
		return;
	}
	if (u->sibling == 'p') {
		upload__cover(u);
		return;
	}
	if (u->existing_sha[0]) {
		/* A file of this name exists: the same bytes are a harmless retry. */
		if (!strcmp(u->existing_sha, u->sha))
			upload__finish(u, 200, 0, "exists");
		else
			upload__finish(u, 409, KERR_CONFLICT,
				       "%s already exists with different content (sha256 %.12s…, "
				       "this upload %.12s…); a filename names one file forever",
				       u->filename, u->existing_sha, u->sha);
		return;
	}
	if (upload_storage_key(u->sha, u->filename, u->key, sizeof(u->key))) {
		upload__finish(u, 400, KERR_INVAL, "filename too long for a storage key");
		return;
	}
	/*
	 * Name the key in storage_pending before storing anything: if this backend
	 * dies between the store and the row, the sweep finds the object. The upsert
	 * waits while a sweep holds the key (deleting an unreferenced object of the
	 * same bytes), so the object stored next is not deleted after.
	 */
	snprintf(grace, sizeof(grace), "%ld", config_get_int(u->srv->cfg, CONFIG_STORAGE_SWEEP_GRACE));
	params[0] = u->key;
	params[1] = grace;
	u->busy = 1;
	if (!pgpool_query(u->srv->db,
			  "insert into storage_pending (key, not_before)"
			  " values ($1, now() + make_interval(secs => $2::int))"
			  " on conflict (key) do update"
			  " set not_before = greatest(storage_pending.not_before, excluded.not_before)"
			  " returning not_before::text",
			  2, params, upload__registered, u)) {
		upload__finish(u, 503, KERR_AGAIN, "database busy; retry the upload");
		return;
	}
}

/* The key is registered: inspect and store off the loop. */
static void upload__registered(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;

	if (err || PQntuples(r) != 1) {
		upload__finish(u, 503, KERR_DB, "%s", err ? err : "registering the storage key failed");
		return;
	}
	snprintf(u->registered, sizeof(u->registered), "%s", PQgetvalue(r, 0, 0));
	if (!u->req) {
		upload__free(u);
		return;
	}
	if (workers_submit(u->srv->workers, upload__inspect_and_store, upload__stored, u)) {
		upload__finish(u, 503, KERR_AGAIN, "server busy; retry the upload");
		return;
	}
}

static int upload__on_body_end(struct http_req *req)
{
	struct upload *u = req->state;

	if (!u || req->responded)
		return 0;
	u->body_done = 1;
	if (u->authed)
		upload__body_complete(u);
	/* Otherwise the lease check's callback finishes the job. */
	return 0;
}

/* Worker thread: inspect the wheel, then store it. Touches only u's own fields. */
static void upload__inspect_and_store(void *arg)
{
	struct upload *u = arg;
	struct wheel_limits lim;
	int rc;

	wheel_limits_default(&lim);
	rc = wheel_inspect(u->tmp_path, u->filename, &lim, &u->info, &u->err);
	if (rc) {
		u->status = rc == KERR_TOOBIG ? 413 : rc == KERR_INVAL ? 422 : 500;
		return;
	}
	if (sha256_hex(u->info.metadata.ptr, u->info.metadata.len, u->metadata_sha)) {
		u->status = 500;
		kerr_set(&u->err, KERR_INTERNAL, "could not hash METADATA");
		return;
	}
	rc = storage_put_file(u->srv->storage, u->key, u->tmp_path, "application/octet-stream",
			      &u->err);
	if (rc) {
		u->status = 502;
		kerr_wrap(&u->err, "storing the wheel");
		return;
	}
	u->stored = 1;
	if (u->check && u->build_key[0]) {
		struct kerr e;

		/* Which members differ: what the build page shows (repro_wheels.differs). */
		if (repro_diff(u->srv->storage, u->build_key, u->tmp_path, &u->differs, &e)) {
			log_warn("check's wheel not compared member by member", "job=%lld file=%s error=\"%s\"",
				 (long long)u->job_id, u->filename, e.msg);
			buf_reset(&u->differs);
		}
	}
}

static void upload__answer(struct upload *u)
{
	upload__finish(u, u->status, u->err.code, "%s", u->err.msg);
}

static void upload__released(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;

	if (!err && PQntuples(r) == 1)
		storage_sweep_soon(u->srv);
	upload__answer(u);
}

/*
 * The object is stored but no row took it: make its registration due now, so
 * the sweep deletes it in a moment, then answer with u->status / u->err. Not
 * deleted here: an upload of the same bytes may be on its way (keys are content
 * addressed), and only the sweep knows. If that upload registered the key after
 * us, not_before is no longer ours and stays: it decides.
 */
static void upload__rollback(struct upload *u)
{
	const char *params[2] = { u->key, u->registered };

	if (!u->stored || !pgpool_query(u->srv->db,
					"update storage_pending set not_before = now()"
					" where key = $1 and not_before = $2::timestamptz returning key",
					2, params, upload__released, u))
		upload__answer(u); /* otherwise the sweep finds it when the registration is due */
}

static void upload__inserted(void *ctx, PGresult *r, const char *err);
static void upload__conflict_checked(void *ctx, PGresult *r, const char *err);

static void upload__tags(const struct wheelname *wn, int kind, struct buf *out)
{
	buf_putc(out, '{');
	for (size_t i = 0; i < wheelname_ntags(wn, kind); i++) {
		if (i)
			buf_putc(out, ',');
		buf_puts(out, wheelname_tag(wn, kind, i));
	}
	buf_putc(out, '}');
}

/* Loop thread: the wheel is checked and stored; now make it visible. */
static void upload__stored(void *arg)
{
	struct upload *u = arg;
	struct buf py = BUF_INIT(4096), abi = BUF_INIT(4096), plat = BUF_INIT(4096);
	struct buf meta = BUF_INIT(BUF_NOLIMIT);
	char size[24], build[WHEELNAME_MAX_LEN + 24];
	const char *params[13];

	if (u->status) {
		upload__finish(u, u->status, u->err.code ? u->err.code : KERR_INVAL, "%s", u->err.msg);
		return;
	}
	if (u->check) {
		upload__check_record(u, 1);
		return;
	}
	upload__tags(&u->wn, WHEELNAME_PYTHON, &py);
	upload__tags(&u->wn, WHEELNAME_ABI, &abi);
	upload__tags(&u->wn, WHEELNAME_PLATFORM, &plat);
	for (size_t i = 0; i < u->info.metadata.len; i++)
		buf_printf(&meta, "%02x", (unsigned char)u->info.metadata.ptr[i]);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)u->size);
	if (u->wn.has_build)
		snprintf(build, sizeof(build), "%lld%s", (long long)u->wn.build_num, u->wn.build_rest);
	else
		build[0] = '\0';
	params[0] = u->job_id_text;
	params[1] = u->filename;
	params[2] = u->sha;
	params[3] = size;
	params[4] = py.ptr;
	params[5] = abi.ptr;
	params[6] = plat.ptr;
	params[7] = build;
	params[8] = u->info.requires_python;
	params[9] = meta.ptr;
	params[10] = u->metadata_sha;
	params[11] = u->key;
	params[12] = u->token_hash;
	/*
	 * FOR SHARE of the job: a reaper or finish changing the job waits for this
	 * insert, or this insert waits for it and then finds the job no longer held.
	 * Without the lock an artifact could be added to an attempt the reaper had
	 * just requeued, after it dropped that attempt's artifacts, and stay forever.
	 * FOR SHARE of our storage registration (k): a sweep deleting the object
	 * holds it; then the row is gone and no artifact is inserted without its
	 * object.
	 */
	if (!pgpool_query(u->srv->db,
			  "with k as (select key from storage_pending where key = $12 for share),"
			  " a as (insert into artifacts (project_id, release_id, job_id, build_id, filename,"
			  " sha256, size, python_tags, abi_tags, platform_tags, build_tag,"
			  " requires_python, metadata, metadata_sha256, storage_key)"
			  " select r.project_id, r.id, j.id,"
			  " (select max(b.id) from builds b where b.job_id = j.id),"
			  " $2, $3, $4::bigint, $5::text[], $6::text[], $7::text[], nullif($8, ''),"
			  " nullif($9, ''), decode($10, 'hex'), $11, $12"
			  " from jobs j join releases r on r.id = j.release_id"
			  " where j.id = $1::bigint and j.state in ('assigned', 'running')"
			  " and j.lease_token_hash = $13 and exists (select 1 from k) for share of j"
			  " on conflict (filename) do nothing returning id),"
			  /* The row references the object now: the registration has done its work. */
			  " p as (delete from storage_pending where key = $12 and exists (select 1 from a))"
			  " select (select id from a), exists (select 1 from k)::text",
			  13, params, upload__inserted, u)) {
		u->status = 503;
		kerr_set(&u->err, KERR_AGAIN, "database busy; retry the upload");
		upload__rollback(u);
	}
	buf_release(&py);
	buf_release(&abi);
	buf_release(&plat);
	buf_release(&meta);
}

static void upload__inserted(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;
	const char *params[1] = { u->filename };

	if (err) {
		u->status = 503;
		kerr_set(&u->err, KERR_DB, "%s", err);
		upload__rollback(u);
		return;
	}
	if (PQntuples(r) == 1 && PQgetisnull(r, 0, 0) && PQgetvalue(r, 0, 1)[0] != 't') {
		/*
		 * Our registration is gone: a sweep found it due (this upload outlasted
		 * KILN_STORAGE_SWEEP_GRACE) and may have deleted the object, or an upload
		 * of the same bytes recorded it first. Either way, again from the start.
		 */
		upload__finish(u, 503, KERR_AGAIN, "the stored wheel's registration expired; retry the upload");
		return;
	}
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		char q[600];
		log_info("artifact stored", "job=%lld file=%s sha256=%s size=%llu key=%s",
			 (long long)u->job_id, u->filename, u->sha, (unsigned long long)u->size,
			 log_quote(q, sizeof(q), u->key));
		upload__finish(u, 201, 0, "created");
		return;
	}
	/* No row: the name was taken meanwhile, or the lease is gone. Which? */
	if (!pgpool_query(u->srv->db, "select sha256 from artifacts where filename = $1", 1, params,
			  upload__conflict_checked, u)) {
		u->status = 503;
		kerr_set(&u->err, KERR_AGAIN, "database busy; retry the upload");
		upload__rollback(u);
	}
}

static void upload__conflict_checked(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;

	if (err) {
		u->status = 503;
		kerr_set(&u->err, KERR_DB, "%s", err);
	} else if (PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), u->sha)) {
		/* Same bytes, same content-addressed key: the stored object is the row's. */
		upload__finish(u, 200, 0, "exists");
		return;
	} else if (PQntuples(r) == 1) {
		u->status = 409;
		kerr_set(&u->err, KERR_CONFLICT, "%s already exists with different content",
			 u->filename);
	} else {
		u->status = 409;
		kerr_set(&u->err, KERR_CONFLICT, "job %lld no longer holds a lease for this token",
			 (long long)u->job_id);
	}
	upload__rollback(u);
}

/* The check's wheel is recorded: answer the builder. */
static void upload__check_recorded(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;

	if (err) {
		u->status = 503;
		kerr_set(&u->err, KERR_DB, "%s", err);
		upload__rollback(u);
		return;
	}
	if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't') {
		int same = !strcmp(u->sha, u->build_sha);

		log_info("check's wheel compared", "job=%lld file=%s sha256=%s result=%s", (long long)u->job_id,
			 u->filename, u->sha, same ? "same" : u->build_sha[0] ? "differs" : "extra");
		upload__finish(u, 201, 0, "%s", same ? "same" : u->build_sha[0] ? "differs" : "extra");
		return;
	}
	if (PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] != 't') {
		/* As for a published wheel: the sweep may have taken the object. */
		upload__finish(u, 503, KERR_AGAIN, "the stored wheel's registration expired; retry the upload");
		return;
	}
	u->status = 409;
	kerr_set(&u->err, KERR_CONFLICT, "job %lld no longer holds a lease for this token",
		 (long long)u->job_id);
	upload__rollback(u);
}

/*
 * Record a check's wheel in repro_wheels, on the attempt that holds the lease
 * (FOR SHARE of the job, as the artifact insert). stored: the bytes differ
 * and are in storage under u->key (registered in storage_pending, whose row
 * the insert takes over); else they are the published wheel's and nothing was
 * stored. A repeated upload of the attempt replaces its row.
 */
static void upload__check_record(struct upload *u, int stored)
{
	char size[24];
	const char *params[7];

	snprintf(size, sizeof(size), "%llu", (unsigned long long)u->size);
	params[0] = u->job_id_text;
	params[1] = u->filename;
	params[2] = u->sha;
	params[3] = size;
	params[4] = stored ? u->key : NULL;
	params[5] = u->token_hash;
	params[6] = stored && u->differs.len ? u->differs.ptr : NULL;
	u->busy = 1;
	if (!pgpool_query(u->srv->db,
			  "with k as (select key from storage_pending where key = $5 for share),"
			  " w as (insert into repro_wheels (build_id, filename, sha256, size, storage_key,"
			  "  differs)"
			  "  select b.id, $2, $3, $4::bigint, $5, $7::jsonb from jobs j"
			  "  join builds b on b.job_id = j.id and b.attempt = j.attempts"
			  "  where j.id = $1::bigint and j.kind = 'check' and j.state in ('assigned', 'running')"
			  "  and j.lease_token_hash = $6 and ($5::text is null or exists (select 1 from k))"
			  "  for share of j"
			  "  on conflict (build_id, filename) do update set sha256 = excluded.sha256,"
			  "  size = excluded.size, storage_key = excluded.storage_key,"
			  "  differs = excluded.differs, created_at = now() returning 1),"
			  " p as (delete from storage_pending where key = $5 and exists (select 1 from w))"
			  " select exists (select 1 from w)::text,"
			  " ($5::text is null or exists (select 1 from k))::text",
			  7, params, upload__check_recorded, u)) {
		u->status = 503;
		kerr_set(&u->err, KERR_AGAIN, "database busy; retry the upload");
		upload__rollback(u);
	}
}

/* The lease check answered. */
static void upload__authed(void *ctx, PGresult *r, const char *err)
{
	struct upload *u = ctx;
	struct buf want = BUF_INIT(256);
	char dir[PATH_MAX];
	const char *state, *hash, *proj, *ver, *pytag, *plat;

	if (err) {
		upload__finish(u, 503, KERR_DB, "%s", err);
		goto done;
	}
	if (PQntuples(r) != 1) {
		upload__finish(u, 404, KERR_NOTFOUND, "no job %lld", (long long)u->job_id);
		goto done;
	}
	state = PQgetvalue(r, 0, 0);
	hash = PQgetvalue(r, 0, 1);
	proj = PQgetvalue(r, 0, 2);
	ver = PQgetvalue(r, 0, 3);
	pytag = PQgetvalue(r, 0, 4);
	plat = PQgetvalue(r, 0, 5);
	if (strlen(hash) != SHA256_HEX_LEN || !token_ct_equal(hash, u->token_hash, SHA256_HEX_LEN)) {
		upload__finish(u, 403, KERR_AUTH, "this token does not hold job %lld",
			       (long long)u->job_id);
		goto done;
	}
	/*
	 * The token is the attempt's: while the job is still held with it (not
	 * reaped, not finished), the upload belongs to the current attempt, even
	 * past lease_expires_at. Leases run past that time without the builder
	 * being gone (the database was down, so nobody could extend them); refusing
	 * then failed live builds for good.
	 */
	if (strcmp(state, "assigned") && strcmp(state, "running")) {
		upload__finish(u, 409, KERR_CONFLICT, "job %lld is %s: its lease is gone",
			       (long long)u->job_id, state);
		goto done;
	}
	if (strcmp(u->wn.name, proj)) {
		upload__finish(u, 400, KERR_INVAL, "wheel is for project '%s' but job %lld builds '%s'",
			       u->wn.name, (long long)u->job_id, proj);
		goto done;
	}
	if (pyversion_normalize(&u->wn.version, &want) || strcmp(want.ptr, ver)) {
		upload__finish(u, 400, KERR_INVAL, "wheel is version %s but job %lld builds %s",
			       want.ptr, (long long)u->job_id, ver);
		goto done;
	}
	if (!wheelname_matches_built(&u->wn, pytag, plat)) {
		upload__finish(u, 400, KERR_INVAL, "wheel tags of %s do not fit the job's target "
			       "(%s on %s)", u->filename, pytag, plat);
		goto done;
	}
	u->check = !strcmp(PQgetvalue(r, 0, 8), "check");
	if (u->check) {
		/* The published name is the checked build's own: not a conflict, the comparison. */
		snprintf(u->build_sha, sizeof(u->build_sha), "%s", PQgetvalue(r, 0, 9));
		snprintf(u->build_key, sizeof(u->build_key), "%s", PQgetvalue(r, 0, 10));
	} else {
		snprintf(u->existing_sha, sizeof(u->existing_sha), "%s", PQgetvalue(r, 0, 6));
		u->sibling = PQgetvalue(r, 0, 7)[0];
	}
	if (!u->req) {
		upload__free(u);
		goto done;
	}
	/* Spool to a private file under the data dir. */
	if ((size_t)snprintf(dir, sizeof(dir) - 16, "%s/tmp", config_get(u->srv->cfg, CONFIG_DATA_DIR)) >=
	    sizeof(dir) - 16) {
		upload__finish(u, 500, KERR_INTERNAL, "data directory path too long");
		goto done;
	}
	mkdir(dir, 0700);
	memcpy(u->tmp_path, dir, strlen(dir));
	memcpy(u->tmp_path + strlen(dir), "/upload-XXXXXX", 15);
	u->fd = mkostemp(u->tmp_path, O_CLOEXEC);
	if (u->fd < 0 || sha256_init(&u->hash)) {
		u->tmp_path[0] = '\0';
		upload__finish(u, 507, KERR_IO, "could not create a spool file in %s: %s", dir,
			       strerror(errno));
		goto done;
	}
	u->authed = 1;
	u->busy = 0;
	if (u->early.len) {
		if (fdio_write_all(u->fd, u->early.ptr, u->early.len) ||
		    sha256_update(&u->hash, u->early.ptr, u->early.len)) {
			upload__finish(u, 507, KERR_IO, "could not spool the upload");
			goto done;
		}
		u->size = u->early.len;
		buf_release(&u->early);
	}
	if (u->body_done)
		upload__body_complete(u);
	else
		lws_rx_flow_control(u->req->wsi, 1);
done:
	buf_release(&want);
}

void upload_handle(struct http_req *req)
{
	struct server *srv = req->srv;
	struct upload *u;
	struct kerr e;
	char auth[256], cl[32];
	const char *params[3];
	char *end;
	unsigned long long max = (unsigned long long)config_get_int(srv->cfg, CONFIG_MAX_UPLOAD);
	long long job;

	errno = 0;
	job = strtoll(req->params[0], &end, 10);
	if (*end || job <= 0 || errno) {
		http_error(req, 404, KERR_NOTFOUND, "no job '%s'", req->params[0]);
		return;
	}
	u = xcalloc(1, sizeof(*u));
	u->fd = -1;
	u->srv = srv;
	u->req = req;
	u->job_id = job;
	buf_init(&u->early, UPLOAD_EARLY_MAX);
	buf_init(&u->differs, BUF_NOLIMIT);
	wheel_info_init(&u->info);
	snprintf(u->job_id_text, sizeof(u->job_id_text), "%lld", job);
	snprintf(u->filename, sizeof(u->filename), "%s", req->params[1]);
	req->state = u;
	req->on_close = upload__on_close;
	req->on_body = upload__on_body;
	req->on_body_end = upload__on_body_end;

	if (wheelname_parse(&u->wn, u->filename, strlen(u->filename), &e)) {
		http_error(req, 400, KERR_INVAL, "%s", e.msg);
		return;
	}
	http_header(req, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth));
	if (strncasecmp(auth, "Bearer ", 7) || !token_well_formed(auth + 7)) {
		http_error(req, 401, KERR_AUTH, "an upload needs 'Authorization: Bearer <lease token>'");
		return;
	}
	token_hash(auth + 7, u->token_hash);
	http_header(req, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl));
	if (!*cl) {
		http_error(req, 411, KERR_INVAL, "an upload needs a Content-Length");
		return;
	}
	u->expected = strtoull(cl, &end, 10);
	if (*end) {
		http_error(req, 400, KERR_INVAL, "bad Content-Length '%s'", cl);
		return;
	}
	if (u->expected > max) {
		http_error(req, 413, KERR_TOOBIG, "wheel of %llu bytes is over the limit of %llu",
			   (unsigned long long)u->expected, max);
		return;
	}
	/* Read nothing more until the lease is checked. */
	lws_rx_flow_control(req->wsi, 0);
	params[0] = u->job_id_text;
	params[1] = u->filename;
	params[2] = NULL;
	/*
	 * Not req->pending: the callback must run even if the client leaves, since
	 * it owns u until then (busy).
	 */
	u->busy = 1;
	if (!pgpool_query(
		srv->db,
		"select j.state, coalesce(j.lease_token_hash, ''), p.normalized, r.version_normalized,"
		" t.python_tag, t.platform,"
		" coalesce((select a.sha256 from artifacts a where a.filename = $2), ''),"
		" coalesce((select case when a.published_at is null then 'u' else 'p' end"
		"  from artifacts a where a.filename = $2 and a.release_id = j.release_id"
		"  and a.job_id is distinct from j.id and not a.yanked), ''),"
		" j.kind, coalesce(c.sha256, ''), coalesce(c.storage_key, '')"
		" from jobs j join releases r on r.id = j.release_id"
		" left join artifacts c on c.job_id = j.check_of and c.filename = $2"
		"  and c.published_at is not null"
		" join projects p on p.id = r.project_id join targets t on t.id = j.target_id"
		" where j.id = $1::bigint",
		2, params, upload__authed, u)) {
		u->busy = 0;
		http_error(req, 503, KERR_AGAIN, "database busy; retry the upload");
	}
}
