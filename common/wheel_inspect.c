/*
 * wheel_inspect: check an uploaded wheel before Kiln accepts it (contract in
 * wheel_inspect.h).
 *
 * One pass over the zip through libarchive. Each entry's name and type are
 * checked when its header arrives, then its data is streamed through one fixed
 * chunk (kept only for METADATA and WHEEL) so that every byte is decompressed,
 * counted and CRC-checked. The checks that need the whole listing (one
 * .dist-info, its three files, METADATA's fields) run after the last entry.
 */
#include "common/wheel_inspect.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/pyname.h"
#include "common/pyversion.h"
#include "common/utf8.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SIZE (64u << 10) /* the one data buffer, and libarchive's read block */
#define QUOTE_MAX 160          /* bytes of an entry name shown in a message */
#define DIST_INFO_SUFFIX ".dist-info"
#define WHEEL_VERSION_MAX 32

/* What one wheel_inspect() call carries from entry to entry. */
struct inspect {
	const struct wheel_limits *lim;
	struct wheel_info *out;
	struct wheelname wn;          /* the parsed filename */
	char expect_version[2 * WHEELNAME_MAX_LEN]; /* its canonical version, for messages */
	uint64_t file_size;
	struct buf wheel;             /* {dist-info}/WHEEL */
	int seen_metadata, seen_wheel, seen_record;
	char quoted[QUOTE_MAX + 4];   /* the current entry's name, printable */
	char archive_msg[WHEEL_ARCHIVE_MSG_MAX + 1];
};

void wheel_limits_default(struct wheel_limits *l)
{
	l->max_entries = 100000;
	l->max_uncompressed = 4ull << 30;
	l->max_metadata = 1u << 20;
	l->max_ratio = 200.0;
}

void wheel_info_init(struct wheel_info *w)
{
	buf_init(&w->metadata, BUF_NOLIMIT);
	w->name[0] = '\0';
	w->version[0] = '\0';
	w->requires_python[0] = '\0';
	w->dist_info[0] = '\0';
	w->entries = 0;
	w->uncompressed = 0;
}

void wheel_info_release(struct wheel_info *w)
{
	size_t max = w->metadata.max;

	buf_release(&w->metadata);
	wheel_info_init(w);
	w->metadata.max = max;
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Keep a printable copy of an entry name: messages go back to the uploader. */
static void quote_name(struct inspect *st, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)name[i];
		st->quoted[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (name[i]) {
		memcpy(st->quoted + i, "...", 3);
		i += 3;
	}
	st->quoted[i] = '\0';
}

const char *wheel_archive_msg(struct archive *a, char dst[WHEEL_ARCHIVE_MSG_MAX + 1])
{
	const char *m = archive_error_string(a);
	size_t n;

	if (!m)
		m = "unknown error";
	n = strlen(m);
	if (n > WHEEL_ARCHIVE_MSG_MAX)
		n = WHEEL_ARCHIVE_MSG_MAX;
	memcpy(dst, m, n);
	while (n > 0 && (is_space(dst[n - 1]) || dst[n - 1] == '.'))
		n--;
	dst[n] = '\0';
	return dst;
}

static const char *archive_msg(struct inspect *st, struct archive *a)
{
	return wheel_archive_msg(a, st->archive_msg);
}

/*
 * Why the entry name is not a safe relative path, or NULL if it is. The "." and
 * empty segments are refused too: they give one file two spellings, and an
 * installer and Kiln could then disagree on which METADATA is the real one.
 */
static const char *name_problem(const char *name, int is_dir)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name), start = 0, end;

	if (n == 0)
		return "empty name";
	if (s[0] == '/')
		return "absolute path";
	if (n >= 2 && is_alpha(s[0]) && s[1] == ':')
		return "drive letter";
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "control character";
		if (s[i] == '\\')
			return "backslash";
	}
	if (!utf8_valid(s, n))
		return "not valid UTF-8";
	end = (is_dir && s[n - 1] == '/') ? n - 1 : n;
	for (;;) {
		const char *slash = memchr(name + start, '/', end - start);
		size_t stop = slash ? (size_t)(slash - name) : end;
		size_t len = stop - start;

		if (len == 0)
			return "empty path segment";
		if (len == 2 && memcmp(name + start, "..", 2) == 0)
			return "'..' path segment";
		if (len == 1 && name[start] == '.')
			return "'.' path segment";
		if (!slash)
			return NULL;
		start = stop + 1;
	}
}

/* Is total within max_uncompressed and, past the floor, max_ratio? */
int wheel_limits_check(const struct wheel_limits *l, uint64_t file_size, uint64_t total,
	const char *subject, struct kerr *e)
{
	double cap = l->max_ratio * (double)file_size;
	const char *sp = subject ? " " : "";

	if (!subject)
		subject = "";
	if (total > l->max_uncompressed)
		return kerr_set(e, KERR_TOOBIG, "%s%sdecompresses to more than %" PRIu64 " bytes",
			subject, sp, l->max_uncompressed);
	if (total > WHEEL_INSPECT_RATIO_FLOOR && (double)total > cap) {
		if (cap < (double)WHEEL_INSPECT_RATIO_FLOOR)
			cap = (double)WHEEL_INSPECT_RATIO_FLOOR;
		return kerr_set(e, KERR_TOOBIG,
			"%s%scompression ratio exceeds %g: a %" PRIu64
			"-byte file may decompress to at most %.0f bytes",
			subject, sp, l->max_ratio, file_size, cap);
	}
	return 0;
}

static int check_size(const struct inspect *st, uint64_t total, struct kerr *e)
{
	return wheel_limits_check(st->lim, st->file_size, total, "wheel", e);
}

/* Does the .dist-info name split at some '-' into the filename's name and version? */
static int dist_info_matches(const struct inspect *st)
{
	const char *di = st->out->dist_info;
	size_t n = strlen(di) - strlen(DIST_INFO_SUFFIX);
	struct pyversion v;

	for (size_t i = 0; i < n; i++) {
		if (di[i] != '-' || !pyname_equal(di, i, st->wn.name, strlen(st->wn.name)))
			continue;
		if (pyversion_parse(&v, di + i + 1, n - i - 1, NULL) == 0 &&
		    pyversion_cmp(&v, &st->wn.version) == 0)
			return 1;
	}
	return 0;
}

/* Record the entry's top-level .dist-info name, if it has one; a second is an error. */
static int note_dist_info(struct inspect *st, const char *name, struct kerr *e)
{
	const char *slash = strchr(name, '/');
	size_t len = slash ? (size_t)(slash - name) : strlen(name);
	size_t sfx = strlen(DIST_INFO_SUFFIX);
	char *di = st->out->dist_info;

	if (len < sfx || memcmp(name + len - sfx, DIST_INFO_SUFFIX, sfx) != 0)
		return 0;
	if (!di[0]) {
		if (len >= sizeof(st->out->dist_info))
			return kerr_set(e, KERR_INVAL,
				".dist-info directory '%.*s...' does not match the filename's %s %s",
				QUOTE_MAX, name, st->wn.name, st->expect_version);
		memcpy(di, name, len);
		di[len] = '\0';
		return 0;
	}
	if (strlen(di) != len || memcmp(di, name, len) != 0)
		return kerr_set(e, KERR_INVAL,
			"wheel has more than one .dist-info directory: '%s' and '%.*s'",
			di, (int)(len > QUOTE_MAX ? QUOTE_MAX : len), name);
	return 0;
}

/*
 * If the regular file name is one of {dist-info}/METADATA, WHEEL or RECORD,
 * note it (a second copy is an error: zip readers disagree on which one wins)
 * and point *sink at the buffer that keeps its bytes, if any.
 */
static int note_special(struct inspect *st, const char *name, struct buf **sink,
	struct kerr *e)
{
	const char *di = st->out->dist_info;
	size_t n = strlen(di);
	const char *base;
	int *seen;

	if (!di[0] || strncmp(name, di, n) != 0 || name[n] != '/')
		return 0;
	base = name + n + 1;
	if (strcmp(base, "METADATA") == 0) {
		seen = &st->seen_metadata;
		*sink = &st->out->metadata;
	} else if (strcmp(base, "WHEEL") == 0) {
		seen = &st->seen_wheel;
		*sink = &st->wheel;
	} else if (strcmp(base, "RECORD") == 0) {
		seen = &st->seen_record;
	} else {
		return 0;
	}
	if (*seen)
		return kerr_set(e, KERR_INVAL, "duplicate entry '%s'", st->quoted);
	*seen = 1;
	return 0;
}

static int sink_too_big(struct inspect *st, struct kerr *e)
{
	return kerr_set(e, KERR_TOOBIG, "'%s' is larger than %zu bytes", st->quoted,
		st->wheel.max);
}

/* Check one entry's name and type, then read all of its data. */
static int inspect_entry(struct inspect *st, struct archive *a, struct archive_entry *ent,
	char *chunk, struct kerr *e)
{
	const char *name = archive_entry_pathname(ent);
	mode_t type = archive_entry_filetype(ent);
	struct buf *sink = NULL;
	const char *why;
	int rc;

	quote_name(st, name);
	why = name_problem(name, type == AE_IFDIR);
	if (why)
		return kerr_set(e, KERR_INVAL, "unsafe entry name '%s': %s", st->quoted, why);
	if (type == AE_IFLNK)
		return kerr_set(e, KERR_INVAL,
			"entry '%s' is a symbolic link: wheels may not contain links", st->quoted);
	if (archive_entry_hardlink(ent))
		return kerr_set(e, KERR_INVAL,
			"entry '%s' is a hard link: wheels may not contain links", st->quoted);
	if (type != AE_IFREG && type != AE_IFDIR)
		return kerr_set(e, KERR_INVAL,
			"entry '%s' is not a regular file or a directory", st->quoted);
	rc = note_dist_info(st, name, e);
	if (rc)
		return rc;
	if (type == AE_IFREG) {
		rc = note_special(st, name, &sink, e);
		if (rc)
			return rc;
	}

	/* A declared size already over a limit needs no decompressing to refuse. */
	if (archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0) {
		uint64_t declared = (uint64_t)archive_entry_size(ent);
		uint64_t sum = st->out->uncompressed + declared;

		if (sum < declared)
			sum = UINT64_MAX;
		rc = check_size(st, sum, e);
		if (rc)
			return rc;
		if (sink && declared > sink->max)
			return sink == &st->wheel ? sink_too_big(st, e) :
				kerr_set(e, KERR_TOOBIG, "'%s' is larger than %" PRIu64 " bytes",
					st->quoted, st->lim->max_metadata);
	}

	for (;;) {
		la_ssize_t got = archive_read_data(a, chunk, CHUNK_SIZE);

		if (got == 0)
			return 0;
		if (got < 0)
			return kerr_set(e, KERR_INVAL, "could not read entry '%s': %s",
				st->quoted, archive_msg(st, a));
		st->out->uncompressed += (uint64_t)got;
		rc = check_size(st, st->out->uncompressed, e);
		if (rc)
			return rc;
		if (sink && buf_append(sink, chunk, (size_t)got) != 0)
			return sink == &st->wheel ? sink_too_big(st, e) :
				kerr_set(e, KERR_TOOBIG, "'%s' is larger than %" PRIu64 " bytes",
					st->quoted, st->lim->max_metadata);
	}
}

/* Append one line's piece of a field value, trimmed, joined to the last by a space. */
static int append_value(struct buf *val, const char *p, size_t n)
{
	while (n > 0 && is_space(p[0]))
		p++, n--;
	while (n > 0 && is_space(p[n - 1]))
		n--;
	if (n == 0)
		return 0;
	if (val->len > 0 && buf_putc(val, ' ') != 0)
		return KERR_TOOBIG;
	return buf_append(val, p, n);
}

int wheel_inspect_header(const char *s, size_t n, const char *file, const char *want,
	char *out, size_t cap, struct kerr *e)
{
	struct buf val = BUF_INIT(cap - 1);
	size_t pos = 0, wlen = strlen(want);
	unsigned line = 0;
	int found = 0, in_want = 0, have_field = 0, rc = 0;

	while (pos < n) {
		const char *p = s + pos;
		const char *nl = memchr(p, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - p) : n - pos;
		const char *colon;

		pos += len + (nl != NULL);
		line++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		if (p[0] == ' ' || p[0] == '\t') {
			if (!have_field) {
				rc = kerr_set(e, KERR_INVAL,
					"malformed %s: line %u continues no field", file, line);
				goto out;
			}
			if (in_want && append_value(&val, p, len) != 0)
				goto too_long;
			continue;
		}
		colon = memchr(p, ':', len);
		for (const char *q = p; colon && q < colon; q++)
			if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
				colon = NULL;
		if (!colon || colon == p) {
			rc = kerr_set(e, KERR_INVAL,
				"malformed %s: line %u is not a 'Field: value' line", file, line);
			goto out;
		}
		have_field = 1;
		in_want = (size_t)(colon - p) == wlen && strncasecmp(p, want, wlen) == 0;
		if (!in_want)
			continue;
		if (found) {
			rc = kerr_set(e, KERR_INVAL, "%s has more than one %s field", file, want);
			goto out;
		}
		found = 1;
		if (append_value(&val, colon + 1, len - (size_t)(colon + 1 - p)) != 0)
			goto too_long;
	}
	if (found)
		memcpy(out, val.ptr, val.len + 1);
	rc = found;
	goto out;
too_long:
	rc = kerr_set(e, KERR_TOOBIG, "%s field in %s is longer than %zu bytes", want, file,
		cap - 1);
out:
	buf_release(&val);
	return rc;
}

static int check_metadata(struct inspect *st, struct kerr *e)
{
	struct wheel_info *w = st->out;
	const char *md = w->metadata.ptr;
	size_t n = w->metadata.len;
	struct pyversion v;
	int rc;

	rc = wheel_inspect_header(md, n, "METADATA", "Name", w->name, sizeof(w->name), e);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return kerr_set(e, KERR_INVAL, "no Name field in METADATA");
	if (!pyname_valid(w->name, strlen(w->name)))
		return kerr_set(e, KERR_INVAL, "invalid Name '%s' in METADATA", w->name);
	if (!pyname_equal(w->name, strlen(w->name), st->wn.name, strlen(st->wn.name)))
		return kerr_set(e, KERR_INVAL,
			"name '%s' in METADATA does not match the filename's '%s'",
			w->name, st->wn.name);

	rc = wheel_inspect_header(md, n, "METADATA", "Version", w->version, sizeof(w->version), e);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return kerr_set(e, KERR_INVAL, "no Version field in METADATA");
	if (pyversion_parse_str(&v, w->version, NULL) != 0)
		return kerr_set(e, KERR_INVAL, "invalid Version '%s' in METADATA", w->version);
	if (pyversion_cmp(&v, &st->wn.version) != 0)
		return kerr_set(e, KERR_INVAL,
			"version '%s' in METADATA does not match the filename's '%s'",
			w->version, st->expect_version);

	rc = wheel_inspect_header(md, n, "METADATA", "Requires-Python", w->requires_python,
		sizeof(w->requires_python), e);
	if (rc < 0)
		return rc;
	for (const char *p = w->requires_python; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return kerr_set(e, KERR_INVAL,
				"Requires-Python in METADATA has a control character");
	return 0;
}

static int check_wheel_file(struct inspect *st, struct kerr *e)
{
	char ver[WHEEL_VERSION_MAX];
	size_t i;
	int rc;

	rc = wheel_inspect_header(st->wheel.ptr, st->wheel.len, "WHEEL", "Wheel-Version", ver,
		sizeof(ver), e);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return kerr_set(e, KERR_INVAL, "no Wheel-Version field in WHEEL");
	i = 2;
	if (strncmp(ver, "1.", 2) == 0)
		while (ver[i] >= '0' && ver[i] <= '9')
			i++;
	if (strncmp(ver, "1.", 2) != 0 || i == 2 || ver[i] != '\0')
		return kerr_set(e, KERR_INVAL,
			"unsupported Wheel-Version '%s' in WHEEL: Kiln accepts 1.x", ver);
	return 0;
}

/* The checks that need the whole listing. */
static int check_structure(struct inspect *st, struct kerr *e)
{
	const char *di = st->out->dist_info;
	int rc;

	if (!di[0])
		return kerr_set(e, KERR_INVAL, "wheel has no .dist-info directory");
	if (!dist_info_matches(st))
		return kerr_set(e, KERR_INVAL,
			".dist-info directory '%s' does not match the filename's %s %s",
			di, st->wn.name, st->expect_version);
	if (!st->seen_metadata)
		return kerr_set(e, KERR_INVAL, "wheel has no '%s/METADATA'", di);
	if (!st->seen_wheel)
		return kerr_set(e, KERR_INVAL, "wheel has no '%s/WHEEL'", di);
	if (!st->seen_record)
		return kerr_set(e, KERR_INVAL, "wheel has no '%s/RECORD'", di);
	rc = check_metadata(st, e);
	if (rc)
		return rc;
	return check_wheel_file(st, e);
}

/* Say why libarchive would not open the file as a zip. */
static int not_a_zip(int fd, uint64_t size, struct kerr *e)
{
	unsigned char magic[4];

	if (size == 0)
		return kerr_set(e, KERR_INVAL, "wheel is not a zip file: it is empty");
	if (pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "PK\003\004", sizeof(magic)) == 0)
		return kerr_set(e, KERR_INVAL,
			"wheel is a truncated zip file: no end of central directory record");
	return kerr_set(e, KERR_INVAL, "wheel is not a zip file");
}

int wheel_inspect(const char *path, const char *filename, const struct wheel_limits *l,
	struct wheel_info *out, struct kerr *e)
{
	struct inspect st;
	struct buf vbuf = BUF_INIT(2 * WHEELNAME_MAX_LEN - 1);
	struct archive *a = NULL;
	struct archive_entry *ent;
	struct stat sb;
	locale_t utf8 = (locale_t)0, prev = (locale_t)0;
	char *chunk = NULL;
	int fd = -1, rc, r;

	memset(&st, 0, sizeof(st));
	st.lim = l;
	st.out = out;
	buf_init(&st.wheel, WHEEL_INSPECT_WHEEL_MAX);
	wheel_info_release(out);
	buf_init(&out->metadata, l->max_metadata >= SIZE_MAX ? SIZE_MAX - 1 :
		(size_t)l->max_metadata);

	rc = wheelname_parse(&st.wn, filename, strlen(filename), e);
	if (rc)
		goto out; /* its message already says "invalid wheel filename" */
	if (pyversion_normalize(&st.wn.version, &vbuf) == 0)
		memcpy(st.expect_version, vbuf.ptr, vbuf.len + 1);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) != 0) {
		rc = kerr_set(e, KERR_IO, "could not stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = kerr_set(e, KERR_IO, "'%s' is not a regular file", path);
		goto out;
	}
	st.file_size = (uint64_t)sb.st_size;

	/* libarchive hands UTF-8 names over in the locale's charset: make it UTF-8. */
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (utf8)
		prev = uselocale(utf8);

	a = archive_read_new();
	if (!a) {
		rc = kerr_set(e, KERR_INTERNAL, "could not create a libarchive reader");
		goto out;
	}
	/* Seekable only: the streaming reader would accept a zip with no central directory. */
	if (archive_read_support_format_zip_seekable(a) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INTERNAL, "libarchive has no zip support: %s",
			archive_msg(&st, a));
		goto out;
	}
	if (archive_read_open_fd(a, fd, CHUNK_SIZE) != ARCHIVE_OK) {
		rc = not_a_zip(fd, st.file_size, e);
		goto out;
	}
	chunk = xmalloc(CHUNK_SIZE);
	for (;;) {
		r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if ((r == ARCHIVE_OK || r == ARCHIVE_WARN) && !archive_entry_pathname(ent)) {
			rc = kerr_set(e, KERR_INVAL,
				"unsafe entry name: entry %" PRIu64 " has a name that is not valid UTF-8",
				out->entries + 1);
			goto out;
		}
		if (r == ARCHIVE_WARN) {
			/* e.g. local header and central directory disagree on a size */
			quote_name(&st, archive_entry_pathname(ent));
			rc = kerr_set(e, KERR_INVAL, "corrupt zip entry '%s': %s", st.quoted,
				archive_msg(&st, a));
			goto out;
		}
		if (r != ARCHIVE_OK) {
			rc = kerr_set(e, KERR_INVAL, "corrupt zip: %s", archive_msg(&st, a));
			goto out;
		}
		if (++out->entries > l->max_entries) {
			rc = kerr_set(e, KERR_TOOBIG, "wheel has more than %" PRIu64 " entries",
				l->max_entries);
			goto out;
		}
		rc = inspect_entry(&st, a, ent, chunk, e);
		if (rc)
			goto out;
	}
	rc = check_structure(&st, e);
out:
	free(chunk);
	if (a)
		archive_read_free(a);
	if (fd >= 0)
		close(fd);
	if (utf8) {
		uselocale(prev);
		freelocale(utf8);
	}
	buf_release(&st.wheel);
	buf_release(&vbuf);
	if (rc)
		wheel_info_release(out);
	return rc;
}
