/*
 * builders: the admin side of builder registration (kilnctl builder ...).
 *
 * A builder is a name plus a token; the token is shown once when the builder is
 * added and only its SHA-256 is stored, so a leaked database does not leak
 * working tokens, and a lost token is replaced by adding the builder anew.
 */
#ifndef KILN_BUILDERS_H
#define KILN_BUILDERS_H

#include "common/buf.h"
#include "common/kerr.h"
#include "common/token.h"

#include <libpq-fe.h>

/*
 * Register builder name with a fresh token, written to token_out. KERR_INVAL for
 * a name outside [A-Za-z0-9._-]{1,63} (starting alphanumeric), KERR_CONFLICT if
 * the name is taken.
 */
int builders_add(PGconn *c, const char *name, char token_out[TOKEN_LEN + 1], struct kerr *e);

/* Append a table of builders (name, state, last seen, targets) to out. */
int builders_list(PGconn *c, struct buf *out, struct kerr *e);

/*
 * Enable or disable builder name (a disabled builder's token is refused).
 * KERR_NOTFOUND if there is no such builder.
 */
int builders_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e);

#endif
