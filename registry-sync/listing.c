/*
 * listing: streaming PEP 691 listing parse over LEJP. The contract is in listing.h.
 */
#include "registry-sync/listing.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Longer than any real project name; a bound so a hostile listing cannot grow one. */
#define LISTING_NAME_MAX 1024

static const char *const listing__paths[] = {
	"meta._last-serial",
	"projects[]._last-serial",
	"projects[].name",
};
enum { PATH_META_SERIAL = 1, PATH_SERIAL, PATH_NAME };

struct listing_stream {
	struct lejp_ctx ctx;
	struct upstream_listing *out;
	size_t cap;
	size_t index;       /* of the project being read */
	struct buf name;    /* its name so far */
	int has_name;
	int64_t serial;
	int seen_projects;  /* "projects" was an array */
	int depth;          /* objects and arrays open */
	int in_project;     /* inside a project object (depth 3) */
	int done;           /* the root object closed */
	int failed;
	size_t trailing;    /* bytes after the root object */
	struct kerr err;    /* why the callback refused */
};

static int listing__fail(struct listing_stream *ls, const char *m)
{
	if (!strncmp(ls->ctx.path, "projects[]", 10) && ls->seen_projects)
		kerr_set(&ls->err, KERR_INVAL, "projects[%zu]: %s", ls->index, m);
	else
		kerr_set(&ls->err, KERR_INVAL, "%s", m);
	return -1;
}

/*
 * An integer value at ctx->buf: non-negative, fits int64; or the same written
 * as a string of digits, as some mirrors serve it (as upstream.c accepts too).
 */
static int listing__serial(struct listing_stream *ls, char reason, int64_t *out)
{
	char *end;
	long long v;
	int digits = reason == LEJPCB_VAL_STR_END && ls->ctx.npos > 0 && ls->ctx.npos <= 18 &&
		     strspn(ls->ctx.buf, "0123456789") == ls->ctx.npos;

	if (reason != LEJPCB_VAL_NUM_INT && !digits)
		return listing__fail(ls, "'_last-serial' must be a non-negative integer");
	errno = 0;
	v = strtoll(ls->ctx.buf, &end, 10);
	if (errno || *end || v < 0)
		return listing__fail(ls, "'_last-serial' must be a non-negative integer");
	*out = v;
	return 0;
}

static signed char listing__cb(struct lejp_ctx *ctx, char reason)
{
	struct listing_stream *ls = ctx->user;
	const char *path = ctx->path;

	/*
	 * LEJP's path is not reliable at the end of an object (it may still name
	 * the last member), so nesting is counted here: the root object is depth
	 * 1, the projects array 2, each project object 3.
	 */
	switch (reason) {
	case LEJPCB_COMPLETE:
		ls->done = 1;
		return 0;
	case LEJPCB_ARRAY_START:
		ls->depth++;
		if (!strcmp(path, "projects[]") && ls->depth == 2) {
			ls->seen_projects = 1;
			return 0;
		}
		if (!strcmp(path, "projects[][]"))
			return (signed char)listing__fail(ls, "is not an object");
		if (!strcmp(path, "meta[]"))
			return (signed char)listing__fail(ls, "'meta' is not an object");
		return 0;
	case LEJPCB_ARRAY_END:
		ls->depth--;
		return 0;
	case LEJPCB_OBJECT_START:
		ls->depth++;
		if (!strcmp(path, "projects"))
			return (signed char)listing__fail(ls, "'projects' is not an array");
		if (!strcmp(path, "projects[]") && ls->depth == 3) {
			buf_reset(&ls->name);
			ls->has_name = 0;
			ls->serial = -1;
			ls->in_project = 1;
		}
		return 0;
	case LEJPCB_OBJECT_END:
		if (ls->depth-- != 3 || !ls->in_project)
			return 0;
		ls->in_project = 0;
		if (!ls->has_name)
			return (signed char)listing__fail(ls, "'name' is missing");
		if (ls->out->nprojects == ls->cap) {
			ls->cap = ls->cap ? ls->cap * 2 : 1024;
			ls->out->projects = xrealloc(ls->out->projects, ls->cap * sizeof(*ls->out->projects));
		}
		ls->out->projects[ls->out->nprojects].name = xstrdup(ls->name.ptr);
		ls->out->projects[ls->out->nprojects].serial = ls->serial;
		ls->out->nprojects++;
		ls->index++;
		return 0;
	case LEJPCB_VAL_STR_START:
		if (ctx->path_match == PATH_NAME)
			buf_reset(&ls->name);
		return 0;
	default:
		break;
	}
	if (!(reason & LEJP_FLAG_CB_IS_VALUE))
		return 0;
	/* A value: where it lands decides whether it is allowed. */
	if (!strcmp(path, "projects"))
		return (signed char)listing__fail(ls, "'projects' is not an array");
	if (!strcmp(path, "projects[]"))
		return (signed char)listing__fail(ls, "is not an object");
	if (!strcmp(path, "meta"))
		return (signed char)listing__fail(ls, "'meta' is not an object");
	switch (ctx->path_match) {
	case PATH_META_SERIAL:
		return (signed char)listing__serial(ls, reason, &ls->out->serial);
	case PATH_SERIAL:
		return (signed char)listing__serial(ls, reason, &ls->serial);
	case PATH_NAME:
		if (reason != LEJPCB_VAL_STR_CHUNK && reason != LEJPCB_VAL_STR_END)
			return (signed char)listing__fail(ls, "'name' must be a string");
		if (ls->name.len + ctx->npos > LISTING_NAME_MAX)
			return (signed char)listing__fail(ls, "'name' is too long");
		buf_append(&ls->name, ctx->buf, ctx->npos);
		if (reason == LEJPCB_VAL_STR_END)
			ls->has_name = 1;
		return 0;
	default:
		return 0;
	}
}

struct listing_stream *listing_stream_new(struct upstream_listing *out)
{
	struct listing_stream *ls = xcalloc(1, sizeof(*ls));

	memset(out, 0, sizeof(*out));
	out->serial = -1;
	ls->out = out;
	ls->serial = -1;
	buf_init(&ls->name, BUF_NOLIMIT);
	lejp_construct(&ls->ctx, listing__cb, ls, listing__paths,
		(unsigned char)(sizeof(listing__paths) / sizeof(listing__paths[0])));
	return ls;
}

static int listing__failed(struct listing_stream *ls, struct kerr *e)
{
	upstream_listing_release(ls->out);
	if (e)
		*e = ls->err;
	return KERR_INVAL;
}

int listing_stream_feed(struct listing_stream *ls, const char *p, size_t n, struct kerr *e)
{
	while (!ls->failed && n) {
		int chunk = n > INT32_MAX ? INT32_MAX : (int)n, m;

		if (ls->done) {
			/* After the root object only white space may follow. */
			for (int i = 0; i < chunk; i++)
				if (!strchr(" \t\r\n", p[i])) {
					ls->failed = 1;
					kerr_set(&ls->err, KERR_INVAL, "listing: data after the document");
					break;
				}
		} else {
			m = lejp_parse(&ls->ctx, (const unsigned char *)p, chunk);
			if (m < 0 && m != LEJP_CONTINUE) {
				ls->failed = 1;
				if (!ls->err.code)
					kerr_set(&ls->err, KERR_INVAL, "listing is not valid json: %s (line %u)",
						lejp_error_to_string(m), ls->ctx.line);
			} else if (m >= 0) {
				/* Complete; m bytes were left over. */
				p += chunk - m;
				n -= (size_t)(chunk - m);
				ls->done = 1;
				continue;
			}
		}
		p += chunk;
		n -= (size_t)chunk;
	}
	return ls->failed ? listing__failed(ls, e) : 0;
}

int listing_stream_end(struct listing_stream *ls, struct kerr *e)
{
	if (!ls->failed && !ls->done) {
		ls->failed = 1;
		kerr_set(&ls->err, KERR_INVAL, "listing is not valid json: truncated");
	}
	if (!ls->failed && !ls->seen_projects) {
		ls->failed = 1;
		kerr_set(&ls->err, KERR_INVAL, "listing has no 'projects' array");
	}
	return ls->failed ? listing__failed(ls, e) : 0;
}

void listing_stream_free(struct listing_stream *ls)
{
	if (!ls)
		return;
	lejp_destruct(&ls->ctx);
	buf_release(&ls->name);
	free(ls);
}
