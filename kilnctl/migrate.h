/*
 * migrate: apply the numbered SQL files of migrations/ to a database.
 *
 * The files are embedded in the binary at build time (migrations/embed.py), so
 * what kilnctl applies is exactly what it was built with. Each pending file runs
 * in its own transaction together with its row in schema_migrations; the whole
 * run holds a Postgres advisory lock, so two concurrent runs serialize and the
 * second finds nothing to do. An applied file whose checksum changed since is an
 * error: history is never rewritten silently.
 */
#ifndef KILN_MIGRATE_H
#define KILN_MIGRATE_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
	int version;       /* NNNN from the file name */
	const char *name;  /* NNNN_name */
	size_t len;
	const char *sql;
};

extern const struct migration migrations_embedded[];
extern const size_t migrations_embedded_count;

/* The advisory lock key migrations hold: the ASCII bytes "kilnmigr" as an int64. */
#define MIGRATE_LOCK_KEY "7739836656150734706"

/*
 * Apply the pending migrations among list[0..n) to c, in version order,
 * appending one human line per applied file (or a "nothing to apply" line) to
 * report. *applied (if not NULL) receives how many were applied.
 * Returns 0, or KERR_CONFLICT on a checksum mismatch or an applied version the
 * binary does not know, or KERR_DB if a statement fails (that file's transaction
 * is rolled back; earlier files stay applied).
 */
int migrate_run(PGconn *c, const struct migration *list, size_t n, struct buf *report,
		int *applied, struct kerr *e);

/* Append one line per known migration with its state (applied at / pending). */
int migrate_status(PGconn *c, const struct migration *list, size_t n, struct buf *report,
		   struct kerr *e);

#endif
