/*
 * wheel_inspect: validate an uploaded wheel file on disk before Kiln accepts it.
 *
 * wheel_inspect() reads the whole zip once, through libarchive's seekable zip
 * reader (the central directory is authoritative, as it is for pip), streaming
 * every entry's data through one fixed buffer: Kiln's memory does not grow with
 * the wheel's size, only METADATA (bounded by max_metadata) and WHEEL (bounded
 * by WHEEL_INSPECT_WHEEL_MAX) are kept. Nothing is written to disk.
 *
 * A wheel is accepted when all of these hold; the first one broken is reported:
 *  - the filename parses (wheelname_parse) and the file is a readable zip whose
 *    every entry libarchive reads to the end without error (a truncated file,
 *    a bad CRC, an unsupported compression method or encryption all fail);
 *  - at most max_entries entries (directories count);
 *  - every entry name is a safe relative path: not empty, valid UTF-8, no
 *    leading '/', no drive letter ("C:"), no backslash, no control character,
 *    no "..", "." or empty segment (a directory's one trailing '/' is fine).
 *    These are the names libarchive reports: those of the local file headers
 *    (libarchive 3.6 may already have turned '\' into '/'; the segments are
 *    then checked). That the central directory lists the same names is NOT
 *    checked, nor that no two central directory records share a local header
 *    (libarchive reads such an entry once);
 *  - every entry is a regular file or a directory: no symbolic link, hard link,
 *    device, fifo or socket;
 *  - the bytes actually decompressed (header sizes are not trusted, but a
 *    declared size already over a limit fails before any data is read) total at
 *    most max_uncompressed, and once they pass WHEEL_INSPECT_RATIO_FLOOR, at
 *    most max_ratio times the file's size. Reading stops at the first chunk
 *    that passes a limit;
 *  - exactly one distinct top-level "*.dist-info" name, which splits at some
 *    '-' into a name equal to the filename's (PEP 503 normalization, so the
 *    wheel escaping "Foo_Bar" matches "foo-bar") and a version equal to the
 *    filename's (PEP 440 equality, pyversion_cmp() == 0: 1.0 == 1.0.0);
 *  - {dist-info}/METADATA, {dist-info}/WHEEL and {dist-info}/RECORD are regular
 *    files, each present exactly once;
 *  - METADATA is at most max_metadata bytes; its header block (RFC 822 style:
 *    up to the first blank line, "\n" or "\r\n" line ends, continuation lines
 *    starting with a space or tab, field names compared case-insensitively)
 *    has exactly one Name and one Version, equal to the filename's (same
 *    comparisons as for the dist-info name), and at most one Requires-Python;
 *  - WHEEL's header block has a Wheel-Version of "1." followed by digits.
 *
 * Non-ASCII entry names: libarchive converts UTF-8 names to the locale's
 * charset, so wheel_inspect() switches the calling thread (only) to the
 * C.UTF-8 locale for the duration of the call when it exists. Without it,
 * non-ASCII names are rejected as undecodable.
 */
#ifndef KILN_WHEEL_INSPECT_H
#define KILN_WHEEL_INSPECT_H

#include "common/buf.h"
#include "common/wheelname.h"

#include <stdint.h>

struct kerr;

/* The compression ratio is only checked once this many bytes are decompressed. */
#define WHEEL_INSPECT_RATIO_FLOOR (10ull << 20)
/* The most bytes {dist-info}/WHEEL may have. */
#define WHEEL_INSPECT_WHEEL_MAX (64u << 10)
/* Room for METADATA's Requires-Python value, NUL included. */
#define WHEEL_INSPECT_REQUIRES_PYTHON_MAX 1024

struct wheel_limits {
	uint64_t max_entries;      /* zip entries, directories included */
	uint64_t max_uncompressed; /* total decompressed bytes */
	uint64_t max_metadata;     /* bytes of {dist-info}/METADATA */
	double max_ratio;          /* decompressed bytes / file size */
};

/* Bytes of a libarchive message quoted in an error message. */
#define WHEEL_ARCHIVE_MSG_MAX 200

struct archive;

/*
 * libarchive's last message on a ("unknown error" if none), at most
 * WHEEL_ARCHIVE_MSG_MAX bytes, trimmed of the trailing newline, spaces and
 * period some carry, copied into dst. Returns dst.
 */
const char *wheel_archive_msg(struct archive *a, char dst[WHEEL_ARCHIVE_MSG_MAX + 1]);

/* Fill *l with Kiln's defaults: 100000 entries, 4 GiB, 1 MiB, ratio 200. */
void wheel_limits_default(struct wheel_limits *l);

/*
 * The zip-bomb check of l for a file of file_size bytes that decompresses (or
 * declares it decompresses) to total bytes: over l->max_uncompressed, or past
 * WHEEL_INSPECT_RATIO_FLOOR over l->max_ratio times file_size, is KERR_TOOBIG
 * with "<subject> decompresses to more than N bytes" or "<subject> compression
 * ratio exceeds R: ..." (subject NULL: the message starts at the verb). 0 if
 * within. wheel_inspect's and wheeldiff's one rule.
 */
int wheel_limits_check(const struct wheel_limits *l, uint64_t file_size, uint64_t total,
	const char *subject, struct kerr *e);

struct wheel_info {
	struct buf metadata;                 /* the bytes of {dist-info}/METADATA */
	char name[WHEELNAME_MAX_LEN + 1];    /* METADATA's Name, as written (trimmed) */
	char version[WHEELNAME_MAX_LEN + 1]; /* METADATA's Version, as written (trimmed) */
	char requires_python[WHEEL_INSPECT_REQUIRES_PYTHON_MAX]; /* "" if none */
	char dist_info[WHEELNAME_MAX_LEN + 1]; /* the .dist-info directory, no '/' */
	uint64_t entries;                    /* zip entries read */
	uint64_t uncompressed;               /* bytes actually decompressed */
};

/* Make *w empty. Pair with wheel_info_release(). */
void wheel_info_init(struct wheel_info *w);
/* Free what *w holds and make it empty again (it stays usable). */
void wheel_info_release(struct wheel_info *w);

/*
 * Inspect the wheel file at path, uploaded under filename (a bare basename such
 * as "foo-1.0-py3-none-any.whl", which wheel_inspect() parses again with
 * wheelname_parse()), against the limits *l. out must have been initialized
 * with wheel_info_init(); whatever it held is discarded first.
 *
 * Returns 0 and fills *out when the wheel passes every check above. Otherwise
 * returns a negative KERR_* code with a message in e (if not NULL) naming the
 * check and, where there is one, the offending entry, and leaves *out empty
 * (still to be released):
 *   KERR_INVAL   the filename, the zip, an entry or the metadata is malformed
 *                or does not match;
 *   KERR_TOOBIG  a limit was passed (entries, uncompressed size, ratio,
 *                METADATA or WHEEL size, a header value's length);
 *   KERR_IO      the file could not be opened or is not a regular file.
 * The INVAL and TOOBIG messages are meant for the uploader.
 */
int wheel_inspect(const char *path, const char *filename, const struct wheel_limits *l,
	struct wheel_info *out, struct kerr *e);

/*
 * Find the field want (compared case-insensitively) in the RFC 822 style header
 * block of the n bytes at s (METADATA, WHEEL): the lines up to the first empty
 * one, "\n" or "\r\n" line ends, continuation lines starting with a space or
 * tab. Returns 1 with the unfolded, trimmed value in out (cap bytes with the
 * NUL, cap >= 1), 0 if the field is absent (out untouched); KERR_INVAL if the
 * block is malformed or has want twice, KERR_TOOBIG if the value does not fit.
 * file names the file in messages ("METADATA").
 */
int wheel_inspect_header(const char *s, size_t n, const char *file, const char *want,
	char *out, size_t cap, struct kerr *e);

#endif
