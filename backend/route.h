/*
 * route: the backend's URL table. A pattern is a path whose `*` segments match
 * one non-empty segment each (captured into req->params in order) and whose
 * trailing `**` matches the rest of the path (captured whole, possibly empty).
 */
#ifndef KILN_ROUTE_H
#define KILN_ROUTE_H

#include "backend/http.h"

#include <stddef.h>

typedef void (*route_handler)(struct http_req *req);

struct route {
	unsigned methods;      /* enum http_method bits */
	const char *pattern;
	const char *name;      /* metrics label */
	route_handler handler;
	size_t body_max;       /* buffered request body limit; 0 = no body */
	int streams_body;      /* the handler installs on_body itself (uploads) */
};

/*
 * Find the route for path and method. Returns it with params filled, or NULL;
 * *wrong_method is set when the path matched but not the method (405).
 */
const struct route *route_match(const char *path, unsigned method,
				char params[HTTP_MAX_PARAMS][256], int *wrong_method);

/* The whole table (terminated by an entry with pattern NULL), for docs and tests. */
extern const struct route route_table[];

#endif
