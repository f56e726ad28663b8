/* repro: reproducibility checks (contract in repro.h). */
#include "backend/repro.h"

#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/server.h"
#include "common/fdio.h"
#include "common/fnv.h"
#include "common/log.h"
#include "common/queue_sql.h"
#include "common/storage.h"
#include "common/wheeldiff.h"
#include "common/wheel_inspect.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int repro_policy_parse(const char *s, int *percent, struct kerr *e)
{
	char *end;
	long n;

	if (!strcmp(s, "off")) {
		*percent = 0;
		return 0;
	}
	if (!strcmp(s, "all")) {
		*percent = 100;
		return 0;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (end == s || strcmp(end, "%") || errno || n < 0 || n > 100)
		return kerr_set(e, KERR_INVAL, "KILN_REPRO is '%s': want off, all, or a sample N%% "
				"(0 to 100)", s);
	*percent = (int)n;
	return 0;
}

int repro_sampled(int percent, const char *project, const char *version, const char *target)
{
	uint64_t h = FNV_INIT;

	if (percent <= 0)
		return 0;
	if (percent >= 100)
		return 1;
	h = fnv_str(h, project);
	h = fnv_bytes(h, " ", 1);
	h = fnv_str(h, version);
	h = fnv_bytes(h, " ", 1);
	h = fnv_str(h, target);
	return h % 100 < (uint64_t)percent;
}

struct repro_q {
	struct server *srv;
	long long job;
	char build[24];
};

/* A succeeded build with wheels of its own, and the names its sample goes by. */
static const char repro__candidate_sql[] =
	"select p.normalized, r.version_normalized, t.name from jobs j"
	" join releases r on r.id = j.release_id join projects p on p.id = r.project_id"
	" join targets t on t.id = j.target_id"
	" where j.id = $1::bigint and j.kind = 'build' and j.state = 'succeeded'"
	" and exists (select 1 from artifacts a where a.job_id = j.id and a.published_at is not null)";

static void repro__queued(void *ctx, PGresult *r, const char *err)
{
	struct repro_q *q = ctx;

	if (err)
		log_warn("reproducibility check not queued", "job=%lld error=\"%s\"", q->job, err);
	else if (PQntuples(r) == 1 && !PQgetisnull(r, 0, QUEUE_CHECK_NEW)) {
		/* The insert notifies kiln_jobs (migration 0004's trigger): a builder picks it up. */
		log_info("reproducibility check queued", "job=%lld check=%s", q->job,
			 PQgetvalue(r, 0, QUEUE_CHECK_NEW));
		metrics_add(q->srv->metrics, "kiln_repro_checks_queued_total",
			    "Reproducibility checks queued by the policy (KILN_REPRO).", 1);
	}
	free(q);
}

static void repro__candidate(void *ctx, PGresult *r, const char *err)
{
	struct repro_q *q = ctx;
	const char *params[1] = { q->build };

	if (err) {
		log_warn("reproducibility check not considered", "job=%lld error=\"%s\"", q->job, err);
		goto done;
	}
	if (PQntuples(r) != 1 || !repro_sampled(q->srv->repro_percent, PQgetvalue(r, 0, 0),
						PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2)))
		goto done;
	if (pgpool_query(q->srv->db, queue_sql_check, 1, params, repro__queued, q))
		return;
	log_warn("reproducibility check not queued", "job=%lld error=\"database queue full\"", q->job);
done:
	free(q);
}

void repro_after_success(struct server *srv, long long job, const char *build_id)
{
	struct repro_q *q;
	char j[24];
	const char *params[1] = { j };

	if (srv->repro_percent <= 0)
		return;
	q = xcalloc(1, sizeof(*q));
	q->srv = srv;
	q->job = job;
	snprintf(q->build, sizeof(q->build), "%s", build_id);
	snprintf(j, sizeof(j), "%lld", job);
	if (!pgpool_query(srv->db, repro__candidate_sql, 1, params, repro__candidate, q)) {
		log_warn("reproducibility check not considered", "job=%lld error=\"database queue full\"",
			 job);
		free(q);
	}
}

/* storage_get's sink: append to the spool file. */
static int repro__sink(void *ctx, const void *p, size_t n)
{
	return fdio_write_all(*(int *)ctx, p, n) ? KERR_IO : 0;
}

int repro_diff(struct storage *st, const char *build_key, const char *check_path, struct buf *out,
	       struct kerr *e)
{
	char path[PATH_MAX];
	struct wheel_limits lim;
	int fd = -1, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s.build-XXXXXX", check_path) >= sizeof(path))
		return kerr_set(e, KERR_TOOBIG, "spool path too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return kerr_set(e, KERR_IO, "could not create %s: %s", path, strerror(errno));
	rc = storage_get(st, build_key, 0, 0, repro__sink, &fd, e);
	if (rc) {
		kerr_wrap(e, "reading the published wheel");
		goto done;
	}
	wheel_limits_default(&lim);
	rc = wheeldiff_files(path, check_path, &lim, WHEELDIFF_MAX_DIFFS, out, e);
done:
	close(fd);
	unlink(path);
	return rc;
}
