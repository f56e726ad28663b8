/*
 * upstream: fetch and parse the upstream index (PEP 691 JSON, PEP 503 HTML).
 * The contract is in upstream.h; here are the reasons behind the choices.
 */
#include "registry-sync/upstream.h"

#include "registry-sync/listing.h"

#include "common/json.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void upstream_listing_release(struct upstream_listing *l)
{
	for (size_t i = 0; i < l->nprojects; i++)
		free(l->projects[i].name);
	free(l->projects);
	memset(l, 0, sizeof(*l));
	l->serial = -1;
}

static void upstream__file_release(struct upstream_file *f)
{
	free(f->filename);
	free(f->url);
	free(f->sha256);
	free(f->requires_python);
	free(f->yanked_reason);
	free(f->upload_time);
	free(f->core_metadata_sha256);
}

void upstream_page_release(struct upstream_page *p)
{
	for (size_t i = 0; i < p->nfiles; i++)
		upstream__file_release(&p->files[i]);
	free(p->files);
	free(p->name);
	memset(p, 0, sizeof(*p));
	p->serial = -1;
}

static void listing_add(struct upstream_listing *l, size_t *cap, const char *name,
	int64_t serial)
{
	if (l->nprojects == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		l->projects = xrealloc(l->projects, *cap * sizeof(*l->projects));
	}
	l->projects[l->nprojects].name = xstrdup(name);
	l->projects[l->nprojects].serial = serial;
	l->nprojects++;
}

static struct upstream_file *page_add(struct upstream_page *p, size_t *cap)
{
	if (p->nfiles == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		p->files = xrealloc(p->files, *cap * sizeof(*p->files));
	}
	struct upstream_file *f = &p->files[p->nfiles++];
	memset(f, 0, sizeof(*f));
	f->size = -1;
	return f;
}

/* A sha256 must be exactly 64 hex digits; store it lowercase. */
static int hex64(const char *s, char **out)
{
	if (strlen(s) != 64)
		return -1;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return -1;
	char *c = xstrdup(s);
	for (size_t i = 0; i < 64; i++)
		c[i] = (char)tolower((unsigned char)c[i]);
	*out = c;
	return 0;
}

/*
 * The filename goes into storage paths and a table with a no-path check, so
 * refuse anything with a separator or a control byte here rather than there.
 */
static int filename_ok(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/*
 * Resolve ref against base with libcurl's URL API, drop the fragment. NULL if
 * invalid. Only http(s) results are accepted: a page must not be able to point
 * the mirror at file:// or another scheme curl happens to speak.
 */
static char *resolve_url(const char *base, const char *ref)
{
	CURLU *u = NULL;
	char *out = NULL, *scheme = NULL, *res = NULL;

	for (const char *p = ref; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return NULL;
	if (!(u = curl_url()))
		return NULL;
	if (base && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK)
		goto out;
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")))
		goto out;
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		goto out;
	res = xstrdup(out);
out:
	curl_free(scheme);
	curl_free(out);
	curl_url_cleanup(u);
	return res;
}

/*
 * A "_last-serial" of o into *serial (-1 if absent): a non-negative integer, or
 * the same written as a string of digits, as some mirrors serve it (PEP 691
 * leaves the "_" keys to the index).
 */
static int upstream__serial(const cJSON *o, int64_t *serial, struct kerr *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "_last-serial");

	if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= 18 &&
	    strspn(v->valuestring, "0123456789") == strlen(v->valuestring)) {
		*serial = strtoll(v->valuestring, NULL, 10);
		return 0;
	}
	return json_get_int(o, "_last-serial", 0, INT64_MAX, serial, e);
}

/* Parse a PEP 691 document: the object and its meta._last-serial (-1 if absent). */
static int upstream__parse_root(const char *s, size_t n, cJSON **root, int64_t *serial,
				struct kerr *e)
{
	const cJSON *meta = NULL;
	int rc;

	*serial = -1;
	if ((rc = json_parse_object(s, n, root, e)))
		return rc;
	if ((rc = json_get_object(*root, "meta", &meta, e)) ||
	    (meta && (rc = upstream__serial(meta, serial, e))))
		return rc;
	return 0;
}

int upstream_parse_listing_json(const char *s, size_t n, struct upstream_listing *out,
	struct kerr *e)
{
	/* One listing parser: the stream, fed the whole document at once. */
	struct listing_stream *ls = listing_stream_new(out);
	int rc = listing_stream_feed(ls, s, n, e);

	if (!rc)
		rc = listing_stream_end(ls, e);
	listing_stream_free(ls);
	return rc;
}

/* "yanked": false | true | "reason" (PEP 592 via PEP 691). */
static int json_yanked(const cJSON *o, struct upstream_file *f, struct kerr *e)
{
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(o, "yanked");

	if (!y || cJSON_IsNull(y) || cJSON_IsFalse(y))
		return 0;
	if (cJSON_IsTrue(y)) {
		f->yanked = 1;
		return 0;
	}
	if (cJSON_IsString(y)) {
		f->yanked = 1;
		if (*y->valuestring)
			f->yanked_reason = xstrdup(y->valuestring);
		return 0;
	}
	return kerr_set(e, KERR_INVAL, "field 'yanked' must be a boolean or a string");
}

/* "core-metadata" (or the older "dist-info-metadata"): false | true | {"sha256": ...}. */
static int json_core_metadata(const cJSON *o, struct upstream_file *f, struct kerr *e)
{
	const char *key = "core-metadata";
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!m) {
		key = "dist-info-metadata";
		m = cJSON_GetObjectItemCaseSensitive(o, key);
	}
	if (!m || cJSON_IsNull(m) || cJSON_IsFalse(m))
		return 0;
	if (cJSON_IsTrue(m)) {
		f->has_core_metadata = 1;
		return 0;
	}
	if (cJSON_IsObject(m)) {
		const char *h = NULL;
		int rc;

		f->has_core_metadata = 1;
		if ((rc = json_get_str(m, "sha256", &h, e))) {
			kerr_wrap(e, "%s", key);
			return rc;
		}
		if (h && hex64(h, &f->core_metadata_sha256))
			return kerr_set(e, KERR_INVAL, "%s sha256 is not 64 hex digits", key);
		return 0;
	}
	return kerr_set(e, KERR_INVAL, "field '%s' must be a boolean or an object", key);
}

static int json_file(const cJSON *o, const char *page_url, struct upstream_file *f,
	struct kerr *e)
{
	const char *filename = NULL, *url = NULL, *rp = NULL, *ut = NULL, *h = NULL;
	const cJSON *hashes = NULL;
	int rc;

	if (!cJSON_IsObject(o))
		return kerr_set(e, KERR_INVAL, "not an object");
	if ((rc = json_get_str_req(o, "filename", &filename, e)))
		return rc;
	if (!filename_ok(filename))
		return kerr_set(e, KERR_INVAL, "filename is not a bare file name");
	f->filename = xstrdup(filename);
	if ((rc = json_get_str_req(o, "url", &url, e)))
		return rc;
	if (!(f->url = resolve_url(page_url, url)))
		return kerr_set(e, KERR_INVAL, "url '%.200s' is not a valid URL", url);
	if ((rc = json_get_object(o, "hashes", &hashes, e)))
		return rc;
	if (hashes && (rc = json_get_str(hashes, "sha256", &h, e))) {
		kerr_wrap(e, "hashes");
		return rc;
	}
	if (h && hex64(h, &f->sha256))
		return kerr_set(e, KERR_INVAL, "sha256 hash is not 64 hex digits");
	if ((rc = json_get_int(o, "size", 0, INT64_MAX, &f->size, e)))
		return rc;
	if ((rc = json_get_str(o, "requires-python", &rp, e)))
		return rc;
	if (rp)
		f->requires_python = xstrdup(rp);
	if ((rc = json_get_str(o, "upload-time", &ut, e)))
		return rc;
	if (ut)
		f->upload_time = xstrdup(ut);
	if ((rc = json_yanked(o, f, e)))
		return rc;
	return json_core_metadata(o, f, e);
}

int upstream_parse_page_json(const char *s, size_t n, const char *page_url,
	struct upstream_page *out, struct kerr *e)
{
	cJSON *root = NULL;
	const cJSON *files = NULL, *it;
	const char *name = NULL;
	size_t cap = 0, i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->serial = -1;
	if ((rc = upstream__parse_root(s, n, &root, &out->serial, e)))
		goto fail;
	if ((rc = json_get_str(root, "name", &name, e)))
		goto fail;
	if (name)
		out->name = xstrdup(name);
	if ((rc = json_get_array(root, "files", &files, e)))
		goto fail;
	if (!files) {
		rc = kerr_set(e, KERR_INVAL, "project page has no 'files' array");
		goto fail;
	}
	cJSON_ArrayForEach(it, files) {
		struct upstream_file *f = page_add(out, &cap);

		if ((rc = json_file(it, page_url, f, e))) {
			kerr_wrap(e, "files[%zu]", i);
			goto fail;
		}
		i++;
	}
	cJSON_Delete(root);
	return 0;
fail:
	cJSON_Delete(root);
	upstream_page_release(out);
	return rc;
}

/* --- HTML (PEP 503) --- */

/*
 * Parse leniently (real indexes serve sloppy HTML), but a fatal stop (too deep,
 * broken encoding) is an error: a page cut short would read as "files deleted".
 */
/*
 * Offset of the first byte of s that is not well-formed UTF-8 text (a NUL
 * counts as bad), or n. A simple page is text; binary garbage (a truncated
 * gzip, a wrong file behind the URL) parses "leniently" into a page without
 * links, which would read as every file deleted.
 */
static size_t utf8_bad(const unsigned char *s, size_t n)
{
	const unsigned char *nul = memchr(s, '\0', n);
	size_t bad = utf8_first_invalid(s, n);

	return nul && (size_t)(nul - s) < bad ? (size_t)(nul - s) : bad;
}

static htmlDocPtr html_read(const char *s, size_t n, struct kerr *e)
{
	htmlParserCtxtPtr ctxt = NULL;
	htmlDocPtr doc = NULL;
	size_t bad;

	if (n > INT32_MAX) {
		kerr_set(e, KERR_TOOBIG, "html document too large");
		return NULL;
	}
	if ((bad = utf8_bad((const unsigned char *)s, n)) < n) {
		kerr_set(e, KERR_INVAL, "could not parse html: not utf-8 text (byte %zu)", bad);
		return NULL;
	}
	if (!(ctxt = htmlNewParserCtxt())) {
		kerr_set(e, KERR_INTERNAL, "could not create an html parser");
		return NULL;
	}
	doc = htmlCtxtReadMemory(ctxt, s, (int)n, NULL, "utf-8",
		HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
		HTML_PARSE_NONET | HTML_PARSE_NOBLANKS);
	if (doc && (ctxt->disableSAX || ctxt->instate == XML_PARSER_EOF)) {
		const xmlError *le = xmlCtxtGetLastError(ctxt);
		size_t ml = le && le->message ? strlen(le->message) : 0;

		while (ml && (le->message[ml - 1] == '\n' || le->message[ml - 1] == ' '))
			ml--;
		kerr_set(e, KERR_INVAL, "could not parse html: %.*s", (int)ml,
			ml ? le->message : "fatal parser error");
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (!doc) {
		kerr_set(e, KERR_INVAL, "could not parse html");
	}
	htmlFreeParserCtxt(ctxt);
	return doc;
}

/*
 * Depth-first over element nodes in document order, calling fn for each <a>;
 * stops at the first error. Iterative (parent links), so a hostile page nested
 * a million deep cannot exhaust the stack.
 */
typedef int (*anchor_fn)(xmlNodePtr a, void *ctx, struct kerr *e);

static int html_anchors(xmlNodePtr root, anchor_fn fn, void *ctx, struct kerr *e)
{
	xmlNodePtr n = root;
	int rc;

	while (n) {
		if (n->type == XML_ELEMENT_NODE) {
			if (!xmlStrcasecmp(n->name, (const xmlChar *)"a") && (rc = fn(n, ctx, e)))
				return rc;
			if (n->children) {
				n = n->children;
				continue;
			}
		}
		while (n && n != root && !n->next)
			n = n->parent;
		if (!n || n == root)
			break;
		n = n->next;
	}
	return 0;
}

struct listing_ctx {
	struct upstream_listing *l;
	size_t cap;
};

static int listing_anchor(xmlNodePtr a, void *ctx_, struct kerr *e)
{
	struct listing_ctx *ctx = ctx_;
	xmlChar *text = xmlNodeGetContent(a);
	const char *t = (const char *)text;
	size_t len;

	if (!text)
		return 0;
	while (isspace((unsigned char)*t))
		t++;
	len = strlen(t);
	while (len && isspace((unsigned char)t[len - 1]))
		len--;
	if (len) {
		char *name = xstrndup(t, len);
		listing_add(ctx->l, &ctx->cap, name, -1);
		free(name);
	}
	xmlFree(text);
	return 0;
}

int upstream_parse_listing_html(const char *s, size_t n, struct upstream_listing *out,
	struct kerr *e)
{
	struct listing_ctx ctx = { out, 0 };
	htmlDocPtr doc;
	int rc;

	memset(out, 0, sizeof(*out));
	out->serial = -1;
	if (!(doc = html_read(s, n, e)))
		return KERR_INVAL;
	rc = html_anchors(xmlDocGetRootElement(doc), listing_anchor, &ctx, e);
	xmlFreeDoc(doc);
	if (rc)
		upstream_listing_release(out);
	return rc;
}

struct page_ctx {
	struct upstream_page *p;
	size_t cap;
	const char *page_url;
	size_t i;
};

static char *attr(xmlNodePtr a, const char *name, int *present)
{
	xmlAttrPtr at = xmlHasProp(a, (const xmlChar *)name);
	xmlChar *v;
	char *r;

	if (present)
		*present = at != NULL;
	if (!at)
		return NULL;
	v = xmlGetProp(a, (const xmlChar *)name);
	if (!v)
		return NULL;
	r = xstrdup((const char *)v);
	xmlFree(v);
	return r;
}

/* "sha256=<hex>" from a #fragment or a data-core-metadata value; 1 if another hash. */
static int hash_value(const char *v, char **out)
{
	if (strncmp(v, "sha256=", 7))
		return 1;
	return hex64(v + 7, out) ? -1 : 0;
}

static int page_anchor(xmlNodePtr a, void *ctx_, struct kerr *e)
{
	struct page_ctx *ctx = ctx_;
	struct upstream_file *f;
	char *href = NULL, *frag, *slash, *q, *v = NULL;
	int present = 0, rc = 0;
	size_t idx = ctx->i++;

	if (!(href = attr(a, "href", NULL)) || !*href)
		goto out; /* an anchor without a link is not a file */
	f = page_add(ctx->p, &ctx->cap);
	if ((frag = strchr(href, '#'))) {
		*frag++ = '\0';
		/* Other hash names (md5) are allowed by PEP 503; only sha256 is kept. */
		if (hash_value(frag, &f->sha256) < 0) {
			rc = kerr_set(e, KERR_INVAL, "link %zu: sha256 hash is not 64 hex digits", idx);
			goto out;
		}
	}
	if (!(f->url = resolve_url(ctx->page_url, href))) {
		rc = kerr_set(e, KERR_INVAL, "link %zu: href is not a valid URL", idx);
		goto out;
	}
	/* PEP 503: the filename is the last path segment of the URL. */
	if ((q = strchr(href, '?')))
		*q = '\0';
	slash = strrchr(href, '/');
	{
		const char *fn = slash ? slash + 1 : href;
		int declen = 0;
		char *dec = curl_easy_unescape(NULL, fn, 0, &declen);

		/* %00 would cut the name short of what the URL names. */
		if (!dec || (size_t)declen != strlen(dec) || !filename_ok(dec)) {
			curl_free(dec);
			rc = kerr_set(e, KERR_INVAL, "link %zu: no bare file name in href", idx);
			goto out;
		}
		f->filename = xstrdup(dec);
		curl_free(dec);
	}
	f->requires_python = attr(a, "data-requires-python", NULL);
	v = attr(a, "data-yanked", &present);
	if (present) {
		f->yanked = 1;
		if (v && *v) {
			f->yanked_reason = v;
			v = NULL;
		}
	}
	free(v);
	v = attr(a, "data-core-metadata", &present);
	if (!present) {
		free(v);
		v = attr(a, "data-dist-info-metadata", &present);
	}
	if (present) {
		f->has_core_metadata = 1;
		if (v && hash_value(v, &f->core_metadata_sha256) < 0 && strcasecmp(v, "true")) {
			rc = kerr_set(e, KERR_INVAL, "link %zu: core metadata hash is not 64 hex digits",
				idx);
			goto out;
		}
	}
out:
	free(v);
	free(href);
	return rc;
}

int upstream_parse_page_html(const char *s, size_t n, const char *page_url,
	struct upstream_page *out, struct kerr *e)
{
	struct page_ctx ctx = { out, 0, page_url, 0 };
	htmlDocPtr doc;
	int rc;

	memset(out, 0, sizeof(*out));
	out->serial = -1;
	if (!(doc = html_read(s, n, e)))
		return KERR_INVAL;
	rc = html_anchors(xmlDocGetRootElement(doc), page_anchor, &ctx, e);
	xmlFreeDoc(doc);
	if (rc)
		upstream_page_release(out);
	return rc;
}

/* --- fetching --- */

void upstream_response_init(struct upstream_response *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, max_body);
	r->serial = -1;
	r->retry_after = -1;
}

void upstream_response_release(struct upstream_response *r)
{
	size_t max = r->body.max;

	buf_release(&r->body);
	free(r->etag);
	free(r->content_type);
	free(r->url);
	upstream_response_init(r, max);
}

struct fetch_ctx {
	struct upstream_response *r;
	void *h;           /* CURL * of the transfer */
	int toobig;
	int started;       /* the body began: where it goes is decided */
	int sink_rc;       /* what the sink refused with, or 0 */
	struct kerr sink_err;
};

static size_t fetch_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct fetch_ctx *c = ud;
	struct upstream_response *r = c->r;
	size_t n = size * nmemb;

	if (!c->started) {
		long status = 0;

		c->started = 1;
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
		r->sunk = r->sink && status == 200 && r->content_type &&
			!strncasecmp(r->content_type, "application/vnd.pypi.simple.v1+json", 35);
	}
	if (r->sunk) {
		c->sink_rc = r->sink(r->sink_ctx, p, n, &c->sink_err);
		return c->sink_rc ? 0 : n;
	}
	if (buf_append(&r->body, p, n)) {
		c->toobig = 1;
		return 0;
	}
	return n;
}

/* Header value after "name:", trimmed, or NULL if this line is another header. */
static char *header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);

	if (n <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return NULL;
	line += nl + 1;
	n -= nl + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	return xstrndup(line, n);
}

static size_t fetch_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct fetch_ctx *c = ud;
	size_t n = size * nmemb;
	char *v;

	/* A new status line (redirect, 100-continue) starts a fresh header set. */
	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		free(c->r->etag);
		free(c->r->content_type);
		c->r->etag = c->r->content_type = NULL;
		c->r->serial = c->r->retry_after = -1;
		return n;
	}
	if ((v = header_value(p, n, "etag"))) {
		free(c->r->etag);
		c->r->etag = v;
	} else if ((v = header_value(p, n, "content-type"))) {
		free(c->r->content_type);
		c->r->content_type = v;
	} else if ((v = header_value(p, n, "x-pypi-last-serial"))) {
		char *end;
		long long s = strtoll(v, &end, 10);
		if (end != v && !*end && s >= 0)
			c->r->serial = s;
		free(v);
	} else if ((v = header_value(p, n, "retry-after"))) {
		char *end;
		long s = strtol(v, &end, 10);
		if (end == v || *end || s < 0) {
			/* The HTTP-date form; an unreadable value counts as "a minute". */
			time_t at = curl_getdate(v, NULL), now = time(NULL);
			s = at < 0 ? 60 : at > now ? (long)(at - now) : 0;
		}
		c->r->retry_after = s;
		free(v);
	}
	return n;
}

int upstream_client_init(struct upstream_client *c, struct kerr *e)
{
	c->timeout = 0;
	c->parallel = 8;
	c->multi = NULL;
	if (!(c->curl = curl_easy_init()))
		return kerr_set(e, KERR_INTERNAL, "could not create a curl handle");
	if (!(c->multi = curl_multi_init())) {
		curl_easy_cleanup(c->curl);
		c->curl = NULL;
		return kerr_set(e, KERR_INTERNAL, "could not create a curl multi handle");
	}
	return 0;
}

void upstream_client_release(struct upstream_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	c->curl = NULL;
	c->multi = NULL;
}

/* One transfer's state, alive from fetch__prepare to fetch__finish. */
struct fetch_slot {
	CURL *h;
	struct fetch_ctx ctx;
	struct curl_slist *hdr;
	struct buf inm;
	char errbuf[CURL_ERROR_SIZE];
	const char *url;
	struct kerr *e;
	int *rc;
};

/* Reset r and set every option of one GET on the slot's handle. */
static void fetch__prepare(struct fetch_slot *sl, const char *url, const char *etag,
	struct upstream_response *r, long timeout)
{
	CURL *c = sl->h;

	/* Options are reset so nothing of the previous request leaks into this one. */
	curl_easy_reset(c);
	buf_reset(&r->body);
	free(r->etag);
	free(r->content_type);
	r->etag = r->content_type = NULL;
	r->status = 0;
	r->serial = r->retry_after = -1;
	r->is_json = 0;
	sl->ctx.r = r;
	sl->ctx.h = c;
	sl->ctx.toobig = 0;
	sl->ctx.started = 0;
	sl->ctx.sink_rc = 0;
	kerr_clear(&sl->ctx.sink_err);
	r->sunk = 0;
	if (r->sink)
		r->sink(r->sink_ctx, NULL, 0, NULL); /* a new attempt starts over */
	sl->url = url;
	sl->errbuf[0] = 0;
	sl->hdr = curl_slist_append(NULL, "Accept: " UPSTREAM_ACCEPT);
	buf_init(&sl->inm, BUF_NOLIMIT);
	if (etag && *etag) {
		buf_printf(&sl->inm, "If-None-Match: %s", etag);
		sl->hdr = curl_slist_append(sl->hdr, sl->inm.ptr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl->hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, sl->errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout < 30 ? timeout : 30L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-sync");
	/*
	 * HTTP/2 where the upstream offers it (TLS): many pages share one
	 * connection. Waiting for a connection to say whether it multiplexes only
	 * makes sense where ALPN answers that at the handshake; over plain HTTP a
	 * hung first response would hold every other request back.
	 */
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_PIPEWAIT, strncasecmp(url, "https://", 8) ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sl->ctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, fetch_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &sl->ctx);
}

/* Turn a finished transfer into rc and r's status, URL and type; free the slot's lists. */
static int fetch__finish(struct fetch_slot *sl, CURLcode cc, struct kerr *e)
{
	struct upstream_response *r = sl->ctx.r;
	CURL *c = sl->h;
	char *eff = NULL;
	int rc = 0;

	if (sl->ctx.sink_rc) {
		rc = sl->ctx.sink_rc;
		if (e)
			*e = sl->ctx.sink_err;
		kerr_wrap(e, "%s", sl->url);
	} else if (sl->ctx.toobig) {
		rc = kerr_set(e, KERR_TOOBIG, "fetching %s: body larger than %zu bytes", sl->url,
			r->body.max);
	} else if (cc != CURLE_OK) {
		rc = kerr_set(e, cc == CURLE_OPERATION_TIMEDOUT ? KERR_TIMEOUT : KERR_IO,
			"fetching %s: %s", sl->url, *sl->errbuf ? sl->errbuf : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		free(r->url);
		r->url = xstrdup(curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff ?
			eff : sl->url);
		r->is_json = r->content_type &&
			!strncasecmp(r->content_type, "application/vnd.pypi.simple.v1+json", 35);
	}
	/* The handle keeps pointers to these until the next reset; clear them now. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	buf_release(&sl->inm);
	curl_slist_free_all(sl->hdr);
	sl->hdr = NULL;
	return rc;
}

int upstream_fetch(struct upstream_client *cl, const char *url, const char *etag,
	struct upstream_response *r, struct kerr *e)
{
	struct fetch_slot sl;

	memset(&sl, 0, sizeof(sl));
	sl.h = cl->curl;
	fetch__prepare(&sl, url, etag, r, cl->timeout > 0 ? cl->timeout : 300);
	return fetch__finish(&sl, curl_easy_perform(sl.h), e);
}

int upstream_fetch_many(struct upstream_client *cl, struct upstream_request *reqs, size_t n)
{
	size_t parallel = cl->parallel > 0 ? (size_t)cl->parallel : 1, next = 0, active = 0;
	long timeout = cl->timeout > 0 ? cl->timeout : 300;
	struct fetch_slot *slots;
	CURLM *m = cl->multi;
	int failed = 0;

	if (parallel > n)
		parallel = n ? n : 1;
	slots = xcalloc(parallel, sizeof(*slots));
	/* Bounded per host too, so a big batch never opens more than `parallel` sockets. */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
	curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	for (size_t i = 0; i < parallel; i++)
		if (!(slots[i].h = curl_easy_init()))
			abort(); /* out of memory, as xalloc decides */
	while (next < n || active) {
		CURLMsg *msg;
		int running = 0, left = 0;

		for (size_t i = 0; i < parallel && next < n; i++) {
			struct fetch_slot *sl = &slots[i];
			if (sl->e)
				continue; /* busy */
			kerr_clear(&reqs[next].err);
			sl->e = &reqs[next].err;
			sl->rc = &reqs[next].rc;
			fetch__prepare(sl, reqs[next].url, reqs[next].etag, reqs[next].r, timeout);
			curl_easy_setopt(sl->h, CURLOPT_PRIVATE, (void *)sl);
			curl_multi_add_handle(m, sl->h);
			next++;
			active++;
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct fetch_slot *sl = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
			curl_multi_remove_handle(m, sl->h);
			*sl->rc = fetch__finish(sl, msg->data.result, sl->e);
			failed += *sl->rc != 0;
			sl->e = NULL;
			active--;
		}
		if (active)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (size_t i = 0; i < parallel; i++)
		curl_easy_cleanup(slots[i].h);
	free(slots);
	return failed;
}

int upstream_page_url(const char *base, const char *name, struct buf *out)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	return buf_printf(out, "%.*s/%s/", (int)n, base, name);
}
