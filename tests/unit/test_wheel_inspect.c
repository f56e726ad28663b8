/*
 * Unit tests for common/wheel_inspect. Every wheel is built at test time with
 * libarchive's zip writer in a temporary directory (no binary fixtures); the
 * hostile ones are either written that way or patched afterwards (a truncated
 * file, a flipped data byte, a central directory that lies about a size).
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/wheel_inspect.h"

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
	const char *data; /* a file's contents or a link's target */
	size_t zeros;     /* a file with data NULL: this many zero bytes */
	enum ent_kind kind;
};

#define F(n, d) { (n), (d), 0, ENT_FILE }
#define D(n) { (n), NULL, 0, ENT_DIR }
#define ZEROS(n, z) { (n), NULL, (z), ENT_FILE }
#define LINK(n, t) { (n), (t), 0, ENT_SYMLINK }

#define MiB ((size_t)1 << 20)

#define FILENAME "Foo_Bar-1.0-py3-none-any.whl"
#define DI "foo_bar-1.0.dist-info"
#define METADATA_TEXT \
	"Metadata-Version: 2.1\n" \
	"Name: Foo.Bar\n" \
	"Version: 1.0\n" \
	"Requires-Python: >=3.8\n" \
	"Summary: a test wheel\n" \
	"\n" \
	"The body is not headers.\n" \
	"Name: not-this-one\n"
#define WHEEL_TEXT \
	"Wheel-Version: 1.0\n" \
	"Generator: kiln-test\n" \
	"Root-Is-Purelib: true\n" \
	"Tag: py3-none-any\n"
#define RECORD_TEXT \
	"foo_bar/__init__.py,,\n" \
	DI "/METADATA,,\n" DI "/WHEEL,,\n" DI "/RECORD,,\n"

#define PKG D("foo_bar/"), F("foo_bar/__init__.py", "x = 1\n")
#define METADATA F(DI "/METADATA", METADATA_TEXT)
#define WHEEL F(DI "/WHEEL", WHEEL_TEXT)
#define RECORD F(DI "/RECORD", RECORD_TEXT)
#define GOOD PKG, METADATA, WHEEL, RECORD

static char dir[] = "/tmp/kiln-wheel-inspect-XXXXXX";
static char path[sizeof(dir) + 32]; /* the "uploaded" file: its name is not the wheel's */

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/upload.tmp", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

/* Write ents as a zip at path; options go to archive_write_set_options (or NULL). */
static void write_zip_opts(const struct ent *ents, size_t n, const char *options)
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
		archive_entry_set_mtime(en, 1700000000, 0);
		if (t->kind == ENT_DIR) {
			archive_entry_set_filetype(en, AE_IFDIR);
			archive_entry_set_perm(en, 0755);
		} else if (t->kind == ENT_SYMLINK) {
			archive_entry_set_filetype(en, AE_IFLNK);
			archive_entry_set_perm(en, 0777);
			archive_entry_set_symlink(en, t->data);
		} else {
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_perm(en, 0644);
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

static void write_zip(const struct ent *ents, size_t n)
{
	write_zip_opts(ents, n, NULL);
}

static void write_bytes(const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The whole file at path, malloc'd; *n gets its size. */
static unsigned char *read_all(size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	unsigned char *p;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	*n = (size_t)sb.st_size;
	p = malloc(*n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Run wheel_inspect on path as filename and expect code with needle in the message. */
static void check_reject_as(const char *filename, const struct wheel_limits *l, int code,
	const char *needle)
{
	struct wheel_limits def;
	struct wheel_info w;
	struct kerr e;

	if (!l) {
		wheel_limits_default(&def);
		l = &def;
	}
	wheel_info_init(&w);
	kerr_clear(&e);
	assert_int_equal(wheel_inspect(path, filename, l, &w, &e), code);
	if (!strstr(e.msg, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", e.msg, needle);
	/* a failure leaves *out empty */
	assert_int_equal(w.metadata.len, 0);
	assert_string_equal(w.name, "");
	assert_string_equal(w.dist_info, "");
	wheel_info_release(&w);
}

static void check_reject(const struct wheel_limits *l, int code, const char *needle)
{
	check_reject_as(FILENAME, l, code, needle);
}

/* Run wheel_inspect on path as FILENAME and expect it to pass. */
static void check_accept(const struct wheel_limits *l)
{
	struct wheel_info w;
	struct kerr e;

	wheel_info_init(&w);
	kerr_clear(&e);
	if (wheel_inspect(path, FILENAME, l, &w, &e) != 0) {
		wheel_info_release(&w);
		fail_msg("rejected: %s", e.msg);
	}
	wheel_info_release(&w);
}

#define REJECT(code, needle, ...) do { \
	const struct ent ents_[] = { __VA_ARGS__ }; \
	write_zip(ents_, ARRAY_LEN(ents_)); \
	check_reject(NULL, (code), (needle)); \
} while (0)

static void test_good_wheel(void **state)
{
	const struct ent ents[] = { GOOD };
	struct wheel_limits l;
	struct wheel_info w;
	struct kerr e;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	wheel_limits_default(&l);
	wheel_info_init(&w);
	kerr_clear(&e);
	assert_int_equal(wheel_inspect(path, FILENAME, &l, &w, &e), 0);
	assert_string_equal(e.msg, "");
	assert_string_equal(w.name, "Foo.Bar");
	assert_string_equal(w.version, "1.0");
	assert_string_equal(w.requires_python, ">=3.8");
	assert_string_equal(w.dist_info, DI);
	assert_int_equal(w.metadata.len, strlen(METADATA_TEXT));
	assert_memory_equal(w.metadata.ptr, METADATA_TEXT, strlen(METADATA_TEXT));
	assert_int_equal(w.entries, 5);
	assert_int_equal(w.uncompressed, strlen("x = 1\n") + strlen(METADATA_TEXT) +
		strlen(WHEEL_TEXT) + strlen(RECORD_TEXT));

	/* out is reusable: a second inspection replaces what it held */
	assert_int_equal(wheel_inspect(path, FILENAME, &l, &w, &e), 0);
	assert_int_equal(w.metadata.len, strlen(METADATA_TEXT));
	assert_int_equal(w.entries, 5);
	wheel_info_release(&w);
}

/* Names and versions compare normalized; headers fold, ignore case and take CRLF. */
static void test_normalized_comparisons(void **state)
{
	const struct ent ents[] = {
		F("Foo.Bar-1.0.0.dist-info/METADATA",
		  "metadata-version: 2.1\r\n"
		  "NAME:   foo-BAR  \r\n"
		  "version: v1.0\r\n"
		  "requires-python: >=3.8,\r\n"
		  "\t<4\r\n"
		  "\r\n"),
		F("Foo.Bar-1.0.0.dist-info/WHEEL", "wheel-version: 1.12\n"),
		F("Foo.Bar-1.0.0.dist-info/RECORD", ""),
		F("foo_bar/caf\xc3\xa9.py", ""),
	};
	struct wheel_limits l;
	struct wheel_info w;
	struct kerr e;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	wheel_limits_default(&l);
	wheel_info_init(&w);
	kerr_clear(&e);
	/* a non-ASCII name needs the C.UTF-8 locale (see wheel_inspect.h) */
	if (wheel_inspect(path, "foo.bar-01.0-py3-none-any.whl", &l, &w, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(w.name, "foo-BAR");
	assert_string_equal(w.version, "v1.0");
	assert_string_equal(w.requires_python, ">=3.8, <4");
	assert_string_equal(w.dist_info, "Foo.Bar-1.0.0.dist-info");
	wheel_info_release(&w);
}

static void test_no_requires_python(void **state)
{
	const struct ent ents[] = {
		PKG, F(DI "/METADATA", "Metadata-Version: 2.1\nName: foo_bar\nVersion: 1.0\n"),
		WHEEL, RECORD,
	};
	struct wheel_limits l;
	struct wheel_info w;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	wheel_limits_default(&l);
	wheel_info_init(&w);
	assert_int_equal(wheel_inspect(path, FILENAME, &l, &w, NULL), 0);
	assert_string_equal(w.requires_python, "");
	wheel_info_release(&w);
}

static void test_not_a_zip(void **state)
{
	unsigned char junk[4096];
	uint32_t x = 12345;
	struct archive *a;
	struct archive_entry *en;
	(void)state;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (unsigned char)(x >> 16);
	}
	junk[0] = 'J';
	write_bytes(junk, sizeof(junk));
	check_reject(NULL, KERR_INVAL, "not a zip file");

	write_bytes("", 0);
	check_reject(NULL, KERR_INVAL, "not a zip file: it is empty");

	/* a tar.gz holding a perfectly good wheel layout is still not a zip */
	a = archive_write_new();
	assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	en = archive_entry_new();
	archive_entry_set_pathname(en, DI "/METADATA");
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0644);
	archive_entry_set_size(en, (la_int64_t)strlen(METADATA_TEXT));
	assert_int_equal(archive_write_header(a, en), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, METADATA_TEXT, strlen(METADATA_TEXT)),
		(la_ssize_t)strlen(METADATA_TEXT));
	archive_entry_free(en);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	check_reject(NULL, KERR_INVAL, "not a zip file");
}

static void test_truncated_zip(void **state)
{
	const struct ent ents[] = { GOOD };
	size_t n;
	unsigned char *p;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	p = read_all(&n);
	write_bytes(p, n / 2);
	check_reject(NULL, KERR_INVAL, "truncated zip file");
	write_bytes(p, n - 5); /* only the end of the end record is lost */
	check_reject(NULL, KERR_INVAL, "truncated zip file");
	free(p);
}

static void test_dotdot_entry(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "unsafe entry name '../evil': '..' path segment",
		GOOD, F("../evil", "boom"));
	REJECT(KERR_INVAL, "unsafe entry name 'foo_bar/../../evil': '..' path segment",
		F("foo_bar/../../evil", "boom"), GOOD);
}

static void test_absolute_entry(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "unsafe entry name '/etc/cron.d/evil': absolute path",
		GOOD, F("/etc/cron.d/evil", "boom"));
}

static void test_unsafe_names(void **state)
{
	static const struct {
		const char *name;
		const char *why;
	} cases[] = {
		/* libarchive may turn a '\\' into '/', then the '..' is what fails */
		{ "foo_bar\\..\\evil", "unsafe entry name" },
		{ "C:/evil", "drive letter" },
		{ "c:evil", "drive letter" },
		{ "foo_bar/ev\x01il", "control character" },
		{ "foo_bar/evil\x7f", "control character" },
		{ "foo_bar/\xff\xfe", "not valid UTF-8" },
		{ "foo_bar/\xc0\xaf", "not valid UTF-8" }, /* an overlong '/' */
		{ "foo_bar//evil", "empty path segment" },
		{ "./evil", "'.' path segment" },
		{ "foo_bar/./evil", "'.' path segment" },
		{ "foo_bar/..", "'..' path segment" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct ent ents[] = { GOOD, F(cases[i].name, "boom") };

		write_zip(ents, ARRAY_LEN(ents));
		check_reject(NULL, KERR_INVAL, cases[i].why);
	}
}

static void test_symlink_entry(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "entry 'foo_bar/passwd' is a symbolic link",
		GOOD, LINK("foo_bar/passwd", "/etc/passwd"));
}

static void test_too_many_entries(void **state)
{
	const struct ent ents[] = {
		GOOD, F("foo_bar/a.py", ""), F("foo_bar/b.py", ""), F("foo_bar/c.py", ""),
	};
	struct wheel_limits l;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	wheel_limits_default(&l);
	l.max_entries = 7;
	check_reject(&l, KERR_TOOBIG, "wheel has more than 7 entries");
	l.max_entries = 8;
	check_accept(&l); /* exactly at the limit passes */
}

static const struct ent bomb[] = { GOOD, ZEROS("foo_bar/bomb.bin", 50 * MiB) };

static void test_zip_bomb_size(void **state)
{
	struct wheel_limits l;
	(void)state;

	write_zip(bomb, ARRAY_LEN(bomb));
	wheel_limits_default(&l);
	l.max_uncompressed = 20 * MiB;
	l.max_ratio = 1e9;
	check_reject(&l, KERR_TOOBIG, "wheel decompresses to more than 20971520 bytes");
}

static void test_zip_bomb_ratio(void **state)
{
	struct stat sb;
	(void)state;

	write_zip(bomb, ARRAY_LEN(bomb));
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size < 1 * (off_t)MiB); /* deflate makes 50 MiB of zeros tiny */
	check_reject(NULL, KERR_TOOBIG, "wheel compression ratio exceeds 200");
}

/*
 * Make the file at path claim that the entry name holds 100 bytes: in the
 * central directory and, unless central_only, in the local header too (when it
 * carries the size at all). Returns how many records were changed.
 */
static size_t lie_about_size(const char *name, int central_only)
{
	unsigned char *p;
	size_t n, i, patched = 0;

	p = read_all(&n);
	for (i = 0; i + 46 <= n; i++) {
		int central = memcmp(p + i, "PK\001\002", 4) == 0;
		/* where each record keeps the name length, the name and the size */
		size_t at_nlen = central ? 28 : 26, at_name = central ? 46 : 30;
		size_t at_size = central ? 24 : 22, nlen;

		if (!central && (central_only || memcmp(p + i, "PK\003\004", 4) != 0))
			continue;
		nlen = (size_t)p[i + at_nlen] | (size_t)p[i + at_nlen + 1] << 8;
		if (nlen != strlen(name) || memcmp(p + i + at_name, name, nlen) != 0)
			continue;
		if (central)
			assert_int_equal(get32(p + i + at_size), 50 * MiB);
		if (get32(p + i + at_size) != 0) {
			put32(p + i + at_size, 100);
			patched++;
		}
	}
	write_bytes(p, n);
	free(p);
	return patched;
}

/*
 * The headers say the bomb holds 100 bytes: the limits must be hit by counting
 * what is decompressed, before libarchive's own size check at the end of the
 * entry would fire.
 */
static void test_zip_bomb_lying_header(void **state)
{
	struct wheel_limits l;
	size_t patched;
	(void)state;

	write_zip(bomb, ARRAY_LEN(bomb));
	assert_true(lie_about_size("foo_bar/bomb.bin", 0) >= 1);
	wheel_limits_default(&l);
	l.max_uncompressed = 20 * MiB;
	l.max_ratio = 1e9;
	check_reject(&l, KERR_TOOBIG, "wheel decompresses to more than 20971520 bytes");
	check_reject(NULL, KERR_TOOBIG, "wheel compression ratio exceeds 200");

	/* a central directory that disagrees with the local header is corrupt */
	write_zip(bomb, ARRAY_LEN(bomb));
	patched = lie_about_size("foo_bar/bomb.bin", 1);
	assert_int_equal(patched, 1);
	check_reject(NULL, KERR_INVAL, "corrupt zip entry 'foo_bar/bomb.bin'");
}

static void test_corrupt_data(void **state)
{
	const struct ent ents[] = { GOOD, F("foo_bar/data.txt", "0123456789-kiln-marker") };
	unsigned char *p, *hit;
	size_t n;
	(void)state;

	write_zip_opts(ents, ARRAY_LEN(ents), "zip:compression=store");
	p = read_all(&n);
	hit = memmem(p, n, "kiln-marker", 11);
	assert_non_null(hit);
	hit[0] ^= 1;
	write_bytes(p, n);
	free(p);
	check_reject(NULL, KERR_INVAL, "could not read entry 'foo_bar/data.txt'");
}

static void test_missing_metadata(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "wheel has no '" DI "/METADATA'", PKG, WHEEL, RECORD);
	/* a METADATA directory is not a METADATA file */
	REJECT(KERR_INVAL, "wheel has no '" DI "/METADATA'", PKG, D(DI "/METADATA/"), WHEEL,
		RECORD);
}

static void test_metadata_name_mismatch(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "name 'Foo.Baz' in METADATA does not match the filename's 'foo-bar'",
		PKG, F(DI "/METADATA", "Metadata-Version: 2.1\nName: Foo.Baz\nVersion: 1.0\n"),
		WHEEL, RECORD);
}

static void test_metadata_version_mismatch(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "version '1.0.1' in METADATA does not match the filename's '1.0'",
		PKG, F(DI "/METADATA", "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0.1\n"),
		WHEEL, RECORD);
}

static void test_metadata_malformed(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ "Metadata-Version: 2.1\nVersion: 1.0\n\nName: foo-bar\n", "no Name field in METADATA" },
		{ "Name: foo-bar\n", "no Version field in METADATA" },
		{ "Name: foo bar\nVersion: 1.0\n", "invalid Name 'foo bar' in METADATA" },
		{ "Name: foo-bar\nVersion: one\n", "invalid Version 'one' in METADATA" },
		{ "Name: foo-bar\nName: foo-bar\nVersion: 1.0\n", "METADATA has more than one Name field" },
		{ "Name foo-bar\nVersion: 1.0\n", "malformed METADATA: line 1 is not a 'Field: value' line" },
		{ "Name : foo-bar\nVersion: 1.0\n", "malformed METADATA: line 1" },
		{ " Name: foo-bar\nVersion: 1.0\n", "malformed METADATA: line 1 continues no field" },
		{ "Name: foo-bar\nVersion: 1.0\nRequires-Python: >=3\x01\n", "control character" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct ent ents[] = { PKG, F(DI "/METADATA", cases[i].text), WHEEL, RECORD };

		write_zip(ents, ARRAY_LEN(ents));
		check_reject(NULL, KERR_INVAL, cases[i].why);
	}
}

static void test_two_dist_info(void **state)
{
	(void)state;
	REJECT(KERR_INVAL,
		"more than one .dist-info directory: '" DI "' and 'other-1.0.dist-info'",
		GOOD, F("other-1.0.dist-info/METADATA", "Name: other\nVersion: 1.0\n"));
	/* two spellings of the right one are still two */
	REJECT(KERR_INVAL, "more than one .dist-info directory",
		GOOD, F("Foo.Bar-1.0.dist-info/METADATA", METADATA_TEXT));
}

static void test_dist_info_mismatch(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, ".dist-info directory 'foo_baz-1.0.dist-info' does not match "
		"the filename's foo-bar 1.0",
		PKG, F("foo_baz-1.0.dist-info/METADATA", METADATA_TEXT),
		F("foo_baz-1.0.dist-info/WHEEL", WHEEL_TEXT), F("foo_baz-1.0.dist-info/RECORD", ""));
	REJECT(KERR_INVAL, ".dist-info directory 'foo_bar-2.0.dist-info' does not match",
		PKG, F("foo_bar-2.0.dist-info/METADATA", METADATA_TEXT),
		F("foo_bar-2.0.dist-info/WHEEL", WHEEL_TEXT), F("foo_bar-2.0.dist-info/RECORD", ""));
	REJECT(KERR_INVAL, "wheel has no .dist-info directory", PKG, F("foo_bar/METADATA", ""));
}

static void test_missing_wheel(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "wheel has no '" DI "/WHEEL'", PKG, METADATA, RECORD);
}

static void test_wheel_version(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "unsupported Wheel-Version '2.0' in WHEEL",
		PKG, METADATA, F(DI "/WHEEL", "Wheel-Version: 2.0\n"), RECORD);
	REJECT(KERR_INVAL, "unsupported Wheel-Version '1.' in WHEEL",
		PKG, METADATA, F(DI "/WHEEL", "Wheel-Version: 1.\n"), RECORD);
	REJECT(KERR_INVAL, "no Wheel-Version field in WHEEL",
		PKG, METADATA, F(DI "/WHEEL", "Generator: x\n\nWheel-Version: 1.0\n"), RECORD);
}

static void test_missing_record(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "wheel has no '" DI "/RECORD'", PKG, METADATA, WHEEL);
	/* RECORD must sit in the .dist-info directory */
	REJECT(KERR_INVAL, "wheel has no '" DI "/RECORD'", PKG, METADATA, WHEEL,
		F("foo_bar/RECORD", ""));
}

static void test_oversized_metadata(void **state)
{
	const struct ent ents[] = { GOOD };
	const struct ent big[] = { PKG, ZEROS(DI "/METADATA", 2 * MiB), WHEEL, RECORD };
	struct wheel_limits l;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	wheel_limits_default(&l);
	l.max_metadata = 64;
	check_reject(&l, KERR_TOOBIG, "'" DI "/METADATA' is larger than 64 bytes");

	write_zip(big, ARRAY_LEN(big));
	check_reject(NULL, KERR_TOOBIG, "'" DI "/METADATA' is larger than 1048576 bytes");
}

static void test_duplicate_metadata(void **state)
{
	(void)state;
	REJECT(KERR_INVAL, "duplicate entry '" DI "/METADATA'",
		GOOD, F(DI "/METADATA", "Name: foo-bar\nVersion: 6.6.6\n"));
}

static void test_bad_arguments(void **state)
{
	const struct ent ents[] = { GOOD };
	struct wheel_limits l;
	struct wheel_info w;
	struct kerr e;
	(void)state;

	write_zip(ents, ARRAY_LEN(ents));
	check_reject_as("foo_bar-1.0.tar.gz", NULL, KERR_INVAL, "invalid wheel filename");

	wheel_limits_default(&l);
	wheel_info_init(&w);
	assert_int_equal(wheel_inspect("/nonexistent/kiln/x.whl", FILENAME, &l, &w, &e), KERR_IO);
	assert_non_null(strstr(e.msg, "could not open '/nonexistent/kiln/x.whl'"));
	assert_int_equal(wheel_inspect(dir, FILENAME, &l, &w, &e), KERR_IO);
	assert_non_null(strstr(e.msg, "is not a regular file"));
	wheel_info_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_wheel),
		cmocka_unit_test(test_normalized_comparisons),
		cmocka_unit_test(test_no_requires_python),
		cmocka_unit_test(test_not_a_zip),
		cmocka_unit_test(test_truncated_zip),
		cmocka_unit_test(test_dotdot_entry),
		cmocka_unit_test(test_absolute_entry),
		cmocka_unit_test(test_unsafe_names),
		cmocka_unit_test(test_symlink_entry),
		cmocka_unit_test(test_too_many_entries),
		cmocka_unit_test(test_zip_bomb_size),
		cmocka_unit_test(test_zip_bomb_ratio),
		cmocka_unit_test(test_zip_bomb_lying_header),
		cmocka_unit_test(test_corrupt_data),
		cmocka_unit_test(test_missing_metadata),
		cmocka_unit_test(test_metadata_name_mismatch),
		cmocka_unit_test(test_metadata_version_mismatch),
		cmocka_unit_test(test_metadata_malformed),
		cmocka_unit_test(test_two_dist_info),
		cmocka_unit_test(test_dist_info_mismatch),
		cmocka_unit_test(test_missing_wheel),
		cmocka_unit_test(test_wheel_version),
		cmocka_unit_test(test_missing_record),
		cmocka_unit_test(test_oversized_metadata),
		cmocka_unit_test(test_duplicate_metadata),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
