/* build_logs: live and stored build logs (contract in build_logs.h). */
#include "backend/build_logs.h"

#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/server.h"
#include "backend/workers.h"
#include "common/json.h"
#include "common/log.h"
#include "common/storage.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LOG_MAX_BYTES (128u << 20) /* what we are willing to hold of one log */

struct log_frame;
struct log_vref;

struct log_viewer {
	struct lws *wsi;
	struct server *srv;
	long long build;
	long long next_seq;   /* every chunk below it was sent */
	int ended;
	int loading;          /* a fetch for this viewer is out */
	struct log_viewer *next;
	struct log_frame *head, *tail; /* messages to send */
	struct log_vref *ref;          /* what async fetches hold */
	int dirty;                     /* news arrived while a fetch was out */
	int closing;                   /* close once the queue is sent */
	size_t queued;                 /* bytes in head..tail */
	int stalled;                   /* a fetch waits for the queue to drain */
};

/*
 * A viewer that reads slower than the build writes (or not at all) must not
 * make the backend hold the whole log for it: past this many queued bytes no
 * more chunks are fetched for it until half of them are sent.
 */
#define LOG_VIEWER_MAX_QUEUED (4u << 20)
/*
 * Chunks read per fetch: a builder may send 256 KiB chunks, which arrive hex
 * encoded, so this bounds one result to about 32 MiB.
 */
#define LOG_FETCH_ROWS 64
#define LOG_FETCH_ROWS_TEXT "64"

const size_t build_logs_session_size = sizeof(struct log_viewer);

struct log_state {
	struct server *srv;
	struct log_viewer *viewers;
	lws_sorted_usec_list_t sweep_sul;
};

/*
 * Ended builds whose log is still in the database this long after their end are
 * compacted by the sweep: their compaction failed (storage down), or never ran
 * (the replica died before, or the reaper ended them).
 */
#define LOG_SWEEP_AFTER_S "15"
#define LOG_SWEEP_EVERY_S 20

static struct log_state *log__state(struct server *srv)
{
	return srv->logs;
}

/* --- hex helpers ------------------------------------------------------------ */

static int log__unhex(const char *hex, struct buf *out)
{
	size_t n = strlen(hex);

	if (n >= 2 && hex[0] == '\\' && hex[1] == 'x') {
		hex += 2;
		n -= 2;
	}
	if (buf_grow(out, n / 2))
		return KERR_TOOBIG;
	for (size_t i = 0; i + 1 < n; i += 2) {
		int hi = hex[i] <= '9' ? hex[i] - '0' : (hex[i] | 32) - 'a' + 10;
		int lo = hex[i + 1] <= '9' ? hex[i + 1] - '0' : (hex[i + 1] | 32) - 'a' + 10;
		out->ptr[out->len++] = (char)(hi << 4 | lo);
	}
	out->ptr[out->len] = '\0';
	return 0;
}

/* --- compaction ---------------------------------------------------------------- */

struct log_compact {
	struct server *srv;
	long long build;
	struct buf text;
	struct buf gz;
	char key[64];
	int failed;
};

static void log__compact_free(struct log_compact *c)
{
	buf_release(&c->text);
	buf_release(&c->gz);
	free(c);
}

static void log__compact_run(void *arg)
{
	struct log_compact *c = arg;
	z_stream z;
	struct kerr e;
	int zrc;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip stream, so `zcat` reads a downloaded log. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		c->failed = 1;
		return;
	}
	buf_grow(&c->gz, deflateBound(&z, c->text.len));
	z.next_in = (unsigned char *)c->text.ptr;
	z.avail_in = (uInt)c->text.len;
	z.next_out = (unsigned char *)c->gz.ptr;
	z.avail_out = (uInt)(c->gz.cap - 1);
	zrc = deflate(&z, Z_FINISH);
	c->gz.len = z.total_out;
	deflateEnd(&z);
	if (zrc != Z_STREAM_END) {
		c->failed = 1;
		return;
	}
	if (storage_put_mem(c->srv->storage, c->key, c->gz.ptr, c->gz.len, "application/gzip", &e)) {
		log_warn("could not store a build log; it stays in the database until the next sweep",
			 "build=%lld error=\"%s\"", c->build, e.msg);
		c->failed = 1;
	}
}

static void log__compact_recorded(void *ctx, PGresult *r, const char *err)
{
	struct log_compact *c = ctx;
	if (err)
		log_warn("could not record a stored build log", "build=%lld error=\"%s\"", c->build, err);
	log__compact_free(c);
}

static void log__compact_stored(void *arg)
{
	struct log_compact *c = arg;
	char id[24], size[24];
	const char *params[3] = { id, c->key, size };

	if (c->failed) {
		log__compact_free(c);
		return;
	}
	snprintf(id, sizeof(id), "%lld", c->build);
	snprintf(size, sizeof(size), "%zu", c->text.len);
	/* A compaction that raced this one stored the same bytes and recorded them. */
	if (!pgpool_query(c->srv->db,
			  "with b as (update builds set log_key = $2, log_size = $3::bigint"
			  " where id = $1::bigint and log_key is null returning id)"
			  " delete from build_log_chunks where build_id = (select id from b)",
			  3, params, log__compact_recorded, c))
		log__compact_free(c);
}

static void log__compact_loaded(void *ctx, PGresult *r, const char *err)
{
	struct log_compact *c = ctx;

	/* No row: the log is in storage already (another compaction won). */
	if (err || PQntuples(r) != 1 || log__unhex(PQgetvalue(r, 0, 0), &c->text)) {
		log__compact_free(c);
		return;
	}
	snprintf(c->key, sizeof(c->key), "logs/%lld.log.gz", c->build);
	if (workers_submit(c->srv->workers, log__compact_run, log__compact_stored, c))
		log__compact_free(c);
}

void build_logs_compact(struct server *srv, long long build_id)
{
	struct log_compact *c = xcalloc(1, sizeof(*c));
	char id[24];
	const char *params[1] = { id };

	c->srv = srv;
	c->build = build_id;
	buf_init(&c->text, LOG_MAX_BYTES);
	buf_init(&c->gz, LOG_MAX_BYTES);
	snprintf(id, sizeof(id), "%lld", build_id);
	/*
	 * One snapshot sees either the chunks with no stored log, or the stored log
	 * with no chunks (both change in one statement): a second compaction of the
	 * same build, here or on another replica, never stores an empty log over a
	 * whole one.
	 */
	if (!pgpool_query(srv->db,
			  "select coalesce(string_agg(c.data, ''::bytea order by c.seq), ''::bytea)"
			  " from builds b left join build_log_chunks c on c.build_id = b.id"
			  " where b.id = $1::bigint and b.log_key is null and b.state <> 'running'"
			  " group by b.id",
			  1, params, log__compact_loaded, c))
		log__compact_free(c);
}

static void log__swept(void *ctx, PGresult *r, const char *err)
{
	struct server *srv = ctx;

	if (err)
		return; /* the database is away: the next sweep tries again */
	for (int i = 0; i < PQntuples(r); i++) {
		log_info("compacting a build log left in the database", "build=%s",
			 PQgetvalue(r, i, 0));
		build_logs_compact(srv, strtoll(PQgetvalue(r, i, 0), NULL, 10));
	}
}

static void log__sweep_tick(lws_sorted_usec_list_t *sul)
{
	struct log_state *st = lws_container_of(sul, struct log_state, sweep_sul);

	/* Every replica sweeps; a build compacted twice is stored once (see build_logs_compact). */
	pgpool_query(st->srv->db,
		     "select id from builds where log_key is null and state <> 'running'"
		     " and finished_at < now() - interval '" LOG_SWEEP_AFTER_S " seconds'"
		     " order by finished_at limit 50",
		     0, NULL, log__swept, st->srv);
	lws_sul_schedule(st->srv->context, 0, &st->sweep_sul, log__sweep_tick,
			 LOG_SWEEP_EVERY_S * LWS_US_PER_SEC);
}

/* --- GET /api/v1/builds/{id}/log --------------------------------------------------- */

struct log_get {
	struct http_req *req;   /* NULL when the client left */
	struct server *srv;
	char key[128];
	struct buf gz, text;
	int status;
	char err[KERR_MSG_MAX];
};

static void log__get_free(struct log_get *g)
{
	buf_release(&g->gz);
	buf_release(&g->text);
	free(g);
}

static void log__get_on_close(struct http_req *req)
{
	struct log_get *g = req->state;
	req->state = NULL;
	if (g)
		g->req = NULL; /* the worker or query still owns g */
}

static int log__sink(void *ctx, const void *p, size_t n)
{
	return buf_append(ctx, p, n) ? -1 : 0;
}

static void log__get_run(void *arg)
{
	struct log_get *g = arg;
	struct kerr e;
	z_stream z;
	unsigned char out[65536];
	int zrc;

	if (storage_get(g->srv->storage, g->key, 0, 0, log__sink, &g->gz, &e)) {
		g->status = 502;
		snprintf(g->err, sizeof(g->err), "%s", e.msg);
		return;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		g->status = 500;
		return;
	}
	z.next_in = (unsigned char *)g->gz.ptr;
	z.avail_in = (uInt)g->gz.len;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		zrc = inflate(&z, Z_NO_FLUSH);
		if ((zrc != Z_OK && zrc != Z_STREAM_END) ||
		    buf_append(&g->text, out, sizeof(out) - z.avail_out)) {
			g->status = 500;
			snprintf(g->err, sizeof(g->err), "stored log is damaged or too large");
			break;
		}
	} while (zrc != Z_STREAM_END);
	inflateEnd(&z);
}

static void log__get_done(void *arg)
{
	struct log_get *g = arg;

	if (g->req) {
		g->req->state = NULL;
		g->req->on_close = NULL;
		if (g->status)
			http_error(g->req, g->status, KERR_IO, "%s", g->err[0] ? g->err : "could not read the log");
		else
			http_respond(g->req, 200, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n",
				     g->text.ptr, g->text.len);
		http_wake(g->req);
	}
	log__get_free(g);
}

static void log__get_loaded(void *ctx, PGresult *r, const char *err)
{
	struct log_get *g = ctx;
	struct http_req *req = g->req;

	if (!req) {
		log__get_free(g);
		return;
	}
	if (err) {
		http_error(req, 503, KERR_DB, "%s", err);
	} else if (PQntuples(r) != 1) {
		http_error(req, 404, KERR_NOTFOUND, "no build %s", req->params[0]);
	} else if (PQgetvalue(r, 0, 0)[0]) {
		/* Stored: read and unpack it off the loop. */
		snprintf(g->key, sizeof(g->key), "%s", PQgetvalue(r, 0, 0));
		if (!workers_submit(g->srv->workers, log__get_run, log__get_done, g))
			return;
		http_error(req, 503, KERR_AGAIN, "server busy");
	} else if (log__unhex(PQgetvalue(r, 0, 1), &g->text)) {
		http_error(req, 500, KERR_TOOBIG, "log too large");
	} else {
		http_respond(req, 200, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n",
			     g->text.ptr, g->text.len);
	}
	req->state = NULL;
	req->on_close = NULL;
	http_wake(req);
	log__get_free(g);
}

void build_logs_handle_get(struct http_req *req)
{
	struct log_get *g;
	const char *params[1] = { req->params[0] };
	char *end;

	strtoll(req->params[0], &end, 10);
	if (*end || !*req->params[0] || strlen(req->params[0]) > 18) {
		http_error(req, 404, KERR_NOTFOUND, "no build '%s'", req->params[0]);
		return;
	}
	g = xcalloc(1, sizeof(*g));
	g->req = req;
	g->srv = req->srv;
	buf_init(&g->gz, LOG_MAX_BYTES);
	buf_init(&g->text, LOG_MAX_BYTES);
	req->state = g;
	req->on_close = log__get_on_close;
	if (!pgpool_query(req->srv->db,
			  "select coalesce(b.log_key, ''), case when b.log_key is null then"
			  " (select coalesce(string_agg(data, ''::bytea order by seq), ''::bytea)"
			  " from build_log_chunks where build_id = b.id) else ''::bytea end"
			  " from builds b where b.id = $1::bigint",
			  1, params, log__get_loaded, g)) {
		req->state = NULL;
		req->on_close = NULL;
		log__get_free(g);
		http_error(req, 503, KERR_AGAIN, "database busy");
	}
}

/* --- live viewers ------------------------------------------------------------------- */

struct log_frame {
	struct log_frame *next;
	size_t len;
	unsigned char data[];
};

struct log_vref {
	struct log_viewer *v;  /* NULL once the viewer left */
	int refs;
};

static void log__queue(struct log_viewer *v, const struct buf *b)
{
	struct log_viewer *x = v;
	struct log_frame *f = xmalloc(sizeof(*f) + LWS_PRE + b->len);

	f->next = NULL;
	f->len = b->len;
	memcpy(f->data + LWS_PRE, b->ptr, b->len);
	x->queued += b->len;
	if (x->tail)
		x->tail->next = f;
	else
		x->head = f;
	x->tail = f;
	lws_callback_on_writable(v->wsi);
}

static void log__send_end(struct log_viewer *v, const char *state)
{
	struct buf b = BUF_INIT(512);
	buf_printf(&b, "{\"type\":\"end\",\"state\":\"%s\",\"log_url\":\"/api/v1/builds/%lld/log\"}", state,
		   v->build);
	log__queue(v, &b);
	buf_release(&b);
	v->ended = 1;
	v->closing = 1;
}

static void log__fetch(struct log_viewer *v);

static struct log_viewer *log__vref_drop(struct log_vref *r)
{
	struct log_viewer *v = r->v;
	if (--r->refs == 0)
		free(r);
	return v;
}

static void log__fetched(void *ctx, PGresult *r, const char *err)
{
	struct log_viewer *v = log__vref_drop(ctx);
	const char *state;
	int final, cut = 0;

	if (!v)
		return;
	v->loading = 0;
	if (err || PQntuples(r) < 1)
		return;
	/* Row 0 carries the build's state; chunk rows follow (seq >= 0). */
	state = PQgetvalue(r, 0, 2);
	final = strcmp(state, "running") != 0;
	for (int i = 1; i < PQntuples(r); i++) {
		long long seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		struct buf text = BUF_INIT(LOG_MAX_BYTES), msg = BUF_INIT(BUF_NOLIMIT);

		/* Send in order; a gap waits for its chunk unless the build is over. */
		if (seq < v->next_seq)
			continue;
		if (seq != v->next_seq && !final)
			break;
		if (v->queued > LOG_VIEWER_MAX_QUEUED) {
			cut = 1; /* the rest once the viewer has read what it has */
			break;
		}
		log__unhex(PQgetvalue(r, i, 1), &text);
		buf_printf(&msg, "{\"type\":\"chunk\",\"seq\":%lld,\"data\":", seq);
		json_append_strn(&msg, text.ptr, text.len);
		buf_putc(&msg, '}');
		log__queue(v, &msg);
		buf_release(&text);
		buf_release(&msg);
		v->next_seq = seq + 1;
	}
	if (cut)
		log__fetch(v);
	else if (final && PQntuples(r) < 1 + LOG_FETCH_ROWS)
		log__send_end(v, state);
	else if (v->dirty || PQntuples(r) >= 1 + LOG_FETCH_ROWS)
		log__fetch(v);
}

static void log__fetch(struct log_viewer *v)
{
	struct log_viewer *x = v;
	char id[24], seq[24];
	const char *params[2] = { id, seq };

	if (v->loading) {
		x->dirty = 1;
		return;
	}
	if (v->queued > LOG_VIEWER_MAX_QUEUED) {
		x->stalled = 1; /* resumed from WRITEABLE */
		return;
	}
	x->dirty = 0;
	snprintf(id, sizeof(id), "%lld", v->build);
	snprintf(seq, sizeof(seq), "%lld", v->next_seq);
	v->loading = 1;
	x->ref->refs++;
	if (!pgpool_query(v->srv->db,
			  "(select -1::bigint, '', state from builds where id = $1::bigint)"
			  " union all (select seq, encode(data, 'hex'), '' from build_log_chunks"
			  " where build_id = $1::bigint and seq >= $2::int order by seq limit "
			  LOG_FETCH_ROWS_TEXT ")",
			  2, params, log__fetched, x->ref)) {
		v->loading = 0;
		x->ref->refs--;
	}
}

static void log__on_notify(void *ctx, const char *channel, const char *payload)
{
	struct server *srv = ctx;
	struct log_state *st = log__state(srv);
	long long build;

	if (!st)
		return;
	build = payload ? strtoll(payload, NULL, 10) : 0;
	for (struct log_viewer *v = st->viewers; v; v = v->next)
		if (!v->ended && (!channel || v->build == build))
			log__fetch(v); /* also after a listener reconnect: catch up */
}

int build_logs_init(struct server *srv)
{
	struct log_state *st = xcalloc(1, sizeof(*st));

	st->srv = srv;
	srv->logs = st;
	lws_sul_schedule(srv->context, 0, &st->sweep_sul, log__sweep_tick,
			 LOG_SWEEP_EVERY_S * LWS_US_PER_SEC);
	if (pgpool_listen(srv->db, "kiln_log", log__on_notify, srv) ||
	    pgpool_listen(srv->db, "kiln_build", log__on_notify, srv))
		return KERR_INTERNAL;
	return 0;
}

void build_logs_release(struct server *srv)
{
	if (srv->logs)
		lws_sul_cancel(&srv->logs->sweep_sul);
	free(srv->logs);
	srv->logs = NULL;
}

int build_logs_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			   void *in, size_t len)
{
	struct log_viewer *v = user;
	struct log_viewer *x = v;
	struct server *srv;
	struct log_state *st;
	char uri[128];
	long long id = 0;
	int n = 0;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		srv = lws_context_user(lws_get_context(wsi));
		st = log__state(srv);
		memset(v, 0, sizeof(*v));
		v->wsi = wsi;
		v->srv = srv;
		x->ref = xcalloc(1, sizeof(*x->ref));
		x->ref->v = v;
		x->ref->refs = 1;
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    sscanf(uri, "/api/v1/builds/%lld/log/ws%n", &id, &n) != 1 || uri[n] || id <= 0) {
			struct buf b = BUF_INIT(256);
			buf_puts(&b, "{\"type\":\"error\",\"code\":\"not_found\",\"message\":"
				     "\"watch a log at /api/v1/builds/{id}/log/ws\"}");
			log__queue(v, &b);
			buf_release(&b);
			x->closing = 1;
			v->ended = 1;
			return 0;
		}
		v->build = id;
		v->next = st->viewers;
		st->viewers = v;
		metrics_add(srv->metrics, "kiln_log_viewers_total", "Live log viewers connected.", 1);
		log__fetch(v);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct log_frame *f = x->head;
		if (!f) {
			if (x->closing) {
				lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
				return -1;
			}
			return 0;
		}
		if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
			return -1;
		x->head = f->next;
		if (!x->head)
			x->tail = NULL;
		x->queued -= f->len;
		free(f);
		if (x->stalled && x->queued <= LOG_VIEWER_MAX_QUEUED / 2) {
			x->stalled = 0;
			log__fetch(v);
		}
		if (x->head || x->closing)
			lws_callback_on_writable(wsi);
		return 0;
	}

	case LWS_CALLBACK_RECEIVE:
		return 0; /* viewers only listen */

	case LWS_CALLBACK_CLOSED:
		if (!x || !x->ref)
			return 0;
		st = log__state(v->srv);
		for (struct log_viewer **pp = st ? &st->viewers : NULL; pp && *pp; pp = &(*pp)->next)
			if (*pp == v) {
				*pp = v->next;
				break;
			}
		x->ref->v = NULL;
		log__vref_drop(x->ref);
		x->ref = NULL;
		while (x->head) {
			struct log_frame *f = x->head;
			x->head = f->next;
			free(f);
		}
		return 0;

	default:
		return 0;
	}
}
