/*
 * Unit tests for builder/failclass (the failure classifier) and the lookup half
 * of builder/contents. The log excerpts are real: they were printed by
 * `pip wheel -v` of the named sdists in the Kiln bookworm image without the
 * -dev packages (psycopg2 2.9.9, mysqlclient 2.1.1 and 2.2.4, lxml 4.9.3,
 * python-ldap 3.4.4, a C extension including <yaml.h>), by pkg-config, pkgconf,
 * ld and meson 1.0.1 of Debian bookworm and cmake 4.4 from its wheel. The clang
 * line follows clang's documented diagnostic (clang is not in the image).
 */
#include "tests/unit/unit.h"

#include "builder/contents.h"
#include "builder/failclass.h"
#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct want {
	enum failclass_kind kind;
	const char *name;
};

struct row {
	const char *what;
	const char *log;
	struct want want[8];
	size_t nwant;
	int requirement;
};

static const struct row rows[] = {
	{ "psycopg2 2.9.9",
	  "Processing /s/psycopg2-2.9.9.tar.gz\n"
	  "  Preparing metadata (setup.py): started\n"
	  "  Running command python setup.py egg_info\n"
	  "  running egg_info\n"
	  "  writing manifest file '/tmp/pip-pip-egg-info-wputk2pl/psycopg2.egg-info/SOURCES.txt'\n"
	  "\n"
	  "  Error: pg_config executable not found.\n"
	  "\n"
	  "  pg_config is required to build psycopg2 from source.  Please add the directory\n"
	  "  containing pg_config to the $PATH or specify the full executable path with the\n"
	  "  option:\n"
	  "\n"
	  "      python setup.py build_ext --pg-config /path/to/pg_config build ...\n"
	  "\n"
	  "  or with the pg_config option in 'setup.cfg'.\n"
	  "  #     manifest_maker: standard file '\"'\"'-c'\"'\"' not found\".\n",
	  { { FAILCLASS_PROGRAM, "pg_config" } }, 1, 0 },
	{ "mysqlclient 2.1.1",
	  "  Running command python setup.py egg_info\n"
	  "  /bin/sh: 1: mysql_config: not found\n"
	  "  /bin/sh: 1: mariadb_config: not found\n"
	  "  /bin/sh: 1: mysql_config: not found\n"
	  "  Traceback (most recent call last):\n"
	  "      raise OSError(\"{} not found\".format(_mysql_config_path))\n"
	  "  OSError: mysql_config not found\n"
	  "  mysql_config --version\n",
	  { { FAILCLASS_PROGRAM, "mysql_config" }, { FAILCLASS_PROGRAM, "mariadb_config" } }, 2, 0 },
	{ "mysqlclient 2.2.4",
	  "  Trying pkg-config --exists mysqlclient\n"
	  "  Command 'pkg-config --exists mysqlclient' returned non-zero exit status 1.\n"
	  "  Trying pkg-config --exists mariadb\n"
	  "  Command 'pkg-config --exists mariadb' returned non-zero exit status 1.\n"
	  "  Trying pkg-config --exists libmariadb\n"
	  "  Command 'pkg-config --exists libmariadb' returned non-zero exit status 1.\n"
	  "  Exception: Can not find valid pkg-config name.\n",
	  { { FAILCLASS_PKGCONFIG, "mysqlclient" }, { FAILCLASS_PKGCONFIG, "mariadb" },
	    { FAILCLASS_PKGCONFIG, "libmariadb" } }, 3, 0 },
	{ "lxml 4.9.3",
	  "  Building lxml version 4.9.3.\n"
	  "  Building without Cython.\n"
	  "  Error: Please make sure the libxml2 and libxslt development packages are installed.\n"
	  "  error: subprocess-exited-with-error\n",
	  { { FAILCLASS_PROGRAM, "xml2-config" }, { FAILCLASS_PROGRAM, "xslt-config" } }, 2, 0 },
	{ "lxml, older",
	  "ERROR: b'/bin/sh: 1: xslt-config: not found\\n'\n"
	  "** make sure the development packages of libxml2 and libxslt are installed **\n",
	  { { FAILCLASS_PROGRAM, "xslt-config" } }, 1, 0 },
	{ "python-ldap 3.4.4",
	  "  x86_64-linux-gnu-gcc -Wsign-compare -DNDEBUG -g -fwrapv -O2 -Wall -fPIC -DHAVE_SASL "
	  "-IModules -I/usr/include/python3.11 -c Modules/LDAPObject.c -o /tmp/x/LDAPObject.o\n"
	  "  In file included from Modules/LDAPObject.c:3:\n"
	  "  Modules/common.h:15:10: fatal error: lber.h: No such file or directory\n"
	  "     15 | #include <lber.h>\n"
	  "        |          ^~~~~~~~\n"
	  "  compilation terminated.\n"
	  "  error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1\n",
	  { { FAILCLASS_HEADER, "lber.h" } }, 1, 0 },
	{ "yaml extension, gcc, pkg-config, pkgconf, ld",
	  "  yext.c:2:10: fatal error: yaml.h: No such file or directory\n"
	  "      2 | #include <yaml.h>\n"
	  "Package yaml-0.1 was not found in the pkg-config search path.\n"
	  "Perhaps you should add the directory containing `yaml-0.1.pc'\n"
	  "to the PKG_CONFIG_PATH environment variable\n"
	  "Package 'yaml-0.1', required by 'virtual:world', not found\n"
	  "/usr/bin/ld: cannot find -lyaml: No such file or directory\n"
	  "collect2: error: ld returned 1 exit status\n",
	  { { FAILCLASS_HEADER, "yaml.h" }, { FAILCLASS_PKGCONFIG, "yaml-0.1" },
	    { FAILCLASS_LIBRARY, "-lyaml" } }, 3, 0 },
	{ "path suffix and clang",
	  "psycopg/psycopg.h:36:10: fatal error: postgresql/libpq-fe.h: No such file or directory\n"
	  "src/x.c:1:10: fatal error: 'ffi.h' file not found\n"
	  "#include <ffi.h>\n",
	  { { FAILCLASS_HEADER, "postgresql/libpq-fe.h" }, { FAILCLASS_HEADER, "ffi.h" } }, 2, 0 },
	{ "old pkg-config; meson 1.0.1",
	  "No package 'libffi' found\n"
	  "Found pkg-config: /usr/bin/pkg-config (1.8.1)\n"
	  "Run-time dependency portaudio-2.0 found: NO (tried pkgconfig)\n"
	  "\n"
	  "meson.build:2:0: ERROR: Dependency \"portaudio-2.0\" not found, tried pkgconfig\n"
	  "\n"
	  "A full log can be found at /tmp/native-mtest/b/meson-logs/meson-log.txt\n",
	  { { FAILCLASS_PKGCONFIG, "libffi" }, { FAILCLASS_PKGCONFIG, "portaudio-2.0" } }, 2, 0 },
	{ "cmake 4: a required package counts, an optional one does not",
	  "-- Detecting C compile features - done\n"
	  "-- Could NOT find Doxygen (missing: DOXYGEN_EXECUTABLE) \n"
	  "CMake Error at /tmp/v/share/cmake-4.4/Modules/FindPackageHandleStandardArgs.cmake:290 (message):\n"
	  "  Could NOT find TIFF (missing: TIFF_LIBRARY TIFF_INCLUDE_DIR)\n"
	  "Call Stack (most recent call first):\n"
	  "  /tmp/v/share/cmake-4.4/Modules/FindTIFF.cmake:336 (find_package_handle_standard_args)\n",
	  { { FAILCLASS_PKGCONFIG, "libtiff-4" } }, 1, 0 },
	{ "cmake: known modules become their files, unknown ones a lowercased pkg-config name",
	  "  Could NOT find BZip2 (missing: BZIP2_LIBRARIES BZIP2_INCLUDE_DIR)\n"
	  "  Could NOT find PostgreSQL (missing: PostgreSQL_LIBRARY PostgreSQL_INCLUDE_DIR)\n"
	  "  Could NOT find Foo (missing: FOO_LIBRARY)\n",
	  { { FAILCLASS_HEADER, "bzlib.h" }, { FAILCLASS_PKGCONFIG, "libpq" },
	    { FAILCLASS_PKGCONFIG, "foo" } }, 3, 0 },
	/* The next three as bench/realworld's builds printed them (docs/performance.md). */
	{ "mod_wsgi 6.1.1",
	  "    raise RuntimeError('The %r command appears not to be installed or '\n"
	  "  RuntimeError: The 'apxs' command appears not to be installed or is not executable. "
	  "Please check the list of prerequisites in the documentation for this package and install "
	  "any missing Apache httpd server packages.\n",
	  { { FAILCLASS_PROGRAM, "apxs" } }, 1, 0 },
	{ "bsddb3 6.2.9",
	  "  Can't find a local Berkeley DB installation.\n"
	  "  (suggestion: try the --berkeley-db=/path/to/bsddb option)\n",
	  { { FAILCLASS_HEADER, "db.h" } }, 1, 0 },
	{ "tables, shapely 1.x, a quoted path is a name only when tame",
	  "  .. ERROR:: Could not find a local HDF5 installation.\n"
	  "OSError: Could not find library geos_c or load any of its variants ['libgeos_c.so.1']\n"
	  "RuntimeError: The 'apxs;id' command appears not to be installed\n"
	  "RuntimeError: The 'rm -rf' command appears not to be installed\n",
	  { { FAILCLASS_HEADER, "hdf5.h" }, { FAILCLASS_LIBRARY, "-lgeos_c" } }, 2, 0 },
	{ "swig, psycopg2 FileNotFoundError",
	  "error: command 'swig' failed: No such file or directory\n"
	  "FileNotFoundError: [Errno 2] No such file or directory: 'pg_config'\n",
	  { { FAILCLASS_PROGRAM, "swig" }, { FAILCLASS_PROGRAM, "pg_config" } }, 2, 0 },
	{ "pip: a build requirement that is not there",
	  "  Looking in links: /opt/kiln/wheels, /opt/kiln/job-wheels\n"
	  "  ERROR: Could not find a version that satisfies the requirement cython>=3 (from versions: none)\n"
	  "  ERROR: No matching distribution found for cython>=3\n",
	  { { 0, NULL } }, 0, 1 },
	{ "a plain compile error: nothing missing",
	  "src/a.c:10:5: error: 'x' undeclared (first use in this function)\n"
	  "fatal error: src/missing.c: No such file or directory\n"
	  "fatal error: iostream: No such file or directory\n"
	  "sh: 1: git: not found\n"
	  "error: command 'gcc' failed: No such file or directory\n",
	  { { 0, NULL } }, 0, 0 },
	{ "hostile names are dropped",
	  "x.c:1:10: fatal error: ../../etc/passwd.h: No such file or directory\n"
	  "x.c:1:10: fatal error: /usr/include/abs.h: No such file or directory\n"
	  "x.c:1:10: fatal error: a b.h: No such file or directory\n"
	  "Package $(reboot) was not found in the pkg-config search path.\n"
	  "/usr/bin/ld: cannot find -l;rm: No such file or directory\n"
	  "x.c:1:10: fatal error: \xff\xfe.h: No such file or directory\n",
	  { { 0, NULL } }, 0, 0 },
};

static void feed_in_pieces(struct failclass *f, const char *log, size_t step)
{
	size_t n = strlen(log);
	for (size_t i = 0; i < n; i += step)
		failclass_feed(f, SANDBOX_STDERR, log + i, n - i < step ? n - i : step);
	failclass_end(f);
}

static void test_rows(void **state)
{
	static const size_t steps[] = { 1, 3, 7, 64, 1 << 20 };
	struct failclass *f = malloc(sizeof(*f));

	(void)state;
	for (size_t r = 0; r < ARRAY_LEN(rows); r++)
		for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
			failclass_init(f);
			feed_in_pieces(f, rows[r].log, steps[s]);
			if (f->nmissing != rows[r].nwant)
				fail_msg("%s (step %zu): %zu missing, want %zu (first: %s)", rows[r].what,
					 steps[s], f->nmissing, rows[r].nwant,
					 f->nmissing ? f->missing[0].name : "-");
			for (size_t i = 0; i < rows[r].nwant; i++) {
				if (f->missing[i].kind != rows[r].want[i].kind ||
				    strcmp(f->missing[i].name, rows[r].want[i].name))
					fail_msg("%s: item %zu is %s %s, want %s %s", rows[r].what, i,
						 failclass_kind_name(f->missing[i].kind), f->missing[i].name,
						 failclass_kind_name(rows[r].want[i].kind),
						 rows[r].want[i].name);
			}
			assert_int_equal(f->requirement_missing, rows[r].requirement);
		}
	free(f);
}

static void test_bounds(void **state)
{
	struct failclass *f = malloc(sizeof(*f));
	char *big = malloc(1 << 20);
	char line[128];

	(void)state;
	/* At most FAILCLASS_MAX_MISSING, deduplicated. */
	failclass_init(f);
	for (int i = 0; i < 50; i++) {
		snprintf(line, sizeof(line), "x.c:1:1: fatal error: h%d.h: No such file or directory\n",
			 i % 20);
		failclass_feed(f, SANDBOX_STDOUT, line, strlen(line));
		failclass_feed(f, SANDBOX_STDOUT, line, strlen(line));
	}
	assert_int_equal(f->nmissing, FAILCLASS_MAX_MISSING);
	assert_string_equal(f->missing[7].name, "h7.h");

	/* A 1 MiB line is judged on its start and does not swallow the next line. */
	failclass_init(f);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\n';
	failclass_feed(f, SANDBOX_STDOUT, big, 1 << 20);
	snprintf(line, sizeof(line), "/usr/bin/ld: cannot find -lz: No such file or directory\n");
	failclass_feed(f, SANDBOX_STDOUT, line, strlen(line));
	assert_int_equal(f->nmissing, 1);
	assert_string_equal(f->missing[0].name, "-lz");

	/* The tail of an over-long line is not read as a line of its own. */
	failclass_init(f);
	memset(big, 'a', 8192);
	memcpy(big + 6000, "fatal error: evil.h: No such file or directory", 46);
	failclass_feed(f, SANDBOX_STDOUT, big, 8192);
	failclass_feed(f, SANDBOX_STDOUT, "\n", 1);
	failclass_end(f);
	assert_int_equal(f->nmissing, 0);

	/* stdout and stderr interleave without splicing their partial lines. */
	failclass_init(f);
	failclass_feed(f, SANDBOX_STDOUT, "x.c:1:1: fatal error: ya", 24);
	failclass_feed(f, SANDBOX_STDERR, "progress 50%\n", 13);
	failclass_feed(f, SANDBOX_STDOUT, "ml.h: No such file or directory\n", 32);
	assert_int_equal(f->nmissing, 1);
	assert_string_equal(f->missing[0].name, "yaml.h");

	/* No newline at the end: failclass_end judges it, once. */
	failclass_init(f);
	failclass_feed(f, SANDBOX_STDOUT, "Package foo was not found in the pkg-config search path.", 56);
	assert_int_equal(f->nmissing, 0);
	failclass_end(f);
	failclass_end(f);
	assert_int_equal(f->nmissing, 1);
	free(big);
	free(f);
}

static void test_classify(void **state)
{
	struct failclass f;
	struct failclass_facts facts;

	(void)state;
	failclass_init(&f);
	memset(&facts, 0, sizeof(facts));
	facts.stage = SANDBOX_STAGE_BUILD;
	facts.exit_code = 1;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "compile");
	failclass_line(&f, "yext.c:2:10: fatal error: yaml.h: No such file or directory", 59);
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "native-dependency");
	/* facts beat the log */
	facts.oom = 1;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "out-of-memory");
	facts.timed_out = 1;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "timeout");
	facts.infrastructure = 1;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "infrastructure");
	memset(&facts, 0, sizeof(facts));
	facts.stage = SANDBOX_STAGE_IMPORT;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "import");
	/* a capped log: its end is lost, so a header miss early on is not the verdict */
	facts.stage = SANDBOX_STAGE_BUILD;
	facts.log_capped = 1;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "compile");
	facts.log_capped = 0;
	facts.build_requirement = 1;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "build-requirement");
	failclass_init(&f);
	memset(&facts, 0, sizeof(facts));
	facts.stage = SANDBOX_STAGE_REQUIRES;
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "build-requirement");
	facts.stage = SANDBOX_STAGE_BUILD;
	failclass_line(&f, "ERROR: No matching distribution found for cython>=3", 51);
	assert_string_equal(failclass_name(failclass_classify(&f, &facts)), "build-requirement");
	assert_string_equal(f.requirement, "cython");
	assert_string_equal(failclass_name(FAILCLASS_NONE), "");
	assert_true(failclass_is_nospace("docker: put archive: write /work/x: no space left on device (HTTP 500)"));
	assert_false(failclass_is_nospace("docker: put archive: No such container (HTTP 404)"));
	/* libgit2's words for a fetch that will not work on a retry, and for one that may */
	assert_true(failclass_git_permanent("unexpected http status code: 404"));
	assert_true(failclass_git_permanent("the SSL certificate is invalid"));
	assert_false(failclass_git_permanent("failed to connect to 127.0.0.1: Connection refused"));
	assert_false(failclass_git_permanent("unexpected http status code: 502"));
}

/* A slice of the real bookworm amd64 index, as scripts/image.sh writes it. */
static const char contents_fixture[] =
	"# kiln contents index: suite=bookworm arch=amd64 fetched=2026-12-07T14:00:00Z\n"
	"#prefer libcurl4-openssl-dev\n"
	"#prefer libpython3.11-dev\n"
	"usr/bin/curl-config\tlibcurl4-gnutls-dev\n"
	"usr/bin/curl-config\tlibcurl4-nss-dev\n"
	"usr/bin/curl-config\tlibcurl4-openssl-dev\n"
	"usr/include/pypy3.9/Python.h\tpypy3-dev\n"
	"usr/include/python3.11/Python.h\tlibpython3.11-dev\n"
	"usr/include/python3.11d/Python.h\tlibpython3.11-dbg\n"
	"usr/lib/x86_64-linux-gnu/libcurl.so\tlibcurl4-nss-dev\n"
	"usr/lib/x86_64-linux-gnu/libcurl.so\tlibcurl4-gnutls-dev\n"
	"usr/bin/mysql_config\tlibmariadb-dev-compat\n"
	"usr/bin/pg_config\tlibpq-dev\n"
	"usr/bin/pg_config\tpostgresql-common\n"
	"usr/bin/swig\tswig\n"
	"usr/bin/xml2-config\tlibxml2-dev\n"
	"usr/include/mrpt/containers/include/mrpt/containers/yaml.h\tlibmrpt-containers-dev\n"
	"usr/include/postgresql/libpq-fe.h\tlibpq-dev\n"
	"usr/include/x86_64-linux-gnu/ffi.h\tlibffi-dev\n"
	"usr/include/yaml-cpp/yaml.h\tlibyaml-cpp-dev\n"
	"usr/include/yaml.h\tlibyaml-dev\n"
	"usr/lib/x86_64-linux-gnu/libyaml-0.so.2\tlibyaml-0-2\n"
	"usr/lib/x86_64-linux-gnu/libyaml-0.so.2.0.9\tlibyaml-0-2\n"
	"usr/lib/x86_64-linux-gnu/libyaml.a\tlibyaml-dev\n"
	"usr/lib/x86_64-linux-gnu/libyaml.so\tlibyaml-dev\n"
	"usr/lib/x86_64-linux-gnu/pkgconfig/yaml-0.1.pc\tlibyaml-dev\n"
	"usr/lib/x86_64-linux-gnu/libz.so.1\tzlib1g\n"
	"usr/lib/debug/usr/lib/x86_64-linux-gnu/libz.so.1\tzlib1g-dbg\n"
	"usr/lib/x86_64-linux-gnu/libfoo.so.1\tlibfoo1,libfoo1-dev\n"
	"usr/lib/x86_64-linux-gnu/libfoo.so.1\tlibfoo1b\n";

static void test_contents(void **state)
{
	char path[] = "/tmp/kiln-test-contents-XXXXXX";
	int fd = mkstemp(path);
	struct kerr e;
	struct contents_query q[] = {
		{ CONTENTS_HEADER, "yaml.h", "", { 0 } },
		{ CONTENTS_HEADER, "libpq-fe.h", "", { 0 } },
		{ CONTENTS_HEADER, "postgresql/libpq-fe.h", "", { 0 } },
		{ CONTENTS_HEADER, "ffi.h", "", { 0 } },
		{ CONTENTS_HEADER, "containers/yaml.h", "", { 0 } },
		{ CONTENTS_PKGCONFIG, "yaml-0.1", "", { 0 } },
		{ CONTENTS_LIBRARY, "-lyaml", "", { 0 } },
		{ CONTENTS_PROGRAM, "pg_config", "", { 0 } },
		{ CONTENTS_PROGRAM, "mysql_config", "", { 0 } },
		{ CONTENTS_SONAME, "libyaml-0.so.2", "", { 0 } },
		{ CONTENTS_SONAME, "libz.so.1", "", { 0 } },
		{ CONTENTS_SONAME, "libfoo.so.1", "", { 0 } },
		{ CONTENTS_HEADER, "nothere.h", "", { 0 } },
		{ CONTENTS_PROGRAM, "libyaml.so", "", { 0 } },
		{ CONTENTS_PROGRAM, "curl-config", "", { 0 } },
		{ CONTENTS_HEADER, "Python.h", "", { 0 } },
		{ CONTENTS_LIBRARY, "-lcurl", "", { 0 } },
	};
	static const char *const want[] = {
		"libyaml-dev", "libpq-dev", "libpq-dev", "libffi-dev", "libmrpt-containers-dev",
		"libyaml-dev", "libyaml-dev", "libpq-dev", "libmariadb-dev-compat", "libyaml-0-2",
		"zlib1g", "libfoo1", "", "",
		"libcurl4-openssl-dev", "libpython3.11-dev",
		"libcurl4-nss-dev", /* no preference applies: the shorter name */
	};

	(void)state;
	kerr_clear(&e);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, contents_fixture, sizeof(contents_fixture) - 1),
			 (ssize_t)(sizeof(contents_fixture) - 1));
	close(fd);
	assert_int_equal(contents_lookup(path, q, ARRAY_LEN(q), &e), 0);
	for (size_t i = 0; i < ARRAY_LEN(q); i++)
		if (strcmp(q[i].package, want[i]))
			fail_msg("%s: got '%s', want '%s'", q[i].name, q[i].package, want[i]);
	unlink(path);
	assert_int_equal(contents_lookup(path, q, 1, &e), KERR_NOTFOUND);
	assert_string_equal(q[0].package, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_contents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
