/* failclass: the failure classifier (contract in failclass.h). */
#include "builder/failclass.h"

#include <string.h>

void failclass_init(struct failclass *f)
{
	memset(f, 0, sizeof(*f));
}

/* A substring of line[0..n), or NULL. */
static const char *failclass__find(const char *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle));
}

static int failclass__namechar(unsigned char c, int slash)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '+' || c == '-' || (slash && c == '/');
}

/* Is p[0..n) a name worth passing on: short, tame bytes, no "..", not absolute? */
static int failclass__tame(const char *p, size_t n, int slash)
{
	if (n == 0 || n >= FAILCLASS_NAME_MAX - 2 || p[0] == '/' || p[0] == '.' || p[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!failclass__namechar((unsigned char)p[i], slash))
			return 0;
		if (i + 1 < n && p[i] == '.' && p[i + 1] == '.')
			return 0;
	}
	return 1;
}

static int failclass__ends(const char *p, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(p + n - k, suffix, k);
}

static int failclass__header_name(const char *p, size_t n)
{
	return failclass__tame(p, n, 1) &&
	       (failclass__ends(p, n, ".h") || failclass__ends(p, n, ".hh") ||
		failclass__ends(p, n, ".hpp") || failclass__ends(p, n, ".hxx"));
}

/* A native build tool whose absence a -dev package cures (*-config, *_config, swig, pkg-config, apxs). */
static int failclass__program_name(const char *p, size_t n)
{
	if (!failclass__tame(p, n, 0))
		return 0;
	return (n > 7 && (failclass__ends(p, n, "-config") || failclass__ends(p, n, "_config"))) ||
	       (n >= 4 && !memcmp(p, "swig", 4)) || (n == 10 && !memcmp(p, "pkg-config", 10)) ||
	       (n == 7 && !memcmp(p, "pkgconf", 7)) ||
	       ((n == 4 || (n == 5 && p[4] == '2')) && !memcmp(p, "apxs", 4));
}

static void failclass__add(struct failclass *f, enum failclass_kind kind, const char *prefix,
			   const char *p, size_t n)
{
	char name[FAILCLASS_NAME_MAX];
	size_t k = strlen(prefix);

	if (k + n >= sizeof(name))
		return;
	memcpy(name, prefix, k);
	memcpy(name + k, p, n);
	name[k + n] = '\0';
	for (size_t i = 0; i < f->nmissing; i++)
		if (f->missing[i].kind == kind && !strcmp(f->missing[i].name, name))
			return;
	if (f->nmissing == FAILCLASS_MAX_MISSING)
		return;
	f->missing[f->nmissing].kind = kind;
	memcpy(f->missing[f->nmissing].name, name, k + n + 1);
	f->missing[f->nmissing].package[0] = '\0';
	f->nmissing++;
}

/* The length of the run of name bytes at p (at most n). */
static size_t failclass__span(const char *p, size_t n, int slash)
{
	size_t i = 0;
	while (i < n && failclass__namechar((unsigned char)p[i], slash))
		i++;
	return i;
}

/* Text between open and close that follows `after` (e.g. after="No package '", close='\''). */
static int failclass__between(const char *line, size_t n, const char *after, char close,
			      const char **out, size_t *outlen)
{
	const char *s = failclass__find(line, n, after), *end, *q;

	if (!s)
		return 0;
	s += strlen(after);
	end = line + n;
	q = memchr(s, close, (size_t)(end - s));
	if (!q)
		return 0;
	*out = s;
	*outlen = (size_t)(q - s);
	return 1;
}

/* gcc / clang: a header that is not there. */
static void failclass__headers(struct failclass *f, const char *line, size_t n)
{
	const char *s = failclass__find(line, n, "fatal error: "), *name, *end = line + n;
	size_t len;

	if (!s)
		return;
	s += strlen("fatal error: ");
	if (s < end && *s == '\'') {
		/* clang: fatal error: 'yaml.h' file not found */
		const char *q = memchr(s + 1, '\'', (size_t)(end - s - 1));
		if (!q || !failclass__find(q, (size_t)(end - q), "' file not found"))
			return;
		name = s + 1;
		len = (size_t)(q - name);
	} else {
		/* gcc: fatal error: yaml.h: No such file or directory */
		const char *q = failclass__find(s, (size_t)(end - s), ": No such file or directory");
		if (!q)
			return;
		name = s;
		len = (size_t)(q - s);
	}
	if (failclass__header_name(name, len))
		failclass__add(f, FAILCLASS_HEADER, "", name, len);
}

/* CMake's find modules by the file they look for, where that is not simply the lowercased name. */
static const struct {
	const char *module;
	enum failclass_kind kind;
	const char *name;
} failclass__cmake_modules[] = {
	{ "BLAS", FAILCLASS_LIBRARY, "-lblas" },       { "BZip2", FAILCLASS_HEADER, "bzlib.h" },
	{ "CURL", FAILCLASS_PKGCONFIG, "libcurl" },    { "EXPAT", FAILCLASS_PKGCONFIG, "expat" },
	{ "Freetype", FAILCLASS_PKGCONFIG, "freetype2" }, { "GDAL", FAILCLASS_PKGCONFIG, "gdal" },
	{ "GIF", FAILCLASS_HEADER, "gif_lib.h" },      { "HDF5", FAILCLASS_HEADER, "hdf5.h" },
	{ "ICU", FAILCLASS_PKGCONFIG, "icu-uc" },      { "JPEG", FAILCLASS_PKGCONFIG, "libjpeg" },
	{ "LAPACK", FAILCLASS_LIBRARY, "-llapack" },   { "LibArchive", FAILCLASS_PKGCONFIG, "libarchive" },
	{ "LibLZMA", FAILCLASS_PKGCONFIG, "liblzma" }, { "LibXml2", FAILCLASS_PKGCONFIG, "libxml-2.0" },
	{ "LibXslt", FAILCLASS_PKGCONFIG, "libxslt" }, { "OpenSSL", FAILCLASS_PKGCONFIG, "openssl" },
	{ "PNG", FAILCLASS_PKGCONFIG, "libpng" },      { "PkgConfig", FAILCLASS_PROGRAM, "pkg-config" },
	{ "PostgreSQL", FAILCLASS_PKGCONFIG, "libpq" }, { "SQLite3", FAILCLASS_PKGCONFIG, "sqlite3" },
	{ "SWIG", FAILCLASS_PROGRAM, "swig" },         { "TIFF", FAILCLASS_PKGCONFIG, "libtiff-4" },
	{ "ZLIB", FAILCLASS_PKGCONFIG, "zlib" },
};

/*
 * cmake, a REQUIRED package only ("-- Could NOT find X" is an optional one):
 *   Could NOT find ZLIB (missing: ZLIB_LIBRARY ZLIB_INCLUDE_DIR)
 * A known find module becomes the file it looks for; another, best effort, the
 * pkg-config module of its lowercased name.
 */
static void failclass__cmake(struct failclass *f, const char *line, size_t n)
{
	char low[FAILCLASS_NAME_MAX];
	const char *s;
	size_t i = 0, len;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (n - i <= 15 || memcmp(line + i, "Could NOT find ", 15))
		return;
	s = line + i + 15;
	len = failclass__span(s, n - i - 15, 0);
	if (len == 0 || len >= sizeof(low) || !failclass__tame(s, len, 0))
		return;
	for (size_t k = 0; k < sizeof(failclass__cmake_modules) / sizeof(failclass__cmake_modules[0]); k++)
		if (strlen(failclass__cmake_modules[k].module) == len &&
		    !memcmp(failclass__cmake_modules[k].module, s, len)) {
			failclass__add(f, failclass__cmake_modules[k].kind, "",
				       failclass__cmake_modules[k].name,
				       strlen(failclass__cmake_modules[k].name));
			return;
		}
	for (size_t k = 0; k < len; k++)
		low[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
	failclass__add(f, FAILCLASS_PKGCONFIG, "", low, len);
}

static void failclass__pkgconfig(struct failclass *f, const char *line, size_t n)
{
	const char *s, *name;
	size_t len;

	/* pkg-config / pkgconf: Package yaml-0.1 was not found in the pkg-config search path. */
	s = failclass__find(line, n, " was not found in the pkg-config search path");
	if (s) {
		const char *b = s;
		while (b > line && b[-1] != ' ' && b[-1] != '\'' && b[-1] != '"')
			b--;
		if (b - line >= 8 && !memcmp(b - 8, "Package ", 8) &&
		    failclass__tame(b, (size_t)(s - b), 0))
			failclass__add(f, FAILCLASS_PKGCONFIG, "", b, (size_t)(s - b));
	}
	/* No package 'yaml-0.1' found */
	if (failclass__between(line, n, "No package '", '\'', &name, &len) &&
	    failclass__find(name, (size_t)(line + n - name), "' found") &&
	    failclass__tame(name, len, 0))
		failclass__add(f, FAILCLASS_PKGCONFIG, "", name, len);
	/* pkgconf: Package 'yaml-0.1', required by 'x', not found */
	if (failclass__between(line, n, "Package '", '\'', &name, &len) &&
	    failclass__find(line, n, "not found") && failclass__tame(name, len, 0))
		failclass__add(f, FAILCLASS_PKGCONFIG, "", name, len);
	/* meson: ERROR: Dependency "yaml-0.1" not found, tried pkgconfig */
	if (failclass__between(line, n, "Dependency \"", '"', &name, &len) &&
	    failclass__find(name, (size_t)(line + n - name), "\" not found") &&
	    failclass__tame(name, len, 0))
		failclass__add(f, FAILCLASS_PKGCONFIG, "", name, len);
	/* meson: Run-time dependency yaml-0.1 found: NO (tried pkgconfig) */
	s = failclass__find(line, n, "dependency ");
	if (s && (s = s + strlen("dependency ")) &&
	    (len = failclass__span(s, (size_t)(line + n - s), 0)) > 0 &&
	    (size_t)(line + n - s) >= len + 10 && !memcmp(s + len, " found: NO", 10) &&
	    failclass__tame(s, len, 0))
		failclass__add(f, FAILCLASS_PKGCONFIG, "", s, len);
	/* mysqlclient >= 2.2: Command 'pkg-config --exists mysqlclient' returned non-zero exit status 1. */
	if (failclass__between(line, n, "'pkg-config --exists ", '\'', &name, &len) &&
	    failclass__find(line, n, "returned non-zero") && failclass__tame(name, len, 0))
		failclass__add(f, FAILCLASS_PKGCONFIG, "", name, len);
	failclass__cmake(f, line, n);
}

static void failclass__libraries(struct failclass *f, const char *line, size_t n)
{
	/* ld: /usr/bin/ld: cannot find -lyaml: No such file or directory */
	const char *s = failclass__find(line, n, "cannot find -l");
	size_t len;

	if (!s)
		return;
	s += strlen("cannot find -l");
	len = failclass__span(s, (size_t)(line + n - s), 0);
	if (failclass__tame(s, len, 0))
		failclass__add(f, FAILCLASS_LIBRARY, "-l", s, len);
}

static void failclass__program(struct failclass *f, const char *p, size_t len)
{
	const char *slash = memrchr(p, '/', len);

	if (slash) { /* error: command '/usr/bin/swig' failed: the name, not the path */
		len -= (size_t)(slash + 1 - p);
		p = slash + 1;
	}
	if (failclass__program_name(p, len))
		failclass__add(f, FAILCLASS_PROGRAM, "", p, len);
}

static void failclass__programs(struct failclass *f, const char *line, size_t n)
{
	const char *s = line, *end = line + n, *name;
	size_t len;

	/* "X executable not found", "X: not found", "X: command not found", "X not found" */
	while ((s = failclass__find(s, (size_t)(end - s), "not found"))) {
		const char *b = s;
		if (b > line && b[-1] == ' ')
			b--;
		if (b - line >= 8 && !memcmp(b - 8, " command", 8))
			b -= 8;
		else if (b - line >= 11 && !memcmp(b - 11, " executable", 11))
			b -= 11;
		if (b > line && b[-1] == ':')
			b--;
		{
			const char *a = b;
			while (a > line && failclass__namechar((unsigned char)a[-1], 1))
				a--;
			failclass__program(f, a, (size_t)(b - a));
		}
		s += strlen("not found");
	}
	/* FileNotFoundError: [Errno 2] No such file or directory: 'pg_config' */
	if (failclass__between(line, n, "No such file or directory: '", '\'', &name, &len))
		failclass__program(f, name, len);
	/* mod_wsgi: RuntimeError: The 'apxs' command appears not to be installed or is not executable. */
	if (failclass__between(line, n, "The '", '\'', &name, &len) &&
	    failclass__find(line, n, "' command appears not to be installed"))
		failclass__program(f, name, len);
	/* setuptools: error: command 'swig' failed: No such file or directory */
	if (failclass__between(line, n, "error: command '", '\'', &name, &len) &&
	    failclass__find(line, n, "No such file or directory"))
		failclass__program(f, name, len);
}

/*
 * Projects that say what is missing in their own words and name no file: the
 * file their build looks for, as the Contents lookup knows it. Each phrase is
 * the project's own (quoted from its setup.py).
 */
static const struct {
	const char *phrase;
	enum failclass_kind kind;
	const char *name;
} failclass__phrases[] = {
	/* lxml 4.9: Error: Please make sure the libxml2 and libxslt development packages are installed. */
	{ "libxml2 and libxslt development packages", FAILCLASS_PROGRAM, "xml2-config" },
	{ "libxml2 and libxslt development packages", FAILCLASS_PROGRAM, "xslt-config" },
	/* bsddb3, berkeleydb: it looks for db.h under the usual prefixes */
	{ "Can't find a local Berkeley DB installation", FAILCLASS_HEADER, "db.h" },
	/* tables (PyTables) */
	{ "Could not find a local HDF5 installation", FAILCLASS_HEADER, "hdf5.h" },
	/* shapely < 2: OSError: Could not find library geos_c or load any of its variants */
	{ "Could not find library geos_c", FAILCLASS_LIBRARY, "-lgeos_c" },
	/* M2Crypto and others: "Please install swig" */
	{ "Please install swig", FAILCLASS_PROGRAM, "swig" },
};

static void failclass__phrase(struct failclass *f, const char *line, size_t n)
{
	for (size_t i = 0; i < sizeof(failclass__phrases) / sizeof(failclass__phrases[0]); i++)
		if (failclass__find(line, n, failclass__phrases[i].phrase))
			failclass__add(f, failclass__phrases[i].kind, "", failclass__phrases[i].name,
				       strlen(failclass__phrases[i].name));
}

static void failclass__pip(struct failclass *f, const char *line, size_t n)
{
	static const char *const forms[] = {
		"No matching distribution found for ",
		"Could not find a version that satisfies the requirement ",
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *s = failclass__find(line, n, forms[i]);
		size_t len;

		if (!s)
			continue;
		f->requirement_missing = 1;
		s += strlen(forms[i]);
		len = failclass__span(s, (size_t)(line + n - s), 0);
		if (!f->requirement[0] && failclass__tame(s, len, 0)) {
			memcpy(f->requirement, s, len);
			f->requirement[len] = '\0';
		}
	}
}

void failclass_line(struct failclass *f, const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n == 0)
		return;
	failclass__headers(f, p, n);
	failclass__pkgconfig(f, p, n);
	failclass__libraries(f, p, n);
	failclass__programs(f, p, n);
	failclass__phrase(f, p, n);
	failclass__pip(f, p, n);
}

void failclass_feed(struct failclass *f, int stream, const char *p, size_t n)
{
	int s = stream == SANDBOX_STDOUT ? 1 : stream == SANDBOX_STDERR ? 2 : 0;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!f->skipping[s]) {
			size_t room = FAILCLASS_LINE_MAX - f->linelen[s];
			size_t k = take < room ? take : room;
			memcpy(f->line[s] + f->linelen[s], p, k);
			f->linelen[s] += k;
			if (take > k || f->linelen[s] == FAILCLASS_LINE_MAX) {
				/* A line this long is judged on its start; the rest is skipped. */
				failclass_line(f, f->line[s], f->linelen[s]);
				f->linelen[s] = 0;
				f->skipping[s] = 1;
			}
		}
		if (!nl)
			break;
		if (!f->skipping[s])
			failclass_line(f, f->line[s], f->linelen[s]);
		f->linelen[s] = 0;
		f->skipping[s] = 0;
		p = nl + 1;
		n -= take + 1;
	}
}

void failclass_end(struct failclass *f)
{
	for (int s = 0; s < 3; s++) {
		if (!f->skipping[s] && f->linelen[s])
			failclass_line(f, f->line[s], f->linelen[s]);
		f->linelen[s] = 0;
		f->skipping[s] = 0;
	}
}

enum failclass_class failclass_classify(const struct failclass *f,
					const struct failclass_facts *facts)
{
	/* Facts before the log: the log is the project's, and may say anything. */
	if (facts->infrastructure)
		return FAILCLASS_INFRASTRUCTURE;
	if (facts->timed_out)
		return FAILCLASS_TIMEOUT;
	if (facts->oom)
		return FAILCLASS_OUT_OF_MEMORY;
	if (facts->stage == SANDBOX_STAGE_IMPORT)
		return FAILCLASS_IMPORT;
	if (facts->build_requirement)
		return FAILCLASS_BUILD_REQUIREMENT;
	if (f && f->nmissing > 0 && !facts->log_capped)
		return FAILCLASS_NATIVE_DEPENDENCY;
	if ((f && f->requirement_missing) || facts->stage == SANDBOX_STAGE_REQUIRES)
		return FAILCLASS_BUILD_REQUIREMENT;
	return FAILCLASS_COMPILE;
}

const char *failclass_name(enum failclass_class c)
{
	switch (c) {
	case FAILCLASS_NATIVE_DEPENDENCY: return "native-dependency";
	case FAILCLASS_BUILD_REQUIREMENT: return "build-requirement";
	case FAILCLASS_COMPILE: return "compile";
	case FAILCLASS_IMPORT: return "import";
	case FAILCLASS_TIMEOUT: return "timeout";
	case FAILCLASS_OUT_OF_MEMORY: return "out-of-memory";
	case FAILCLASS_INFRASTRUCTURE: return "infrastructure";
	case FAILCLASS_NONE: break;
	}
	return "";
}

const char *failclass_kind_name(enum failclass_kind k)
{
	switch (k) {
	case FAILCLASS_HEADER: return "header";
	case FAILCLASS_PKGCONFIG: return "pkg-config";
	case FAILCLASS_LIBRARY: return "library";
	case FAILCLASS_PROGRAM: return "program";
	}
	return "";
}

int failclass_is_nospace(const char *msg)
{
	return msg && (strstr(msg, "no space left on device") || strstr(msg, "No space left on device"));
}

int failclass_git_permanent(const char *msg)
{
	static const char *const words[] = {
		"certificate", " 404", " 401", " 403", "not found", "does not exist",
	};

	for (size_t i = 0; msg && i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(msg, words[i]))
			return 1;
	return 0;
}
