/*
 * worktar: the tar archive that becomes a build's /work (contract in worktar.h).
 * Everything in it belongs to the build user, uid/gid 1000, whatever its owner
 * on the host.
 */
#include "builder/worktar.h"

#include "common/kerr.h"
#include "common/wheelname.h"

#include <archive.h>
#include <archive_entry.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WORKTAR__UID 1000

static int worktar__err(struct archive *w, const char *what, struct kerr *e)
{
	return kerr_set(e, KERR_IO, "could not write the input archive (%s): %s", what,
			archive_error_string(w));
}

/* Owner kiln (uid 1000) for everything that goes into /work. */
static void worktar__own(struct archive_entry *ent)
{
	archive_entry_set_uid(ent, WORKTAR__UID);
	archive_entry_set_gid(ent, WORKTAR__UID);
	archive_entry_set_uname(ent, "kiln");
	archive_entry_set_gname(ent, "kiln");
}

static int worktar__dir(struct archive *w, const char *name, struct kerr *e)
{
	struct archive_entry *ent = archive_entry_new();
	int rc = 0;

	archive_entry_set_pathname(ent, name);
	archive_entry_set_filetype(ent, AE_IFDIR);
	archive_entry_set_perm(ent, 0755);
	archive_entry_set_mtime(ent, time(NULL), 0);
	worktar__own(ent);
	if (archive_write_header(w, ent) != ARCHIVE_OK)
		rc = worktar__err(w, name, e);
	archive_entry_free(ent);
	return rc;
}

/* One host file (opened without following symlinks) as the archive member name. */
static int worktar__file(struct archive *w, const char *path, const char *name,
			     struct kerr *e)
{
	struct archive_entry *ent = archive_entry_new();
	char data[64 * 1024];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st)) {
		rc = kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = kerr_set(e, KERR_INVAL, "'%s' is not a regular file", path);
		goto out;
	}
	archive_entry_set_pathname(ent, name);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0644);
	archive_entry_set_size(ent, st.st_size);
	archive_entry_set_mtime(ent, st.st_mtime, 0);
	worktar__own(ent);
	if (archive_write_header(w, ent) != ARCHIVE_OK) {
		rc = worktar__err(w, name, e);
		goto out;
	}
	while ((n = read(fd, data, sizeof(data))) > 0)
		if (archive_write_data(w, data, (size_t)n) != n) {
			rc = worktar__err(w, name, e);
			goto out;
		}
	if (n < 0)
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	archive_entry_free(ent);
	return rc;
}

/* A host tree under prefix/: files, directories and symlinks (not followed). */
static int worktar__tree(struct archive *w, const char *dir, const char *prefix,
			 struct kerr *e)
{
	struct archive *rd = archive_read_disk_new();
	struct archive_entry *ent = archive_entry_new();
	size_t dl = strlen(dir);
	char data[64 * 1024];
	char name[4096];
	int r, rc = 0;

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	archive_read_disk_set_symlink_physical(rd);
	archive_read_disk_set_behavior(rd, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
				       ARCHIVE_READDISK_NO_FFLAGS);
	if (archive_read_disk_open(rd, dir) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", dir, archive_error_string(rd));
		goto out;
	}
	while ((r = archive_read_next_header2(rd, ent)) != ARCHIVE_EOF) {
		const char *p = archive_entry_pathname(ent);
		int type = archive_entry_filetype(ent);
		la_ssize_t n;

		if (r < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_IO, "could not read '%s': %s", dir,
				      archive_error_string(rd));
			goto out;
		}
		archive_read_disk_descend(rd);
		if (!p || strncmp(p, dir, dl) || (p[dl] && p[dl] != '/'))
			continue;
		if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
			continue; /* devices, fifos and sockets have no place in a source tree */
		if ((size_t)snprintf(name, sizeof(name), "%s%s", prefix, p + dl) >= sizeof(name)) {
			rc = kerr_set(e, KERR_INVAL, "path too long in '%s': '%s'", dir, p);
			goto out;
		}
		archive_entry_set_pathname(ent, name);
		worktar__own(ent);
		if (archive_write_header(w, ent) != ARCHIVE_OK) {
			rc = worktar__err(w, name, e);
			goto out;
		}
		if (type != AE_IFREG)
			continue;
		while ((n = archive_read_data(rd, data, sizeof(data))) > 0)
			if (archive_write_data(w, data, (size_t)n) != n) {
				rc = worktar__err(w, name, e);
				goto out;
			}
		if (n < 0) {
			rc = kerr_set(e, KERR_IO, "could not read '%s': %s", p, archive_error_string(rd));
			goto out;
		}
	}
out:
	archive_entry_free(ent);
	archive_read_free(rd);
	return rc;
}

/* The prefetched requirements: regular files with wheel names only. */
static int worktar__wheels(struct archive *w, const char *dir, struct kerr *e)
{
	DIR *dp;
	struct dirent *de;
	int rc = 0;

	if (!dir || !*dir)
		return 0;
	if (!(dp = opendir(dir)))
		return kerr_set(e, KERR_IO, "could not open '%s': %s", dir, strerror(errno));
	while (!rc && (de = readdir(dp))) {
		struct wheelname wn;
		char path[4096], name[512];
		struct stat st;

		if (wheelname_parse(&wn, de->d_name, strlen(de->d_name), NULL))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		snprintf(name, sizeof(name), "job-wheels/%s", de->d_name);
		rc = worktar__file(w, path, name, e);
	}
	closedir(dp);
	return rc;
}

int worktar_write(int fd, const char *sdist_path, const char *source_dir,
		  const char *wheels_dir, const char *cargo_dir, struct kerr *e)
{
	struct archive *w = archive_write_new();
	int rc = 0;

	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_fd(w, fd) != ARCHIVE_OK) {
		rc = worktar__err(w, "open", e);
		goto out;
	}
	if ((rc = worktar__dir(w, "out", e)) || (rc = worktar__dir(w, "job-wheels", e)) ||
	    (rc = worktar__wheels(w, wheels_dir, e)))
		goto out;
	if (sdist_path) {
		const char *base = strrchr(sdist_path, '/');
		char name[512];

		base = base ? base + 1 : sdist_path;
		if ((size_t)snprintf(name, sizeof(name), "src/%s", base) >= sizeof(name)) {
			rc = kerr_set(e, KERR_INVAL, "sdist name too long: '%s'", base);
			goto out;
		}
		if ((rc = worktar__dir(w, "src", e)) || (rc = worktar__file(w, sdist_path, name, e)))
			goto out;
	} else if ((rc = worktar__tree(w, source_dir, "src", e))) {
		goto out;
	}
	if (cargo_dir && *cargo_dir && (rc = worktar__tree(w, cargo_dir, "cargo", e)))
		goto out;
	if (archive_write_close(w) != ARCHIVE_OK)
		rc = worktar__err(w, "close", e);
out:
	archive_write_free(w);
	return rc;
}

int worktar_write_wheels(int fd, const char *wheels_dir, struct kerr *e)
{
	struct archive *w = archive_write_new();
	int rc = 0;

	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_fd(w, fd) != ARCHIVE_OK) {
		rc = worktar__err(w, "open", e);
		goto out;
	}
	if ((rc = worktar__dir(w, "job-wheels", e)) || (rc = worktar__wheels(w, wheels_dir, e)))
		goto out;
	if (archive_write_close(w) != ARCHIVE_OK)
		rc = worktar__err(w, "close", e);
out:
	archive_write_free(w);
	return rc;
}
