/* wheelout: wheels out of an untrusted output archive (contract in wheelout.h). */
#include "builder/wheelout.h"

#include "common/fdio.h"
#include "common/kerr.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void wheelout_init(struct wheelout *w)
{
	memset(w, 0, sizeof(*w));
}

static void wheelout__free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void wheelout_release(struct wheelout *w)
{
	wheelout__free_list(w->wheels, w->nwheels);
	wheelout__free_list(w->ignored, w->nignored < WHEELOUT_MAX_NOTES ? w->nignored
				: WHEELOUT_MAX_NOTES);
	memset(w, 0, sizeof(*w));
}

/* Note a skipped entry; the name came from the build, so only printable ASCII is kept. */
static void wheelout__ignore(struct wheelout *w, const char *path, const char *why)
{
	char name[160], note[256];
	const char *p = path ? path : "(no name)";
	size_t i = 0;

	if (w->nignored++ >= WHEELOUT_MAX_NOTES)
		return;
	for (; *p && i < sizeof(name) - 4; p++)
		name[i++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	name[i] = '\0';
	snprintf(note, sizeof(note), "%s%s: %s", name, *p ? "..." : "", why);
	w->ignored = xrealloc(w->ignored, w->nignored * sizeof(*w->ignored));
	w->ignored[w->nignored - 1] = xstrdup(note);
}

/* Why the entry is not a plain file, or NULL if it is one. */
static const char *wheelout__not_regular(struct archive_entry *ent)
{
	if (archive_entry_hardlink(ent))
		return "a hard link";
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG: return NULL;
	case AE_IFLNK: return "a symlink";
	case AE_IFDIR: return "a directory";
	default: return "not a regular file";
	}
}

/* Copy the current entry's data into fd, counting against the limit. */
static int wheelout__copy(struct archive *a, int fd, const char *name, uint64_t max_bytes,
			  struct wheelout *w, struct kerr *e)
{
	char data[64 * 1024];
	la_ssize_t n;

	while ((n = archive_read_data(a, data, sizeof(data))) > 0) {
		if (w->bytes + (uint64_t)n > max_bytes)
			return kerr_set(e, KERR_TOOBIG, "the wheels exceed %llu bytes",
					(unsigned long long)max_bytes);
		w->bytes += (uint64_t)n;
		if (fdio_write_all(fd, data, (size_t)n))
			return kerr_set(e, KERR_IO, "could not write '%s': %s", name, strerror(errno));
	}
	if (n < 0)
		return kerr_set(e, KERR_INVAL, "bad output archive at '%s': %s", name,
				archive_error_string(a));
	return 0;
}

/* Look at one entry: write it out if it is a wheel at the top, else note why not. */
static int wheelout__entry(struct archive *a, struct archive_entry *ent, int dirfd,
			   const char *top, const char *dir, uint64_t max_bytes,
			   struct wheelout *w, struct kerr *e)
{
	const char *path = archive_entry_pathname(ent);
	const char *name, *why, *slash;
	size_t tl = strlen(top);
	struct wheelname wn;
	struct kerr ne;
	int fd, rc;

	if (!path || strncmp(path, top, tl) || (path[tl] != '/' && path[tl] != '\0')) {
		wheelout__ignore(w, path, "outside the output directory");
		return 0;
	}
	name = path + tl + (path[tl] == '/');
	if (!*name || !strcmp(name, ".") || !strcmp(name, "./"))
		return 0; /* the directory itself */
	why = wheelout__not_regular(ent);
	slash = strchr(name, '/');
	if (slash && slash[1] != '\0') {
		wheelout__ignore(w, path, "not at the top of the output directory");
		return 0;
	}
	if (why) {
		wheelout__ignore(w, path, why);
		return 0;
	}
	if (wheelname_parse(&wn, name, strlen(name), &ne)) {
		wheelout__ignore(w, path, "not a wheel filename");
		return 0;
	}
	if (archive_entry_size_is_set(ent) &&
	    w->bytes + (uint64_t)archive_entry_size(ent) > max_bytes)
		return kerr_set(e, KERR_TOOBIG, "the wheels exceed %llu bytes",
				(unsigned long long)max_bytes);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST) {
			wheelout__ignore(w, path, "already exists");
			return 0;
		}
		return kerr_set(e, KERR_IO, "could not create '%s/%s': %s", dir, name,
				strerror(errno));
	}
	rc = wheelout__copy(a, fd, name, max_bytes, w, e);
	if (close(fd) && !rc)
		rc = kerr_set(e, KERR_IO, "could not write '%s/%s': %s", dir, name, strerror(errno));
	if (rc) {
		unlinkat(dirfd, name, 0);
		return rc;
	}
	w->wheels = xrealloc(w->wheels, (w->nwheels + 1) * sizeof(*w->wheels));
	{
		size_t n = strlen(dir) + strlen(name) + 2;
		w->wheels[w->nwheels] = xmalloc(n);
		snprintf(w->wheels[w->nwheels], n, "%s/%s", dir, name);
	}
	w->nwheels++;
	return 0;
}

int wheelout_extract(int fd, const char *top, const char *dir, uint64_t max_bytes,
		     struct wheelout *w, struct kerr *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	size_t entries = 0;
	int dirfd = -1, rc = 0, r;

	archive_read_support_format_tar(a);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = kerr_set(e, KERR_IO, "could not open '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INVAL, "bad output archive: %s", archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_INVAL, "bad output archive: %s", archive_error_string(a));
			goto out;
		}
		if (++entries > WHEELOUT_MAX_ENTRIES) {
			rc = kerr_set(e, KERR_INVAL, "output archive has more than %d entries",
				      WHEELOUT_MAX_ENTRIES);
			goto out;
		}
		if ((rc = wheelout__entry(a, ent, dirfd, top, dir, max_bytes, w, e)))
			goto out;
	}
out:
	if (rc) {
		/* All or nothing: take back what was written. */
		for (size_t i = 0; i < w->nwheels; i++) {
			unlink(w->wheels[i]);
			free(w->wheels[i]);
		}
		free(w->wheels);
		w->wheels = NULL;
		w->nwheels = 0;
	}
	if (dirfd >= 0)
		close(dirfd);
	archive_read_free(a);
	return rc;
}
