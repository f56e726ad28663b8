/* storage_sweep: objects no row references (contract in storage_sweep.h). */
#include "backend/storage_sweep.h"

#include "backend/server.h"
#include "backend/workers.h"
#include "common/config.h"
#include "common/db.h"
#include "common/kerr.h"
#include "common/log.h"
#include "common/storage.h"
#include "common/xalloc.h"

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>

#define SWEEP_EVERY_S 60
#define SWEEP_FIRST_S 5

struct storage_sweep {
	struct server *srv;
	lws_sorted_usec_list_t sul;
	int running;          /* a sweep is on a worker thread */
	int again;            /* asked for meanwhile: sweep again when it ends */
	/* Results of the last sweep, written on the worker thread. */
	int deleted, kept, failed;
	int expired;          /* wheels of deleted releases dropped after their retention */
	struct kerr err;
};

/*
 * Wheels of releases and projects deleted upstream longer ago than
 * KILN_DELETED_RETENTION (published ones, and those reproducibility checks
 * kept because they differed): their rows go and their keys are registered due, in
 * one statement committed before the sweep proper, which then deletes the
 * objects (an object must never go while a committed row still names it). A
 * few hundred at a time: the rest wait for the next sweep.
 */
static const char sweep__sql_expired[] =
	"with x as ("
	" select a.id from artifacts a join releases r on r.id = a.release_id"
	"  where r.deleted_at < now() - make_interval(secs => $1::int)"
	" union"
	" select a.id from artifacts a join projects p on p.id = a.project_id"
	"  where p.deleted_at < now() - make_interval(secs => $1::int)"
	" limit 500),"
	" u as (delete from artifacts a using x where a.id = x.id returning a.storage_key),"
	/* A reproducibility check's kept wheels go with them (the result stays in repro_results). */
	" w as (select rw.build_id, rw.filename from repro_wheels rw join builds b on b.id = rw.build_id"
	"  join jobs j on j.id = b.job_id join releases r on r.id = j.release_id"
	"  join projects p on p.id = r.project_id where rw.storage_key is not null"
	"  and (r.deleted_at < now() - make_interval(secs => $1::int)"
	"  or p.deleted_at < now() - make_interval(secs => $1::int)) limit 500),"
	" v as (delete from repro_wheels rw using w where rw.build_id = w.build_id"
	"  and rw.filename = w.filename returning rw.storage_key)"
	" insert into storage_pending (key, not_before)"
	" select storage_key, now() from u union select storage_key, now() from v"
	" on conflict (key) do nothing";

/* Worker thread: one sweep, one transaction on a connection of its own. */
static void sweep__run(void *arg)
{
	struct storage_sweep *s = arg;
	PGconn *db = NULL;
	PGresult *r = NULL;
	char retention[24];
	const char *rp[1] = { retention };
	long expired = 0;

	s->deleted = s->kept = s->failed = 0;
	s->expired = 0;
	kerr_clear(&s->err);
	snprintf(retention, sizeof(retention), "%ld",
		 config_get_int(s->srv->cfg, CONFIG_DELETED_RETENTION));
	if (db_connect(config_get(s->srv->cfg, CONFIG_DATABASE_URL), &db, &s->err) ||
	    db_command(db, sweep__sql_expired, 1, rp, &expired, &s->err) ||
	    db_exec(db, "begin", &s->err))
		goto done;
	s->expired = (int)expired;
	/* The lock is what keeps an upload of the same key waiting until we are done. */
	if (db_query(db,
		     "select p.key, (exists (select 1 from artifacts a where a.storage_key = p.key)"
		     " or exists (select 1 from repro_wheels w where w.storage_key = p.key))::text"
		     " from storage_pending p where p.not_before <= now()"
		     " order by p.not_before limit 100 for update of p skip locked",
		     0, NULL, &r, &s->err))
		goto done;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *params[1] = { PQgetvalue(r, i, 0) };
		int referenced = PQgetvalue(r, i, 1)[0] == 't';
		struct kerr e;

		if (!referenced && storage_delete(s->srv->storage, params[0], &e)) {
			log_warn("could not delete an unreferenced object; trying again in a minute",
				 "key=%s error=\"%s\"", params[0], e.msg);
			s->failed++;
			if (db_command(db, "update storage_pending set not_before = now() + interval '1 minute'"
					   " where key = $1", 1, params, NULL, &s->err))
				goto done;
			continue;
		}
		if (referenced)
			s->kept++;
		else
			s->deleted++;
		if (db_command(db, "delete from storage_pending where key = $1", 1, params, NULL, &s->err))
			goto done;
	}
	db_exec(db, "commit", &s->err);
done:
	PQclear(r);
	if (db)
		PQfinish(db); /* an open transaction ends with the connection: its locks too */
}

static void sweep__start(struct storage_sweep *s);

/* Service thread: the sweep ended. */
static void sweep__done(void *arg)
{
	struct storage_sweep *s = arg;

	s->running = 0;
	if (s->err.code)
		log_warn("storage sweep failed; trying again later", "error=\"%s\"", s->err.msg);
	else if (s->deleted || s->failed || s->expired)
		log_info("storage swept", "deleted=%d referenced=%d failed=%d expired=%d", s->deleted,
			 s->kept, s->failed, s->expired);
	if (s->again) {
		s->again = 0;
		sweep__start(s);
	}
}

static void sweep__start(struct storage_sweep *s)
{
	if (s->running) {
		s->again = 1;
		return;
	}
	s->running = 1;
	if (workers_submit(s->srv->workers, sweep__run, sweep__done, s))
		s->running = 0; /* the pool is full: the next tick tries again */
}

static void sweep__tick(lws_sorted_usec_list_t *sul)
{
	struct storage_sweep *s = lws_container_of(sul, struct storage_sweep, sul);

	sweep__start(s);
	lws_sul_schedule(s->srv->context, 0, &s->sul, sweep__tick, SWEEP_EVERY_S * LWS_US_PER_SEC);
}

int storage_sweep_init(struct server *srv)
{
	struct storage_sweep *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	srv->sweep = s;
	/* The first soon after start: a replica that died left its uploads' objects to it. */
	lws_sul_schedule(srv->context, 0, &s->sul, sweep__tick, SWEEP_FIRST_S * LWS_US_PER_SEC);
	return 0;
}

void storage_sweep_soon(struct server *srv)
{
	struct storage_sweep *s = srv->sweep;

	if (s)
		lws_sul_schedule(srv->context, 0, &s->sul, sweep__tick, LWS_US_PER_SEC);
}

void storage_sweep_release(struct server *srv)
{
	struct storage_sweep *s = srv->sweep;

	if (!s)
		return;
	lws_sul_cancel(&s->sul);
	free(s);
	srv->sweep = NULL;
}
