/* covered: drop sibling jobs a published wheel serves (contract in covered.h). */
#include "backend/covered.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct covered_q {
	struct pgpool *db;
	long long job;
};

/* The release's other queued jobs, their target's tags and the release's published wheels. */
static const char covered__siblings_sql[] =
	"select j.id, t.python_tag, t.platform, coalesce(t.glibc, ''),"
	" coalesce((select string_agg(a.filename, '/' order by a.filename) from artifacts a"
	"  where a.release_id = j.release_id and a.published_at is not null and not a.yanked), '')"
	" from jobs j join targets t on t.id = j.target_id"
	" where j.release_id = (select release_id from jobs where id = $1::bigint)"
	" and j.state = 'queued' and j.kind = 'build' and j.id <> $1::bigint"
	/* a check publishes nothing: it covers nothing */
	" and (select kind from jobs where id = $1::bigint) = 'build'";

/* Cancel each still queued job of $1 as covered by the wheel at the same place in $2. */
static const char covered__drop_sql[] =
	"with x as (select j.id, f.file from unnest($1::bigint[], $2::text[]) as f(id, file)"
	"  join jobs j on j.id = f.id where j.state = 'queued' and j.kind = 'build' for update of j),"
	" u as (update jobs set state = 'cancelled', covered_by = x.file,"
	"  failure_reason = 'covered by kiln wheel ' || x.file, finished_at = now(),"
	"  not_before = null from x where jobs.id = x.id"
	"  returning jobs.id, jobs.release_id, jobs.target_id, x.file),"
	" p as (update release_plans rp set decision = 'skipped',"
	"  reason = 'covered by kiln wheel ' || u.file, decided_at = now()"
	"  from u where rp.release_id = u.release_id and rp.target_id = u.target_id)"
	" select u.id, u.file from u order by u.id";

static void covered__dropped(void *ctx, PGresult *r, const char *err)
{
	struct covered_q *q = ctx;

	if (err)
		log_warn("covered jobs not dropped", "job=%lld error=\"%s\"", q->job, err);
	else
		for (int i = 0; i < PQntuples(r); i++)
			log_info("job dropped: covered by kiln wheel", "job=%s by_job=%lld file=%s",
				 PQgetvalue(r, i, 0), q->job, PQgetvalue(r, i, 1));
	free(q);
}

static void covered__siblings(void *ctx, PGresult *r, const char *err)
{
	struct covered_q *q = ctx;
	struct buf ids = BUF_INIT(BUF_NOLIMIT), files = BUF_INIT(BUF_NOLIMIT);
	int n = 0;

	if (err) {
		log_warn("covered jobs not looked up", "job=%lld error=\"%s\"", q->job, err);
		goto done;
	}
	buf_putc(&ids, '{');
	buf_putc(&files, '{');
	for (int i = 0; i < PQntuples(r); i++) {
		char first[WHEELNAME_MAX_LEN + 1];

		/* Kiln's own wheels: a target without a glibc takes any manylinux of its arch. */
		if (!wheelname_list_installs(PQgetvalue(r, i, 4), PQgetvalue(r, i, 1),
					     PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), 1, first,
					     sizeof(first)))
			continue;
		/* Wheel names are [A-Za-z0-9._+!-]: safe in an array literal as they are. */
		buf_printf(&ids, "%s%s", n ? "," : "", PQgetvalue(r, i, 0));
		buf_printf(&files, "%s%s", n ? "," : "", first);
		n++;
	}
	buf_putc(&ids, '}');
	buf_putc(&files, '}');
	if (n) {
		const char *params[2] = { ids.ptr, files.ptr };
		if (pgpool_query(q->db, covered__drop_sql, 2, params, covered__dropped, q)) {
			q = NULL;
		} else {
			log_warn("covered jobs not dropped", "job=%lld error=\"database queue full\"",
				 q->job);
		}
	}
done:
	buf_release(&ids);
	buf_release(&files);
	free(q);
}

void covered_after_success(struct pgpool *db, long long job)
{
	struct covered_q *q = xcalloc(1, sizeof(*q));
	char j[24];
	const char *params[1] = { j };

	q->db = db;
	q->job = job;
	snprintf(j, sizeof(j), "%lld", job);
	if (!pgpool_query(db, covered__siblings_sql, 1, params, covered__siblings, q)) {
		log_warn("covered jobs not looked up", "job=%lld error=\"database queue full\"", job);
		free(q);
	}
}
