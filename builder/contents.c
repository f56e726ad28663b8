/* contents: the Contents index lookup (contract in contents.h). */
#include "builder/contents.h"

#include "builder/docker.h"
#include "common/buf.h"
#include "common/dirs.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define CONTENTS__GZ_MAX (64u << 20)    /* the compressed index in the image */
#define CONTENTS__INDEX_MAX (512u << 20) /* decompressed */
#define CONTENTS__KEEP_S (14 * 86400)     /* a cached index unused this long goes */
#define CONTENTS__PREFER_MAX 64

static int contents__ends(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* Is dir[0..n) a multiarch triplet component like "x86_64-linux-gnu"? */
static int contents__triplet(const char *dir, size_t n)
{
	return memmem(dir, n, "-linux-gnu", 10) != NULL;
}

/* Is the directory d[0..n) (no trailing slash) one of the standard lib dirs? */
static int contents__libdir(const char *d, size_t n)
{
	if ((n == 7 && !memcmp(d, "usr/lib", 7)) || (n == 3 && !memcmp(d, "lib", 3)))
		return 1;
	if (n > 8 && !memcmp(d, "usr/lib/", 8))
		return !memchr(d + 8, '/', n - 8) && contents__triplet(d + 8, n - 8);
	if (n > 4 && !memcmp(d, "lib/", 4))
		return !memchr(d + 4, '/', n - 4) && contents__triplet(d + 4, n - 4);
	return 0;
}

static int contents__bindir(const char *d, size_t n)
{
	return (n == 7 && !memcmp(d, "usr/bin", 7)) || (n == 3 && !memcmp(d, "bin", 3)) ||
	       (n == 8 && !memcmp(d, "usr/sbin", 8)) || (n == 4 && !memcmp(d, "sbin", 4));
}

/*
 * Does path (n bytes) answer q? 0 no; 1 yes in the standard place; 2 yes
 * elsewhere.
 */
static int contents__match(const struct contents_query *q, const char *path, size_t n)
{
	const char *slash = memrchr(path, '/', n);
	const char *base = slash ? slash + 1 : path;
	size_t blen = (size_t)(path + n - base), dlen = slash ? (size_t)(slash - path) : 0;
	const char *name = q->name;
	size_t nlen = strlen(name);
	char want[160];

	switch (q->kind) {
	case CONTENTS_HEADER: {
		size_t rest;
		if (n < 12 || memcmp(path, "usr/include/", 12) || nlen == 0 || nlen > n - 12)
			return 0;
		if (memcmp(path + n - nlen, name, nlen) || (path[n - nlen - 1] != '/'))
			return 0;
		rest = n - 12 - nlen; /* what lies between usr/include/ and the name */
		if (rest == 0)
			return 1;
		return !memchr(path + 12, '/', rest - 1) && contents__triplet(path + 12, rest - 1) ? 1 : 2;
	}
	case CONTENTS_PKGCONFIG:
		if (snprintf(want, sizeof(want), "%s.pc", name) >= (int)sizeof(want) ||
		    blen != strlen(want) || memcmp(base, want, blen) ||
		    !contents__ends(path, dlen, "/pkgconfig"))
			return 0;
		return contents__libdir(path, dlen - 10) ||
		       (dlen == 19 && !memcmp(path, "usr/share/pkgconfig", 19)) ? 1 : 2;
	case CONTENTS_LIBRARY: {
		const char *lib = !strncmp(name, "-l", 2) ? name + 2 : name;
		int so;
		if (snprintf(want, sizeof(want), "lib%s.so", lib) >= (int)sizeof(want))
			return 0;
		so = blen == strlen(want) && !memcmp(base, want, blen);
		snprintf(want, sizeof(want), "lib%s.a", lib);
		if (!so && !(blen == strlen(want) && !memcmp(base, want, blen)))
			return 0;
		/* the .so is what the linker takes first: a static library ranks as elsewhere */
		return so && contents__libdir(path, dlen) ? 1 : 2;
	}
	case CONTENTS_PROGRAM:
		if (blen != nlen || memcmp(base, name, nlen) || !contents__bindir(path, dlen))
			return 0;
		return 1;
	case CONTENTS_SONAME:
		if (blen != nlen || memcmp(base, name, nlen))
			return 0;
		return contents__libdir(path, dlen) ? 1 : 2;
	}
	return 0;
}

static int contents__is_dev(const char *pkg, size_t n)
{
	return contents__ends(pkg, n, "-dev");
}

/* The "#prefer PKG" lines at the top of the index (contents-prefer.txt in the recipe). */
struct contents__prefer {
	char name[CONTENTS__PREFER_MAX][CONTENTS_PACKAGE_MAX];
	size_t n;
};

static int contents__preferred(const struct contents__prefer *pr, const char *pkg, size_t n)
{
	for (size_t i = 0; i < pr->n; i++)
		if (strlen(pr->name[i]) == n && !memcmp(pr->name[i], pkg, n))
			return 1;
	return 0;
}

/* Rank a candidate; replace the query's answer when it ranks lower (better). */
static void contents__offer(struct contents_query *q, const struct contents__prefer *pr,
			    int where, const char *path, size_t plen, const char *pkg, size_t n)
{
	long s[5];
	int depth = 0;
	int i;

	if (n == 0 || n >= CONTENTS_PACKAGE_MAX)
		return;
	for (size_t k = 0; k < plen; k++)
		depth += path[k] == '/';
	if (q->kind == CONTENTS_SONAME)
		s[0] = contents__is_dev(pkg, n) || contents__ends(pkg, n, "-dbg");
	else
		s[0] = !contents__is_dev(pkg, n);
	s[1] = !contents__preferred(pr, pkg, n);
	s[2] = where == 2;
	s[3] = depth;
	s[4] = (long)n;
	if (q->package[0]) {
		for (i = 0; i < 5; i++)
			if (s[i] != q->score_[i])
				break;
		if (i < 5 && s[i] > q->score_[i])
			return;
		/* same rank, so names of the same length: byte order decides */
		if (i == 5 && memcmp(pkg, q->package, n) >= 0)
			return;
	}
	memcpy(q->score_, s, sizeof(s));
	memcpy(q->package, pkg, n);
	q->package[n] = '\0';
}

int contents_lookup(const char *path, struct contents_query *q, size_t n, struct kerr *e)
{
	FILE *f = fopen(path, "r");
	struct contents__prefer pr;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	pr.n = 0;
	for (size_t i = 0; i < n; i++) {
		q[i].package[0] = '\0';
		memset(q[i].score_, 0, sizeof(q[i].score_));
	}
	if (!f)
		return kerr_set(e, errno == ENOENT ? KERR_NOTFOUND : KERR_IO,
				"could not open the contents index '%s': %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) > 0) {
		char *tab, *p;
		size_t plen;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (line[0] == '#') {
			if (!strncmp(line, "#prefer ", 8) && pr.n < CONTENTS__PREFER_MAX &&
			    (size_t)len - 8 < CONTENTS_PACKAGE_MAX)
				memcpy(pr.name[pr.n++], line + 8, (size_t)len - 8 + 1);
			continue;
		}
		if (!(tab = memchr(line, '\t', (size_t)len)))
			continue;
		plen = (size_t)(tab - line);
		for (size_t i = 0; i < n; i++) {
			int where = contents__match(&q[i], line, plen);
			if (!where)
				continue;
			p = tab + 1;
			while (*p) {
				char *c = strchr(p, ',');
				size_t k = c ? (size_t)(c - p) : strlen(p);
				contents__offer(&q[i], &pr, where, line, plen, p, k);
				p += k + (c ? 1 : 0);
			}
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* Copy the index out of the image into the tar file at fd. */
static int contents__get_tar(struct docker *d, const char *image, const char *owner, int fd,
			     struct kerr *e)
{
	cJSON *cfg = cJSON_CreateObject(), *cmd, *labels;
	char id[DOCKER_ID_MAX] = "", platform[64] = "";
	struct kerr e2;
	int rc;

	/* Created, never started: its filesystem is the image's, readable by GET archive. */
	cJSON_AddStringToObject(cfg, "Image", image);
	cmd = cJSON_AddArrayToObject(cfg, "Cmd");
	cJSON_AddItemToArray(cmd, cJSON_CreateString("true"));
	cJSON_AddBoolToObject(cfg, "NetworkDisabled", 1);
	labels = cJSON_AddObjectToObject(cfg, "Labels");
	cJSON_AddStringToObject(labels, "org.kiln.contents", "1");
	if (owner)
		cJSON_AddStringToObject(labels, "org.kiln.builder", owner);
	/* Of the image's own platform, so a foreign image's container is made without a warning. */
	if (!(rc = docker_image_platform(d, image, platform, e)) &&
	    !(rc = docker_create_on(d, NULL, platform, cfg, id, e)))
		rc = docker_get_archive(d, id, CONTENTS_IMAGE_DIR, fd, CONTENTS__GZ_MAX, NULL, NULL, e);
	if (id[0]) {
		kerr_clear(&e2);
		docker_remove(d, id, &e2);
	}
	cJSON_Delete(cfg);
	return rc;
}

/* The first *.tsv.gz in the tar at tar_path, decompressed into out_fd. */
static int contents__unpack(const char *tar_path, int out_fd, struct kerr *e)
{
	struct archive *t = archive_read_new(), *z = NULL;
	struct archive_entry *ent;
	struct buf gz = BUF_INIT(CONTENTS__GZ_MAX);
	char chunk[65536];
	uint64_t total = 0;
	la_ssize_t k;
	int r, rc = 0, found = 0;

	archive_read_support_format_tar(t);
	if (archive_read_open_filename(t, tar_path, 65536) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_IO, "contents: could not read the archive: %s",
			      archive_error_string(t));
		goto out;
	}
	while ((r = archive_read_next_header(t, &ent)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);
		if (archive_entry_filetype(ent) != AE_IFREG || !name ||
		    !contents__ends(name, strlen(name), ".tsv.gz"))
			continue;
		while ((k = archive_read_data(t, chunk, sizeof(chunk))) > 0)
			if (buf_append(&gz, chunk, (size_t)k)) {
				rc = kerr_set(e, KERR_TOOBIG, "contents: the index is too large");
				goto out;
			}
		if (k < 0) {
			rc = kerr_set(e, KERR_IO, "contents: %s", archive_error_string(t));
			goto out;
		}
		found = 1;
		break;
	}
	if (!found) {
		rc = kerr_set(e, KERR_NOTFOUND, "contents: no *.tsv.gz in " CONTENTS_IMAGE_DIR);
		goto out;
	}
	z = archive_read_new();
	archive_read_support_filter_gzip(z);
	archive_read_support_format_raw(z);
	if (archive_read_open_memory(z, gz.ptr, gz.len) != ARCHIVE_OK ||
	    archive_read_next_header(z, &ent) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_PROTO, "contents: bad gzip: %s", archive_error_string(z));
		goto out;
	}
	while ((k = archive_read_data(z, chunk, sizeof(chunk))) > 0) {
		total += (uint64_t)k;
		if (total > CONTENTS__INDEX_MAX) {
			rc = kerr_set(e, KERR_TOOBIG, "contents: the index is too large");
			goto out;
		}
		if (write(out_fd, chunk, (size_t)k) != k) {
			rc = kerr_set(e, KERR_IO, "contents: write: %s", strerror(errno));
			goto out;
		}
	}
	if (k < 0)
		rc = kerr_set(e, KERR_PROTO, "contents: bad gzip: %s", archive_error_string(z));
out:
	if (z)
		archive_read_free(z);
	archive_read_free(t);
	buf_release(&gz);
	return rc;
}

/* A new index came in: drop the cached ones of other images not used for CONTENTS__KEEP_S. */
static void contents__sweep(const char *cache_dir)
{
	DIR *d = opendir(cache_dir);
	struct dirent *de;
	time_t now = time(NULL);

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[1200];
		struct stat st;
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || !contents__ends(de->d_name, n, ".tsv"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", cache_dir, de->d_name);
		if (!stat(p, &st) && S_ISREG(st.st_mode) && now - st.st_mtime > CONTENTS__KEEP_S)
			unlink(p);
	}
	closedir(d);
}

int contents_fetch(struct docker *d, const char *image, const char *cache_dir, const char *owner,
		   char *path, size_t pathlen, struct kerr *e)
{
	char id[DOCKER_ID_MAX], tar[1200], tmp[1200];
	const char *hex;
	int tar_fd = -1, out_fd = -1, rc;

	tar[0] = tmp[0] = '\0';
	if ((rc = docker_image_id(d, image, id, e)))
		return rc;
	hex = strchr(id, ':') ? strchr(id, ':') + 1 : id;
	if ((size_t)snprintf(path, pathlen, "%s/%s.tsv", cache_dir, hex) >= pathlen)
		return kerr_set(e, KERR_INVAL, "contents: path too long");
	if (!access(path, R_OK)) {
		utime(path, NULL); /* in use: contents__sweep keeps it */
		return 0;
	}
	if (dirs_mkdir_p(cache_dir))
		return kerr_set(e, KERR_IO, "contents: could not create '%s': %s", cache_dir,
				strerror(errno));
	snprintf(tar, sizeof(tar), "%s/.%s.tar.XXXXXX", cache_dir, hex);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tsv.XXXXXX", cache_dir, hex);
	if ((tar_fd = mkstemp(tar)) < 0 || (out_fd = mkstemp(tmp)) < 0) {
		rc = kerr_set(e, KERR_IO, "contents: could not create a file in '%s': %s", cache_dir,
			      strerror(errno));
		goto out;
	}
	if ((rc = contents__get_tar(d, image, owner, tar_fd, e)) ||
	    (rc = contents__unpack(tar, out_fd, e)))
		goto out;
	if (fchmod(out_fd, 0644) || fsync(out_fd) || rename(tmp, path)) {
		rc = kerr_set(e, KERR_IO, "contents: could not store '%s': %s", path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	contents__sweep(cache_dir);
out:
	if (tar_fd >= 0)
		close(tar_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (tar[0])
		unlink(tar);
	if (tmp[0])
		unlink(tmp);
	return rc;
}
