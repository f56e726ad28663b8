/*
 * Unit tests for builder/wheelout: only regular *.whl files at the top of the
 * output directory leave a build's archive. Each row builds a tar archive with
 * libarchive (entries a build could never make through Docker, such as
 * "../evil.whl", included), extracts it into a fresh directory and compares
 * what is there afterwards.
 */
#include "tests/unit/unit.h"

#include "builder/wheelout.h"
#include "common/kerr.h"

#include <archive.h>
#include <archive_entry.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { REG, DIR_, SYMLINK, HARDLINK, FIFO };

struct ent {
	enum kind kind;
	const char *path;
	const char *data; /* REG: contents; SYMLINK/HARDLINK: target */
};

#define W1 "good-1.0-py3-none-any.whl"
#define W2 "other-2.0-cp311-cp311-linux_x86_64.whl"

struct case_ {
	const char *name;
	struct ent ents[16];
	uint64_t max;
	int rc;
	const char *files;  /* what the directory holds afterwards, sorted, '|'-joined */
	size_t nignored;
};

static const struct case_ cases[] = {
	{ "one wheel", { { DIR_, "out/", NULL }, { REG, "out/" W1, "GOOD" } },
	  1000, 0, W1, 0 },
	{ "two wheels and the directory without a slash", {
		{ DIR_, "out", NULL }, { REG, "out/" W1, "a" }, { REG, "out/" W2, "b" } },
	  1000, 0, W1 "|" W2, 0 },
	{ "empty output", { { DIR_, "out/", NULL } }, 1000, 0, "", 0 },
	{ "path escapes", {
		{ DIR_, "out/", NULL },
		{ REG, "out/../evil-1.0-py3-none-any.whl", "x" },
		{ REG, "../evil-1.0-py3-none-any.whl", "x" },
		{ REG, "/tmp/evil-1.0-py3-none-any.whl", "x" },
		{ REG, "other/evil-1.0-py3-none-any.whl", "x" },
		{ REG, "outside-1.0-py3-none-any.whl", "x" },
		{ REG, "out/" W1, "GOOD" } },
	  1000, 0, W1, 5 },
	{ "links and special files", {
		{ REG, "out/" W1, "GOOD" },
		{ SYMLINK, "out/link-1.0-py3-none-any.whl", "/etc/passwd" },
		{ SYMLINK, "out/rel-1.0-py3-none-any.whl", "../../../../etc/passwd" },
		{ HARDLINK, "out/hard-1.0-py3-none-any.whl", "out/" W1 },
		{ FIFO, "out/fifo-1.0-py3-none-any.whl", NULL } },
	  1000, 0, W1, 4 },
	{ "nested and badly named files", {
		{ DIR_, "out/sub/", NULL },
		{ REG, "out/sub/nested-1.0-py3-none-any.whl", "x" },
		{ REG, "out/notes.txt", "x" },
		{ REG, "out/..evil.whl", "x" },
		{ REG, "out/bad name-1.0-py3-none-any.whl", "x" },
		{ REG, "out/good-1.0-py3-none-any.WHL", "x" },
		{ REG, "out/ctl\x1b[2J-1.0-py3-none-any.whl", "x" },
		{ REG, "out/" W2, "fine" } },
	  1000, 0, W2, 7 },
	{ "a duplicate is not written twice", {
		{ REG, "out/" W1, "first" }, { REG, "out/" W1, "second" } },
	  1000, 0, W1, 1 },
	{ "the cap counts all wheels", {
		{ REG, "out/" W1, "0123456789" }, { REG, "out/" W2, "0123456789" } },
	  15, KERR_TOOBIG, "", 0 },
	{ "exactly at the cap", {
		{ REG, "out/" W1, "0123456789" }, { REG, "out/" W2, "01234" } },
	  15, 0, W1 "|" W2, 0 },
};

/* The case's entries as a tar archive in an unlinked temp file, rewound. */
static int make_tar(const struct ent *ents)
{
	char path[] = "/tmp/kiln-test-wheelout-XXXXXX";
	int fd = mkstemp(path);
	struct archive *a = archive_write_new();

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (const struct ent *x = ents; x->path; x++) {
		struct archive_entry *e = archive_entry_new();
		size_t n = x->kind == REG ? strlen(x->data) : 0;

		archive_entry_set_pathname(e, x->path);
		archive_entry_set_perm(e, 0644);
		switch (x->kind) {
		case REG: archive_entry_set_filetype(e, AE_IFREG); break;
		case DIR_: archive_entry_set_filetype(e, AE_IFDIR); break;
		case SYMLINK:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, x->data);
			break;
		case HARDLINK:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, x->data);
			break;
		case FIFO: archive_entry_set_filetype(e, AE_IFIFO); break;
		}
		archive_entry_set_size(e, (la_int64_t)n);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (n)
			assert_int_equal(archive_write_data(a, x->data, n), (la_ssize_t)n);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's entries, sorted and '|'-joined, into out. */
static void list_dir(const char *dir, char *out, size_t n)
{
	char *names[64];
	size_t k = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			assert_true(k < 64);
			names[k++] = strdup(de->d_name);
		}
	closedir(d);
	qsort(names, k, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "|" : "", names[i]);
		free(names[i]);
	}
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct case_ *c = &cases[i];
		char dir[] = "/tmp/kiln-test-wheelout-dir-XXXXXX";
		char got[2048];
		struct wheelout w;
		struct kerr e;
		int fd = make_tar(c->ents), rc;

		assert_non_null(mkdtemp(dir));
		wheelout_init(&w);
		kerr_clear(&e);
		rc = wheelout_extract(fd, "out", dir, c->max, &w, &e);
		list_dir(dir, got, sizeof(got));
		if (rc != c->rc || strcmp(got, c->files) || w.nignored != c->nignored)
			fail_msg("case '%s': rc %d (want %d) files '%s' (want '%s') ignored %zu (want %zu)"
				 " msg '%s'", c->name, rc, c->rc, got, c->files, w.nignored, c->nignored,
				 e.msg);
		assert_int_equal(w.nwheels, rc ? 0 : (size_t)(*c->files ? 1 + !!strchr(c->files, '|') : 0));
		for (size_t k = 0; k < w.nignored && k < WHEELOUT_MAX_NOTES; k++)
			for (const char *p = w.ignored[k]; *p; p++)
				assert_true(*p >= 0x20 && *p < 0x7f); /* printable notes only */
		wheelout_release(&w);
		close(fd);
		rm_dir(dir);
	}
}

static void test_contents_and_no_clobber(void **state)
{
	static const struct ent ents[] = { { REG, "out/" W1, "NEW" }, { REG, NULL, NULL } };
	char dir[] = "/tmp/kiln-test-wheelout-dir-XXXXXX", victim[] = "/tmp/kiln-test-victim-XXXXXX";
	char link[256], buf[16];
	struct wheelout w;
	int fd, vfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	vfd = mkstemp(victim);
	assert_true(vfd >= 0);
	assert_int_equal(write(vfd, "OLD", 3), 3);
	close(vfd);
	/* A symlink already sitting where the wheel would go is not followed. */
	snprintf(link, sizeof(link), "%s/%s", dir, W1);
	assert_int_equal(symlink(victim, link), 0);
	fd = make_tar(ents);
	wheelout_init(&w);
	assert_int_equal(wheelout_extract(fd, "out", dir, 100, &w, NULL), 0);
	assert_int_equal(w.nwheels, 0);
	assert_int_equal(w.nignored, 1);
	assert_string_equal(w.ignored[0], "out/" W1 ": already exists");
	vfd = open(victim, O_RDONLY);
	assert_int_equal(read(vfd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "OLD", 3);
	close(vfd);
	close(fd);
	wheelout_release(&w);
	unlink(victim);
	rm_dir(dir);

	/* And a fresh directory gets the bytes. */
	memcpy(dir, "/tmp/kiln-test-wheelout-dir-XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/%s", dir, W1);
	fd = make_tar(ents);
	wheelout_init(&w);
	assert_int_equal(wheelout_extract(fd, "out", dir, 100, &w, NULL), 0);
	assert_int_equal(w.nwheels, 1);
	assert_string_equal(w.wheels[0], link);
	vfd = open(link, O_RDONLY);
	assert_int_equal(read(vfd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "NEW", 3);
	close(vfd);
	close(fd);
	wheelout_release(&w);
	rm_dir(dir);
}

static void test_not_a_tar(void **state)
{
	char dir[] = "/tmp/kiln-test-wheelout-dir-XXXXXX", path[] = "/tmp/kiln-test-junk-XXXXXX";
	struct wheelout w;
	struct kerr e;
	int fd = mkstemp(path);

	(void)state;
	assert_non_null(mkdtemp(dir));
	unlink(path);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, "this is no tar archive\n", 23), 23);
	lseek(fd, 0, SEEK_SET);
	wheelout_init(&w);
	assert_int_equal(wheelout_extract(fd, "out", dir, 100, &w, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "bad output archive"));
	wheelout_release(&w);
	close(fd);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_contents_and_no_clobber),
		cmocka_unit_test(test_not_a_tar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
