/*
 * Unit tests for common/pyspec: PEP 440 version specifiers (Requires-Python).
 * Expected values were cross-checked against python packaging 26.3:
 * allow = SpecifierSet(spec).contains(v, prereleases=True),
 * exclude = ... prereleases=False, and auto = allow and (v is not a
 * pre-release or some clause's .prereleases is true), PEP 440's default.
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/pyspec.h"
#include "common/pyversion.h"

#include <string.h>

struct contains_case {
	const char *spec;
	const char *version;
	int allow, exclude, autopre; /* per enum pyspec_prerelease_policy */
};

/* Requires-Python values seen in the wild against interpreter versions. */
static const struct contains_case requires_python_cases[] = {
	{ ">=3.8", "2.7", 0, 0, 0 },
	{ ">=3.8", "3.6", 0, 0, 0 },
	{ ">=3.8", "3.7", 0, 0, 0 },
	{ ">=3.8", "3.7.17", 0, 0, 0 },
	{ ">=3.8", "3.8", 1, 1, 1 },
	{ ">=3.8", "3.9.18", 1, 1, 1 },
	{ ">=3.8", "3.10", 1, 1, 1 },
	{ ">=3.8", "3.10.0", 1, 1, 1 },
	{ ">=3.8", "3.10.13", 1, 1, 1 },
	{ ">=3.8", "3.11.0a1", 1, 0, 0 },
	{ ">=3.8", "3.11.0rc2", 1, 0, 0 },
	{ ">=3.8", "3.11", 1, 1, 1 },
	{ ">=3.8", "3.11.2", 1, 1, 1 },
	{ ">=3.8", "3.12.0b1", 1, 0, 0 },
	{ ">=3.8", "3.12", 1, 1, 1 },
	{ ">=3.8", "3.13.0a4", 1, 0, 0 },
	{ ">=3.8", "4.0", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "2.7", 0, 0, 0 },
	{ ">=3.6, !=3.7.*", "3.6", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.7", 0, 0, 0 },
	{ ">=3.6, !=3.7.*", "3.7.17", 0, 0, 0 },
	{ ">=3.6, !=3.7.*", "3.8", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.9.18", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.10", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.10.0", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.10.13", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.11.0a1", 1, 0, 0 },
	{ ">=3.6, !=3.7.*", "3.11.0rc2", 1, 0, 0 },
	{ ">=3.6, !=3.7.*", "3.11", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.11.2", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.12.0b1", 1, 0, 0 },
	{ ">=3.6, !=3.7.*", "3.12", 1, 1, 1 },
	{ ">=3.6, !=3.7.*", "3.13.0a4", 1, 0, 0 },
	{ ">=3.6, !=3.7.*", "4.0", 1, 1, 1 },
	{ "~=3.10", "2.7", 0, 0, 0 },
	{ "~=3.10", "3.6", 0, 0, 0 },
	{ "~=3.10", "3.7", 0, 0, 0 },
	{ "~=3.10", "3.7.17", 0, 0, 0 },
	{ "~=3.10", "3.8", 0, 0, 0 },
	{ "~=3.10", "3.9.18", 0, 0, 0 },
	{ "~=3.10", "3.10", 1, 1, 1 },
	{ "~=3.10", "3.10.0", 1, 1, 1 },
	{ "~=3.10", "3.10.13", 1, 1, 1 },
	{ "~=3.10", "3.11.0a1", 1, 0, 0 },
	{ "~=3.10", "3.11.0rc2", 1, 0, 0 },
	{ "~=3.10", "3.11", 1, 1, 1 },
	{ "~=3.10", "3.11.2", 1, 1, 1 },
	{ "~=3.10", "3.12.0b1", 1, 0, 0 },
	{ "~=3.10", "3.12", 1, 1, 1 },
	{ "~=3.10", "3.13.0a4", 1, 0, 0 },
	{ "~=3.10", "4.0", 0, 0, 0 },
	{ "==3.11.*", "2.7", 0, 0, 0 },
	{ "==3.11.*", "3.6", 0, 0, 0 },
	{ "==3.11.*", "3.7", 0, 0, 0 },
	{ "==3.11.*", "3.7.17", 0, 0, 0 },
	{ "==3.11.*", "3.8", 0, 0, 0 },
	{ "==3.11.*", "3.9.18", 0, 0, 0 },
	{ "==3.11.*", "3.10", 0, 0, 0 },
	{ "==3.11.*", "3.10.0", 0, 0, 0 },
	{ "==3.11.*", "3.10.13", 0, 0, 0 },
	{ "==3.11.*", "3.11.0a1", 1, 0, 0 },
	{ "==3.11.*", "3.11.0rc2", 1, 0, 0 },
	{ "==3.11.*", "3.11", 1, 1, 1 },
	{ "==3.11.*", "3.11.2", 1, 1, 1 },
	{ "==3.11.*", "3.12.0b1", 0, 0, 0 },
	{ "==3.11.*", "3.12", 0, 0, 0 },
	{ "==3.11.*", "3.13.0a4", 0, 0, 0 },
	{ "==3.11.*", "4.0", 0, 0, 0 },
	{ "<3.12,>=3.9", "2.7", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.6", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.7", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.7.17", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.8", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.9.18", 1, 1, 1 },
	{ "<3.12,>=3.9", "3.10", 1, 1, 1 },
	{ "<3.12,>=3.9", "3.10.0", 1, 1, 1 },
	{ "<3.12,>=3.9", "3.10.13", 1, 1, 1 },
	{ "<3.12,>=3.9", "3.11.0a1", 1, 0, 0 },
	{ "<3.12,>=3.9", "3.11.0rc2", 1, 0, 0 },
	{ "<3.12,>=3.9", "3.11", 1, 1, 1 },
	{ "<3.12,>=3.9", "3.11.2", 1, 1, 1 },
	{ "<3.12,>=3.9", "3.12.0b1", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.12", 0, 0, 0 },
	{ "<3.12,>=3.9", "3.13.0a4", 0, 0, 0 },
	{ "<3.12,>=3.9", "4.0", 0, 0, 0 },
	{ ">=3.7,<4", "2.7", 0, 0, 0 },
	{ ">=3.7,<4", "3.6", 0, 0, 0 },
	{ ">=3.7,<4", "3.7", 1, 1, 1 },
	{ ">=3.7,<4", "3.7.17", 1, 1, 1 },
	{ ">=3.7,<4", "3.8", 1, 1, 1 },
	{ ">=3.7,<4", "3.9.18", 1, 1, 1 },
	{ ">=3.7,<4", "3.10", 1, 1, 1 },
	{ ">=3.7,<4", "3.10.0", 1, 1, 1 },
	{ ">=3.7,<4", "3.10.13", 1, 1, 1 },
	{ ">=3.7,<4", "3.11.0a1", 1, 0, 0 },
	{ ">=3.7,<4", "3.11.0rc2", 1, 0, 0 },
	{ ">=3.7,<4", "3.11", 1, 1, 1 },
	{ ">=3.7,<4", "3.11.2", 1, 1, 1 },
	{ ">=3.7,<4", "3.12.0b1", 1, 0, 0 },
	{ ">=3.7,<4", "3.12", 1, 1, 1 },
	{ ">=3.7,<4", "3.13.0a4", 1, 0, 0 },
	{ ">=3.7,<4", "4.0", 0, 0, 0 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "2.7", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.6", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.7", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.7.17", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.8", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.9.18", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.10", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.10.0", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.10.13", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.11.0a1", 1, 0, 0 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.11.0rc2", 1, 0, 0 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.11", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.11.2", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.12.0b1", 1, 0, 0 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.12", 1, 1, 1 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "3.13.0a4", 1, 0, 0 },
	{ "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", "4.0", 1, 1, 1 },
	{ ">3.9", "2.7", 0, 0, 0 },
	{ ">3.9", "3.6", 0, 0, 0 },
	{ ">3.9", "3.7", 0, 0, 0 },
	{ ">3.9", "3.7.17", 0, 0, 0 },
	{ ">3.9", "3.8", 0, 0, 0 },
	{ ">3.9", "3.9.18", 1, 1, 1 },
	{ ">3.9", "3.10", 1, 1, 1 },
	{ ">3.9", "3.10.0", 1, 1, 1 },
	{ ">3.9", "3.10.13", 1, 1, 1 },
	{ ">3.9", "3.11.0a1", 1, 0, 0 },
	{ ">3.9", "3.11.0rc2", 1, 0, 0 },
	{ ">3.9", "3.11", 1, 1, 1 },
	{ ">3.9", "3.11.2", 1, 1, 1 },
	{ ">3.9", "3.12.0b1", 1, 0, 0 },
	{ ">3.9", "3.12", 1, 1, 1 },
	{ ">3.9", "3.13.0a4", 1, 0, 0 },
	{ ">3.9", "4.0", 1, 1, 1 },
	{ "<=3.11", "2.7", 1, 1, 1 },
	{ "<=3.11", "3.6", 1, 1, 1 },
	{ "<=3.11", "3.7", 1, 1, 1 },
	{ "<=3.11", "3.7.17", 1, 1, 1 },
	{ "<=3.11", "3.8", 1, 1, 1 },
	{ "<=3.11", "3.9.18", 1, 1, 1 },
	{ "<=3.11", "3.10", 1, 1, 1 },
	{ "<=3.11", "3.10.0", 1, 1, 1 },
	{ "<=3.11", "3.10.13", 1, 1, 1 },
	{ "<=3.11", "3.11.0a1", 1, 0, 0 },
	{ "<=3.11", "3.11.0rc2", 1, 0, 0 },
	{ "<=3.11", "3.11", 1, 1, 1 },
	{ "<=3.11", "3.11.2", 0, 0, 0 },
	{ "<=3.11", "3.12.0b1", 0, 0, 0 },
	{ "<=3.11", "3.12", 0, 0, 0 },
	{ "<=3.11", "3.13.0a4", 0, 0, 0 },
	{ "<=3.11", "4.0", 0, 0, 0 },
	{ "==3.11", "2.7", 0, 0, 0 },
	{ "==3.11", "3.6", 0, 0, 0 },
	{ "==3.11", "3.7", 0, 0, 0 },
	{ "==3.11", "3.7.17", 0, 0, 0 },
	{ "==3.11", "3.8", 0, 0, 0 },
	{ "==3.11", "3.9.18", 0, 0, 0 },
	{ "==3.11", "3.10", 0, 0, 0 },
	{ "==3.11", "3.10.0", 0, 0, 0 },
	{ "==3.11", "3.10.13", 0, 0, 0 },
	{ "==3.11", "3.11.0a1", 0, 0, 0 },
	{ "==3.11", "3.11.0rc2", 0, 0, 0 },
	{ "==3.11", "3.11", 1, 1, 1 },
	{ "==3.11", "3.11.2", 0, 0, 0 },
	{ "==3.11", "3.12.0b1", 0, 0, 0 },
	{ "==3.11", "3.12", 0, 0, 0 },
	{ "==3.11", "3.13.0a4", 0, 0, 0 },
	{ "==3.11", "4.0", 0, 0, 0 },
	{ "~=3.10.0", "2.7", 0, 0, 0 },
	{ "~=3.10.0", "3.6", 0, 0, 0 },
	{ "~=3.10.0", "3.7", 0, 0, 0 },
	{ "~=3.10.0", "3.7.17", 0, 0, 0 },
	{ "~=3.10.0", "3.8", 0, 0, 0 },
	{ "~=3.10.0", "3.9.18", 0, 0, 0 },
	{ "~=3.10.0", "3.10", 1, 1, 1 },
	{ "~=3.10.0", "3.10.0", 1, 1, 1 },
	{ "~=3.10.0", "3.10.13", 1, 1, 1 },
	{ "~=3.10.0", "3.11.0a1", 0, 0, 0 },
	{ "~=3.10.0", "3.11.0rc2", 0, 0, 0 },
	{ "~=3.10.0", "3.11", 0, 0, 0 },
	{ "~=3.10.0", "3.11.2", 0, 0, 0 },
	{ "~=3.10.0", "3.12.0b1", 0, 0, 0 },
	{ "~=3.10.0", "3.12", 0, 0, 0 },
	{ "~=3.10.0", "3.13.0a4", 0, 0, 0 },
	{ "~=3.10.0", "4.0", 0, 0, 0 },
	{ ">=3.12.0a1", "2.7", 0, 0, 0 },
	{ ">=3.12.0a1", "3.6", 0, 0, 0 },
	{ ">=3.12.0a1", "3.7", 0, 0, 0 },
	{ ">=3.12.0a1", "3.7.17", 0, 0, 0 },
	{ ">=3.12.0a1", "3.8", 0, 0, 0 },
	{ ">=3.12.0a1", "3.9.18", 0, 0, 0 },
	{ ">=3.12.0a1", "3.10", 0, 0, 0 },
	{ ">=3.12.0a1", "3.10.0", 0, 0, 0 },
	{ ">=3.12.0a1", "3.10.13", 0, 0, 0 },
	{ ">=3.12.0a1", "3.11.0a1", 0, 0, 0 },
	{ ">=3.12.0a1", "3.11.0rc2", 0, 0, 0 },
	{ ">=3.12.0a1", "3.11", 0, 0, 0 },
	{ ">=3.12.0a1", "3.11.2", 0, 0, 0 },
	{ ">=3.12.0a1", "3.12.0b1", 1, 0, 1 },
	{ ">=3.12.0a1", "3.12", 1, 1, 1 },
	{ ">=3.12.0a1", "3.13.0a4", 1, 0, 1 },
	{ ">=3.12.0a1", "4.0", 1, 1, 1 },
	{ "", "2.7", 1, 1, 1 },
	{ "", "3.6", 1, 1, 1 },
	{ "", "3.7", 1, 1, 1 },
	{ "", "3.7.17", 1, 1, 1 },
	{ "", "3.8", 1, 1, 1 },
	{ "", "3.9.18", 1, 1, 1 },
	{ "", "3.10", 1, 1, 1 },
	{ "", "3.10.0", 1, 1, 1 },
	{ "", "3.10.13", 1, 1, 1 },
	{ "", "3.11.0a1", 1, 0, 0 },
	{ "", "3.11.0rc2", 1, 0, 0 },
	{ "", "3.11", 1, 1, 1 },
	{ "", "3.11.2", 1, 1, 1 },
	{ "", "3.12.0b1", 1, 0, 0 },
	{ "", "3.12", 1, 1, 1 },
	{ "", "3.13.0a4", 1, 0, 0 },
	{ "", "4.0", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "2.7", 0, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.6", 0, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.7", 0, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.7.17", 0, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.8", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.9.18", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.10", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.10.0", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.10.13", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.11.0a1", 1, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.11.0rc2", 1, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.11", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.11.2", 0, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.12.0b1", 1, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "3.12", 1, 1, 1 },
	{ ">=3.8,<3.13,!=3.11.2", "3.13.0a4", 0, 0, 0 },
	{ ">=3.8,<3.13,!=3.11.2", "4.0", 0, 0, 0 },
};

/* PEP 440's operator semantics, its examples and the edges around them. */
static const struct contains_case pep440_cases[] = {
	{ "~=2.2", "2.1", 0, 0, 0 },
	{ "~=2.2", "2.2", 1, 1, 1 },
	{ "~=2.2", "2.2.1", 1, 1, 1 },
	{ "~=2.2", "2.3", 1, 1, 1 },
	{ "~=2.2", "2.9.9", 1, 1, 1 },
	{ "~=2.2", "3.0", 0, 0, 0 },
	{ "~=2.2", "3.0.dev0", 0, 0, 0 },
	{ "~=2.2", "2.2a1", 0, 0, 0 },
	{ "~=2.2", "2.2.post1", 1, 1, 1 },
	{ "~=2.2", "2!2.2", 0, 0, 0 },
	{ "~=2.2", "2.3+local", 1, 1, 1 },
	{ "~=1.4.5", "1.4.4", 0, 0, 0 },
	{ "~=1.4.5", "1.4.5", 1, 1, 1 },
	{ "~=1.4.5", "1.4.5.post1", 1, 1, 1 },
	{ "~=1.4.5", "1.4.6", 1, 1, 1 },
	{ "~=1.4.5", "1.4.99", 1, 1, 1 },
	{ "~=1.4.5", "1.5", 0, 0, 0 },
	{ "~=1.4.5", "1.5.0.dev0", 0, 0, 0 },
	{ "~=1.4.5", "1.4.6a1", 1, 0, 0 },
	{ "~=2.2.post3", "2.2", 0, 0, 0 },
	{ "~=2.2.post3", "2.2.post2", 0, 0, 0 },
	{ "~=2.2.post3", "2.2.post3", 1, 1, 1 },
	{ "~=2.2.post3", "2.2.post4", 1, 1, 1 },
	{ "~=2.2.post3", "2.3", 1, 1, 1 },
	{ "~=2.2.post3", "3.0", 0, 0, 0 },
	{ "~=1.4.5a4", "1.4.5a3", 0, 0, 0 },
	{ "~=1.4.5a4", "1.4.5a4", 1, 0, 1 },
	{ "~=1.4.5a4", "1.4.5b1", 1, 0, 1 },
	{ "~=1.4.5a4", "1.4.5", 1, 1, 1 },
	{ "~=1.4.5a4", "1.4.9", 1, 1, 1 },
	{ "~=1.4.5a4", "1.5", 0, 0, 0 },
	{ "~=1.4.5.0", "1.4.5", 1, 1, 1 },
	{ "~=1.4.5.0", "1.4.5.1", 1, 1, 1 },
	{ "~=1.4.5.0", "1.4.6", 0, 0, 0 },
	{ "~=1.4.5.0", "1.4.5.0.post1", 1, 1, 1 },
	{ "~=1!1.0", "1.0", 0, 0, 0 },
	{ "~=1!1.0", "1!1.0", 1, 1, 1 },
	{ "~=1!1.0", "1!1.5", 1, 1, 1 },
	{ "~=1!1.0", "1!2.0", 0, 0, 0 },
	{ "~=1!1.0", "2!1.0", 0, 0, 0 },
	{ "==1.1", "1.1", 1, 1, 1 },
	{ "==1.1", "1.1.0", 1, 1, 1 },
	{ "==1.1", "1.1+local", 1, 1, 1 },
	{ "==1.1", "1.1.post1", 0, 0, 0 },
	{ "==1.1", "1.1a1", 0, 0, 0 },
	{ "==1.1", "1.1.1", 0, 0, 0 },
	{ "==1.1", "1.10", 0, 0, 0 },
	{ "==1.1.post1", "1.1", 0, 0, 0 },
	{ "==1.1.post1", "1.1.post1", 1, 1, 1 },
	{ "==1.1.post1", "1.1.post1+x", 1, 1, 1 },
	{ "==1.1.post1", "1.1.post1.dev1", 0, 0, 0 },
	{ "==1.1.*", "1.1", 1, 1, 1 },
	{ "==1.1.*", "1.1.0", 1, 1, 1 },
	{ "==1.1.*", "1.1.post1", 1, 1, 1 },
	{ "==1.1.*", "1.1a1", 1, 0, 0 },
	{ "==1.1.*", "1.1.dev0", 1, 0, 0 },
	{ "==1.1.*", "1.1.9+local", 1, 1, 1 },
	{ "==1.1.*", "1.10", 0, 0, 0 },
	{ "==1.1.*", "1.2", 0, 0, 0 },
	{ "==1.1.*", "1", 0, 0, 0 },
	{ "==1.1.*", "1.0.9", 0, 0, 0 },
	{ "==1.1.*", "0!1.1.3", 1, 1, 1 },
	{ "==1.*", "1", 1, 1, 1 },
	{ "==1.*", "1.0", 1, 1, 1 },
	{ "==1.*", "1.99.1", 1, 1, 1 },
	{ "==1.*", "2.0.dev0", 0, 0, 0 },
	{ "==1.*", "0.9", 0, 0, 0 },
	{ "==1.*", "1!1.0", 0, 0, 0 },
	{ "==1.0.0.*", "1", 1, 1, 1 },
	{ "==1.0.0.*", "1.0", 1, 1, 1 },
	{ "==1.0.0.*", "1.0.0.0", 1, 1, 1 },
	{ "==1.0.0.*", "1.0.0.1", 1, 1, 1 },
	{ "==1.0.0.*", "1.0.1", 0, 0, 0 },
	{ "==1!1.*", "1.0", 0, 0, 0 },
	{ "==1!1.*", "1!1.0", 1, 1, 1 },
	{ "==1!1.*", "1!1.9", 1, 1, 1 },
	{ "==1!1.*", "1!2.0", 0, 0, 0 },
	{ "==1.0+local", "1.0", 0, 0, 0 },
	{ "==1.0+local", "1.0+local", 1, 1, 1 },
	{ "==1.0+local", "1.0+LOCAL", 1, 1, 1 },
	{ "==1.0+local", "1.0+local.1", 0, 0, 0 },
	{ "==1.0+local", "1.0+other", 0, 0, 0 },
	{ "==1.0+5", "1.0+5", 1, 1, 1 },
	{ "==1.0+5", "1.0+05", 1, 1, 1 },
	{ "==1.0+5", "1.0+5.0", 0, 0, 0 },
	{ "==1.0+5", "1.0", 0, 0, 0 },
	{ "!=1.1", "1.1", 0, 0, 0 },
	{ "!=1.1", "1.1+local", 0, 0, 0 },
	{ "!=1.1", "1.1.post1", 1, 1, 1 },
	{ "!=1.1", "1.0", 1, 1, 1 },
	{ "!=1.1", "1.2", 1, 1, 1 },
	{ "!=1.1.*", "1.1", 0, 0, 0 },
	{ "!=1.1.*", "1.1.5", 0, 0, 0 },
	{ "!=1.1.*", "1.1a1", 0, 0, 0 },
	{ "!=1.1.*", "1.0", 1, 1, 1 },
	{ "!=1.1.*", "1.2", 1, 1, 1 },
	{ "!=1.1.*", "1.10", 1, 1, 1 },
	{ "!=1.0+local", "1.0", 1, 1, 1 },
	{ "!=1.0+local", "1.0+local", 0, 0, 0 },
	{ "!=1.0+local", "1.0+other", 1, 1, 1 },
	{ ">=1.0", "0.9", 0, 0, 0 },
	{ ">=1.0", "1.0", 1, 1, 1 },
	{ ">=1.0", "1.0+local", 1, 1, 1 },
	{ ">=1.0", "1.0a1", 0, 0, 0 },
	{ ">=1.0", "1.0.post1", 1, 1, 1 },
	{ ">=1.0", "2.0a1", 1, 0, 0 },
	{ ">=1.0", "1.0.dev0", 0, 0, 0 },
	{ ">=1.0a1", "1.0.dev0", 0, 0, 0 },
	{ ">=1.0a1", "1.0a1", 1, 0, 1 },
	{ ">=1.0a1", "1.0a2", 1, 0, 1 },
	{ ">=1.0a1", "1.0", 1, 1, 1 },
	{ "<=1.0", "1.0", 1, 1, 1 },
	{ "<=1.0", "1.0+local", 1, 1, 1 },
	{ "<=1.0", "1.0.post1", 0, 0, 0 },
	{ "<=1.0", "0.9a1", 1, 0, 0 },
	{ "<=1.0", "1.0a1", 1, 0, 0 },
	{ "<=1.0", "1.1", 0, 0, 0 },
	{ "<1.0", "0.9", 1, 1, 1 },
	{ "<1.0", "0.9.post1", 1, 1, 1 },
	{ "<1.0", "0.9+local", 1, 1, 1 },
	{ "<1.0", "1.0a1", 0, 0, 0 },
	{ "<1.0", "1.0.dev0", 0, 0, 0 },
	{ "<1.0", "1.0rc1", 0, 0, 0 },
	{ "<1.0", "1.0", 0, 0, 0 },
	{ "<1.0", "0.9.9a1", 1, 0, 0 },
	{ "<1.0a2", "1.0a1", 1, 0, 1 },
	{ "<1.0a2", "1.0a1.post1", 1, 0, 1 },
	{ "<1.0a2", "1.0.dev5", 1, 0, 1 },
	{ "<1.0a2", "1.0a2.dev0", 1, 0, 1 },
	{ "<1.0a2", "1.0a2", 0, 0, 0 },
	{ "<1.0.post1", "1.0", 1, 1, 1 },
	{ "<1.0.post1", "1.0a1", 1, 0, 0 },
	{ "<1.0.post1", "1.0.post0", 1, 1, 1 },
	{ "<1.0.post1", "1.0.post1.dev0", 0, 0, 0 },
	{ "<1.0.post1", "1.0.post1", 0, 0, 0 },
	{ "<1.0.dev1", "1.0.dev0", 1, 0, 1 },
	{ "<1.0.dev1", "1.0.dev0+local", 1, 0, 1 },
	{ "<1.0.dev1", "1.0.dev1", 0, 0, 0 },
	{ "<1.0.dev1", "0.9", 1, 1, 1 },
	{ ">1.7", "1.7", 0, 0, 0 },
	{ ">1.7", "1.7.0", 0, 0, 0 },
	{ ">1.7", "1.7+local", 0, 0, 0 },
	{ ">1.7", "1.7.post1", 0, 0, 0 },
	{ ">1.7", "1.7.0.post1.dev0", 0, 0, 0 },
	{ ">1.7", "1.7.1", 1, 1, 1 },
	{ ">1.7", "1.8a1", 1, 0, 0 },
	{ ">1.7", "1.7.1.dev0", 1, 0, 0 },
	{ ">1.7.post2", "1.7.0", 0, 0, 0 },
	{ ">1.7.post2", "1.7.post2", 0, 0, 0 },
	{ ">1.7.post2", "1.7.post2+local", 0, 0, 0 },
	{ ">1.7.post2", "1.7.post3", 1, 1, 1 },
	{ ">1.7.post2", "1.7.post3.dev0", 1, 0, 0 },
	{ ">1.7.post2", "1.7.1", 1, 1, 1 },
	{ ">1.0a1", "1.0a1", 0, 0, 0 },
	{ ">1.0a1", "1.0a1+local", 0, 0, 0 },
	{ ">1.0a1", "1.0a1.post1", 0, 0, 0 },
	{ ">1.0a1", "1.0a2", 1, 0, 1 },
	{ ">1.0a1", "1.0", 1, 1, 1 },
	{ ">1.0a1", "1.0.post1", 1, 1, 1 },
	{ ">1.0.dev1", "1.0.dev1", 0, 0, 0 },
	{ ">1.0.dev1", "1.0.dev1+local", 0, 0, 0 },
	{ ">1.0.dev1", "1.0.dev2", 1, 0, 1 },
	{ ">1.0.dev1", "1.0a1", 1, 0, 1 },
	{ ">1.0.dev1", "1.0.post1.dev1", 1, 0, 1 },
	{ ">1.0.post1.dev1", "1.0.post1.dev1", 0, 0, 0 },
	{ ">1.0.post1.dev1", "1.0.post1.dev1+x", 0, 0, 0 },
	{ ">1.0.post1.dev1", "1.0.post1.dev2", 1, 0, 1 },
	{ ">1.0.post1.dev1", "1.0.post1", 1, 1, 1 },
	{ "===1.0", "1.0", 1, 1, 1 },
	{ "===1.0", "1.0.0", 0, 0, 0 },
	{ "===1.0", "1.0+local", 0, 0, 0 },
	{ "===1.0RC1", "1.0rc1", 1, 0, 1 },
	{ "===1.0RC1", "1.0c1", 1, 0, 1 },
	{ ">=1.0,<2.0,!=1.5.*", "0.9", 0, 0, 0 },
	{ ">=1.0,<2.0,!=1.5.*", "1.0", 1, 1, 1 },
	{ ">=1.0,<2.0,!=1.5.*", "1.4.9", 1, 1, 1 },
	{ ">=1.0,<2.0,!=1.5.*", "1.5", 0, 0, 0 },
	{ ">=1.0,<2.0,!=1.5.*", "1.5.3", 0, 0, 0 },
	{ ">=1.0,<2.0,!=1.5.*", "1.6", 1, 1, 1 },
	{ ">=1.0,<2.0,!=1.5.*", "2.0", 0, 0, 0 },
	{ ">=1.0,<2.0,!=1.5.*", "2.0a1", 0, 0, 0 },
	{ ">=1.0,<2.0,!=1.5.*", "1.9.9.post1", 1, 1, 1 },
	{ ">=1.0a1,<1.0", "1.0a1", 0, 0, 0 },
	{ ">=1.0a1,<1.0", "1.0rc1", 0, 0, 0 },
	{ ">=1.0a1,<1.0", "1.0", 0, 0, 0 },
	{ ">=1.0a1,<1.0", "0.9", 0, 0, 0 },
	{ ">1.0,<1.0.post2", "1.0.post1", 0, 0, 0 },
	{ ">1.0,<1.0.post2", "1.0", 0, 0, 0 },
	{ ">1.0,<1.0.post2", "1.0.post2", 0, 0, 0 },
	{ "  >=  1.0 ,\t<2  ", "1.5", 1, 1, 1 },
	{ "  >=  1.0 ,\t<2  ", "2", 0, 0, 0 },
	{ ">=1.0,,<2,", "1.5", 1, 1, 1 },
	{ ">=1.0,,<2,", "2.5", 0, 0, 0 },
	{ "==V1.0", "1.0", 1, 1, 1 },
	{ ">=1.0.ALPHA1", "1.0a1", 1, 0, 1 },
	{ ">=1.0.ALPHA1", "1.0.dev0", 0, 0, 0 },
	{ ">=0!1.0", "1.0", 1, 1, 1 },
	{ ">=0!1.0", "1!0.1", 1, 1, 1 },
	{ "<1!0", "1.0", 1, 1, 1 },
	{ "<1!0", "9999", 1, 1, 1 },
	{ "<1!0", "1!0.dev0", 0, 0, 0 },
	{ "<1!0", "1!0", 0, 0, 0 },
	{ ">9223372036854775807.0", "9223372036854775807.0.post1", 0, 0, 0 },
	{ ">9223372036854775807.0", "9223372036854775807.1", 1, 1, 1 },
	{ ">9223372036854775807.0", "9223372036854775807.0+x", 0, 0, 0 },
	{ ">1.0.dev9223372036854775807", "1.0.dev9223372036854775807+x", 0, 0, 0 },
	{ ">1.0.dev9223372036854775807", "1.0a0", 1, 0, 1 },
	{ ">1.0.dev9223372036854775807", "1.0", 1, 1, 1 },
	{ "~=1.9223372036854775807", "1.9223372036854775807", 1, 1, 1 },
	{ "~=1.9223372036854775807", "1.9223372036854775807.5", 1, 1, 1 },
	{ "~=1.9223372036854775807", "2.0", 0, 0, 0 },
	{ "==1.9223372036854775807.*", "1.9223372036854775807", 1, 1, 1 },
	{ "==1.9223372036854775807.*", "1.9223372036854775807.5", 1, 1, 1 },
	{ "==1.9223372036854775807.*", "2.0", 0, 0, 0 },
};

struct bad_case {
	const char *spec;
	size_t n;
};

static const struct bad_case bad_cases[] = {
	{ "=", 1 },
	{ "1.0", 3 },
	{ "=1.0", 4 },
	{ "=>1.0", 5 },
	{ "=<1.0", 5 },
	{ "<>1.0", 5 },
	{ "!1.0", 4 },
	{ "~1.0", 4 },
	{ "==", 2 },
	{ ">=", 2 },
	{ "~=", 2 },
	{ "===", 3 }, /* Kiln only, packaging accepts */
	{ "== ", 3 },
	{ ">= ,<2", 6 },
	{ "~=1", 3 },
	{ "~=1.*", 5 },
	{ "~=1.0.*", 7 },
	{ "~=1.0+local", 11 },
	{ "<1.0+local", 10 },
	{ ">1.0+local", 10 },
	{ "<=1.0+local", 11 },
	{ ">=1.0+local", 11 },
	{ "<1.0.*", 6 },
	{ ">1.0.*", 6 },
	{ "<=1.0.*", 7 },
	{ ">=1.0.*", 7 },
	{ "==1.0a1.*", 9 },
	{ "==1.0.post1.*", 13 },
	{ "==1.0.dev1.*", 12 },
	{ "==1.0+local.*", 13 },
	{ "==1.*.*", 7 },
	{ "==*", 3 },
	{ "==.*", 4 },
	{ "==1.0.", 6 },
	{ "==1.0 .*", 8 },
	{ "== 1 .0", 7 },
	{ "==1.0 a1", 8 },
	{ ">=1.0 <2.0", 10 },
	{ ">=1.0;<2.0", 10 },
	{ ">=1.0 and <2.0", 14 },
	{ ">=1.0,<2.0 foo", 14 },
	{ ">=x", 3 },
	{ ">=1.0x", 6 },
	{ "==1.0+", 6 },
	{ ">=1.0-", 6 },
	{ ">= v", 4 },
	{ "==1!", 4 },
	{ ">=3.8;python_version", 20 },
	{ "(>=1.0)", 7 },
	{ ">=1.9223372036854775808", 23 }, /* Kiln only, packaging accepts */
	{ "==1.0+local ,<", 14 },
	{ "===1.0 2.0", 10 },
	{ "===1.0;", 7 },
	{ "===1.0)", 7 },
	{ "===\351", 4 }, /* Kiln only, packaging accepts */
	{ ">=1.0\000", 6 },
	{ ">==1.0", 6 },
	{ "!==1.0", 6 },
	{ "<<1.0", 5 },
	{ "~==1.0", 6 },
};

struct prerelease_case {
	const char *spec;
	int implied;
};

static const struct prerelease_case prerelease_cases[] = {
	{ "", 0 },
	{ ">=3.8", 0 },
	{ ">=3.8.0a1", 1 },
	{ ">=3.8.dev0", 1 },
	{ ">=3.8.post1.dev0", 1 },
	{ ">=3.8.post1", 0 },
	{ "<=3.8rc1", 1 },
	{ "<3.8b1", 1 },
	{ ">3.8a1", 1 },
	{ "~=3.8.0a1", 1 },
	{ "==3.8.0a1", 1 },
	{ "==3.8.*", 0 },
	{ "!=3.8.0a1", 0 },
	{ "!=3.8.0a1,>=3.7", 0 },
	{ "!=3.8.0a1,>=3.7a1", 1 },
	{ "===3.8.0a1", 1 },
	{ "===3.8.0", 0 },
	{ "===foobar", 0 },
	{ ">=3.7, <3.9rc1", 1 },
	{ "==1.0+local", 0 },
	{ "==1.0a1+local", 1 },
};

static void parse_version(struct pyversion *v, const char *s)
{
	struct kerr e;

	if (pyversion_parse_str(v, s, &e) != 0)
		fail_msg("version '%s' did not parse: %s", s, e.msg);
}

static void parse_spec(struct pyspec *s, const char *text)
{
	struct kerr e;

	if (pyspec_parse(s, text, strlen(text), &e) != 0)
		fail_msg("specifier '%s' did not parse: %s", text, e.msg);
}

static void check_contains(const struct contains_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct contains_case *c = &cases[i];
		struct pyspec s = PYSPEC_INIT;
		struct pyversion v;
		int allow, exclude, autopre;

		parse_spec(&s, c->spec);
		parse_version(&v, c->version);
		allow = pyspec_contains(&s, &v);
		exclude = pyspec_contains_policy(&s, &v, PYSPEC_PRE_EXCLUDE);
		autopre = pyspec_contains_policy(&s, &v, PYSPEC_PRE_AUTO);
		pyspec_release(&s);
		if (allow != c->allow || exclude != c->exclude || autopre != c->autopre)
			fail_msg("'%s' contains '%s': got %d/%d/%d, want %d/%d/%d", c->spec,
				c->version, allow, exclude, autopre, c->allow, c->exclude,
				c->autopre);
	}
}

static void test_requires_python_table(void **state)
{
	(void)state;
	check_contains(requires_python_cases, ARRAY_LEN(requires_python_cases));
}

static void test_pep440_table(void **state)
{
	(void)state;
	check_contains(pep440_cases, ARRAY_LEN(pep440_cases));
}

static void test_allow_policy_is_contains(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(pep440_cases); i++) {
		const struct contains_case *c = &pep440_cases[i];
		struct pyspec s = PYSPEC_INIT;
		struct pyversion v;

		parse_spec(&s, c->spec);
		parse_version(&v, c->version);
		assert_int_equal(pyspec_contains_policy(&s, &v, PYSPEC_PRE_ALLOW),
			pyspec_contains(&s, &v));
		pyspec_release(&s);
	}
}

static void test_bad_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
		struct pyspec s = PYSPEC_INIT;
		struct kerr e;

		kerr_clear(&e);
		if (pyspec_parse(&s, bad_cases[i].spec, bad_cases[i].n, &e) != KERR_INVAL)
			fail_msg("case %zu '%s' should be rejected", i, bad_cases[i].spec);
		assert_int_equal(e.code, KERR_INVAL);
		assert_non_null(strstr(e.msg, "invalid version specifier"));
		assert_null(s.clauses);
		assert_int_equal(s.nclauses, 0);
		assert_int_equal(pyspec_parse(&s, bad_cases[i].spec, bad_cases[i].n, NULL), KERR_INVAL);
		pyspec_release(&s);
	}
}

static void test_prerelease_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(prerelease_cases); i++) {
		struct pyspec s = PYSPEC_INIT;

		parse_spec(&s, prerelease_cases[i].spec);
		if (pyspec_prereleases(&s) != prerelease_cases[i].implied)
			fail_msg("'%s': prereleases should be %d", prerelease_cases[i].spec,
				prerelease_cases[i].implied);
		pyspec_release(&s);
	}
}

struct clause_case {
	const char *spec;
	size_t nclauses;
	enum pyspec_op op0;
	int wildcard0;
	const char *version0; /* canonical, or the === operand */
};

static const struct clause_case clause_cases[] = {
	{ ">=3.8", 1, PYSPEC_GE, 0, "3.8" },
	{ "  >=  3.8  ", 1, PYSPEC_GE, 0, "3.8" },
	{ "<=3.8", 1, PYSPEC_LE, 0, "3.8" },
	{ "<3.8", 1, PYSPEC_LT, 0, "3.8" },
	{ ">3.8", 1, PYSPEC_GT, 0, "3.8" },
	{ "==3.8", 1, PYSPEC_EQ, 0, "3.8" },
	{ "==3.8.*", 1, PYSPEC_EQ, 1, "3.8" },
	{ "!=3.8", 1, PYSPEC_NE, 0, "3.8" },
	{ "!= 3.8.*", 1, PYSPEC_NE, 1, "3.8" },
	{ "~=3.8", 1, PYSPEC_COMPATIBLE, 0, "3.8" },
	{ "===3.8", 1, PYSPEC_ARBITRARY, 0, "3.8" },
	{ "=== foo-bar(x", 1, PYSPEC_ARBITRARY, 0, "foo-bar(x" },
	{ ">=v3.08.0RC1", 1, PYSPEC_GE, 0, "3.8.0rc1" },
	{ "==1.0+Ubuntu-1", 1, PYSPEC_EQ, 0, "1.0+ubuntu.1" },
	{ ">=3.6, !=3.7.*", 2, PYSPEC_GE, 0, "3.6" },
	{ ">=3.6,!=3.0.*,!=3.1.*,!=3.2.*,<4", 5, PYSPEC_GE, 0, "3.6" },
	{ ",,>=3.6,,", 1, PYSPEC_GE, 0, "3.6" },
	{ "", 0, PYSPEC_GE, 0, NULL },
	{ " \t\n ", 0, PYSPEC_GE, 0, NULL },
	{ ",", 0, PYSPEC_GE, 0, NULL },
	{ " , , ", 0, PYSPEC_GE, 0, NULL },
};

static void test_clause_table(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(clause_cases); i++) {
		const struct clause_case *c = &clause_cases[i];
		struct pyspec s = PYSPEC_INIT;

		parse_spec(&s, c->spec);
		assert_int_equal(s.nclauses, c->nclauses);
		if (c->nclauses == 0) {
			assert_null(s.clauses);
			continue;
		}
		assert_int_equal(s.clauses[0].op, c->op0);
		assert_int_equal(s.clauses[0].wildcard, c->wildcard0);
		if (c->op0 == PYSPEC_ARBITRARY) {
			assert_string_equal(s.clauses[0].arbitrary, c->version0);
		} else {
			buf_reset(&b);
			assert_int_equal(pyversion_normalize(&s.clauses[0].version, &b), 0);
			assert_string_equal(b.ptr, c->version0);
			assert_string_equal(s.clauses[0].arbitrary, "");
		}
		pyspec_release(&s);
	}
	buf_release(&b);
}

static void test_empty_matches_everything(void **state)
{
	static const char *const versions[] = {
		"0", "1.0", "3.11.0a1", "1.0.dev0", "1!0", "1.0+local", "9223372036854775807",
	};
	struct pyspec s = PYSPEC_INIT;
	(void)state;

	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
			struct pyversion v;

			parse_version(&v, versions[i]);
			assert_int_equal(pyspec_contains(&s, &v), 1);
			assert_int_equal(pyspec_contains_policy(&s, &v, PYSPEC_PRE_EXCLUDE),
				!pyversion_is_prerelease(&v));
		}
		/* a parsed empty text is the same as PYSPEC_INIT */
		parse_spec(&s, "  ");
	}
	pyspec_release(&s);
}

static void test_release_and_reuse(void **state)
{
	struct pyspec s = PYSPEC_INIT;
	struct pyversion v;
	(void)state;

	pyspec_release(&s); /* releasing an empty one is fine */
	parse_spec(&s, ">=3.8,<3.12");
	assert_int_equal(s.nclauses, 2);
	pyspec_release(&s);
	assert_null(s.clauses);
	assert_int_equal(s.nclauses, 0);
	pyspec_release(&s); /* and twice */
	parse_spec(&s, "~=3.10");
	parse_version(&v, "3.12");
	assert_int_equal(pyspec_contains(&s, &v), 1);
	parse_version(&v, "4.0");
	assert_int_equal(pyspec_contains(&s, &v), 0);
	pyspec_release(&s);
}

static void test_clause_limit(void **state)
{
	struct buf text = BUF_INIT(BUF_NOLIMIT);
	struct pyspec s = PYSPEC_INIT;
	struct kerr e;
	(void)state;

	for (int i = 0; i < PYSPEC_MAX_CLAUSES; i++)
		assert_int_equal(buf_printf(&text, "%s!=1.%d", i ? "," : "", i), 0);
	assert_int_equal(pyspec_parse(&s, text.ptr, text.len, &e), 0);
	assert_int_equal(s.nclauses, PYSPEC_MAX_CLAUSES);
	pyspec_release(&s);
	assert_int_equal(buf_puts(&text, ",!=2.0"), 0);
	assert_int_equal(pyspec_parse(&s, text.ptr, text.len, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "too many clauses"));
	assert_null(s.clauses);
	buf_release(&text);
}

static void test_arbitrary_operand_limit(void **state)
{
	char text[3 + PYSPEC_ARBITRARY_MAX + 2];
	struct pyspec s = PYSPEC_INIT;
	(void)state;

	memcpy(text, "===", 3);
	memset(text + 3, 'x', PYSPEC_ARBITRARY_MAX + 1);
	assert_int_equal(pyspec_parse(&s, text, 3 + PYSPEC_ARBITRARY_MAX, NULL), 0);
	assert_int_equal(strlen(s.clauses[0].arbitrary), PYSPEC_ARBITRARY_MAX);
	pyspec_release(&s);
	assert_int_equal(pyspec_parse(&s, text, 3 + PYSPEC_ARBITRARY_MAX + 1, NULL), KERR_INVAL);
}

static void test_explicit_length(void **state)
{
	struct pyspec s = PYSPEC_INIT;
	struct pyversion v;
	(void)state;

	/* only n bytes are read: ">=3.8" out of ">=3.8,<3.9" */
	assert_int_equal(pyspec_parse(&s, ">=3.8,<3.9", 5, NULL), 0);
	assert_int_equal(s.nclauses, 1);
	parse_version(&v, "3.10");
	assert_int_equal(pyspec_contains(&s, &v), 1);
	pyspec_release(&s);
	assert_int_equal(pyspec_parse(&s, ">=3.8\0,<3.9", 11, NULL), KERR_INVAL);
}

static void test_error_message(void **state)
{
	struct pyspec s = PYSPEC_INIT;
	struct kerr e;
	(void)state;

	kerr_clear(&e);
	assert_int_equal(pyspec_parse(&s, ">=3.8, =>3.9", 12, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid version specifier '=>3.9': unknown operator");
	assert_int_equal(pyspec_parse(&s, "~=3", 3, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid version specifier '~=3': '~=' needs at least two release segments");
	assert_int_equal(pyspec_parse(&s, ">=3.x", 5, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid version specifier '>=3.x': invalid version '3.x': unexpected character");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requires_python_table),
		cmocka_unit_test(test_pep440_table),
		cmocka_unit_test(test_allow_policy_is_contains),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_prerelease_table),
		cmocka_unit_test(test_clause_table),
		cmocka_unit_test(test_empty_matches_everything),
		cmocka_unit_test(test_release_and_reuse),
		cmocka_unit_test(test_clause_limit),
		cmocka_unit_test(test_arbitrary_operand_limit),
		cmocka_unit_test(test_explicit_length),
		cmocka_unit_test(test_error_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
