/*
 * fastpath: the hot index requests answered before libwebsockets parses them.
 *
 * On a plain-text listener kiln-backend accepts connections itself. A
 * connection's first bytes are peeked at: anything but `GET` or `HEAD` of
 * `/simple/{name}/` is handed to lws untouched (lws_adopt_socket_vhost: lws
 * reads the request from the socket as if it had accepted it). Requests this
 * module understands completely (HTTP/1.1, a normalized name whose page is
 * cached and ready, HTML or PEP 691 JSON by Accept, no query, no body, no
 * conditional or range header) are answered here with the same prebuilt bytes
 * the general path sends (index_prebuilt_get), by sendfile(2) from the page's
 * memfd; keep-alive and pipelining work as in lws. The first request it does not
 * understand hands the connection to lws for good, with the bytes already read
 * (lws_adopt_socket_vhost_readbuf), unless that request has a body: lws 4.1
 * cannot take a body from bytes it did not read itself (see http.c), so the
 * connection is closed instead, as a server may close any keep-alive connection.
 *
 * Why: a cached page cost about 19,000 instructions per request in lws's parser,
 * timeouts and transaction handling, against about 3,000 here
 * (docs/performance.md). Idle connections are closed after keepalive_secs, ones
 * with part of a request after timeout_secs, as lws does. Service thread only.
 */
#ifndef KILN_FASTPATH_H
#define KILN_FASTPATH_H

#include <libwebsockets.h>

struct server;
struct fastpath;

/* The lws protocol of the listener and the connections (raw file descriptors). */
#define FASTPATH_PROTOCOL_NAME "kiln-fast"

/*
 * Listen on addr ("" for every IPv4 address) and port with SO_REUSEPORT, and
 * adopt the socket into srv's lws vhost (which must not listen itself). 0 or -1
 * with errno set (the address is not an IPv4 address, bind failed...).
 */
int fastpath_listen(struct server *srv, const char *addr, int port, int timeout_secs,
		    int keepalive_secs, struct fastpath **out);

/* Stop the idle sweep and free the state; lws closes the sockets with its context. */
void fastpath_free(struct fastpath *fp);

/* A request's headers must fit in this (lws's own limit, max_http_header_data, is 8 KiB). */
#define FASTPATH_MAX_HEAD 8192

/* What fastpath_parse found at the start of a buffer. */
enum fastpath_parse {
	FASTPATH_SERVE, /* GET or HEAD of /simple/{name}/ the fast path may answer */
	FASTPATH_MORE,  /* the headers are not complete yet (fewer than FASTPATH_MAX_HEAD bytes) */
	FASTPATH_OTHER  /* any other request, or headers of FASTPATH_MAX_HEAD bytes or more */
};

struct fastpath_req {
	size_t len;        /* bytes of the request up to its blank line; 0 if not complete */
	int head;          /* HEAD, else GET */
	int has_body;      /* a Content-Length over 0 or a Transfer-Encoding header */
	char name[256];    /* (SERVE) the project name: [a-z0-9] runs joined by single '-' */
	char accept[512];  /* (SERVE) the Accept header, "" if none */
};

/*
 * Parse the request at the start of p[0..n). FASTPATH_SERVE only for exactly
 * "GET|HEAD /simple/NAME/ HTTP/1.1", headers in CRLF lines with no other
 * control byte, at most one Accept, no body, no Connection other than
 * keep-alive, no Upgrade, Expect, Range or If-* header. r->len and r->has_body
 * are set for any complete request. (Public for tests/fuzz/fuzz_fastpath.c.)
 */
enum fastpath_parse fastpath_parse(const char *p, size_t n, struct fastpath_req *r);

int fastpath_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			  void *in, size_t len);

#endif
