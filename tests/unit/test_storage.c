/*
 * Unit tests for common/storage: key validation, the fs driver end to end in a
 * temporary directory (also from several threads at once), and what the s3
 * driver does without a server (configuration checks, presigned URLs, a
 * refused connection). The s3 driver against a real store is covered by
 * tests/integration/test_storage.py.
 */
#include "tests/unit/unit.h"

#include "common/storage.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];
static char storedir[128];

static int sink_buf(void *ctx, const void *p, size_t n)
{
	return buf_append(ctx, p, n);
}

static int sink_refuse(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return KERR_IO;
}

/* Collects "key size\n" lines. */
static int each_line(void *ctx, const char *key, uint64_t size)
{
	return buf_printf(ctx, "%s %llu\n", key, (unsigned long long)size);
}

static int each_stop(void *ctx, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	++*(int *)ctx;
	return KERR_CONFLICT;
}

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char sub[512];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Number of entries under path, recursively (directories count too). */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char sub[512];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		n++;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_entries(sub);
	}
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kiln-storage-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* Two levels that do not exist yet: storage_open makes them. */
	snprintf(storedir, sizeof(storedir), "%s/store/root", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(tmpdir);
	return 0;
}

static struct storage *open_fs(void)
{
	struct config c;
	struct storage *s = NULL;
	struct kerr e;

	config_init(&c);
	assert_int_equal(config_set(&c, "KILN_STORAGE", "fs", NULL), 0);
	assert_int_equal(config_set(&c, "KILN_STORAGE_DIR", storedir, NULL), 0);
	if (storage_open(&c, &s, &e))
		fail_msg("storage_open: %s", e.msg);
	config_release(&c);
	assert_string_equal(storage_driver_name(s), "fs");
	return s;
}

static struct storage *open_s3(const char *endpoint, const char *bucket, struct kerr *e,
			       int *rc)
{
	struct config c;
	struct storage *s = NULL;

	config_init(&c);
	assert_int_equal(config_set(&c, "KILN_STORAGE", "s3", NULL), 0);
	assert_int_equal(config_set(&c, "KILN_S3_ENDPOINT", endpoint, NULL), 0);
	assert_int_equal(config_set(&c, "KILN_S3_BUCKET", bucket, NULL), 0);
	*rc = storage_open(&c, &s, e);
	config_release(&c);
	return s;
}

static void test_key_check(void **state)
{
	static const char *const good[] = {
		"a", "a/b.whl", "wheels/numpy/numpy-2.0.0-cp311-cp311-linux_x86_64.whl",
		".hidden", "a/..b", "...", "a/b.", "A-Z_0.9",
	};
	static const struct {
		const char *key;
		const char *msg;
	} bad[] = {
		{ "", "invalid key: it is empty" },
		{ "/abs", "invalid key '/abs': must be relative (no leading '/')" },
		{ "../x", "invalid key '../x': '.' and '..' segments are not allowed" },
		{ "a/../../x", "'.' and '..' segments are not allowed" },
		{ "a//b", "invalid key 'a//b': empty path segment" },
		{ "a/./b", "invalid key 'a/./b': '.' and '..' segments are not allowed" },
		{ "a/..", "segments are not allowed" },
		{ ".", "segments are not allowed" },
		{ "..", "segments are not allowed" },
		{ "a/", "empty path segment" },
		{ "a b", "invalid key 'a b': byte 0x20 at offset 1 is not allowed" },
		{ "a\\b", "byte 0x5c at offset 1" },
		{ "a~", "byte 0x7e at offset 1" },
		{ "a%2e", "byte 0x25" },
		{ "a\nb", "invalid key: byte 0x0a at offset 1 is not allowed" },
		{ "\xd0\xba", "invalid key: byte 0xd0 at offset 0" },
	};
	char longkey[STORAGE_KEY_MAX + 2];
	struct kerr e;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		if (storage_key_check(good[i], &e))
			fail_msg("'%s' refused: %s", good[i], e.msg);
		assert_true(storage_key_valid(good[i]));
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(storage_key_check(bad[i].key, &e), KERR_INVAL);
		assert_false(storage_key_valid(bad[i].key));
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: got '%s', want '%s'", i, e.msg, bad[i].msg);
	}
	assert_int_equal(storage_key_check(NULL, &e), KERR_INVAL);
	memset(longkey, 'k', sizeof(longkey));
	longkey[STORAGE_KEY_MAX] = '\0';
	assert_int_equal(storage_key_check(longkey, &e), 0);
	longkey[STORAGE_KEY_MAX] = 'k';
	longkey[STORAGE_KEY_MAX + 1] = '\0';
	assert_int_equal(storage_key_check(longkey, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid key: longer than 1024 bytes");
}

static void test_fs_round_trip(void **state)
{
	struct storage *s = open_fs();
	struct buf out = BUF_INIT(BUF_NOLIMIT), path = BUF_INIT(BUF_NOLIMIT);
	uint64_t size = 0;
	struct kerr e;
	(void)state;

	assert_int_equal(storage_put_mem(s, "logs/job-1.txt", "hello, kiln", 11, "text/plain", &e), 0);
	assert_int_equal(storage_stat(s, "logs/job-1.txt", &size, &e), 0);
	assert_int_equal(size, 11);
	assert_int_equal(storage_get(s, "logs/job-1.txt", 0, 0, sink_buf, &out, &e), 0);
	assert_string_equal(out.ptr, "hello, kiln");
	buf_reset(&out);
	assert_int_equal(storage_get(s, "logs/job-1.txt", 7, 4, sink_buf, &out, &e), 0);
	assert_string_equal(out.ptr, "kiln");
	buf_reset(&out);
	assert_int_equal(storage_get(s, "logs/job-1.txt", 7, 0, sink_buf, &out, &e), 0);
	assert_string_equal(out.ptr, "kiln");
	buf_reset(&out);
	/* A range past the end stops at the end; one starting there is refused. */
	assert_int_equal(storage_get(s, "logs/job-1.txt", 5, 100, sink_buf, &out, &e), 0);
	assert_string_equal(out.ptr, ", kiln");
	buf_reset(&out);
	assert_int_equal(storage_get(s, "logs/job-1.txt", 11, 0, sink_buf, &out, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "past its end"));
	/* Overwrite, then read back. */
	assert_int_equal(storage_put_mem(s, "logs/job-1.txt", "v2", 2, NULL, &e), 0);
	assert_int_equal(storage_get(s, "logs/job-1.txt", 0, 0, sink_buf, &out, &e), 0);
	assert_string_equal(out.ptr, "v2");
	buf_reset(&out);
	/* Empty objects. */
	assert_int_equal(storage_put_mem(s, "empty", NULL, 0, NULL, &e), 0);
	assert_int_equal(storage_stat(s, "empty", &size, &e), 0);
	assert_int_equal(size, 0);
	assert_int_equal(storage_get(s, "empty", 0, 0, sink_buf, &out, &e), 0);
	assert_int_equal(out.len, 0);
	/* A sink that refuses stops the transfer with its code. */
	assert_int_equal(storage_get(s, "logs/job-1.txt", 0, 0, sink_refuse, NULL, &e), KERR_IO);
	assert_non_null(strstr(e.msg, "refused the data"));

	assert_int_equal(storage_fs_path(s, "logs/job-1.txt", &path, &e), 0);
	assert_true(path.ptr[0] == '/');
	assert_non_null(strstr(path.ptr, "/store/root/logs/job-1.txt"));
	assert_true(access(path.ptr, R_OK) == 0);
	buf_reset(&out);
	assert_int_equal(storage_presign_get(s, "logs/job-1.txt", 60, &out, &e), KERR_INVAL);
	assert_string_equal(e.msg, "the fs driver cannot presign");

	assert_int_equal(storage_delete(s, "logs/job-1.txt", &e), 0);
	assert_int_equal(storage_delete(s, "logs/job-1.txt", &e), 0);
	assert_int_equal(storage_delete(s, "never/was", &e), 0);
	assert_int_equal(storage_delete(s, "empty", &e), 0);
	assert_int_equal(storage_stat(s, "logs/job-1.txt", &size, &e), KERR_NOTFOUND);
	assert_int_equal(storage_get(s, "logs/job-1.txt", 0, 0, sink_buf, &out, &e), KERR_NOTFOUND);
	assert_string_equal(e.msg, "object 'logs/job-1.txt' not found");
	/* The emptied directory went with its last object. */
	assert_int_equal(count_entries(storedir), 0);
	buf_reset(&out);
	assert_int_equal(storage_list(s, "", each_line, &out, &e), 0);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	buf_release(&path);
	storage_free(s);
}

static void test_fs_put_file(void **state)
{
	struct storage *s = open_fs();
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	char src[256];
	size_t n = 3 * (256u << 10) + 12345;
	unsigned char *data = malloc(n);
	uint64_t size;
	struct kerr e;
	FILE *f;
	(void)state;

	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + i / 1000);
	snprintf(src, sizeof(src), "%s/src.bin", tmpdir);
	f = fopen(src, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);

	assert_int_equal(storage_put_file(s, "wheels/x/x-1.0-py3-none-any.whl", src, NULL, &e), 0);
	assert_int_equal(storage_stat(s, "wheels/x/x-1.0-py3-none-any.whl", &size, &e), 0);
	assert_int_equal(size, n);
	assert_int_equal(storage_get(s, "wheels/x/x-1.0-py3-none-any.whl", 0, 0, sink_buf, &out, &e), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.ptr, data, n);
	buf_reset(&out);
	assert_int_equal(storage_get(s, "wheels/x/x-1.0-py3-none-any.whl", 250000, 500000,
				     sink_buf, &out, &e), 0);
	assert_int_equal(out.len, 500000);
	assert_memory_equal(out.ptr, data + 250000, 500000);

	assert_int_equal(storage_put_file(s, "k", "/nonexistent/file", NULL, &e), KERR_NOTFOUND);
	assert_non_null(strstr(e.msg, "could not open '/nonexistent/file'"));
	assert_int_equal(storage_put_file(s, "k", tmpdir, NULL, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "is not a regular file"));
	assert_int_equal(storage_stat(s, "k", &size, &e), KERR_NOTFOUND);

	/* A file where a directory must go, and the other way round. */
	assert_int_equal(storage_put_file(s, "wheels/x/x-1.0-py3-none-any.whl/y", src, NULL, &e),
			 KERR_CONFLICT);
	assert_non_null(strstr(e.msg, "conflicts"));
	assert_int_equal(storage_put_mem(s, "wheels/x", "z", 1, NULL, &e), KERR_CONFLICT);
	/* "wheels" is a directory, not an object. */
	assert_int_equal(storage_stat(s, "wheels", &size, &e), KERR_NOTFOUND);
	assert_int_equal(storage_delete(s, "wheels", &e), 0);

	assert_int_equal(storage_delete(s, "wheels/x/x-1.0-py3-none-any.whl", &e), 0);
	assert_int_equal(count_entries(storedir), 0);
	unlink(src);
	free(data);
	buf_release(&out);
	storage_free(s);
}

static void test_fs_rejects_bad_keys_before_io(void **state)
{
	static const char *const bad[] = { "../x", "/abs", "a//b", "a/./b", "..", "a/../../x",
					   "x\n", "" };
	struct storage *s = open_fs();
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	char outside[256];
	uint64_t size;
	struct kerr e;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(storage_put_mem(s, bad[i], "x", 1, NULL, &e), KERR_INVAL);
		assert_non_null(strstr(e.msg, "invalid key"));
		assert_int_equal(storage_put_file(s, bad[i], "/etc/hostname", NULL, &e), KERR_INVAL);
		assert_int_equal(storage_get(s, bad[i], 0, 0, sink_buf, &out, &e), KERR_INVAL);
		assert_int_equal(storage_stat(s, bad[i], &size, &e), KERR_INVAL);
		assert_int_equal(storage_delete(s, bad[i], &e), KERR_INVAL);
		assert_int_equal(storage_fs_path(s, bad[i], &out, &e), KERR_INVAL);
	}
	assert_int_equal(out.len, 0);
	assert_int_equal(count_entries(storedir), 0);
	/* "../x" from the root would be store/x: nothing there. */
	snprintf(outside, sizeof(outside), "%s/store/x", tmpdir);
	assert_int_not_equal(access(outside, F_OK), 0);
	assert_int_equal(storage_list(s, "../", each_line, &out, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "invalid prefix '../'"));
	assert_int_equal(storage_list(s, "a//", each_line, &out, &e), KERR_INVAL);
	assert_int_equal(storage_list(s, "/", each_line, &out, &e), KERR_INVAL);
	buf_release(&out);
	storage_free(s);
}

static void test_fs_list(void **state)
{
	static const char *const keys[] = { "b", "a/c/d", "ab", "a-c", "a/b" };
	struct storage *s = open_fs();
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	char stray[256];
	struct kerr e;
	int calls = 0;
	FILE *f;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		assert_int_equal(storage_put_mem(s, keys[i], keys[i], strlen(keys[i]), NULL, &e), 0);
	/* A leftover temporary file and a name no key can have are not listed. */
	snprintf(stray, sizeof(stray), "%s/a/.kiln~abcdef", storedir);
	f = fopen(stray, "w");
	fclose(f);
	snprintf(stray, sizeof(stray), "%s/a/has space", storedir);
	f = fopen(stray, "w");
	fclose(f);

	/* Byte order of whole keys: '-' < '/' < 'b'. */
	assert_int_equal(storage_list(s, "", each_line, &out, &e), 0);
	assert_string_equal(out.ptr, "a-c 3\na/b 3\na/c/d 5\nab 2\nb 1\n");
	buf_reset(&out);
	assert_int_equal(storage_list(s, NULL, each_line, &out, &e), 0);
	assert_string_equal(out.ptr, "a-c 3\na/b 3\na/c/d 5\nab 2\nb 1\n");
	buf_reset(&out);
	assert_int_equal(storage_list(s, "a/", each_line, &out, &e), 0);
	assert_string_equal(out.ptr, "a/b 3\na/c/d 5\n");
	buf_reset(&out);
	assert_int_equal(storage_list(s, "a", each_line, &out, &e), 0);
	assert_string_equal(out.ptr, "a-c 3\na/b 3\na/c/d 5\nab 2\n");
	buf_reset(&out);
	assert_int_equal(storage_list(s, "a/c", each_line, &out, &e), 0);
	assert_string_equal(out.ptr, "a/c/d 5\n");
	buf_reset(&out);
	assert_int_equal(storage_list(s, "a/c/d", each_line, &out, &e), 0);
	assert_string_equal(out.ptr, "a/c/d 5\n");
	buf_reset(&out);
	assert_int_equal(storage_list(s, "zz/", each_line, &out, &e), 0);
	assert_int_equal(out.len, 0);
	/* The callback stops the walk with its own code. */
	assert_int_equal(storage_list(s, "", each_stop, &calls, &e), KERR_CONFLICT);
	assert_int_equal(calls, 1);
	buf_release(&out);
	storage_free(s);
}

struct worker {
	struct storage *s;
	int id;
	int failures;
	char msg[KERR_MSG_MAX];
};

/* Put, read back and delete in one shared directory, racing the others' deletes. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	struct kerr e;

	for (int i = 0; i < 50; i++) {
		char key[64], val[64];
		snprintf(key, sizeof(key), "shared/dir/w%d-%d", w->id, i);
		snprintf(val, sizeof(val), "value %d %d", w->id, i);
		buf_reset(&out);
		if (storage_put_mem(w->s, key, val, strlen(val), NULL, &e) ||
		    storage_get(w->s, key, 0, 0, sink_buf, &out, &e) ||
		    storage_delete(w->s, key, &e)) {
			w->failures++;
			snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
			continue;
		}
		if (strcmp(out.ptr, val)) {
			w->failures++;
			snprintf(w->msg, sizeof(w->msg), "read '%s', wrote '%s'", out.ptr, val);
		}
	}
	buf_release(&out);
	return NULL;
}

static void test_fs_threads(void **state)
{
	struct storage *s = open_fs();
	struct worker w[8];
	pthread_t t[8];
	(void)state;

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ s, i, 0, "" };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		if (w[i].failures)
			fail_msg("worker %d: %d failures, last: %s", i, w[i].failures, w[i].msg);
	}
	assert_int_equal(count_entries(storedir), 0);
	storage_free(s);
}

static void test_open_errors(void **state)
{
	struct config c;
	struct storage *s = NULL;
	struct kerr e;
	char file[256];
	FILE *f;
	int rc;
	(void)state;

	config_init(&c);
	assert_int_equal(config_set(&c, "KILN_STORAGE", "gcs", &e), KERR_INVAL);
	assert_string_equal(e.msg, "KILN_STORAGE must be s3 or fs, got 'gcs'");
	assert_int_equal(config_set(&c, "KILN_S3_PRESIGN_TTL", "0", &e), KERR_INVAL);
	assert_int_equal(config_set(&c, "KILN_S3_PRESIGN_TTL", "604801", &e), KERR_INVAL);
	/* The fs root must be a directory. */
	snprintf(file, sizeof(file), "%s/plain-file", tmpdir);
	f = fopen(file, "w");
	fclose(f);
	config_set(&c, "KILN_STORAGE", "fs", NULL);
	config_set(&c, "KILN_STORAGE_DIR", file, NULL);
	assert_int_not_equal(storage_open(&c, &s, &e), 0);
	assert_null(s);
	config_release(&c);
	unlink(file);

	s = open_s3("ftp://example.com", "kiln", &e, &rc);
	assert_int_equal(rc, KERR_INVAL);
	assert_null(s);
	assert_non_null(strstr(e.msg, "must start with http:// or https://"));
	s = open_s3("http://user:pw@example.com", "kiln", &e, &rc);
	assert_int_equal(rc, KERR_INVAL);
	s = open_s3("http://", "kiln", &e, &rc);
	assert_int_equal(rc, KERR_INVAL);
	s = open_s3("http://127.0.0.1:8333", "../etc", &e, &rc);
	assert_int_equal(rc, KERR_INVAL);
	assert_non_null(strstr(e.msg, "not a valid bucket name"));
	s = open_s3("http://127.0.0.1:8333", "a/b", &e, &rc);
	assert_int_equal(rc, KERR_INVAL);
}

static void test_s3_presign_and_limits(void **state)
{
	struct buf url = BUF_INIT(BUF_NOLIMIT);
	struct storage *s;
	struct kerr e;
	int rc;
	(void)state;

	s = open_s3("http://127.0.0.1:8333/", "kiln", &e, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(storage_driver_name(s), "s3");
	assert_int_equal(storage_presign_get(s, "wheels/a-1.0.whl", 0, &url, &e), 0);
	if (strncmp(url.ptr, "http://127.0.0.1:8333/kiln/wheels/a-1.0.whl?X-Amz-Algorithm="
		    "AWS4-HMAC-SHA256&X-Amz-Credential=kiln%2F", 83))
		fail_msg("url: %s", url.ptr);
	assert_non_null(strstr(url.ptr, "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="));
	assert_non_null(strstr(url.ptr, "&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature="));
	assert_null(strstr(url.ptr, "kiln-local-secret"));
	buf_reset(&url);
	assert_int_equal(storage_presign_get(s, "k", 60, &url, &e), 0);
	assert_non_null(strstr(url.ptr, "X-Amz-Expires=60&"));
	buf_reset(&url);
	assert_int_equal(storage_presign_get(s, "k", 700000, &url, &e), KERR_INVAL);
	assert_int_equal(storage_presign_get(s, "../k", 60, &url, &e), KERR_INVAL);
	assert_int_equal(storage_fs_path(s, "k", &url, &e), KERR_INVAL);
	assert_string_equal(e.msg, "the s3 driver has no file paths");
	assert_int_equal(storage_set_multipart(s, 1, STORAGE_PART_MIN - 1, &e), KERR_INVAL);
	assert_int_equal(storage_set_multipart(s, 0, STORAGE_PART_MIN, &e), KERR_INVAL);
	assert_int_equal(storage_set_multipart(s, 1, STORAGE_PART_MIN, &e), 0);
	storage_free(s);

	/* A default port is dropped, as HTTP clients drop it from Host; a path prefix stays. */
	s = open_s3("https://s3.example.test:443/store/", "b", &e, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(storage_presign_get(s, "k", 60, &url, &e), 0);
	assert_true(!strncmp(url.ptr, "https://s3.example.test/store/b/k?X-Amz-", 40));
	storage_free(s);
	buf_release(&url);
}

/* Presigned URLs name the public endpoint and sign its Host and path prefix. */
static void test_s3_public_endpoint(void **state)
{
	struct buf url = BUF_INIT(BUF_NOLIMIT);
	struct storage *s = NULL;
	struct config c;
	struct kerr e;
	(void)state;

	config_init(&c);
	assert_int_equal(config_set(&c, "KILN_STORAGE", "s3", NULL), 0);
	assert_int_equal(config_set(&c, "KILN_S3_ENDPOINT", "http://seaweedfs:8333", NULL), 0);
	assert_int_equal(config_set(&c, "KILN_S3_PUBLIC_ENDPOINT", "https://kiln.example:443/s3/", NULL), 0);
	assert_int_equal(storage_open(&c, &s, &e), 0);
	assert_int_equal(storage_presign_get(s, "wheels/a-1.0.whl", 60, &url, &e), 0);
	if (strncmp(url.ptr, "https://kiln.example/s3/kiln/wheels/a-1.0.whl?X-Amz-", 52))
		fail_msg("url: %s", url.ptr);
	storage_free(s);
	s = NULL;

	assert_int_equal(config_set(&c, "KILN_S3_PUBLIC_ENDPOINT", "ftp://kiln.example", NULL), 0);
	assert_int_equal(storage_open(&c, &s, &e), KERR_INVAL);
	assert_null(s);
	assert_string_equal(e.msg, "KILN_S3_PUBLIC_ENDPOINT must start with http:// or https://, "
				   "got 'ftp://kiln.example'");
	config_release(&c);
	buf_release(&url);
}

static void test_s3_unreachable(void **state)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	struct storage *s;
	uint64_t size;
	struct kerr e;
	int rc;
	(void)state;

	/* Port 9 (discard) on loopback: nothing listens, the connection is refused. */
	s = open_s3("http://127.0.0.1:9", "kiln", &e, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(storage_stat(s, "k", &size, &e), KERR_AGAIN);
	assert_non_null(strstr(e.msg, "stat 'k': could not reach s3 at http://127.0.0.1:9"));
	assert_int_equal(storage_get(s, "k", 0, 0, sink_buf, &out, &e), KERR_AGAIN);
	assert_int_equal(storage_put_mem(s, "../k", "x", 1, NULL, &e), KERR_INVAL);
	buf_release(&out);
	storage_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_check),
		cmocka_unit_test_setup_teardown(test_fs_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_put_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_rejects_bad_keys_before_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test(test_s3_presign_and_limits),
		cmocka_unit_test(test_s3_public_endpoint),
		cmocka_unit_test(test_s3_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
