/*
 * storage: the driver-independent half of artifact storage (contract in
 * storage.h): opening the configured driver, checking every key before any
 * I/O, and dispatching to storage_fs.c or storage_s3.c.
 */
#include "common/storage.h"

#include "common/storage_driver.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int storage__char_ok(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-' || ch == '/';
}

/* Quote key into a message only if doing so cannot garble a terminal or a log. */
static int storage__printable(const char *key, size_t n)
{
	if (n > 200)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return 0;
	return 1;
}

static int storage__bad(struct kerr *e, const char *what, const char *s, size_t n,
			const char *why)
{
	if (storage__printable(s, n))
		return kerr_set(e, KERR_INVAL, "invalid %s '%s': %s", what, s, why);
	return kerr_set(e, KERR_INVAL, "invalid %s: %s", what, why);
}

/* Check the first n bytes of s (n <= strlen(s)) as a key; what names it in messages. */
static int storage__check(const char *s, size_t n, const char *what, struct kerr *e)
{
	size_t seg = 0;

	if (n == 0)
		return kerr_set(e, KERR_INVAL, "invalid %s: it is empty", what);
	if (n > STORAGE_KEY_MAX)
		return kerr_set(e, KERR_INVAL, "invalid %s: longer than %d bytes", what,
				STORAGE_KEY_MAX);
	if (s[0] == '/')
		return storage__bad(e, what, s, n, "must be relative (no leading '/')");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!storage__char_ok(ch)) {
			char why[96];
			snprintf(why, sizeof(why),
				 "byte 0x%02x at offset %zu is not allowed (use A-Z a-z 0-9 . _ / -)",
				 ch, i);
			return storage__bad(e, what, s, n, why);
		}
	}
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (i == seg)
			return storage__bad(e, what, s, n, "empty path segment");
		if ((i - seg == 1 && s[seg] == '.') ||
		    (i - seg == 2 && s[seg] == '.' && s[seg + 1] == '.'))
			return storage__bad(e, what, s, n, "'.' and '..' segments are not allowed");
		seg = i + 1;
	}
	return 0;
}

int storage_key_check(const char *key, struct kerr *e)
{
	if (!key)
		return kerr_set(e, KERR_INVAL, "invalid key: it is empty");
	return storage__check(key, strnlen(key, STORAGE_KEY_MAX + 1), "key", e);
}

int storage_key_valid(const char *key)
{
	return storage_key_check(key, NULL) == 0;
}

int storage__segment_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || (n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || !storage__char_ok((unsigned char)name[i]))
			return 0;
	return 1;
}

/* A list prefix: empty, or a key, or a key followed by one '/'. */
static int storage__prefix_check(const char *prefix, struct kerr *e)
{
	size_t n;

	if (!prefix || !*prefix)
		return 0;
	n = strnlen(prefix, STORAGE_KEY_MAX + 1);
	if (n <= STORAGE_KEY_MAX && n > 1 && prefix[n - 1] == '/')
		n--;
	return storage__check(prefix, n, "prefix", e);
}

int storage_open(const struct config *cfg, struct storage **out, struct kerr *e)
{
	struct storage *s = xcalloc(1, sizeof(*s));
	const char *driver = config_get(cfg, CONFIG_STORAGE);
	int rc;

	*out = NULL;
	s->mp_threshold = STORAGE_MULTIPART_THRESHOLD;
	s->mp_part = STORAGE_PART_SIZE;
	s->presign_ttl = (int)config_get_int(cfg, CONFIG_S3_PRESIGN_TTL);
	if (!strcmp(driver, "fs")) {
		rc = storage__fs_open(s, cfg, e);
	} else if (!strcmp(driver, "s3")) {
		rc = storage__s3_open(s, cfg, e);
	} else {
		rc = kerr_set(e, KERR_INVAL, "KILN_STORAGE must be s3 or fs, got '%s'", driver);
	}
	if (rc) {
		storage_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void storage_free(struct storage *s)
{
	if (!s)
		return;
	if (s->ops)
		s->ops->release(s);
	free(s);
}

const char *storage_driver_name(const struct storage *s)
{
	return s->ops->name;
}

int storage_set_multipart(struct storage *s, uint64_t threshold, uint64_t part_size,
			  struct kerr *e)
{
	if (threshold < 1 || part_size < STORAGE_PART_MIN)
		return kerr_set(e, KERR_INVAL,
				"multipart threshold must be at least 1 byte and parts at least %llu bytes",
				(unsigned long long)STORAGE_PART_MIN);
	s->mp_threshold = threshold;
	s->mp_part = part_size;
	return 0;
}

/* A Content-Type goes into an HTTP header: printable ASCII only, and short. */
static int storage__content_type_check(const char *ct, struct kerr *e)
{
	size_t n = ct ? strnlen(ct, 256) : 0;

	if (!ct)
		return 0;
	if (n == 0 || n > 255)
		return kerr_set(e, KERR_INVAL, "invalid content type: 1 to 255 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] > 0x7e)
			return kerr_set(e, KERR_INVAL, "invalid content type: byte 0x%02x is not "
					"printable ASCII", (unsigned char)ct[i]);
	return 0;
}

int storage_put_file(struct storage *s, const char *key, const char *path,
		     const char *content_type, struct kerr *e)
{
	struct stat st;
	int fd = -1, rc;

	rc = storage_key_check(key, e);
	if (!rc)
		rc = storage__content_type_check(content_type, e);
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = kerr_set(e, errno == ENOENT ? KERR_NOTFOUND : KERR_IO, "could not open '%s': %s",
			      path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = kerr_set(e, KERR_IO, "could not stat '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = kerr_set(e, KERR_INVAL, "'%s' is not a regular file", path);
		goto fail;
	}
	rc = s->ops->put_fd(s, key, fd, (uint64_t)st.st_size,
			    content_type ? content_type : "application/octet-stream", e);
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

int storage_put_mem(struct storage *s, const char *key, const void *p, size_t n,
		    const char *content_type, struct kerr *e)
{
	int rc = storage_key_check(key, e);
	if (!rc)
		rc = storage__content_type_check(content_type, e);
	if (rc)
		return rc;
	return s->ops->put_mem(s, key, n ? p : "", n,
			       content_type ? content_type : "application/octet-stream", e);
}

int storage_get(struct storage *s, const char *key, uint64_t offset, uint64_t length,
		storage_sink_fn sink, void *ctx, struct kerr *e)
{
	int rc = storage_key_check(key, e);
	if (rc)
		return rc;
	if (length && offset > UINT64_MAX - length)
		return kerr_set(e, KERR_INVAL, "range offset %llu + length %llu overflows",
				(unsigned long long)offset, (unsigned long long)length);
	return s->ops->get(s, key, offset, length, sink, ctx, e);
}

int storage_stat(struct storage *s, const char *key, uint64_t *size, struct kerr *e)
{
	int rc = storage_key_check(key, e);
	if (rc)
		return rc;
	return s->ops->stat(s, key, size, e);
}

int storage_delete(struct storage *s, const char *key, struct kerr *e)
{
	int rc = storage_key_check(key, e);
	if (rc)
		return rc;
	return s->ops->del(s, key, e);
}

int storage_list(struct storage *s, const char *prefix, storage_each_fn each, void *ctx,
		 struct kerr *e)
{
	int rc = storage__prefix_check(prefix, e);
	if (rc)
		return rc;
	return s->ops->list(s, prefix ? prefix : "", each, ctx, e);
}

int storage_presign_get(struct storage *s, const char *key, int expires_seconds,
			struct buf *url_out, struct kerr *e)
{
	int rc = storage_key_check(key, e);
	if (rc)
		return rc;
	if (!s->ops->presign_get)
		return kerr_set(e, KERR_INVAL, "the %s driver cannot presign", s->ops->name);
	return s->ops->presign_get(s, key, expires_seconds ? expires_seconds : s->presign_ttl,
				   url_out, e);
}

int storage_fs_path(struct storage *s, const char *key, struct buf *path_out, struct kerr *e)
{
	int rc = storage_key_check(key, e);
	if (rc)
		return rc;
	if (!s->fs_root)
		return kerr_set(e, KERR_INVAL, "the %s driver has no file paths", s->ops->name);
	if (buf_printf(path_out, "%s/%s", s->fs_root, key))
		return kerr_set(e, KERR_TOOBIG, "path of '%s' does not fit", key);
	return 0;
}
