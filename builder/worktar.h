/*
 * worktar: the tar archive that a sandboxed build gets as /work (PUT archive),
 * written from host files:
 *
 *   out/               empty, where pip writes the wheels
 *   job-wheels/NAME.whl  the prefetched build requirements: regular files with
 *                      valid wheel names only, taken from wheels_dir
 *   src/NAME.tar.gz    the sdist, or
 *   src/...            the source tree: files, directories and symlinks (copied
 *                      as symlinks, never followed); devices, fifos and sockets
 *                      are left out
 *   cargo/...          the project's vendored Rust crates and their cargo
 *                      config.toml (crates.h), copied like the source tree;
 *                      only when there is a cargo_dir
 *
 * Every entry is owned by uid/gid 1000 (the image's build user). Host files are
 * opened with O_NOFOLLOW, so a symlink on the host never pulls in its target.
 */
#ifndef KILN_BUILDER_WORKTAR_H
#define KILN_BUILDER_WORKTAR_H

struct kerr;

/*
 * Write the archive to fd (at its current offset). Exactly one of sdist_path and
 * source_dir; wheels_dir and cargo_dir may be NULL or "". 0, or KERR_IO /
 * KERR_INVAL with e.
 */
int worktar_write(int fd, const char *sdist_path, const char *source_dir,
		  const char *wheels_dir, const char *cargo_dir, struct kerr *e);

/*
 * Write an archive of job-wheels/ alone (the wheels of wheels_dir, as above), to
 * add build requirements fetched during a build to the same /work.
 */
int worktar_write_wheels(int fd, const char *wheels_dir, struct kerr *e);

#endif
