/*
 * listing: streaming PEP 691 listing parse over yajl. The contract is in listing.h.
 *
 * yajl reports tokens (map keys, scalars, the start and end of objects and
 * arrays); the nesting is followed here, and only three places matter:
 * meta._last-serial (depth 2), and a project's name and _last-serial
 * (depth 3, inside the projects array). Anything else is checked as JSON and
 * otherwise skipped.
 */
#include "registry-sync/listing.h"

#include "common/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/* Longer than any real project name; a bound so a hostile listing cannot grow one. */
#define LISTING_NAME_MAX 1024
/* Deeper than any listing needs; a bound on the parser's own stack. */
#define LISTING_DEPTH_MAX 64
/*
 * yajl holds a token split across two pieces until it ends: more input than
 * this with no token done means one that is far too long (or a run of white
 * space), refused so memory stays bounded. Input goes to yajl in slices of
 * LISTING_SLICE so the check runs between them.
 */
#define LISTING_QUIET_MAX ((size_t)1 << 20)
#define LISTING_SLICE ((size_t)64 << 10)

/* What the key being read names, at the depths that matter. */
enum listing_key { KEY_OTHER, KEY_META, KEY_PROJECTS, KEY_SERIAL, KEY_NAME };

struct listing_stream {
	yajl_handle h;
	struct upstream_listing *out;
	size_t cap;
	size_t index;          /* of the project being read */
	char *name;            /* its name, once read */
	int64_t serial;        /* its serial, or -1 */
	int depth;             /* objects and arrays open: root 1, projects 2, a project 3 */
	enum listing_key key1; /* the root's key being read */
	enum listing_key key2; /* meta's key being read (in meta) */
	enum listing_key key3; /* the project's key being read (in a project) */
	int in_meta;           /* depth 2 is the meta object */
	int in_projects;       /* depth 2 is the projects array */
	int seen_projects;     /* "projects" was an array */
	int done;              /* the root object closed */
	int failed;
	size_t fed;            /* bytes given to yajl so far */
	size_t quiet;          /* bytes fed since the last token */
	struct kerr err;       /* why the parse failed */
};

static int listing__fail(struct listing_stream *ls, const char *m)
{
	if (ls->in_projects && ls->depth >= 2)
		kerr_set(&ls->err, KERR_INVAL, "projects[%zu]: %s", ls->index, m);
	else
		kerr_set(&ls->err, KERR_INVAL, "%s", m);
	ls->failed = 1;
	return 0; /* tells yajl to stop */
}

/*
 * A serial: a non-negative integer that fits int64, or the same written as a
 * string of digits, as some mirrors serve it (as upstream.c accepts too).
 */
static int listing__serial(struct listing_stream *ls, const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	/* s need not end at n */
	if (!n)
		return listing__fail(ls, "'_last-serial' must be a non-negative integer");
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10)
			return listing__fail(ls, "'_last-serial' must be a non-negative integer");
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/*
 * Where does a scalar (or the start of an object or array) land? 1 to go on
 * (*where gets the key it is the value of, KEY_OTHER if it matters not), or
 * listing__fail's 0 for a value that breaks the listing's shape.
 */
static int listing__value(struct listing_stream *ls, int is_object, int is_array,
	enum listing_key *where)
{
	*where = KEY_OTHER;
	ls->quiet = 0;
	if (ls->depth == 0)
		return is_object ? 1 : listing__fail(ls, "listing is not an object");
	if (ls->depth == 1) {
		if (ls->key1 == KEY_META && !is_object)
			return listing__fail(ls, "'meta' is not an object");
		if (ls->key1 == KEY_PROJECTS && !is_array)
			return listing__fail(ls, "'projects' is not an array");
		*where = ls->key1;
		return 1;
	}
	if (ls->depth == 2 && ls->in_projects)
		return is_object ? 1 : listing__fail(ls, "is not an object");
	if (ls->depth == 2 && ls->in_meta)
		*where = ls->key2;
	else if (ls->depth == 3 && ls->in_projects)
		*where = ls->key3;
	return 1;
}

static int listing__null(void *ctx)
{
	struct listing_stream *ls = ctx;
	enum listing_key k;

	if (!listing__value(ls, 0, 0, &k))
		return 0;
	if (k == KEY_SERIAL)
		return listing__fail(ls, "'_last-serial' must be a non-negative integer");
	if (k == KEY_NAME)
		return listing__fail(ls, "'name' must be a string");
	return 1;
}

static int listing__boolean(void *ctx, int b)
{
	(void)b;
	return listing__null(ctx);
}

static int listing__number(void *ctx, const char *s, size_t n)
{
	struct listing_stream *ls = ctx;
	enum listing_key k;

	if (!listing__value(ls, 0, 0, &k))
		return 0;
	if (k == KEY_SERIAL)
		return listing__serial(ls, s, n,
			ls->depth == 2 ? &ls->out->serial : &ls->serial);
	if (k == KEY_NAME)
		return listing__fail(ls, "'name' must be a string");
	return 1;
}

static int listing__string(void *ctx, const unsigned char *s, size_t n)
{
	struct listing_stream *ls = ctx;
	enum listing_key k;

	if (!listing__value(ls, 0, 0, &k))
		return 0;
	if (k == KEY_SERIAL)
		return listing__serial(ls, (const char *)s, n,
			ls->depth == 2 ? &ls->out->serial : &ls->serial);
	if (k != KEY_NAME)
		return 1;
	if (n > LISTING_NAME_MAX)
		return listing__fail(ls, "'name' is too long");
	if (memchr(s, '\0', n))
		return listing__fail(ls, "'name' holds a NUL");
	free(ls->name); /* a second "name" wins, as in a whole-document parse */
	ls->name = xmalloc(n + 1);
	memcpy(ls->name, s, n);
	ls->name[n] = '\0';
	return 1;
}

static int listing__open(struct listing_stream *ls, int is_object)
{
	enum listing_key k;

	if (!listing__value(ls, is_object, !is_object, &k))
		return 0;
	if (ls->depth == LISTING_DEPTH_MAX)
		return listing__fail(ls, "listing is not valid json: nested too deep");
	ls->depth++;
	if (ls->depth == 2) {
		ls->in_meta = k == KEY_META;
		ls->in_projects = k == KEY_PROJECTS;
		ls->seen_projects |= ls->in_projects;
		ls->key2 = KEY_OTHER;
	} else if (ls->depth == 3 && ls->in_projects) {
		free(ls->name);
		ls->name = NULL;
		ls->serial = -1;
		ls->key3 = KEY_OTHER;
	}
	return 1;
}

static int listing__start_map(void *ctx)
{
	return listing__open(ctx, 1);
}

static int listing__start_array(void *ctx)
{
	return listing__open(ctx, 0);
}

static int listing__map_key(void *ctx, const unsigned char *s, size_t n)
{
	struct listing_stream *ls = ctx;
	enum listing_key k = KEY_OTHER;

	ls->quiet = 0;
	if (ls->depth == 1) {
		if (n == 4 && !memcmp(s, "meta", 4))
			k = KEY_META;
		else if (n == 8 && !memcmp(s, "projects", 8))
			k = KEY_PROJECTS;
		ls->key1 = k;
	} else if ((ls->depth == 2 && ls->in_meta) || (ls->depth == 3 && ls->in_projects)) {
		if (n == 12 && !memcmp(s, "_last-serial", 12))
			k = KEY_SERIAL;
		else if (n == 4 && !memcmp(s, "name", 4) && ls->depth == 3)
			k = KEY_NAME;
		if (ls->depth == 2)
			ls->key2 = k;
		else
			ls->key3 = k;
	}
	return 1;
}

static int listing__close(void *ctx)
{
	struct listing_stream *ls = ctx;
	struct upstream_listing *o = ls->out;

	ls->quiet = 0;
	if (ls->depth == 3 && ls->in_projects) {
		/* A project ends (an array at depth 3 was refused on opening). */
		if (!ls->name)
			return listing__fail(ls, "'name' is missing");
		if (o->nprojects == ls->cap) {
			ls->cap = ls->cap ? ls->cap * 2 : 1024;
			o->projects = xrealloc(o->projects, ls->cap * sizeof(*o->projects));
		}
		o->projects[o->nprojects].name = ls->name;
		o->projects[o->nprojects++].serial = ls->serial;
		ls->name = NULL;
		ls->index++;
	}
	if (ls->depth == 2)
		ls->in_meta = ls->in_projects = 0;
	if (--ls->depth == 0)
		ls->done = 1;
	return 1;
}

static const yajl_callbacks listing__callbacks = {
	listing__null, listing__boolean, NULL, NULL, listing__number, listing__string,
	listing__start_map, listing__map_key, listing__close, listing__start_array,
	listing__close,
};

struct listing_stream *listing_stream_new(struct upstream_listing *out)
{
	struct listing_stream *ls = xcalloc(1, sizeof(*ls));

	memset(out, 0, sizeof(*out));
	out->serial = -1;
	ls->out = out;
	ls->serial = -1;
	ls->h = yajl_alloc(&listing__callbacks, NULL, ls);
	if (!ls->h)
		abort(); /* out of memory, as xalloc does */
	return ls;
}

static int listing__failed(struct listing_stream *ls, struct kerr *e)
{
	upstream_listing_release(ls->out);
	if (e)
		*e = ls->err;
	return KERR_INVAL;
}

/* yajl refused piece p of n bytes: say why, unless a callback already did. */
static void listing__syntax(struct listing_stream *ls, const char *p, size_t n)
{
	size_t at = ls->fed + yajl_get_bytes_consumed(ls->h);

	ls->failed = 1;
	if (ls->err.code)
		return;
	if (ls->done) {
		kerr_set(&ls->err, KERR_INVAL, "listing: data after the document");
	} else {
		unsigned char *m = yajl_get_error(ls->h, 0, (const unsigned char *)p, n);
		int len = m ? (int)strcspn((const char *)m, "\n") : 1;
		kerr_set(&ls->err, KERR_INVAL, "listing is not valid json: %.*s (byte %zu)", len,
			m ? (const char *)m : "?", at);
		if (m)
			yajl_free_error(ls->h, m);
	}
}

int listing_stream_feed(struct listing_stream *ls, const char *p, size_t n, struct kerr *e)
{
	while (!ls->failed && n) {
		size_t k = n < LISTING_SLICE ? n : LISTING_SLICE;

		/*
		 * After the root object too, yajl reads on (white space, as it
		 * counts it, is all that may follow): one judge of what is white
		 * space, wherever the pieces were cut.
		 */
		ls->quiet += k;
		if (yajl_parse(ls->h, (const unsigned char *)p, k) != yajl_status_ok)
			listing__syntax(ls, p, k);
		else if (ls->quiet > LISTING_QUIET_MAX)
			listing__fail(ls, "listing: over 1 MiB without a value (a string too long?)");
		ls->fed += k;
		p += k;
		n -= k;
	}
	return ls->failed ? listing__failed(ls, e) : 0;
}

int listing_stream_end(struct listing_stream *ls, struct kerr *e)
{
	if (!ls->failed && !ls->done) {
		ls->failed = 1;
		kerr_set(&ls->err, KERR_INVAL, "listing is not valid json: truncated");
	}
	/* yajl may still hold the start of a token after the document ("}7"). */
	if (!ls->failed && yajl_complete_parse(ls->h) != yajl_status_ok) {
		ls->failed = 1;
		kerr_set(&ls->err, KERR_INVAL, "listing: data after the document");
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
	yajl_free(ls->h);
	free(ls->name);
	free(ls);
}
