/*
 * kiln-sync: keeps Kiln's picture of the upstream index current in Postgres and
 * plans builds for what is new.
 *
 *   kiln-sync --once [--config FILE] [--upstream URL]
 *       one sync, then exit (0: everything stored)
 *   kiln-sync [--config FILE] [--upstream URL] [--interval SECONDS]
 *       sync every KILN_SYNC_INTERVAL seconds until SIGTERM or SIGINT
 *
 *   ... [--feed URL] [--feed-interval SECONDS]
 *       also poll the upstream's feed of newest releases every few seconds and
 *       refresh just the projects it names (fast notice; see sync.h)
 *
 *   ... [--git-interval SECONDS]
 *       poll the git sources' tags this often (KILN_SYNC_GIT_INTERVAL, shorter
 *       than a full sync's), and after every full sync
 *
 * Backfill: a target added or re-enabled puts every project in plan_backlog
 * (migrations/0014_queue_matrix.sql) and notifies 'kiln_plan'; the daemon
 * listens, and plans the backlog SYNC_BACKFILL_BATCH projects per pass between
 * its other work (plan.h); --once drains it after its sync.
 *
 *   --listing-only: store the listing (names and serials) and log how many
 *       pages are behind it, but fetch no page; for a first look at a big
 *       upstream, and bench/sync
 *
 * What one sync does is in sync.h. SIGTERM finishes the batch being written.
 * A session advisory lock keeps two instances from working at once.
 */
#include "common/clock.h"
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/xalloc.h"
#include "registry-sync/gitsrc.h"
#include "registry-sync/plan.h"
#include "registry-sync/selection.h"
#include "registry-sync/sync.h"

#include <curl/curl.h>
#include <git2.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SYNC_USAGE                                                                    \
	"usage: kiln-sync [--once] [--config FILE] [--upstream URL] [--interval SECONDS]\n" \
	"                 [--feed URL] [--feed-interval SECONDS] [--git-interval SECONDS]\n" \
	"                 [--batch N] [--timeout S] [--listing-only]\n"                     \
	"Settings also come from KILN_* variables and the config file (see README).\n"

static volatile sig_atomic_t sync__stop;

/* Projects planned per backfill pass: bounded, so feed polls and syncs interleave. */
#define SYNC_BACKFILL_BATCH 50
/* How often the daemon looks at the backlog when no 'kiln_plan' notice woke it. */
#define SYNC_BACKFILL_POLL_S 30.0

/* The connection LISTENing on 'kiln_plan' (a target added): a notice ends a sleep early. */
static PGconn *sync__listen_db;
static int sync__plan_noticed;

static void sync__on_signal(int sig)
{
	(void)sig;
	sync__stop = 1;
}

/* Sleep until the monotonic time t unless asked to stop; 1 if a stop came. */
static int sync__sleep_until(double t)
{
	while (!sync__stop) {
		double left = t - clock_now_s();
		if (left <= 0)
			return 0;
		if (sync__listen_db && PQconsumeInput(sync__listen_db)) {
			PGnotify *n;
			while ((n = PQnotifies(sync__listen_db))) {
				sync__plan_noticed = 1;
				PQfreemem(n);
			}
			if (sync__plan_noticed)
				return 0;
		}
		struct timespec ts = { 0, (long)((left < 0.1 ? left : 0.1) * 1e9) };
		nanosleep(&ts, NULL);
	}
	return 1;
}

static int sync__lock(PGconn *db, struct kerr *e)
{
	PGresult *r = NULL;
	int rc, got;

	if ((rc = db_query(db, "select pg_try_advisory_lock(hashtext('kiln-sync'))", 0, NULL,
			&r, e)))
		return rc;
	got = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (!got)
		return kerr_set(e, KERR_CONFLICT,
			"another kiln-sync holds the sync lock on this database; not starting");
	return 0;
}

/* The daemon's wait before its next try at an unreachable database: 0.5 s, doubling to 10 s. */
static double sync__db_backoff(double *wait)
{
	*wait = *wait > 0 ? *wait * 2 : 0.5;
	if (*wait > 10)
		*wait = 10;
	return *wait;
}

/*
 * Connect; the daemon (not --once) waits for a database that is not up yet
 * (starting with it, or restarting) instead of exiting. 0, KERR_DB (--once), or
 * KERR_AGAIN when a stop signal came while waiting.
 */
static int sync__connect(const char *url, int once, PGconn **db, struct kerr *e)
{
	double wait = 0;
	char q[600];

	while (db_connect(url, db, e)) {
		if (once)
			return e->code;
		if (wait == 0)
			log_warn("database unavailable; waiting for it", "error=%s",
				 log_quote(q, sizeof(q), e->msg));
		if (sync__sleep_until(clock_now_s() + sync__db_backoff(&wait)))
			return kerr_set(e, KERR_AGAIN, "stopped while waiting for the database");
	}
	return 0;
}

/*
 * Backfill passes (registry-sync/plan.h): --once drains the backlog, the
 * daemon runs one bounded pass. *next: when the daemon looks again.
 */
static int sync__backfill(PGconn *db, int once, double *next, struct kerr *e)
{
	struct plan_stats ps;
	long left = 0;
	int rc;

	sync__plan_noticed = 0;
	do {
		if ((rc = plan_backlog_pass(db, SYNC_BACKFILL_BATCH, &ps, &left, e)))
			break;
	} while (once && left > 0 && ps.projects > 0 && !sync__stop);
	*next = clock_now_s() + (left > 0 && !rc ? 0.2 : SYNC_BACKFILL_POLL_S);
	return rc;
}

static void sync__listen(PGconn *db)
{
	struct kerr le;

	sync__listen_db = db_exec(db, "listen kiln_plan", &le) ? NULL : db;
}

/* Log a failed pass; e keeps the last failure for --once's exit message. */
static int sync__report(const char *what, int rc, struct kerr *se, struct kerr *e)
{
	char q[600];

	if (!rc)
		return 0;
	log_error(what, "error=%s", log_quote(q, sizeof(q), se->msg));
	*e = *se;
	return 1;
}

int main(int argc, char **argv)
{
	static const struct config_flag flags[] = {
		{ "--upstream", "KILN_UPSTREAM_URL" },
		{ "--interval", "KILN_SYNC_INTERVAL" },
		{ "--feed", "KILN_SYNC_FEED_URL" },
		{ "--feed-interval", "KILN_SYNC_FEED_INTERVAL" },
		{ "--git-interval", "KILN_SYNC_GIT_INTERVAL" },
		{ "--batch", "KILN_SYNC_BATCH" },
		{ "--timeout", "KILN_SYNC_TIMEOUT" },
	};
	static const char *const switches[] = { "--once", "--listing-only" };
	unsigned switched = 0;
	struct config cfg;
	struct kerr e;
	struct sync s;
	struct selection only = { NULL, 0 };
	PGconn *db = NULL;
	int once = 0, rc = 1, inited = 0;
	double next_full = 0, next_feed = 0, next_git = 0, next_backfill = 0, db_wait = 0;
	struct sigaction sa;

	log_init("kiln-sync");
	config_init(&cfg);
	kerr_clear(&e);
	memset(&s, 0, sizeof(s));
	rc = config_from_args(&cfg, argc, argv, flags, sizeof(flags) / sizeof(flags[0]), switches, 2,
			      &switched, &e);
	if (rc == CONFIG_ARGS_HELP || rc == CONFIG_ARGS_USAGE) {
		fputs(SYNC_USAGE, rc == CONFIG_ARGS_HELP ? stdout : stderr);
		config_release(&cfg);
		return rc == CONFIG_ARGS_HELP ? 0 : 2;
	}
	rc = 1;
	if (e.code)
		goto fail;
	once = switched & 1;
	log_init("kiln-sync");
	if (!*config_get(&cfg, CONFIG_UPSTREAM_URL)) {
		kerr_set(&e, KERR_INVAL,
			"KILN_UPSTREAM_URL is not set: give the upstream index's simple API URL "
			"(--upstream URL, the environment or the config file)");
		goto fail;
	}
	if (selection_init(&only, config_get(&cfg, CONFIG_SYNC_PROJECTS), &e))
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sync__on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	curl_global_init(CURL_GLOBAL_DEFAULT);
	git_libgit2_init();
	if ((rc = sync__connect(config_get(&cfg, CONFIG_DATABASE_URL), once, &db, &e)) == KERR_AGAIN) {
		/* SIGTERM before the database ever answered: nothing was started, nothing to finish. */
		curl_global_cleanup();
		git_libgit2_shutdown();
		selection_release(&only);
		config_release(&cfg);
		return 0;
	}
	if (rc || sync__lock(db, &e) ||
	    sync_init(&s, db, config_get(&cfg, CONFIG_UPSTREAM_URL),
		    config_get(&cfg, CONFIG_SYNC_FEED_URL), config_get_int(&cfg, CONFIG_SYNC_BATCH),
		    &sync__stop, &e)) {
		curl_global_cleanup();
		git_libgit2_shutdown();
		goto fail;
	}
	inited = 1;
	s.http.timeout = config_get_int(&cfg, CONFIG_SYNC_TIMEOUT);
	s.retry_base_ms = config_get_int(&cfg, CONFIG_SYNC_RETRY_MS);
	s.http.parallel = config_get_int(&cfg, CONFIG_SYNC_CONNECTIONS);
	s.listing_only = (switched & 2) != 0;
	s.only = &only;
	sync__listen(db);
	/*
	 * The daemon polls the feed (if there is one) every feed interval, the git
	 * sources every git interval, and runs a full sync every interval (the git
	 * sources right after it); --once runs one full sync and the git sources.
	 */
	for (;;) {
		struct kerr se;
		double now = clock_now_s();

		kerr_clear(&se);
		/*
		 * A daemon outlives database restarts; the session lock must be taken
		 * again. Tries back off: without a wait between them the loop spun,
		 * logging a failure every few milliseconds until the database was back.
		 */
		if (PQstatus(db) != CONNECTION_OK) {
			PQreset(db);
			if (PQstatus(db) != CONNECTION_OK) {
				kerr_set(&se, KERR_DB, "database connection lost: %s", PQerrorMessage(db));
				rc = sync__report("sync failed", se.code, &se, &e);
				if (once || sync__stop ||
				    sync__sleep_until(clock_now_s() + sync__db_backoff(&db_wait)))
					break;
				continue;
			}
			db_wait = 0;
			sync__listen(db);
			if (sync__lock(db, &se)) {
				e = se;
				rc = 1;
				once = 1; /* another instance took over: stop, reporting why */
				break;
			}
			rc = sync__report("sync failed", se.code, &se, &e);
		} else if (now >= next_full || now >= next_git) {
			struct gitsrc_stats gs;
			struct kerr ge;
			int full = now >= next_full;

			kerr_clear(&ge);
			rc = full ? sync__report("sync failed", sync_full(&s, &se), &se, &e) : 0;
			/*
			 * Tags are polled on their own, shorter interval (a tag is one
			 * small ls-remote away), and after every full sync: a 304
			 * listing does not skip them.
			 */
			if (!sync__stop)
				rc |= sync__report("git sources failed", gitsrc_sync_all(db, &gs, &ge), &ge, &e);
			next_git = clock_now_s() + (double)config_get_int(&cfg, CONFIG_SYNC_GIT_INTERVAL);
			if (full) {
				next_full = clock_now_s() + (double)config_get_int(&cfg, CONFIG_SYNC_INTERVAL);
				next_feed = clock_now_s();
			}
			/* --once: a target added before it gets its releases planned too. */
			if (once && !sync__stop && !s.listing_only)
				rc |= sync__report("backfill failed", sync__backfill(db, 1, &next_backfill, &ge),
						   &ge, &e);
		} else if (!s.listing_only && (now >= next_backfill || sync__plan_noticed)) {
			rc = sync__report("backfill failed", sync__backfill(db, 0, &next_backfill, &se), &se,
					  &e);
		} else if (*s.feed_url) {
			rc = sync__report("feed sync failed", sync_feed(&s, &se), &se, &e);
			next_feed = clock_now_s() + (double)config_get_int(&cfg, CONFIG_SYNC_FEED_INTERVAL);
		}
		if (once || sync__stop)
			break;
		{
			double wake = next_full < next_git ? next_full : next_git;
			if (*s.feed_url && next_feed < wake)
				wake = next_feed;
			if (!s.listing_only && next_backfill < wake)
				wake = next_backfill;
			if (sync__sleep_until(wake))
				break;
		}
	}
	sync_release(&s);
	PQfinish(db);
	curl_global_cleanup();
	git_libgit2_shutdown();
	selection_release(&only);
	if (rc && once)
		fprintf(stderr, "kiln-sync: %s\n", e.msg);
	config_release(&cfg);
	return once ? rc : 0;
fail:
	fprintf(stderr, "kiln-sync: %s\n", e.msg);
	if (inited)
		sync_release(&s);
	PQfinish(db);
	selection_release(&only);
	config_release(&cfg);
	return 1;
}
