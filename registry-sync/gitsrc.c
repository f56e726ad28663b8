/*
 * gitsrc: git tags to releases. The contract is in gitsrc.h.
 */
#include "registry-sync/gitsrc.h"

#include "common/db.h"
#include "common/log.h"
#include "common/pyversion.h"
#include "registry-sync/plan.h"

#include <fnmatch.h>
#include <git2.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GITSRC_TAG_PREFIX "refs/tags/"
#define GITSRC_PEELED "^{}"

int gitsrc_tag_version(const char *tag, struct buf *published, struct buf *out, struct kerr *e)
{
	struct pyversion v;
	const char *s = tag;

	if ((*s == 'v' || *s == 'V') && s[1] >= '0' && s[1] <= '9')
		s++;
	if (pyversion_parse_str(&v, s, e))
		return KERR_INVAL;
	buf_puts(published, s);
	return pyversion_normalize(&v, out);
}

/* One tag of the remote: its name and the commit it names (peeled). */
struct gitsrc_tag {
	char name[256];
	char commit[GIT_OID_HEXSZ + 1];
	int peeled;
};

/* The remote's tags matching glob; *out malloc'd. 0, or KERR_IO with e. */
static int gitsrc__list(const char *url, const char *glob, struct gitsrc_tag **out, size_t *n,
	struct kerr *e)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	const git_remote_head **heads = NULL;
	size_t nheads = 0, cap = 0;
	struct gitsrc_tag *tags = NULL;
	int rc = 0;

	*out = NULL;
	*n = 0;
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	if (git_remote_create_detached(&remote, url) < 0 ||
	    git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0 ||
	    git_remote_ls(&heads, &nheads, remote) < 0) {
		const git_error *ge = git_error_last();
		rc = kerr_set(e, KERR_IO, "listing the tags of %s: %s", url,
			ge && ge->message ? ge->message : "libgit2 failed");
		goto out;
	}
	for (size_t i = 0; i < nheads; i++) {
		const char *name = heads[i]->name;
		size_t len;
		int peeled;
		struct gitsrc_tag *t = NULL;

		if (strncmp(name, GITSRC_TAG_PREFIX, strlen(GITSRC_TAG_PREFIX)))
			continue;
		name += strlen(GITSRC_TAG_PREFIX);
		len = strlen(name);
		peeled = len > 3 && !strcmp(name + len - 3, GITSRC_PEELED);
		if (peeled)
			len -= 3;
		if (!len || len >= sizeof(tags->name))
			continue;
		for (size_t k = 0; k < *n && !t; k++)
			if (strlen(tags[k].name) == len && !strncmp(tags[k].name, name, len))
				t = &tags[k];
		if (!t) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				tags = realloc(tags, cap * sizeof(*tags));
				if (!tags)
					abort();
			}
			t = &tags[(*n)++];
			memset(t, 0, sizeof(*t));
			memcpy(t->name, name, len);
		}
		/* An annotated tag's own object is not a commit; its peeled line is. */
		if (peeled || !t->peeled) {
			git_oid_tostr(t->commit, sizeof(t->commit), &heads[i]->oid);
			t->peeled = peeled;
		}
	}
	/* Keep only the glob's tags. */
	{
		size_t k = 0;
		for (size_t i = 0; i < *n; i++)
			if (!fnmatch(glob, tags[i].name, 0))
				tags[k++] = tags[i];
		*n = k;
	}
	*out = tags;
	tags = NULL;
out:
	free(tags);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	return rc;
}

static const char *const sql_release =
	"insert into releases (project_id, version, version_normalized, git_source_id, git_tag,"
	"  git_commit) values ($1::bigint, $2, $3, $4::bigint, $5, $6)"
	" on conflict (project_id, version_normalized) do nothing returning id";

/* Write the tags of one source and plan its project, in the caller's transaction. */
static int gitsrc__store(PGconn *db, const char *sid, const char *pid, const char *project,
	const struct gitsrc_tag *tags, size_t n, struct gitsrc_stats *st, struct kerr *e)
{
	struct buf pub = BUF_INIT(256), norm = BUF_INIT(256);
	struct plan_stats ps;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		struct kerr ve;
		long added = 0;

		buf_reset(&pub);
		buf_reset(&norm);
		kerr_clear(&ve);
		if (gitsrc_tag_version(tags[i].name, &pub, &norm, &ve)) {
			log_debug("git tag is not a version", "project=%s tag=%s", project, tags[i].name);
			continue;
		}
		const char *pp[] = { pid, pub.ptr, norm.ptr, sid, tags[i].name, tags[i].commit };
		if ((rc = db_command(db, sql_release, 6, pp, &added, e)))
			goto out;
		if (added) {
			st->releases++;
			log_info("git release added", "project=%s version=%s tag=%s commit=%s", project,
				norm.ptr, tags[i].name, tags[i].commit);
		}
	}
	if ((rc = plan_project(db, strtoll(pid, NULL, 10), 0, &ps, e)))
		goto out;
	st->planned += ps.planned;
out:
	buf_release(&pub);
	buf_release(&norm);
	return rc;
}

static int gitsrc__checked(PGconn *db, const char *sid, const char *error, struct kerr *e)
{
	const char *pp[] = { sid, error };

	return db_command(db, "update git_sources set last_checked_at = now(), last_error = $2"
		" where id = $1::bigint", 2, pp, NULL, e);
}

int gitsrc_sync_all(PGconn *db, struct gitsrc_stats *st, struct kerr *e)
{
	PGresult *r = NULL;
	int rc, last = 0;

	memset(st, 0, sizeof(*st));
	if ((rc = db_query(db, "select s.id, s.project_id, s.url, s.tag_glob, p.normalized"
			" from git_sources s join projects p on p.id = s.project_id order by s.id",
			0, NULL, &r, e)))
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *sid = PQgetvalue(r, i, 0), *pid = PQgetvalue(r, i, 1);
		const char *url = PQgetvalue(r, i, 2), *project = PQgetvalue(r, i, 4);
		struct gitsrc_tag *tags = NULL;
		size_t n = 0;
		struct kerr le;

		st->sources++;
		kerr_clear(&le);
		if (gitsrc__list(url, PQgetvalue(r, i, 3), &tags, &n, &le)) {
			char q[600];
			st->failed++;
			log_error("git source failed", "project=%s error=%s", project,
				log_quote(q, sizeof(q), le.msg));
			*e = le;
			last = le.code;
			if ((rc = gitsrc__checked(db, sid, le.msg, e)))
				break;
			continue;
		}
		if (!(rc = db_exec(db, "begin", e)) &&
		    !(rc = gitsrc__store(db, sid, pid, project, tags, n, st, e)) &&
		    !(rc = gitsrc__checked(db, sid, NULL, e)))
			rc = db_exec(db, "commit", e);
		if (rc)
			db_exec(db, "rollback", NULL);
		free(tags);
		if (rc)
			break;
	}
	PQclear(r);
	if (!rc && st->sources)
		log_info("git sources synced", "sources=%ld failed=%ld releases=%ld planned=%ld",
			st->sources, st->failed, st->releases, st->planned);
	return rc ? rc : last;
}
