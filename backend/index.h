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

/* A complete prebuilt response of a cached page (see index_prebuilt_get). */
struct index_prebuilt {
	const char *bytes; /* status line, headers and body */
	size_t len;        /* all of it */
	size_t head_len;   /* the status line and headers: what HEAD sends */
	int fd;            /* the same len bytes in a memfd at off, or -1 */
	int64_t off;
};

/*
 * For the HTTP/1.1 fast path (fastpath.c): the 200 response to GET
 * /simple/{name}/ with this Accept header ("" when none was sent), when the page
 * is cached and ready and the negotiated form has a prebuilt response (HTML or
 * PEP 691 JSON). Returns 1 with *out filled (valid until control returns to the
 * loop) and the cache hit counted, else 0: the request must take the general
 * path, which answers everything else (loads, 404, 406, redirects, 304).
 */
int index_prebuilt_get(struct server *srv, const char *name, const char *accept,
		       struct index_prebuilt *out);

void index_handle_root(struct http_req *req);
void index_handle_project(struct http_req *req);
/* /simple and /simple/{project} without the slash. */
void index_handle_redirect(struct http_req *req);

#endif
