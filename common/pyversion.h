/*
 * pyversion: PEP 440 version numbers (the "Version specifiers" specification).
 *
 * A version is parsed once into a struct pyversion, which is plain data with no
 * dynamic storage (copy it with `=`, nothing to release). It can be written back
 * in canonical form and compared with the total ordering PEP 440 defines.
 *
 * Parsing accepts exactly what the specification's "Normalization" section (and
 * the reference implementation, python packaging's Version) accepts:
 *  - surrounding ASCII whitespace (" \t\n\r\f\v") and any letter case;
 *  - a leading "v";
 *  - "alpha"/"beta" for a/b, "c"/"pre"/"preview" for rc, "rev"/"r" for post;
 *  - ".", "-" or "_" (or nothing) between the release and a pre, post or dev
 *    segment and between such a segment's letters and its number;
 *  - an implicit number ("1.0a" is "1.0a0") and an implicit post ("1.0-1");
 *  - "-" and "_" between local segments ("1.0+ubuntu-1" is "1.0+ubuntu.1");
 *  - leading zeros in any number ("01.02" is "1.2", "1.0+007" is "1.0+7").
 *
 * Kiln's limits, beyond the specification (inputs over them fail KERR_INVAL):
 *  - every number (epoch, release segment, pre/post/dev number) fits int64_t;
 *  - at most PYVERSION_RELEASE_MAX release segments;
 *  - the normalized local label is at most PYVERSION_LOCAL_MAX - 1 bytes.
 *    (Numeric local segments have no size limit: they are kept as digit strings.)
 * Non-ASCII input is always invalid (python's \s would accept Unicode spaces
 * around the version; Kiln does not).
 */
#ifndef KILN_PYVERSION_H
#define KILN_PYVERSION_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct kerr;

#define PYVERSION_RELEASE_MAX 32
#define PYVERSION_LOCAL_MAX 128

enum pyversion_pre {
	PYVERSION_PRE_NONE = 0,
	PYVERSION_PRE_A,  /* a, alpha */
	PYVERSION_PRE_B,  /* b, beta */
	PYVERSION_PRE_RC  /* rc, c, pre, preview */
};

struct pyversion {
	int64_t epoch;                           /* 0 when not written */
	size_t nrelease;                         /* 1..PYVERSION_RELEASE_MAX */
	int64_t release[PYVERSION_RELEASE_MAX];  /* as written: 1.0.0 keeps 3 */
	enum pyversion_pre pre;
	int64_t pre_num;                         /* meaningful when pre != NONE */
	int64_t post;                            /* -1: no post segment */
	int64_t dev;                             /* -1: no dev segment */
	/*
	 * Normalized local label without the '+': lowercase, segments joined by
	 * '.', numeric segments without leading zeros. "" when there is none.
	 */
	char local[PYVERSION_LOCAL_MAX];
	size_t local_len;
};

/*
 * Parse the n bytes at s (no NUL terminator needed; an embedded NUL makes the
 * version invalid). Returns 0 and fills *v, or KERR_INVAL with a message in e
 * (if not NULL) when s is not a valid PEP 440 version or passes one of the limits
 * above; *v is then all zero but for post/dev (-1), i.e. unusable.
 */
int pyversion_parse(struct pyversion *v, const char *s, size_t n, struct kerr *e);

/* pyversion_parse() on a NUL-terminated string. */
int pyversion_parse_str(struct pyversion *v, const char *s, struct kerr *e);

/*
 * Append the canonical form of v to out: "[N!]R[.R...][{a|b|rc}N][.postN][.devN]
 * [+local]", the epoch only when non-zero and the release as written (trailing
 * zeros kept: "1.0.0" stays "1.0.0"). Returns 0, or KERR_TOOBIG if out's
 * maximum would be passed (out is then unchanged).
 */
int pyversion_normalize(const struct pyversion *v, struct buf *out);

/*
 * PEP 440 ordering: negative, 0 or positive as a sorts before, equal to or after
 * b. Epochs first, then release segments with missing trailing segments taken as
 * zero (1.0 == 1.0.0), then X.devN < X.aN < X.bN < X.rcN < X < X.postN, where a
 * pre- or post-release's own .devN sorts just before it; then the local label:
 * no label < any label, segments compared in turn (numeric ones by value and
 * after all alphanumeric ones, alphanumeric ones bytewise), and a label that is
 * a prefix of another sorts first. Usable with qsort through a wrapper.
 */
int pyversion_cmp(const struct pyversion *a, const struct pyversion *b);

/* pyversion_cmp() ignoring both local labels (compares the public versions). */
int pyversion_cmp_public(const struct pyversion *a, const struct pyversion *b);

/* 1 if v has a pre-release or a dev segment (1.0a1, 1.0.dev0, 1.0.post1.dev0), else 0. */
int pyversion_is_prerelease(const struct pyversion *v);
/* 1 if v has a post segment, else 0. */
int pyversion_is_postrelease(const struct pyversion *v);
/* 1 if v has a dev segment, else 0. */
int pyversion_is_devrelease(const struct pyversion *v);
/* 1 if v has a local label, else 0. */
int pyversion_has_local(const struct pyversion *v);

/* The epoch (0 when none was written). */
int64_t pyversion_epoch(const struct pyversion *v);

/*
 * The release segments as written (borrowed from v, valid as long as v is);
 * *n receives their count, always at least 1.
 */
const int64_t *pyversion_release(const struct pyversion *v, size_t *n);

/* Store in *out the public version of v: v without its local label. */
void pyversion_public(const struct pyversion *v, struct pyversion *out);

/* Store in *out the base version of v: its epoch and release only ("1!2.0rc1+x" -> "1!2.0"). */
void pyversion_base(const struct pyversion *v, struct pyversion *out);

#endif
