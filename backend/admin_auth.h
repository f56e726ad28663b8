/*
 * admin_auth: the bearer check in front of every admin API route.
 *
 * Admin tokens are api_tokens rows with role 'admin', made by `kilnctl
 * admin-token add` (which prints the token once and stores its SHA-256 only).
 * A request without `Authorization: Bearer <token>`, or whose value is not a
 * well-formed Kiln token, is answered 401; a well-formed token that is unknown
 * or disabled (a builder's token, say) 403, with one message for both. The
 * token's hash is compared with every stored admin hash in constant time; the
 * token itself is never logged, nor kept past the hashing.
 */
#ifndef KILN_ADMIN_AUTH_H
#define KILN_ADMIN_AUTH_H

#include "backend/api.h"

/*
 * Per-request state of an admin handler: a handler that needs more embeds it
 * as the first member of its own struct (which embeds struct api_call first).
 */
struct admin_call {
	struct api_call call;
	void (*next)(struct http_req *req);
	char hash[65];  /* the presented token's hash, wiped once checked */
	char name[64];  /* the accepted token's name, for the log */
};

/*
 * Make req's state (size bytes, at least sizeof(struct admin_call)), check the
 * request's bearer token, and call next(req) once it is an enabled admin
 * token; struct admin_call's name is set then. When the token is missing,
 * malformed, unknown or disabled, or the database fails, req is answered and
 * next never runs.
 */
void admin_auth_require(struct http_req *req, size_t size, void (*next)(struct http_req *req));

#endif
