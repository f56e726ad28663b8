/* http: request lifecycle on the lws loop (contract in http.h). */
#include "backend/http.h"

#include "backend/metrics.h"
#include "backend/pgpool.h"
#include "backend/route.h"
#include "backend/server.h"
#include "backend/workers.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>

/* Most bytes handed to one lws_write; lws buffers what the socket refuses. */
#define HTTP_WRITE_CHUNK (64 * 1024)
/* Largest complete (non-streamed) response we build in memory. */
#define HTTP_MAX_RESPONSE (64u * 1024 * 1024)
/* Room for the status line and headers. */
#define HTTP_HEADER_ROOM 4096

const char *http_header(struct http_req *req, enum lws_token_indexes tok, char *dst, size_t n)
{
	int len = lws_hdr_total_length(req->wsi, tok);

	dst[0] = '\0';
	if (len <= 0 || (size_t)len >= n)
		return dst;
	if (lws_hdr_copy(req->wsi, dst, (int)n, tok) < 0)
		dst[0] = '\0';
	return dst;
}

const char *http_header_custom(struct http_req *req, const char *name, char *dst, size_t n)
{
	int nlen = (int)strlen(name);
	int len = lws_hdr_custom_length(req->wsi, name, nlen);

	dst[0] = '\0';
	if (len <= 0 || (size_t)len >= n)
		return dst;
	if (lws_hdr_custom_copy(req->wsi, dst, (int)n, name, nlen) < 0)
		dst[0] = '\0';
	return dst;
}

const char *http_query(struct http_req *req, const char *name, char *dst, size_t n)
{
	size_t nl = strlen(name);

	/* lws splits the query at '&' and url-decodes each "name=value" fragment. */
	for (int i = 0; i < 64; i++) {
		int len = lws_hdr_copy_fragment(req->wsi, dst, (int)n, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len < 0)
			break;
		if ((size_t)len > nl && !strncmp(dst, name, nl) && dst[nl] == '=') {
			memmove(dst, dst + nl + 1, (size_t)len - nl);
			return dst;
		}
	}
	dst[0] = '\0';
	return NULL;
}

/* Reset per-transaction state (the pss is reused on keep-alive connections). */
static void http__reset(struct http_req *req)
{
	if (req->pending) {
		pgq_cancel(req->pending);
		req->pending = NULL;
	}
	if (req->on_close)
		req->on_close(req);
	buf_release(&req->body);
	buf_release(&req->out);
	req->on_body = NULL;
	req->on_body_end = NULL;
	req->on_close = NULL;
	req->state = NULL;
	req->tag = 0;
	req->produce = NULL;
	req->route = NULL;
	req->status = 0;
	req->body_complete = 0;
	req->lws_body = 0;
	req->lws_body_done = 0;
	req->body_seen = 0;
	req->awaits_body = 0;
	req->responded = 0;
	req->headers_sent = 0;
	req->out_off = 0;
	req->hdr_end = 0;
	req->borrowed = NULL;
	req->borrowed_len = 0;
	req->borrowed_fd = -1;
	req->body_max = 0;
}

/*
 * Requests' state lives outside lws's per-session data: lws 4.1 frees and
 * zero-allocates that at each protocol bind, which it does twice per HTTP/1.1
 * transaction (at "no mount hit" and at "transaction completed"), and an
 * http_req is over 5 KiB (its path and params buffers). Instead a request takes
 * one from a free list when it starts and gives it back when it ends, found
 * through the wsi's opaque user pointer in between (nothing else of ours sets
 * that on an HTTP wsi). Under AddressSanitizer the list is not used, so a use
 * after the end of a request is still caught.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HTTP_REQ_POOL 0
#else
#define HTTP_REQ_POOL 256
#endif

static struct http_req *http__free_reqs[HTTP_REQ_POOL + 1];
static size_t http__nfree; /* always <= HTTP_REQ_POOL */

static struct http_req *http__req_take(struct lws *wsi)
{
	struct http_req *req;

	if (http__nfree) {
		req = http__free_reqs[--http__nfree];
	} else {
		req = xcalloc(1, sizeof(*req));
		buf_init(&req->body, 0);
		buf_init(&req->out, BUF_NOLIMIT);
		req->borrowed_fd = -1;
	}
	lws_set_opaque_user_data(wsi, req);
	return req;
}

/* Detach req from its wsi and keep it for the next request (state already reset). */
static void http__req_give(struct http_req *req)
{
	if (req->wsi && lws_get_opaque_user_data(req->wsi) == req)
		lws_set_opaque_user_data(req->wsi, NULL);
	req->wsi = NULL;
	req->closing = 1; /* a late http_wake or http_respond on it does nothing */
	if (http__nfree + 1 <= (size_t)HTTP_REQ_POOL) {
		http__free_reqs[http__nfree++] = req;
		return;
	}
	buf_release(&req->body);
	buf_release(&req->out);
	free(req);
}

void http_release_pool(void)
{
	while (http__nfree) {
		struct http_req *req = http__free_reqs[--http__nfree];
		buf_release(&req->body);
		buf_release(&req->out);
		free(req);
	}
}

static void http__observe(struct http_req *req)
{
	metrics_observe_request(req->srv->metrics, req->route ? req->route->name : "unmatched",
				req->status, lws_now_usecs() - req->start_us);
}

/* Append the status line and headers through lws (h1 text or h2 HPACK). */
static int http__headers(struct http_req *req, int status, const char *content_type,
			 const char *extra, int64_t content_length)
{
	unsigned char *start, *p, *end;
	int rc = buf_grow(&req->out, LWS_PRE + HTTP_HEADER_ROOM);

	if (rc)
		return -1;
	if (req->out.len < LWS_PRE) {
		memset(req->out.ptr, 0, LWS_PRE);
		req->out.len = LWS_PRE;
		req->out_off = LWS_PRE;
	}
	start = p = (unsigned char *)req->out.ptr + req->out.len;
	end = start + HTTP_HEADER_ROOM - 1;
	if (lws_add_http_header_status(req->wsi, (unsigned)status, &p, end))
		return -1;
	if (content_type &&
	    lws_add_http_header_by_token(req->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)content_type,
					 (int)strlen(content_type), &p, end))
		return -1;
	if (content_length >= 0 && status != 304 && status != 204) {
		char cl[24];
		int n = snprintf(cl, sizeof(cl), "%lld", (long long)content_length);
		if (lws_add_http_header_by_token(req->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
						 (const unsigned char *)cl, n, &p, end))
			return -1;
	}
	/* extra: "Name: value\r\n" lines. */
	while (extra && *extra) {
		const char *colon = strchr(extra, ':');
		const char *eol = strstr(extra, "\r\n");
		char name[64];
		const char *v;
		size_t nl;

		if (!colon || !eol || colon > eol || (size_t)(colon - extra) >= sizeof(name) - 2)
			return -1;
		nl = (size_t)(colon - extra);
		for (size_t i = 0; i < nl; i++)
			name[i] = (char)((extra[i] >= 'A' && extra[i] <= 'Z') ? extra[i] + 32 : extra[i]);
		name[nl] = ':';
		name[nl + 1] = '\0';
		v = colon + 1;
		while (*v == ' ')
			v++;
		if (lws_add_http_header_by_name(req->wsi, (const unsigned char *)name,
						(const unsigned char *)v, (int)(eol - v), &p, end))
			return -1;
		extra = eol + 2;
	}
	if (lws_finalize_http_header(req->wsi, &p, end))
		return -1;
	req->out.len += (size_t)(p - start);
	req->out.ptr[req->out.len] = '\0';
	req->status = status;
	return 0;
}

static int http__is_h2(struct http_req *req)
{
	return lws_get_network_wsi(req->wsi) != req->wsi;
}

/*
 * Send a prebuilt response's bytes from its file with sendfile(2), when that is
 * safe: a file is given, the connection is plain text (TLS must encrypt our
 * bytes), and lws holds no earlier output for this socket (ours must not
 * overtake it). Returns how many bytes went out (0 if none or not tried).
 */
static size_t http__sendfile(struct http_req *req)
{
	off_t off = (off_t)req->borrowed_off;
	ssize_t n;

	if (req->borrowed_fd < 0 || lws_is_ssl(req->wsi) || lws_partial_buffered(req->wsi))
		return 0;
	n = sendfile(lws_get_socket_fd(req->wsi), req->borrowed_fd, &off, req->borrowed_len);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Write what is pending. Returns 0 to keep going, 1 when the transaction is
 * complete, -1 to close. Only called from the HTTP or WRITEABLE callbacks.
 */
static int http__drain(struct http_req *req)
{
	if (req->borrowed) {
		size_t sent = http__sendfile(req);
		int n = 0;

		if (sent < req->borrowed_len) {
			/* What the socket did not take: lws writes it, or keeps a copy. */
			n = lws_write(req->wsi, (unsigned char *)req->borrowed + sent,
				      req->borrowed_len - sent, LWS_WRITE_HTTP_HEADERS);
		}
		req->borrowed = NULL;
		req->borrowed_fd = -1;
		req->headers_sent = 1;
		return n < 0 ? -1 : 1;
	}
	if (!req->headers_sent) {
		/*
		 * HTTP/1.1: headers and as much body as fits in one write (one syscall
		 * for a cached page). HTTP/2: the HEADERS frame alone, ending the
		 * stream when there is no body.
		 */
		size_t n = req->out.len - req->out_off;
		unsigned wp = LWS_WRITE_HTTP_HEADERS;
		int has_body = req->out.len > req->hdr_end || req->produce;

		if (http__is_h2(req)) {
			n = req->hdr_end - req->out_off;
			if (!has_body)
				wp |= LWS_WRITE_H2_STREAM_END;
		} else if (n > HTTP_WRITE_CHUNK) {
			n = HTTP_WRITE_CHUNK;
		}
		if (lws_write(req->wsi, (unsigned char *)req->out.ptr + req->out_off, n,
			      (enum lws_write_protocol)wp) < 0)
			return -1;
		req->out_off += n;
		req->headers_sent = 1;
		if (req->out_off < req->out.len || req->produce) {
			lws_callback_on_writable(req->wsi);
			return 0;
		}
		return 1;
	}
	if (req->out_off < req->out.len) {
		size_t left = req->out.len - req->out_off;
		size_t n = left > HTTP_WRITE_CHUNK ? HTTP_WRITE_CHUNK : left;
		int last = n == left && !req->produce;

		/* lws_write needs LWS_PRE writable bytes before the data: they are there. */
		if (lws_write(req->wsi, (unsigned char *)req->out.ptr + req->out_off, n,
			      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
			return -1;
		req->out_off += n;
		if (!last) {
			lws_callback_on_writable(req->wsi);
			return 0;
		}
		return 1;
	}
	if (req->produce) {
		unsigned char *dst;
		size_t got = 0;
		int final = 0;

		buf_reset(&req->out);
		if (buf_grow(&req->out, LWS_PRE + HTTP_WRITE_CHUNK))
			return -1;
		dst = (unsigned char *)req->out.ptr + LWS_PRE;
		if (req->produce(req, dst, HTTP_WRITE_CHUNK, &got, &final) < 0)
			return -1;
		if (got || final)
			if (lws_write(req->wsi, dst, got, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
				return -1;
		req->out_off = req->out.len = 0;
		if (!final) {
			lws_callback_on_writable(req->wsi);
			return 0;
		}
		req->produce = NULL;
	}
	return 1;
}

/*
 * The response is fully handed to lws: count it, then keep-alive or close.
 *
 * A request whose body lws has not finished reading must close: completing its
 * transaction makes lws 4.1 discard the rest of the body (LRS_DISCARD_BODY) and
 * then, when the request had been parsed from bytes lws held back (pipelined
 * behind an earlier request), loop forever in lws_http_action's drain of its
 * buffered input, which feeds the same bytes again to a connection now waiting
 * to start its next transaction (it takes none of them). The service thread
 * spins there, deaf to SIGTERM (docs/testing.md; test_slow_peers.py).
 */
static int http__complete(struct http_req *req)
{
	int unread = req->lws_body && !req->lws_body_done;
	struct lws *wsi = req->wsi;

	http__observe(req);
	http__reset(req);
	http__req_give(req);
	if (unread || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

/* Drain now if we are inside a callback that may write; else ask for WRITEABLE. */
static int http__send(struct http_req *req, int may_write)
{
	int r;

	if (!may_write && req->borrowed) {
		/* Not writing now: the borrowed bytes may be gone by then; take a copy. */
		const char *b = req->borrowed;
		size_t n = req->borrowed_len;
		req->borrowed = NULL;
		if (buf_grow(&req->out, LWS_PRE + n))
			return -1;
		memset(req->out.ptr, 0, LWS_PRE);
		memcpy(req->out.ptr + LWS_PRE, b, n);
		req->out.len = LWS_PRE + n;
		req->out_off = LWS_PRE;
		req->hdr_end = req->out.len;
	}
	if (!may_write) {
		lws_callback_on_writable(req->wsi);
		return 0;
	}
	r = http__drain(req);
	if (r == 1)
		return http__complete(req);
	return r;
}

static int http__fail_500(struct http_req *req)
{
	static const char body[] =
		"{\"error\":{\"code\":\"internal\",\"message\":\"response too large to build\"}}";
	buf_release(&req->out);
	req->out_off = 0;
	req->headers_sent = 0;
	if (http__headers(req, 500, "application/json", NULL, (int64_t)sizeof(body) - 1))
		return -1;
	req->hdr_end = req->out.len;
	return buf_append(&req->out, body, sizeof(body) - 1) ? -1 : 0;
}

int http_respond(struct http_req *req, int status, const char *content_type,
		 const char *extra_headers, const void *body, size_t len)
{
	if (req->responded || req->closing)
		return 0;
	req->responded = 1;
	buf_release(&req->out);
	req->out_off = 0;
	if (http__headers(req, status, content_type, extra_headers, (int64_t)len))
		return http__fail_500(req);
	req->hdr_end = req->out.len;
	if (req->method != HTTP_HEAD && len &&
	    (len > HTTP_MAX_RESPONSE || buf_append(&req->out, body, len)))
		return http__fail_500(req);
	return 0;
}

int http_is_h1(struct http_req *req)
{
	return !http__is_h2(req);
}

int http_respond_prebuilt(struct http_req *req, int status, const char *bytes, size_t len,
			  int fd, int64_t off)
{
	if (req->responded || req->closing)
		return 0;
	req->responded = 1;
	req->status = status;
	req->borrowed = bytes;
	req->borrowed_len = len;
	req->borrowed_fd = fd;
	req->borrowed_off = off;
	return 0;
}

int http_respond_json(struct http_req *req, int status, const struct buf *b)
{
	return http_respond(req, status, "application/json", "Cache-Control: no-store\r\n",
			    b->ptr, b->len);
}

int http_error(struct http_req *req, int status, int code, const char *fmt, ...)
{
	char msg[1024];
	struct buf b = BUF_INIT(4096);
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!status)
		status = kerr_http_status(code);
	buf_puts(&b, "{\"error\":{\"code\":");
	json_append_str(&b, kerr_name(code));
	buf_puts(&b, ",\"message\":");
	json_append_str(&b, msg);
	buf_puts(&b, "}}");
	rc = http_respond(req, status, "application/json", "Cache-Control: no-store\r\n", b.ptr,
			  b.len);
	buf_release(&b);
	return rc;
}

int http_redirect(struct http_req *req, int status, const char *location)
{
	struct buf h = BUF_INIT(HTTP_MAX_PATH * 4);
	int rc;

	if (buf_printf(&h, "Location: %s\r\n", location))
		return http_error(req, 414, KERR_INVAL, "redirect target too long");
	rc = http_respond(req, status, NULL, h.ptr, NULL, 0);
	buf_release(&h);
	return rc;
}

int http_respond_stream(struct http_req *req, int status, const char *content_type,
			const char *extra_headers, int64_t content_length, http_producer produce)
{
	if (req->responded || req->closing)
		return 0;
	req->responded = 1;
	buf_release(&req->out);
	req->out_off = 0;
	if (http__headers(req, status, content_type, extra_headers, content_length))
		return http__fail_500(req);
	req->hdr_end = req->out.len;
	if (req->method != HTTP_HEAD)
		req->produce = produce;
	return 0;
}

void http_wake(struct http_req *req)
{
	if (!req->closing)
		lws_callback_on_writable(req->wsi);
}

static enum http_method http__method(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		enum http_method m;
	} map[] = {
		{ WSI_TOKEN_GET_URI, HTTP_GET },       { WSI_TOKEN_HEAD_URI, HTTP_HEAD },
		{ WSI_TOKEN_POST_URI, HTTP_POST },     { WSI_TOKEN_PUT_URI, HTTP_PUT },
		{ WSI_TOKEN_DELETE_URI, HTTP_DELETE }, { WSI_TOKEN_PATCH_URI, HTTP_PATCH },
		{ WSI_TOKEN_OPTIONS_URI, HTTP_OPTIONS },
	};
	char m[16];

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (lws_hdr_total_length(wsi, map[i].tok) > 0)
			return map[i].m;
	/* HTTP/2 carries the method as a pseudo-header. */
	if (lws_hdr_copy(wsi, m, sizeof(m), WSI_TOKEN_HTTP_COLON_METHOD) > 0) {
		if (!strcmp(m, "GET")) return HTTP_GET;
		if (!strcmp(m, "HEAD")) return HTTP_HEAD;
		if (!strcmp(m, "POST")) return HTTP_POST;
		if (!strcmp(m, "PUT")) return HTTP_PUT;
		if (!strcmp(m, "DELETE")) return HTTP_DELETE;
		if (!strcmp(m, "PATCH")) return HTTP_PATCH;
		if (!strcmp(m, "OPTIONS")) return HTTP_OPTIONS;
	}
	return HTTP_OTHER;
}

/*
 * Is this first piece of a request's "body" really the request's own header
 * bytes? lws 4.1 feeds them again when a request with a body was parsed from
 * input it held back (pipelined behind an earlier request): lws_http_action
 * drains the connection's buffered input from where the request began, not
 * where its headers ended. The body it would hand on is garbage and its
 * accounting is off, so such a request is refused by closing the connection.
 * A real body starting with "<METHOD> /" (JSON, a wheel) cannot occur here.
 */
static int http__refed_headers(const struct http_req *req, const void *in, size_t len)
{
	static const struct {
		enum http_method m;
		const char *name;
	} names[] = {
		{ HTTP_GET, "GET /" },       { HTTP_HEAD, "HEAD /" },   { HTTP_POST, "POST /" },
		{ HTTP_PUT, "PUT /" },       { HTTP_DELETE, "DELETE /" }, { HTTP_PATCH, "PATCH /" },
		{ HTTP_OPTIONS, "OPTIONS /" },
	};

	if (!req->lws_body || !len)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);
		if (names[i].m == req->method)
			return !memcmp(in, names[i].name, len < n ? len : n);
	}
	return 0;
}

/* A new request: route it and run the handler (or wait for the body). */
static int http__begin(struct http_req *req, struct lws *wsi, const char *uri, size_t len)
{
	struct server *srv = lws_context_user(lws_get_context(wsi));
	int wrong_method = 0;
	char cl[24];

	if (req) {
		/*
		 * A request is still open on this connection (its answer comes from the
		 * database): the client pipelined, or sent bytes past its body, and lws
		 * 4.1 then dispatches the open request's headers again. Resetting the
		 * open request would free state its query still uses (a crash), and
		 * answers would mix: close (a pipelining client retries on a closed
		 * connection, RFC 9112 9.3.2). test_http_pipelining.py.
		 */
		return -1;
	}
	req = http__req_take(wsi);
	req->wsi = wsi;
	req->srv = srv;
	req->closing = 0;
	req->start_us = lws_now_usecs();
	req->method = http__method(wsi);
	http_header(req, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl));
	/*
	 * Will lws read a body? Yes with a Content-Length over 0, and for POST,
	 * PUT and PATCH without one (lws 4.1 then expects up to 100 MiB), or with
	 * a Transfer-Encoding. Not on HTTP/2, whose streams end by themselves.
	 */
	req->lws_body = !http__is_h2(req) &&
			((*cl && strtoull(cl, NULL, 10) > 0) ||
			 (!*cl && (req->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH))) ||
			 lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0);
	if (len >= sizeof(req->path)) {
		http_error(req, 414, KERR_TOOBIG, "request path over %d bytes", HTTP_MAX_PATH - 1);
		return http__send(req, 1);
	}
	if (!len || uri[0] != '/') {
		http_error(req, 400, KERR_INVAL, "malformed request path");
		return http__send(req, 1);
	}
	memcpy(req->path, uri, len);
	req->path[len] = '\0';
	req->route = route_match(req->path, req->method, req->params, &wrong_method);
	if (!req->route) {
		if (wrong_method)
			http_error(req, 405, KERR_INVAL, "method not allowed on %s", req->path);
		else
			http_error(req, 404, KERR_NOTFOUND, "no such path: %s", req->path);
		return http__send(req, 1);
	}
	if (req->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH)) {
		size_t limit = req->route->streams_body ? SIZE_MAX : req->route->body_max;
		unsigned long long n = strtoull(cl, NULL, 10);
		if (!req->route->streams_body && !req->route->body_max) {
			/* Accept and ignore an empty body only. */
			limit = 0;
		}
		if (*cl && n > limit) {
			http_error(req, 413, KERR_TOOBIG, "request body of %llu bytes is over the limit "
				   "of %zu", n, limit);
			return http__send(req, 1);
		}
		req->body_max = limit;
		buf_init(&req->body, limit ? limit : 1);
		if (!*cl && !lws_hdr_total_length(req->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) &&
		    !http__is_h2(req) && !req->route->streams_body) {
			/*
			 * No Content-Length and not chunked: HTTP/1.1 says there is no body, but
			 * lws 4.1 would wait for one forever. Run the handler on the empty body.
			 */
			req->body_complete = 1;
			req->route->handler(req);
			return req->responded ? http__send(req, 1) : 0;
		}
		if (req->route->streams_body)
			req->route->handler(req);
		else
			req->awaits_body = 1; /* the handler runs at BODY_COMPLETION */
		return req->responded ? http__send(req, 1) : 0;
	}
	req->route->handler(req);
	return req->responded ? http__send(req, 1) : 0;
}

int http_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct http_req *req = lws_get_opaque_user_data(wsi);
	int r;

	(void)user; /* no per-session data: see http__req_take */
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http__begin(req, wsi, in, len);

	case LWS_CALLBACK_HTTP_BODY:
		if (req && !req->body_seen) {
			req->body_seen = 1;
			if (http__refed_headers(req, in, len)) {
				log_info("pipelined request with a body refused", "path=%.200s",
					 req->path);
				return -1;
			}
		}
		if (!req || !req->route || req->responded)
			return 0;
		if (req->on_body) {
			if (req->on_body(req, in, len) < 0)
				return req->responded ? http__send(req, 1) : -1;
			return 0;
		}
		if (buf_append(&req->body, in, len)) {
			http_error(req, 413, KERR_TOOBIG, "request body is over the limit of %zu bytes",
				   req->body_max);
			return http__send(req, 1);
		}
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/*
		 * A second completion, or one with no request open, is lws 4.1 reading a
		 * finished body's connection again because more bytes sit in its buffer:
		 * it consumes none of them and would call again forever. Close.
		 */
		if (!req || !req->route || req->body_complete)
			return -1;
		req->body_complete = 1;
		req->lws_body_done = 1;
		if (!req->responded) {
			if (req->on_body_end) {
				if (req->on_body_end(req) < 0 && !req->responded)
					return -1;
			} else if (req->awaits_body) {
				/*
				 * Only a handler that waited for the body: one that ran at
				 * the headers (a GET sent with a body) must not run twice,
				 * or its first query's answer lands on the second's state.
				 */
				req->route->handler(req);
			}
		}
		/*
		 * Answer from WRITEABLE, not here: finishing the transaction inside lws's
		 * body loop leaves it parsing the rest of its buffer in a state that
		 * consumes nothing (the same spin).
		 */
		return req->responded ? http__send(req, 0) : 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!req || !req->responded)
			return 0;
		r = http__drain(req);
		if (r == 1)
			return http__complete(req);
		return r;

	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/*
		 * The connection ends (or, defensively, lws leaves the protocol
		 * mid-request): end the request with it. Between requests no state
		 * is attached, so lws's rebinding at each transaction finds none.
		 */
		if (req && req->wsi == wsi) {
			req->closing = 1;
			if (req->route && req->responded)
				http__observe(req);
			http__reset(req);
			http__req_give(req);
		}
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
		/* Woken by a worker thread (or a signal): run finished tasks' callbacks. */
		struct server *srv = lws_context_user(lws_get_context(wsi));
		if (srv)
			workers_drain(srv->workers);
		return 0;
	}

	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
