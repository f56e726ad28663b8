/*
 * Unit tests for registry-sync/upstream's parsers: PEP 691 JSON and PEP 503 HTML
 * listings and project pages, well-formed and hostile.
 */
#include "tests/unit/unit.h"

#include "common/kerr.h"
#include "registry-sync/upstream.h"

#include <stdio.h>
#include <string.h>

#define PAGE_URL "https://index.example/simple/demo/"
#define H64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H64U "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static void test_listing_json(void **state)
{
	const char *s = "{\"meta\":{\"api-version\":\"1.1\",\"_last-serial\":42},"
		"\"projects\":[{\"name\":\"Demo.Pkg\",\"_last-serial\":40},{\"name\":\"other\"}]}";
	struct upstream_listing l;
	struct kerr e;

	kerr_clear(&e);
	assert_int_equal(upstream_parse_listing_json(s, strlen(s), &l, &e), 0);
	assert_int_equal(l.serial, 42);
	assert_int_equal(l.nprojects, 2);
	assert_string_equal(l.projects[0].name, "Demo.Pkg");
	assert_int_equal(l.projects[0].serial, 40);
	assert_string_equal(l.projects[1].name, "other");
	assert_int_equal(l.projects[1].serial, -1);
	upstream_listing_release(&l);
	assert_int_equal(l.nprojects, 0);
}

static void test_listing_json_bad(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "{\"projects\":[", "" },
		{ "[]", "" },
		{ "{\"meta\":{}}", "projects" },
		{ "{\"projects\":{}}", "projects" },
		{ "{\"projects\":[1]}", "projects[0]" },
		{ "{\"projects\":[{\"name\":\"a\"},{\"name\":5}]}", "projects[1]" },
		{ "{\"projects\":[{}]}", "name" },
		{ "{\"meta\":{\"_last-serial\":\"x\"},\"projects\":[]}", "_last-serial" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":-3}]}", "_last-serial" },
		{ "", "" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(upstream_parse_listing_json(cases[i].in, strlen(cases[i].in), &l, &e),
			KERR_INVAL);
		assert_int_equal(l.nprojects, 0);
		assert_null(l.projects);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].msg);
		assert_true(e.msg[0] != '\0');
	}
}

/* Some mirrors serve the serials as strings of digits; anything else stays an error. */
static void test_serial_as_string(void **state)
{
	const char *s = "{\"meta\":{\"api-version\":\"1.1\",\"_last-serial\":\"11007182\"},"
		"\"projects\":[{\"name\":\"a\",\"_last-serial\":\"40\"}]}";
	static const char *const bad[] = {
		"{\"meta\":{\"_last-serial\":\"\"},\"projects\":[]}",
		"{\"meta\":{\"_last-serial\":\"-3\"},\"projects\":[]}",
		"{\"meta\":{\"_last-serial\":\"12a\"},\"projects\":[]}",
		"{\"meta\":{\"_last-serial\":\"1234567890123456789012\"},\"projects\":[]}",
	};
	struct upstream_listing l;
	struct kerr e;

	(void)state;
	kerr_clear(&e);
	assert_int_equal(upstream_parse_listing_json(s, strlen(s), &l, &e), 0);
	assert_int_equal(l.serial, 11007182);
	assert_int_equal(l.projects[0].serial, 40);
	upstream_listing_release(&l);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&e);
		assert_int_equal(upstream_parse_listing_json(bad[i], strlen(bad[i]), &l, &e), KERR_INVAL);
		assert_non_null(strstr(e.msg, "_last-serial"));
	}
}

static void test_page_json(void **state)
{
	const char *s = "{\"meta\":{\"api-version\":\"1.1\",\"_last-serial\":7},\"name\":\"demo\","
		"\"versions\":[\"1.0\"],\"files\":["
		"{\"filename\":\"demo-1.0.tar.gz\",\"url\":\"../../files/demo-1.0.tar.gz\","
		" \"hashes\":{\"sha256\":\"" H64U "\",\"md5\":\"x\"},\"size\":123,"
		" \"requires-python\":\">=3.8\",\"upload-time\":\"2026-01-02T03:04:05.000000Z\","
		" \"core-metadata\":{\"sha256\":\"" H64 "\"}},"
		"{\"filename\":\"demo-1.0-py3-none-any.whl\","
		" \"url\":\"https://files.example/d/demo-1.0-py3-none-any.whl#frag\",\"hashes\":{},"
		" \"yanked\":\"broken build\",\"dist-info-metadata\":true},"
		"{\"filename\":\"demo-0.9.zip\",\"url\":\"/f/demo-0.9.zip\",\"hashes\":{},\"yanked\":true}"
		"]}";
	struct upstream_page p;
	struct kerr e;

	kerr_clear(&e);
	assert_int_equal(upstream_parse_page_json(s, strlen(s), PAGE_URL, &p, &e), 0);
	assert_int_equal(p.serial, 7);
	assert_string_equal(p.name, "demo");
	assert_int_equal(p.nfiles, 3);
	assert_string_equal(p.files[0].filename, "demo-1.0.tar.gz");
	assert_string_equal(p.files[0].url, "https://index.example/files/demo-1.0.tar.gz");
	assert_string_equal(p.files[0].sha256, H64);
	assert_int_equal(p.files[0].size, 123);
	assert_string_equal(p.files[0].requires_python, ">=3.8");
	assert_string_equal(p.files[0].upload_time, "2026-01-02T03:04:05.000000Z");
	assert_int_equal(p.files[0].yanked, 0);
	assert_int_equal(p.files[0].has_core_metadata, 1);
	assert_string_equal(p.files[0].core_metadata_sha256, H64);

	assert_string_equal(p.files[1].url,
		"https://files.example/d/demo-1.0-py3-none-any.whl");
	assert_null(p.files[1].sha256);
	assert_int_equal(p.files[1].size, -1);
	assert_int_equal(p.files[1].yanked, 1);
	assert_string_equal(p.files[1].yanked_reason, "broken build");
	assert_int_equal(p.files[1].has_core_metadata, 1);
	assert_null(p.files[1].core_metadata_sha256);

	assert_string_equal(p.files[2].url, "https://index.example/f/demo-0.9.zip");
	assert_int_equal(p.files[2].yanked, 1);
	assert_null(p.files[2].yanked_reason);
	upstream_page_release(&p);
}

static void test_page_json_bad(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "{\"files\":[{]}", "" },
		{ "{\"files\":7}", "files" },
		{ "{\"name\":\"x\"}", "files" },
		{ "{\"files\":[\"a\"]}", "files[0]: not an object" },
		{ "{\"files\":[{\"url\":\"a\"}]}", "filename" },
		{ "{\"files\":[{\"filename\":3,\"url\":\"a\"}]}", "filename" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\"}]}", "url" },
		{ "{\"files\":[{\"filename\":\"../a.tar.gz\",\"url\":\"a\"}]}", "bare file name" },
		{ "{\"files\":[{\"filename\":\"\",\"url\":\"a\"}]}", "bare file name" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"hashes\":{\"sha256\":\"zz\"}}]}",
		  "not 64 hex" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"hashes\":{\"sha256\":\""
		  "gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}]}", "not 64 hex" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"hashes\":[]}]}", "hashes" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"size\":\"1\"}]}", "size" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"size\":-1}]}", "size" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"yanked\":1}]}", "yanked" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"core-metadata\":\"x\"}]}",
		  "core-metadata" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"a\",\"requires-python\":false}]}",
		  "requires-python" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"ht tp://x y\"}]}", "url" },
		{ "{\"files\":[{\"filename\":\"a.tar.gz\",\"url\":\"file:///etc/passwd\"}]}", "url" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct upstream_page p;
		struct kerr e;

		kerr_clear(&e);
		int rc = upstream_parse_page_json(cases[i].in, strlen(cases[i].in), PAGE_URL, &p, &e);
		if (rc != KERR_INVAL)
			fail_msg("case %zu: rc %d", i, rc);
		assert_int_equal(p.nfiles, 0);
		assert_null(p.files);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].msg);
		assert_true(e.msg[0] != '\0');
	}
}

static void test_listing_html(void **state)
{
	const char *s = "<!DOCTYPE html><html><body>\n"
		"<a href=\"/simple/demo-pkg/\">Demo.Pkg</a>\n"
		"<a href=\"other/\"> other </a><a>no link</a>\n</body></html>";
	struct upstream_listing l;
	struct kerr e;

	kerr_clear(&e);
	assert_int_equal(upstream_parse_listing_html(s, strlen(s), &l, &e), 0);
	assert_int_equal(l.serial, -1);
	assert_int_equal(l.nprojects, 3);
	assert_string_equal(l.projects[0].name, "Demo.Pkg");
	assert_string_equal(l.projects[1].name, "other");
	assert_int_equal(l.projects[1].serial, -1);
	upstream_listing_release(&l);
}

static void test_page_html(void **state)
{
	const char *s = "<html><body><h1>Links for demo</h1>\n"
		"<a href=\"../../files/demo-1.0.tar.gz#sha256=" H64U "\" "
		"data-requires-python=\"&gt;=3.8\" data-core-metadata=\"sha256=" H64 "\">"
		"demo-1.0.tar.gz</a><br/>\n"
		"<a href=\"https://files.example/demo-1.0-py3-none-any.whl#md5=abc\" "
		"data-yanked=\"\">x</a>\n"
		"<a href=\"demo-0.9.zip?x=1\" data-yanked=\"bad &amp; old\" "
		"data-dist-info-metadata=\"true\">y</a>\n"
		"<p><a name=\"anchor-only\">z</a></p>"
		"</body></html>";
	struct upstream_page p;
	struct kerr e;

	kerr_clear(&e);
	assert_int_equal(upstream_parse_page_html(s, strlen(s), PAGE_URL, &p, &e), 0);
	assert_int_equal(p.nfiles, 3);
	assert_null(p.name);
	assert_string_equal(p.files[0].filename, "demo-1.0.tar.gz");
	assert_string_equal(p.files[0].url, "https://index.example/files/demo-1.0.tar.gz");
	assert_string_equal(p.files[0].sha256, H64);
	assert_string_equal(p.files[0].requires_python, ">=3.8");
	assert_int_equal(p.files[0].yanked, 0);
	assert_string_equal(p.files[0].core_metadata_sha256, H64);
	assert_string_equal(p.files[1].filename, "demo-1.0-py3-none-any.whl");
	assert_null(p.files[1].sha256);
	assert_int_equal(p.files[1].yanked, 1);
	assert_null(p.files[1].yanked_reason);
	assert_string_equal(p.files[2].filename, "demo-0.9.zip");
	assert_string_equal(p.files[2].url, "https://index.example/simple/demo/demo-0.9.zip?x=1");
	assert_int_equal(p.files[2].yanked, 1);
	assert_string_equal(p.files[2].yanked_reason, "bad & old");
	assert_int_equal(p.files[2].has_core_metadata, 1);
	assert_null(p.files[2].core_metadata_sha256);
	upstream_page_release(&p);
}

static void test_page_html_bad(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "<a href=\"a.tar.gz#sha256=123\">a</a>", "not 64 hex" },
		{ "<a href=\"dir/\">a</a>", "no bare file name" },
		{ "<a href=\"x/..\">a</a>", "no bare file name" },
		{ "<a href=\"x/%2e%2e\">a</a>", "no bare file name" },
		{ "<a href=\"x/a%2fb.tar.gz\">a</a>", "no bare file name" },
		{ "<a href=\"x/a%00b.tar.gz\">a</a>", "no bare file name" },
		{ "<a href=\"x/a%0ab.tar.gz\">a</a>", "no bare file name" },
		{ "<a href=\"a.tar.gz\" data-core-metadata=\"sha256=x\">a</a>", "core metadata" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct upstream_page p;
		struct kerr e;

		kerr_clear(&e);
		int rc = upstream_parse_page_html(cases[i].in, strlen(cases[i].in), PAGE_URL, &p, &e);
		if (rc != KERR_INVAL)
			fail_msg("case %zu: rc %d", i, rc);
		assert_int_equal(p.nfiles, 0);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].msg);
	}
}

/* Garbage of every kind must give an error or an empty result, never a crash. */
static void test_garbage(void **state)
{
	static const char *inputs[] = {
		"", "\0\0\0", "<", "<a href=", "<<<<a>>>", "{", "null", "\"x\"", "{\"files\":null}",
		"<html><a href=\"\xff\xfe\">x</a>", "{\"projects\":[{\"name\":null}]}",
	};

	for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
		size_t n = strlen(inputs[i]) + (i == 1 ? 3 : 0);
		struct upstream_listing l;
		struct upstream_page p;

		(void)upstream_parse_listing_json(inputs[i], n, &l, NULL);
		upstream_listing_release(&l);
		(void)upstream_parse_listing_html(inputs[i], n, &l, NULL);
		upstream_listing_release(&l);
		(void)upstream_parse_page_json(inputs[i], n, PAGE_URL, &p, NULL);
		upstream_page_release(&p);
		(void)upstream_parse_page_html(inputs[i], n, PAGE_URL, &p, NULL);
		upstream_page_release(&p);
	}
}

/* Past libxml2's depth limit the page is refused, not read as a shorter page. */
static void test_html_deep(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	struct upstream_page p;
	struct kerr e;

	for (int i = 0; i < 20000; i++)
		buf_puts(&b, "<div>");
	buf_puts(&b, "<a href=\"x-1.0.tar.gz\">x</a>");
	for (int i = 0; i < 20000; i++)
		buf_puts(&b, "</div>");
	buf_puts(&b, "<a href=\"y-1.0.tar.gz\">y</a>");
	kerr_clear(&e);
	assert_int_equal(upstream_parse_page_html(b.ptr, b.len, PAGE_URL, &p, &e), KERR_INVAL);
	assert_int_equal(p.nfiles, 0);
	assert_non_null(strstr(e.msg, "could not parse html"));
	buf_release(&b);
}

/* Binary garbage is not a page without links (which would delete every file). */
static void test_html_not_text(void **state)
{
	static const struct {
		const char *in;
		size_t n;
	} cases[] = {
		{ "<a href=\"x-1.0.tar.gz\">x</a>\0", 30 },
		{ "\xff\xfe<html><body></body></html>", 28 },
		{ "<html>\xc3</html>", 14 },
		{ "<html>\xe2\x82</html>", 15 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct upstream_page p;
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(upstream_parse_page_html(cases[i].in, cases[i].n, PAGE_URL, &p, &e),
			KERR_INVAL);
		assert_non_null(strstr(e.msg, "not utf-8"));
		assert_int_equal(upstream_parse_listing_html(cases[i].in, cases[i].n, &l, &e), KERR_INVAL);
	}
	/* Multi-byte text is fine. */
	{
		const char *ok = "<html><a href=\"x-1.0.tar.gz\">\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</a></html>";
		struct upstream_page p;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(upstream_parse_page_html(ok, strlen(ok), PAGE_URL, &p, &e), 0);
		assert_int_equal(p.nfiles, 1);
		upstream_page_release(&p);
	}
}

/* Only http and https: a configured file:// URL is refused before any I/O. */
static void test_fetch_refuses_other_schemes(void **state)
{
	struct upstream_client c;
	struct upstream_response r;
	struct kerr e;

	upstream_response_init(&r, 1024);
	kerr_clear(&e);
	assert_int_equal(upstream_client_init(&c, &e), 0);
	assert_true(upstream_fetch(&c, "file:///etc/passwd", NULL, &r, &e) < 0);
	assert_int_equal(r.body.len, 0);
	assert_non_null(strstr(e.msg, "file:///etc/passwd"));
	upstream_client_release(&c);
	upstream_response_release(&r);
}

static void test_page_url(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	assert_int_equal(upstream_page_url("http://x/simple/", "demo", &b), 0);
	assert_string_equal(b.ptr, "http://x/simple/demo/");
	buf_reset(&b);
	assert_int_equal(upstream_page_url("http://x/simple", "demo", &b), 0);
	assert_string_equal(b.ptr, "http://x/simple/demo/");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing_json),
		cmocka_unit_test(test_listing_json_bad),
		cmocka_unit_test(test_serial_as_string),
		cmocka_unit_test(test_page_json),
		cmocka_unit_test(test_page_json_bad),
		cmocka_unit_test(test_listing_html),
		cmocka_unit_test(test_page_html),
		cmocka_unit_test(test_page_html_bad),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_html_deep),
		cmocka_unit_test(test_html_not_text),
		cmocka_unit_test(test_fetch_refuses_other_schemes),
		cmocka_unit_test(test_page_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
