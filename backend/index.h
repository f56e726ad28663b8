/*
 * index: the pip/uv-facing simple repository API.
 *
 *   /simple/                 project list (HTML or JSON)
 *   /simple/{project}/       files of a project (HTML or JSON)
 *
 * Non-normalized names and missing trailing slashes redirect (301) to the
 * canonical URL. The representation is chosen by `?format=` or the Accept
 * header (PEP 691); pages come from index_cache, loaded from Postgres on a miss
 * with concurrent misses sharing one query, and dropped when kiln_index
 * notifications say a project changed.
 */
#ifndef KILN_INDEX_H
#define KILN_INDEX_H

#include "backend/http.h"

struct server;

/* Set up the cache and LISTEN kiln_index on the server's pool. 0 or KERR_*. */
int index_init(struct server *srv);
void index_release(struct server *srv);

void index_handle_root(struct http_req *req);
void index_handle_project(struct http_req *req);
/* /simple and /simple/{project} without the slash. */
void index_handle_redirect(struct http_req *req);

#endif
