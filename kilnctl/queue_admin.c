/* queue_admin: the queue's admin commands for kilnctl (contract in queue_admin.h). */
#include "kilnctl/queue_admin.h"

#include "common/db.h"
#include "common/pyname.h"
#include "common/pyversion.h"
#include "common/queue_sql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_ADMIN_REASON_MAX 1000
#define QUEUE_ADMIN_LIMIT_MAX 10000

/* What a command line held: positional words and the values of the options it takes. */
struct queue_admin__args {
	const char *pos[2];
	int npos;
	const char *reason, *target, *project, *state, *limit, *class, *priority;
};

/* Where the value of option opt goes, or NULL for no such option. */
static const char **queue_admin__slot(struct queue_admin__args *a, const char *opt)
{
	if (!strcmp(opt, "--reason"))
		return &a->reason;
	if (!strcmp(opt, "--target"))
		return &a->target;
	if (!strcmp(opt, "--project"))
		return &a->project;
	if (!strcmp(opt, "--state"))
		return &a->state;
	if (!strcmp(opt, "--limit"))
		return &a->limit;
	if (!strcmp(opt, "--class"))
		return &a->class;
	if (!strcmp(opt, "--priority"))
		return &a->priority;
	return NULL;
}

/*
 * Parse argv into a: the options listed in opts (each takes a value) and at
 * most maxpos positional words. 0 or QUEUE_ADMIN_USAGE with e saying why.
 */
static int queue_admin__parse(int argc, char **argv, const char *const *opts, int maxpos,
			      struct queue_admin__args *a, struct kerr *e)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char **slot = NULL;

		if (argv[i][0] != '-' || !argv[i][1]) {
			if (a->npos >= maxpos)
				return kerr_set(e, QUEUE_ADMIN_USAGE, "unexpected argument '%s'", argv[i]);
			a->pos[a->npos++] = argv[i];
			continue;
		}
		for (const char *const *o = opts; *o && !slot; o++)
			if (!strcmp(argv[i], *o))
				slot = queue_admin__slot(a, *o);
		if (!slot)
			return kerr_set(e, QUEUE_ADMIN_USAGE, "unknown option '%s'", argv[i]);
		if (i + 1 >= argc)
			return kerr_set(e, QUEUE_ADMIN_USAGE, "option %s needs a value", argv[i]);
		*slot = argv[++i];
	}
	return 0;
}

/* s as a positive 64-bit id in canonical form. 0 or KERR_INVAL. */
static int queue_admin__id(const char *s, char out[24], struct kerr *e)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || strspn(s, "0123456789") != strlen(s) || errno || *end || v < 1)
		return kerr_set(e, KERR_INVAL, "job id must be a positive integer, got '%s'", s);
	snprintf(out, 24, "%lld", v);
	return 0;
}

/* name normalized as project names are. 0 or KERR_NOTFOUND (no project can have it). */
static int queue_admin__project(const char *name, struct buf *norm, struct kerr *e)
{
	if (pyname_normalize(name, strlen(name), norm, NULL))
		return kerr_set(e, KERR_NOTFOUND, "no project named '%s'", name);
	return 0;
}

/* ---- job cancel ID [--reason TEXT] ---- */

static int queue_admin__cancel(PGconn *c, const struct config *cfg, const char *job,
			       const char *reason, struct buf *out, struct kerr *e)
{
	const char *params[2];
	PGresult *r = NULL;
	char id[24];
	int rc;

	if ((rc = queue_admin__id(job, id, e)))
		return rc;
	if (reason && strlen(reason) > QUEUE_ADMIN_REASON_MAX)
		return kerr_set(e, KERR_INVAL, "--reason is over %d bytes", QUEUE_ADMIN_REASON_MAX);
	params[0] = id;
	params[1] = reason && *reason ? reason : QUEUE_CANCEL_REASON;
	if ((rc = db_query(c, queue_sql_cancel, 2, params, &r, e)))
		goto out;
	if (PQgetisnull(r, 0, QUEUE_CANCEL_PRIOR_STATE)) {
		rc = kerr_set(e, KERR_NOTFOUND, "no job %s", id);
		goto out;
	}
	if (PQgetvalue(r, 0, QUEUE_CANCEL_DONE)[0] != 't') {
		rc = kerr_set(e, KERR_CONFLICT, "job %s is %s: only queued, assigned or running jobs "
			      "can be cancelled", id, PQgetvalue(r, 0, QUEUE_CANCEL_PRIOR_STATE));
		goto out;
	}
	buf_printf(out, "job %s cancelled (it was %s", id, PQgetvalue(r, 0, QUEUE_CANCEL_PRIOR_STATE));
	if (!PQgetisnull(r, 0, QUEUE_CANCEL_BUILDER))
		buf_printf(out, " on builder '%s', which its backend tells to stop",
			   PQgetvalue(r, 0, QUEUE_CANCEL_BUILDER));
	buf_puts(out, ")\n");
	/*
	 * The attempt's unpublished wheels, if any, were registered in storage_pending
	 * by the cancel itself: a backend's storage sweep deletes them (deleting here
	 * could race an upload of the same bytes; see backend/storage_sweep.h).
	 */
out:
	PQclear(r);
	return rc;
}

/* s as a priority in canonical form. 0 or KERR_INVAL. */
static int queue_admin__priority_arg(const char *s, char out[24], struct kerr *e)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || errno || *end || v < QUEUE_PRIORITY_MIN || v > QUEUE_PRIORITY_MAX)
		return kerr_set(e, KERR_INVAL, "priority must be an integer from %d to %d, got '%s'",
				QUEUE_PRIORITY_MIN, QUEUE_PRIORITY_MAX, s);
	snprintf(out, 24, "%ld", v);
	return 0;
}

/* ---- job priority ID N ---- */

static int queue_admin__set_priority(PGconn *c, const char *job, const char *prio,
				     struct buf *out, struct kerr *e)
{
	char id[24], p[24];
	const char *params[2] = { id, p };
	PGresult *r = NULL;
	int rc;

	if ((rc = queue_admin__id(job, id, e)) || (rc = queue_admin__priority_arg(prio, p, e)))
		return rc;
	if ((rc = db_query(c, queue_sql_priority, 2, params, &r, e)))
		return rc;
	if (PQgetisnull(r, 0, QUEUE_PRIORITY_STATE))
		rc = kerr_set(e, KERR_NOTFOUND, "no job %s", id);
	else if (PQgetvalue(r, 0, QUEUE_PRIORITY_DONE)[0] != 't')
		rc = kerr_set(e, KERR_CONFLICT, "job %s is %s: only a queued job's priority can change",
			      id, PQgetvalue(r, 0, QUEUE_PRIORITY_STATE));
	else
		buf_printf(out, "job %s: priority %s (was %s)\n", id, p,
			   PQgetvalue(r, 0, QUEUE_PRIORITY_WAS));
	PQclear(r);
	return rc;
}

/* ---- rebuild PROJECT [VERSION] [--target NAME] [--priority N] ---- */

static int queue_admin__rebuild(PGconn *c, const char *project, const char *version,
				const char *target, const char *priority, struct buf *out,
				struct kerr *e)
{
	struct buf norm = BUF_INIT(255), vnorm = BUF_INIT(512);
	struct pyversion v;
	const char *params[5];
	char prio[24];
	PGresult *r = NULL;
	long long pairs, created, moved;
	int rc;

	if ((priority && (rc = queue_admin__priority_arg(priority, prio, e))) ||
	    (rc = queue_admin__project(project, &norm, e)))
		goto out;
	if (version && (pyversion_parse_str(&v, version, NULL) || pyversion_normalize(&v, &vnorm)))
		buf_puts(&vnorm, version);
	params[0] = norm.ptr;
	params[1] = version ? vnorm.ptr : NULL;
	params[2] = version ? version : "";
	params[3] = target;
	params[4] = priority ? prio : NULL;
	if ((rc = db_query(c, queue_sql_rebuild, 5, params, &r, e)))
		goto out;
	if (PQgetisnull(r, 0, QUEUE_REBUILD_PROJECT))
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", project);
	else if (version && !strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_RELEASES), "0"))
		rc = kerr_set(e, KERR_NOTFOUND, "project '%s' has no release '%s'", norm.ptr, version);
	else if (target && !strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_TARGETS), "0"))
		rc = kerr_set(e, KERR_NOTFOUND, "no target named '%s'", target);
	else if (target && !strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_TARGETS_ENABLED), "0"))
		rc = kerr_set(e, KERR_CONFLICT, "target '%s' is disabled", target);
	if (rc)
		goto out;
	pairs = strtoll(PQgetvalue(r, 0, QUEUE_REBUILD_PAIRS), NULL, 10);
	created = strtoll(PQgetvalue(r, 0, QUEUE_REBUILD_JOBS_COUNT), NULL, 10);
	moved = strtoll(PQgetvalue(r, 0, QUEUE_REBUILD_MOVED_COUNT), NULL, 10);
	buf_printf(out, "queued %lld job%s for %s at priority %s: %s\n", created,
		   created == 1 ? "" : "s", PQgetvalue(r, 0, QUEUE_REBUILD_PROJECT),
		   PQgetvalue(r, 0, QUEUE_REBUILD_PRIORITY), PQgetvalue(r, 0, QUEUE_REBUILD_JOBS_JSON));
	if (pairs > created)
		buf_printf(out, "%lld already queued or running\n", pairs - created);
	if (moved)
		buf_printf(out, "moved %lld queued job%s ahead: %s\n", moved, moved == 1 ? "" : "s",
			   PQgetvalue(r, 0, QUEUE_REBUILD_MOVED_JSON));
	if (strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_NO_SOURCE), "0"))
		buf_printf(out, "%s release(s) without an sdist or git commit skipped\n",
			   PQgetvalue(r, 0, QUEUE_REBUILD_NO_SOURCE));
out:
	PQclear(r);
	buf_release(&norm);
	buf_release(&vnorm);
	return rc;
}

/* ---- requeue-failed [--project NAME] [--target NAME] [--class CLASS] ---- */

static int queue_admin__requeue(PGconn *c, const char *project, const char *target,
				const char *class, struct buf *out, struct kerr *e)
{
	struct buf norm = BUF_INIT(255);
	const char *params[4];
	PGresult *r = NULL;
	int rc = 0;

	if (project && (rc = queue_admin__project(project, &norm, e)))
		goto out;
	params[0] = project ? norm.ptr : NULL;
	params[1] = target;
	params[2] = QUEUE_ADMIN_PRIORITY_TEXT;
	params[3] = class;
	if ((rc = db_query(c, queue_sql_requeue_failed, 4, params, &r, e)))
		goto out;
	if (PQgetvalue(r, 0, QUEUE_REQUEUE_PROJECT_FOUND)[0] != 't')
		rc = kerr_set(e, KERR_NOTFOUND, "no project named '%s'", project);
	else if (PQgetvalue(r, 0, QUEUE_REQUEUE_TARGET_FOUND)[0] != 't')
		rc = kerr_set(e, KERR_NOTFOUND, "no target named '%s'", target);
	if (rc)
		goto out;
	buf_printf(out, "requeued %s of %s failed job(s) at priority %d\n",
		   PQgetvalue(r, 0, QUEUE_REQUEUE_REQUEUED), PQgetvalue(r, 0, QUEUE_REQUEUE_FAILED),
		   QUEUE_ADMIN_PRIORITY);
	if (strcmp(PQgetvalue(r, 0, QUEUE_REQUEUE_DISABLED), "0"))
		buf_printf(out, "%s failed job(s) on disabled targets left alone\n",
			   PQgetvalue(r, 0, QUEUE_REQUEUE_DISABLED));
out:
	PQclear(r);
	buf_release(&norm);
	return rc;
}

/* ---- queue [--state S] [--target T] [--project P] [--limit N] ---- */

static int queue_admin__list(PGconn *c, const struct config *cfg,
			     const struct queue_admin__args *a, struct buf *out, struct kerr *e)
{
	struct buf norm = BUF_INIT(255);
	const char *params[9] = { NULL };
	PGresult *r = NULL;
	long long limit = 100;
	char lim[24], window[24], *end;
	int rc = 0, n, shown;

	if (a->state && strcmp(a->state, "queued") && strcmp(a->state, "assigned") &&
	    strcmp(a->state, "running"))
		return kerr_set(e, QUEUE_ADMIN_USAGE, "--state must be queued, assigned or running");
	if (a->limit) {
		errno = 0;
		limit = strtoll(a->limit, &end, 10);
		if (errno || *end || !*a->limit || limit < 1 || limit > QUEUE_ADMIN_LIMIT_MAX)
			return kerr_set(e, QUEUE_ADMIN_USAGE, "--limit must be 1 to %d",
					QUEUE_ADMIN_LIMIT_MAX);
	}
	if (a->project && (rc = queue_admin__project(a->project, &norm, e)))
		goto out;
	snprintf(lim, sizeof(lim), "%lld", limit + 1);
	params[0] = a->state;
	params[1] = a->target;
	params[2] = a->project ? norm.ptr : NULL;
	params[7] = lim;
	snprintf(window, sizeof(window), "%d",
		 queue_online_window(config_get_int(cfg, CONFIG_LEASE_SECONDS)));
	params[8] = window;
	if ((rc = db_query(c, queue_sql_list, 9, params, &r, e)))
		goto out;
	n = PQntuples(r);
	shown = n > limit ? (int)limit : n;
	buf_printf(out, "%-8s %-8s %5s %-5s %-24s %-12s %-26s %s\n", "JOB", "STATE", "PRIO", "TRY",
		   "PROJECT", "VERSION", "TARGET", "BUILDER");
	for (int i = 0; i < shown; i++) {
		const char *wait = PQgetvalue(r, i, QUEUE_LIST_WAITING_FOR);
		char tries[32], waiting[96] = "";

		snprintf(tries, sizeof(tries), "%s/%s", PQgetvalue(r, i, QUEUE_LIST_ATTEMPTS),
			 PQgetvalue(r, i, QUEUE_LIST_MAX_ATTEMPTS));
		/* A queued job no connected builder can take says so, rather than look stuck. */
		if (*wait)
			snprintf(waiting, sizeof(waiting), " (waiting for %s %s)",
				 strchr("aeiouxAEIOUX", wait[0]) ? "an" : "a", wait);
		buf_printf(out, "%-8s %-8s %5s %-5s %-24s %-12s %-26s %s%s%s%s%s%s\n",
			   PQgetvalue(r, i, QUEUE_LIST_ID), PQgetvalue(r, i, QUEUE_LIST_STATE),
			   PQgetvalue(r, i, QUEUE_LIST_PRIORITY), tries,
			   PQgetvalue(r, i, QUEUE_LIST_NORMALIZED), PQgetvalue(r, i, QUEUE_LIST_VERSION),
			   PQgetvalue(r, i, QUEUE_LIST_TARGET),
			   PQgetisnull(r, i, QUEUE_LIST_BUILDER) ? "-" : PQgetvalue(r, i, QUEUE_LIST_BUILDER),
			   PQgetisnull(r, i, QUEUE_LIST_PHASE) ? "" : " (",
			   PQgetvalue(r, i, QUEUE_LIST_PHASE),
			   PQgetisnull(r, i, QUEUE_LIST_PHASE) ? "" : ")", waiting,
			   strcmp(PQgetvalue(r, i, QUEUE_LIST_KIND), "check") ? ""
			   : " (reproducibility check)");
	}
	if (n > shown)
		buf_printf(out, "... more: narrow with --state, --target or --project, or raise --limit "
				"(now %lld)\n", limit);
out:
	PQclear(r);
	buf_release(&norm);
	return rc;
}

int queue_admin_pause(PGconn *c, const char *name, int paused, struct buf *out, struct kerr *e)
{
	const char *params[2] = { name, paused ? "true" : "false" };
	PGresult *r = NULL;
	int rc;

	if ((rc = db_query(c, queue_sql_pause, 2, params, &r, e)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = kerr_set(e, KERR_NOTFOUND, "no builder named '%s'", name);
		goto out;
	}
	buf_printf(out, "builder '%s' %s%s\n", name,
		   paused ? "paused: it gets no new job and finishes what it runs" : "resumed",
		   strcmp(PQgetvalue(r, 0, QUEUE_PAUSE_STATE), "disabled") ? "" :
		   " (it is disabled, though)");
out:
	PQclear(r);
	return rc;
}

int queue_admin_is_command(const char *word)
{
	return !strcmp(word, "job") || !strcmp(word, "rebuild") || !strcmp(word, "requeue-failed") ||
	       !strcmp(word, "queue");
}

int queue_admin_run(PGconn *c, const struct config *cfg, int argc, char **argv,
		    struct buf *out, struct kerr *e)
{
	static const char *const cancel_opts[] = { "--reason", NULL };
	static const char *const rebuild_opts[] = { "--target", "--priority", NULL };
	static const char *const requeue_opts[] = { "--project", "--target", "--class", NULL };
	static const char *const list_opts[] = { "--state", "--target", "--project", "--limit",
						 NULL };
	struct queue_admin__args a;
	int rc;

	if (argc == 4 && !strcmp(argv[0], "job") && !strcmp(argv[1], "priority"))
		return queue_admin__set_priority(c, argv[2], argv[3], out, e);
	if (argc >= 1 && !strcmp(argv[0], "job")) {
		if (argc < 2 || strcmp(argv[1], "cancel"))
			return kerr_set(e, QUEUE_ADMIN_USAGE, "job takes: cancel ID [--reason TEXT] | "
					"priority ID N");
		if ((rc = queue_admin__parse(argc - 2, argv + 2, cancel_opts, 1, &a, e)))
			return rc;
		if (a.npos != 1)
			return kerr_set(e, QUEUE_ADMIN_USAGE, "job cancel takes a job id");
		return queue_admin__cancel(c, cfg, a.pos[0], a.reason, out, e);
	}
	if (argc >= 1 && !strcmp(argv[0], "rebuild")) {
		if ((rc = queue_admin__parse(argc - 1, argv + 1, rebuild_opts, 2, &a, e)))
			return rc;
		if (a.npos < 1)
			return kerr_set(e, QUEUE_ADMIN_USAGE, "rebuild takes PROJECT [VERSION] "
					"[--target NAME] [--priority N]");
		return queue_admin__rebuild(c, a.pos[0], a.npos > 1 ? a.pos[1] : NULL, a.target,
					    a.priority, out, e);
	}
	if (argc >= 1 && !strcmp(argv[0], "requeue-failed")) {
		if ((rc = queue_admin__parse(argc - 1, argv + 1, requeue_opts, 0, &a, e)))
			return rc;
		if (a.class && !queue_failure_class_ok(a.class))
			return kerr_set(e, QUEUE_ADMIN_USAGE, "--class must be one of native-dependency, "
					"build-requirement, compile, import, timeout, out-of-memory, "
					"infrastructure");
		return queue_admin__requeue(c, a.project, a.target, a.class, out, e);
	}
	if (argc >= 1 && !strcmp(argv[0], "queue")) {
		if ((rc = queue_admin__parse(argc - 1, argv + 1, list_opts, 0, &a, e)))
			return rc;
		return queue_admin__list(c, cfg, &a, out, e);
	}
	return kerr_set(e, QUEUE_ADMIN_USAGE, "unknown queue command");
}
