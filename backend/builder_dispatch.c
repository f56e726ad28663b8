/* builder_dispatch: claims for idle builders, job messages (contract in builder_dispatch.h). */
#include "backend/builder_dispatch.h"

#include "backend/builder_conn.h"
#include "backend/jobs.h"
#include "backend/metrics.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/token.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static void builder_dispatch__send_job(struct builder_conn *c, PGresult *r, int row,
				       const char *token)
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
	builder_conn_send_now(c, &b);
	buf_release(&b);
	log_info("job assigned", "job=%s build=%s attempt=%s builder=%s project=%s version=%s target=%s",
		 PQgetvalue(r, row, JOBS_C_JOB), PQgetvalue(r, row, JOBS_C_BUILD),
		 PQgetvalue(r, row, JOBS_C_ATTEMPT), c->name, PQgetvalue(r, row, JOBS_C_PROJECT),
		 PQgetvalue(r, row, JOBS_C_VERSION), PQgetvalue(r, row, JOBS_C_TARGET));
	metrics_add(c->srv->metrics, "kiln_jobs_dispatched_total", "Jobs handed to builders.", 1);
}

static int builder_dispatch__idle(const struct builder_conn *c)
{
	return c->authed && !c->closing && !c->draining && !c->paused && !c->claiming &&
	       c->running < c->slots;
}

/* One claim statement for up to BUILDER_DISPATCH_BATCH idle builders of the same targets. */
struct builder_dispatch_batch {
	struct server *srv;
	int n;
	struct builder_conn_ref *refs[BUILDER_DISPATCH_BATCH];
	long long ids[BUILDER_DISPATCH_BATCH];
	char tokens[BUILDER_DISPATCH_BATCH][TOKEN_LEN + 1];
};

static void builder_dispatch__claimed(void *ctx, PGresult *r, const char *err)
{
	struct builder_dispatch_batch *bt = ctx;
	struct bws_state *st = builder_conn_state(bt->srv);
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
				builder_conn_hold(c, strtoll(PQgetvalue(r, row, JOBS_C_JOB), NULL, 10));
				builder_dispatch__send_job(c, r, row, bt->tokens[i]);
			}
			break;
		}
	}
	for (int i = 0; i < bt->n; i++)
		builder_conn_unref(bt->refs[i]);
	/* A full batch means there may be more work: fan out over the pool. */
	if (st && got == bt->n)
		builder_dispatch_run(bt->srv, st->max_inflight);
	free(bt);
}

/*
 * Claim for first and the idle builders after it (round-robin order) with its
 * targets and architectures.
 */
static void builder_dispatch__claim_batch(struct bws_state *st, struct builder_conn *first)
{
	struct builder_dispatch_batch *bt = xcalloc(1, sizeof(*bt));
	struct buf ids = BUF_INIT(BUF_NOLIMIT), leases = BUF_INIT(BUF_NOLIMIT);
	char hash[65];
	int n = 0;

	buf_putc(&ids, '{');
	buf_putc(&leases, '{');
	for (struct builder_conn *c = first; c && n < BUILDER_DISPATCH_BATCH; c = c->next) {
		if (!builder_dispatch__idle(c) || strcmp(c->targets, first->targets) ||
		    strcmp(c->arches, first->arches))
			continue;
		if (token_new(bt->tokens[n]) || token_hash(bt->tokens[n], hash))
			break;
		bt->refs[n] = builder_conn_ref(c);
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
				      st->lease_s, builder_dispatch__claimed, bt)) {
			st->inflight--;
			for (int i = 0; i < n; i++) {
				if (bt->refs[i]->conn)
					bt->refs[i]->conn->claiming = 0;
				builder_conn_unref(bt->refs[i]);
			}
			free(bt);
		}
	}
	buf_release(&ids);
	buf_release(&leases);
}

void builder_dispatch_run(struct server *srv, int budget)
{
	struct bws_state *st = builder_conn_state(srv);
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
			if (builder_dispatch__idle(c))
				builder_dispatch__claim_batch(st, c);
		}
	}
}
