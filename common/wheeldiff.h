/*
 * wheeldiff: which zip members of two wheels differ, and how (reproducibility
 * checks, docs/builds.md "Reproducibility checks"; the stored form is
 * repro_wheels.differs, migrations/0016_repro.sql).
 *
 * The rules are those of bench/repro/wheeldiff.py, as far as libarchive lets
 * a reader see them:
 *  - identical bytes: nothing to say ("[]"), and the zips are not even read;
 *  - a member present in one wheel only: "only-in-build" / "only-in-check";
 *  - a member whose bytes differ: "content" (compared by the sha256 of the
 *    decompressed bytes, streamed through one fixed buffer: nothing grows with
 *    a member's size; a symbolic link's bytes are its target);
 *  - the same bytes, another zip entry: "metadata" with "fields", in this
 *    order, those that differ of
 *      "date"         the modification time as libarchive reports it: the DOS
 *                     date and time (converted in the local time zone), or the
 *                     extended timestamp extra field when there is one;
 *      "mode"         the file type and permissions (archive_entry_mode: the
 *                     Unix mode of the external attributes, or what libarchive
 *                     makes of a non-Unix creator's attributes);
 *      "compression"  the compression method (stored, deflate, ...);
 *  - the members the wheels share are stored in another order: "order";
 *  - nothing of the above although the files' bytes differ: "archive". That
 *    covers everything else a zip holds that libarchive does not expose: the
 *    archive comment, the member comments, extra fields (other than the
 *    timestamp), the creator system, flags and the "version needed" field,
 *    what the central directory says and the local headers do not, the
 *    layout between entries, the earlier copy of a name stored twice, and a
 *    date two DOS timestamps share after the local time zone's conversion
 *    (a DST gap).
 *
 * Members are what libarchive's seekable zip reader lists: the central
 * directory's entries in the order of their local headers (the order the
 * bytes are stored in, which is what "order" compares), named as their local
 * headers name them. A name stored twice is compared by its last copy, at the
 * position of its first (the rules of Python's zipfile, which pip and the
 * reference use).
 *
 * Names are bytes, compared and sorted as bytes (for valid UTF-8, the order
 * of code points, as Python's sorted()). A name without the zip's UTF-8 flag
 * comes as its raw bytes, and json_append_str() writes each byte that starts
 * no valid UTF-8 sequence (common/utf8.h) as \ufffd: the array is always
 * valid JSON, and two names that differ only in invalid bytes look the same
 * in it. A name with the flag goes through libarchive's conversion to the
 * locale's charset (the calling thread is switched to the C.UTF-8 locale for
 * the call, as wheel_inspect() does); one that is not valid UTF-8 makes the
 * file unreadable (KERR_INVAL; Python's zipfile cannot decode it either, and
 * wheel_inspect() refuses it).
 */
#ifndef KILN_WHEELDIFF_H
#define KILN_WHEELDIFF_H

#include "common/buf.h"
#include "common/wheel_inspect.h"

#include <stddef.h>

struct kerr;

/* How many differences the farm stores per wheel (repro_wheels.differs). */
#define WHEELDIFF_MAX_DIFFS 64

/*
 * Compare the wheel the farm published (build_path) with the one a check
 * built (check_path), member by member. Appends to out a JSON array of the
 * differences, sorted by member name:
 *   {"member": NAME, "what": "only-in-build" | "only-in-check" | "content" | "metadata",
 *    "fields": ["date", "mode", "compression"]}   (fields only for "metadata", those that differ)
 * then, when the common members are stored in another order, {"member": "", "what": "order"},
 * and when nothing above differs although the files' bytes do, {"member": "", "what": "archive"}.
 * At most max_diffs entries; when there are more, a last {"more": N} (N the
 * entries left out). Identical files give [] (the bytes are compared first;
 * the zips are then not read, so neither the limits nor the zip checks apply).
 *
 * Bounded: each wheel is read once, its members' data streamed through one
 * 64 KiB buffer; memory is the two listings (names and digests). The limits
 * are those of wheel_inspect() (common/wheel_inspect.h), applied to each
 * wheel: more than lim->max_entries entries, more than lim->max_uncompressed
 * bytes decompressed in all (a declared size already over it fails before
 * any data is read), or past WHEEL_INSPECT_RATIO_FLOOR more than
 * lim->max_ratio times the file's size is KERR_TOOBIG (zip bombs: the check's
 * wheel comes from a builder). lim->max_metadata is not used.
 *
 * Returns 0, or a negative KERR_* with a message in err (if not NULL), out
 * then unchanged. A message about one of the files starts with "build wheel: "
 * or "check wheel: ":
 *   KERR_IO      a file could not be opened or read, or is not a regular file;
 *   KERR_INVAL   a file is not a readable zip (not a zip, truncated, a corrupt
 *                entry, a bad CRC, an unsupported compression or encryption),
 *                the reason in err;
 *   KERR_TOOBIG  a limit above was passed, or out's maximum (message says which);
 *   KERR_INTERNAL libarchive or OpenSSL failed.
 */
int wheeldiff_files(const char *build_path, const char *check_path,
	const struct wheel_limits *lim, size_t max_diffs, struct buf *out, struct kerr *err);

#endif
