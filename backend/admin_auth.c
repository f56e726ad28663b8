/* admin_auth: admin bearer tokens on the API (contract in admin_auth.h). */
#include "backend/admin_auth.h"

#include "common/token.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Admin tokens are a handful; the bound only keeps a broken table from hurting. */
static const char admin_auth__sql[] =
	"select name, token_hash, enabled from api_tokens where role = 'admin'"
	" order by id limit 1000";

static void admin_auth__checked(struct http_req *req, PGresult *r)
{
	struct admin_call *c = req->state;
	int found = -1;

	/*
	 * Every stored hash is compared in full, whatever matched before, so the
	 * time taken says nothing about the presented token.
	 */
	for (int i = 0; i < PQntuples(r); i++) {
		int eq = PQgetlength(r, i, 1) == 64 && token_ct_equal(c->hash, PQgetvalue(r, i, 1), 64);
		if (eq && api_bool(r, i, 2))
			found = i;
	}
	explicit_bzero(c->hash, sizeof(c->hash));
	if (found < 0) {
		http_error(req, 403, KERR_AUTH, "unknown or disabled admin token");
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", PQgetvalue(r, found, 0));
	c->next(req);
}

void admin_auth_require(struct http_req *req, size_t size, void (*next)(struct http_req *req))
{
	struct admin_call *c = api_call_new(req, size < sizeof(*c) ? sizeof(*c) : size);
	char auth[128];

	c->next = next;
	http_header(req, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth));
	if (!*auth) {
		http_error(req, 401, KERR_AUTH, "this route needs 'Authorization: Bearer <admin token>'");
		goto out;
	}
	if (strncasecmp(auth, "Bearer ", 7) || !token_well_formed(auth + 7)) {
		http_error(req, 401, KERR_AUTH, "malformed Authorization header: expected 'Bearer "
			   "kiln_' and 43 base64url characters");
		goto out;
	}
	if (token_hash(auth + 7, c->hash)) {
		http_error(req, 500, KERR_INTERNAL, "could not hash the token");
		goto out;
	}
	api_query(req, admin_auth__sql, 0, NULL, admin_auth__checked);
out:
	explicit_bzero(auth, sizeof(auth));
}
