/*
 * storage_fs: the fs storage driver, objects as plain files under a root
 * directory (contract in storage.h).
 *
 * A put writes "<dir>/.kiln~XXXXXX" (a name no key can have: '~' is not a key
 * character), fsyncs it, renames it over the target and fsyncs the directory,
 * so readers see the old object or the new one, never a part. A delete removes
 * directories it leaves empty, so a put that finds a directory gone (between two
 * mkdirs, or between mkdir and mkstemp) simply tries again.
 */
#include "common/fdio.h"
#include "common/storage_driver.h"

#include "common/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FS__TMP_NAME ".kiln~XXXXXX"
/* How often a put makes its directories again after a concurrent delete removed them. */
#define FS__PUT_TRIES 16

static int fs__errno_code(int err)
{
	switch (err) {
	case ENOENT:
		return KERR_NOTFOUND;
	case ENAMETOOLONG:
		return KERR_INVAL;
	case ENOTDIR:
	case EISDIR:
	case EEXIST:
		return KERR_CONFLICT;
	case ENOSPC:
	case EDQUOT:
		return KERR_TOOBIG;
	default:
		return KERR_IO;
	}
}

static int fs__fail(struct kerr *e, const char *what, const char *path, int err)
{
	if (err == ENAMETOOLONG)
		return kerr_set(e, KERR_INVAL, "could not %s '%s': a key segment is too long for "
				"the fs driver (%d bytes at most)", what, path, NAME_MAX);
	if (err == ENOTDIR || err == EISDIR || err == EEXIST)
		return kerr_set(e, KERR_CONFLICT, "could not %s '%s': the key conflicts with an "
				"existing object or directory (the fs driver cannot hold both "
				"'a' and 'a/b')", what, path);
	return kerr_set(e, fs__errno_code(err), "could not %s '%s': %s", what, path,
			strerror(err));
}

/* mkdir -p for the directories of path below the root (which exists). */
static int fs__mkdirs(const struct storage *s, char *path, struct kerr *e)
{
	size_t rootlen = strlen(s->fs_root);

	for (char *p = path + rootlen + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int err = errno;
			int rc = fs__fail(e, "create directory", path, err);
			*p = '/';
			return rc;
		}
		*p = '/';
	}
	return 0;
}

static int fs__fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Write an object: from src_fd (size bytes) if src_fd >= 0, else n bytes at p.
 * The temporary file is removed on any failure.
 */
static int fs__put(struct storage *s, const char *key, int src_fd, uint64_t size,
		   const void *p, size_t n, struct kerr *e)
{
	struct buf path = BUF_INIT(BUF_NOLIMIT), tmp = BUF_INIT(BUF_NOLIMIT);
	char *chunk = NULL;
	int fd = -1, rc = 0, tries;
	size_t dirlen;

	buf_printf(&path, "%s/%s", s->fs_root, key);
	dirlen = (size_t)(strrchr(path.ptr, '/') - path.ptr);
	for (tries = 0;; tries++) {
		rc = fs__mkdirs(s, path.ptr, e);
		/* A concurrent delete removed a parent between two of its mkdirs: again. */
		if (rc == KERR_NOTFOUND && tries < FS__PUT_TRIES)
			continue;
		if (rc)
			goto fail;
		buf_reset(&tmp);
		buf_append(&tmp, path.ptr, dirlen);
		buf_puts(&tmp, "/" FS__TMP_NAME);
		fd = mkstemp(tmp.ptr);
		if (fd >= 0)
			break;
		/* A concurrent delete removed the now empty directory: make it again. */
		if (errno != ENOENT || tries >= FS__PUT_TRIES) {
			rc = fs__fail(e, "create a temporary file for", path.ptr, errno);
			buf_reset(&tmp);
			goto fail;
		}
	}
	if (fchmod(fd, 0644) < 0) {
		rc = fs__fail(e, "set the mode of", tmp.ptr, errno);
		goto fail;
	}
	if (src_fd >= 0) {
		uint64_t off = 0;
		chunk = xmalloc(STORAGE__CHUNK);
		while (off < size) {
			size_t want = size - off < STORAGE__CHUNK ? (size_t)(size - off) : STORAGE__CHUNK;
			ssize_t got = pread(src_fd, chunk, want, (off_t)off);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				rc = got < 0 ? kerr_set(e, KERR_IO, "could not read the file for '%s': %s",
							key, strerror(errno))
					     : kerr_set(e, KERR_IO, "the file for '%s' shrank while "
							"being stored", key);
				goto fail;
			}
			if (fdio_write_all(fd, chunk, (size_t)got) < 0) {
				rc = fs__fail(e, "write", tmp.ptr, errno);
				goto fail;
			}
			off += (uint64_t)got;
		}
	} else if (fdio_write_all(fd, p, n) < 0) {
		rc = fs__fail(e, "write", tmp.ptr, errno);
		goto fail;
	}
	if (fsync(fd) < 0) {
		rc = fs__fail(e, "fsync", tmp.ptr, errno);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = fs__fail(e, "close", tmp.ptr, errno);
		goto fail;
	}
	fd = -1;
	if (rename(tmp.ptr, path.ptr) < 0) {
		rc = fs__fail(e, "store", path.ptr, errno);
		goto fail;
	}
	buf_reset(&tmp); /* renamed: nothing to clean up */
	path.ptr[dirlen] = '\0';
	if (fs__fsync_dir(path.ptr) < 0)
		rc = fs__fail(e, "fsync directory", path.ptr, errno);
fail:
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.ptr);
	free(chunk);
	buf_release(&path);
	buf_release(&tmp);
	return rc;
}

static int fs__put_fd(struct storage *s, const char *key, int fd, uint64_t size,
		      const char *content_type, struct kerr *e)
{
	return fs__put(s, key, fd, size, NULL, 0, e);
}

static int fs__put_mem(struct storage *s, const char *key, const void *p, size_t n,
		       const char *content_type, struct kerr *e)
{
	return fs__put(s, key, -1, 0, p, n, e);
}

/* Open key's file for reading: a regular file, not reached through a final symlink. */
static int fs__open(struct storage *s, const char *key, int *fdp, struct stat *st,
		    struct kerr *e)
{
	struct buf path = BUF_INIT(BUF_NOLIMIT);
	int fd, rc = 0;

	buf_printf(&path, "%s/%s", s->fs_root, key);
	fd = open(path.ptr, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			rc = kerr_set(e, KERR_NOTFOUND, "object '%s' not found", key);
		else
			rc = fs__fail(e, "open", path.ptr, errno);
		goto fail;
	}
	if (fstat(fd, st) < 0) {
		rc = fs__fail(e, "stat", path.ptr, errno);
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = kerr_set(e, KERR_NOTFOUND, "object '%s' not found", key);
		goto fail;
	}
	*fdp = fd;
	fd = -1;
fail:
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	return rc;
}

static int fs__get(struct storage *s, const char *key, uint64_t offset, uint64_t length,
		   storage_sink_fn sink, void *ctx, struct kerr *e)
{
	struct stat st;
	char *chunk = NULL;
	uint64_t size, end;
	int fd = -1, rc;

	rc = fs__open(s, key, &fd, &st, e);
	if (rc)
		return rc;
	size = (uint64_t)st.st_size;
	if (offset && offset >= size) {
		rc = kerr_set(e, KERR_INVAL, "range of '%s' starts at %llu, past its end (%llu bytes)",
			      key, (unsigned long long)offset, (unsigned long long)size);
		goto fail;
	}
	end = length && length < size - offset ? offset + length : size;
	chunk = xmalloc(STORAGE__CHUNK);
	while (offset < end) {
		size_t want = end - offset < STORAGE__CHUNK ? (size_t)(end - offset) : STORAGE__CHUNK;
		ssize_t got = pread(fd, chunk, want, (off_t)offset);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? kerr_set(e, KERR_IO, "could not read '%s': %s", key,
						strerror(errno))
				     : kerr_set(e, KERR_IO, "'%s' shrank while being read", key);
			goto fail;
		}
		rc = sink(ctx, chunk, (size_t)got);
		if (rc) {
			rc = kerr_set(e, rc, "get '%s': the receiver refused the data", key);
			goto fail;
		}
		offset += (uint64_t)got;
	}
fail:
	free(chunk);
	close(fd);
	return rc;
}

static int fs__stat(struct storage *s, const char *key, uint64_t *size, struct kerr *e)
{
	struct stat st;
	int fd = -1;
	int rc = fs__open(s, key, &fd, &st, e);

	if (rc)
		return rc;
	*size = (uint64_t)st.st_size;
	close(fd);
	return 0;
}

static int fs__del(struct storage *s, const char *key, struct kerr *e)
{
	struct buf path = BUF_INIT(BUF_NOLIMIT);
	size_t rootlen = strlen(s->fs_root);
	int rc = 0;
	char *slash;

	buf_printf(&path, "%s/%s", s->fs_root, key);
	if (unlink(path.ptr) < 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR) {
		rc = fs__fail(e, "delete", path.ptr, errno);
		goto fail;
	}
	/* Remove directories this left empty; stop at the first that is not. */
	while ((slash = strrchr(path.ptr, '/')) && (size_t)(slash - path.ptr) > rootlen) {
		*slash = '\0';
		if (rmdir(path.ptr) < 0)
			break;
	}
fail:
	buf_release(&path);
	return rc;
}

struct fs__entry {
	char *name; /* with a trailing '/' for directories, for the sort */
	uint64_t size;
	int dir;
};

static int fs__entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fs__entry *)a)->name, ((const struct fs__entry *)b)->name);
}

/*
 * List the directory root/rel (rel is "" or ends in '/'), keys starting with
 * prefix, in key order: entries are sorted with '/' after directory names, which
 * is where their keys fall among the others.
 */
static int fs__walk(struct storage *s, struct buf *rel, const char *prefix,
		    storage_each_fn each, void *ctx, struct kerr *e)
{
	struct buf dirpath = BUF_INIT(BUF_NOLIMIT);
	struct fs__entry *ents = NULL;
	size_t nents = 0, cap = 0, rel_len = rel->len, plen = strlen(prefix);
	DIR *d = NULL;
	struct dirent *de;
	int rc = 0;

	buf_printf(&dirpath, "%s/%s", s->fs_root, rel->ptr);
	d = opendir(dirpath.ptr);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = fs__fail(e, "list", dirpath.ptr, errno);
		goto fail;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		size_t common, nl;
		char *name;

		if (!storage__segment_valid(de->d_name))
			continue;
		/* Skip what cannot match: the key so far must agree with the prefix. */
		buf_truncate(rel, rel_len);
		buf_puts(rel, de->d_name);
		common = rel->len < plen ? rel->len : plen;
		if (strncmp(rel->ptr, prefix, common))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (S_ISREG(st.st_mode) && rel->len < plen)
			continue;
		if (nents == cap) {
			cap = cap ? cap * 2 : 32;
			ents = xrealloc(ents, cap * sizeof(*ents));
		}
		nl = strlen(de->d_name);
		name = xmalloc(nl + 2);
		memcpy(name, de->d_name, nl);
		name[nl] = '/';
		name[nl + (S_ISDIR(st.st_mode) ? 1 : 0)] = '\0';
		ents[nents].name = name;
		ents[nents].dir = S_ISDIR(st.st_mode);
		ents[nents].size = (uint64_t)st.st_size;
		nents++;
	}
	buf_truncate(rel, rel_len);
	if (errno) {
		rc = fs__fail(e, "list", dirpath.ptr, errno);
		goto fail;
	}
	closedir(d);
	d = NULL;
	if (nents)
		qsort(ents, nents, sizeof(*ents), fs__entry_cmp);
	for (size_t i = 0; i < nents && !rc; i++) {
		buf_truncate(rel, rel_len);
		buf_puts(rel, ents[i].name);
		if (ents[i].dir)
			rc = fs__walk(s, rel, prefix, each, ctx, e);
		else if (rel->len <= STORAGE_KEY_MAX)
			rc = each(ctx, rel->ptr, ents[i].size);
	}
	buf_truncate(rel, rel_len);
fail:
	if (d)
		closedir(d);
	for (size_t i = 0; i < nents; i++)
		free(ents[i].name);
	free(ents);
	buf_release(&dirpath);
	return rc;
}

static int fs__list(struct storage *s, const char *prefix, storage_each_fn each, void *ctx,
		    struct kerr *e)
{
	struct buf rel = BUF_INIT(BUF_NOLIMIT);
	const char *slash = strrchr(prefix, '/');
	int rc;

	/* Start in the deepest directory the prefix names in full. */
	if (slash)
		buf_append(&rel, prefix, (size_t)(slash - prefix) + 1);
	rc = fs__walk(s, &rel, prefix, each, ctx, e);
	buf_release(&rel);
	return rc;
}

static void fs__release(struct storage *s)
{
	free(s->fs_root);
	s->fs_root = NULL;
}

static const struct storage__ops fs__ops = {
	.name = "fs",
	.put_fd = fs__put_fd,
	.put_mem = fs__put_mem,
	.get = fs__get,
	.stat = fs__stat,
	.del = fs__del,
	.list = fs__list,
	.presign_get = NULL,
	.release = fs__release,
};

int storage__fs_open(struct storage *s, const struct config *cfg, struct kerr *e)
{
	const char *dir = config_get(cfg, CONFIG_STORAGE_DIR);
	char *p = NULL, *root = NULL;
	struct stat st;
	int rc = 0;

	if (!*dir)
		return kerr_set(e, KERR_INVAL, "KILN_STORAGE_DIR is empty");
	/* mkdir -p, then resolve: later chdirs must not move the store. */
	p = xstrdup(dir);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = kerr_set(e, KERR_IO, "could not create storage directory '%s': %s", p,
				      strerror(errno));
			goto fail;
		}
		*q = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST) {
		rc = kerr_set(e, KERR_IO, "could not create storage directory '%s': %s", p,
			      strerror(errno));
		goto fail;
	}
	root = realpath(p, NULL);
	if (!root) {
		rc = kerr_set(e, KERR_IO, "could not resolve storage directory '%s': %s", p,
			      strerror(errno));
		goto fail;
	}
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = kerr_set(e, KERR_INVAL, "storage directory '%s' is not a directory", root);
		goto fail;
	}
	if (!strcmp(root, "/")) {
		rc = kerr_set(e, KERR_INVAL, "KILN_STORAGE_DIR must not be '/'");
		goto fail;
	}
	s->fs_root = root;
	root = NULL;
	s->ops = &fs__ops;
fail:
	free(root);
	free(p);
	return rc;
}
