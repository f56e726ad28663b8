/* builders: builder registration for kilnctl (contract in builders.h). */
#include "kilnctl/builders.h"

#include "common/db.h"

#include <string.h>

int builders_add(PGconn *c, const char *name, char token_out[TOKEN_LEN + 1], struct kerr *e)
{
	char hash[65];
	const char *params[2];
	PGresult *r = NULL;
	int rc;

	if (!token_name_valid(name))
		return kerr_set(e, KERR_INVAL,
				"invalid builder name '%s': use 1-63 letters, digits, '.', '_' or '-', "
				"starting with a letter or digit", name);
	rc = token_new(token_out);
	if (!rc)
		rc = token_hash(token_out, hash);
	if (rc)
		return kerr_set(e, rc, "could not generate a token");
	params[0] = name;
	params[1] = hash;
	rc = db_query(c, "insert into builders (name, token_hash) values ($1, $2) "
			 "on conflict (name) do nothing returning id", 2, params, &r, e);
	if (rc)
		goto fail;
	if (PQntuples(r) == 0)
		rc = kerr_set(e, KERR_CONFLICT, "builder '%s' already exists", name);
fail:
	PQclear(r);
	if (rc)
		memset(token_out, 0, TOKEN_LEN + 1);
	return rc;
}

int builders_list(PGconn *c, struct buf *out, struct kerr *e)
{
	PGresult *r = NULL;
	int rc;

	rc = db_query(c,
		      "select name,"
		      " case when not enabled then 'disabled' when paused then 'paused' else 'enabled' end,"
		      " coalesce(to_char(last_seen_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'never'),"
		      " coalesce((select string_agg(t, ',') from jsonb_array_elements_text("
		      "   case when jsonb_typeof(capabilities->'targets') = 'array'"
		      "   then capabilities->'targets' else '[]'::jsonb end) t), '')"
		      " from builders order by name", 0, NULL, &r, e);
	if (rc)
		goto fail;
	buf_printf(out, "%-24s %-9s %-21s %s\n", "NAME", "STATE", "LAST SEEN", "TARGETS");
	for (int i = 0; i < PQntuples(r); i++)
		buf_printf(out, "%-24s %-9s %-21s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
fail:
	PQclear(r);
	return rc;
}

int builders_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e)
{
	const char *params[2] = { name, enabled ? "true" : "false" };
	long n = 0;
	int rc;

	rc = db_command(c, "update builders set enabled = $2::boolean where name = $1", 2, params,
			&n, e);
	if (rc)
		return rc;
	if (n == 0)
		return kerr_set(e, KERR_NOTFOUND, "no builder named '%s'", name);
	return 0;
}
