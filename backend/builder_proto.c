/* builder_proto: the builder's messages (contract in builder_proto.h; docs/protocol.md). */
#include "backend/builder_proto.h"

#include "backend/build_logs.h"
#include "backend/builder_conn.h"
#include "backend/builder_msg.h"
#include "backend/builder_ws.h"
#include "backend/covered.h"
#include "backend/jobs.h"
#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/provenance.h"
#include "backend/repro.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/token.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum builder_proto_kind { BUILDER_PROTO_PROGRESS, BUILDER_PROTO_LOG, BUILDER_PROTO_FINISH };

struct builder_proto_jobq {
	struct builder_conn_ref *ref;
	enum builder_proto_kind kind;
	long long job;
	long long attempt;    /* the message's attempt, 0 when it named none */
	int counted;          /* a log chunk counted in the connection's logw */
};

/* A finish message waiting for its job's log chunks to be stored. */
struct builder_finish {
	struct builder_finish *next;
	long long job, attempt;
	int64_t exit_code, duration;
	char status[16];
	char *reason;
	char *report;         /* builder_msg.h */
};

static void builder_proto__finish_start(struct builder_conn *c, long long job, long long attempt,
					const char *status, const char *reason, int64_t exit_code,
					int64_t duration, const char *report);

static void builder_proto__stale_checked(void *ctx, PGresult *r, const char *err)
{
	struct builder_proto_jobq *q = ctx;
	struct builder_conn *c = builder_conn_unref(q->ref);

	if (c && !err) {
		if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't' && q->attempt &&
		    strtoll(PQgetvalue(r, 0, 3), NULL, 10) != q->attempt) {
			/*
			 * A late message of an earlier attempt of a job this builder
			 * holds again: stop that attempt only (the builder matches the
			 * cancel's attempt), the current one goes on.
			 */
			log_info("message of an earlier attempt refused", "job=%lld attempt=%lld "
				 "current=%s builder=%s", q->job, q->attempt, PQgetvalue(r, 0, 3), c->name);
			builder_conn_send_cancel(c, q->job, q->attempt, "this attempt of the job is over "
						 "(the job was given out again)");
		} else if (PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't') {
			/* It was ours once: the lease ran out or it was cancelled. Stop it, keep the connection. */
			builder_conn_send_cancel(c, q->job, q->attempt, "this job is no longer yours (its "
						 "lease expired or it was cancelled)");
			if (builder_conn_unhold(c, q->job))
				builder_ws_dispatch(c->srv);
		} else {
			builder_conn_fail(c, "not_your_job", "job %lld was never assigned to builder %s",
					  q->job, c->name);
		}
	}
	free(q);
}

/* A job message matched no held job: tell apart a lost lease from a foreign job. */
static void builder_proto__stale(struct builder_conn *c, struct builder_proto_jobq *q)
{
	q->ref = builder_conn_ref(c);
	if (!jobs_check(c->srv->db, q->job, c->builder_id, builder_proto__stale_checked, q)) {
		builder_conn_unref(q->ref);
		free(q);
	}
}

static void builder_proto__job_done(void *ctx, PGresult *r, const char *err)
{
	struct builder_proto_jobq *q = ctx;
	struct builder_conn *c = builder_conn_unref(q->ref);

	if (!c) {
		free(q);
		return;
	}
	if (q->counted) {
		int *n = builder_conn_logw(c, q->job, 0);

		/* A chunk that failed closes the connection: its finish comes again after it. */
		if (n && --*n == 0 && !err && !c->closing) {
			/* The job's chunks are all stored: a finish waiting for them goes now. */
			for (struct builder_finish **pp = &c->deferred; *pp; pp = &(*pp)->next) {
				struct builder_finish *f = *pp;

				if (f->job != q->job)
					continue;
				*pp = f->next;
				builder_proto__finish_start(c, f->job, f->attempt, f->status, f->reason,
							    f->exit_code, f->duration, f->report);
				free(f->reason);
				free(f->report);
				free(f);
				break;
			}
		}
	}
	if (err) {
		builder_conn_store_failed(c, q->job, err);
		free(q);
		return;
	}
	if (q->kind == BUILDER_PROTO_FINISH && PQntuples(r) == 1) {
		log_info("job finished", "job=%lld builder=%s build=%s state=%s published=%s", q->job,
			 c->name, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
		metrics_add(c->srv->metrics, "kiln_jobs_finished_total", "Jobs finished by builders.", 1);
		if (*PQgetvalue(r, 0, 5)) {
			log_info("native packages added", "job=%lld build=%s packages=%s source=auto",
				 q->job, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 5));
			metrics_add(c->srv->metrics, "kiln_native_auto_added_total",
				    "Builds whose native-dependency failure added packages to their project.", 1);
		}
		if (strcmp(PQgetvalue(r, 0, 6), "0"))
			log_info("waiting jobs queued again", "job=%lld build=%s count=%s reason=build-requirement",
				 q->job, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 6));
		builder_conn_sweep_keys(c->srv, PQgetvalue(r, 0, 3));
		/* Built once: the wheels it published may serve its release's other targets. */
		if (!strcmp(PQgetvalue(r, 0, 1), "succeeded")) {
			covered_after_success(c->srv->db, q->job);
			/* A second build of it, compared, when the policy samples it (repro.h). */
			repro_after_success(c->srv, q->job, PQgetvalue(r, 0, 0));
			/* Signed provenance of the wheels it published (provenance.h). */
			provenance_publish(c->srv, PQgetvalue(r, 0, 0));
		}
		if (strcmp(PQgetvalue(r, 0, 1), "queued"))
			build_logs_compact(c->srv, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
		{
			/* Acknowledge, so the builder can forget the job (that attempt of it). */
			char ack[200], att[40] = "";
			int n;

			if (q->attempt)
				snprintf(att, sizeof(att), ",\"attempt\":%lld", q->attempt);
			n = snprintf(ack, sizeof(ack),
				     "{\"type\":\"finished\",\"job\":%lld%s,\"state\":\"%s\"}", q->job,
				     att, PQgetvalue(r, 0, 1));
			builder_conn_send(c, ack, (size_t)n);
		}
		builder_conn_unhold(c, q->job);
		builder_ws_dispatch(c->srv);
		free(q);
		return;
	}
	if (PQntuples(r) == 0 && q->kind != BUILDER_PROTO_LOG) {
		builder_proto__stale(c, q);
		return;
	}
	free(q);
}

static void builder_proto__on_progress(struct builder_conn *c, const struct builder_msg *m)
{
	struct builder_proto_jobq *q = xcalloc(1, sizeof(*q));

	q->kind = BUILDER_PROTO_PROGRESS;
	q->job = m->job;
	q->attempt = m->attempt;
	q->ref = builder_conn_ref(c);
	if (!jobs_progress(c->srv->db, m->job, c->builder_id, m->attempt, m->phase,
			   builder_proto__job_done, q)) {
		builder_conn_unref(q->ref);
		free(q);
		builder_conn_store_failed(c, m->job, "database queue full");
	}
}

static void builder_proto__on_log(struct builder_conn *c, const struct builder_msg *m)
{
	struct builder_proto_jobq *q = xcalloc(1, sizeof(*q));
	int *n;

	q->kind = BUILDER_PROTO_LOG;
	q->job = m->job;
	q->attempt = m->attempt;
	/*
	 * The insert cannot tell a foreign job from a resent chunk (both store
	 * nothing), so a chunk for a job this connection does not hold goes
	 * through the same check as other stale or foreign job messages.
	 */
	if (!builder_conn_holds(c, m->job)) {
		builder_proto__stale(c, q);
		return;
	}
	q->ref = builder_conn_ref(c);
	/* Counted before the query, whose callback may run at once; with every
	 * entry taken (more jobs than slots) the finish cannot wait. */
	n = builder_conn_logw(c, m->job, 1);
	if (n) {
		(*n)++;
		q->counted = 1;
	}
	/* A chunk of another attempt stores nothing, like a resent one: dropped. */
	if (!jobs_log(c->srv->db, m->job, c->builder_id, m->attempt, m->seq, m->data,
		      builder_proto__job_done, q)) {
		/* Not queued: uncount it (a finish waits only on chunks before it, still out). */
		if (q->counted && (n = builder_conn_logw(c, m->job, 0)))
			(*n)--;
		builder_conn_unref(q->ref);
		free(q);
		builder_conn_store_failed(c, m->job, "database queue full");
	}
}

static void builder_proto__finish_start(struct builder_conn *c, long long job, long long attempt,
					const char *status, const char *reason, int64_t exit_code,
					int64_t duration, const char *report)
{
	struct builder_proto_jobq *q = xcalloc(1, sizeof(*q));

	q->kind = BUILDER_PROTO_FINISH;
	q->job = job;
	q->attempt = attempt;
	q->ref = builder_conn_ref(c);
	if (!jobs_finish(c->srv->db, job, c->builder_id, attempt, status, reason, exit_code,
			 duration, report, config_get_bool(c->srv->cfg, CONFIG_NATIVE_AUTO_RETRY),
			 builder_proto__job_done, q)) {
		builder_conn_unref(q->ref);
		free(q);
		builder_conn_store_failed(c, job, "database queue full");
	}
}

static void builder_proto__on_finish(struct builder_conn *c, const struct builder_msg *m)
{
	/* Log chunks of this job still being stored: the finish waits for them. */
	if (builder_conn_logw(c, m->job, 0)) {
		struct builder_finish *f = xcalloc(1, sizeof(*f)), **pp = &c->deferred;

		f->job = m->job;
		f->attempt = m->attempt;
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
	builder_proto__finish_start(c, m->job, m->attempt, m->status, m->reason, m->exit_code,
				    m->duration_ms, m->report);
}

/* --- hello ----------------------------------------------------------------- */

struct builder_proto_hello {
	struct builder_conn_ref *ref;
	char name[64];
	char *caps;   /* capabilities JSON to store */
	long long *running;
	int nrunning;
	int slots;
	char targets[2048];
	char arches[256];
};

static void builder_proto__hello_free(struct builder_proto_hello *h)
{
	free(h->caps);
	free(h->running);
	free(h);
}

static void builder_proto__resume_checked(void *ctx, PGresult *r, const char *err)
{
	struct builder_proto_jobq *q = ctx;
	struct builder_conn *c = builder_conn_unref(q->ref);

	if (c && !err) {
		if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't') {
			/* Still ours: keep building it across the reconnect. */
		} else {
			builder_conn_unhold(c, q->job);
			builder_conn_send_cancel(c, q->job, 0, "this job is no longer yours (its lease "
						 "expired while you were away)");
		}
		builder_ws_dispatch(c->srv);
	}
	free(q);
}


static void builder_proto__welcomed(struct builder_conn *c, struct builder_proto_hello *h)
{
	struct bws_state *st = builder_conn_state(c->srv);
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
	builder_conn_send_buf(c, &b);
	buf_release(&b);
	log_info("builder connected", "builder=%s slots=%d targets=%s arches=%s resumed=%d", c->name,
		 c->slots, c->targets, c->arches, h->nrunning);
	/* Jobs it says it still runs: keep those still its own, cancel the others. */
	for (int i = 0; i < h->nrunning; i++)
		builder_conn_hold(c, h->running[i]);
	for (int i = 0; i < h->nrunning; i++) {
		struct builder_proto_jobq *q = xcalloc(1, sizeof(*q));
		q->job = h->running[i];
		q->ref = builder_conn_ref(c);
		if (!jobs_check(c->srv->db, q->job, c->builder_id, builder_proto__resume_checked, q)) {
			builder_conn_unref(q->ref);
			free(q);
		}
	}
	builder_ws_dispatch(c->srv);
}

static void builder_proto__hello_authed(void *ctx, PGresult *r, const char *err)
{
	struct builder_proto_hello *h = ctx;
	struct builder_conn *c = builder_conn_unref(h->ref);

	if (!c)
		goto done;
	c->hello_pending = 0;
	if (err) {
		builder_conn_fail(c, "unavailable", "database unavailable; reconnect later");
		goto done;
	}
	if (PQntuples(r) != 1) {
		builder_conn_fail(c, "unauthorized", "unknown or disabled builder token");
		goto done;
	}
	if (strcmp(PQgetvalue(r, 0, 1), h->name)) {
		builder_conn_fail(c, "unauthorized", "this token belongs to builder '%s', not '%s'",
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
	builder_proto__welcomed(c, h);
done:
	builder_proto__hello_free(h);
}

static void builder_proto__on_hello(struct builder_conn *c, struct builder_msg *m)
{
	struct builder_proto_hello *h;
	struct buf caps = BUF_INIT(8192);
	struct kerr e;
	const cJSON *it;
	char hash[65];
	const char *params[5];
	int rc;

	if (c->authed || c->hello_pending) {
		builder_conn_fail(c, "bad_message", "hello was already received");
		return;
	}
	if ((rc = builder_msg_check(m, &e))) {
		builder_conn_fail(c, builder_msg_error_code(rc), "%s", e.msg);
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
	h->ref = builder_conn_ref(c);
	c->hello_pending = 1;
	if (!pgpool_query(c->srv->db,
			  "update builders set capabilities = $2::jsonb, version = nullif($3, ''),"
			  " last_seen_at = now() where token_hash = $1 and enabled"
			  " returning id, name, paused::text,"
			  " coalesce((select string_agg(t.name || ':' || t.arch, ',' order by t.name)"
			  "  from targets t where t.name = any($4::text[])"
			  "  and t.arch <> all($5::text[])), '')",
			  5, params, builder_proto__hello_authed, h)) {
		builder_conn_unref(h->ref);
		builder_proto__hello_free(h);
		c->hello_pending = 0;
		builder_conn_fail(c, "unavailable", "server busy; reconnect later");
	}
}

void builder_proto_on_message(struct builder_conn *c)
{
	struct builder_msg m;
	struct kerr e;
	int rc;

	if (builder_msg_parse(&m, c->rx.ptr, c->rx.len, &e)) {
		builder_conn_fail(c, "bad_message", "%s", e.msg);
	} else if (m.type == BUILDER_MSG_HELLO) {
		builder_proto__on_hello(c, &m);
	} else if (!c->authed) {
		builder_conn_fail(c, "unauthorized", "the first message must be a hello");
	} else if ((rc = builder_msg_check(&m, &e))) {
		builder_conn_fail(c, builder_msg_error_code(rc), "%s", e.msg);
	} else if (m.type == BUILDER_MSG_PROGRESS) {
		builder_proto__on_progress(c, &m);
	} else if (m.type == BUILDER_MSG_LOG) {
		builder_proto__on_log(c, &m);
	} else if (m.type == BUILDER_MSG_FINISH) {
		builder_proto__on_finish(c, &m);
	} else if (m.type == BUILDER_MSG_DRAIN) {
		c->draining = 1;
		log_info("builder draining", "builder=%s running=%d", c->name, c->running);
	}
	builder_msg_release(&m);
}

void builder_proto_drop_deferred(struct builder_conn *c)
{
	while (c->deferred) {
		struct builder_finish *f = c->deferred;
		c->deferred = f->next;
		free(f->reason);
		free(f->report);
		free(f);
	}
}
