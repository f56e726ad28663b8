/* download_counts: in-memory download counters, flushed to Postgres (contract in download_counts.h). */
#include "backend/download_counts.h"

#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "common/buf.h"
#include "common/db.h"
#include "common/fnv.h"
#include "common/log.h"
#include "common/useragent.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DC_BUCKETS 16384 /* a power of two */
#define DC_DAY_LEN 10    /* YYYY-MM-DD */

/* One key of either table and its count. */
struct dc_entry {
	struct dc_entry *next;
	uint64_t hash;
	int64_t id;               /* artifact id, or project id for agents */
	char day[DC_DAY_LEN + 1];
	struct useragent ua;      /* agents only; zeroed for artifacts */
	uint64_t count;
	uint64_t sending;         /* the part of count in the flush in flight */
};

struct dc_table {
	struct dc_entry *buckets[DC_BUCKETS];
	size_t n;
};

struct download_counts {
	lws_sorted_usec_list_t sul;      /* the flush timer */
	lws_sorted_usec_list_t deadline; /* download_counts_finish's wait */
	struct lws_context *context;
	struct pgpool *db;
	struct metrics *metrics;
	lws_usec_t interval_us;
	struct dc_table arts;
	struct dc_table agents;
	struct pgq *inflight;
	uint64_t inflight_total;         /* downloads in the flush in flight */
	int stopped;
	int timed_out;
};

/*
 * One statement, so both tables move together. Keys that no longer exist (a
 * deleted artifact or project) are skipped rather than failing the flush for
 * good on the foreign keys.
 */
static const char dc__sql[] =
	"with a as ("
	" insert into download_counts as t (artifact_id, day, count)"
	" select u.artifact_id, u.day, u.n"
	" from unnest($1::bigint[], $2::date[], $3::bigint[]) as u(artifact_id, day, n)"
	" where exists (select 1 from artifacts x where x.id = u.artifact_id)"
	" on conflict (artifact_id, day) do update set count = t.count + excluded.count)"
	" insert into download_agents as t"
	" (day, project_id, installer, installer_version, python_version, count)"
	" select u.day, u.project_id, u.installer, u.installer_version, u.python_version, u.n"
	" from unnest($4::date[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[])"
	" as u(day, project_id, installer, installer_version, python_version, n)"
	" where exists (select 1 from projects x where x.id = u.project_id)"
	" on conflict (day, project_id, installer, installer_version, python_version)"
	" do update set count = t.count + excluded.count";

#define DC_NPARAMS 9

static void dc__tick(lws_sorted_usec_list_t *sul);

static uint64_t dc__hash(int64_t id, const char *day, const struct useragent *ua)
{
	uint64_t h = FNV_INIT;

	h = fnv_bytes(h, &id, sizeof(id));
	h = fnv_bytes(h, day, DC_DAY_LEN);
	if (ua) {
		/* Include the NULs, so ("ab","c") and ("a","bc") differ. */
		h = fnv_bytes(h, ua->installer, strlen(ua->installer) + 1);
		h = fnv_bytes(h, ua->installer_version, strlen(ua->installer_version) + 1);
		h = fnv_bytes(h, ua->python, strlen(ua->python) + 1);
	}
	return h;
}

static int dc__same(const struct dc_entry *e, int64_t id, const char *day,
		    const struct useragent *ua)
{
	if (e->id != id || memcmp(e->day, day, DC_DAY_LEN))
		return 0;
	return !ua || (!strcmp(e->ua.installer, ua->installer) &&
		       !strcmp(e->ua.installer_version, ua->installer_version) &&
		       !strcmp(e->ua.python, ua->python));
}

/* The entry for the key, made if missing and there is room; NULL when full. */
static struct dc_entry *dc__get(struct dc_table *t, int64_t id, const char *day,
				const struct useragent *ua)
{
	uint64_t h = dc__hash(id, day, ua);
	struct dc_entry **b = &t->buckets[h & (DC_BUCKETS - 1)], *e;

	for (e = *b; e; e = e->next)
		if (e->hash == h && dc__same(e, id, day, ua))
			return e;
	if (t->n >= DOWNLOAD_COUNTS_MAX)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->hash = h;
	e->id = id;
	memcpy(e->day, day, DC_DAY_LEN + 1);
	if (ua)
		e->ua = *ua;
	e->next = *b;
	*b = e;
	t->n++;
	return e;
}

static void dc__table_clear(struct dc_table *t)
{
	for (size_t i = 0; i < DC_BUCKETS; i++) {
		struct dc_entry *e = t->buckets[i];
		while (e) {
			struct dc_entry *next = e->next;
			free(e);
			e = next;
		}
		t->buckets[i] = NULL;
	}
	t->n = 0;
}

/* After a flush: subtract what it wrote (ok) or just unmark (failed). */
static void dc__table_settle(struct dc_table *t, int ok)
{
	for (size_t i = 0; i < DC_BUCKETS; i++) {
		struct dc_entry **pp = &t->buckets[i];
		while (*pp) {
			struct dc_entry *e = *pp;
			if (ok)
				e->count -= e->sending;
			e->sending = 0;
			if (!e->count) {
				*pp = e->next;
				free(e);
				t->n--;
				continue;
			}
			pp = &e->next;
		}
	}
}

static void dc__metric(struct download_counts *c, const char *name, const char *help,
		       uint64_t n)
{
	if (c->metrics)
		metrics_add(c->metrics, name, help, n);
}

struct download_counts *download_counts_new(struct lws_context *context, struct pgpool *db,
					    struct metrics *metrics, int flush_seconds)
{
	struct download_counts *c = xcalloc(1, sizeof(*c));

	c->context = context;
	c->db = db;
	c->metrics = metrics;
	c->interval_us = (lws_usec_t)(flush_seconds > 0 ? flush_seconds : 1) * LWS_US_PER_SEC;
	lws_sul_schedule(context, 0, &c->sul, dc__tick, c->interval_us);
	return c;
}

void download_counts_free(struct download_counts *c)
{
	if (!c)
		return;
	lws_sul_cancel(&c->sul);
	lws_sul_cancel(&c->deadline);
	if (c->inflight)
		pgq_cancel(c->inflight);
	dc__table_clear(&c->arts);
	dc__table_clear(&c->agents);
	free(c);
}

void download_counts_add(struct download_counts *c, int64_t artifact_id, int64_t project_id,
			 const struct useragent *ua, time_t now)
{
	static const struct useragent unknown = { "unknown", "", "" };
	char day[DC_DAY_LEN + 1];
	struct dc_entry *e;
	struct tm tm;

	if (!ua)
		ua = &unknown;
	if (!gmtime_r(&now, &tm) || strftime(day, sizeof(day), "%Y-%m-%d", &tm) != DC_DAY_LEN)
		return;
	e = dc__get(&c->arts, artifact_id, day, NULL);
	if (e)
		e->count++;
	else
		dc__metric(c, "kiln_downloads_dropped_total",
			   "Download counts dropped or merged because the in-memory table was full.", 1);
	e = dc__get(&c->agents, project_id, day, ua);
	if (!e) {
		e = dc__get(&c->agents, project_id, day, &unknown);
		dc__metric(c, "kiln_downloads_dropped_total",
			   "Download counts dropped or merged because the in-memory table was full.", 1);
	}
	if (e)
		e->count++;
}

uint64_t download_counts_pending(const struct download_counts *c)
{
	uint64_t n = 0;

	for (size_t i = 0; i < DC_BUCKETS; i++)
		for (const struct dc_entry *e = c->arts.buckets[i]; e; e = e->next)
			n += e->count;
	return n;
}

/* Append s as an element of a text[] literal: quoted, with " and \ escaped. */
static void dc__text_elem(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

/* Before each array element but the first (the literal starts as "{"). */
static void dc__sep(struct buf *b)
{
	if (b->len > 1)
		buf_putc(b, ',');
}

/*
 * Mark every count as being sent and build the statement's array parameters in
 * p[0..DC_NPARAMS) (caller releases). Returns the downloads included (0: nothing).
 */
static uint64_t dc__begin(struct download_counts *c, struct buf p[DC_NPARAMS])
{
	uint64_t total = 0;

	for (int i = 0; i < DC_NPARAMS; i++) {
		buf_init(&p[i], BUF_NOLIMIT);
		buf_putc(&p[i], '{');
	}
	for (size_t i = 0; i < DC_BUCKETS; i++) {
		for (struct dc_entry *e = c->arts.buckets[i]; e; e = e->next) {
			e->sending = e->count;
			total += e->count;
			dc__sep(&p[0]);
			buf_printf(&p[0], "%lld", (long long)e->id);
			dc__sep(&p[1]);
			buf_puts(&p[1], e->day);
			dc__sep(&p[2]);
			buf_printf(&p[2], "%llu", (unsigned long long)e->count);
		}
		for (struct dc_entry *e = c->agents.buckets[i]; e; e = e->next) {
			e->sending = e->count;
			dc__sep(&p[3]);
			buf_puts(&p[3], e->day);
			dc__sep(&p[4]);
			buf_printf(&p[4], "%lld", (long long)e->id);
			dc__sep(&p[5]);
			dc__text_elem(&p[5], e->ua.installer);
			dc__sep(&p[6]);
			dc__text_elem(&p[6], e->ua.installer_version);
			dc__sep(&p[7]);
			dc__text_elem(&p[7], e->ua.python);
			dc__sep(&p[8]);
			buf_printf(&p[8], "%llu", (unsigned long long)e->count);
		}
	}
	for (int i = 0; i < DC_NPARAMS; i++)
		buf_putc(&p[i], '}');
	return total;
}

static void dc__end(struct download_counts *c, int ok)
{
	dc__table_settle(&c->arts, ok);
	dc__table_settle(&c->agents, ok);
}

static void dc__release_params(struct buf p[DC_NPARAMS])
{
	for (int i = 0; i < DC_NPARAMS; i++)
		buf_release(&p[i]);
}

static void dc__flushed(void *ctx, PGresult *r, const char *err)
{
	struct download_counts *c = ctx;
	uint64_t total = c->inflight_total;
	char q[512];

	(void)r;
	c->inflight = NULL;
	c->inflight_total = 0;
	dc__end(c, !err);
	if (err) {
		log_warn("could not write download counts; keeping them for the next try",
			 "error=%s pending=%llu", log_quote(q, sizeof(q), err),
			 (unsigned long long)download_counts_pending(c));
		dc__metric(c, "kiln_downloads_flush_errors_total",
			   "Failed writes of the download counters (retried at the next interval).", 1);
		return;
	}
	dc__metric(c, "kiln_downloads_flushed_total",
		   "Downloads written to the database's download_counts.", total);
}

int download_counts_flush(struct download_counts *c)
{
	struct buf p[DC_NPARAMS];
	const char *params[DC_NPARAMS];
	uint64_t total;

	if (c->inflight || (!c->arts.n && !c->agents.n))
		return 0;
	total = dc__begin(c, p);
	for (int i = 0; i < DC_NPARAMS; i++)
		params[i] = p[i].ptr;
	c->inflight = pgpool_query(c->db, dc__sql, DC_NPARAMS, params, dc__flushed, c);
	dc__release_params(p);
	if (!c->inflight) {
		dc__end(c, 0);
		log_warn("could not queue the download counts write; will retry", NULL);
		return 0;
	}
	c->inflight_total = total;
	return 1;
}

static void dc__tick(lws_sorted_usec_list_t *sul)
{
	struct download_counts *c = lws_container_of(sul, struct download_counts, sul);

	download_counts_flush(c);
	if (!c->stopped)
		lws_sul_schedule(c->context, 0, &c->sul, dc__tick, c->interval_us);
}

static void dc__deadline(lws_sorted_usec_list_t *sul)
{
	struct download_counts *c = lws_container_of(sul, struct download_counts, deadline);
	c->timed_out = 1;
}

void download_counts_finish(struct download_counts *c, int timeout_ms)
{
	c->stopped = 1;
	lws_sul_cancel(&c->sul);
	if (!c->inflight)
		return;
	log_info("waiting for the download counts write in flight", NULL);
	c->timed_out = 0;
	lws_sul_schedule(c->context, 0, &c->deadline, dc__deadline,
			 (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	while (c->inflight && !c->timed_out)
		if (lws_service(c->context, 0) < 0)
			break;
	lws_sul_cancel(&c->deadline);
	if (c->inflight) {
		/* Whether the database committed it is unknown: keep the counts. */
		pgq_cancel(c->inflight);
		c->inflight = NULL;
		c->inflight_total = 0;
		dc__end(c, 0);
		log_warn("download counts write still running at shutdown; keeping its counts",
			 "timeout_ms=%d", timeout_ms);
	}
}

int download_counts_flush_sync(struct download_counts *c, const char *db_url, struct kerr *e)
{
	/* A dead database must not hold the shutdown forever. */
	static const char *const keys[] = { "dbname", "connect_timeout", NULL };
	const char *vals[] = { db_url, "10", NULL };
	struct buf p[DC_NPARAMS];
	const char *params[DC_NPARAMS];
	PGconn *conn = NULL;
	uint64_t total;
	int rc = 0;

	if (c->inflight)
		return kerr_set(e, KERR_INTERNAL, "a download counts write is still in flight");
	if (!c->arts.n && !c->agents.n)
		return 0;
	total = dc__begin(c, p);
	for (int i = 0; i < DC_NPARAMS; i++)
		params[i] = p[i].ptr;
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK)
		rc = db_error(conn, NULL, e);
	else
		rc = db_command(conn, dc__sql, DC_NPARAMS, params, NULL, e);
	dc__release_params(p);
	dc__end(c, rc == 0);
	if (!rc)
		dc__metric(c, "kiln_downloads_flushed_total",
			   "Downloads written to the database's download_counts.", total);
	if (conn)
		PQfinish(conn);
	return rc;
}
