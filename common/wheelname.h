/*
 * wheelname: distribution filenames, i.e. what Kiln accepts as an upload name
 * and puts in /simple/ pages.
 *
 * Wheels (PEP 427, the "Binary distribution format" specification):
 *     {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
 * Each tag may be a compressed tag set, members joined by '.' (PEP 425):
 * "py2.py3-none-any" stands for the tags py2-none-any and py3-none-any.
 *
 * Source distributions ("Source distribution format" specification, plus the
 * legacy .zip form): {name}-{version}.tar.gz or {name}-{version}.zip.
 *
 * Both parsers work on a bare filename and are strict, because the name ends up
 * in storage paths and URLs:
 *  - at most WHEELNAME_MAX_LEN bytes, and only ASCII letters, digits and
 *    . _ - + ! (so no '/', '\', NUL, whitespace or control bytes);
 *  - no ".." anywhere and no empty '-'-separated part;
 *  - the project name must be a valid name (pyname_valid); a wheel's may not
 *    contain '-' (it would be a part separator) nor "__" (an unescaped run);
 *  - the version must be a valid PEP 440 version (pyversion_parse), stored parsed;
 *  - a build tag must start with a digit and its leading number fit int64_t;
 *  - a python tag is [A-Za-z_][A-Za-z0-9_]* (an identifier), abi and platform
 *    tags [A-Za-z0-9_]+; tags are stored lowercased; at most WHEELNAME_MAX_TAGS
 *    members per compressed set.
 * The extensions are matched case-sensitively (".WHL" is rejected), as python
 * packaging does.
 *
 * struct wheelname and struct sdistname are plain data (copy with `=`, nothing to
 * release): tag strings are stored inside the struct and read with wheelname_tag().
 */
#ifndef KILN_WHEELNAME_H
#define KILN_WHEELNAME_H

#include "common/pyversion.h"

#include <stddef.h>
#include <stdint.h>

struct kerr;

#define WHEELNAME_MAX_LEN 255
#define WHEELNAME_MAX_TAGS 32

enum wheelname_tagkind {
	WHEELNAME_PYTHON = 0, /* python tag: py3, cp311, pp310 ... */
	WHEELNAME_ABI,        /* abi tag: none, abi3, cp311 ... */
	WHEELNAME_PLATFORM    /* platform tag: any, linux_x86_64, manylinux_2_17_x86_64 ... */
};

struct wheelname {
	char name[WHEELNAME_MAX_LEN + 1];       /* PEP 503-normalized project name */
	struct pyversion version;
	int has_build;                          /* 1 if a build tag was present */
	int64_t build_num;                      /* its leading digits ("12abc" -> 12) */
	char build_rest[WHEELNAME_MAX_LEN + 1]; /* what follows them ("abc"), maybe "" */
	/* private: tag strings, NUL-separated, indexed by offset */
	size_t ntags[3];
	uint16_t tag_off[3][WHEELNAME_MAX_TAGS];
	char tag_text[WHEELNAME_MAX_LEN + 1];
};

enum sdistname_format {
	SDISTNAME_TAR_GZ = 0,
	SDISTNAME_ZIP
};

struct sdistname {
	char name[WHEELNAME_MAX_LEN + 1];       /* PEP 503-normalized project name */
	struct pyversion version;
	enum sdistname_format format;
};

/*
 * Parse the wheel filename in the n bytes at s. Returns 0 and fills *w, or
 * KERR_INVAL with a message in e (if not NULL) saying which rule the name broke;
 * *w is then zeroed.
 */
int wheelname_parse(struct wheelname *w, const char *s, size_t n, struct kerr *e);

/* The number of members of w's python, abi or platform tag set (at least 1). */
size_t wheelname_ntags(const struct wheelname *w, enum wheelname_tagkind kind);

/*
 * Member i (in filename order) of w's python, abi or platform tag set, lowercase
 * and NUL-terminated, borrowed from w. NULL if i is out of range.
 */
const char *wheelname_tag(const struct wheelname *w, enum wheelname_tagkind kind,
	size_t i);

/*
 * Would an installer on the target interpreter and platform accept w? 1 or 0.
 *
 * interpreter is "cp" followed by the major digit and the minor number, up to
 * three digits without leading zeros ("cp39", "cp311"); platform is one platform tag ("linux_x86_64",
 * "manylinux_2_17_x86_64", "win_amd64"). Callers with several acceptable
 * platforms (a manylinux ladder) ask once per platform. A malformed interpreter
 * never matches.
 *
 * w matches when one of the tags in its expanded set (every python x abi x
 * platform combination) is one that python packaging's sys_tags() yields for
 * CPython X.Y on that platform, namely:
 *   cpXY - cpXY   - P        the interpreter's own ABI; "cpXYm" before 3.8
 *                            (pymalloc builds). Debug (d), free-threaded (t)
 *                            and UCS-4 (u) ABIs never match.
 *   cpXZ - abi3   - P        the stable ABI: X.Y >= 3.2 and 2 <= Z <= Y
 *   cpXY - none   - P|any
 *   pyXY, pyX, pyXZ (Z < Y) - none - P|any
 * where P is the target platform. A platform of "any" pairs only with abi "none",
 * as in pip: "cp311-cp311-any" or "cp311-abi3-any" do not match.
 */
int wheelname_matches(const struct wheelname *w, const char *interpreter,
	const char *platform);

/*
 * wheelname_matches, and for a target platform "linux_ARCH" also a manylinux tag
 * of that ARCH (manylinux1/2010/2014_ARCH, manylinux_2_N_ARCH): the wheels Kiln
 * builds itself, which auditwheel repair in the target's image tags so. The
 * upload of a build takes those; deciding whether upstream already has a wheel
 * for a target (wheelname_matches) does not.
 */
int wheelname_matches_built(const struct wheelname *w, const char *interpreter,
	const char *platform);

/*
 * The one answer to "could a target install this wheel?" (issue 16): would pip
 * on CPython `interpreter` on `platform` ("linux_ARCH") with glibc `glibc`
 * ("2.36") install w? 1 or 0. It accepts what wheelname_matches accepts
 * (py3-none-any, pyXY-none-any, cpXZ-abi3 for Z <= the target's minor, the
 * interpreter's own ABI on the platform) and, when glibc is a "2.N" version
 * and platform is linux_ARCH, manylinux tags of ARCH up to that glibc:
 * manylinux_2_M_ARCH for M <= N, and the aliases manylinux1 (2.5),
 * manylinux2010 (2.12) and manylinux2014 (2.17). glibc NULL, "" or malformed:
 * only the platform itself and pure wheels (a target whose glibc is unknown).
 */
int wheelname_installs(const struct wheelname *w, const char *interpreter,
	const char *platform, const char *glibc);

/*
 * wheelname_installs over a list of wheel filenames joined by '/' (names
 * that do not parse are ignored). built: the wheels are Kiln's own for a
 * target whose glibc is unknown (NULL or ""), so any manylinux tag of the
 * platform's ARCH counts, as wheelname_matches_built; with a glibc given,
 * built changes nothing. 1 if one installs, and then first (n bytes, if not
 * NULL) gets its name; 0 (first "") if none does.
 */
int wheelname_list_installs(const char *names, const char *interpreter, const char *platform,
	const char *glibc, int built, char *first, size_t n);

/* The minor of a glibc version "2.N" (N up to three digits), or -1 if it is not one. */
int wheelname_glibc_minor(const char *glibc);

/*
 * Parse the sdist filename in the n bytes at s: "{name}-{version}.tar.gz" or
 * ".zip", split at the last '-' (a PEP 440 version has none once normalized, so
 * "foo-bar-1.0.tar.gz" is foo-bar 1.0). The name may contain '-'. Returns 0, or
 * KERR_INVAL with a message in e (if not NULL); *d is then zeroed.
 */
int sdistname_parse(struct sdistname *d, const char *s, size_t n, struct kerr *e);

#endif
