/*
 * wheeldiff: the members of two wheels that differ (contract in wheeldiff.h).
 *
 * The two files are compared byte for byte first (identical: "[]"). Otherwise
 * each is read once through libarchive's seekable zip reader: every entry's
 * name, date, mode and compression method are kept with the sha256 of its
 * data, which is streamed through one fixed chunk under the wheel_inspect
 * limits. The two listings are then sorted by name and merged.
 */
#include "common/wheeldiff.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/sha256.h"
#include "common/wheel_inspect.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SIZE (64u << 10) /* the one data buffer, and libarchive's read block */
#define QUOTE_MAX 160          /* bytes of an entry name shown in a message */
#define METHOD_MAX 24          /* a compression method's name, NUL included */

/* The "fields" of a "metadata" entry, in the order they are written. */
#define FIELD_DATE 1u
#define FIELD_MODE 2u
#define FIELD_COMPRESSION 4u

/* One zip entry as the comparison sees it. */
struct member {
	char *name;        /* as libarchive reports it (xstrdup'd) */
	size_t index;      /* its position in the file (of its first copy) */
	size_t peer;       /* in the other wheel, the position of the same name */
	char sha[SHA256_HEX_LEN + 1];
	int64_t mtime;
	long mtime_nsec;
	unsigned mode;     /* type and permissions */
	char method[METHOD_MAX];
};

/* One of the two wheels. */
struct side {
	const char *which; /* "build" or "check", for messages */
	const char *path;
	int fd;
	uint64_t size;
	uint64_t bytes;    /* decompressed so far */
	struct member *m;
	size_t n, cap;
};

enum what { ONLY_IN_BUILD, ONLY_IN_CHECK, CONTENT, METADATA };

static const char *const what_names[] = {
	[ONLY_IN_BUILD] = "only-in-build",
	[ONLY_IN_CHECK] = "only-in-check",
	[CONTENT] = "content",
	[METADATA] = "metadata",
};

/* One difference of a member. */
struct diff {
	const char *name;
	enum what what;
	unsigned fields;
};

/* A name for messages: printable ASCII, cut at QUOTE_MAX bytes. */
static void quote_name(char *dst, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)name[i];
		dst[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	if (name[i]) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* Is total within max_uncompressed and, past the floor, max_ratio times the file? */
static int check_size(const struct side *s, const struct wheel_limits *l, uint64_t total,
	struct kerr *e)
{
	return wheel_limits_check(l, s->size, total, NULL, e);
}

/*
 * The compression method of the entry just read: libarchive names the format
 * of each zip entry "ZIP 2.0 (deflation)"; the parenthesis is the method.
 */
static void note_method(struct archive *a, struct member *m)
{
	const char *f = archive_format_name(a);
	const char *open = f ? strchr(f, '(') : NULL;
	const char *close = open ? strchr(open, ')') : NULL;
	size_t n = close ? (size_t)(close - open - 1) : 0;

	if (n >= METHOD_MAX)
		n = METHOD_MAX - 1;
	if (n)
		memcpy(m->method, open + 1, n);
	m->method[n] = '\0';
}

/* Hash the current entry's data into m->sha, counting it against the limits. */
static int hash_entry(struct side *s, const struct wheel_limits *l, struct archive *a,
	struct archive_entry *ent, struct member *m, char *chunk, struct kerr *e)
{
	struct sha256 h;
	char q[QUOTE_MAX + 4], amsg[WHEEL_ARCHIVE_MSG_MAX + 1];
	int rc;

	/* A declared size already over a limit needs no decompressing to refuse. */
	if (archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0) {
		uint64_t declared = (uint64_t)archive_entry_size(ent);
		uint64_t sum = s->bytes + declared;

		if (sum < declared)
			sum = UINT64_MAX;
		rc = check_size(s, l, sum, e);
		if (rc)
			return rc;
	}
	if (sha256_init(&h) != 0)
		return kerr_set(e, KERR_INTERNAL, "could not start a sha256 digest");
	if (archive_entry_filetype(ent) == AE_IFLNK && archive_entry_symlink(ent)) {
		const char *t = archive_entry_symlink(ent);

		/* zip stores a link's target as its data; libarchive hands it over here */
		if (sha256_update(&h, t, strlen(t)) != 0) {
			rc = kerr_set(e, KERR_INTERNAL, "sha256 failed");
			goto out;
		}
	}
	for (;;) {
		la_ssize_t got = archive_read_data(a, chunk, CHUNK_SIZE);

		if (got == 0)
			break;
		if (got < 0) {
			quote_name(q, m->name);
			rc = kerr_set(e, KERR_INVAL, "could not read entry '%s': %s", q,
				wheel_archive_msg(a, amsg));
			goto out;
		}
		s->bytes += (uint64_t)got;
		rc = check_size(s, l, s->bytes, e);
		if (rc)
			goto out;
		if (sha256_update(&h, chunk, (size_t)got) != 0) {
			rc = kerr_set(e, KERR_INTERNAL, "sha256 failed");
			goto out;
		}
	}
	rc = sha256_final_hex(&h, m->sha) != 0 ?
		kerr_set(e, KERR_INTERNAL, "sha256 failed") : 0;
out:
	sha256_release(&h);
	return rc;
}

/* Say why libarchive would not open the file as a zip. */
static int not_a_zip(const struct side *s, struct kerr *e)
{
	unsigned char magic[4];

	if (s->size == 0)
		return kerr_set(e, KERR_INVAL, "not a zip file: it is empty");
	if (pread(s->fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "PK\003\004", sizeof(magic)) == 0)
		return kerr_set(e, KERR_INVAL,
			"truncated zip file: no end of central directory record");
	return kerr_set(e, KERR_INVAL, "not a zip file");
}

/* Read the listing of one wheel, hashing every member. */
static int read_side(struct side *s, const struct wheel_limits *l, char *chunk,
	struct kerr *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	char q[QUOTE_MAX + 4], amsg[WHEEL_ARCHIVE_MSG_MAX + 1];
	int rc = 0, r;

	if (!a)
		return kerr_set(e, KERR_INTERNAL, "could not create a libarchive reader");
	/* Seekable only: the streaming reader would accept a zip with no central directory. */
	if (archive_read_support_format_zip_seekable(a) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INTERNAL, "libarchive has no zip support: %s",
			wheel_archive_msg(a, amsg));
		goto out;
	}
	if (archive_read_open_fd(a, s->fd, CHUNK_SIZE) != ARCHIVE_OK) {
		rc = not_a_zip(s, e);
		goto out;
	}
	for (;;) {
		const char *name;
		struct member *m;

		r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		name = (r == ARCHIVE_OK || r == ARCHIVE_WARN) ? archive_entry_pathname(ent) : NULL;
		if ((r == ARCHIVE_OK || r == ARCHIVE_WARN) && !name) {
			/* the one conversion that fails in C.UTF-8 (Python's zipfile fails too) */
			rc = kerr_set(e, KERR_INVAL,
				"entry %zu has a name flagged as UTF-8 that is not valid UTF-8",
				s->n + 1);
			goto out;
		}
		if (r == ARCHIVE_WARN) {
			/* e.g. local header and central directory disagree on a size */
			quote_name(q, name);
			rc = kerr_set(e, KERR_INVAL, "corrupt zip entry '%s': %s", q,
				wheel_archive_msg(a, amsg));
			goto out;
		}
		if (r != ARCHIVE_OK) {
			rc = kerr_set(e, KERR_INVAL, "corrupt zip: %s", wheel_archive_msg(a, amsg));
			goto out;
		}
		if (s->n >= l->max_entries) {
			rc = kerr_set(e, KERR_TOOBIG, "more than %" PRIu64 " entries",
				l->max_entries);
			goto out;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 64;
			s->m = xrealloc(s->m, s->cap * sizeof(*s->m));
		}
		m = &s->m[s->n++];
		memset(m, 0, sizeof(*m));
		m->name = xstrdup(name);
		m->index = s->n - 1;
		m->mtime = (int64_t)archive_entry_mtime(ent);
		m->mtime_nsec = archive_entry_mtime_nsec(ent);
		m->mode = (unsigned)archive_entry_mode(ent);
		note_method(a, m);
		rc = hash_entry(s, l, a, ent, m, chunk, e);
		if (rc)
			goto out;
	}
out:
	archive_read_free(a);
	return rc;
}

/* Names as bytes, then position: a name's copies stay in the order stored. */
static int cmp_member(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Sort s's members by name and keep one per name: the last copy's entry (what
 * Python's zipfile reads) at the first copy's position.
 */
static void sort_side(struct side *s)
{
	size_t out = 0;

	if (s->n > 1)
		qsort(s->m, s->n, sizeof(*s->m), cmp_member);
	for (size_t i = 0; i < s->n;) {
		size_t j = i + 1, first = s->m[i].index;

		while (j < s->n && strcmp(s->m[j].name, s->m[i].name) == 0)
			j++;
		for (size_t k = i; k < j - 1; k++)
			free(s->m[k].name);
		s->m[out] = s->m[j - 1];
		s->m[out].index = first;
		out++;
		i = j;
	}
	s->n = out;
}

static int cmp_peer(const void *pa, const void *pb)
{
	const struct member *a = *(const struct member *const *)pa;
	const struct member *b = *(const struct member *const *)pb;

	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Are the members both wheels have stored in another order? The common
 * members in the build's order must then not be in the check's order.
 */
static int order_differs(const struct side *b, const struct side *c)
{
	const struct member **common = xmalloc((b->n ? b->n : 1) * sizeof(*common));
	size_t n = 0, i = 0, j = 0;
	int differs = 0;

	while (i < b->n && j < c->n) {
		int cmp = strcmp(b->m[i].name, c->m[j].name);

		if (cmp == 0) {
			b->m[i].peer = c->m[j].index;
			common[n++] = &b->m[i];
		}
		i += cmp <= 0;
		j += cmp >= 0;
	}
	if (n > 1)
		qsort(common, n, sizeof(*common), cmp_peer);
	for (size_t k = 1; k < n && !differs; k++)
		differs = common[k]->peer < common[k - 1]->peer;
	free(common);
	return differs;
}

/* What differs between the entries of one name in both wheels. */
static unsigned meta_fields(const struct member *x, const struct member *y)
{
	unsigned f = 0;

	if (x->mtime != y->mtime || x->mtime_nsec != y->mtime_nsec)
		f |= FIELD_DATE;
	if (x->mode != y->mode)
		f |= FIELD_MODE;
	if (strcmp(x->method, y->method) != 0)
		f |= FIELD_COMPRESSION;
	return f;
}

/* The member differences, sorted by name, into d (room for b->n + c->n). */
static size_t member_diffs(const struct side *b, const struct side *c, struct diff *d)
{
	size_t n = 0, i = 0, j = 0;

	while (i < b->n || j < c->n) {
		int cmp = i == b->n ? 1 : j == c->n ? -1 : strcmp(b->m[i].name, c->m[j].name);

		if (cmp < 0) {
			d[n++] = (struct diff){ b->m[i++].name, ONLY_IN_BUILD, 0 };
		} else if (cmp > 0) {
			d[n++] = (struct diff){ c->m[j++].name, ONLY_IN_CHECK, 0 };
		} else {
			const struct member *x = &b->m[i++], *y = &c->m[j++];
			unsigned f;

			if (strcmp(x->sha, y->sha) != 0)
				d[n++] = (struct diff){ x->name, CONTENT, 0 };
			else if ((f = meta_fields(x, y)) != 0)
				d[n++] = (struct diff){ x->name, METADATA, f };
		}
	}
	return n;
}

static int append_diff(struct buf *out, const struct diff *d)
{
	static const struct {
		unsigned bit;
		const char *name;
	} fields[] = {
		{ FIELD_DATE, "date" },
		{ FIELD_MODE, "mode" },
		{ FIELD_COMPRESSION, "compression" },
	};
	const char *sep = "";
	int rc;

	rc = buf_puts(out, "{\"member\":");
	if (!rc)
		rc = json_append_str(out, d->name);
	if (!rc)
		rc = buf_printf(out, ",\"what\":\"%s\"", what_names[d->what]);
	if (!rc && d->what == METADATA) {
		rc = buf_puts(out, ",\"fields\":[");
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]) && !rc; k++) {
			if (!(d->fields & fields[k].bit))
				continue;
			rc = buf_printf(out, "%s\"%s\"", sep, fields[k].name);
			sep = ",";
		}
		if (!rc)
			rc = buf_putc(out, ']');
	}
	if (!rc)
		rc = buf_putc(out, '}');
	return rc;
}

/*
 * The array: the member differences, then "order", or "archive" when there is
 * nothing else, at most max_diffs of them, then {"more": N}.
 */
static int write_diffs(const struct diff *d, size_t nd, int order, size_t max_diffs,
	struct buf *out)
{
	size_t total = nd + (order || nd == 0), shown = 0;
	int rc = buf_putc(out, '[');

	for (size_t k = 0; k < nd && shown < max_diffs && !rc; k++, shown++) {
		if (shown)
			rc = buf_putc(out, ',');
		if (!rc)
			rc = append_diff(out, &d[k]);
	}
	if (!rc && total > nd && shown < max_diffs) {
		rc = buf_printf(out, "%s{\"member\":\"\",\"what\":\"%s\"}", shown ? "," : "",
			order ? "order" : "archive");
		shown++;
	}
	if (!rc && shown < total)
		rc = buf_printf(out, "%s{\"more\":%zu}", shown ? "," : "", total - shown);
	if (!rc)
		rc = buf_putc(out, ']');
	return rc;
}

/* Open one wheel: a regular file, its size noted. */
static int open_side(struct side *s, struct kerr *e)
{
	struct stat sb;

	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return kerr_set(e, KERR_IO, "could not open '%s': %s", s->path, strerror(errno));
	if (fstat(s->fd, &sb) != 0)
		return kerr_set(e, KERR_IO, "could not stat '%s': %s", s->path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return kerr_set(e, KERR_IO, "'%s' is not a regular file", s->path);
	s->size = (uint64_t)sb.st_size;
	return 0;
}

/* Read exactly n bytes at off, or fail with KERR_IO (the file shrank: also an error). */
static int read_at(const struct side *s, void *p, size_t n, uint64_t off, struct kerr *e)
{
	size_t done = 0;

	while (done < n) {
		ssize_t got = pread(s->fd, (char *)p + done, n - done, (off_t)(off + done));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return kerr_set(e, KERR_IO, "%s wheel: could not read '%s': %s", s->which,
				s->path, strerror(errno));
		if (got == 0)
			return kerr_set(e, KERR_IO, "%s wheel: '%s' shrank while read", s->which,
				s->path);
		done += (size_t)got;
	}
	return 0;
}

/* 1 if the two files hold the same bytes, 0 if not, or a KERR_* code. */
static int same_bytes(const struct side *b, const struct side *c, char *chunk,
	struct kerr *e)
{
	size_t half = CHUNK_SIZE / 2;

	if (b->size != c->size)
		return 0;
	for (uint64_t off = 0; off < b->size;) {
		size_t n = b->size - off < half ? (size_t)(b->size - off) : half;
		int rc = read_at(b, chunk, n, off, e);

		if (!rc)
			rc = read_at(c, chunk + half, n, off, e);
		if (rc)
			return rc;
		if (memcmp(chunk, chunk + half, n) != 0)
			return 0;
		off += n;
	}
	return 1;
}

static void release_side(struct side *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->m[i].name);
	free(s->m);
	if (s->fd >= 0)
		close(s->fd);
}

int wheeldiff_files(const char *build_path, const char *check_path,
	const struct wheel_limits *lim, size_t max_diffs, struct buf *out, struct kerr *err)
{
	struct side b = { .which = "build", .path = build_path, .fd = -1 };
	struct side c = { .which = "check", .path = check_path, .fd = -1 };
	struct side *sides[2] = { &b, &c };
	struct diff *d = NULL;
	size_t start = out->len, nd;
	locale_t utf8 = (locale_t)0, prev = (locale_t)0;
	char *chunk = xmalloc(CHUNK_SIZE);
	int rc, order;

	for (int k = 0; k < 2; k++) {
		rc = open_side(sides[k], err);
		if (rc) {
			kerr_wrap(err, "%s wheel", sides[k]->which);
			goto out;
		}
	}
	rc = same_bytes(&b, &c, chunk, err);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		rc = buf_puts(out, "[]") ? kerr_set(err, KERR_TOOBIG,
			"the list of differences does not fit in %zu bytes", out->max) : 0;
		goto out;
	}

	/* libarchive hands UTF-8 names over in the locale's charset: make it UTF-8. */
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (utf8)
		prev = uselocale(utf8);
	for (int k = 0; k < 2; k++) {
		rc = read_side(sides[k], lim, chunk, err);
		if (rc) {
			kerr_wrap(err, "%s wheel", sides[k]->which);
			goto out;
		}
		sort_side(sides[k]);
	}

	order = order_differs(&b, &c);
	d = xmalloc((b.n + c.n ? b.n + c.n : 1) * sizeof(*d));
	nd = member_diffs(&b, &c, d);
	rc = write_diffs(d, nd, order, max_diffs, out);
	if (rc)
		rc = kerr_set(err, KERR_TOOBIG, "the list of differences does not fit in %zu bytes",
			out->max);
out:
	if (utf8) {
		uselocale(prev);
		freelocale(utf8);
	}
	if (rc)
		buf_truncate(out, start);
	free(d);
	free(chunk);
	release_side(&b);
	release_side(&c);
	return rc;
}
