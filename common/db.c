/* db: blocking libpq helpers (contract in db.h). */
#include "common/db.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int db_error(PGconn *c, const PGresult *r, struct kerr *e)
{
	const char *msg = NULL, *detail = NULL;
	char one[KERR_MSG_MAX];
	size_t n;

	if (r) {
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	}
	if (!msg)
		msg = c ? PQerrorMessage(c) : "no connection";
	/* libpq messages end in a newline; keep the error on one line. */
	n = strcspn(msg, "\n");
	if (n >= sizeof(one))
		n = sizeof(one) - 1;
	memcpy(one, msg, n);
	one[n] = '\0';
	if (detail)
		return kerr_set(e, KERR_DB, "database: %s (%s)", one, detail);
	return kerr_set(e, KERR_DB, "database: %s", one);
}

/* Server notices ("relation ... already exists, skipping") are for debugging, not users. */
static void db__notice(void *arg, const char *message)
{
	char msg[256];

	(void)arg;
	snprintf(msg, sizeof(msg), "%s", message);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("database notice", "notice=\"%s\"", msg);
}

int db_connect(const char *url, PGconn **out, struct kerr *e)
{
	PGconn *c = PQconnectdb(url);

	*out = NULL;
	if (!c)
		return kerr_set(e, KERR_DB, "database: out of memory connecting");
	if (PQstatus(c) != CONNECTION_OK) {
		int rc = db_error(c, NULL, e);
		PQfinish(c);
		return rc;
	}
	PQsetNoticeProcessor(c, db__notice, NULL);
	*out = c;
	return 0;
}

static int db__ok(ExecStatusType st)
{
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

int db_exec(PGconn *c, const char *sql, struct kerr *e)
{
	PGresult *r = PQexec(c, sql);
	int rc = 0;

	if (!r || !db__ok(PQresultStatus(r)))
		rc = db_error(c, r, e);
	PQclear(r);
	return rc;
}

int db_query(PGconn *c, const char *sql, int nparams, const char *const *params,
	     PGresult **out, struct kerr *e)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);

	*out = NULL;
	if (!r || !db__ok(PQresultStatus(r))) {
		int rc = db_error(c, r, e);
		PQclear(r);
		return rc;
	}
	*out = r;
	return 0;
}

int db_command(PGconn *c, const char *sql, int nparams, const char *const *params,
	       long *affected, struct kerr *e)
{
	PGresult *r = NULL;
	int rc = db_query(c, sql, nparams, params, &r, e);

	if (rc)
		return rc;
	if (affected) {
		const char *t = PQcmdTuples(r);
		*affected = *t ? strtol(t, NULL, 10) : 0;
	}
	PQclear(r);
	return 0;
}
