/* admin_tokens: admin API tokens for kilnctl (contract in admin_tokens.h). */
#include "kilnctl/admin_tokens.h"

#include "common/db.h"

#include <string.h>

int admin_tokens_add(PGconn *c, const char *name, char token_out[TOKEN_LEN + 1], struct kerr *e)
{
	char hash[65];
	const char *params[2] = { name, hash };
	PGresult *r = NULL;
	int rc;

	memset(token_out, 0, TOKEN_LEN + 1);
	if (!token_name_valid(name))
		return kerr_set(e, KERR_INVAL,
				"invalid admin token name '%s': use 1-63 letters, digits, '.', '_' or "
				"'-', starting with a letter or digit", name);
	rc = token_new(token_out);
	if (!rc)
		rc = token_hash(token_out, hash);
	if (rc) {
		rc = kerr_set(e, rc, "could not generate a token");
		goto out;
	}
	rc = db_query(c, "insert into api_tokens (name, role, token_hash) values ($1, 'admin', $2)"
			 " on conflict (name) do nothing returning id", 2, params, &r, e);
	if (!rc && PQntuples(r) == 0)
		rc = kerr_set(e, KERR_CONFLICT, "an API token named '%s' already exists", name);
out:
	PQclear(r);
	if (rc)
		memset(token_out, 0, TOKEN_LEN + 1);
	return rc;
}

int admin_tokens_list(PGconn *c, struct buf *out, struct kerr *e)
{
	PGresult *r = NULL;
	int rc;

	rc = db_query(c,
		      "select name, case when enabled then 'enabled' else 'disabled' end,"
		      " to_char(created_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
		      " from api_tokens where role = 'admin' order by name", 0, NULL, &r, e);
	if (rc)
		goto out;
	buf_printf(out, "%-32s %-9s %s\n", "NAME", "STATE", "CREATED");
	for (int i = 0; i < PQntuples(r); i++)
		buf_printf(out, "%-32s %-9s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			   PQgetvalue(r, i, 2));
out:
	PQclear(r);
	return rc;
}

int admin_tokens_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e)
{
	const char *params[2] = { name, enabled ? "true" : "false" };
	long n = 0;
	int rc;

	rc = db_command(c, "update api_tokens set enabled = $2::boolean"
			   " where name = $1 and role = 'admin'", 2, params, &n, e);
	if (!rc && n == 0)
		rc = kerr_set(e, KERR_NOTFOUND, "no admin token named '%s'", name);
	return rc;
}

int admin_tokens_run(PGconn *c, int argc, char **argv, struct buf *out, struct kerr *e)
{
	char token[TOKEN_LEN + 1];
	int rc;

	if (argc == 2 && !strcmp(argv[0], "add")) {
		rc = admin_tokens_add(c, argv[1], token, e);
		if (!rc)
			buf_printf(out, "admin token '%s' added; the token (shown only now):\n%s\n",
				   argv[1], token);
		memset(token, 0, sizeof(token));
		return rc;
	}
	if (argc == 1 && !strcmp(argv[0], "list"))
		return admin_tokens_list(c, out, e);
	if (argc == 2 && (!strcmp(argv[0], "disable") || !strcmp(argv[0], "enable"))) {
		rc = admin_tokens_set_enabled(c, argv[1], !strcmp(argv[0], "enable"), e);
		if (!rc)
			buf_printf(out, "admin token '%s' %sd\n", argv[1], argv[0]);
		return rc;
	}
	return kerr_set(e, ADMIN_TOKENS_USAGE,
			"admin-token takes: add NAME | list | disable NAME | enable NAME");
}
