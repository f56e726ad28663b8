/*
 * wheelout: take the wheels out of a build's output archive, and nothing else.
 *
 * The archive is the tar stream Docker returns for GET /containers/{id}/archive
 * of the build's output directory, so its content was written by untrusted code.
 * Only regular files directly inside the archived directory ("out/NAME"), whose
 * NAME is a valid wheel filename (wheelname_parse), are written, into one host
 * directory, under a total size limit. Everything else (symlinks, hard links,
 * devices, nested paths, "..", absolute paths, bad names, duplicates) is skipped
 * and listed in the result so the job log can say what was ignored and why.
 * Files are created with O_EXCL|O_NOFOLLOW relative to the directory's fd, so
 * nothing outside it is ever touched.
 */
#ifndef KILN_BUILDER_WHEELOUT_H
#define KILN_BUILDER_WHEELOUT_H

#include <stddef.h>
#include <stdint.h>

struct kerr;

#define WHEELOUT_MAX_ENTRIES 10000 /* entries read before giving up */
#define WHEELOUT_MAX_NOTES 100

struct wheelout {
	char **wheels;    /* paths "dir/NAME.whl" written, owned */
	size_t nwheels;
	char **ignored;   /* "out/x: why" for the first WHEELOUT_MAX_NOTES skipped entries */
	size_t nignored;  /* all skipped entries (may exceed the notes kept) */
	uint64_t bytes;   /* wheel bytes written */
};

void wheelout_init(struct wheelout *w);
/* Free the lists (the files stay). */
void wheelout_release(struct wheelout *w);

/*
 * Read the tar archive in fd (from its current offset) whose top directory is
 * top ("out"), and write its wheels into dir (which must exist), at most
 * max_bytes in all. Returns 0 (w lists what was written and skipped);
 * KERR_TOOBIG if the wheels pass max_bytes; KERR_INVAL for an archive that is not
 * a readable tar; KERR_IO for local file errors. On failure the wheels written so
 * far are deleted again and w->wheels is empty.
 */
int wheelout_extract(int fd, const char *top, const char *dir, uint64_t max_bytes,
		     struct wheelout *w, struct kerr *e);

#endif
