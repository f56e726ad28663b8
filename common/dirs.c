/* dirs: directory trees (contract in dirs.h). */
#include "common/dirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRS__PATH_MAX 4096

int dirs_mkdir_p(const char *path)
{
	char tmp[DIRS__PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* Empty the directory open as fd (which this call closes). 0 or the first errno. */
static int dirs__empty(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int first = 0;

	if (!d) {
		first = errno;
		close(fd);
		return first;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int isdir, sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			isdir = !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
				S_ISDIR(st.st_mode);
		if (!isdir) {
			if (unlinkat(dirfd(d), de->d_name, 0) && !first)
				first = errno;
			continue;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			/* A read-only directory (0555, as pip and cargo leave some): open it up. */
			if (errno == EACCES && !fchmodat(dirfd(d), de->d_name, 0700, 0))
				sub = openat(dirfd(d), de->d_name,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				if (!first)
					first = errno;
				continue;
			}
		}
		fchmod(sub, 0700); /* its entries can then be unlinked; best effort */
		{
			int r = dirs__empty(sub);
			if (r && !first)
				first = r;
		}
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) && !first)
			first = errno;
	}
	closedir(d);
	return first;
}

int dirs_remove_tree(const char *path)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ELOOP)
			return -1;
		/* A file or a symbolic link: remove it, never what it points to. */
		return unlink(path) && errno != ENOENT ? -1 : 0;
	}
	fchmod(fd, 0700);
	if ((r = dirs__empty(fd))) {
		errno = r;
		return -1;
	}
	return rmdir(path) && errno != ENOENT ? -1 : 0;
}
