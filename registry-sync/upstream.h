/*
 * upstream: talking to the upstream package index that kiln-sync mirrors.
 *
 * Fetching is one blocking libcurl request per call (upstream_fetch), or many
 * in flight at once (upstream_fetch_many), with content negotiation for PEP 691 JSON (HTML as a fallback), a conditional GET
 * when an ETag is known, timeouts and a maximum body size. Parsing turns a
 * listing (/simple/) or a project page (/simple/<name>/) in either format into
 * plain structs the store can write, so the parsers are testable without a
 * network.
 *
 * Every struct here owns its strings (heap copies); release with the matching
 * _release function, which also makes the struct empty again. Parsers never
 * crash on hostile input: malformed documents give KERR_INVAL or KERR_PROTO with
 * a message saying which entry and field is wrong, and leave *out empty.
 */
#ifndef KILN_UPSTREAM_H
#define KILN_UPSTREAM_H

#include "common/buf.h"
#include "common/kerr.h"

#include <stddef.h>
#include <stdint.h>

/* The Accept header kiln-sync sends: JSON first, then the HTML forms. */
#define UPSTREAM_ACCEPT \
	"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, " \
	"text/html;q=0.01"

/* One project of the listing. */
struct upstream_project {
	char *name;     /* as the upstream spells it */
	int64_t serial; /* _last-serial, or -1 when the upstream gives none */
};

struct upstream_listing {
	int64_t serial; /* meta._last-serial, or -1 */
	struct upstream_project *projects;
	size_t nprojects;
};

/* One distribution file of a project page. Optional strings are NULL when absent. */
struct upstream_file {
	char *filename;             /* bare filename, never NULL, no '/' */
	char *url;                  /* absolute, resolved against the page URL, fragment removed */
	char *sha256;               /* 64 lowercase hex digits, or NULL */
	int64_t size;               /* bytes, or -1 when unknown */
	char *requires_python;
	int yanked;                 /* 1 if yanked */
	char *yanked_reason;        /* may be NULL even when yanked */
	char *upload_time;          /* ISO 8601 as given, or NULL */
	int has_core_metadata;      /* 1 if the upstream serves the METADATA file */
	char *core_metadata_sha256; /* its sha256 if given, or NULL */
};

struct upstream_page {
	char *name;     /* the project name the page gives, or NULL (HTML) */
	int64_t serial; /* meta._last-serial or X-PyPI-Last-Serial, or -1 */
	struct upstream_file *files;
	size_t nfiles;
};

/* Free what l / p own and zero them. */
void upstream_listing_release(struct upstream_listing *l);
void upstream_page_release(struct upstream_page *p);

/*
 * Parse a PEP 691 JSON listing / PEP 503 HTML listing of n bytes at s into *out.
 * 0, or KERR_INVAL with e saying what is wrong (*out is then empty).
 */
int upstream_parse_listing_json(const char *s, size_t n, struct upstream_listing *out,
	struct kerr *e);
int upstream_parse_listing_html(const char *s, size_t n, struct upstream_listing *out,
	struct kerr *e);

/*
 * Parse a PEP 691 JSON / PEP 503 HTML project page of n bytes at s into *out.
 * page_url is the URL the page was fetched from (after redirects); relative file
 * URLs are resolved against it. 0, or KERR_INVAL with e naming the bad entry.
 */
int upstream_parse_page_json(const char *s, size_t n, const char *page_url,
	struct upstream_page *out, struct kerr *e);
int upstream_parse_page_html(const char *s, size_t n, const char *page_url,
	struct upstream_page *out, struct kerr *e);

/* What a fetch brought back. Held by the caller: upstream_response_init/_release. */
struct upstream_response {
	long status;        /* HTTP status: 200, 304, ... */
	struct buf body;    /* at most the max_body given to upstream_fetch */
	char *etag;         /* ETag response header, or NULL */
	char *content_type; /* Content-Type, or NULL */
	char *url;          /* the effective URL after redirects */
	int64_t serial;     /* X-PyPI-Last-Serial, or -1 */
	long retry_after;   /* Retry-After in seconds (either form), or -1 */
	int is_json;        /* 1 if content_type is the PEP 691 JSON type */
	/*
	 * Optional, set by the caller before fetching: where the body of a 200
	 * PEP 691 JSON answer goes, piece by piece, instead of into body (so a
	 * 40 MB listing is parsed as it arrives, never held). Called with p NULL
	 * when a new attempt starts over. A non-zero return aborts the transfer;
	 * the fetch then fails with that code and the message the sink left in e.
	 */
	int (*sink)(void *ctx, const char *p, size_t n, struct kerr *e);
	void *sink_ctx;
	int sunk;           /* 1 if this answer's body went to the sink */
};

void upstream_response_init(struct upstream_response *r, size_t max_body);
void upstream_response_release(struct upstream_response *r);

/*
 * A connection to the upstream: one libcurl handle kept across requests so
 * that sequential page fetches reuse the TCP/TLS connection. Held by the
 * caller: upstream_client_init (0, or KERR_INTERNAL) / upstream_client_release.
 */
struct upstream_client {
	void *curl;    /* CURL *, for one request at a time */
	void *multi;   /* CURLM *, for many; its connection cache outlives each call */
	long timeout;  /* seconds one request may take in all (a hung upstream); 0: 300 */
	long parallel; /* most requests (and connections) in flight at once; default 8 */
};

int upstream_client_init(struct upstream_client *c, struct kerr *e);
void upstream_client_release(struct upstream_client *c);

/*
 * GET url with the UPSTREAM_ACCEPT header and, if etag is not NULL, If-None-Match.
 * Returns 0 when a response arrived (any status; the caller looks at r->status),
 * KERR_TOOBIG when the body passed r->body's maximum, KERR_TIMEOUT or KERR_IO when
 * the transfer failed, with a message in e. Only http and https are allowed.
 */
int upstream_fetch(struct upstream_client *c, const char *url, const char *etag,
	struct upstream_response *r, struct kerr *e);

/* One request of upstream_fetch_many. */
struct upstream_request {
	const char *url;              /* in */
	const char *etag;             /* in: If-None-Match, or NULL */
	struct upstream_response *r;  /* out, held by the caller */
	int rc;                       /* out: as upstream_fetch would return */
	struct kerr err;              /* out: why, when rc is not 0 */
};

/*
 * Fetch n requests with up to c->parallel in flight (libcurl multi: one
 * connection pool, HTTP/2 multiplexing where the upstream offers it), each
 * exactly as upstream_fetch would. Returns how many failed (rc != 0); no
 * retries here, the caller decides.
 */
int upstream_fetch_many(struct upstream_client *c, struct upstream_request *reqs, size_t n);

/*
 * Append the URL of the project page for name (already normalized) under the
 * index URL base ("https://x/simple" or ".../simple/") to out: base/name/.
 */
int upstream_page_url(const char *base, const char *name, struct buf *out);

#endif
