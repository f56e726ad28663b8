/*
 * Unit tests for common/wheelname: wheel and sdist filenames and tag matching.
 * Expected values were cross-checked against python packaging 26.3
 * (parse_wheel_filename, parse_sdist_filename, tags.cpython_tags and
 * tags.compatible_tags); rows marked "Kiln only" are where Kiln is stricter.
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/pyversion.h"
#include "common/wheelname.h"

#include <stdio.h>
#include <string.h>

struct wheel_case {
	const char *file;
	const char *name;    /* normalized */
	const char *version; /* canonical */
	int has_build;
	int64_t build_num;
	const char *build_rest;
	const char *python, *abi, *platform; /* expanded sets, joined by '.' */
};

static const struct wheel_case wheel_cases[] = {
	{ "foo-1.0-py3-none-any.whl", "foo", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "Foo-1.0-py3-none-any.whl", "foo", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo_bar-1.0-py3-none-any.whl", "foo-bar", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "Foo_Bar-2.0.1-py2.py3-none-any.whl", "foo-bar", "2.0.1", 0, 0, "",
	  "py2.py3", "none", "any" },
	{ "zope.interface-5.4.0-cp39-cp39-manylinux_2_17_x86_64.whl", "zope-interface", "5.4.0", 0, 0, "",
	  "cp39", "cp39", "manylinux_2_17_x86_64" },
	{ "foo-1.0-1-py3-none-any.whl", "foo", "1.0", 1, 1, "",
	  "py3", "none", "any" },
	{ "foo-1.0-12abc-py3-none-any.whl", "foo", "1.0", 1, 12, "abc",
	  "py3", "none", "any" },
	{ "foo-1.0-0-py3-none-any.whl", "foo", "1.0", 1, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0-007_x.y-py3-none-any.whl", "foo", "1.0", 1, 7, "_x.y",
	  "py3", "none", "any" },
	{ "foo-1.0-9223372036854775807-py3-none-any.whl", "foo", "1.0", 1, 9223372036854775807, "",
	  "py3", "none", "any" },
	{ "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "numpy", "1.26.4", 0, 0, "",
	  "cp312", "cp312", "manylinux_2_17_x86_64.manylinux2014_x86_64" },
	{ "numpy-1.26.4-cp312-cp312-win_amd64.whl", "numpy", "1.26.4", 0, 0, "",
	  "cp312", "cp312", "win_amd64" },
	{ "numpy-1.26.4-cp312-cp312-macosx_10_9_x86_64.whl", "numpy", "1.26.4", 0, 0, "",
	  "cp312", "cp312", "macosx_10_9_x86_64" },
	{ "numpy-1.26.4-pp39-pypy39_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "numpy", "1.26.4", 0, 0, "",
	  "pp39", "pypy39_pp73", "manylinux_2_17_x86_64.manylinux2014_x86_64" },
	{ "cryptography-42.0.5-cp39-abi3-manylinux_2_28_aarch64.whl", "cryptography", "42.0.5", 0, 0, "",
	  "cp39", "abi3", "manylinux_2_28_aarch64" },
	{ "cryptography-42.0.5-cp37-abi3-musllinux_1_1_x86_64.whl", "cryptography", "42.0.5", 0, 0, "",
	  "cp37", "abi3", "musllinux_1_1_x86_64" },
	{ "torch-2.0.0+cu118-cp310-cp310-linux_x86_64.whl", "torch", "2.0.0+cu118", 0, 0, "",
	  "cp310", "cp310", "linux_x86_64" },
	{ "foo-1!2.0-py3-none-any.whl", "foo", "1!2.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0a1-py3-none-any.whl", "foo", "1.0a1", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0.dev0-py3-none-any.whl", "foo", "1.0.dev0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0.post1-py3-none-any.whl", "foo", "1.0.post1", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0rc1+local.7-py3-none-any.whl", "foo", "1.0rc1+local.7", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-v1.0-py3-none-any.whl", "foo", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-01.02-py3-none-any.whl", "foo", "1.2", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0.ALPHA1-py3-none-any.whl", "foo", "1.0a1", 0, 0, "",
	  "py3", "none", "any" },
	{ "six-1.16.0-py2.py3-none-any.whl", "six", "1.16.0", 0, 0, "",
	  "py2.py3", "none", "any" },
	{ "foo-1.0-cp39.cp310.cp311-abi3-linux_x86_64.whl", "foo", "1.0", 0, 0, "",
	  "cp39.cp310.cp311", "abi3", "linux_x86_64" },
	{ "foo-1.0-py3-none-macosx_10_9_x86_64.macosx_11_0_arm64.macosx_10_9_universal2.whl", "foo", "1.0", 0, 0, "",
	  "py3", "none", "macosx_10_9_x86_64.macosx_11_0_arm64.macosx_10_9_universal2" },
	{ "foo-1.0-cp39-cp39.abi3-win32.whl", "foo", "1.0", 0, 0, "",
	  "cp39", "cp39.abi3", "win32" },
	{ "Foo-1.0-PY3-NONE-ANY.whl", "foo", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", "foo", "1.0", 0, 0, "",
	  "cp313", "cp313t", "manylinux_2_17_x86_64" },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "foo", "1.0", 0, 0, "",
	  "cp37", "cp37m", "linux_x86_64" },
	{ "foo-1.0-_x-none-any.whl", "foo", "1.0", 0, 0, "",
	  "_x", "none", "any" },
	{ "a-1-py3-none-any.whl", "a", "1", 0, 0, "",
	  "py3", "none", "any" },
	{ "1-1-py3-none-any.whl", "1", "1", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo.bar-1.0-py3-none-any.whl", "foo-bar", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo._bar-1.0-py3-none-any.whl", "foo-bar", "1.0", 0, 0, "",
	  "py3", "none", "any" },
	{ "foo-1.0-1_-py3-none-any.whl", "foo", "1.0", 1, 1, "_",
	  "py3", "none", "any" },
	{ "foo-1.0-2.5-py3-none-any.whl", "foo", "1.0", 1, 2, ".5",
	  "py3", "none", "any" },
	{ "foo-1.0-py2.py3-none.abi3-any.linux_x86_64.whl", "foo", "1.0", 0, 0, "",
	  "py2.py3", "none.abi3", "any.linux_x86_64" },
	{ "foo-1.0-py3-none-any.whl.whl", "foo", "1.0", 0, 0, "",
	  "py3", "none", "any.whl" },
};

struct bad_case {
	const char *file;
	size_t n; /* explicit: some cases hold a NUL */
};

static const struct bad_case bad_wheels[] = {
	{ "", 0 }, /* empty */
	{ "foo-1.0-py3-none-any", 20 }, /* no extension */
	{ "foo-1.0-py3-none-any.WHL", 24 }, /* extension is case-sensitive */
	{ "foo-1.0-py3-none-any.zip", 24 }, /* wrong extension */
	{ ".whl", 4 }, /* nothing but extension */
	{ "foo-py3-none-any.whl", 20 }, /* 4 parts */
	{ "foo-1.0-1-2-py3-none-any.whl", 28 }, /* 7 parts */
	{ "foo-1.0-none-any.whl", 20 }, /* 3 tags missing one */
	{ "foo--1.0-py3-none-any.whl", 25 }, /* empty part */
	{ "foo-1.0--py3-none-any.whl", 25 }, /* empty build */
	{ "-1.0-py3-none-any.whl", 21 }, /* empty name */
	{ "foo-1.0-py3-none-.whl", 21 }, /* empty platform */
	{ "foo-1.0-py3--any.whl", 20 }, /* empty abi */
	{ "foo-1.0-py3-none-any-.whl", 25 }, /* trailing dash */
	{ "foo-bar-1.0-py3-none-any.whl", 28 }, /* dash in name makes 6 parts, 'bar' not a version */
	{ "foo-1.0-a1-py3-none-any.whl", 27 }, /* build tag must start with a digit */
	{ "foo-1.0-x-py3-none-any.whl", 26 }, /* build tag letter */
	{ "foo-1.0-9223372036854775808-py3-none-any.whl", 44 }, /* build number overflow; Kiln only, packaging accepts */
	{ "foo-1.0.x-py3-none-any.whl", 26 }, /* bad version */
	{ "foo-1.0_1-py3-none-any.whl", 26 }, /* bad version */
	{ "foo-latest-py3-none-any.whl", 27 }, /* bad version */
	{ "foo-1.0.9223372036854775808-py3-none-any.whl", 44 }, /* version number overflow; Kiln only, packaging accepts */
	{ "foo__bar-1.0-py3-none-any.whl", 29 }, /* unescaped run */
	{ "_foo-1.0-py3-none-any.whl", 25 }, /* name starts with _; Kiln only, packaging accepts */
	{ "foo_-1.0-py3-none-any.whl", 25 }, /* name ends with _; Kiln only, packaging accepts */
	{ ".foo-1.0-py3-none-any.whl", 25 }, /* name starts with .; Kiln only, packaging accepts */
	{ "foo/bar-1.0-py3-none-any.whl", 28 }, /* slash */
	{ "../foo-1.0-py3-none-any.whl", 27 }, /* parent dir */
	{ "foo-1.0-py3-none-any.whl/", 25 }, /* slash */
	{ "/tmp/foo-1.0-py3-none-any.whl", 29 }, /* absolute path */
	{ "foo\\bar-1.0-py3-none-any.whl", 28 }, /* backslash */
	{ "..\\foo-1.0-py3-none-any.whl", 27 }, /* backslash dotdot */
	{ "foo..bar-1.0-py3-none-any.whl", 29 }, /* dotdot in name; Kiln only, packaging accepts */
	{ "foo-1.0-py2..py3-none-any.whl", 29 }, /* empty compressed member */
	{ "foo-1.0-py3.-none-any.whl", 25 }, /* empty compressed member */
	{ "foo-1.0-.py3-none-any.whl", 25 }, /* empty compressed member */
	{ "foo-1.0-py3-none-any..whl", 25 }, /* dotdot before extension */
	{ "foo-1.0-py3-none-any\000.whl", 25 }, /* NUL; Kiln only, packaging accepts */
	{ "foo\000-1.0-py3-none-any.whl", 25 }, /* NUL */
	{ "foo-1.0-py3-none-any.whl\000", 25 }, /* NUL after */
	{ "foo 1.0-py3-none-any.whl", 24 }, /* space */
	{ "foo-1.0 -py3-none-any.whl", 25 }, /* space in version; Kiln only, packaging accepts */
	{ "foo-1.0-py3-none-any .whl", 25 }, /* space; Kiln only, packaging accepts */
	{ "foo-1.0-py3-none-linux+x.whl", 28 }, /* + in tag; Kiln only, packaging accepts */
	{ "foo-1.0-py3-none!-any.whl", 25 }, /* ! in tag; Kiln only, packaging accepts */
	{ "foo-1.0-3py-none-any.whl", 24 }, /* python tag not identifier */
	{ "foo-1.0-py3-none-any%2F.whl", 27 }, /* percent; Kiln only, packaging accepts */
	{ "foo-1.0-py3-none-an:y.whl", 25 }, /* colon; Kiln only, packaging accepts */
	{ "foo-1.0-py3-none-any.whl ", 25 }, /* trailing space */
	{ "f\303\266o-1.0-py3-none-any.whl", 25 }, /* non-ASCII */
	{ "foo-1.0-py3-none-any.whl\n", 25 }, /* newline */
};

struct match_case {
	const char *file;
	const char *interpreter;
	const char *platform;
	int match;
};

/* Every wheel against every target; 1 where sys_tags() would accept it. */
static const struct match_case match_cases[] = {
	{ "foo-1.0-py3-none-any.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-any.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-any.whl", "cp37", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-any.whl", "cp311", "manylinux2014_x86_64", 1 },
	{ "foo-1.0-py3-none-any.whl", "cp312", "win_amd64", 1 },
	{ "foo-1.0-py3-none-any.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp37", "linux_x86_64", 1 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp311", "manylinux2014_x86_64", 1 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp312", "win_amd64", 1 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-py2-none-any.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-py2-none-any.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-py2-none-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-py2-none-any.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-py2-none-any.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-py2-none-any.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-py311-none-any.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-py311-none-any.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-py311-none-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-py311-none-any.whl", "cp311", "manylinux2014_x86_64", 1 },
	{ "foo-1.0-py311-none-any.whl", "cp312", "win_amd64", 1 },
	{ "foo-1.0-py311-none-any.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-py312-none-any.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-py312-none-any.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-py312-none-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-py312-none-any.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-py312-none-any.whl", "cp312", "win_amd64", 1 },
	{ "foo-1.0-py312-none-any.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-py30-none-any.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-py30-none-any.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-py30-none-any.whl", "cp37", "linux_x86_64", 1 },
	{ "foo-1.0-py30-none-any.whl", "cp311", "manylinux2014_x86_64", 1 },
	{ "foo-1.0-py30-none-any.whl", "cp312", "win_amd64", 1 },
	{ "foo-1.0-py30-none-any.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp311", "manylinux2014_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-any.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-any.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-any.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-any.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-cp311-any.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp39-abi3-linux_x86_64.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-cp39-abi3-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp39-abi3-linux_x86_64.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-cp312-abi3-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp312-abi3-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp312-abi3-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp312-abi3-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp312-abi3-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp312-abi3-linux_x86_64.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-cp32-abi3-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp32-abi3-linux_x86_64.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-cp32-abi3-linux_x86_64.whl", "cp37", "linux_x86_64", 1 },
	{ "foo-1.0-cp32-abi3-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp32-abi3-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp32-abi3-linux_x86_64.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-cp39-abi3-any.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-any.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-any.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp39-abi3-any.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp39-abi3-any.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-none-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-none-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-none-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-none-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp311-none-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-none-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-none-any.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-none-any.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-none-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-none-any.whl", "cp311", "manylinux2014_x86_64", 1 },
	{ "foo-1.0-cp311-none-any.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-none-any.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp310-none-any.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp310-none-any.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-cp310-none-any.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp310-none-any.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp310-none-any.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp310-none-any.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp310-cp310-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp310-cp310-linux_x86_64.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-cp310-cp310-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp310-cp310-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp310-cp310-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp310-cp310-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp39.cp310.cp311-cp39.cp310.cp311-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp39.cp310.cp311-cp39.cp310.cp311-linux_x86_64.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-cp39.cp310.cp311-cp39.cp310.cp311-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp39.cp310.cp311-cp39.cp310.cp311-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp39.cp310.cp311-cp39.cp310.cp311-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp39.cp310.cp311-cp39.cp310.cp311-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-pp310-pypy310_pp73-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-pp310-pypy310_pp73-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-pp310-pypy310_pp73-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-pp310-pypy310_pp73-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-pp310-pypy310_pp73-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-pp310-pypy310_pp73-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "cp37", "linux_x86_64", 1 },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp37-cp37m-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp37-cp37-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp37-cp37-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp37-cp37-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp313-cp313t-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp313-cp313t-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp313-cp313t-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp313-cp313t-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp313-cp313t-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp313-cp313t-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311d-linux_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311d-linux_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311d-linux_x86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311d-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp311-cp311d-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-cp311d-linux_x86_64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-py3-none-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-linux_x86_64.whl", "cp310", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-linux_x86_64.whl", "cp37", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-linux_x86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-py3-none-linux_x86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-py3-none-linux_x86_64.whl", "cp313", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-win_amd64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-py3-none-win_amd64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-py3-none-win_amd64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-py3-none-win_amd64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-py3-none-win_amd64.whl", "cp312", "win_amd64", 1 },
	{ "foo-1.0-py3-none-win_amd64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-win_amd64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-win_amd64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-win_amd64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-win_amd64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-win_amd64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-cp311-cp311-win_amd64.whl", "cp313", "linux_x86_64", 0 },
	{ "foo-1.0-CP311-CP311-LINUX_X86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-CP311-CP311-LINUX_X86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-CP311-CP311-LINUX_X86_64.whl", "cp37", "linux_x86_64", 0 },
	{ "foo-1.0-CP311-CP311-LINUX_X86_64.whl", "cp311", "manylinux2014_x86_64", 0 },
	{ "foo-1.0-CP311-CP311-LINUX_X86_64.whl", "cp312", "win_amd64", 0 },
	{ "foo-1.0-CP311-CP311-LINUX_X86_64.whl", "cp313", "linux_x86_64", 0 },
};

struct sdist_case {
	const char *file;
	const char *name;
	const char *version;
	enum sdistname_format format;
};

static const struct sdist_case sdist_cases[] = {
	{ "foo-1.0.tar.gz", "foo", "1.0", SDISTNAME_TAR_GZ },
	{ "Foo-1.0.tar.gz", "foo", "1.0", SDISTNAME_TAR_GZ },
	{ "foo_bar-1.0.tar.gz", "foo-bar", "1.0", SDISTNAME_TAR_GZ },
	{ "foo-bar-1.0.tar.gz", "foo-bar", "1.0", SDISTNAME_TAR_GZ },
	{ "python-dateutil-2.8.2.tar.gz", "python-dateutil", "2.8.2", SDISTNAME_TAR_GZ },
	{ "zope.interface-5.4.0.tar.gz", "zope-interface", "5.4.0", SDISTNAME_TAR_GZ },
	{ "Foo.Bar-1!2.0rc1.post3.dev4.tar.gz", "foo-bar", "1!2.0rc1.post3.dev4", SDISTNAME_TAR_GZ },
	{ "foo-1.0.zip", "foo", "1.0", SDISTNAME_ZIP },
	{ "foo-1.0+local.tar.gz", "foo", "1.0+local", SDISTNAME_TAR_GZ },
	{ "foo-v1.0.tar.gz", "foo", "1.0", SDISTNAME_TAR_GZ },
	{ "foo-01.02.tar.gz", "foo", "1.2", SDISTNAME_TAR_GZ },
	{ "a-1.tar.gz", "a", "1", SDISTNAME_TAR_GZ },
	{ "1-1.zip", "1", "1", SDISTNAME_ZIP },
	{ "foo-1.0-1.tar.gz", "foo-1-0", "1", SDISTNAME_TAR_GZ },
	{ "foo-1.0a.zip", "foo", "1.0a0", SDISTNAME_ZIP },
	{ "friendly_bard-1.0.tar.gz", "friendly-bard", "1.0", SDISTNAME_TAR_GZ },
	{ "FrIeNdLy-._.-bArD-1.0.tar.gz", "friendly-bard", "1.0", SDISTNAME_TAR_GZ },
	{ "numpy-1.26.4.tar.gz", "numpy", "1.26.4", SDISTNAME_TAR_GZ },
};

static const struct bad_case bad_sdists[] = {
	{ "", 0 }, /* empty */
	{ "foo-1.0", 7 }, /* no extension */
	{ "foo-1.0.tar.bz2", 15 }, /* other compression */
	{ "foo-1.0.tgz", 11 }, /* tgz */
	{ "foo-1.0.TAR.GZ", 14 }, /* case-sensitive extension */
	{ "foo-1.0.whl", 11 }, /* a wheel */
	{ "foo.tar.gz", 10 }, /* no dash */
	{ "foo-.tar.gz", 11 }, /* empty version */
	{ "-1.0.tar.gz", 11 }, /* empty name */
	{ "foo-bar.tar.gz", 14 }, /* bar is not a version */
	{ "foo-1.0.x.tar.gz", 16 }, /* bad version */
	{ "foo_-1.0.tar.gz", 15 }, /* name ends with _; Kiln only, packaging accepts */
	{ "-foo-1.0.tar.gz", 15 }, /* name starts with -; Kiln only, packaging accepts */
	{ "foo--1.0.tar.gz", 15 }, /* name ends with -; Kiln only, packaging accepts */
	{ "../foo-1.0.tar.gz", 17 }, /* parent dir; Kiln only, packaging accepts */
	{ "foo/bar-1.0.tar.gz", 18 }, /* slash; Kiln only, packaging accepts */
	{ "foo\\bar-1.0.tar.gz", 18 }, /* backslash; Kiln only, packaging accepts */
	{ "foo-1.0\000.tar.gz", 15 }, /* NUL */
	{ "foo 1-1.0.tar.gz", 16 }, /* space; Kiln only, packaging accepts */
	{ "foo-1.0 .tar.gz", 15 }, /* space; Kiln only, packaging accepts */
	{ "foo..bar-1.0.tar.gz", 19 }, /* dotdot; Kiln only, packaging accepts */
	{ ".tar.gz", 7 }, /* extension only */
	{ ".zip", 4 }, /* extension only */
	{ "foo-1.0.tar.gz.tar.gz", 21 }, /* bad version */
	{ "foo-1.9223372036854775808.tar.gz", 32 }, /* version overflow; Kiln only, packaging accepts */
	{ "f\303\266o-1.0.tar.gz", 15 }, /* non-ASCII; Kiln only, packaging accepts */
};

static void version_string(const struct pyversion *v, struct buf *b)
{
	buf_reset(b);
	assert_int_equal(pyversion_normalize(v, b), 0);
}

/* Join w's tags of one kind with '.', as the table stores them. */
static void joined_tags(const struct wheelname *w, enum wheelname_tagkind kind, struct buf *b)
{
	buf_reset(b);
	for (size_t i = 0; i < wheelname_ntags(w, kind); i++) {
		if (i)
			assert_int_equal(buf_putc(b, '.'), 0);
		assert_int_equal(buf_puts(b, wheelname_tag(w, kind, i)), 0);
	}
}

static void test_wheel_table(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(wheel_cases); i++) {
		const struct wheel_case *c = &wheel_cases[i];
		struct wheelname w;
		struct kerr e;

		kerr_clear(&e);
		if (wheelname_parse(&w, c->file, strlen(c->file), &e) != 0)
			fail_msg("'%s' did not parse: %s", c->file, e.msg);
		assert_string_equal(w.name, c->name);
		version_string(&w.version, &b);
		assert_string_equal(b.ptr, c->version);
		assert_int_equal(w.has_build, c->has_build);
		assert_true(w.build_num == c->build_num);
		assert_string_equal(w.build_rest, c->build_rest);
		joined_tags(&w, WHEELNAME_PYTHON, &b);
		assert_string_equal(b.ptr, c->python);
		joined_tags(&w, WHEELNAME_ABI, &b);
		assert_string_equal(b.ptr, c->abi);
		joined_tags(&w, WHEELNAME_PLATFORM, &b);
		assert_string_equal(b.ptr, c->platform);
	}
	buf_release(&b);
}

static void test_bad_wheel_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(bad_wheels); i++) {
		struct wheelname w;
		struct kerr e;

		kerr_clear(&e);
		if (wheelname_parse(&w, bad_wheels[i].file, bad_wheels[i].n, &e) != KERR_INVAL)
			fail_msg("case %zu '%s' should be rejected", i, bad_wheels[i].file);
		assert_int_equal(e.code, KERR_INVAL);
		assert_non_null(strstr(e.msg, "invalid wheel filename"));
		assert_int_equal(wheelname_ntags(&w, WHEELNAME_PYTHON), 0);
		assert_string_equal(w.name, "");
		assert_int_equal(wheelname_parse(&w, bad_wheels[i].file, bad_wheels[i].n, NULL),
			KERR_INVAL);
	}
}

static void test_match_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct wheelname w;

		assert_int_equal(wheelname_parse(&w, c->file, strlen(c->file), NULL), 0);
		if (wheelname_matches(&w, c->interpreter, c->platform) != c->match)
			fail_msg("'%s' on %s/%s: expected %d", c->file, c->interpreter,
				c->platform, c->match);
	}
}

/* Kiln's own wheels: a linux_ARCH target takes the manylinux tags of its ARCH. */
static const struct match_case built_cases[] = {
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-manylinux2014_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-abi3-manylinux_2_36_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_x_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "cp311", "win_amd64", 0 },
	{ "foo-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", "cp311", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "cp310", "linux_x86_64", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-cp311-cp311-linux_x86_64.whl", "cp311", "linux_x86_64", 1 },
	{ "foo-1.0-py3-none-any.whl", "cp311", "linux_x86_64", 1 },
};

static void test_match_built(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(built_cases); i++) {
		const struct match_case *c = &built_cases[i];
		struct wheelname w;

		assert_int_equal(wheelname_parse(&w, c->file, strlen(c->file), NULL), 0);
		if (wheelname_matches_built(&w, c->interpreter, c->platform) != c->match)
			fail_msg("'%s' built on %s/%s: expected %d", c->file, c->interpreter,
				c->platform, c->match);
		/* upstream's wheels: only the target's own platform */
		if (strstr(c->file, "manylinux") && wheelname_matches(&w, c->interpreter, c->platform))
			fail_msg("'%s' on %s/%s: matches as upstream's", c->file, c->interpreter,
				c->platform);
	}
}

/* What a target of a given glibc installs (issue 16): one table for upstream and Kiln wheels. */
struct install_case {
	const char *file;
	const char *interpreter;
	const char *platform;
	const char *glibc;
	int match;
};

static const struct install_case install_cases[] = {
	/* pure wheels: every target */
	{ "foo-1.0-py3-none-any.whl", "cp314", "linux_aarch64", "2.43", 1 },
	{ "foo-1.0-py313-none-any.whl", "cp313", "linux_x86_64", "2.41", 1 },
	{ "foo-1.0-py313-none-any.whl", "cp311", "linux_x86_64", "2.36", 0 },
	{ "foo-1.0-py2.py3-none-any.whl", "cp311", "linux_x86_64", NULL, 1 },
	/* abi3: cp3X-abi3 for X <= the target's minor */
	{ "foo-1.0-cp38-abi3-manylinux_2_17_x86_64.whl", "cp313", "linux_x86_64", "2.41", 1 },
	{ "foo-1.0-cp311-abi3-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", "2.36", 1 },
	{ "foo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0 },
	{ "foo-1.0-cp311-abi3-linux_x86_64.whl", "cp314", "linux_x86_64", NULL, 1 },
	/* manylinux_2_N up to the target's glibc */
	{ "foo-1.0-cp311-cp311-manylinux_2_36_x86_64.whl", "cp311", "linux_x86_64", "2.36", 1 },
	{ "foo-1.0-cp311-cp311-manylinux_2_37_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0 },
	{ "foo-1.0-cp313-cp313-manylinux_2_39_aarch64.whl", "cp313", "linux_aarch64", "2.41", 1 },
	{ "foo-1.0-cp313-cp313-manylinux_2_39_aarch64.whl", "cp313", "linux_x86_64", "2.41", 0 },
	{ "foo-1.0-cp313-cp313-manylinux_2_39_x86_64.whl", "cp313", "linux_aarch64", "2.41", 0 },
	/* legacy aliases: manylinux1 = 2.5, manylinux2010 = 2.12, manylinux2014 = 2.17 */
	{ "foo-1.0-cp311-cp311-manylinux1_x86_64.whl", "cp311", "linux_x86_64", "2.36", 1 },
	{ "foo-1.0-cp311-cp311-manylinux2010_x86_64.whl", "cp311", "linux_x86_64", "2.12", 1 },
	{ "foo-1.0-cp311-cp311-manylinux2010_x86_64.whl", "cp311", "linux_x86_64", "2.11", 0 },
	{ "foo-1.0-cp311-cp311-manylinux2014_aarch64.whl", "cp311", "linux_aarch64", "2.17", 1 },
	{ "foo-1.0-cp311-cp311-manylinux2014_aarch64.whl", "cp311", "linux_aarch64", "2.16", 0 },
	/* linux_<arch> always; no glibc known: no manylinux */
	{ "foo-1.0-cp311-cp311-linux_aarch64.whl", "cp311", "linux_aarch64", "2.36", 1 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", NULL, 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", "", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", "3.1", 0 },
	/* never: musllinux, another Python's ABI, a mangled tag */
	{ "foo-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0 },
	{ "foo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_3_17_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0 },
	{ "foo-1.0-cp311-cp311-manylinux_2_x_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0 },
};

static void test_installs_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(install_cases); i++) {
		const struct install_case *c = &install_cases[i];
		struct wheelname w;

		assert_int_equal(wheelname_parse(&w, c->file, strlen(c->file), NULL), 0);
		if (wheelname_installs(&w, c->interpreter, c->platform, c->glibc) != c->match)
			fail_msg("'%s' on %s/%s glibc %s: expected %d", c->file, c->interpreter,
				c->platform, c->glibc ? c->glibc : "(none)", c->match);
	}
}

static void test_list_installs(void **state)
{
	char first[WHEELNAME_MAX_LEN + 1];
	(void)state;

	/* the first that installs is named; unparsable names are skipped */
	assert_int_equal(wheelname_list_installs("junk/foo-1.0-cp312-cp312-linux_x86_64.whl/"
		"foo-1.0-cp38-abi3-manylinux2014_x86_64.whl", "cp311", "linux_x86_64", "2.36", 0,
		first, sizeof(first)), 1);
	assert_string_equal(first, "foo-1.0-cp38-abi3-manylinux2014_x86_64.whl");
	assert_int_equal(wheelname_list_installs("", "cp311", "linux_x86_64", "2.36", 0, first,
		sizeof(first)), 0);
	assert_string_equal(first, "");
	/* Kiln's own wheel for a target of unknown glibc: any manylinux of the arch */
	assert_int_equal(wheelname_list_installs("foo-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
		"cp311", "linux_x86_64", NULL, 1, NULL, 0), 1);
	assert_int_equal(wheelname_list_installs("foo-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
		"cp311", "linux_x86_64", NULL, 0, NULL, 0), 0);
	/* with a glibc, built or not, the glibc decides */
	assert_int_equal(wheelname_list_installs("foo-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
		"cp311", "linux_x86_64", "2.36", 1, NULL, 0), 0);
	assert_int_equal(wheelname_glibc_minor("2.36"), 36);
	assert_int_equal(wheelname_glibc_minor("2.5"), 5);
	assert_int_equal(wheelname_glibc_minor("2."), -1);
	assert_int_equal(wheelname_glibc_minor("2.36a"), -1);
	assert_int_equal(wheelname_glibc_minor(NULL), -1);
	assert_int_equal(wheelname_glibc_minor("2.1000"), -1);
}

static void test_match_bad_targets(void **state)
{
	static const char *const bad_interpreters[] = {
		"", "cp", "cp3", "py311", "pp310", "cp311x", "cp0311", "cp3011", "cpx11", "3.11",
		"cp3_11", "cp311 ", "cp31234", "cp03",
	};
	struct wheelname w;
	(void)state;

	assert_int_equal(wheelname_parse(&w, "foo-1.0-py3-none-any.whl", 24, NULL), 0);
	assert_int_equal(wheelname_matches(&w, "cp311", "linux_x86_64"), 1);
	for (size_t i = 0; i < ARRAY_LEN(bad_interpreters); i++)
		if (wheelname_matches(&w, bad_interpreters[i], "linux_x86_64") != 0)
			fail_msg("interpreter '%s' should never match", bad_interpreters[i]);
	assert_int_equal(wheelname_matches(&w, NULL, "linux_x86_64"), 0);
	assert_int_equal(wheelname_matches(&w, "cp311", NULL), 0);
	assert_int_equal(wheelname_matches(&w, "cp311", ""), 0);
	/* the interpreter and platform are matched case-insensitively */
	assert_int_equal(wheelname_matches(&w, "CP311", "LINUX_X86_64"), 1);
	assert_int_equal(wheelname_parse(&w, "foo-1.0-cp311-cp311-linux_x86_64.whl", 36, NULL), 0);
	assert_int_equal(wheelname_matches(&w, "CP311", "Linux_X86_64"), 1);
	/* 3.1 and 3.11 are different Pythons, although "cp3" + "11" = "cp31" + "1" */
	assert_int_equal(wheelname_parse(&w, "foo-1.0-cp31-none-linux_x86_64.whl", 34, NULL), 0);
	assert_int_equal(wheelname_matches(&w, "cp311", "linux_x86_64"), 0);
	assert_int_equal(wheelname_matches(&w, "cp31", "linux_x86_64"), 1);
}

static void test_build_tag_sorting_parts(void **state)
{
	struct wheelname a, b;
	(void)state;

	/* build tags sort by (number, rest): 2 < 10 even though "10" < "2" */
	assert_int_equal(wheelname_parse(&a, "foo-1.0-2-py3-none-any.whl", 26, NULL), 0);
	assert_int_equal(wheelname_parse(&b, "foo-1.0-10-py3-none-any.whl", 27, NULL), 0);
	assert_true(a.build_num < b.build_num);
	assert_int_equal(wheelname_parse(&a, "foo-1.0-py3-none-any.whl", 24, NULL), 0);
	assert_int_equal(a.has_build, 0);
	assert_true(a.build_num == 0);
	assert_string_equal(a.build_rest, "");
}

static void test_tag_accessors(void **state)
{
	struct wheelname w, copy;
	(void)state;

	assert_int_equal(wheelname_parse(&w, "foo-1.0-py2.py3-none-any.whl", 28, NULL), 0);
	assert_int_equal(wheelname_ntags(&w, WHEELNAME_PYTHON), 2);
	assert_string_equal(wheelname_tag(&w, WHEELNAME_PYTHON, 0), "py2");
	assert_string_equal(wheelname_tag(&w, WHEELNAME_PYTHON, 1), "py3");
	assert_null(wheelname_tag(&w, WHEELNAME_PYTHON, 2));
	assert_int_equal(wheelname_ntags(&w, WHEELNAME_ABI), 1);
	assert_string_equal(wheelname_tag(&w, WHEELNAME_ABI, 0), "none");
	assert_null(wheelname_tag(&w, WHEELNAME_ABI, 1));
	assert_null(wheelname_tag(&w, (enum wheelname_tagkind)7, 0));
	assert_int_equal(wheelname_ntags(&w, (enum wheelname_tagkind)7), 0);
	/* plain data: a copy works after the original is gone */
	copy = w;
	memset(&w, 0xff, sizeof(w));
	assert_string_equal(wheelname_tag(&copy, WHEELNAME_PLATFORM, 0), "any");
	assert_int_equal(wheelname_matches(&copy, "cp27", "linux_x86_64"), 1);
}

static void test_limits(void **state)
{
	char file[WHEELNAME_MAX_LEN + 2];
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	struct wheelname w;
	size_t n;
	(void)state;

	/* exactly WHEELNAME_MAX_LEN bytes is fine, one more is not */
	n = (size_t)snprintf(file, sizeof(file), "foo-1.0-py3-none-");
	memset(file + n, 'x', WHEELNAME_MAX_LEN - n - 4);
	memcpy(file + WHEELNAME_MAX_LEN - 4, ".whl", 5);
	assert_int_equal(strlen(file), WHEELNAME_MAX_LEN);
	assert_int_equal(wheelname_parse(&w, file, WHEELNAME_MAX_LEN, NULL), 0);
	assert_int_equal(strlen(wheelname_tag(&w, WHEELNAME_PLATFORM, 0)), WHEELNAME_MAX_LEN - n - 4);
	memset(file + n, 'x', WHEELNAME_MAX_LEN - n - 3);
	memcpy(file + WHEELNAME_MAX_LEN - 3, ".whl", 5);
	assert_int_equal(wheelname_parse(&w, file, WHEELNAME_MAX_LEN + 1, NULL), KERR_INVAL);

	/* WHEELNAME_MAX_TAGS members in a compressed set, then one too many */
	assert_int_equal(buf_puts(&b, "foo-1.0-py3-none-p0"), 0);
	for (int i = 1; i < WHEELNAME_MAX_TAGS; i++)
		assert_int_equal(buf_printf(&b, ".p%d", i), 0);
	assert_int_equal(buf_puts(&b, ".whl"), 0);
	assert_int_equal(wheelname_parse(&w, b.ptr, b.len, NULL), 0);
	assert_int_equal(wheelname_ntags(&w, WHEELNAME_PLATFORM), WHEELNAME_MAX_TAGS);
	assert_string_equal(wheelname_tag(&w, WHEELNAME_PLATFORM, WHEELNAME_MAX_TAGS - 1), "p31");
	buf_truncate(&b, b.len - 4);
	assert_int_equal(buf_puts(&b, ".p32.whl"), 0);
	assert_int_equal(wheelname_parse(&w, b.ptr, b.len, NULL), KERR_INVAL);
	buf_release(&b);
}

static void test_explicit_length(void **state)
{
	struct wheelname w;
	struct sdistname d;
	(void)state;

	assert_int_equal(wheelname_parse(&w, "foo-1.0-py3-none-any.whlXYZ", 24, NULL), 0);
	assert_int_equal(wheelname_parse(&w, "foo-1.0-py3-none-any.whl", 23, NULL), KERR_INVAL);
	assert_int_equal(sdistname_parse(&d, "foo-1.0.zip/../x", 11, NULL), 0);
	assert_string_equal(d.name, "foo");
}

static void test_error_messages(void **state)
{
	struct wheelname w;
	struct sdistname d;
	struct kerr e;
	(void)state;

	kerr_clear(&e);
	assert_int_equal(wheelname_parse(&w, "foo-1.0-py3-none-any", 20, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid wheel filename 'foo-1.0-py3-none-any': missing '.whl' extension");
	assert_int_equal(wheelname_parse(&w, "foo-1.0x-py3-none-any.whl", 25, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid wheel filename 'foo-1.0x-py3-none-any.whl': "
		"invalid version '1.0x': unexpected character");
	assert_int_equal(wheelname_parse(&w, "../x-1.0-py3-none-any.whl", 25, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid wheel filename '../x-1.0-py3-none-any.whl': "
		"forbidden character in filename");
	assert_int_equal(sdistname_parse(&d, "foo.tar.gz", 10, &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid sdist filename 'foo.tar.gz': no '-' between name and version");
}

static void test_sdist_table(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(sdist_cases); i++) {
		const struct sdist_case *c = &sdist_cases[i];
		struct sdistname d;
		struct kerr e;

		kerr_clear(&e);
		if (sdistname_parse(&d, c->file, strlen(c->file), &e) != 0)
			fail_msg("'%s' did not parse: %s", c->file, e.msg);
		assert_string_equal(d.name, c->name);
		version_string(&d.version, &b);
		assert_string_equal(b.ptr, c->version);
		assert_int_equal(d.format, c->format);
	}
	buf_release(&b);
}

static void test_bad_sdist_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(bad_sdists); i++) {
		struct sdistname d;
		struct kerr e;

		kerr_clear(&e);
		if (sdistname_parse(&d, bad_sdists[i].file, bad_sdists[i].n, &e) != KERR_INVAL)
			fail_msg("case %zu '%s' should be rejected", i, bad_sdists[i].file);
		assert_non_null(strstr(e.msg, "invalid sdist filename"));
		assert_string_equal(d.name, "");
		assert_int_equal(sdistname_parse(&d, bad_sdists[i].file, bad_sdists[i].n, NULL),
			KERR_INVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wheel_table),
		cmocka_unit_test(test_bad_wheel_table),
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_match_built),
		cmocka_unit_test(test_match_bad_targets),
		cmocka_unit_test(test_installs_table),
		cmocka_unit_test(test_list_installs),
		cmocka_unit_test(test_build_tag_sorting_parts),
		cmocka_unit_test(test_tag_accessors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_explicit_length),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_sdist_table),
		cmocka_unit_test(test_bad_sdist_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
