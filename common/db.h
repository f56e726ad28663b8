/*
 * db: small blocking helpers over libpq for the programs that may block
 * (kilnctl, kiln-sync, tests). The backend's event loop uses libpq's async API
 * instead and must not call these.
 *
 * Every helper checks the result status and turns a failure into KERR_DB with
 * the server's primary message (and detail, if any) in e.
 */
#ifndef KILN_DB_H
#define KILN_DB_H

#include "common/kerr.h"

#include <libpq-fe.h>

/* Connect to url (a libpq URL or conninfo). *out is NULL on failure. */
int db_connect(const char *url, PGconn **out, struct kerr *e);

/* Run one or more SQL statements without parameters (results discarded). */
int db_exec(PGconn *c, const char *sql, struct kerr *e);

/*
 * Run sql with text parameters ($1..$n; a NULL entry is SQL NULL). On success
 * *out holds the result (caller PQclear()s it); on failure *out is NULL.
 */
int db_query(PGconn *c, const char *sql, int nparams, const char *const *params,
	     PGresult **out, struct kerr *e);

/* Run sql with parameters and discard the result; *affected (if not NULL) gets the row count. */
int db_command(PGconn *c, const char *sql, int nparams, const char *const *params,
	       long *affected, struct kerr *e);

/* Fill e from a failed result or connection (exported for async callers). */
int db_error(PGconn *c, const PGresult *r, struct kerr *e);

#endif
