/*
 * Unit tests for builder/crates: which projects are Rust projects, and what Kiln
 * refuses before cargo ever runs. Each row writes a small source tree; cargo is
 * a path that does not exist, so a tree that passes the checks ends in "this
 * builder has no cargo" (KERR_AGAIN) without any network. The host's python3
 * (3.11 or later) reads the manifests, as on a builder.
 */
#include "tests/unit/unit.h"

#include "builder/crates.h"
#include "common/buf.h"
#include "common/kerr.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PYO3 "[package]\nname = \"k\"\nversion = \"1.0.0\"\n[dependencies]\npyo3 = \"0.25\"\n"
#define LINK "@symlink:" /* a file whose text starts so is a symlink to the rest */

struct file {
	const char *path;
	const char *text;
};

struct case_ {
	const char *name;
	struct file files[6];
	int rc;
	int found;
	const char *msg;   /* in e.msg (rc != 0) */
	const char *note;  /* in the log; NULL: no note of Kiln's there */
};

static const struct case_ cases[] = {
	{ "no Rust", { { "setup.py", "from setuptools import setup\nsetup()\n" } },
	  0, 0, NULL, NULL },
	{ "top-level Cargo.toml", { { "Cargo.toml", PYO3 } },
	  KERR_AGAIN, 1, "this builder has no '/nonexistent/kiln-cargo'",
	  "vendoring on the host for Cargo.toml\n" },
	{ "with its Cargo.lock: --locked", { { "Cargo.toml", PYO3 }, { "Cargo.lock", "version = 3\n" } },
	  KERR_AGAIN, 1, NULL, "for Cargo.toml (--locked: the project's Cargo.lock)" },
	{ "maturin manifest-path", {
		{ "pyproject.toml", "[tool.maturin]\nmanifest-path = \"rust/py/Cargo.toml\"\n" },
		{ "rust/py/Cargo.toml", PYO3 } },
	  KERR_AGAIN, 1, NULL, "for rust/py/Cargo.toml\n" },
	{ "setuptools-rust in setup.py", {
		{ "setup.py", "from setuptools_rust import RustExtension\n"
			      "RustExtension('k', path='native/Cargo.toml')\n" },
		{ "native/Cargo.toml", PYO3 } },
	  KERR_AGAIN, 1, NULL, "for native/Cargo.toml\n" },
	{ "[tool.setuptools-rust] ext-modules", {
		{ "pyproject.toml", "[[tool.setuptools-rust.ext-modules]]\n"
				    "target = \"k._k\"\npath = \"crates/k/Cargo.toml\"\n" },
		{ "crates/k/Cargo.toml", PYO3 } },
	  KERR_AGAIN, 1, NULL, "for crates/k/Cargo.toml\n" },
	{ "manifest-path that is not there", {
		{ "pyproject.toml", "[tool.maturin]\nmanifest-path = \"nope/Cargo.toml\"\n" } },
	  KERR_INVAL, 0, "nope/Cargo.toml: no such file (named by the project)", NULL },
	{ "manifest-path out of the project", {
		{ "pyproject.toml", "[tool.maturin]\nmanifest-path = \"../../etc/Cargo.toml\"\n" } },
	  KERR_INVAL, 0, "[tool.maturin] manifest-path names '../../etc/Cargo.toml', outside the project",
	  NULL },
	{ "git dependency", {
		{ "Cargo.toml", "[package]\nname = \"k\"\nversion = \"1.0.0\"\n"
				"[dependencies]\nevil = { git = \"https://example.invalid/e.git\" }\n" } },
	  KERR_INVAL, 0, "Cargo.toml: [dependencies] evil comes from git (https://example.invalid/e.git): "
	  "Kiln fetches crates from the crate registry only", NULL },
	{ "git in a target table of a path dependency", {
		{ "Cargo.toml", "[package]\nname = \"k\"\nversion = \"1.0.0\"\n"
				"[dependencies]\ninner = { path = \"inner\" }\n" },
		{ "inner/Cargo.toml", "[package]\nname = \"inner\"\nversion = \"1.0.0\"\n"
				      "[target.'cfg(unix)'.build-dependencies]\n"
				      "evil = { git = \"https://example.invalid/e.git\", tag = \"v1\" }\n" } },
	  KERR_INVAL, 0, "inner/Cargo.toml: [target.cfg(unix).build-dependencies] evil comes from git",
	  NULL },
	{ "git in a workspace member's [patch]", {
		{ "Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n" },
		{ "crates/a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"1.0.0\"\n"
					 "[patch.crates-io]\nlibc = { git = \"https://example.invalid/l\" }\n" } },
	  KERR_INVAL, 0, "crates/a/Cargo.toml: [patch.crates-io] libc comes from git", NULL },
	{ "another registry", {
		{ "Cargo.toml", "[package]\nname = \"k\"\nversion = \"1.0.0\"\n"
				"[dependencies]\nx = { version = \"1\", registry = \"private\" }\n" } },
	  KERR_INVAL, 0, "x comes from another registry (private)", NULL },
	{ "path dependency out of the project", {
		{ "Cargo.toml", "[package]\nname = \"k\"\nversion = \"1.0.0\"\n"
				"[dependencies]\nx = { path = \"../outside\" }\n" } },
	  KERR_INVAL, 0, "Cargo.toml: [dependencies] x has path '../outside', outside the project", NULL },
	{ "symlinked manifest", { { "Cargo.toml", LINK "/etc/passwd" } },
	  KERR_INVAL, 0, "Cargo.toml: not a regular file inside the project", NULL },
	{ "not TOML", { { "Cargo.toml", "[package\n" } }, KERR_INVAL, 0, "Cargo.toml: ", NULL },
	{ "found by the search", { { "ext/rs/Cargo.toml", PYO3 } },
	  KERR_AGAIN, 1, NULL, "for ext/rs/Cargo.toml\n" },
	{ "found by the search, refused: built without crates", {
		{ "ext/rs/Cargo.toml", "[package]\nname = \"k\"\nversion = \"1.0.0\"\n"
				       "[dependencies]\nevil = { git = \"https://example.invalid/e\" }\n" } },
	  0, 0, NULL, "kiln: Rust crates: none vendored: ext/rs/Cargo.toml: [dependencies] evil comes from git" },
	{ "a test fixture is not searched", { { "tests/fixture/Cargo.toml", PYO3 } }, 0, 0, NULL, NULL },
};

static void on_log(void *ctx, int stream, const char *p, size_t n)
{
	(void)stream;
	buf_append(ctx, p, n);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return remove(path);
}

static void write_file(const char *root, const struct file *f)
{
	char path[8400], *slash;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, f->path);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	if (!strncmp(f->text, LINK, strlen(LINK))) {
		assert_int_equal(symlink(f->text + strlen(LINK), path), 0);
		return;
	}
	assert_non_null(fp = fopen(path, "w"));
	fputs(f->text, fp);
	fclose(fp);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct case_ *c = &cases[i];
		char tmpl[] = "/tmp/kiln-test-crates-XXXXXX", src[4200], work[4200], out[4200],
		     home[4200];
		struct crates_opts o;
		struct buf log = BUF_INIT(1 << 20);
		struct kerr e;
		int found = -1, rc;

		assert_non_null(mkdtemp(tmpl));
		snprintf(src, sizeof(src), "%s/src", tmpl);
		snprintf(work, sizeof(work), "%s/work", tmpl);
		snprintf(out, sizeof(out), "%s/work/cargo", tmpl);
		snprintf(home, sizeof(home), "%s/home", tmpl);
		mkdir(src, 0755);
		mkdir(work, 0755);
		for (size_t k = 0; k < ARRAY_LEN(c->files) && c->files[k].path; k++)
			write_file(src, &c->files[k]);
		memset(&o, 0, sizeof(o));
		o.cargo = "/nonexistent/kiln-cargo";
		o.cargo_home = home;
		o.on_log = on_log;
		o.log_ctx = &log;
		kerr_clear(&e);
		rc = crates_vendor(&o, NULL, src, work, out, &found, &e);
		if (rc != c->rc || found != c->found || (c->msg && !strstr(e.msg, c->msg)) ||
		    (c->note && !strstr(log.ptr, c->note)) ||
		    (!c->note && strstr(log.ptr, "kiln: ")))
			fail_msg("%s: rc %d found %d\nmsg: %s\nlog: %s", c->name, rc, found, e.msg,
				 log.ptr);
		buf_release(&log);
		nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static void test_sdist_and_tree_both_or_neither(void **state)
{
	struct crates_opts o;
	struct kerr e;
	int found;

	(void)state;
	memset(&o, 0, sizeof(o));
	kerr_clear(&e);
	assert_int_equal(crates_vendor(&o, NULL, NULL, "/tmp", "/tmp/x", &found, &e), KERR_INVAL);
	assert_int_equal(found, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_sdist_and_tree_both_or_neither),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
