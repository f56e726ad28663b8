/*
 * Unit tests for common/pyname: project name validity and PEP 503
 * normalization. Expected values were cross-checked against python packaging's
 * canonicalize_name(name, validate=True).
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/pyname.h"

#include <string.h>

struct valid_case {
	const char *in;
	const char *normalized;
	const char *filename; /* the wheel/sdist filename component */
};

/* The first seven are PEP 503's own examples: all the same project. */
static const struct valid_case valid_cases[] = {
	{ "friendly-bard", "friendly-bard", "friendly_bard" },
	{ "Friendly-Bard", "friendly-bard", "friendly_bard" },
	{ "FRIENDLY-BARD", "friendly-bard", "friendly_bard" },
	{ "friendly.bard", "friendly-bard", "friendly_bard" },
	{ "friendly_bard", "friendly-bard", "friendly_bard" },
	{ "friendly--bard", "friendly-bard", "friendly_bard" },
	{ "FrIeNdLy-._.-bArD", "friendly-bard", "friendly_bard" },
	{ "a", "a", "a" },
	{ "A", "a", "a" },
	{ "0", "0", "0" },
	{ "9", "9", "9" },
	{ "ab", "ab", "ab" },
	{ "a1", "a1", "a1" },
	{ "1a", "1a", "1a" },
	{ "a-b", "a-b", "a_b" },
	{ "a.b", "a-b", "a_b" },
	{ "a_b", "a-b", "a_b" },
	{ "a--b", "a-b", "a_b" },
	{ "a__b", "a-b", "a_b" },
	{ "a..b", "a-b", "a_b" },
	{ "a-_.b", "a-b", "a_b" },
	{ "a._-_.-b", "a-b", "a_b" },
	{ "Django", "django", "django" },
	{ "requests", "requests", "requests" },
	{ "oslo.concurrency", "oslo-concurrency", "oslo_concurrency" },
	{ "zope.interface", "zope-interface", "zope_interface" },
	{ "python-dateutil", "python-dateutil", "python_dateutil" },
	{ "typing_extensions", "typing-extensions", "typing_extensions" },
	{ "ruamel.yaml.clib", "ruamel-yaml-clib", "ruamel_yaml_clib" },
	{ "Flask-SQLAlchemy", "flask-sqlalchemy", "flask_sqlalchemy" },
	{ "PyYAML", "pyyaml", "pyyaml" },
	{ "scikit-learn", "scikit-learn", "scikit_learn" },
	{ "scikit_learn", "scikit-learn", "scikit_learn" },
	{ "Scikit.Learn", "scikit-learn", "scikit_learn" },
	{ "backports.zoneinfo", "backports-zoneinfo", "backports_zoneinfo" },
	{ "jaraco.text", "jaraco-text", "jaraco_text" },
	{ "1", "1", "1" },
	{ "123", "123", "123" },
	{ "0x1", "0x1", "0x1" },
	{ "pip", "pip", "pip" },
	{ "setuptools", "setuptools", "setuptools" },
	{ "wheel", "wheel", "wheel" },
	{ "Babel", "babel", "babel" },
	{ "MarkupSafe", "markupsafe", "markupsafe" },
	{ "Jinja2", "jinja2", "jinja2" },
	{ "importlib-metadata", "importlib-metadata", "importlib_metadata" },
	{ "importlib_metadata", "importlib-metadata", "importlib_metadata" },
	{ "google-cloud-storage", "google-cloud-storage", "google_cloud_storage" },
	{ "azure.core", "azure-core", "azure_core" },
	{ "A1.B2_C3-D4", "a1-b2-c3-d4", "a1_b2_c3_d4" },
	{ "abc-123.def_456", "abc-123-def-456", "abc_123_def_456" },
	{ "CamelCaseName", "camelcasename", "camelcasename" },
	{ "ALLCAPS", "allcaps", "allcaps" },
	{ "pkg.-name", "pkg-name", "pkg_name" },
	{ "pkg_-name", "pkg-name", "pkg_name" },
	{ "pkg.__name", "pkg-name", "pkg_name" },
	{ "a.1", "a-1", "a_1" },
	{ "1.a", "1-a", "1_a" },
	{ "a-0-b", "a-0-b", "a_0_b" },
	{ "ZZ_TOP", "zz-top", "zz_top" },
};

struct invalid_case {
	const char *in;
	size_t n; /* explicit: some cases hold a NUL */
};

static const struct invalid_case invalid_cases[] = {
	{ "", 0 },
	{ "-", 1 },
	{ "_", 1 },
	{ ".", 1 },
	{ "--", 2 },
	{ "-a", 2 },
	{ "a-", 2 },
	{ "_a", 2 },
	{ "a_", 2 },
	{ ".a", 2 },
	{ "a.", 2 },
	{ "-friendly-bard", 14 },
	{ "friendly-bard-", 14 },
	{ "friendly bard", 13 },
	{ " friendly", 9 },
	{ "friendly ", 9 },
	{ "friendly/bard", 13 },
	{ "friendly\\bard", 13 },
	{ "friendly+bard", 13 },
	{ "friendly!bard", 13 },
	{ "friendly@bard", 13 },
	{ "friendly~bard", 13 },
	{ "friendly:bard", 13 },
	{ "friendly,bard", 13 },
	{ "friendly*bard", 13 },
	{ "a b", 3 },
	{ "\tname", 5 },
	{ "name\n", 5 },
	{ "na\303\257ve", 6 },
	{ "caf\303\251", 5 },
	{ "\345\220\215\345\211\215", 6 },
	{ "\357\254\201le", 5 },
	{ "a\000b", 3 },
	{ "a\000", 2 },
	{ "\000a", 2 },
	{ "..", 2 },
	{ "../etc", 6 },
	{ "a/..", 4 },
	{ "a%2Fb", 5 },
	{ "a=b", 3 },
	{ "a#b", 3 },
	{ "a'b", 3 },
	{ "a\"b", 3 },
	{ "a\?b", 3 },
	{ "(a)", 3 },
};

struct equal_case {
	const char *a, *b;
	int equal;
};

static const struct equal_case equal_cases[] = {
	{ "friendly-bard", "Friendly-Bard", 1 },
	{ "friendly-bard", "FRIENDLY-BARD", 1 },
	{ "friendly-bard", "friendly.bard", 1 },
	{ "friendly-bard", "friendly_bard", 1 },
	{ "friendly-bard", "friendly--bard", 1 },
	{ "friendly-bard", "FrIeNdLy-._.-bArD", 1 },
	{ "friendly_bard", "FRIENDLY.BARD", 1 },
	{ "Django", "django", 1 },
	{ "zope.interface", "zope-interface", 1 },
	{ "a", "A", 1 },
	{ "a-b", "a-b", 1 },
	{ "friendly-bard", "friendlybard", 0 },
	{ "friendly-bard", "friendly-bard2", 0 },
	{ "friendly-bard", "friendly-bar", 0 },
	{ "friendly-bar", "friendly-bard", 0 },
	{ "a-b", "ab", 0 },
	{ "a", "b", 0 },
	{ "a", "", 0 },
	{ "", "", 0 },
	{ "-a", "-a", 0 },
	{ "a-", "a", 0 },
	{ "a b", "a b", 0 },
	{ "a.b", "a..b", 1 },
};

static void test_valid_table(void **state)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	struct kerr e;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		size_t n = strlen(c->in);

		if (!pyname_valid(c->in, n))
			fail_msg("'%s' should be valid", c->in);
		buf_reset(&out);
		assert_int_equal(pyname_normalize(c->in, n, &out, &e), 0);
		assert_string_equal(out.ptr, c->normalized);
		buf_reset(&out);
		assert_int_equal(pyname_to_filename_component(c->in, n, &out, &e), 0);
		assert_string_equal(out.ptr, c->filename);
		/* normalizing is idempotent, and the name equals its normal form */
		assert_true(pyname_valid(c->normalized, strlen(c->normalized)));
		buf_reset(&out);
		assert_int_equal(pyname_normalize(c->normalized, strlen(c->normalized), &out, &e), 0);
		assert_string_equal(out.ptr, c->normalized);
		assert_true(pyname_equal(c->in, n, c->normalized, strlen(c->normalized)));
		assert_true(pyname_equal(c->in, n, c->filename, strlen(c->filename)));
	}
	buf_release(&out);
}

static void test_invalid_table(void **state)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	assert_int_equal(buf_puts(&out, "keep"), 0);
	for (size_t i = 0; i < ARRAY_LEN(invalid_cases); i++) {
		const struct invalid_case *c = &invalid_cases[i];
		struct kerr e;

		kerr_clear(&e);
		if (pyname_valid(c->in, c->n))
			fail_msg("case %zu ('%s') should be invalid", i, c->in);
		assert_int_equal(pyname_normalize(c->in, c->n, &out, &e), KERR_INVAL);
		assert_int_equal(e.code, KERR_INVAL);
		assert_non_null(strstr(e.msg, "invalid project name"));
		assert_int_equal(pyname_to_filename_component(c->in, c->n, &out, NULL), KERR_INVAL);
		/* failure leaves the buffer as it was */
		assert_string_equal(out.ptr, "keep");
	}
	buf_release(&out);
}

static void test_equal_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(equal_cases); i++) {
		const struct equal_case *c = &equal_cases[i];
		size_t na = strlen(c->a), nb = strlen(c->b);

		if (pyname_equal(c->a, na, c->b, nb) != c->equal ||
		    pyname_equal(c->b, nb, c->a, na) != c->equal)
			fail_msg("pyname_equal('%s', '%s') should be %d", c->a, c->b, c->equal);
	}
}

static void test_explicit_length(void **state)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	/* only n bytes count: "Foo_Bar" out of "Foo_Bar-1.0.tar.gz" */
	assert_true(pyname_valid("Foo_Bar-1.0.tar.gz", 7));
	assert_int_equal(pyname_normalize("Foo_Bar-1.0.tar.gz", 7, &out, NULL), 0);
	assert_string_equal(out.ptr, "foo-bar");
	/* a trailing separator inside the counted bytes is invalid */
	assert_false(pyname_valid("Foo_Bar-1.0.tar.gz", 8));
	assert_false(pyname_valid("abc", 0));
	assert_true(pyname_equal("abc-def", 3, "ABC", 3));
	buf_release(&out);
}

static void test_appends(void **state)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	assert_int_equal(buf_puts(&out, "/simple/"), 0);
	assert_int_equal(pyname_normalize("Friendly.Bard", 13, &out, NULL), 0);
	assert_int_equal(buf_putc(&out, '/'), 0);
	assert_string_equal(out.ptr, "/simple/friendly-bard/");
	buf_reset(&out);
	assert_int_equal(pyname_to_filename_component("Friendly.Bard", 13, &out, NULL), 0);
	assert_int_equal(buf_puts(&out, "-1.0.tar.gz"), 0);
	assert_string_equal(out.ptr, "friendly_bard-1.0.tar.gz");
	buf_release(&out);
}

static void test_buffer_limit(void **state)
{
	struct buf out = BUF_INIT(12);
	struct kerr e;
	(void)state;

	assert_int_equal(buf_puts(&out, "ab"), 0);
	/* 10 more bytes fit exactly */
	assert_int_equal(pyname_normalize("Friendly-._.-B", 14, &out, &e), 0);
	assert_string_equal(out.ptr, "abfriendly-b");
	buf_reset(&out);
	assert_int_equal(buf_puts(&out, "ab"), 0);
	/* 11 do not: KERR_TOOBIG and nothing appended */
	kerr_clear(&e);
	assert_int_equal(pyname_normalize("Friendly-Bar", 12, &out, &e), KERR_TOOBIG);
	assert_int_equal(e.code, KERR_TOOBIG);
	assert_string_equal(out.ptr, "ab");
	assert_int_equal(pyname_to_filename_component("Friendly-Bar", 12, &out, NULL), KERR_TOOBIG);
	assert_string_equal(out.ptr, "ab");
	buf_release(&out);
}

static void test_long_name(void **state)
{
	char name[1000];
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = (i % 3 == 2) ? '_' : 'X';
	name[sizeof(name) - 1] = 'Y';
	assert_true(pyname_valid(name, sizeof(name)));
	assert_int_equal(pyname_normalize(name, sizeof(name), &out, NULL), 0);
	assert_int_equal(out.len, sizeof(name));
	assert_int_equal(out.ptr[2], '-');
	assert_int_equal(out.ptr[0], 'x');
	assert_int_equal(out.ptr[sizeof(name) - 1], 'y');
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_table),
		cmocka_unit_test(test_invalid_table),
		cmocka_unit_test(test_equal_table),
		cmocka_unit_test(test_explicit_length),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_buffer_limit),
		cmocka_unit_test(test_long_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
