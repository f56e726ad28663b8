/*
 * kiln-sync: keeps Kiln's picture of the upstream index current in Postgres and
 * plans builds for what is new.
 *
 *   kiln-sync --once [--config FILE] [--upstream URL]
 *       one sync, then exit (0: everything stored)
 *   kiln-sync [--config FILE] [--upstream URL] [--interval SECONDS]
 *       sync every KILN_SYNC_INTERVAL seconds until SIGTERM or SIGINT
 *
 * One sync: fetch the listing (conditionally, with the ETag stored last time:
 * 304 means nothing to do), then the page of every project that is new or
 * whose serial rose (projects without serials: every page, conditionally with
 * its ETag), storing and planning each page in its own transaction. The
 * listing's ETag and serial are recorded only after every page was stored, so
 * a crash or a failed page makes the next run look again.
 *
 * A session advisory lock keeps two instances from working at once.
 */
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/xalloc.h"
#include "registry-sync/plan.h"
#include "registry-sync/selection.h"
#include "registry-sync/store.h"
#include "registry-sync/upstream.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYNC_USAGE                                                                    \
	"usage: kiln-sync [--once] [--config FILE] [--upstream URL] [--interval SECONDS]\n" \
	"Settings also come from KILN_* variables and the config file (see README).\n"

#define SYNC_LISTING_MAX ((size_t)512 << 20)
#define SYNC_PAGE_MAX ((size_t)64 << 20)
#define SYNC_ATTEMPTS 4

static volatile sig_atomic_t sync__stop;

static void sync__on_signal(int sig)
{
	(void)sig;
	sync__stop = 1;
}

struct sync_ctx {
	const struct config *cfg;
	PGconn *db;
	struct upstream_client http;
	struct store_known known;
	struct selection only; /* KILN_SYNC_PROJECTS */
	const char *upstream;
	long projects, fetched, unchanged, failed, planned, skipped;
};

/* Sleep s seconds unless asked to stop; 1 if a stop came. */
static int sync__sleep(long s)
{
	while (s-- > 0 && !sync__stop)
		sleep(1);
	return sync__stop != 0;
}

/*
 * Fetch with retries: transport errors, 429 and 5xx are tried SYNC_ATTEMPTS
 * times with exponential backoff, or the Retry-After the upstream asked for
 * (capped, so a hostile upstream cannot park the mirror for a day).
 */
static int sync__fetch(struct sync_ctx *s, const char *url, const char *etag,
	struct upstream_response *r, struct kerr *e)
{
	long delay = 1;
	int rc = 0;

	for (int attempt = 1; attempt <= SYNC_ATTEMPTS; attempt++) {
		rc = upstream_fetch(&s->http, url, etag, r, e);
		if (rc == KERR_TOOBIG)
			return rc;
		if (!rc && r->status != 429 && r->status < 500)
			return 0;
		if (!rc)
			rc = kerr_set(e, KERR_AGAIN, "fetching %s: HTTP %ld", url, r->status);
		if (attempt == SYNC_ATTEMPTS)
			break;
		long wait = r->retry_after >= 0 ? (r->retry_after < 300 ? r->retry_after : 300) : delay;
		char q[600];
		log_warn("upstream request failed, retrying", "attempt=%d wait=%ld error=%s",
			attempt, wait, log_quote(q, sizeof(q), e ? e->msg : ""));
		if (sync__sleep(wait))
			break;
		delay *= 4;
	}
	return rc;
}

/* Store and plan one page in one transaction. */
static int sync__store(struct sync_ctx *s, const char *name, int64_t serial,
	const char *etag, const struct upstream_page *p, struct kerr *e)
{
	struct store_stats st;
	struct plan_stats ps;
	int64_t pid = -1;
	int rc;

	if ((rc = db_exec(s->db, "begin", e)))
		return rc;
	if ((rc = store_page(s->db, name, serial, etag, p, &pid, &st, e)) ||
	    (rc = plan_project(s->db, pid, &ps, e)) || (rc = db_exec(s->db, "commit", e))) {
		db_exec(s->db, "rollback", NULL);
		return rc;
	}
	s->planned += ps.planned;
	s->skipped += ps.skipped;
	log_info("project synced",
		"project=%s serial=%" PRId64 " files=%zu written=%ld deleted=%ld planned=%ld skipped=%ld",
		name, serial, p->nfiles, st.files_written, st.files_deleted, ps.planned, ps.skipped);
	return 0;
}

static int sync__project(struct sync_ctx *s, const struct upstream_project *up,
	struct kerr *e)
{
	struct buf norm = BUF_INIT(256), url = BUF_INIT(BUF_NOLIMIT);
	struct upstream_response r;
	struct upstream_page page;
	const char *etag = NULL;
	int64_t stored = -1, serial;
	int found, rc;

	upstream_response_init(&r, SYNC_PAGE_MAX);
	memset(&page, 0, sizeof(page));
	if ((rc = pyname_normalize(up->name, strlen(up->name), &norm, e)))
		goto out;
	found = store_known_find(&s->known, norm.ptr, &stored, &etag);
	/* With serials, an unchanged serial means an unchanged page. */
	if (found && up->serial >= 0 && stored >= up->serial) {
		s->unchanged++;
		goto out;
	}
	upstream_page_url(s->upstream, norm.ptr, &url);
	if ((rc = sync__fetch(s, url.ptr, up->serial >= 0 ? NULL : etag, &r, e)))
		goto out;
	s->fetched++;
	if (r.status == 304) {
		s->unchanged++;
		goto out;
	}
	if (r.status != 200) {
		rc = kerr_set(e, KERR_PROTO, "fetching %s: HTTP %ld", url.ptr, r.status);
		goto out;
	}
	rc = r.is_json ? upstream_parse_page_json(r.body.ptr, r.body.len, r.url, &page, e)
		       : upstream_parse_page_html(r.body.ptr, r.body.len, r.url, &page, e);
	if (rc) {
		kerr_wrap(e, "%s", url.ptr);
		goto out;
	}
	serial = page.serial >= 0 ? page.serial : r.serial >= 0 ? r.serial : up->serial;
	rc = sync__store(s, up->name, serial, r.etag, &page, e);
out:
	upstream_page_release(&page);
	upstream_response_release(&r);
	buf_release(&norm);
	buf_release(&url);
	return rc;
}

/* One sync. 0 when everything was stored, else the last failure. */
static int sync__once(struct sync_ctx *s, struct kerr *e)
{
	struct upstream_response r;
	struct upstream_listing l;
	struct buf listed = BUF_INIT(BUF_NOLIMIT), norm = BUF_INIT(256);
	char *etag = NULL;
	int64_t serial = -1;
	long pruned = 0;
	int rc, failed = 0;

	upstream_response_init(&r, SYNC_LISTING_MAX);
	memset(&l, 0, sizeof(l));
	s->projects = s->fetched = s->unchanged = s->failed = s->planned = s->skipped = 0;
	if ((rc = store_sync_state_get(s->db, s->upstream, &etag, &serial, e)))
		goto out;
	if ((rc = sync__fetch(s, s->upstream, etag, &r, e)))
		goto out;
	if (r.status == 304) {
		log_info("listing unchanged", "serial=%" PRId64, serial);
		goto out;
	}
	if (r.status != 200) {
		rc = kerr_set(e, KERR_PROTO, "fetching the listing: HTTP %ld", r.status);
		goto out;
	}
	rc = r.is_json ? upstream_parse_listing_json(r.body.ptr, r.body.len, &l, e)
		       : upstream_parse_listing_html(r.body.ptr, r.body.len, &l, e);
	if (rc) {
		kerr_wrap(e, "listing");
		goto out;
	}
	if (l.serial < 0)
		l.serial = r.serial;
	log_info("listing fetched", "projects=%zu serial=%" PRId64 " previous_serial=%" PRId64,
		l.nprojects, l.serial, serial);
	if ((rc = store_known_load(s->db, &s->known, e)))
		goto out;
	for (size_t i = 0; i < l.nprojects && !sync__stop; i++) {
		struct kerr pe;

		kerr_clear(&pe);
		s->projects++;
		buf_reset(&norm);
		if (pyname_normalize(l.projects[i].name, strlen(l.projects[i].name), &norm, NULL)) {
			char q[300];
			log_warn("skipping invalid project name", "name=%s",
				log_quote(q, sizeof(q), l.projects[i].name));
			continue;
		}
		buf_printf(&listed, "%s%s", listed.len ? "," : "{", norm.ptr);
		/* Unselected projects stay listed above, so they are never pruned. */
		if (!selection_wants(&s->only, norm.ptr))
			continue;
		if (sync__project(s, &l.projects[i], &pe)) {
			char q[600];
			failed++;
			log_error("project sync failed", "project=%s error=%s", l.projects[i].name,
				log_quote(q, sizeof(q), pe.msg));
			*e = pe;
			rc = pe.code;
		}
		if ((i + 1) % 1000 == 0)
			log_info("progress", "done=%zu of=%zu", i + 1, l.nprojects);
	}
	s->failed = failed;
	if (sync__stop && !rc)
		rc = kerr_set(e, KERR_AGAIN, "stopped by a signal before the end of the listing");
	if (!listed.len)
		buf_putc(&listed, '{');
	buf_putc(&listed, '}');
	/*
	 * Only a listing read to the end says what is gone upstream, and an empty
	 * one over a populated mirror is far likelier an upstream fault than the
	 * end of every project.
	 */
	if (!rc && !l.nprojects && s->known.n > 0)
		log_warn("empty listing, not removing projects", "known=%d", s->known.n);
	else if (!rc && (rc = store_prune_projects(s->db, listed.ptr, &pruned, e)))
		goto out;
	/*
	 * The listing counts as seen only when every page made it in. Under a
	 * selection its ETag is not kept: a 304 must not hide the projects that a
	 * widened selection wants next time.
	 */
	if (!rc && (rc = store_sync_state_put(s->db, s->upstream, s->only.n ? NULL : r.etag,
			      l.serial, "full", e)))
		goto out;
	log_info("sync finished",
		"projects=%ld fetched=%ld unchanged=%ld failed=%ld planned=%ld skipped=%ld "
		"removed=%ld",
		s->projects, s->fetched, s->unchanged, s->failed, s->planned, s->skipped, pruned);
out:
	store_known_release(&s->known);
	buf_release(&listed);
	buf_release(&norm);
	upstream_listing_release(&l);
	upstream_response_release(&r);
	free(etag);
	return rc;
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

int main(int argc, char **argv)
{
	static const struct config_flag flags[] = {
		{ "--upstream", "KILN_UPSTREAM_URL" },
		{ "--interval", "KILN_SYNC_INTERVAL" },
	};
	static const char *const switches[] = { "--once" };
	unsigned switched = 0;
	struct config cfg;
	struct kerr e;
	struct sync_ctx s;
	PGconn *db = NULL;
	int once = 0, rc = 1;
	struct sigaction sa;

	log_init("kiln-sync");
	config_init(&cfg);
	kerr_clear(&e);
	memset(&s, 0, sizeof(s));
	rc = config_from_args(&cfg, argc, argv, flags, sizeof(flags) / sizeof(flags[0]), switches, 1,
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
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sync__on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (selection_init(&s.only, config_get(&cfg, CONFIG_SYNC_PROJECTS), &e))
		goto fail;
	if (db_connect(config_get(&cfg, CONFIG_DATABASE_URL), &db, &e) || sync__lock(db, &e) ||
	    upstream_client_init(&s.http, &e)) {
		curl_global_cleanup();
		goto fail;
	}
	s.cfg = &cfg;
	s.db = db;
	s.upstream = config_get(&cfg, CONFIG_UPSTREAM_URL);
	for (;;) {
		struct kerr se;

		kerr_clear(&se);
		/* A daemon outlives database restarts; the session lock must be taken again. */
		if (PQstatus(db) != CONNECTION_OK) {
			PQreset(db);
			if (PQstatus(db) != CONNECTION_OK)
				kerr_set(&se, KERR_DB, "database connection lost: %s", PQerrorMessage(db));
			else if (sync__lock(db, &se)) {
				e = se;
				rc = 1;
				once = 1; /* another instance took over: stop, reporting why */
				break;
			}
		}
		rc = se.code || sync__once(&s, &se) ? 1 : 0;
		if (rc) {
			char q[600];
			log_error("sync failed", "error=%s", log_quote(q, sizeof(q), se.msg));
			e = se;
		}
		if (once || sync__stop)
			break;
		if (sync__sleep(config_get_int(&cfg, CONFIG_SYNC_INTERVAL)))
			break;
	}
	upstream_client_release(&s.http);
	selection_release(&s.only);
	PQfinish(db);
	curl_global_cleanup();
	if (rc && once)
		fprintf(stderr, "kiln-sync: %s\n", e.msg);
	config_release(&cfg);
	return once ? rc : 0;
fail:
	fprintf(stderr, "kiln-sync: %s\n", e.msg);
	selection_release(&s.only);
	PQfinish(db);
	config_release(&cfg);
	return 1;
}
