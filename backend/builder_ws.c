/* builder_ws: the builders' channel (contract in builder_ws.h, messages in docs/protocol.md). */
#include "backend/builder_ws.h"

#include "backend/build_logs.h"
#include "backend/builder_msg.h"
#include "backend/covered.h"
#include "backend/jobs.h"
#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/provenance.h"
#include "backend/server.h"
#include "backend/storage_sweep.h"
#include "backend/workers.h"
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/queue_sql.h"
#include "common/storage.h"
#include "common/token.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BWS_MAX_SLOTS BUILDER_MSG_MAX_SLOTS

struct bws_msg {
	struct bws_msg *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE headroom, then the text */
};

/* A handle async callbacks hold: conn is NULL once the connection closed. */
struct bws_ref {
	struct builder_conn *conn;
	int refs;
};

struct builder_conn {
	struct lws *wsi;
	struct server *srv;
	struct bws_ref *ref;
	int authed;
	int hello_pending;
	long long builder_id;
	char name[64];
	char *targets;        /* Postgres array literal of target names (owned) */
	char *arches;         /* Postgres array literal of the architectures it serves (owned) */
	int slots;
	int running;          /* jobs held on this connection: held[0..running) */
	long long held[BWS_MAX_SLOTS];
	int claiming;
	int draining;
	int paused;
	int closing;
	int in_message;       /* between a message's first and final fragment */
	int ping_due;         /* a ping to send at the next WRITEABLE */
	lws_usec_t alive_us;  /* when the builder last proved alive: a frame or a pong */
	/*
	 * Log chunks still being stored, per job. Queries run on any pool
	 * connection, so a finish sent after a job's last chunks could commit
	 * before them, and the chunks (refused once the job ended) would be
	 * missing from the archived log: a job's finish waits in deferred until
	 * its count is 0.
	 */
	struct {
		long long job;
		int n;
	} logw[BWS_MAX_SLOTS];
	struct bws_finish *deferred;
	struct buf rx;
	struct bws_msg *out_head, *out_tail;
	struct builder_conn *next; /* in the server's list */
};

const size_t builder_ws_session_size = sizeof(struct builder_conn);

struct bws_state {
	struct server *srv;
	struct builder_conn *conns;
	int nconns;
	int lease_s;
	int inflight;        /* claims out */
	int max_inflight;    /* at most this many at once */
	unsigned rr;         /* round-robin start among idle builders */
	lws_sorted_usec_list_t reap_sul;
	lws_sorted_usec_list_t dispatch_sul;
	lws_sorted_usec_list_t lease_sul;
	lws_sorted_usec_list_t ping_sul;
	lws_usec_t ping_us;      /* between two pings of each connection */
	lws_usec_t silent_us;    /* KILN_BUILDER_PING_TIMEOUT: silence that drops a connection */
	lws_usec_t ping_last_us; /* when the ping tick last ran */
};

static struct bws_state *bws__state(struct server *srv)
{
	return srv->builders;
}

/* --- references for async work ------------------------------------------ */

static struct bws_ref *bws__ref(struct builder_conn *c)
{
	c->ref->refs++;
	return c->ref;
}

static struct builder_conn *bws__unref(struct bws_ref *r)
{
	struct builder_conn *c = r->conn;
	if (--r->refs == 0)
		free(r);
	return c;
}

/* --- sending -------------------------------------------------------------- */

static void bws__send(struct builder_conn *c, const char *text, size_t n)
{
	struct bws_msg *m = xmalloc(sizeof(*m) + LWS_PRE + n);

	m->next = NULL;
	m->len = n;
	memcpy(m->data + LWS_PRE, text, n);
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	lws_callback_on_writable(c->wsi);
}

static void bws__send_buf(struct builder_conn *c, const struct buf *b)
{
	bws__send(c, b->ptr, b->len);
}

/*
 * Send a message now, not at the connection's next WRITEABLE callback: that
 * callback comes a turn of the loop later, and a turn is a poll(2) over every
 * socket (0.1 to 0.3 ms with 1,000 builders), on the path of every dispatch.
 * Only from outside this connection's own callbacks (a database result's), and
 * only when nothing is queued before the message, so order holds, and the
 * socket takes more. lws keeps what the socket did not take and sends it before
 * anything else. A failed write closes the connection from the loop.
 */
static void bws__send_now(struct builder_conn *c, const struct buf *b)
{
	unsigned char *m;

	/*
	 * Not past output lws still holds (lws_send_pipe_choked also says so): lws
	 * would append the frame but report it short and believe it is still
	 * inside a frame, so the next message would go out without its header.
	 */
	if (c->out_head || c->closing || lws_send_pipe_choked(c->wsi)) {
		bws__send_buf(c, b);
		return;
	}
	m = xmalloc(LWS_PRE + b->len);
	memcpy(m + LWS_PRE, b->ptr, b->len);
	if (lws_write(c->wsi, m + LWS_PRE, b->len, LWS_WRITE_TEXT) < (int)b->len) {
		c->closing = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
	free(m);
}

/* Send an error and close once it is out. */
static void bws__fail(struct builder_conn *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bws__fail(struct builder_conn *c, const char *code, const char *fmt, ...)
{
	struct buf b = BUF_INIT(8192);
	char msg[1024], q[1100];
	va_list ap;

	if (c->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_puts(&b, "{\"type\":\"error\",\"code\":");
	json_append_str(&b, code);
	buf_puts(&b, ",\"message\":");
	json_append_str(&b, msg);
	buf_puts(&b, "}");
	bws__send_buf(c, &b);
	buf_release(&b);
	c->closing = 1;
	log_warn("builder connection refused", "builder=%s code=%s reason=%s",
		 c->name[0] ? c->name : "-", code, log_quote(q, sizeof(q), msg));
	metrics_add(c->srv->metrics, "kiln_builder_protocol_errors_total",
		    "Builder connections closed for a protocol error.", 1);
}

/*
 * A message of the builder's could not be stored (the database went away under
 * the query, or the queue is full): close the connection, so the builder
 * reconnects and sends again everything its jobs reported (it keeps all of it
 * until a job's finish is acknowledged, and the backend keeps each piece once).
 * Dropping the message instead would lose a log chunk, or a finish, for good:
 * the builder resends only after a reconnect, and its job would stay running.
 */
static void bws__store_failed(struct builder_conn *c, long long job, const char *err)
{
	static const char msg[] = "{\"type\":\"error\",\"code\":\"unavailable\",\"message\":"
				  "\"a message could not be stored; reconnect and send again\"}";

	if (c->closing)
		return;
	log_warn("builder message not stored; closing so that the builder sends it again",
		 "builder=%s job=%lld error=\"%s\"", c->name, job, err);
	bws__send(c, msg, sizeof(msg) - 1);
	c->closing = 1;
}

static void bws__send_cancel(struct builder_conn *c, long long job, const char *reason)
{
	struct buf b = BUF_INIT(4096);
	buf_printf(&b, "{\"type\":\"cancel\",\"job\":%lld,\"reason\":", job);
	json_append_str(&b, reason);
	buf_putc(&b, '}');
	bws__send_buf(c, &b);
	buf_release(&b);
}

/* --- slots: which jobs this connection holds ---------------------------------- */

static void bws__hold(struct builder_conn *c, long long job)
{
	for (int i = 0; i < c->running; i++)
		if (c->held[i] == job)
			return;
	if (c->running < BWS_MAX_SLOTS)
		c->held[c->running++] = job;
}

static int bws__holds(const struct builder_conn *c, long long job)
{
	for (int i = 0; i < c->running; i++)
		if (c->held[i] == job)
			return 1;
	return 0;
}

/* Forget job; 1 if it was held. Keeps the count exact whatever order news arrives in. */
static int bws__release(struct builder_conn *c, long long job)
{
	for (int i = 0; i < c->running; i++)
		if (c->held[i] == job) {
			c->held[i] = c->held[--c->running];
			return 1;
		}
	return 0;
}

/* --- dispatch -------------------------------------------------------------- */



static void bws__send_job(struct builder_conn *c, PGresult *r, int row, const char *token)
{
	const struct config *cfg = c->srv->cfg;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	const char *git_url = PQgetvalue(r, row, JOBS_C_GIT_URL);

	buf_printf(&b, "{\"type\":\"job\",\"job\":%s,\"build\":%s,\"attempt\":%s,\"max_attempts\":%s,"
		       "\"lease\":\"%s\",\"project\":",
		   PQgetvalue(r, row, JOBS_C_JOB), PQgetvalue(r, row, JOBS_C_BUILD),
		   PQgetvalue(r, row, JOBS_C_ATTEMPT), PQgetvalue(r, row, JOBS_C_MAX_ATTEMPTS), token);
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_PROJECT));
	buf_puts(&b, ",\"version\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_VERSION));
	buf_puts(&b, ",\"target\":{\"name\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_TARGET));
	buf_puts(&b, ",\"image\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_IMAGE));
	buf_puts(&b, ",\"python_tag\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_PYTAG));
	buf_puts(&b, ",\"python_version\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_PYVER));
	buf_puts(&b, ",\"platform\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_PLATFORM));
	buf_puts(&b, ",\"arch\":");
	json_append_str(&b, PQgetvalue(r, row, JOBS_C_ARCH));
	/* Only when the target has them (docs/protocol.md). */
	if (*PQgetvalue(r, row, JOBS_C_SUITE)) {
		buf_puts(&b, ",\"suite\":");
		json_append_str(&b, PQgetvalue(r, row, JOBS_C_SUITE));
	}
	if (*PQgetvalue(r, row, JOBS_C_GLIBC)) {
		buf_puts(&b, ",\"glibc\":");
		json_append_str(&b, PQgetvalue(r, row, JOBS_C_GLIBC));
	}
	buf_puts(&b, "},\"source\":");
	if (*git_url) {
		buf_puts(&b, "{\"kind\":\"git\",\"url\":");
		json_append_str(&b, git_url);
		buf_puts(&b, ",\"commit\":");
		json_append_str(&b, PQgetvalue(r, row, JOBS_C_GIT_COMMIT));
	} else {
		buf_puts(&b, "{\"kind\":\"sdist\",\"url\":");
		json_append_str(&b, PQgetvalue(r, row, JOBS_C_SDIST_URL));
		buf_puts(&b, ",\"sha256\":");
		json_append_str(&b, PQgetvalue(r, row, JOBS_C_SDIST_SHA));
		buf_puts(&b, ",\"filename\":");
		json_append_str(&b, PQgetvalue(r, row, JOBS_C_SDIST_NAME));
	}
	/* Names the database checked (migrations/0011_native_deps.sql): safe as they are. */
	if (strcmp(PQgetvalue(r, row, JOBS_C_NATIVE), "[]"))
		buf_printf(&b, "},\"native_packages\":%s", PQgetvalue(r, row, JOBS_C_NATIVE));
	else
		buf_putc(&b, '}');
	buf_printf(&b, ",\"limits\":{\"timeout_s\":%ld,\"memory_mib\":%ld,\"cpus\":2,"
		       "\"pids\":1024,\"log_bytes\":%d,\"output_bytes\":%ld},"
		       "\"upload\":\"/api/v1/jobs/%s/artifacts/\"}",
		   config_get_int(cfg, CONFIG_JOB_TIMEOUT), config_get_int(cfg, CONFIG_JOB_MEMORY_MIB),
		   64 << 20,
		   config_get_int(cfg, CONFIG_MAX_UPLOAD) * 4, PQgetvalue(r, row, JOBS_C_JOB));
	bws__send_now(c, &b);
	buf_release(&b);
	log_info("job assigned", "job=%s build=%s attempt=%s builder=%s project=%s version=%s target=%s",
		 PQgetvalue(r, row, JOBS_C_JOB), PQgetvalue(r, row, JOBS_C_BUILD),
		 PQgetvalue(r, row, JOBS_C_ATTEMPT), c->name, PQgetvalue(r, row, JOBS_C_PROJECT),
		 PQgetvalue(r, row, JOBS_C_VERSION), PQgetvalue(r, row, JOBS_C_TARGET));
	metrics_add(c->srv->metrics, "kiln_jobs_dispatched_total", "Jobs handed to builders.", 1);
}

static int bws__idle(const struct builder_conn *c)
{
	return c->authed && !c->closing && !c->draining && !c->paused && !c->claiming &&
	       c->running < c->slots;
}

#define BWS_BATCH 64

/* One claim statement for up to BWS_BATCH idle builders that build the same targets. */
struct bws_batch {
	struct server *srv;
	int n;
	struct bws_ref *refs[BWS_BATCH];
	long long ids[BWS_BATCH];
	char tokens[BWS_BATCH][TOKEN_LEN + 1];
};

static void bws__dispatch(struct server *srv, int budget);

static void bws__batch_claimed(void *ctx, PGresult *r, const char *err)
{
	struct bws_batch *bt = ctx;
	struct bws_state *st = bws__state(bt->srv);
	int got = err ? 0 : PQntuples(r);

	if (st)
		st->inflight--;
	for (int i = 0; i < bt->n; i++)
		if (bt->refs[i]->conn)
			bt->refs[i]->conn->claiming = 0;
	if (err)
		log_warn("claim failed", "error=\"%s\"", err);
	metrics_add(bt->srv->metrics, "kiln_job_claim_statements_total",
		    "Claim statements run for idle builders (see kiln_job_claim_statements_empty_total).", 1);
	if (!got)
		metrics_add(bt->srv->metrics, "kiln_job_claim_statements_empty_total",
			    "Claim statements that found no job for their builders: work spent for nothing.", 1);
	for (int row = 0; row < got; row++) {
		long long bid = strtoll(PQgetvalue(r, row, JOBS_C_BUILDER), NULL, 10);
		for (int i = 0; i < bt->n; i++) {
			struct builder_conn *c = bt->refs[i]->conn;
			if (bt->ids[i] != bid)
				continue;
			/* A builder that left meanwhile: its lease expires and the reaper requeues. */
			if (c) {
				bws__hold(c, strtoll(PQgetvalue(r, row, JOBS_C_JOB), NULL, 10));
				bws__send_job(c, r, row, bt->tokens[i]);
			}
			break;
		}
	}
	for (int i = 0; i < bt->n; i++)
		bws__unref(bt->refs[i]);
	/* A full batch means there may be more work: fan out over the pool. */
	if (st && got == bt->n)
		bws__dispatch(bt->srv, st->max_inflight);
	free(bt);
}

/*
 * Claim for first and the idle builders after it (round-robin order) with its
 * targets and architectures.
 */
static void bws__claim_batch(struct bws_state *st, struct builder_conn *first)
{
	struct bws_batch *bt = xcalloc(1, sizeof(*bt));
	struct buf ids = BUF_INIT(BUF_NOLIMIT), leases = BUF_INIT(BUF_NOLIMIT);
	char hash[65];
	int n = 0;

	buf_putc(&ids, '{');
	buf_putc(&leases, '{');
	for (struct builder_conn *c = first; c && n < BWS_BATCH; c = c->next) {
		if (!bws__idle(c) || strcmp(c->targets, first->targets) || strcmp(c->arches, first->arches))
			continue;
		if (token_new(bt->tokens[n]) || token_hash(bt->tokens[n], hash))
			break;
		bt->refs[n] = bws__ref(c);
		bt->ids[n] = c->builder_id;
		c->claiming = 1;
		buf_printf(&ids, "%s%lld", n ? "," : "", c->builder_id);
		buf_printf(&leases, "%s%s", n ? "," : "", hash);
		n++;
	}
	buf_putc(&ids, '}');
	buf_putc(&leases, '}');
	bt->srv = st->srv;
	bt->n = n;
	if (n == 0) {
		free(bt);
	} else {
		st->inflight++;
		if (!jobs_claim_batch(st->srv->db, first->targets, first->arches, ids.ptr, leases.ptr, n,
				      st->lease_s, bws__batch_claimed, bt)) {
			st->inflight--;
			for (int i = 0; i < n; i++) {
				if (bt->refs[i]->conn)
					bt->refs[i]->conn->claiming = 0;
				bws__unref(bt->refs[i]);
			}
			free(bt);
		}
	}
	buf_release(&ids);
	buf_release(&leases);
}

/*
 * Start up to budget claims for idle builders, round-robin, in batches of
 * builders that build the same targets, keeping at most max_inflight statements
 * out.
 */
static void bws__dispatch(struct server *srv, int budget)
{
	struct bws_state *st = bws__state(srv);
	struct builder_conn *c;
	unsigned skip;
	int limit;

	if (!st || !st->conns)
		return;
	limit = st->inflight + budget < st->max_inflight ? st->inflight + budget : st->max_inflight;
	/* Rotate the starting point so idle builders take turns. */
	skip = st->nconns ? st->rr++ % (unsigned)st->nconns : 0;
	for (int pass = 0; pass < 2 && st->inflight < limit; pass++) {
		unsigned i = 0;
		for (c = st->conns; c && st->inflight < limit; c = c->next, i++) {
			if ((pass == 0 && i < skip) || (pass == 1 && i >= skip))
				continue;
			if (bws__idle(c))
				bws__claim_batch(st, c);
		}
	}
}

/*
 * An event that may make one dispatch possible (a job notified, a slot freed, a
 * builder arrived or resumed) starts one claim statement, for up to 64 idle
 * builders; only a batch that comes back full (there may be more work) fans out
 * to max_inflight parallel chains. Starting max_inflight statements per event
 * had them all race for the one new job: on 2 cores the losers' statements
 * doubled the winner's latency (dispatch p50 1.7 -> 3.4 ms with 1,000 builders,
 * docs/performance.md). A burst still drains 64 jobs per statement on
 * max_inflight chains.
 */
void builder_ws_dispatch(struct server *srv)
{
	bws__dispatch(srv, 1);
}

void builder_ws_cancel(struct server *srv, long long builder_id, long long job, const char *reason)
{
	struct bws_state *st = bws__state(srv);
	if (!st)
		return;
	for (struct builder_conn *c = st->conns; c; c = c->next)
		if (c->authed && c->builder_id == builder_id) {
			bws__send_cancel(c, job, reason);
			if (bws__release(c, job))
				builder_ws_dispatch(srv);
		}
}

int builder_ws_count(const struct server *srv)
{
	int n = 0;
	const struct bws_state *st = srv->builders;
	if (!st)
		return 0;
	for (const struct builder_conn *c = st->conns; c; c = c->next)
		n += c->authed;
	return n;
}

/* --- storage cleanup of dropped artifacts ---------------------------------- */

/*
 * The statement that dropped artifact rows registered their keys in
 * storage_pending: the sweep deletes the objects (safely against an upload of
 * the same bytes, see storage_sweep.h), soon.
 */
static void bws__delete_keys(struct server *srv, const char *keys)
{
	if (keys && *keys && strcmp(keys, "{}"))
		storage_sweep_soon(srv);
}

/* --- messages ---------------------------------------------------------------- */

enum bws_kind { BWS_PROGRESS, BWS_LOG, BWS_FINISH };

struct bws_jobq {
	struct bws_ref *ref;
	enum bws_kind kind;
	long long job;
	int counted;          /* a log chunk counted in the connection's logw */
};

/* A finish message waiting for its job's log chunks to be stored. */
struct bws_finish {
	struct bws_finish *next;
	long long job;
	int64_t exit_code, duration;
	char status[16];
	char *reason;
	char *report;         /* builder_msg.h */
};

/* The count of job's chunks being stored; with add, a free entry is taken for it. NULL if none. */
static int *bws__logw(struct builder_conn *c, long long job, int add)
{
	int spare = -1;

	for (int i = 0; i < BWS_MAX_SLOTS; i++) {
		if (c->logw[i].n && c->logw[i].job == job)
			return &c->logw[i].n;
		if (!c->logw[i].n && spare < 0)
			spare = i;
	}
	if (!add || spare < 0)
		return NULL;
	c->logw[spare].job = job;
	return &c->logw[spare].n;
}

static void bws__finish_start(struct builder_conn *c, long long job, const char *status,
			      const char *reason, int64_t exit_code, int64_t duration,
			      const char *report);

static void bws__stale_checked(void *ctx, PGresult *r, const char *err)
{
	struct bws_jobq *q = ctx;
	struct builder_conn *c = bws__unref(q->ref);

	if (c && !err) {
		if (PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't') {
			/* It was ours once: the lease ran out or it was cancelled. Stop it, keep the connection. */
			bws__send_cancel(c, q->job, "this job is no longer yours (its lease expired or it "
						    "was cancelled)");
			if (bws__release(c, q->job))
				builder_ws_dispatch(c->srv);
		} else {
			bws__fail(c, "not_your_job", "job %lld was never assigned to builder %s", q->job,
				  c->name);
		}
	}
	free(q);
}

/* A job message matched no held job: tell apart a lost lease from a foreign job. */
static void bws__stale(struct builder_conn *c, struct bws_jobq *q)
{
	q->ref = bws__ref(c);
	if (!jobs_check(c->srv->db, q->job, c->builder_id, bws__stale_checked, q)) {
		bws__unref(q->ref);
		free(q);
	}
}

static void bws__job_done(void *ctx, PGresult *r, const char *err)
{
	struct bws_jobq *q = ctx;
	struct builder_conn *c = bws__unref(q->ref);

	if (!c) {
		free(q);
		return;
	}
	if (q->counted) {
		int *n = bws__logw(c, q->job, 0);

		/* A chunk that failed closes the connection: its finish comes again after it. */
		if (n && --*n == 0 && !err && !c->closing) {
			/* The job's chunks are all stored: a finish waiting for them goes now. */
			for (struct bws_finish **pp = &c->deferred; *pp; pp = &(*pp)->next) {
				struct bws_finish *f = *pp;

				if (f->job != q->job)
					continue;
				*pp = f->next;
				bws__finish_start(c, f->job, f->status, f->reason, f->exit_code,
						  f->duration, f->report);
				free(f->reason);
				free(f->report);
				free(f);
				break;
			}
		}
	}
	if (err) {
		bws__store_failed(c, q->job, err);
		free(q);
		return;
	}
	if (q->kind == BWS_FINISH && PQntuples(r) == 1) {
		log_info("job finished", "job=%lld builder=%s build=%s state=%s published=%s", q->job,
			 c->name, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
		metrics_add(c->srv->metrics, "kiln_jobs_finished_total", "Jobs finished by builders.", 1);
		if (*PQgetvalue(r, 0, 5)) {
			log_info("native packages added", "job=%lld build=%s packages=%s source=auto",
				 q->job, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 5));
			metrics_add(c->srv->metrics, "kiln_native_auto_added_total",
				    "Builds whose native-dependency failure added packages to their project.", 1);
		}
		bws__delete_keys(c->srv, PQgetvalue(r, 0, 3));
		/* Built once: the wheels it published may serve its release's other targets. */
		if (!strcmp(PQgetvalue(r, 0, 1), "succeeded")) {
			covered_after_success(c->srv->db, q->job);
			provenance_publish(c->srv, PQgetvalue(r, 0, 0));
		}
		if (strcmp(PQgetvalue(r, 0, 1), "queued"))
			build_logs_compact(c->srv, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
		{
			/* Acknowledge, so the builder can forget the job. */
			char ack[160];
			int n = snprintf(ack, sizeof(ack),
					 "{\"type\":\"finished\",\"job\":%lld,\"state\":\"%s\"}", q->job,
					 PQgetvalue(r, 0, 1));
			bws__send(c, ack, (size_t)n);
		}
		bws__release(c, q->job);
		builder_ws_dispatch(c->srv);
		free(q);
		return;
	}
	if (PQntuples(r) == 0 && q->kind != BWS_LOG) {
		bws__stale(c, q);
		return;
	}
	free(q);
}

static void bws__on_progress(struct builder_conn *c, const struct builder_msg *m)
{
	struct bws_jobq *q = xcalloc(1, sizeof(*q));

	q->kind = BWS_PROGRESS;
	q->job = m->job;
	q->ref = bws__ref(c);
	if (!jobs_progress(c->srv->db, m->job, c->builder_id, m->phase, bws__job_done, q)) {
		bws__unref(q->ref);
		free(q);
		bws__store_failed(c, m->job, "database queue full");
	}
}

static void bws__on_log(struct builder_conn *c, const struct builder_msg *m)
{
	struct bws_jobq *q = xcalloc(1, sizeof(*q));
	int *n;

	q->kind = BWS_LOG;
	q->job = m->job;
	/*
	 * The insert cannot tell a foreign job from a resent chunk (both store
	 * nothing), so a chunk for a job this connection does not hold goes
	 * through the same check as other stale or foreign job messages.
	 */
	if (!bws__holds(c, m->job)) {
		bws__stale(c, q);
		return;
	}
	q->ref = bws__ref(c);
	/* Counted before the query, whose callback may run at once; with every
	 * entry taken (more jobs than slots) the finish cannot wait. */
	n = bws__logw(c, m->job, 1);
	if (n) {
		(*n)++;
		q->counted = 1;
	}
	if (!jobs_log(c->srv->db, m->job, c->builder_id, m->seq, m->data, bws__job_done, q)) {
		/* Not queued: uncount it (a finish waits only on chunks before it, still out). */
		if (q->counted && (n = bws__logw(c, m->job, 0)))
			(*n)--;
		bws__unref(q->ref);
		free(q);
		bws__store_failed(c, m->job, "database queue full");
	}
}

static void bws__finish_start(struct builder_conn *c, long long job, const char *status,
			      const char *reason, int64_t exit_code, int64_t duration,
			      const char *report)
{
	struct bws_jobq *q = xcalloc(1, sizeof(*q));

	q->kind = BWS_FINISH;
	q->job = job;
	q->ref = bws__ref(c);
	if (!jobs_finish(c->srv->db, job, c->builder_id, status, reason, exit_code, duration,
			 report, config_get_bool(c->srv->cfg, CONFIG_NATIVE_AUTO_RETRY), bws__job_done,
			 q)) {
		bws__unref(q->ref);
		free(q);
		bws__store_failed(c, job, "database queue full");
	}
}

static void bws__on_finish(struct builder_conn *c, const struct builder_msg *m)
{
	/* Log chunks of this job still being stored: the finish waits for them. */
	if (bws__logw(c, m->job, 0)) {
		struct bws_finish *f = xcalloc(1, sizeof(*f)), **pp = &c->deferred;

		f->job = m->job;
		f->exit_code = m->exit_code;
		f->duration = m->duration_ms;
		snprintf(f->status, sizeof(f->status), "%s", m->status);
		f->reason = xstrdup(m->reason ? m->reason : "");
		f->report = m->report ? xstrdup(m->report) : NULL;
		while (*pp)
			pp = &(*pp)->next;
		*pp = f;
		return;
	}
	bws__finish_start(c, m->job, m->status, m->reason, m->exit_code, m->duration_ms, m->report);
}

/* --- hello ----------------------------------------------------------------- */

struct bws_hello {
	struct bws_ref *ref;
	char name[64];
	char *caps;   /* capabilities JSON to store */
	long long *running;
	int nrunning;
	int slots;
	char targets[2048];
	char arches[256];
};

static void bws__hello_free(struct bws_hello *h)
{
	free(h->caps);
	free(h->running);
	free(h);
}

static void bws__resume_checked(void *ctx, PGresult *r, const char *err)
{
	struct bws_jobq *q = ctx;
	struct builder_conn *c = bws__unref(q->ref);

	if (c && !err) {
		if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't') {
			/* Still ours: keep building it across the reconnect. */
		} else {
			bws__release(c, q->job);
			bws__send_cancel(c, q->job, "this job is no longer yours (its lease expired while "
						    "you were away)");
		}
		builder_ws_dispatch(c->srv);
	}
	free(q);
}


static void bws__welcomed(struct builder_conn *c, struct bws_hello *h)
{
	struct bws_state *st = bws__state(c->srv);
	struct buf b = BUF_INIT(4096);

	c->authed = 1;
	c->slots = h->slots;
	/* Exactly as long as needed: ten thousand idle builders should cost little. */
	c->targets = xstrdup(h->targets);
	c->arches = xstrdup(h->arches);
	c->next = st->conns;
	st->conns = c;
	st->nconns++;
	buf_puts(&b, "{\"type\":\"welcome\",\"protocol\":1,\"builder\":");
	json_append_str(&b, c->name);
	buf_printf(&b, ",\"lease_s\":%d,\"heartbeat_s\":%d}", st->lease_s, st->lease_s / 3);
	bws__send_buf(c, &b);
	buf_release(&b);
	log_info("builder connected", "builder=%s slots=%d targets=%s arches=%s resumed=%d", c->name,
		 c->slots, c->targets, c->arches, h->nrunning);
	/* Jobs it says it still runs: keep those still its own, cancel the others. */
	for (int i = 0; i < h->nrunning; i++)
		bws__hold(c, h->running[i]);
	for (int i = 0; i < h->nrunning; i++) {
		struct bws_jobq *q = xcalloc(1, sizeof(*q));
		q->job = h->running[i];
		q->ref = bws__ref(c);
		if (!jobs_check(c->srv->db, q->job, c->builder_id, bws__resume_checked, q)) {
			bws__unref(q->ref);
			free(q);
		}
	}
	builder_ws_dispatch(c->srv);
}

static void bws__hello_authed(void *ctx, PGresult *r, const char *err)
{
	struct bws_hello *h = ctx;
	struct builder_conn *c = bws__unref(h->ref);

	if (!c)
		goto done;
	c->hello_pending = 0;
	if (err) {
		bws__fail(c, "unavailable", "database unavailable; reconnect later");
		goto done;
	}
	if (PQntuples(r) != 1) {
		bws__fail(c, "unauthorized", "unknown or disabled builder token");
		goto done;
	}
	if (strcmp(PQgetvalue(r, 0, 1), h->name)) {
		bws__fail(c, "unauthorized", "this token belongs to builder '%s', not '%s'",
			  PQgetvalue(r, 0, 1), h->name);
		goto done;
	}
	c->builder_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	c->paused = PQgetvalue(r, 0, 2)[0] == 't';
	snprintf(c->name, sizeof(c->name), "%s", h->name);
	/* Accepted all the same: the claim never gives it those targets' jobs. */
	if (*PQgetvalue(r, 0, 3))
		log_warn("builder lists targets of an architecture it does not serve; they get no job "
			 "on this connection", "builder=%s targets=%s arches=%s", h->name,
			 PQgetvalue(r, 0, 3), h->arches);
	bws__welcomed(c, h);
done:
	bws__hello_free(h);
}

static void bws__on_hello(struct builder_conn *c, struct builder_msg *m)
{
	struct bws_hello *h;
	struct buf caps = BUF_INIT(8192);
	struct kerr e;
	const cJSON *it;
	char hash[65];
	const char *params[5];
	int rc;

	if (c->authed || c->hello_pending) {
		bws__fail(c, "bad_message", "hello was already received");
		return;
	}
	if ((rc = builder_msg_check(m, &e))) {
		bws__fail(c, builder_msg_error_code(rc), "%s", e.msg);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", m->name);
	h->slots = m->slots;
	snprintf(h->targets, sizeof(h->targets), "%s", m->targets_sql);
	snprintf(h->arches, sizeof(h->arches), "%s", m->arches_sql);
	h->running = xcalloc((size_t)(m->nrunning ? m->nrunning : 1), sizeof(long long));
	memcpy(h->running, m->running, (size_t)m->nrunning * sizeof(long long));
	h->nrunning = m->nrunning;
	buf_puts(&caps, "{\"version\":");
	json_append_str(&caps, m->version);
	buf_puts(&caps, ",\"arch\":");
	json_append_str(&caps, m->arch);
	/* arches_sql is {own,emulated...}: the emulated ones are after the first comma. */
	buf_puts(&caps, ",\"emulates\":[");
	{
		const char *p = strchr(m->arches_sql, ',');
		while (p && *p == ',') {
			size_t k = strcspn(p + 1, ",}");
			if (caps.ptr[caps.len - 1] != '[')
				buf_putc(&caps, ',');
			buf_printf(&caps, "\"%.*s\"", (int)k, p + 1);
			p += 1 + k;
		}
	}
	buf_printf(&caps, "],\"slots\":%d,\"targets\":[", h->slots);
	cJSON_ArrayForEach(it, m->targets) {
		if (caps.ptr[caps.len - 1] != '[')
			buf_putc(&caps, ',');
		json_append_str(&caps, it->valuestring);
	}
	buf_puts(&caps, "]}");
	h->caps = buf_detach(&caps, NULL);
	token_hash(m->token, hash);
	params[0] = hash;
	params[1] = h->caps;
	params[2] = m->version;
	params[3] = h->targets;
	params[4] = h->arches;
	snprintf(c->name, sizeof(c->name), "%s", m->name);
	h->ref = bws__ref(c);
	c->hello_pending = 1;
	if (!pgpool_query(c->srv->db,
			  "update builders set capabilities = $2::jsonb, version = nullif($3, ''),"
			  " last_seen_at = now() where token_hash = $1 and enabled"
			  " returning id, name, paused::text,"
			  " coalesce((select string_agg(t.name || ':' || t.arch, ',' order by t.name)"
			  "  from targets t where t.name = any($4::text[])"
			  "  and t.arch <> all($5::text[])), '')",
			  5, params, bws__hello_authed, h)) {
		bws__unref(h->ref);
		bws__hello_free(h);
		c->hello_pending = 0;
		bws__fail(c, "unavailable", "server busy; reconnect later");
	}
}

static void bws__on_message(struct builder_conn *c)
{
	struct builder_msg m;
	struct kerr e;
	int rc;

	if (builder_msg_parse(&m, c->rx.ptr, c->rx.len, &e)) {
		bws__fail(c, "bad_message", "%s", e.msg);
	} else if (m.type == BUILDER_MSG_HELLO) {
		bws__on_hello(c, &m);
	} else if (!c->authed) {
		bws__fail(c, "unauthorized", "the first message must be a hello");
	} else if ((rc = builder_msg_check(&m, &e))) {
		bws__fail(c, builder_msg_error_code(rc), "%s", e.msg);
	} else if (m.type == BUILDER_MSG_PROGRESS) {
		bws__on_progress(c, &m);
	} else if (m.type == BUILDER_MSG_LOG) {
		bws__on_log(c, &m);
	} else if (m.type == BUILDER_MSG_FINISH) {
		bws__on_finish(c, &m);
	} else if (m.type == BUILDER_MSG_DRAIN) {
		c->draining = 1;
		log_info("builder draining", "builder=%s running=%d", c->name, c->running);
	}
	builder_msg_release(&m);
}

/* --- timers -------------------------------------------------------------------- */

static void bws__lease_extended(void *ctx, PGresult *r, const char *err)
{
	if (err)
		log_warn("could not extend leases", "error=\"%s\"", err);
}

/*
 * Every lease_s/3: one statement extends the leases of the jobs the connections
 * here hold (not every job of their builders: see jobs_extend_leases), for the
 * connections whose builder proved alive within that period only. An open
 * socket proves nothing: the kernel of a frozen or sleeping builder keeps it
 * open, and a half-open connection looks open for as long as nothing is sent.
 * Pings go out twice a period at least, so a live builder always has a pong in.
 */
static void bws__lease_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, lease_sul);
	struct buf jobs = BUF_INIT(BUF_NOLIMIT), holders = BUF_INIT(BUF_NOLIMIT);
	struct buf ids = BUF_INIT(BUF_NOLIMIT);
	lws_usec_t period = (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 3, now = lws_now_usecs();
	int live = 0;

	buf_putc(&jobs, '{');
	buf_putc(&holders, '{');
	buf_putc(&ids, '{');
	for (struct builder_conn *c = st->conns; c; c = c->next) {
		if (now - c->alive_us > period)
			continue;
		live++;
		buf_printf(&ids, "%s%lld", ids.len > 1 ? "," : "", c->builder_id);
		for (int i = 0; i < c->running; i++) {
			buf_printf(&jobs, "%s%lld", jobs.len > 1 ? "," : "", c->held[i]);
			buf_printf(&holders, "%s%lld", holders.len > 1 ? "," : "", c->builder_id);
		}
	}
	buf_putc(&jobs, '}');
	buf_putc(&holders, '}');
	buf_putc(&ids, '}');
	if (live)
		jobs_extend_leases(st->srv->db, jobs.ptr, holders.ptr, ids.ptr, st->lease_s,
				   bws__lease_extended, NULL);
	buf_release(&jobs);
	buf_release(&holders);
	buf_release(&ids);
	lws_sul_schedule(st->srv->context, 0, &st->lease_sul, bws__lease_tick,
			 (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 3);
}

/*
 * Ping every connection; drop one whose builder has answered nothing for
 * silent_us (KILN_BUILDER_PING_TIMEOUT). Its leases are no longer extended
 * (above), so its jobs return to the queue when they run out, as after any lost
 * connection; a builder that wakes up reconnects and is told its jobs are gone.
 */
static void bws__ping_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, ping_sul);
	lws_usec_t now = lws_now_usecs();
	/*
	 * A tick this late means our own loop stalled (a paused process, a
	 * starved host): the builders' pongs may be unread in the sockets, and
	 * timers run before the sockets are read. Judge them at the next tick.
	 */
	int stalled = st->ping_last_us && now - st->ping_last_us > 2 * st->ping_us;

	st->ping_last_us = now;
	for (struct builder_conn *c = st->conns; c; c = c->next) {
		if (c->closing)
			continue;
		if (!stalled && now - c->alive_us > st->silent_us) {
			log_warn("builder stopped answering; dropping its connection",
				 "builder=%s running=%d silent_ms=%lld", c->name, c->running,
				 (long long)((now - c->alive_us) / LWS_US_PER_MS));
			metrics_add(st->srv->metrics, "kiln_builder_silent_drops_total",
				    "Builder connections dropped for answering no ping.", 1);
			c->closing = 1;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
			continue;
		}
		c->ping_due = 1;
		lws_callback_on_writable(c->wsi);
	}
	lws_sul_schedule(st->srv->context, 0, &st->ping_sul, bws__ping_tick, st->ping_us);
}

struct bws_reap {
	struct server *srv;
};

static void bws__reaped(void *ctx, PGresult *r, const char *err)
{
	struct server *srv = ctx;

	if (err)
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		long long build = strtoll(PQgetvalue(r, i, 5), NULL, 10);

		log_warn("lease expired", "job=%s state=%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		metrics_add(srv->metrics, "kiln_jobs_reaped_total", "Jobs whose builder vanished.", 1);
		bws__delete_keys(srv, PQgetvalue(r, i, 2));
		/* The lost build's log ends with the reaper's line: store it like any other. */
		if (build > 0)
			build_logs_compact(srv, build);
	}
}

static void bws__reap_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, reap_sul);
	struct server *srv = st->srv;

	/*
	 * Every replica reaps; SKIP LOCKED and the lease check keep them from
	 * colliding. Nothing for two leases after a database restart: one for the
	 * replicas' pools to reconnect and extend what their connections hold, one
	 * for builders whose connection closed meanwhile to come back.
	 */
	jobs_reap(srv->db, 2 * st->lease_s, bws__reaped, srv);
	lws_sul_schedule(srv->context, 0, &st->reap_sul, bws__reap_tick, 5 * LWS_US_PER_SEC);
}

/* Jobs whose backoff ran out do not notify: look for work now and then anyway. */
static void bws__dispatch_tick(lws_sorted_usec_list_t *sul)
{
	struct bws_state *st = lws_container_of(sul, struct bws_state, dispatch_sul);

	builder_ws_dispatch(st->srv);
	lws_sul_schedule(st->srv->context, 0, &st->dispatch_sul, bws__dispatch_tick,
			 5 * LWS_US_PER_SEC);
}

static void bws__on_jobs_notify(void *ctx, const char *channel, const char *payload)
{
	builder_ws_dispatch(ctx);
}

/* --- admin changes, heard from whichever replica made them ------------------ */

/* "BUILDER_ID:JOB_ID" (common/queue_sql.c, the cancel statement): tell it if it is ours. */
static void bws__on_cancel_notify(void *ctx, const char *channel, const char *payload)
{
	long long builder_id = 0, job = 0;
	char rest;

	/* A lost notification (channel NULL) is caught when the builder next reports. */
	if (!channel || sscanf(payload, "%lld:%lld%c", &builder_id, &job, &rest) != 2)
		return;
	builder_ws_cancel(ctx, builder_id, job, QUEUE_CANCEL_REASON);
	builder_ws_dispatch(ctx); /* its slot is free again */
}

static void bws__paused_loaded(void *ctx, PGresult *r, const char *err)
{
	struct server *srv = ctx;
	struct bws_state *st;
	int resumed = 0;

	if (err || !(st = bws__state(srv)))
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		int paused = PQgetvalue(r, i, 1)[0] == 't';

		for (struct builder_conn *c = st->conns; c; c = c->next) {
			if (c->builder_id != id || c->paused == paused)
				continue;
			c->paused = paused;
			resumed |= !paused;
			log_info(paused ? "builder paused" : "builder resumed", "builder=%s", c->name);
		}
	}
	if (resumed)
		builder_ws_dispatch(srv);
}

/*
 * A builder was paused, resumed, disabled or enabled (payload: its id), or the
 * listener reconnected (channel NULL) and any of that may have been missed:
 * reload the flag of the connections concerned. A disabled builder's open
 * connection is treated as paused; its token is refused at the next hello.
 */
static void bws__on_builders_notify(void *ctx, const char *channel, const char *payload)
{
	struct server *srv = ctx;
	struct bws_state *st = bws__state(srv);
	struct buf ids = BUF_INIT(BUF_NOLIMIT);
	long long only = channel ? strtoll(payload, NULL, 10) : 0;
	const char *params[1];

	if (!st)
		goto out;
	buf_putc(&ids, '{');
	for (struct builder_conn *c = st->conns; c; c = c->next)
		if (!channel || c->builder_id == only)
			buf_printf(&ids, "%s%lld", ids.len > 1 ? "," : "", c->builder_id);
	if (ids.len == 1)
		goto out; /* not connected here */
	buf_putc(&ids, '}');
	params[0] = ids.ptr;
	pgpool_query(srv->db,
		     "select id, (paused or not enabled)::text from builders where id = any($1::bigint[])",
		     1, params, bws__paused_loaded, srv);
out:
	buf_release(&ids);
}

int builder_ws_init(struct server *srv)
{
	struct bws_state *st = xcalloc(1, sizeof(*st));

	st->srv = srv;
	st->lease_s = (int)config_get_int(srv->cfg, CONFIG_LEASE_SECONDS);
	if (st->lease_s < 3)
		st->lease_s = 3;
	st->silent_us = (lws_usec_t)config_get_int(srv->cfg, CONFIG_BUILDER_PING_TIMEOUT) *
			LWS_US_PER_SEC;
	/* Three pings in the timeout, two in a lease period (see bws__lease_tick). */
	st->ping_us = st->silent_us / 3;
	if (st->ping_us > (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 6)
		st->ping_us = (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 6;
	/* Enough parallel claims to keep the pool busy, not so many they queue up. */
	st->max_inflight = (int)config_get_int(srv->cfg, CONFIG_DB_POOL_SIZE);
	srv->builders = st;
	lws_sul_schedule(srv->context, 0, &st->reap_sul, bws__reap_tick, LWS_US_PER_SEC);
	lws_sul_schedule(srv->context, 0, &st->dispatch_sul, bws__dispatch_tick, 5 * LWS_US_PER_SEC);
	lws_sul_schedule(srv->context, 0, &st->lease_sul, bws__lease_tick,
			 (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 3);
	lws_sul_schedule(srv->context, 0, &st->ping_sul, bws__ping_tick, st->ping_us);
	if (pgpool_listen(srv->db, "kiln_cancel", bws__on_cancel_notify, srv) ||
	    pgpool_listen(srv->db, "kiln_builders", bws__on_builders_notify, srv))
		return KERR_INVAL;
	return pgpool_listen(srv->db, "kiln_jobs", bws__on_jobs_notify, srv);
}

void builder_ws_release(struct server *srv)
{
	struct bws_state *st = srv->builders;

	if (!st)
		return;
	lws_sul_cancel(&st->reap_sul);
	lws_sul_cancel(&st->dispatch_sul);
	lws_sul_cancel(&st->lease_sul);
	lws_sul_cancel(&st->ping_sul);
	free(st);
	srv->builders = NULL;
}

static void bws__unlink(struct builder_conn *c)
{
	struct bws_state *st = bws__state(c->srv);
	if (!st)
		return;
	for (struct builder_conn **pp = &st->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			st->nconns--;
			return;
		}
}

int builder_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct builder_conn *c = user;
	struct server *srv;
	char uri[128];

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		srv = lws_context_user(lws_get_context(wsi));
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		c->srv = srv;
		c->ref = xcalloc(1, sizeof(*c->ref));
		c->ref->conn = c;
		c->ref->refs = 1;
		c->alive_us = lws_now_usecs();
		buf_init(&c->rx, BUILDER_WS_MAX_MESSAGE);
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, "/api/v1/builders/ws")) {
			bws__fail(c, "not_found", "the builder channel is /api/v1/builders/ws");
			return 0;
		}
		return 0;

	case LWS_CALLBACK_RECEIVE_PONG:
		c->alive_us = lws_now_usecs();
		return 0;

	case LWS_CALLBACK_RECEIVE:
		c->alive_us = lws_now_usecs();
		c->in_message = !lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi);
		if (!c->ref)
			return 0;
		if (c->closing) {
			/*
			 * Read the rest of the refused message before closing: closing with
			 * unread input makes the kernel send a reset, which can destroy the
			 * error message on its way to the peer.
			 */
			if (!c->in_message)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (lws_frame_is_binary(wsi)) {
			bws__fail(c, "bad_message", "messages are JSON text frames");
			return 0;
		}
		if (buf_append(&c->rx, in, len)) {
			bws__fail(c, "too_big", "message over %d bytes", BUILDER_WS_MAX_MESSAGE);
			return 0;
		}
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			return 0;
		bws__on_message(c);
		buf_reset(&c->rx);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct bws_msg *m = c->out_head;
		if (c->ping_due && !c->closing) {
			/*
			 * Alone in its callback (one write per WRITEABLE), never inside a
			 * frame; with a payload, as the builder's lws (4.1) sends no pong
			 * for an empty ping.
			 */
			unsigned char ping[LWS_PRE + 4] = { 0 };

			if (lws_send_pipe_choked(wsi)) {
				lws_callback_on_writable(wsi);
				return 0;
			}
			c->ping_due = 0;
			memcpy(ping + LWS_PRE, "kiln", 4);
			if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0)
				return -1;
			if (m)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (!m) {
			if (c->closing && !c->in_message) {
				lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
				return -1;
			}
			return 0;
		}
		if (lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
			return -1;
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(m);
		if (c->out_head || c->closing)
			lws_callback_on_writable(wsi);
		return 0;
	}

	case LWS_CALLBACK_CLOSED:
		if (!c->ref)
			return 0;
		if (c->authed)
			log_info("builder disconnected", "builder=%s running=%d", c->name, c->running);
		bws__unlink(c);
		c->ref->conn = NULL;
		bws__unref(c->ref);
		c->ref = NULL;
		while (c->out_head) {
			struct bws_msg *m = c->out_head;
			c->out_head = m->next;
			free(m);
		}
		c->out_tail = NULL;
		/* Finishes never sent: the builder sends them again when it reconnects. */
		while (c->deferred) {
			struct bws_finish *f = c->deferred;
			c->deferred = f->next;
			free(f->reason);
			free(f->report);
			free(f);
		}
		buf_release(&c->rx);
		free(c->targets);
		c->targets = NULL;
		free(c->arches);
		c->arches = NULL;
		return 0;

	default:
		return 0;
	}
}
