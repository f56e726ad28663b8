/*
 * dirs: making and removing directory trees on the local filesystem (a
 * builder's work directories, its caches and state).
 */
#ifndef KILN_DIRS_H
#define KILN_DIRS_H

/* mkdir -p with mode 0755 for the missing parts; a directory that exists is
 * fine. 0, or -1 with errno set (path over 4 KiB: ENAMETOOLONG). */
int dirs_mkdir_p(const char *path);

/*
 * rm -rf path: a directory with everything below it, or a single file. Never
 * follows a symbolic link (a link is removed, not what it points to) and makes
 * read-only directories below it writable first (build tools leave some).
 * Whatever cannot be removed stays. 0 if path is gone, else -1 with errno of the
 * first failure.
 */
int dirs_remove_tree(const char *path);

#endif
