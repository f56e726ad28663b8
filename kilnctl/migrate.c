/* migrate: the schema migration runner (contract in migrate.h). */
#include "kilnctl/migrate.h"

#include "common/clock.h"
#include "common/db.h"
#include "common/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char migrate__table_sql[] =
	"create table if not exists schema_migrations ("
	" version integer primary key,"
	" name text not null,"
	" checksum text not null,"
	" applied_at timestamptz not null default now())";

/* Is version v applied, and with which checksum? Returns row index or -1. */
static int migrate__find(PGresult *applied, int v)
{
	for (int i = 0; i < PQntuples(applied); i++)
		if (strtol(PQgetvalue(applied, i, 0), NULL, 10) == v)
			return i;
	return -1;
}

static int migrate__apply_one(PGconn *c, const struct migration *m, const char *sum,
			      struct kerr *e)
{
	char version[16];
	const char *params[3];
	int rc;

	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	params[2] = sum;
	rc = db_exec(c, "begin", e);
	if (rc)
		return rc;
	rc = db_exec(c, m->sql, e);
	if (rc) {
		kerr_wrap(e, "migration %s", m->name);
		goto fail;
	}
	rc = db_command(c, "insert into schema_migrations (version, name, checksum) "
			   "values ($1::integer, $2, $3)", 3, params, NULL, e);
	if (rc)
		goto fail;
	return db_exec(c, "commit", e);
fail:
	db_exec(c, "rollback", NULL);
	return rc;
}

int migrate_run(PGconn *c, const struct migration *list, size_t n, struct buf *report,
		int *applied_count, struct kerr *e)
{
	PGresult *applied = NULL;
	int locked = 0;
	int count = 0;
	int rc;

	if (applied_count)
		*applied_count = 0;
	/* Session lock: held across the per-file transactions, released below. */
	rc = db_exec(c, "select pg_advisory_lock(" MIGRATE_LOCK_KEY ")", e);
	if (rc)
		goto fail;
	locked = 1;
	rc = db_exec(c, migrate__table_sql, e);
	if (rc)
		goto fail;
	rc = db_query(c, "select version, checksum, name from schema_migrations order by version",
		      0, NULL, &applied, e);
	if (rc)
		goto fail;

	/* Every applied version must be known, with the same bytes. */
	for (int i = 0; i < PQntuples(applied); i++) {
		int v = (int)strtol(PQgetvalue(applied, i, 0), NULL, 10);
		const struct migration *m = NULL;
		char sum[SHA256_HEX_LEN + 1];

		for (size_t j = 0; j < n; j++)
			if (list[j].version == v)
				m = &list[j];
		if (!m) {
			rc = kerr_set(e, KERR_CONFLICT,
				      "database has migration %s, which this kilnctl does not know "
				      "(is it older than the schema?)", PQgetvalue(applied, i, 2));
			goto fail;
		}
		rc = sha256_hex(m->sql, m->len, sum);
		if (rc)
			goto fail;
		if (strcmp(sum, PQgetvalue(applied, i, 1)) != 0) {
			rc = kerr_set(e, KERR_CONFLICT,
				      "migration %s was changed after it was applied "
				      "(checksum %.12s in the database, %.12s now); "
				      "add a new migration instead of editing an applied one",
				      m->name, PQgetvalue(applied, i, 1), sum);
			goto fail;
		}
	}

	for (size_t j = 0; j < n; j++) {
		const struct migration *m = &list[j];
		char sum[SHA256_HEX_LEN + 1];
		double t0;

		if (migrate__find(applied, m->version) >= 0)
			continue;
		rc = sha256_hex(m->sql, m->len, sum);
		if (rc)
			goto fail;
		t0 = (double)clock_now_ms();
		rc = migrate__apply_one(c, m, sum, e);
		if (rc)
			goto fail;
		count++;
		buf_printf(report, "applied %s (%.0f ms)\n", m->name, (double)clock_now_ms() - t0);
	}
	if (count == 0)
		buf_printf(report, "nothing to apply: %zu migration(s) up to date\n", n);
fail:
	if (applied_count)
		*applied_count = count;
	PQclear(applied);
	if (locked)
		db_exec(c, "select pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL);
	return rc;
}

int migrate_status(PGconn *c, const struct migration *list, size_t n, struct buf *report,
		   struct kerr *e)
{
	PGresult *applied = NULL;
	int rc;

	rc = db_exec(c, migrate__table_sql, e);
	if (rc)
		goto fail;
	rc = db_query(c, "select version, checksum, to_char(applied_at at time zone 'UTC', "
			 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from schema_migrations order by version",
		      0, NULL, &applied, e);
	if (rc)
		goto fail;
	for (size_t j = 0; j < n; j++) {
		int i = migrate__find(applied, list[j].version);
		buf_printf(report, "%-32s %s%s\n", list[j].name, i >= 0 ? "applied " : "pending",
			   i >= 0 ? PQgetvalue(applied, i, 2) : "");
	}
fail:
	PQclear(applied);
	return rc;
}
