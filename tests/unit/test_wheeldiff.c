/*
 * Unit tests for common/wheeldiff. Both wheels are written at test time with
 * libarchive's zip writer into a temporary directory (no binary fixtures); a
 * few are patched afterwards (an archive comment, a flipped data byte, a cut).
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/wheel_inspect.h"
#include "common/wheeldiff.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum ent_kind { ENT_FILE, ENT_DIR, ENT_SYMLINK };

struct ent {
	const char *name;
	const char *data;  /* a file's contents or a link's target */
	size_t zeros;      /* a file with data NULL: this many zero bytes */
	enum ent_kind kind;
	time_t mtime;      /* 0: T0 */
	unsigned perm;     /* 0: 0644 (0755 for a directory) */
};

#define T0 1700000000
#define F(n, d) { (n), (d), 0, ENT_FILE, 0, 0 }
#define FT(n, d, t) { (n), (d), 0, ENT_FILE, (t), 0 }
#define FP(n, d, p) { (n), (d), 0, ENT_FILE, 0, (p) }
#define D(n) { (n), NULL, 0, ENT_DIR, 0, 0 }
#define ZEROS(n, z) { (n), NULL, (z), ENT_FILE, 0, 0 }
#define LINK(n, t) { (n), (t), 0, ENT_SYMLINK, 0, 0 }

#define DI "pkg-1.0.dist-info"
#define RECORD_TEXT "pkg/__init__.py,,\npkg/a.py,,\n" DI "/METADATA,,\n" DI "/RECORD,,\n"
#define METADATA_TEXT "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
#define INIT F("pkg/__init__.py", "from .a import x\n")
#define A F("pkg/a.py", "x = 1\n")
#define META F(DI "/METADATA", METADATA_TEXT)
#define RECORD F(DI "/RECORD", RECORD_TEXT)

static char dir[] = "/tmp/kiln-wheeldiff-XXXXXX";
static char build_path[sizeof(dir) + 32];
static char check_path[sizeof(dir) + 32];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(build_path, sizeof(build_path), "%s/build.whl", dir);
	snprintf(check_path, sizeof(check_path), "%s/check.whl", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(build_path);
	unlink(check_path);
	return rmdir(dir);
}

/* Write ents as a zip at path; options go to archive_write_set_options (or NULL). */
static void write_zip_opts(const char *path, const struct ent *ents, size_t n,
	const char *options)
{
	static const char zero[64 << 10];
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	if (options)
		assert_int_equal(archive_write_set_options(a, options), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *en = archive_entry_new();
		const struct ent *t = &ents[i];
		size_t len = t->data ? strlen(t->data) : t->zeros;

		archive_entry_set_pathname(en, t->name);
		archive_entry_set_mtime(en, t->mtime ? t->mtime : T0, 0);
		if (t->kind == ENT_DIR) {
			archive_entry_set_filetype(en, AE_IFDIR);
			archive_entry_set_perm(en, t->perm ? t->perm : 0755);
		} else if (t->kind == ENT_SYMLINK) {
			archive_entry_set_filetype(en, AE_IFLNK);
			archive_entry_set_perm(en, 0777);
			archive_entry_set_symlink(en, t->data);
		} else {
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_perm(en, t->perm ? t->perm : 0644);
			archive_entry_set_size(en, (la_int64_t)len);
		}
		assert_int_equal(archive_write_header(a, en), ARCHIVE_OK);
		if (t->kind == ENT_FILE && t->data) {
			assert_int_equal(archive_write_data(a, t->data, len), (la_ssize_t)len);
		} else if (t->kind == ENT_FILE) {
			for (size_t done = 0; done < len;) {
				size_t k = len - done < sizeof(zero) ? len - done : sizeof(zero);
				assert_int_equal(archive_write_data(a, zero, k), (la_ssize_t)k);
				done += k;
			}
		}
		archive_entry_free(en);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

#define WRITE(path, ...) do { \
	const struct ent ents_[] = { __VA_ARGS__ }; \
	write_zip_opts((path), ents_, ARRAY_LEN(ents_), NULL); \
} while (0)

#define WRITE_OPTS(path, opts, ...) do { \
	const struct ent ents_[] = { __VA_ARGS__ }; \
	write_zip_opts((path), ents_, ARRAY_LEN(ents_), (opts)); \
} while (0)

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The whole file at path, malloc'd; *n gets its size. */
static unsigned char *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	unsigned char *p;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	*n = (size_t)sb.st_size;
	p = malloc(*n + 64);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

/* Copy the file at from to to, byte for byte. */
static void copy_file(const char *from, const char *to)
{
	size_t n;
	unsigned char *p = read_all(from, &n);

	write_bytes(to, p, n);
	free(p);
}

/* Compare the two wheels with max_diffs and lim (NULL: the defaults); expect want. */
static void expect_lim(const struct wheel_limits *lim, size_t max_diffs, const char *want)
{
	struct wheel_limits def;
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	struct kerr e;
	cJSON *j = NULL;
	int rc;

	wheel_limits_default(&def);
	kerr_clear(&e);
	rc = wheeldiff_files(build_path, check_path, lim ? lim : &def, max_diffs, &out, &e);
	if (rc != 0)
		print_error("wheeldiff_files: %d %s\n", rc, e.msg);
	assert_int_equal(rc, 0);
	if (strcmp(out.ptr, want) != 0)
		print_error("got  %s\nwant %s\n", out.ptr, want);
	assert_string_equal(out.ptr, want);
	/* always one JSON array */
	assert_int_equal(json_parse(out.ptr, out.len, &j, NULL), 0);
	assert_true(cJSON_IsArray(j));
	cJSON_Delete(j);
	buf_release(&out);
}

static void expect(const char *want)
{
	expect_lim(NULL, WHEELDIFF_MAX_DIFFS, want);
}

/* Compare with lim (NULL: the defaults); expect code with needle in the message. */
static void expect_err(const struct wheel_limits *lim, int code, const char *needle)
{
	struct wheel_limits def;
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	struct kerr e;
	int rc;

	wheel_limits_default(&def);
	kerr_clear(&e);
	assert_int_equal(buf_puts(&out, "kept"), 0);
	rc = wheeldiff_files(build_path, check_path, lim ? lim : &def, WHEELDIFF_MAX_DIFFS,
		&out, &e);
	if (rc != code || !strstr(e.msg, needle))
		print_error("got %d '%s', want %d '%s'\n", rc, e.msg, code, needle);
	assert_int_equal(rc, code);
	assert_non_null(strstr(e.msg, needle));
	/* a failure leaves out as it was */
	assert_string_equal(out.ptr, "kept");
	buf_release(&out);
}

static void test_identical(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A, META, RECORD);
	copy_file(build_path, check_path);
	expect("[]");

	/* the same file twice */
	expect_lim(NULL, 0, "[]");
	{
		struct wheel_limits l;
		struct buf out = BUF_INIT(BUF_NOLIMIT);

		wheel_limits_default(&l);
		assert_int_equal(wheeldiff_files(build_path, build_path, &l, 1, &out, NULL), 0);
		assert_string_equal(out.ptr, "[]");
		buf_release(&out);
	}
}

static void test_appends(void **state)
{
	struct wheel_limits l;
	struct buf out = BUF_INIT(BUF_NOLIMIT);

	(void)state;
	wheel_limits_default(&l);
	WRITE(build_path, INIT, A);
	WRITE(check_path, INIT, F("pkg/a.py", "x = 2\n"));
	assert_int_equal(buf_puts(&out, "{\"members\":"), 0);
	assert_int_equal(wheeldiff_files(build_path, check_path, &l, 8, &out, NULL), 0);
	assert_string_equal(out.ptr, "{\"members\":[{\"member\":\"pkg/a.py\",\"what\":\"content\"}]");
	buf_release(&out);
}

static void test_content(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A, META, RECORD);
	WRITE(check_path, INIT, F("pkg/a.py", "x = 2\n"), META, RECORD);
	expect("[{\"member\":\"pkg/a.py\",\"what\":\"content\"}]");

	/* RECORD changes with it (sorted by name: '-' before '/') */
	WRITE(check_path, INIT, F("pkg/a.py", "x = 2\n"), META,
		F(DI "/RECORD", "pkg/__init__.py,,\npkg/a.py,sha256=x,6\n"));
	expect("[{\"member\":\"" DI "/RECORD\",\"what\":\"content\"},"
		"{\"member\":\"pkg/a.py\",\"what\":\"content\"}]");

	/* a content difference hides a metadata one */
	WRITE(check_path, INIT, FT("pkg/a.py", "x = 2\n", T0 + 100), META, RECORD);
	expect("[{\"member\":\"pkg/a.py\",\"what\":\"content\"}]");

	/* a symbolic link's target is its content */
	WRITE(build_path, INIT, LINK("pkg/l", "a.py"));
	WRITE(check_path, INIT, LINK("pkg/l", "b.py"));
	expect("[{\"member\":\"pkg/l\",\"what\":\"content\"}]");
}

static void test_large_member(void **state)
{
	(void)state;
	/* streamed through the chunk: several 64 KiB reads, one byte differs at the end */
	WRITE(build_path, INIT, ZEROS("pkg/big.bin", 300000), F("pkg/z", "a"));
	WRITE(check_path, INIT, ZEROS("pkg/big.bin", 300000), F("pkg/z", "b"));
	expect("[{\"member\":\"pkg/z\",\"what\":\"content\"}]");
	WRITE(check_path, INIT, ZEROS("pkg/big.bin", 300001), F("pkg/z", "a"));
	expect("[{\"member\":\"pkg/big.bin\",\"what\":\"content\"}]");
}

static void test_only_in_one(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A, F("pkg/old.py", "old\n"), META, RECORD);
	WRITE(check_path, INIT, A, F("pkg/new.py", "new\n"), META, RECORD);
	expect("[{\"member\":\"pkg/new.py\",\"what\":\"only-in-check\"},"
		"{\"member\":\"pkg/old.py\",\"what\":\"only-in-build\"}]");

	/* a directory entry is a member like the others */
	WRITE(build_path, D("pkg/"), INIT, A);
	WRITE(check_path, INIT, A);
	expect("[{\"member\":\"pkg/\",\"what\":\"only-in-build\"}]");

	/* a zip with no entry at all (no wheel is one): libarchive does not read it */
	{
		struct archive *a = archive_write_new();

		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
		assert_int_equal(archive_write_open_filename(a, check_path), ARCHIVE_OK);
		assert_int_equal(archive_write_close(a), ARCHIVE_OK);
		archive_write_free(a);
	}
	expect_err(NULL, KERR_INVAL, "check wheel: not a zip file");
}

static void test_metadata(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A, META, RECORD);
	WRITE(check_path, INIT, FT("pkg/a.py", "x = 1\n", T0 + 3600), META, RECORD);
	expect("[{\"member\":\"pkg/a.py\",\"what\":\"metadata\",\"fields\":[\"date\"]}]");

	WRITE(check_path, INIT, FP("pkg/a.py", "x = 1\n", 0755), META, RECORD);
	expect("[{\"member\":\"pkg/a.py\",\"what\":\"metadata\",\"fields\":[\"mode\"]}]");

	WRITE(check_path, FT("pkg/__init__.py", "from .a import x\n", T0 + 2),
		{ "pkg/a.py", "x = 1\n", 0, ENT_FILE, T0 - 2, 0600 }, META, RECORD);
	expect("[{\"member\":\"pkg/__init__.py\",\"what\":\"metadata\",\"fields\":[\"date\"]},"
		"{\"member\":\"pkg/a.py\",\"what\":\"metadata\",\"fields\":[\"date\",\"mode\"]}]");

	/* stored instead of deflated: the compression method */
	WRITE_OPTS(check_path, "zip:compression=store", INIT, A, META, RECORD);
	expect("[{\"member\":\"" DI "/METADATA\",\"what\":\"metadata\",\"fields\":[\"compression\"]},"
		"{\"member\":\"" DI "/RECORD\",\"what\":\"metadata\",\"fields\":[\"compression\"]},"
		"{\"member\":\"pkg/__init__.py\",\"what\":\"metadata\",\"fields\":[\"compression\"]},"
		"{\"member\":\"pkg/a.py\",\"what\":\"metadata\",\"fields\":[\"compression\"]}]");
}

static void test_order(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A, META, RECORD);
	WRITE(check_path, A, INIT, META, RECORD);
	expect("[{\"member\":\"\",\"what\":\"order\"}]");

	/* members in one wheel only do not count; the others still keep their order */
	WRITE(check_path, INIT, F("pkg/b.py", "b\n"), A, META, RECORD);
	expect("[{\"member\":\"pkg/b.py\",\"what\":\"only-in-check\"}]");

	/* after the member differences */
	WRITE(check_path, RECORD, INIT, F("pkg/a.py", "x = 2\n"), META);
	expect("[{\"member\":\"pkg/a.py\",\"what\":\"content\"},"
		"{\"member\":\"\",\"what\":\"order\"}]");
}

/* Give the zip at path an archive comment: what libarchive cannot see. */
static void add_comment(const char *path, const char *comment)
{
	size_t n, len = strlen(comment);
	unsigned char *p = read_all(path, &n);

	assert_true(n >= 22);
	assert_memory_equal(p + n - 22, "PK\005\006", 4);
	assert_int_equal(p[n - 2] | p[n - 1] << 8, 0);
	p[n - 2] = (unsigned char)len;
	memcpy(p + n, comment, len);
	write_bytes(path, p, n + len);
	free(p);
}

static void test_archive(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A, META, RECORD);
	WRITE(check_path, INIT, A, META, RECORD);
	add_comment(check_path, "built by someone else");
	expect("[{\"member\":\"\",\"what\":\"archive\"}]");

	/* a name stored twice is read from its last copy, at its first position */
	WRITE(build_path, F("pkg/a.py", "x = 0\n"), INIT, A);
	WRITE(check_path, A, INIT);
	expect("[{\"member\":\"\",\"what\":\"archive\"}]");
	WRITE(build_path, A, INIT, F("pkg/a.py", "x = 0\n"));
	expect("[{\"member\":\"pkg/a.py\",\"what\":\"content\"}]");
	WRITE(build_path, INIT, A, A);
	expect("[{\"member\":\"\",\"what\":\"order\"}]");
}

static void test_more(void **state)
{
	(void)state;
	WRITE(build_path, F("a", "1"), F("b", "1"), F("c", "1"), F("d", "1"), F("e", "1"));
	WRITE(check_path, F("a", "2"), F("b", "2"), F("c", "2"), F("d", "2"), F("e", "2"));
	expect_lim(NULL, 3, "[{\"member\":\"a\",\"what\":\"content\"},"
		"{\"member\":\"b\",\"what\":\"content\"},"
		"{\"member\":\"c\",\"what\":\"content\"},{\"more\":2}]");
	expect_lim(NULL, 0, "[{\"more\":5}]");
	expect_lim(NULL, 5, "[{\"member\":\"a\",\"what\":\"content\"},"
		"{\"member\":\"b\",\"what\":\"content\"},{\"member\":\"c\",\"what\":\"content\"},"
		"{\"member\":\"d\",\"what\":\"content\"},{\"member\":\"e\",\"what\":\"content\"}]");

	/* "order" is an entry like the others */
	WRITE(check_path, F("b", "2"), F("a", "1"), F("c", "1"), F("d", "1"), F("e", "1"));
	expect_lim(NULL, 1, "[{\"member\":\"b\",\"what\":\"content\"},{\"more\":1}]");
	expect_lim(NULL, 2, "[{\"member\":\"b\",\"what\":\"content\"},"
		"{\"member\":\"\",\"what\":\"order\"}]");
	expect_lim(NULL, 0, "[{\"more\":2}]");
	/* and so is "archive" */
	copy_file(build_path, check_path);
	add_comment(check_path, "x");
	expect_lim(NULL, 0, "[{\"more\":1}]");
}

static void test_many_members(void **state)
{
	struct wheel_limits l;

	(void)state;
	wheel_limits_default(&l);
	l.max_entries = 4;
	WRITE(build_path, INIT, A, META, RECORD);
	WRITE(check_path, INIT, A, META, RECORD, F("pkg/b.py", "b\n"));
	expect_err(&l, KERR_TOOBIG, "check wheel: more than 4 entries");
	l.max_entries = 5;
	expect_lim(&l, 8, "[{\"member\":\"pkg/b.py\",\"what\":\"only-in-check\"}]");
	l.max_entries = 3;
	expect_err(&l, KERR_TOOBIG, "build wheel: more than 3 entries");
}

static void test_many_bytes(void **state)
{
	struct wheel_limits l;

	(void)state;
	wheel_limits_default(&l);
	l.max_uncompressed = 100000;
	WRITE(build_path, INIT, A);
	WRITE(check_path, INIT, A, ZEROS("pkg/bomb", 100001));
	expect_err(&l, KERR_TOOBIG, "check wheel: decompresses to more than 100000 bytes");
	/* counted over all members, by what is decompressed */
	WRITE(check_path, INIT, A, ZEROS("pkg/b1", 50000), ZEROS("pkg/b2", 50000));
	expect_err(&l, KERR_TOOBIG, "check wheel: decompresses to more than 100000 bytes");
	l.max_uncompressed = 200000;
	expect_lim(&l, 8, "[{\"member\":\"pkg/b1\",\"what\":\"only-in-check\"},"
		"{\"member\":\"pkg/b2\",\"what\":\"only-in-check\"}]");

	/* the compression ratio, past the floor */
	wheel_limits_default(&l);
	WRITE(check_path, INIT, A, ZEROS("pkg/bomb", WHEEL_INSPECT_RATIO_FLOOR + 4096));
	expect_err(&l, KERR_TOOBIG, "check wheel: compression ratio exceeds 200");
}

static void test_not_a_zip(void **state)
{
	static const char text[] = "this is not a zip file, only text\n";
	unsigned char *p;
	size_t n;

	(void)state;
	WRITE(build_path, INIT, A);
	write_bytes(check_path, text, sizeof(text) - 1);
	expect_err(NULL, KERR_INVAL, "check wheel: not a zip file");
	write_bytes(check_path, "", 0);
	expect_err(NULL, KERR_INVAL, "check wheel: not a zip file: it is empty");

	/* truncated: no end of central directory */
	WRITE(check_path, INIT, F("pkg/a.py", "x = 2\n"));
	p = read_all(check_path, &n);
	write_bytes(check_path, p, n / 2);
	free(p);
	expect_err(NULL, KERR_INVAL, "check wheel: truncated zip file");

	/* a flipped data byte: the CRC */
	WRITE_OPTS(check_path, "zip:compression=store", INIT, F("pkg/a.py", "x = 2 # payload\n"));
	p = read_all(check_path, &n);
	{
		unsigned char *hit = memmem(p, n, "payload", 7);

		assert_non_null(hit);
		hit[0] ^= 0x20;
	}
	write_bytes(check_path, p, n);
	free(p);
	expect_err(NULL, KERR_INVAL, "check wheel: could not read entry 'pkg/a.py'");

	/* the build's side is named too */
	WRITE(check_path, INIT, A);
	write_bytes(build_path, text, sizeof(text) - 1);
	expect_err(NULL, KERR_INVAL, "build wheel: not a zip file");
}

static void test_io(void **state)
{
	(void)state;
	WRITE(build_path, INIT, A);
	unlink(check_path);
	expect_err(NULL, KERR_IO, "check wheel: could not open");
	assert_int_equal(mkdir(check_path, 0700), 0);
	expect_err(NULL, KERR_IO, "check wheel: '");
	assert_int_equal(rmdir(check_path), 0);
}

static void test_out_full(void **state)
{
	struct wheel_limits l;
	struct buf out = BUF_INIT(40);
	struct kerr e;

	(void)state;
	wheel_limits_default(&l);
	WRITE(build_path, INIT, A);
	WRITE(check_path, INIT, F("pkg/a.py", "x = 2\n"));
	assert_int_equal(buf_puts(&out, "kept"), 0);
	assert_int_equal(wheeldiff_files(build_path, check_path, &l, 8, &out, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "does not fit"));
	assert_string_equal(out.ptr, "kept");
	buf_release(&out);
}

/* Set the UTF-8 flag (general purpose bit 11) on every header of the zip at path. */
static void flag_utf8(const char *path)
{
	size_t n;
	unsigned char *p = read_all(path, &n);

	for (size_t i = 0; i + 46 <= n; i++) {
		if (memcmp(p + i, "PK\003\004", 4) == 0)
			p[i + 7] |= 0x08;
		else if (memcmp(p + i, "PK\001\002", 4) == 0)
			p[i + 9] |= 0x08;
	}
	write_bytes(path, p, n);
	free(p);
}

static void test_names(void **state)
{
	(void)state;
	/* quotes, backslashes and control characters are escaped */
	WRITE(build_path, INIT, F("pkg/\"q\\\t.py", "1"));
	WRITE(check_path, INIT, F("pkg/\"q\\\t.py", "2"));
	expect("[{\"member\":\"pkg/\\\"q\\\\\\t.py\",\"what\":\"content\"}]");

	/* valid UTF-8 passes as it is */
	WRITE(build_path, INIT, F("pkg/caf\xc3\xa9.py", "1"));
	WRITE(check_path, INIT, F("pkg/caf\xc3\xa9.py", "2"));
	expect("[{\"member\":\"pkg/caf\xc3\xa9.py\",\"what\":\"content\"}]");

	/* an unflagged name comes raw: its invalid bytes become \ufffd in the JSON */
	WRITE(build_path, INIT, F("pkg/bad\xff\xfe.py", "1"));
	WRITE(check_path, INIT, F("pkg/bad\xff\xfe.py", "2"));
	expect("[{\"member\":\"pkg/bad\\ufffd\\ufffd.py\",\"what\":\"content\"}]");

	/* a name flagged as UTF-8 that is not: unreadable, as for Python's zipfile */
	flag_utf8(check_path);
	expect_err(NULL, KERR_INVAL,
		"check wheel: entry 2 has a name flagged as UTF-8 that is not valid UTF-8");
	/* and a flagged one that is */
	WRITE(check_path, INIT, F("pkg/caf\xc3\xa9.py", "2"));
	flag_utf8(check_path);
	WRITE(build_path, INIT, F("pkg/caf\xc3\xa9.py", "1"));
	expect("[{\"member\":\"pkg/caf\xc3\xa9.py\",\"what\":\"content\"}]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_large_member),
		cmocka_unit_test(test_only_in_one),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_archive),
		cmocka_unit_test(test_more),
		cmocka_unit_test(test_many_members),
		cmocka_unit_test(test_many_bytes),
		cmocka_unit_test(test_not_a_zip),
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_out_full),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
