/*
 * storage_s3: the s3 storage driver (contract in storage.h), over libcurl easy
 * handles with SigV4 signing (sigv4.h) and libxml2 for the XML answers.
 *
 * Each public call makes one easy handle and reuses it for all its requests
 * (a multipart upload's parts share a connection), so calls on one struct
 * storage never share mutable state. Bodies stream through fixed buffers: an
 * upload is read from the file with pread as curl asks for it, a download is
 * handed to the caller's sink as curl delivers it. Only XML answers (listings,
 * errors) are buffered, under a size limit.
 *
 * Payloads are signed: the x-amz-content-sha256 of a PUT is the sha256 of the
 * bytes, computed by reading the file (or part) once before sending it, so a
 * store that checks it (AWS S3 does; SeaweedFS 4.48 does not) rejects a body
 * that changed or was damaged on the way.
 */
#include "common/storage_driver.h"

#include "common/log.h"
#include "common/sha256.h"
#include "common/sigv4.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Limits on what is buffered: an error body, a listing page, a multipart answer. */
#define S3__ERROR_BODY_MAX (64u << 10)
#define S3__XML_BODY_MAX (16u << 20)
#define S3__MAX_PARTS 10000u
#define S3__TRIES 3
/* Abort a transfer that moves fewer than LOW_SPEED bytes/s for LOW_TIME seconds. */
#define S3__CONNECT_TIMEOUT 10L
#define S3__LOW_SPEED 1024L
#define S3__LOW_TIME 60L

struct storage__s3 {
	char *base;   /* "scheme://host": URLs start with this */
	char *scheme; /* "http" or "https" */
	char *host;   /* the Host header (default port dropped) */
	char *prefix; /* path before the bucket: "" or "/some/path" */
	/* Where clients fetch presigned URLs from (KILN_S3_PUBLIC_ENDPOINT): the
	 * signature covers the Host and the path, so they are signed as the client
	 * will send them. Copies of the above when no public endpoint is set. */
	char *pub_scheme;
	char *pub_host;
	char *pub_prefix;
	char *bucket;
	char *region;
	char *access_key;
	char *secret_key;
};

/* One HTTP request and what came back. */
struct s3__req {
	/* request */
	const char *method;
	const char *what;                /* for messages: "get 'a/b'" */
	const char *key;                 /* NULL: the bucket itself */
	const struct sigv4_pair *query;
	size_t nquery;
	const char *range;               /* "bytes=0-9" or NULL; signed */
	const char *content_type;        /* PUT/POST only; not signed */
	const char *payload_hash;
	int idempotent;                  /* may be retried after a transient failure */
	const char *body;                /* memory body (PUT/POST) when fd < 0 */
	size_t body_len;
	int fd;                          /* file body: fd_len bytes at fd_off */
	uint64_t fd_off;
	uint64_t fd_len;
	storage_sink_fn sink;            /* 2xx body goes here if set, else to resp */
	void *sink_ctx;
	/* progress and response */
	CURL *h;
	uint64_t sent;
	uint64_t delivered;
	int sink_rc;
	int read_err;
	long status;
	struct buf resp;
	char etag[256];
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t s3__once = PTHREAD_ONCE_INIT;
static int s3__init_rc;

static void s3__global_init(void)
{
	s3__init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : KERR_INTERNAL;
	xmlInitParser();
}

static void s3__req_init(struct s3__req *r, const char *method, const char *what,
			 const char *key)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->what = what;
	r->key = key;
	r->fd = -1;
	r->payload_hash = SIGV4_EMPTY_SHA256;
	r->idempotent = 1;
	buf_init(&r->resp, S3__XML_BODY_MAX);
}

/* --- XML ------------------------------------------------------------------- */

static int s3__xml_parse(const struct buf *b, xmlDoc **out)
{
	*out = NULL;
	if (!b->len || b->len > S3__XML_BODY_MAX)
		return KERR_PROTO;
	*out = xmlReadMemory(b->ptr, (int)b->len, "s3.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	return *out ? 0 : KERR_PROTO;
}

/* The first child element of n named name (namespaces ignored), or NULL. */
static xmlNode *s3__xml_child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !xmlStrcmp(c->name, (const xmlChar *)name))
			return c;
	return NULL;
}

/* The text of n's child name into out (replacing it); "" if there is none. */
static void s3__xml_text(const xmlNode *n, const char *name, struct buf *out)
{
	xmlNode *c = s3__xml_child(n, name);
	xmlChar *t = c ? xmlNodeGetContent(c) : NULL;

	buf_reset(out);
	if (t)
		buf_puts(out, (const char *)t);
	xmlFree(t);
}

/* "Code: Message" of an S3 <Error> body into out, if the body is one. */
static void s3__error_detail(const struct buf *body, struct buf *out)
{
	struct buf code = BUF_INIT(256), msg = BUF_INIT(512);
	xmlDoc *doc = NULL;
	xmlNode *root;

	if (s3__xml_parse(body, &doc))
		goto done;
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, (const xmlChar *)"Error"))
		goto done;
	s3__xml_text(root, "Code", &code);
	s3__xml_text(root, "Message", &msg);
	if (code.len)
		buf_printf(out, " %s", code.ptr);
	if (msg.len)
		buf_printf(out, ": %s", msg.ptr);
done:
	xmlFreeDoc(doc);
	buf_release(&code);
	buf_release(&msg);
}

/* Append s escaped for XML text. */
static void s3__xml_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		default: buf_putc(out, *s);
		}
	}
}

/* --- one request --------------------------------------------------------------- */

static size_t s3__on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3__req *r = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
	if (status / 100 == 2 && r->sink) {
		int rc = r->sink(r->sink_ctx, p, n);
		if (rc) {
			r->sink_rc = rc;
			return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
		}
		r->delivered += n;
		return n;
	}
	if (status / 100 != 2) {
		/* An error body: keep what fits, it is only for the message. */
		size_t room = S3__ERROR_BODY_MAX > r->resp.len ? S3__ERROR_BODY_MAX - r->resp.len : 0;
		buf_append(&r->resp, p, n < room ? n : room);
		return n;
	}
	if (buf_append(&r->resp, p, n)) {
		r->sink_rc = KERR_TOOBIG;
		return 0;
	}
	return n;
}

static size_t s3__on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3__req *r = ud;
	size_t n = size * nmemb, vl;

	if (n > 5 && !strncasecmp(p, "etag:", 5)) {
		const char *v = p + 5, *end = p + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		vl = (size_t)(end - v);
		if (vl < sizeof(r->etag)) {
			memcpy(r->etag, v, vl);
			r->etag[vl] = '\0';
		}
	}
	return n;
}

static size_t s3__on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3__req *r = ud;
	size_t want = size * nmemb;

	if (r->fd < 0) {
		size_t left = r->body_len - (size_t)r->sent;
		if (want > left)
			want = left;
		memcpy(p, r->body + r->sent, want);
		r->sent += want;
		return want;
	}
	if (want > r->fd_len - r->sent)
		want = (size_t)(r->fd_len - r->sent);
	if (!want)
		return 0;
	for (;;) {
		ssize_t got = pread(r->fd, p, want, (off_t)(r->fd_off + r->sent));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r->read_err = got < 0 ? errno : -1;
			return CURL_READFUNC_ABORT;
		}
		r->sent += (uint64_t)got;
		return (size_t)got;
	}
}

static int s3__on_seek(void *ud, curl_off_t offset, int origin)
{
	struct s3__req *r = ud;
	uint64_t len = r->fd < 0 ? r->body_len : r->fd_len;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > len)
		return CURL_SEEKFUNC_FAIL;
	r->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int s3__path(const struct storage__s3 *c, const char *key, struct buf *out)
{
	return buf_printf(out, "%s/%s%s%s", c->prefix, c->bucket, key ? "/" : "", key ? key : "");
}

/* The KERR code for an HTTP status that is not 2xx. */
static int s3__status_code(long status)
{
	switch (status) {
	case 400:
	case 416:
		return KERR_INVAL;
	case 401:
	case 403:
		return KERR_AUTH;
	case 404:
		return KERR_NOTFOUND;
	case 409:
	case 412:
		return KERR_CONFLICT;
	case 413:
		return KERR_TOOBIG;
	case 408:
	case 429:
		return KERR_AGAIN;
	default:
		return status >= 500 ? KERR_AGAIN : KERR_PROTO;
	}
}

static int s3__curl_fail(struct s3__req *r, CURLcode cc, const struct storage__s3 *c,
			 struct kerr *e)
{
	const char *detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);

	if (cc == CURLE_WRITE_ERROR && r->sink_rc == KERR_TOOBIG && !r->sink)
		return kerr_set(e, KERR_TOOBIG, "%s: the s3 answer is larger than %u bytes", r->what,
				S3__XML_BODY_MAX);
	if (cc == CURLE_WRITE_ERROR && r->sink_rc)
		return kerr_set(e, r->sink_rc, "%s: the receiver refused the data", r->what);
	if (r->read_err)
		return kerr_set(e, KERR_IO, "%s: could not read the file: %s", r->what,
				r->read_err > 0 ? strerror(r->read_err) : "it shrank while being sent");
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return kerr_set(e, KERR_TIMEOUT, "%s: s3 at %s timed out: %s", r->what, c->base,
				detail);
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return kerr_set(e, KERR_AGAIN, "%s: could not reach s3 at %s: %s", r->what, c->base,
				detail);
	default:
		return kerr_set(e, KERR_IO, "%s: s3 request to %s failed: %s", r->what, c->base,
				detail);
	}
}

/* Append a formatted header line; out of memory aborts, as xalloc.h does. */
static void s3__header(struct curl_slist **hl, struct buf *tmp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void s3__header(struct curl_slist **hl, struct buf *tmp, const char *fmt, ...)
{
	struct curl_slist *n;
	va_list ap;

	buf_reset(tmp);
	va_start(ap, fmt);
	buf_vprintf(tmp, fmt, ap);
	va_end(ap);
	n = curl_slist_append(*hl, tmp->ptr);
	if (!n) {
		fprintf(stderr, "level=fatal msg=\"out of memory\"\n");
		abort();
	}
	*hl = n;
}

/* Send r once. 0 for a 2xx answer; otherwise a code and a message in e. */
static int s3__send(struct storage *s, struct s3__req *r, struct kerr *e)
{
	const struct storage__s3 *c = s->s3;
	const struct sigv4_creds creds = { c->access_key, c->secret_key, c->region, "s3" };
	struct buf path = BUF_INIT(BUF_NOLIMIT), url = BUF_INIT(BUF_NOLIMIT);
	struct buf auth = BUF_INIT(BUF_NOLIMIT), hdr = BUF_INIT(BUF_NOLIMIT);
	struct curl_slist *hl = NULL;
	struct sigv4_pair signed_hdrs[1];
	struct sigv4_req sr;
	char date[SIGV4_DATE_LEN + 1];
	CURL *h = r->h;
	CURLcode cc;
	int rc;

	r->sent = 0;
	r->delivered = 0;
	r->sink_rc = 0;
	r->read_err = 0;
	r->status = 0;
	r->etag[0] = '\0';
	r->errbuf[0] = '\0';
	buf_reset(&r->resp);

	s3__path(c, r->key, &path);
	sigv4_amz_date(time(NULL), date);
	memset(&sr, 0, sizeof(sr));
	sr.method = r->method;
	sr.host = c->host;
	sr.path = path.ptr;
	sr.query = r->query;
	sr.nquery = r->nquery;
	if (r->range) {
		signed_hdrs[0] = (struct sigv4_pair){ "range", r->range };
		sr.headers = signed_hdrs;
		sr.nheaders = 1;
	}
	sr.payload_hash = r->payload_hash;
	sr.amz_date = date;
	rc = sigv4_authorization(&creds, &sr, &auth, e);
	if (rc)
		goto fail;

	/* The URL carries exactly the encoded path and query that were signed. */
	buf_puts(&url, c->base);
	sigv4_uri_encode(&url, path.ptr, 1);
	if (r->nquery) {
		buf_putc(&url, '?');
		sigv4_canonical_query(&url, r->query, r->nquery);
	}

	s3__header(&hl, &hdr, "Host: %s", c->host);
	s3__header(&hl, &hdr, "x-amz-date: %s", date);
	s3__header(&hl, &hdr, "x-amz-content-sha256: %s", r->payload_hash);
	s3__header(&hl, &hdr, "Authorization: %s", auth.ptr);
	if (r->range)
		s3__header(&hl, &hdr, "Range: %s", r->range);
	if (r->content_type)
		s3__header(&hl, &hdr, "Content-Type: %s", r->content_type);
	/* No 100-continue round trip: the request is signed, a refusal costs one body. */
	s3__header(&hl, &hdr, "Expect:");

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url.ptr);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, S3__CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, S3__LOW_SPEED);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, S3__LOW_TIME);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3__on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3__on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, s3__on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, s3__on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(r->fd >= 0 ? r->fd_len : r->body_len));
	} else if (!strcmp(r->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc != CURLE_OK) {
		rc = s3__curl_fail(r, cc, c, e);
		goto fail;
	}
	if (r->status / 100 != 2) {
		struct buf detail = BUF_INIT(1024);
		rc = s3__status_code(r->status);
		s3__error_detail(&r->resp, &detail);
		if (r->status == 404 && r->key && !strstr(detail.ptr, "NoSuchBucket"))
			kerr_set(e, rc, "%s: not found (HTTP 404%s)", r->what, detail.ptr);
		else if (r->status == 416)
			kerr_set(e, rc, "%s: the range starts past the end of the object", r->what);
		else
			kerr_set(e, rc, "%s: s3 answered HTTP %ld%s", r->what, r->status,
				 detail.len ? detail.ptr : "");
		buf_release(&detail);
	}
fail:
	curl_slist_free_all(hl);
	buf_release(&path);
	buf_release(&url);
	buf_release(&auth);
	buf_release(&hdr);
	return rc;
}

/* Send r, retrying a transient failure of an idempotent request that gave nothing away. */
static int s3__perform(struct storage *s, struct s3__req *r, struct kerr *e)
{
	/* Pauses before the second and third try. */
	static const struct timespec pause[S3__TRIES - 1] = { { 0, 250000000L }, { 1, 0 } };
	int rc;

	for (int attempt = 1;; attempt++) {
		rc = s3__send(s, r, e);
		if (rc != KERR_AGAIN || !r->idempotent || r->delivered || attempt == S3__TRIES)
			return rc;
		if (log_enabled(LOG_WARN)) {
			char q[KERR_MSG_MAX + 16];
			log_warn("s3 request failed, retrying", "attempt=%d error=%s", attempt,
				 log_quote(q, sizeof(q), e ? e->msg : "?"));
		}
		nanosleep(&pause[attempt - 1], NULL);
	}
}

static int s3__handle(struct s3__req *r, struct kerr *e)
{
	r->h = curl_easy_init();
	if (!r->h)
		return kerr_set(e, KERR_INTERNAL, "could not create a curl handle");
	return 0;
}

static void s3__req_release(struct s3__req *r)
{
	if (r->h)
		curl_easy_cleanup(r->h);
	r->h = NULL;
	buf_release(&r->resp);
}

/* --- hashing bodies ------------------------------------------------------------ */

static int s3__hash_fd(int fd, uint64_t off, uint64_t len, char hex[SHA256_HEX_LEN + 1],
		       const char *what, struct kerr *e)
{
	struct sha256 h;
	char *chunk = xmalloc(STORAGE__CHUNK);
	int rc = sha256_init(&h);

	while (!rc && len) {
		size_t want = len < STORAGE__CHUNK ? (size_t)len : STORAGE__CHUNK;
		ssize_t got = pread(fd, chunk, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = kerr_set(e, KERR_IO, "%s: could not read the file: %s", what,
				      got < 0 ? strerror(errno) : "it shrank while being sent");
			break;
		}
		rc = sha256_update(&h, chunk, (size_t)got);
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	if (!rc)
		rc = sha256_final_hex(&h, hex);
	if (rc && rc != KERR_IO)
		rc = kerr_set(e, rc, "%s: could not hash the body", what);
	sha256_release(&h);
	free(chunk);
	return rc;
}

/* --- driver operations ------------------------------------------------------------ */

static int s3__put_single(struct storage *s, const char *key, int fd, uint64_t size,
			  const void *p, size_t n, const char *content_type, struct kerr *e)
{
	struct buf what = BUF_INIT(BUF_NOLIMIT);
	char hash[SHA256_HEX_LEN + 1];
	struct s3__req r;
	int rc;

	buf_printf(&what, "put '%s'", key);
	s3__req_init(&r, "PUT", what.ptr, key);
	rc = s3__handle(&r, e);
	if (rc)
		goto fail;
	if (fd >= 0)
		rc = s3__hash_fd(fd, 0, size, hash, what.ptr, e);
	else if ((rc = sha256_hex(p, n, hash)))
		rc = kerr_set(e, rc, "%s: could not hash the body", what.ptr);
	if (rc)
		goto fail;
	r.payload_hash = hash;
	r.content_type = content_type;
	r.fd = fd;
	r.fd_len = size;
	r.body = p;
	r.body_len = n;
	rc = s3__perform(s, &r, e);
fail:
	s3__req_release(&r);
	buf_release(&what);
	return rc;
}

static void s3__abort_upload(struct storage *s, struct s3__req *r, const char *key,
			     const char *upload_id)
{
	const struct sigv4_pair q[] = { { "uploadId", upload_id } };
	struct kerr e;

	r->method = "DELETE";
	r->query = q;
	r->nquery = 1;
	r->fd = -1;
	r->body = NULL;
	r->body_len = 0;
	r->content_type = NULL;
	r->payload_hash = SIGV4_EMPTY_SHA256;
	r->idempotent = 1;
	if (s3__perform(s, r, &e)) {
		char q1[256];
		log_warn("could not abort a multipart upload; its parts stay until the bucket's "
			 "lifecycle removes them", "key=%s error=%s", key,
			 log_quote(q1, sizeof(q1), e.msg));
	}
}

static int s3__put_multipart(struct storage *s, const char *key, int fd, uint64_t size,
			     const char *content_type, struct kerr *e)
{
	struct buf what = BUF_INIT(BUF_NOLIMIT), upload_id = BUF_INIT(4096);
	struct buf done = BUF_INIT(BUF_NOLIMIT);
	char hash[SHA256_HEX_LEN + 1], partno[16];
	struct sigv4_pair q[2];
	struct s3__req r;
	xmlDoc *doc = NULL;
	xmlNode *root;
	uint64_t part = s->mp_part, nparts;
	int rc;

	while ((size + part - 1) / part > S3__MAX_PARTS)
		part *= 2;
	nparts = (size + part - 1) / part;
	buf_printf(&what, "put '%s' (multipart)", key);
	s3__req_init(&r, "POST", what.ptr, key);
	rc = s3__handle(&r, e);
	if (rc)
		goto fail;

	/* CreateMultipartUpload */
	q[0] = (struct sigv4_pair){ "uploads", "" };
	r.query = q;
	r.nquery = 1;
	r.content_type = content_type;
	r.idempotent = 0;
	rc = s3__perform(s, &r, e);
	if (rc)
		goto fail;
	if (s3__xml_parse(&r.resp, &doc) || !(root = xmlDocGetRootElement(doc)) ||
	    (s3__xml_text(root, "UploadId", &upload_id), !upload_id.len)) {
		rc = kerr_set(e, KERR_PROTO, "%s: s3 answered CreateMultipartUpload without an UploadId",
			      what.ptr);
		goto fail;
	}
	xmlFreeDoc(doc);
	doc = NULL;

	/* UploadPart, one by one; the ETags go into the completion body. */
	buf_puts(&done, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (uint64_t i = 0; i < nparts; i++) {
		uint64_t off = i * part, len = size - off < part ? size - off : part;
		snprintf(partno, sizeof(partno), "%llu", (unsigned long long)(i + 1));
		rc = s3__hash_fd(fd, off, len, hash, what.ptr, e);
		if (rc)
			goto abort;
		q[0] = (struct sigv4_pair){ "partNumber", partno };
		q[1] = (struct sigv4_pair){ "uploadId", upload_id.ptr };
		r.method = "PUT";
		r.query = q;
		r.nquery = 2;
		r.content_type = NULL;
		r.idempotent = 1;
		r.payload_hash = hash;
		r.fd = fd;
		r.fd_off = off;
		r.fd_len = len;
		rc = s3__perform(s, &r, e);
		if (rc)
			goto abort;
		if (!r.etag[0]) {
			rc = kerr_set(e, KERR_PROTO, "%s: s3 answered part %s without an ETag", what.ptr,
				      partno);
			goto abort;
		}
		buf_printf(&done, "<Part><PartNumber>%s</PartNumber><ETag>", partno);
		s3__xml_escape(&done, r.etag);
		buf_puts(&done, "</ETag></Part>");
	}
	buf_puts(&done, "</CompleteMultipartUpload>");

	/* CompleteMultipartUpload: a 200 may still carry an <Error>. */
	if ((rc = sha256_hex(done.ptr, done.len, hash))) {
		rc = kerr_set(e, rc, "%s: could not hash the body", what.ptr);
		goto abort;
	}
	q[0] = (struct sigv4_pair){ "uploadId", upload_id.ptr };
	r.method = "POST";
	r.query = q;
	r.nquery = 1;
	r.fd = -1;
	r.body = done.ptr;
	r.body_len = done.len;
	r.content_type = "application/xml";
	r.payload_hash = hash;
	r.idempotent = 0;
	rc = s3__perform(s, &r, e);
	if (rc)
		goto abort;
	if (s3__xml_parse(&r.resp, &doc) || !(root = xmlDocGetRootElement(doc)) ||
	    !xmlStrcmp(root->name, (const xmlChar *)"Error")) {
		struct buf detail = BUF_INIT(1024);
		s3__error_detail(&r.resp, &detail);
		rc = kerr_set(e, KERR_AGAIN, "%s: s3 could not complete the upload:%s", what.ptr,
			      detail.len ? detail.ptr : " unreadable answer");
		buf_release(&detail);
		goto abort;
	}
	goto fail;
abort:
	s3__abort_upload(s, &r, key, upload_id.ptr);
fail:
	xmlFreeDoc(doc);
	s3__req_release(&r);
	buf_release(&what);
	buf_release(&upload_id);
	buf_release(&done);
	return rc;
}

static int s3__put_fd(struct storage *s, const char *key, int fd, uint64_t size,
		      const char *content_type, struct kerr *e)
{
	if (size >= s->mp_threshold && size > 0)
		return s3__put_multipart(s, key, fd, size, content_type, e);
	return s3__put_single(s, key, fd, size, NULL, 0, content_type, e);
}

static int s3__put_mem(struct storage *s, const char *key, const void *p, size_t n,
		       const char *content_type, struct kerr *e)
{
	return s3__put_single(s, key, -1, 0, p, n, content_type, e);
}

static int s3__get(struct storage *s, const char *key, uint64_t offset, uint64_t length,
		   storage_sink_fn sink, void *ctx, struct kerr *e)
{
	struct buf what = BUF_INIT(BUF_NOLIMIT);
	char range[64];
	struct s3__req r;
	int rc;

	buf_printf(&what, "get '%s'", key);
	s3__req_init(&r, "GET", what.ptr, key);
	rc = s3__handle(&r, e);
	if (rc)
		goto fail;
	if (length)
		snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
			 (unsigned long long)(offset + length - 1));
	else
		snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)offset);
	if (offset || length)
		r.range = range;
	r.sink = sink;
	r.sink_ctx = ctx;
	rc = s3__perform(s, &r, e);
	/* A server that ignores Range answers 200 with everything: that is not the range. */
	if (!rc && r.range && r.status != 206)
		rc = kerr_set(e, KERR_PROTO, "%s: s3 ignored the Range header (HTTP %ld)", what.ptr,
			      r.status);
fail:
	s3__req_release(&r);
	buf_release(&what);
	return rc;
}

static int s3__stat(struct storage *s, const char *key, uint64_t *size, struct kerr *e)
{
	struct buf what = BUF_INIT(BUF_NOLIMIT);
	struct s3__req r;
	curl_off_t len = -1;
	int rc;

	buf_printf(&what, "stat '%s'", key);
	s3__req_init(&r, "HEAD", what.ptr, key);
	rc = s3__handle(&r, e);
	if (!rc)
		rc = s3__perform(s, &r, e);
	if (!rc) {
		curl_easy_getinfo(r.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
		if (len < 0)
			rc = kerr_set(e, KERR_PROTO, "%s: s3 answered HEAD without a Content-Length",
				      what.ptr);
		else
			*size = (uint64_t)len;
	}
	s3__req_release(&r);
	buf_release(&what);
	return rc;
}

static int s3__del(struct storage *s, const char *key, struct kerr *e)
{
	struct buf what = BUF_INIT(BUF_NOLIMIT);
	struct s3__req r;
	int rc;

	buf_printf(&what, "delete '%s'", key);
	s3__req_init(&r, "DELETE", what.ptr, key);
	rc = s3__handle(&r, e);
	if (!rc)
		rc = s3__perform(s, &r, e);
	/* S3 answers 204 for a missing key; some stores say 404 NoSuchKey. */
	if (rc == KERR_NOTFOUND && r.status == 404 && !strstr(r.resp.ptr, "NoSuchBucket"))
		rc = 0;
	s3__req_release(&r);
	buf_release(&what);
	return rc;
}

/* One page of ListObjectsV2: call each, and set token to the next page's (or ""). */
static int s3__list_page(const char *what, const struct buf *body, storage_each_fn each,
			 void *ctx, struct buf *token, struct kerr *e)
{
	struct buf key = BUF_INIT(BUF_NOLIMIT), num = BUF_INIT(64), trunc = BUF_INIT(16);
	xmlDoc *doc = NULL;
	xmlNode *root;
	int rc = 0;

	if (s3__xml_parse(body, &doc) || !(root = xmlDocGetRootElement(doc)) ||
	    xmlStrcmp(root->name, (const xmlChar *)"ListBucketResult")) {
		rc = kerr_set(e, KERR_PROTO, "%s: s3 answered something other than a listing",
			      what);
		goto fail;
	}
	for (xmlNode *c = root->children; c && !rc; c = c->next) {
		unsigned long long size;
		char *end;

		if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, (const xmlChar *)"Contents"))
			continue;
		s3__xml_text(c, "Key", &key);
		s3__xml_text(c, "Size", &num);
		errno = 0;
		size = strtoull(num.ptr, &end, 10);
		if (!key.len || !num.len || *end || errno || num.ptr[0] == '-') {
			rc = kerr_set(e, KERR_PROTO, "%s: s3 listed an entry without a key or size",
				      what);
			break;
		}
		rc = each(ctx, key.ptr, (uint64_t)size);
	}
	if (rc)
		goto fail;
	s3__xml_text(root, "IsTruncated", &trunc);
	s3__xml_text(root, "NextContinuationToken", token);
	if (strcmp(trunc.ptr, "true"))
		buf_reset(token);
	else if (!token->len)
		rc = kerr_set(e, KERR_PROTO, "%s: s3 sent a truncated listing without a "
			      "continuation token", what);
fail:
	xmlFreeDoc(doc);
	buf_release(&key);
	buf_release(&num);
	buf_release(&trunc);
	return rc;
}

static int s3__list(struct storage *s, const char *prefix, storage_each_fn each, void *ctx,
		    struct kerr *e)
{
	struct buf what = BUF_INIT(BUF_NOLIMIT), token = BUF_INIT(64u << 10);
	struct sigv4_pair q[3];
	struct s3__req r;
	int rc, pages = 0;

	buf_printf(&what, "list '%s'", prefix);
	s3__req_init(&r, "GET", what.ptr, NULL);
	rc = s3__handle(&r, e);
	while (!rc) {
		size_t nq = 0;
		q[nq++] = (struct sigv4_pair){ "list-type", "2" };
		q[nq++] = (struct sigv4_pair){ "prefix", prefix };
		if (token.len)
			q[nq++] = (struct sigv4_pair){ "continuation-token", token.ptr };
		r.query = q;
		r.nquery = nq;
		rc = s3__perform(s, &r, e);
		if (!rc)
			rc = s3__list_page(what.ptr, &r.resp, each, ctx, &token, e);
		if (rc || !token.len)
			break;
		/* A store that hands back the same token forever must not spin us forever. */
		if (++pages > 1000000) {
			rc = kerr_set(e, KERR_PROTO, "%s: s3 listing does not end", what.ptr);
			break;
		}
	}
	s3__req_release(&r);
	buf_release(&what);
	buf_release(&token);
	return rc;
}

static int s3__presign_get(struct storage *s, const char *key, int expires,
			   struct buf *url_out, struct kerr *e)
{
	const struct storage__s3 *c = s->s3;
	const struct sigv4_creds creds = { c->access_key, c->secret_key, c->region, "s3" };
	struct buf path = BUF_INIT(BUF_NOLIMIT);
	char date[SIGV4_DATE_LEN + 1];
	struct sigv4_req r;
	int rc;

	buf_printf(&path, "%s/%s/%s", c->pub_prefix, c->bucket, key);
	sigv4_amz_date(time(NULL), date);
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.host = c->pub_host;
	r.path = path.ptr;
	r.amz_date = date;
	rc = sigv4_presign(&creds, c->pub_scheme, &r, expires, url_out, e);
	buf_release(&path);
	return rc;
}

static void s3__release(struct storage *s)
{
	struct storage__s3 *c = s->s3;

	if (!c)
		return;
	free(c->base);
	free(c->scheme);
	free(c->host);
	free(c->prefix);
	free(c->pub_scheme);
	free(c->pub_host);
	free(c->pub_prefix);
	free(c->bucket);
	free(c->region);
	free(c->access_key);
	if (c->secret_key)
		memset(c->secret_key, 0, strlen(c->secret_key));
	free(c->secret_key);
	free(c);
	s->s3 = NULL;
}

static const struct storage__ops s3__ops = {
	.name = "s3",
	.put_fd = s3__put_fd,
	.put_mem = s3__put_mem,
	.get = s3__get,
	.stat = s3__stat,
	.del = s3__del,
	.list = s3__list,
	.presign_get = s3__presign_get,
	.release = s3__release,
};

/*
 * Split "http[s]://host[:port][/path]" (the value of option `name`) into scheme,
 * Host header (without a default port, as HTTP clients send it) and path prefix
 * (no trailing '/'). The three strings are the caller's to free, even on error.
 */
static int s3__parse_url(const char *name, const char *url, char **scheme, char **host,
			 char **prefix, struct kerr *e)
{
	const char *p, *auth, *slash;
	size_t alen;

	if (!strncmp(url, "http://", 7)) {
		*scheme = xstrdup("http");
		auth = url + 7;
	} else if (!strncmp(url, "https://", 8)) {
		*scheme = xstrdup("https");
		auth = url + 8;
	} else {
		return kerr_set(e, KERR_INVAL, "%s must start with http:// or https://, got '%s'",
				name, url);
	}
	slash = strchr(auth, '/');
	alen = slash ? (size_t)(slash - auth) : strlen(auth);
	for (p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '@' || *p == '\\')
			return kerr_set(e, KERR_INVAL, "%s must be a plain URL (no spaces, "
					"credentials, query or fragment), got '%s'", name, url);
	}
	if (!alen)
		return kerr_set(e, KERR_INVAL, "%s has no host: '%s'", name, url);
	if (alen > 3 && !strcmp(*scheme, "http") && !strncmp(auth + alen - 3, ":80", 3))
		alen -= 3;
	else if (alen > 4 && !strcmp(*scheme, "https") && !strncmp(auth + alen - 4, ":443", 4))
		alen -= 4;
	*host = xstrndup(auth, alen);
	*prefix = xstrdup(slash ? slash : "");
	for (size_t n = strlen(*prefix); n && (*prefix)[n - 1] == '/'; n--)
		(*prefix)[n - 1] = '\0';
	return 0;
}

/* The endpoint the store is reached at, and the one clients get presigned URLs for. */
static int s3__parse_endpoint(struct storage__s3 *c, const char *url, const char *pub,
			      struct kerr *e)
{
	struct buf base = BUF_INIT(BUF_NOLIMIT);
	int rc;

	rc = s3__parse_url("KILN_S3_ENDPOINT", url, &c->scheme, &c->host, &c->prefix, e);
	if (rc)
		return rc;
	buf_printf(&base, "%s://%s", c->scheme, c->host);
	c->base = buf_detach(&base, NULL);
	if (*pub)
		return s3__parse_url("KILN_S3_PUBLIC_ENDPOINT", pub, &c->pub_scheme, &c->pub_host,
				     &c->pub_prefix, e);
	c->pub_scheme = xstrdup(c->scheme);
	c->pub_host = xstrdup(c->host);
	c->pub_prefix = xstrdup(c->prefix);
	return 0;
}

static int s3__bucket_valid(const char *b)
{
	size_t n = strlen(b);

	if (n < 1 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '.' && ch != '-' && ch != '_')
			return 0;
	}
	return strcmp(b, ".") && strcmp(b, "..");
}

int storage__s3_open(struct storage *s, const struct config *cfg, struct kerr *e)
{
	struct storage__s3 *c = xcalloc(1, sizeof(*c));
	const char *bucket = config_get(cfg, CONFIG_S3_BUCKET);
	int rc;

	pthread_once(&s3__once, s3__global_init);
	if (s3__init_rc) {
		rc = kerr_set(e, KERR_INTERNAL, "could not initialize libcurl");
		goto fail;
	}
	s->s3 = c;
	s->ops = &s3__ops;
	rc = s3__parse_endpoint(c, config_get(cfg, CONFIG_S3_ENDPOINT),
				config_get(cfg, CONFIG_S3_PUBLIC_ENDPOINT), e);
	if (rc)
		goto fail;
	if (!s3__bucket_valid(bucket)) {
		rc = kerr_set(e, KERR_INVAL, "KILN_S3_BUCKET '%s' is not a valid bucket name", bucket);
		goto fail;
	}
	if (!*config_get(cfg, CONFIG_S3_ACCESS_KEY) || !*config_get(cfg, CONFIG_S3_SECRET_KEY) ||
	    !*config_get(cfg, CONFIG_S3_REGION)) {
		rc = kerr_set(e, KERR_INVAL, "KILN_S3_ACCESS_KEY, KILN_S3_SECRET_KEY and "
			      "KILN_S3_REGION must be set for the s3 storage driver");
		goto fail;
	}
	c->bucket = xstrdup(bucket);
	c->region = xstrdup(config_get(cfg, CONFIG_S3_REGION));
	c->access_key = xstrdup(config_get(cfg, CONFIG_S3_ACCESS_KEY));
	c->secret_key = xstrdup(config_get(cfg, CONFIG_S3_SECRET_KEY));
	return 0;
fail:
	if (!s->s3)
		free(c);
	return rc;
}
