/*
 * admin_tokens: `kilnctl admin-token add|list|disable|enable`, the bearer
 * tokens of the backend's admin API (backend/admin_auth.h).
 *
 * A token is shown once, when it is added; only its SHA-256 is stored (in
 * api_tokens, role 'admin'), so a leaked database leaks no working token and a
 * lost one is replaced by adding another and disabling the old.
 */
#ifndef KILN_ADMIN_TOKENS_H
#define KILN_ADMIN_TOKENS_H

#include "common/buf.h"
#include "common/kerr.h"
#include "common/token.h"

#include <libpq-fe.h>

/* Returned (with the reason in e) when the arguments are wrong: show the usage. */
#define ADMIN_TOKENS_USAGE 2

/*
 * Add admin token name ([A-Za-z0-9][A-Za-z0-9._-]{0,62}) with a fresh token in
 * token_out. KERR_INVAL for a bad name, KERR_CONFLICT if the name is taken.
 */
int admin_tokens_add(PGconn *c, const char *name, char token_out[TOKEN_LEN + 1], struct kerr *e);

/* Append a table of admin tokens (name, state, created) to out; never hashes. */
int admin_tokens_list(PGconn *c, struct buf *out, struct kerr *e);

/* Enable or disable token name. KERR_NOTFOUND if there is no such admin token. */
int admin_tokens_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e);

/*
 * Run `admin-token ARGS` (argv holds the words after "admin-token"), output in
 * out. 0, ADMIN_TOKENS_USAGE, or a negative KERR_* code with e filled.
 */
int admin_tokens_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e);

#endif
