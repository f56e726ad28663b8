/*
 * pyspec: PEP 440 version specifiers, as found in Requires-Python (and in
 * dependency specifiers): comma-separated clauses that must all hold, e.g.
 * ">=3.8, !=3.9.*, <4".
 *
 * Clauses, with V the clause's version and v the candidate:
 *   ~=V      v >= V and v matches V's release minus its last segment as a
 *            prefix (~=3.10 is >=3.10,==3.*). V needs two release segments.
 *   ==V      v's public version equals V (1.0 == 1.0.0; v's local label is
 *            ignored unless V has one, then it must match too).
 *   ==V.*    v's release, zero-padded, starts with V's (epoch equal too; v's
 *            pre/post/dev/local parts are ignored). V is a bare release.
 *   !=V, !=V.*  the negations.
 *   <=V, >=V compare with v's local label ignored.
 *   <V       v < V, and if V is not a pre-release, v below V.dev0: "<3.11"
 *            excludes 3.11.0a1 and 3.11.0rc1.
 *   >V       v > V, but not V's own local versions and, unless V is a post or
 *            dev release, not V's post-releases: ">3.11" excludes 3.11.post1
 *            and 3.11+local; ">3.11.post1" admits 3.11.post2.
 *   ===S     arbitrary equality: S compared ASCII-case-insensitively with the
 *            canonical string of v (pyversion_normalize), since the caller
 *            hands over a parsed version.
 * These are PEP 440's rules as python packaging 26 implements them. V may use
 * every lenient spelling pyversion_parse() accepts; local labels are only
 * allowed after == and !=, ".*" only after == and != on a bare release.
 *
 * Whitespace (ASCII) is allowed around clauses and between an operator and its
 * version. Empty clauses are skipped (">=3.8,,<4" and ">=3.8," parse, as in
 * python packaging); an empty or all-blank text is the empty specifier, which
 * contains every version. An === operand is 1..PYSPEC_ARBITRARY_MAX bytes of
 * printable ASCII other than ',', ';' and ')' (packaging also allows an empty
 * one, which can match nothing). At most PYSPEC_MAX_CLAUSES clauses.
 *
 * Pre-releases: pyspec_contains() is plain set membership, so a pre-release is
 * contained when it satisfies every clause (">=3.8" contains 3.13.0a1). PEP 440
 * also asks installers to skip pre-releases by default unless the specifier
 * names one; pyspec_contains_policy() applies that rule when asked.
 *
 * struct pyspec is held by the caller: PYSPEC_INIT or pyspec_parse(), then
 * pyspec_release().
 */
#ifndef KILN_PYSPEC_H
#define KILN_PYSPEC_H

#include "common/pyversion.h"

#include <stddef.h>

struct kerr;

#define PYSPEC_MAX_CLAUSES 64
#define PYSPEC_ARBITRARY_MAX 255

enum pyspec_op {
	PYSPEC_COMPATIBLE, /* ~= */
	PYSPEC_EQ,         /* == */
	PYSPEC_NE,         /* != */
	PYSPEC_LE,         /* <= */
	PYSPEC_GE,         /* >= */
	PYSPEC_LT,         /* <  */
	PYSPEC_GT,         /* >  */
	PYSPEC_ARBITRARY   /* === */
};

struct pyspec_clause {
	enum pyspec_op op;
	int wildcard;               /* ==V.* or !=V.* */
	struct pyversion version;   /* V (unset for ===) */
	char arbitrary[PYSPEC_ARBITRARY_MAX + 1]; /* the === operand, else "" */
};

struct pyspec {
	struct pyspec_clause *clauses; /* heap array, NULL when empty */
	size_t nclauses;
};

#define PYSPEC_INIT { NULL, 0 }

/*
 * Parse the n bytes at text into *s (which must not hold clauses: initialize it
 * or release it first). Returns 0, or KERR_INVAL with a message in e (if not
 * NULL) naming the bad clause; on failure *s is left empty (no release needed,
 * but harmless).
 */
int pyspec_parse(struct pyspec *s, const char *text, size_t n, struct kerr *e);

/* Free s's clauses; s is then the empty specifier again. */
void pyspec_release(struct pyspec *s);

/* 1 if v satisfies every clause of s (the empty specifier: always), else 0. */
int pyspec_contains(const struct pyspec *s, const struct pyversion *v);

/*
 * 1 if some clause names a pre-release (PEP 440: the user asked for
 * pre-releases): a clause other than != and ==V.* whose version is a
 * pre-release or dev release, or an === operand that parses as one.
 */
int pyspec_prereleases(const struct pyspec *s);

enum pyspec_prerelease_policy {
	PYSPEC_PRE_ALLOW,   /* membership only: same as pyspec_contains() */
	PYSPEC_PRE_EXCLUDE, /* pre-releases never match */
	PYSPEC_PRE_AUTO     /* pre-releases match only if pyspec_prereleases(s) */
};

/* pyspec_contains() with the given pre-release policy. 1 or 0. */
int pyspec_contains_policy(const struct pyspec *s, const struct pyversion *v,
	enum pyspec_prerelease_policy policy);

#endif
