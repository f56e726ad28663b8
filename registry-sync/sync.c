/*
 * sync: full and feed syncs, batched and resumable. The contract is in sync.h.
 */
#include "registry-sync/sync.h"

#include "common/buf.h"
#include "common/db.h"
#include "common/fnv.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/pyversion.h"
#include "common/xalloc.h"
#include "registry-sync/feed.h"
#include "registry-sync/listing.h"
#include "registry-sync/plan.h"
#include "registry-sync/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SYNC_LISTING_MAX ((size_t)512 << 20)
#define SYNC_PAGE_MAX ((size_t)64 << 20)
#define SYNC_FEED_MAX ((size_t)16 << 20)
#define SYNC_ATTEMPTS 4
#define SYNC_RETRY_AFTER_MAX 300

/* What became of one page of a batch. */
enum sync_outcome { PAGE_RETRY, PAGE_STORE, PAGE_SAME, PAGE_GONE, PAGE_FAILED };

struct sync_page {
	const char *name;      /* as the upstream spells it, borrowed */
	const char *norm;      /* normalized, borrowed */
	int64_t want_serial;   /* the serial the listing promised (or the stored one), or -1 */
	const char *want_version; /* normalized version the feed announced, or NULL */
	const char *etag;      /* the page ETag stored last time, borrowed, or NULL */
	struct buf url;        /* the page's URL */
	struct upstream_response r;
	struct upstream_page page;
	enum sync_outcome outcome;
	struct kerr err;
};

int sync_init(struct sync *s, PGconn *db, const char *upstream, const char *feed_url,
	long batch, volatile sig_atomic_t *stop, struct kerr *e)
{
	memset(s, 0, sizeof(*s));
	s->db = db;
	s->upstream = upstream;
	s->feed_url = feed_url ? feed_url : "";
	s->batch = batch > 0 ? batch : 1;
	s->retry_base_ms = 1000;
	s->stop = stop;
	return upstream_client_init(&s->http, e);
}

void sync_release(struct sync *s)
{
	upstream_client_release(&s->http);
	free(s->feed_etag);
	free(s->feed_seen);
	s->feed_etag = s->feed_seen = NULL;
}

static int sync__stopped(const struct sync *s)
{
	return s->stop && *s->stop;
}

/* Sleep ms milliseconds unless asked to stop; 1 if a stop came. */
static int sync__sleep_ms(struct sync *s, long ms)
{
	while (ms > 0 && !sync__stopped(s)) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
	return sync__stopped(s);
}

/*
 * The wait before retry number attempt (1-based): exponential from
 * retry_base_ms with up to 50% random jitter, so many mirrors that failed
 * together do not come back together; a Retry-After wins (capped, so a
 * hostile upstream cannot park the mirror for a day).
 */
static long sync__backoff_ms(const struct sync *s, int attempt, long retry_after)
{
	long d = s->retry_base_ms << (attempt - 1);

	if (retry_after >= 0)
		return (retry_after < SYNC_RETRY_AFTER_MAX ? retry_after : SYNC_RETRY_AFTER_MAX) * 1000;
	return d + (d > 1 ? random() % (d / 2 + 1) : 0);
}

/*
 * Fetch with retries: transport errors, 429 and 5xx are tried SYNC_ATTEMPTS
 * times with backoff. 0 with any other status in r.
 */
static int sync__fetch(struct sync *s, const char *url, const char *etag,
	struct upstream_response *r, struct kerr *e)
{
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
		long wait = sync__backoff_ms(s, attempt, r->retry_after);
		char q[600];
		log_warn("upstream request failed, retrying", "attempt=%d wait_ms=%ld error=%s",
			attempt, wait, log_quote(q, sizeof(q), e ? e->msg : ""));
		if (sync__sleep_ms(s, wait))
			break;
	}
	return rc;
}

/* Does page p list a file of version p->want_version? */
static int sync__lists_version(const struct sync_page *p)
{
	struct buf v = BUF_INIT(256);
	int found = 0;

	for (size_t i = 0; i < p->page.nfiles && !found; i++) {
		const char *kind;

		buf_reset(&v);
		found = !store_file_version(p->norm, p->page.files[i].filename, &kind, &v, NULL) &&
			!strcmp(v.ptr, p->want_version);
	}
	buf_release(&v);
	return found;
}

/*
 * Look at what one fetch of page p brought: set p->outcome, or leave it
 * PAGE_RETRY with *wait_ms set when the page should be fetched again. Errors,
 * 429 and 5xx are retried (Retry-After honoured); so is a page that does not
 * parse or is older than p->want_serial: a CDN may serve a stale or truncated
 * copy for a while, and storing it would roll the mirror back.
 */
static void sync__judge(struct sync *s, struct sync_page *p, int rc, int attempt, long *wait_ms)
{
	struct kerr *e = &p->err;
	int64_t got;

	p->outcome = PAGE_RETRY;
	upstream_page_release(&p->page);
	if (rc == KERR_TOOBIG) {
		p->outcome = PAGE_FAILED;
		return;
	}
	if (!rc)
		s->fetched++;
	if (!rc && (p->r.status == 429 || p->r.status >= 500))
		kerr_set(e, KERR_AGAIN, "fetching %s: HTTP %ld", p->url.ptr, p->r.status);
	else if (rc)
		; /* e says what failed */
	else if (p->r.status == 304)
		p->outcome = PAGE_SAME;
	else if (p->r.status == 404 || p->r.status == 410)
		p->outcome = PAGE_GONE;
	else if (p->r.status != 200) {
		kerr_set(e, KERR_PROTO, "fetching %s: HTTP %ld", p->url.ptr, p->r.status);
		p->outcome = PAGE_FAILED;
	} else {
		rc = p->r.is_json ?
			upstream_parse_page_json(p->r.body.ptr, p->r.body.len, p->r.url, &p->page, e) :
			upstream_parse_page_html(p->r.body.ptr, p->r.body.len, p->r.url, &p->page, e);
		got = p->page.serial >= 0 ? p->page.serial : p->r.serial;
		if (rc)
			kerr_wrap(e, "%s", p->url.ptr);
		else if (p->want_serial >= 0 && got >= 0 && got < p->want_serial)
			kerr_set(e, KERR_AGAIN, "%s: page serial %" PRId64 " is older than the listing's %"
				PRId64 " (stale copy)", p->url.ptr, got, p->want_serial);
		else if (p->want_version && !sync__lists_version(p) && attempt < SYNC_ATTEMPTS)
			kerr_set(e, KERR_AGAIN, "%s: the page does not list %s yet (stale copy)",
				p->url.ptr, p->want_version);
		else {
			if (p->page.serial < 0)
				p->page.serial = got >= 0 ? got : p->want_serial;
			p->outcome = PAGE_STORE;
		}
	}
	if (p->outcome != PAGE_RETRY) {
		/* Parsed: only the ETag is needed any more, for the store. */
		buf_release(&p->r.body);
		return;
	}
	long w = sync__backoff_ms(s, attempt, p->r.retry_after);
	if (w > *wait_ms)
		*wait_ms = w;
}

/*
 * Fetch the n pages of a batch, many in flight at once, in rounds: what a
 * round leaves to retry is fetched again after the longest backoff it asked
 * for, up to SYNC_ATTEMPTS rounds. Every page ends with an outcome.
 */
static void sync__fetch_batch(struct sync *s, struct sync_page *pages, size_t n)
{
	struct upstream_request *reqs = xcalloc(n ? n : 1, sizeof(*reqs));
	size_t *idx = xcalloc(n ? n : 1, sizeof(*idx));

	for (size_t i = 0; i < n; i++) {
		pages[i].outcome = PAGE_RETRY;
		buf_reset(&pages[i].url);
		upstream_page_url(s->upstream, pages[i].norm, &pages[i].url);
	}
	for (int attempt = 1; attempt <= SYNC_ATTEMPTS; attempt++) {
		size_t k = 0;
		long wait = 0;

		for (size_t i = 0; i < n; i++) {
			struct sync_page *p = &pages[i];
			if (p->outcome != PAGE_RETRY)
				continue;
			reqs[k].url = p->url.ptr;
			/* With serials, the serial decides; an ETag could hide a stale copy. */
			reqs[k].etag = p->want_serial >= 0 ? NULL : p->etag;
			reqs[k].r = &p->r;
			idx[k++] = i;
		}
		if (!k)
			break;
		upstream_fetch_many(&s->http, reqs, k);
		for (size_t j = 0; j < k; j++) {
			struct sync_page *p = &pages[idx[j]];
			p->err = reqs[j].err;
			sync__judge(s, p, reqs[j].rc, attempt, &wait);
			if (p->outcome == PAGE_RETRY && attempt < SYNC_ATTEMPTS) {
				char q[600];
				log_warn("upstream request failed, retrying",
					"project=%s attempt=%d wait_ms=%ld error=%s", p->norm, attempt, wait,
					log_quote(q, sizeof(q), p->err.msg));
			}
		}
		if (attempt < SYNC_ATTEMPTS && wait && sync__sleep_ms(s, wait))
			break;
	}
	for (size_t i = 0; i < n; i++) {
		if (pages[i].outcome != PAGE_RETRY)
			continue;
		pages[i].outcome = PAGE_FAILED;
		if (!pages[i].err.code)
			kerr_set(&pages[i].err, KERR_AGAIN, "%s: stopped before the page was read",
				pages[i].url.ptr);
		buf_release(&pages[i].r.body);
	}
	free(reqs);
	free(idx);
}

static void sync__page_reset(struct sync_page *p)
{
	upstream_page_release(&p->page);
	upstream_response_release(&p->r);
	buf_release(&p->url);
	memset(p, 0, sizeof(*p));
}

/* Store and plan one fetched page under a savepoint of the batch's transaction. */
static int sync__store_page(struct sync *s, struct sync_page *p)
{
	struct store_stats st;
	struct plan_stats ps;
	int64_t pid = -1;
	const char *name = p->page.name && *p->page.name ? p->page.name : p->name;
	struct kerr *e = &p->err;
	int rc;

	if ((rc = db_exec(s->db, "savepoint page", e)))
		return rc;
	if ((rc = store_page(s->db, name, p->page.serial, p->r.etag, &p->page, &pid, &st, e)) ||
	    (rc = plan_project(s->db, pid, 0, &ps, e))) {
		struct kerr re;
		if (db_exec(s->db, "rollback to savepoint page", &re)) {
			*e = re;
			return re.code;
		}
		return rc;
	}
	s->planned += ps.planned;
	s->skipped += ps.skipped;
	log_info("project synced",
		"project=%s serial=%" PRId64 " files=%zu written=%ld deleted=%ld planned=%ld skipped=%ld",
		p->norm, p->page.serial, p->page.nfiles, st.files_written, st.files_deleted, ps.planned,
		ps.skipped);
	return db_exec(s->db, "release savepoint page", e);
}

/*
 * Fetch the n pages of a batch, then write them in one transaction, with the
 * position (listing_key, after) when both are given. Returns 0 even when pages
 * failed (they are counted, logged and left for the next sync: *page_failed set);
 * a database failure of the batch itself is returned.
 */
static int sync__batch(struct sync *s, struct sync_page *pages, size_t n,
	const char *listing_key, const char *after, int *page_failed, struct kerr *e)
{
	int rc;

	sync__fetch_batch(s, pages, n);
	if ((rc = db_exec(s->db, "begin", e)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct sync_page *p = &pages[i];
		long gone = 0;

		if (p->outcome == PAGE_SAME) {
			s->unchanged++;
		} else if (p->outcome == PAGE_GONE) {
			if ((rc = store_project_gone(s->db, p->norm, &gone, e)))
				goto fail;
			s->gone += gone;
			log_info("project page not found, project marked deleted", "project=%s known=%ld",
				p->norm, gone);
		} else if (p->outcome == PAGE_STORE && (rc = sync__store_page(s, p))) {
			if (rc == KERR_DB && PQtransactionStatus(s->db) != PQTRANS_INTRANS) {
				*e = p->err;
				goto fail;
			}
			p->outcome = PAGE_FAILED;
		}
		if (p->outcome == PAGE_FAILED) {
			char q[600];
			s->failed++;
			*page_failed = 1;
			*e = p->err;
			log_error("project sync failed", "project=%s error=%s", p->norm,
				log_quote(q, sizeof(q), p->err.msg));
		}
	}
	/* Past a failed page the position stays put: the next sync must see it again. */
	if (listing_key && after && !*page_failed &&
	    (rc = store_sync_position_put(s->db, s->upstream, listing_key, after, e)))
		goto fail;
	if ((rc = db_exec(s->db, "commit", e)))
		goto fail;
	return 0;
fail:
	db_exec(s->db, "rollback", NULL);
	return rc;
}

/* Progress of a long walk: a line on a terminal, log lines otherwise. */
struct sync_progress {
	size_t total;
	struct timespec start, last;
	int tty;
};

static double sync__since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->tv_sec) + (double)(now.tv_nsec - a->tv_nsec) / 1e9;
}

static void sync__progress(struct sync_progress *pr, size_t done, int final)
{
	double el = sync__since(&pr->start), rate, eta;

	if (!final && sync__since(&pr->last) < (pr->tty ? 0.5 : 10.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &pr->last);
	rate = el > 0 ? (double)done / el : 0;
	eta = rate > 0 ? (double)(pr->total - done) / rate : 0;
	if (pr->tty) {
		fprintf(stderr, "\rsync: %zu/%zu projects  %.0f/s  ETA %.0fs   %s", done, pr->total,
			rate, eta, final ? "\n" : "");
		fflush(stderr);
	} else {
		log_info("progress", "done=%zu of=%zu rate=%.0f eta_s=%.0f", done, pr->total, rate, eta);
	}
}

/*
 * Second spellings of one normalized name, found with an open-addressing hash
 * table over the listing's entries (a sort of 700,000 names cost three times
 * as much, and no order is needed: the listing table has no index).
 */
struct sync_entry {
	size_t norm;                     /* offset of the normalized name in the arena */
	const struct upstream_project *up;
};

static uint64_t sync__hash(const char *s)
{
	return fnv_str(FNV_INIT, s);
}

/*
 * Write the parsed listing l (one COPY, one transaction). Two spellings of one
 * name count once, with the higher serial (the first listed on a tie). *nlisted
 * gets how many distinct valid names it holds.
 */
static int sync__ingest(struct sync *s, const struct upstream_listing *l, size_t *nlisted,
	struct kerr *e)
{
	struct store_listing sl;
	struct buf arena = BUF_INIT(BUF_NOLIMIT);
	struct sync_entry *ents = xcalloc(l->nprojects ? l->nprojects : 1, sizeof(*ents));
	size_t n = 0, mask = 1, *slots;
	int rc;

	*nlisted = 0;
	memset(&sl, 0, sizeof(sl));
	while (mask < 2 * l->nprojects)
		mask <<= 1;
	slots = xmalloc(mask * sizeof(*slots));
	memset(slots, 0xff, mask * sizeof(*slots)); /* SIZE_MAX: empty */
	mask--;
	for (size_t i = 0; i < l->nprojects; i++) {
		size_t off = arena.len, h;

		/* Each name ends with its NUL in the arena (whose ptr may move). */
		if (pyname_normalize(l->projects[i].name, strlen(l->projects[i].name), &arena, NULL) ||
		    buf_append(&arena, "", 1)) {
			char q[300];
			log_warn("skipping invalid project name", "name=%s",
				log_quote(q, sizeof(q), l->projects[i].name));
			buf_truncate(&arena, off);
			continue;
		}
		if (s->only && !selection_wants(s->only, arena.ptr + off)) {
			buf_truncate(&arena, off);
			continue;
		}
		for (h = sync__hash(arena.ptr + off) & mask; slots[h] != SIZE_MAX; h = (h + 1) & mask)
			if (!strcmp(arena.ptr + ents[slots[h]].norm, arena.ptr + off))
				break;
		if (slots[h] != SIZE_MAX) {
			if (l->projects[i].serial > ents[slots[h]].up->serial)
				ents[slots[h]].up = &l->projects[i];
			buf_truncate(&arena, off);
			continue;
		}
		slots[h] = n;
		ents[n].norm = off;
		ents[n++].up = &l->projects[i];
	}
	free(slots);
	if ((rc = db_exec(s->db, "begin", e)) || (rc = store_listing_start(&sl, s->db, e)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = store_listing_add(&sl, ents[i].up->name, arena.ptr + ents[i].norm,
			     ents[i].up->serial, e)))
			goto out;
	if ((rc = store_listing_finish(&sl, e)) || (rc = db_exec(s->db, "commit", e)))
		goto out;
	*nlisted = n;
	log_info("listing stored", "projects=%zu", n);
out:
	if (rc)
		db_exec(s->db, "rollback", NULL);
	store_listing_release(&sl);
	free(ents);
	buf_release(&arena);
	return rc;
}

static int sync__selective(const struct sync *s)
{
	return s->only && s->only->n > 0;
}

/*
 * Mark deleted the mirrored projects the listing no longer names; under a
 * selection only the selected ones (the listing was stored without the rest).
 */
static int sync__prune(struct sync *s, long *pruned, struct kerr *e)
{
	PGresult *r = NULL;
	int rc;

	if (!sync__selective(s))
		return store_prune_unlisted(s->db, pruned, e);
	*pruned = 0;
	if ((rc = store_unlisted(s->db, &r, e)))
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		long n = 0;
		if (selection_wants(s->only, PQgetvalue(r, i, 0)) &&
		    !(rc = store_project_gone(s->db, PQgetvalue(r, i, 0), &n, e)))
			*pruned += n;
	}
	PQclear(r);
	return rc;
}

/* The listing's sink: a streaming parse that a retry restarts. */
struct sync_listing_sink {
	struct listing_stream *ls;
	struct upstream_listing *l;
};

static int sync__listing_sink(void *ctx, const char *p, size_t n, struct kerr *e)
{
	struct sync_listing_sink *k = ctx;

	if (!p) {
		listing_stream_free(k->ls);
		upstream_listing_release(k->l);
		k->ls = listing_stream_new(k->l);
		return 0;
	}
	return listing_stream_feed(k->ls, p, n, e);
}

int sync_full(struct sync *s, struct kerr *e)
{
	struct upstream_response r;
	struct upstream_listing l;
	struct buf key = BUF_INIT(256);
	struct sync_page *pages = NULL;
	struct sync_progress pr;
	PGresult *pending = NULL;
	char *etag = NULL, *pos_listing = NULL, *pos_after = NULL;
	const char *walked = NULL; /* the last name walked */
	int64_t serial = -1, lserial;
	size_t nlisted = 0, npages = 0;
	long pruned = 0;
	int rc, page_failed = 0, resuming = 0, npending;
	struct sync_listing_sink sink = { NULL, &l };

	upstream_response_init(&r, SYNC_LISTING_MAX);
	memset(&l, 0, sizeof(l));
	r.sink = sync__listing_sink;
	r.sink_ctx = &sink;
	s->projects = s->fetched = s->unchanged = s->failed = s->planned = s->skipped = s->gone = 0;
	if ((rc = store_sync_state_get(s->db, s->upstream, &etag, &serial, &pos_listing,
		     &pos_after, e)))
		goto out;
	if ((rc = sync__fetch(s, s->upstream, etag, &r, e)))
		goto out;
	if (r.status == 304) {
		log_info("listing unchanged", "mode=incremental serial=%" PRId64, serial);
		goto out;
	}
	if (r.status != 200) {
		rc = kerr_set(e, KERR_PROTO, "fetching the listing: HTTP %ld", r.status);
		goto out;
	}
	/* JSON was parsed as it came (the sink); HTML is parsed whole. */
	rc = r.sunk ? listing_stream_end(sink.ls, e)
		    : r.is_json ? upstream_parse_listing_json(r.body.ptr, r.body.len, &l, e)
				: upstream_parse_listing_html(r.body.ptr, r.body.len, &l, e);
	if (rc) {
		kerr_wrap(e, "listing");
		goto out;
	}
	buf_release(&r.body);
	if (l.serial < 0)
		l.serial = r.serial;
	lserial = l.serial;
	/*
	 * A listing is known by its ETag, else its serial: a position saved while
	 * walking the same listing can be resumed; any other listing starts over
	 * (stored serials still spare the pages that did not change).
	 */
	if (r.etag)
		buf_printf(&key, "etag:%s", r.etag);
	else if (l.serial >= 0)
		buf_printf(&key, "serial:%" PRId64, l.serial);
	resuming = key.len && pos_listing && !strcmp(pos_listing, key.ptr);
	log_info("listing fetched",
		"mode=%s projects=%zu serial=%" PRId64 " previous_serial=%" PRId64 " resume_after=%s",
		serial < 0 && !etag ? "first" : l.serial >= 0 ? "incremental-serial" :
		"incremental-etag", l.nprojects, l.serial, serial, resuming ? pos_after : "-");
	if ((rc = sync__ingest(s, &l, &nlisted, e)))
		goto out;
	upstream_listing_release(&l);
	if (s->listing_only) {
		long behind = 0;
		if ((rc = store_listing_behind(s->db, &behind, e)))
			goto out;
		log_info("listing only: pages not fetched", "projects=%zu behind=%ld", nlisted, behind);
		goto out;
	}
	if ((rc = store_listing_pending(s->db, resuming ? pos_after : NULL, &pending, e)))
		goto out;
	npending = PQntuples(pending);
	s->projects = (long)nlisted;
	s->unchanged = (long)nlisted - npending;
	pages = xcalloc((size_t)s->batch, sizeof(*pages));
	memset(&pr, 0, sizeof(pr));
	pr.total = (size_t)npending;
	pr.tty = isatty(2);
	clock_gettime(CLOCK_MONOTONIC, &pr.start);
	pr.last = pr.start;
	for (int i = 0; i < npending && !sync__stopped(s); i++) {
		struct sync_page *p = &pages[npages++];

		walked = PQgetvalue(pending, i, 0);
		p->norm = walked;
		p->name = PQgetvalue(pending, i, 1);
		p->want_serial = PQgetisnull(pending, i, 2) ? -1 :
			strtoll(PQgetvalue(pending, i, 2), NULL, 10);
		p->etag = PQgetisnull(pending, i, 3) ? NULL : PQgetvalue(pending, i, 3);
		upstream_response_init(&p->r, SYNC_PAGE_MAX);
		buf_init(&p->url, BUF_NOLIMIT);
		if (npages == (size_t)s->batch || i + 1 == npending) {
			rc = sync__batch(s, pages, npages, key.len ? key.ptr : NULL, walked,
				&page_failed, e);
			for (size_t k = 0; k < npages; k++)
				sync__page_reset(&pages[k]);
			npages = 0;
			if (rc)
				goto out;
			sync__progress(&pr, (size_t)i + 1, 0);
		}
	}
	/* A stop between two rounds of a batch leaves a partial one: write it too. */
	if (npages) {
		rc = sync__batch(s, pages, npages, key.len ? key.ptr : NULL, walked, &page_failed, e);
		for (size_t k = 0; k < npages; k++)
			sync__page_reset(&pages[k]);
		npages = 0;
		if (rc)
			goto out;
	}
	if (npending)
		sync__progress(&pr, (size_t)npending, 1);
	if (sync__stopped(s)) {
		rc = kerr_set(e, KERR_AGAIN, "stopped by a signal before the end of the listing");
		goto out;
	}
	if (page_failed) {
		rc = e->code ? e->code : KERR_AGAIN;
		goto out;
	}
	/*
	 * Only a listing read to the end says what is gone upstream, and an empty
	 * one over a populated mirror is far likelier an upstream fault than the
	 * end of every project.
	 */
	if (!nlisted && !sync__selective(s))
		log_warn("empty listing, not removing projects", "projects=0");
	else if ((rc = sync__prune(s, &pruned, e)))
		goto out;
	/* The listing counts as seen only when every page made it in. */
	if ((rc = store_sync_state_put(s->db, s->upstream, sync__selective(s) ? NULL : r.etag,
		     lserial, "full", e)))
		goto out;
	log_info("sync finished",
		"projects=%ld fetched=%ld unchanged=%ld failed=%ld planned=%ld skipped=%ld "
		"removed=%ld",
		s->projects, s->fetched, s->unchanged, s->failed, s->planned, s->skipped,
		pruned + s->gone);
out:
	for (size_t k = 0; k < npages; k++)
		sync__page_reset(&pages[k]);
	free(pages);
	PQclear(pending);
	buf_release(&key);
	listing_stream_free(sink.ls);
	upstream_listing_release(&l);
	upstream_response_release(&r);
	free(etag);
	free(pos_listing);
	free(pos_after);
	return rc;
}

int sync_feed(struct sync *s, struct kerr *e)
{
	struct upstream_response r;
	struct feed f = { 0 };
	struct sync_page *pages = NULL;
	char **norms = NULL, **versions = NULL;
	const char **names = NULL;
	struct buf seen = BUF_INIT(BUF_NOLIMIT), needle = BUF_INIT(BUF_NOLIMIT);
	size_t nnorms = 0, npages = 0;
	int rc = 0, page_failed = 0;

	if (!*s->feed_url)
		return 0;
	upstream_response_init(&r, SYNC_FEED_MAX);
	s->projects = s->fetched = s->unchanged = s->failed = s->planned = s->skipped = s->gone = 0;
	if ((rc = sync__fetch(s, s->feed_url, s->feed_etag, &r, e)))
		goto out;
	if (r.status == 304)
		goto out;
	if (r.status != 200) {
		rc = kerr_set(e, KERR_PROTO, "fetching the feed: HTTP %ld", r.status);
		goto out;
	}
	if ((rc = feed_parse_rss(r.body.ptr, r.body.len, &f, e)))
		goto out;
	norms = xcalloc(f.nitems ? f.nitems : 1, sizeof(*norms));
	names = xcalloc(f.nitems ? f.nitems : 1, sizeof(*names));
	versions = xcalloc(f.nitems ? f.nitems : 1, sizeof(*versions));
	for (size_t i = 0; i < f.nitems; i++) {
		struct buf n = BUF_INIT(256);
		int dup = 0;

		/* Releases seen in the previous poll were refreshed then. */
		buf_reset(&needle);
		buf_printf(&needle, "\n%s\n", f.items[i].title);
		buf_printf(&seen, "%s%s\n", seen.len ? "" : "\n", f.items[i].title);
		if (s->feed_seen && strstr(s->feed_seen, needle.ptr))
			continue;
		if (pyname_normalize(f.items[i].project, strlen(f.items[i].project), &n, NULL) ||
		    (s->only && !selection_wants(s->only, n.ptr))) {
			buf_release(&n);
			continue;
		}
		for (size_t k = 0; k < nnorms && !dup; k++)
			dup = !strcmp(norms[k], n.ptr);
		if (dup) {
			buf_release(&n);
			continue;
		}
		names[nnorms] = f.items[i].project;
		{
			/* The page must show the announced version: else it is a stale copy. */
			struct pyversion v;
			struct buf nv = BUF_INIT(256);
			if (!pyversion_parse_str(&v, f.items[i].version, NULL) && !pyversion_normalize(&v, &nv))
				versions[nnorms] = buf_detach(&nv, NULL);
			buf_release(&nv);
		}
		norms[nnorms++] = buf_detach(&n, NULL);
	}
	pages = xcalloc((size_t)s->batch, sizeof(*pages));
	for (size_t i = 0; i < nnorms && !sync__stopped(s); i++) {
		struct sync_page *p;
		int64_t stored = -1;

		/* Never older than what is stored: a stale copy would roll the project back. */
		if ((rc = store_project_serial(s->db, norms[i], &stored, e)))
			goto out;
		p = &pages[npages++];
		p->name = names[i];
		p->norm = norms[i];
		p->want_version = versions[i];
		p->want_serial = stored;
		upstream_response_init(&p->r, SYNC_PAGE_MAX);
		buf_init(&p->url, BUF_NOLIMIT);
		s->projects++;
		if (npages == (size_t)s->batch || i + 1 == nnorms) {
			rc = sync__batch(s, pages, npages, NULL, NULL, &page_failed, e);
			for (size_t k = 0; k < npages; k++)
				sync__page_reset(&pages[k]);
			npages = 0;
			if (rc)
				goto out;
		}
	}
	if ((rc = store_sync_feed_seen(s->db, s->upstream, e)))
		goto out;
	/* A failed page keeps the old ETag, so the next poll reads the feed again. */
	if (!page_failed) {
		free(s->feed_etag);
		s->feed_etag = r.etag ? xstrdup(r.etag) : NULL;
		free(s->feed_seen);
		s->feed_seen = buf_detach(&seen, NULL);
	} else {
		rc = e->code ? e->code : KERR_AGAIN;
	}
	if (nnorms)
		log_info("feed synced", "mode=feed projects=%ld fetched=%ld failed=%ld planned=%ld",
			s->projects, s->fetched, s->failed, s->planned);
out:
	for (size_t k = 0; k < npages; k++)
		sync__page_reset(&pages[k]);
	free(pages);
	for (size_t k = 0; k < nnorms; k++) {
		free(norms[k]);
		free(versions[k]);
	}
	free(norms);
	free(versions);
	free(names);
	buf_release(&seen);
	buf_release(&needle);
	feed_release(&f);
	upstream_response_release(&r);
	return rc;
}
