/*
 * sigv4: AWS Signature Version 4, as S3 and S3-compatible stores (SeaweedFS,
 * MinIO) check it. It only computes text; it sends nothing.
 *
 * Two ways to sign a request:
 *  - sigv4_authorization: the `Authorization` header of a request the caller
 *    sends itself. The signed headers are always host, x-amz-content-sha256 and
 *    x-amz-date, plus whatever extra headers the request lists (range, ...). The
 *    caller must send exactly those headers with exactly those values.
 *  - sigv4_presign: a URL anyone may GET until it expires (query-string signing,
 *    only `host` signed, payload UNSIGNED-PAYLOAD).
 *
 * Paths and query parameters are given *unencoded*; this module encodes them
 * exactly as AWS specifies (RFC 3986 unreserved characters kept, every other
 * byte as %XX with uppercase hex, '/' kept in paths and encoded in query
 * values), and hands back the encoded forms it signed so the caller sends the
 * same bytes (sigv4_uri_encode, sigv4_canonical_query).
 *
 * Nothing here keeps state; every function may be called from any thread.
 * Secrets are only read, never copied into any output.
 */
#ifndef KILN_SIGV4_H
#define KILN_SIGV4_H

#include "common/buf.h"
#include "common/kerr.h"

#include <stddef.h>
#include <time.h>

/* "20130524T000000Z": the timestamp form SigV4 uses everywhere. */
#define SIGV4_DATE_LEN 16
/* The x-amz-content-sha256 value for a body that is not hashed up front. */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* sha256 of the empty string: the payload hash of GET, HEAD and DELETE. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* The longest validity of a presigned URL that S3 accepts (7 days). */
#define SIGV4_PRESIGN_MAX 604800

/* Who signs, and for which region and service. All borrowed, none NULL. */
struct sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3" */
};

/* A name and a value: a query parameter or a header. Both unencoded. */
struct sigv4_pair {
	const char *name;
	const char *value;
};

/* One request to sign. Everything is borrowed. */
struct sigv4_req {
	const char *method;   /* "GET", "PUT", ... */
	const char *host;     /* the Host header: "examplebucket.s3.amazonaws.com", "127.0.0.1:8333" */
	const char *path;     /* absolute and unencoded: "/bucket/dir/file.whl" */
	const struct sigv4_pair *query; /* may be NULL when nquery is 0; a value may be "" */
	size_t nquery;
	/* Extra headers to sign (not host, x-amz-date, x-amz-content-sha256). */
	const struct sigv4_pair *headers;
	size_t nheaders;
	const char *payload_hash; /* lowercase hex sha256 of the body, or SIGV4_UNSIGNED_PAYLOAD */
	const char *amz_date;     /* SIGV4_DATE_LEN characters, see sigv4_amz_date */
};

/* Format t (UTC) as "YYYYMMDDTHHMMSSZ" into out (SIGV4_DATE_LEN + 1 bytes). */
void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1]);

/*
 * Append s URI-encoded the AWS way to out: A-Z a-z 0-9 - . _ ~ stay, every other
 * byte becomes %XX (uppercase hex); '/' stays only when keep_slash is set (paths)
 * and is %2F otherwise (query names and values). 0 or KERR_TOOBIG.
 */
int sigv4_uri_encode(struct buf *out, const char *s, int keep_slash);

/*
 * Append the canonical query string of q to out: every name and value encoded,
 * pairs sorted by encoded name then value, joined as n=v&n=v (a parameter with
 * an empty value is "n="). The result is also a valid query string to send.
 * 0 or KERR_TOOBIG.
 */
int sigv4_canonical_query(struct buf *out, const struct sigv4_pair *q, size_t n);

/*
 * The intermediate texts, exposed so tests can compare them with AWS's examples.
 *
 * sigv4_canonical_request appends the canonical request of r, header-signing
 * form (host, x-amz-content-sha256, x-amz-date and r's extra headers, names
 * lowercased, values trimmed and inner runs of spaces collapsed, sorted), to out,
 * and the `;`-joined signed header names to signed_headers (may be NULL).
 * KERR_INVAL (with e) for a header name that is empty, duplicated or contains
 * bytes not allowed in a header name, or a bad amz_date.
 */
int sigv4_canonical_request(const struct sigv4_req *r, struct buf *out,
			    struct buf *signed_headers, struct kerr *e);
/* Append the string to sign for a canonical request made at amz_date. */
int sigv4_string_to_sign(const struct sigv4_creds *c, const char *amz_date,
			 const char *canonical_request, struct buf *out);
/*
 * The signature (64 lowercase hex digits) of string_to_sign with the key derived
 * from c's secret for amz_date's day. 0 or KERR_INTERNAL if OpenSSL fails.
 */
int sigv4_signature(const struct sigv4_creds *c, const char *amz_date,
		    const char *string_to_sign, char hex[65]);

/*
 * Append the value of the Authorization header for r to out:
 * "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,
 * SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=<hex>".
 * The request must then carry Host, x-amz-date (r->amz_date),
 * x-amz-content-sha256 (r->payload_hash) and r's extra headers.
 * 0, KERR_INVAL (see sigv4_canonical_request) or KERR_INTERNAL.
 */
int sigv4_authorization(const struct sigv4_creds *c, const struct sigv4_req *r,
			struct buf *out, struct kerr *e);

/*
 * Append a presigned URL for r to out: scheme "://" r->host, the encoded path,
 * then r's query plus the X-Amz-Algorithm, -Credential, -Date, -Expires and
 * -SignedHeaders parameters (canonical order), then X-Amz-Signature. Only host
 * is signed and r->headers must be empty; r->payload_hash is ignored
 * (UNSIGNED-PAYLOAD). expires is in seconds, 1..SIGV4_PRESIGN_MAX.
 * 0, KERR_INVAL (with e) or KERR_INTERNAL.
 */
int sigv4_presign(const struct sigv4_creds *c, const char *scheme, const struct sigv4_req *r,
		  int expires, struct buf *out, struct kerr *e);

#endif
