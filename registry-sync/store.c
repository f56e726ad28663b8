/*
 * store: the SQL that mirrors upstream pages into projects, releases and
 * upstream_files. The contract is in store.h.
 */
#include "registry-sync/store.h"

#include "common/buf.h"
#include "common/db.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sql_project =
	"insert into projects (name, normalized, upstream_serial, page_etag)"
	" values ($1, $2, $3::bigint, $4)"
	" on conflict (normalized) do update set name = excluded.name,"
	"  upstream_serial = excluded.upstream_serial, page_etag = excluded.page_etag,"
	"  deleted_at = null, updated_at = now()"
	" returning id";

/* A release row survives deletion upstream; a re-upload brings it back. */
static const char *const sql_release =
	"insert into releases (project_id, version, version_normalized)"
	" values ($1::bigint, $2, $3)"
	" on conflict (project_id, version_normalized) do update set"
	"  deleted_at = null,"
	"  updated_at = case when releases.deleted_at is null then releases.updated_at"
	"   else now() end"
	" returning id";

/* The where clause keeps an unchanged file untouched (no updated_at churn). */
static const char *const sql_file =
	"insert into upstream_files as f (release_id, filename, kind, url, sha256, size,"
	"  requires_python, yanked, yanked_reason, upload_time, core_metadata_sha256)"
	" values ($1::bigint, $2, $3, $4, $5, $6::bigint, $7, $8::boolean, $9,"
	"  $10::timestamptz, $11)"
	" on conflict (release_id, filename) do update set kind = excluded.kind,"
	"  url = excluded.url, sha256 = excluded.sha256, size = excluded.size,"
	"  requires_python = excluded.requires_python, yanked = excluded.yanked,"
	"  yanked_reason = excluded.yanked_reason, upload_time = excluded.upload_time,"
	"  core_metadata_sha256 = excluded.core_metadata_sha256, deleted_at = null,"
	"  updated_at = now()"
	" where (f.kind, f.url, f.sha256, f.size, f.requires_python, f.yanked, f.yanked_reason,"
	"   f.upload_time, f.core_metadata_sha256, f.deleted_at)"
	"  is distinct from (excluded.kind, excluded.url, excluded.sha256, excluded.size,"
	"   excluded.requires_python, excluded.yanked, excluded.yanked_reason,"
	"   excluded.upload_time, excluded.core_metadata_sha256, null::timestamptz)"
	" returning id";

static const char *const sql_file_id =
	"select id from upstream_files where release_id = $1::bigint and filename = $2";

static const char *const sql_delete_files =
	"update upstream_files f set deleted_at = now(), updated_at = now()"
	" from releases r"
	" where f.release_id = r.id and r.project_id = $1::bigint and f.deleted_at is null"
	"  and not (f.id = any($2::bigint[]))";

/* Only releases that came from upstream files: Kiln's own (git) releases stay. */
static const char *const sql_delete_releases =
	"update releases r set deleted_at = now(), updated_at = now()"
	" where r.project_id = $1::bigint and r.deleted_at is null"
	"  and exists (select 1 from upstream_files f where f.release_id = r.id)"
	"  and not exists (select 1 from upstream_files f"
	"   where f.release_id = r.id and f.deleted_at is null)";

/*
 * PEP 592: a release is yanked when every one of its files is (its wheels
 * built by Kiln follow: trigger releases_notify, migration 0012). PEP 700: it
 * was published when its first file was uploaded.
 */
static const char *const sql_yank_releases =
	"update releases r set yanked = s.yanked, yanked_reason = s.reason,"
	"  uploaded_at = s.uploaded, updated_at = now()"
	" from (select release_id, bool_and(yanked) as yanked,"
	"   case when bool_and(yanked) then max(yanked_reason) end as reason,"
	"   min(upload_time) as uploaded"
	"  from upstream_files where deleted_at is null"
	"   and release_id in (select id from releases where project_id = $1::bigint)"
	"  group by release_id) s"
	" where r.id = s.release_id and r.project_id = $1::bigint"
	"  and (r.yanked, r.yanked_reason, r.uploaded_at)"
	"   is distinct from (s.yanked, s.reason, s.uploaded)";

/*
 * A file named for another project is refused: a page must not be able to
 * slip releases into a project that is not its own.
 */
int store_file_version(const char *norm, const char *filename, const char **kind,
	struct buf *version, struct kerr *e)
{
	struct wheelname w;
	struct sdistname d;
	size_t n = strlen(filename);
	const char *name;
	const struct pyversion *v;

	if (n > 4 && !strcmp(filename + n - 4, ".whl")) {
		if (wheelname_parse(&w, filename, n, e))
			return KERR_INVAL;
		*kind = "wheel";
		name = w.name;
		v = &w.version;
	} else {
		if (sdistname_parse(&d, filename, n, e))
			return KERR_INVAL;
		*kind = "sdist";
		name = d.name;
		v = &d.version;
	}
	if (strcmp(name, norm))
		return kerr_set(e, KERR_INVAL, "file is named for project '%s'", name);
	return pyversion_normalize(v, version);
}

static int one_id(PGconn *c, const char *sql, int np, const char *const *params,
	int64_t *id, struct kerr *e)
{
	PGresult *r = NULL;
	int rc;

	*id = -1;
	if ((rc = db_query(c, sql, np, params, &r, e)))
		return rc;
	if (PQntuples(r) == 1)
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int store_page(PGconn *c, const char *name, int64_t serial, const char *page_etag,
	const struct upstream_page *p, int64_t *project_id, struct store_stats *st,
	struct kerr *e)
{
	struct buf norm = BUF_INIT(256), version = BUF_INIT(256), ids = BUF_INIT(BUF_NOLIMIT);
	char sserial[32], spid[32], srid[32], ssize[32];
	int64_t pid = -1;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = pyname_normalize(name, strlen(name), &norm, e)))
		goto out;
	snprintf(sserial, sizeof(sserial), "%" PRId64, serial);
	{
		const char *pp[] = { name, norm.ptr, serial >= 0 ? sserial : NULL, page_etag };
		if ((rc = one_id(c, sql_project, 4, pp, &pid, e)))
			goto out;
	}
	snprintf(spid, sizeof(spid), "%" PRId64, pid);
	buf_putc(&ids, '{');
	for (size_t i = 0; i < p->nfiles; i++) {
		const struct upstream_file *f = &p->files[i];
		const char *kind = NULL;
		struct kerr ve;
		int64_t rid, fid;

		buf_reset(&version);
		kerr_clear(&ve);
		if (store_file_version(norm.ptr, f->filename, &kind, &version, &ve)) {
			char q1[300], q2[600];
			log_info("skipping upstream file", "project=%s file=%s reason=%s", norm.ptr,
				log_quote(q1, sizeof(q1), f->filename), log_quote(q2, sizeof(q2), ve.msg));
			st->files_skipped++;
			continue;
		}
		const char *rp[] = { spid, version.ptr, version.ptr };
		if ((rc = one_id(c, sql_release, 3, rp, &rid, e)))
			goto out;
		snprintf(srid, sizeof(srid), "%" PRId64, rid);
		snprintf(ssize, sizeof(ssize), "%" PRId64, f->size);
		const char *fp[] = { srid, f->filename, kind, f->url, f->sha256,
			f->size >= 0 ? ssize : NULL, f->requires_python, f->yanked ? "true" : "false",
			f->yanked ? f->yanked_reason : NULL, f->upload_time, f->core_metadata_sha256 };
		if ((rc = one_id(c, sql_file, 11, fp, &fid, e)))
			goto out;
		if (fid >= 0) {
			st->files_written++;
		} else {
			const char *ip[] = { srid, f->filename };
			if ((rc = one_id(c, sql_file_id, 2, ip, &fid, e)))
				goto out;
		}
		buf_printf(&ids, "%s%" PRId64, ids.len > 1 ? "," : "", fid);
	}
	buf_putc(&ids, '}');
	{
		const char *dp[] = { spid, ids.ptr };
		long n = 0;
		if ((rc = db_command(c, sql_delete_files, 2, dp, &n, e)))
			goto out;
		st->files_deleted = n;
	}
	{
		const char *dp[] = { spid };
		if ((rc = db_command(c, sql_delete_releases, 1, dp, NULL, e)) ||
		    (rc = db_command(c, sql_yank_releases, 1, dp, NULL, e)))
			goto out;
	}
	*project_id = pid;
out:
	buf_release(&norm);
	buf_release(&version);
	buf_release(&ids);
	return rc;
}

#define STORE_COPY_CHUNK (256 * 1024)

/*
 * TRUNCATE then COPY FREEZE in one transaction: the rows are written frozen
 * (no hint bits to set, no vacuum to freeze them later), into a file the
 * truncate made new, and the previous listing comes back if the caller rolls
 * back.
 */
int store_listing_start(struct store_listing *l, PGconn *c, struct kerr *e)
{
	PGresult *r;
	int rc;

	l->c = c;
	l->rows = 0;
	buf_init(&l->chunk, BUF_NOLIMIT);
	if ((rc = db_exec(c, "truncate upstream_listing", e)))
		return rc;
	r = PQexec(c, "copy upstream_listing (normalized, name, serial) from stdin with (freeze)");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = db_error(c, r, e);
		PQclear(r);
		return rc ? rc : KERR_DB;
	}
	PQclear(r);
	return 0;
}

static int store__copy_flush(struct store_listing *l, struct kerr *e)
{
	if (!l->chunk.len)
		return 0;
	if (PQputCopyData(l->c, l->chunk.ptr, (int)l->chunk.len) != 1)
		return kerr_set(e, KERR_DB, "copying the listing: %s", PQerrorMessage(l->c));
	buf_reset(&l->chunk);
	return 0;
}

/*
 * One COPY text row, written without printf (which cost more than the rest of
 * the ingest's C side together). Names need no escaping: valid project names
 * are letters, digits, '.', '_' and '-'.
 */
int store_listing_add(struct store_listing *l, const char *name, const char *norm,
	int64_t serial, struct kerr *e)
{
	size_t nn = strlen(norm), n = strlen(name);
	char digits[24], *p;
	uint64_t v = (uint64_t)serial;
	int rc;

	if ((rc = buf_grow(&l->chunk, nn + n + sizeof(digits) + 3)))
		return kerr_set(e, rc, "copying the listing: row too long");
	p = l->chunk.ptr + l->chunk.len;
	memcpy(p, norm, nn);
	p += nn;
	*p++ = '\t';
	memcpy(p, name, n);
	p += n;
	*p++ = '\t';
	if (serial < 0) {
		*p++ = '\\';
		*p++ = 'N';
	} else {
		char *d = digits + sizeof(digits);
		do
			*--d = (char)('0' + v % 10);
		while ((v /= 10));
		memcpy(p, d, (size_t)(digits + sizeof(digits) - d));
		p += digits + sizeof(digits) - d;
	}
	*p++ = '\n';
	*p = '\0';
	l->chunk.len = (size_t)(p - l->chunk.ptr);
	l->rows++;
	return l->chunk.len >= STORE_COPY_CHUNK ? store__copy_flush(l, e) : 0;
}

int store_listing_finish(struct store_listing *l, struct kerr *e)
{
	PGresult *r;
	int rc;

	if ((rc = store__copy_flush(l, e)))
		return rc;
	if (PQputCopyEnd(l->c, NULL) != 1)
		return kerr_set(e, KERR_DB, "ending the listing copy: %s", PQerrorMessage(l->c));
	r = PQgetResult(l->c);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : db_error(l->c, r, e);
	PQclear(r);
	while ((r = PQgetResult(l->c)))
		PQclear(r);
	if (rc)
		return rc;
	/* Statistics let the planner join 700,000 rows well (a hash join, not a loop). */
	return db_exec(l->c, "analyze upstream_listing", e);
}

void store_listing_release(struct store_listing *l)
{
	buf_release(&l->chunk);
	l->rows = 0;
}

/*
 * The listed projects whose page must be fetched: no serial listed, no page
 * stored (or no project row yet), a stored page older than the listing, or a
 * project deleted and listed again.
 */
#define STORE_BEHIND                                                                  \
	" from upstream_listing l left join projects p on p.normalized = l.normalized" \
	" where (l.serial is null or p.upstream_serial is null"                        \
	"  or p.upstream_serial < l.serial or p.deleted_at is not null)"

int store_listing_pending(PGconn *c, const char *after, PGresult **out, struct kerr *e)
{
	const char *pp[] = { after };

	return db_query(c,
		"select l.normalized, l.name, l.serial, p.page_etag" STORE_BEHIND
		" and ($1::text is null or l.normalized > $1 collate \"C\")"
		" order by l.normalized collate \"C\"",
		1, pp, out, e);
}

int store_listing_behind(PGconn *c, long *n, struct kerr *e)
{
	PGresult *r = NULL;
	int rc;

	*n = 0;
	if ((rc = db_query(c, "select count(*)" STORE_BEHIND, 0, NULL, &r, e)))
		return rc;
	*n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int store_prune_unlisted(PGconn *c, long *n, struct kerr *e)
{
	return db_command(c,
		"update projects p set deleted_at = now(), updated_at = now()"
		" where p.deleted_at is null"
		"  and not exists (select 1 from upstream_listing l where l.normalized = p.normalized)"
		"  and exists (select 1 from releases r join upstream_files f on f.release_id = r.id"
		"   where r.project_id = p.id)",
		0, NULL, n, e);
}

int store_unlisted(PGconn *c, PGresult **out, struct kerr *e)
{
	return db_query(c,
		"select p.normalized from projects p"
		" where p.deleted_at is null"
		"  and not exists (select 1 from upstream_listing l where l.normalized = p.normalized)"
		"  and exists (select 1 from releases r join upstream_files f on f.release_id = r.id"
		"   where r.project_id = p.id)",
		0, NULL, out, e);
}

int store_project_serial(PGconn *c, const char *normalized, int64_t *serial, struct kerr *e)
{
	const char *pp[] = { normalized };
	PGresult *r = NULL;
	int rc;

	*serial = -1;
	if ((rc = db_query(c, "select upstream_serial from projects where normalized = $1"
			" and upstream_serial is not null", 1, pp, &r, e)))
		return rc;
	if (PQntuples(r) == 1)
		*serial = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int store_project_gone(PGconn *c, const char *normalized, long *n, struct kerr *e)
{
	const char *pp[] = { normalized };

	return db_command(c,
		"update projects p set deleted_at = now(), updated_at = now()"
		" where p.normalized = $1 and p.deleted_at is null"
		"  and exists (select 1 from releases r join upstream_files f on f.release_id = r.id"
		"   where r.project_id = p.id)",
		1, pp, n, e);
}

int store_sync_state_get(PGconn *c, const char *upstream, char **etag, int64_t *serial,
	char **pos_listing, char **pos_after, struct kerr *e)
{
	const char *pp[] = { upstream };
	PGresult *r = NULL;
	int rc;

	*etag = *pos_listing = *pos_after = NULL;
	*serial = -1;
	if ((rc = db_query(c, "select listing_etag, last_serial, position->>'listing',"
			" position->>'after' from sync_state where upstream = $1", 1, pp, &r, e)))
		return rc;
	if (PQntuples(r) == 1) {
		if (!PQgetisnull(r, 0, 0))
			*etag = xstrdup(PQgetvalue(r, 0, 0));
		if (!PQgetisnull(r, 0, 1))
			*serial = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		if (!PQgetisnull(r, 0, 2) && !PQgetisnull(r, 0, 3)) {
			*pos_listing = xstrdup(PQgetvalue(r, 0, 2));
			*pos_after = xstrdup(PQgetvalue(r, 0, 3));
		}
	}
	PQclear(r);
	return 0;
}

int store_sync_position_put(PGconn *c, const char *upstream, const char *listing_key,
	const char *after, struct kerr *e)
{
	const char *pp[] = { upstream, listing_key, after };

	return db_command(c,
		"insert into sync_state (upstream, mode, position)"
		" values ($1, 'full', jsonb_build_object('listing', $2::text, 'after', $3::text))"
		" on conflict (upstream) do update set mode = excluded.mode,"
		"  position = excluded.position, updated_at = now()",
		3, pp, NULL, e);
}

int store_sync_feed_seen(PGconn *c, const char *upstream, struct kerr *e)
{
	const char *pp[] = { upstream };

	return db_command(c,
		"insert into sync_state (upstream, last_feed_at) values ($1, now())"
		" on conflict (upstream) do update set last_feed_at = now(), updated_at = now()",
		1, pp, NULL, e);
}

int store_sync_state_put(PGconn *c, const char *upstream, const char *etag,
	int64_t serial, const char *mode, struct kerr *e)
{
	char s[32];
	const char *pp[4];

	snprintf(s, sizeof(s), "%" PRId64, serial);
	pp[0] = upstream;
	pp[1] = etag;
	pp[2] = serial >= 0 ? s : NULL;
	pp[3] = mode;
	return db_command(c,
		"insert into sync_state (upstream, listing_etag, last_serial, mode, position,"
		"  last_full_sync_at)"
		" values ($1, $2, $3::bigint, $4, '{}', now())"
		" on conflict (upstream) do update set listing_etag = excluded.listing_etag,"
		"  last_serial = excluded.last_serial, mode = excluded.mode, position = '{}',"
		"  last_full_sync_at = excluded.last_full_sync_at, updated_at = now()",
		4, pp, NULL, e);
}
