/*
 * http: one HTTP request's life in kiln-backend, on the libwebsockets loop.
 *
 * Each connection's per-session data is a struct http_req. The router (route.c)
 * picks a handler when the request line and headers are in; the handler either
 * answers at once with http_respond*, or starts asynchronous work (a database
 * query, a worker-pool job) and answers from its completion callback. Every
 * response goes out through here, so every one is counted in the metrics and
 * every error has the same JSON body:
 *
 *   {"error": {"code": "not_found", "message": "no project named 'x'"}}
 *
 * Small responses are sent with one lws_write of headers and body together on
 * HTTP/1.1 (measured 1.5x faster than two writes); HTTP/2 needs two.
 */
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libwebsockets.h>
#include <stdint.h>

struct server;
struct route;
struct pgq;
struct http_req;

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_PATCH = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7
};

#define HTTP_MAX_PATH 4096
#define HTTP_MAX_PARAMS 4

/*
 * A streaming response body: called on WRITEABLE to fill up to max bytes at
 * dst. Sets *n and returns 0, with *final set on the last piece; a negative
 * return aborts the connection (the headers are already out).
 */
typedef int (*http_producer)(struct http_req *req, unsigned char *dst, size_t max, size_t *n,
			     int *final);

struct http_req {
	struct lws *wsi;
	struct server *srv;
	enum http_method method;
	char path[HTTP_MAX_PATH];     /* decoded path, no query */
	const struct route *route;
	char params[HTTP_MAX_PARAMS][256]; /* path segments captured by the route */
	int64_t start_us;

	/* Request body, for handlers that buffer it (JSON): bounded by the route. */
	struct buf body;
	size_t body_max;
	/* Or streamed: called per chunk and at the end (return <0 to abort). */
	int (*on_body)(struct http_req *req, const void *p, size_t n);
	int (*on_body_end)(struct http_req *req);
	/* The handler's own state, released by on_close when the request ends. */
	void *state;
	int tag; /* a small value of the handler's own */
	void (*on_close)(struct http_req *req);
	struct pgq *pending; /* database query in flight, cancelled if the client leaves */

	/* Response. */
	int status;
	int responded;          /* a response is queued or sent */
	int headers_sent;
	struct buf out;         /* LWS_PRE headroom, then bytes to write */
	size_t out_off;         /* where unsent bytes start in out */
	size_t hdr_end;         /* where the headers end in out */
	const char *borrowed;   /* a prebuilt response to write as is (see http_respond_prebuilt) */
	size_t borrowed_len;
	int borrowed_fd;        /* the same bytes in a file at borrowed_off, or -1 */
	int64_t borrowed_off;
	http_producer produce;  /* streaming body after out is drained */
	int keepalive_after;    /* finish the transaction, keep the connection */
	int closing;            /* the connection is going away */
	int body_complete;      /* the request body was read to its end */
	int lws_body;           /* lws will read a body for this request (see http__complete) */
	int lws_body_done;      /* ... and has said it ended (HTTP_BODY_COMPLETION) */
	int body_seen;          /* an HTTP_BODY callback came */
	int awaits_body;        /* the handler runs when the body is complete */
};

/* Copy request header tok (e.g. WSI_TOKEN_HTTP_ACCEPT) into dst; "" if absent/too long. */
const char *http_header(struct http_req *req, enum lws_token_indexes tok, char *dst, size_t n);
/* Copy a custom header by name ("x-foo:"), "" if absent/too long. */
const char *http_header_custom(struct http_req *req, const char *name, char *dst, size_t n);
/* The value of query argument name ("format") into dst; NULL if absent. */
const char *http_query(struct http_req *req, const char *name, char *dst, size_t n);

/*
 * Queue a complete response: status, content type (may be NULL), extra header
 * lines ("Name: value\r\n" ..., may be NULL) and body (len bytes; none for HEAD,
 * though Content-Length still tells its size). Returns 0, or -1 if the response
 * does not fit (then a 500 is sent instead).
 */
int http_respond(struct http_req *req, int status, const char *content_type,
		 const char *extra_headers, const void *body, size_t len);

/*
 * Is this an HTTP/1.x request (not an HTTP/2 stream)? Prebuilt responses are
 * HTTP/1.1 text and may only be used then.
 */
int http_is_h1(struct http_req *req);

/*
 * Answer with a complete prebuilt HTTP/1.1 response (status line, headers,
 * blank line, body: len bytes). Only for GET on HTTP/1.x (http_is_h1); it is
 * how a cached page is served with no per-request header work and no copy:
 * bytes is only borrowed, so the handler must be running synchronously in the
 * request's first callback (the write happens before it returns to lws, which
 * copies whatever the socket does not take at once), and LWS_PRE bytes before
 * bytes must be writable memory of the caller's.
 *
 * fd, if not -1, is a file holding the same len bytes at offset off: on a
 * plain-text connection with nothing queued in lws they go out by sendfile(2),
 * so the kernel sends from the file's pages instead of copying them from ours.
 * The file must stay open until the handler returns.
 */
int http_respond_prebuilt(struct http_req *req, int status, const char *bytes, size_t len,
			  int fd, int64_t off);

/* Respond with a JSON body held in b. */
int http_respond_json(struct http_req *req, int status, const struct buf *b);

/*
 * Respond with the JSON error body; status 0 derives it from code (a KERR_*).
 * message is formatted printf-style.
 */
int http_error(struct http_req *req, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Respond with a redirect (301, 302, 307, 308) to location. */
int http_redirect(struct http_req *req, int status, const char *location);

/*
 * Start a streamed response: send the headers now (content_length < 0 = unknown,
 * chunked is not used: the connection closes after the body), then call produce
 * on each WRITEABLE until it says final.
 */
int http_respond_stream(struct http_req *req, int status, const char *content_type,
			const char *extra_headers, int64_t content_length, http_producer produce);

/* Ask for a WRITEABLE callback (after async work queued a response). */
void http_wake(struct http_req *req);

/* Free the request states kept for reuse (at exit, after the lws context is gone). */
void http_release_pool(void);

/*
 * The lws protocol callback for HTTP; registered as the vhost's default
 * protocol with no per-session data (a request's state is its own, see http.c).
 */
int http_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);

#endif
