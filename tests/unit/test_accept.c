/* Unit tests for common/accept: what pip, uv and others send, and edge cases. */
#include "tests/unit/unit.h"

#include "common/accept.h"

static const char *const offers[] = {
	"application/vnd.pypi.simple.v1+json",
	"application/vnd.pypi.simple.v1+html",
	"text/html",
};

static const struct {
	const char *accept;
	int want;
} cases[] = {
	/* pip */
	{ "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01", 0 },
	/* uv */
	{ "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01", 0 },
	/* devpi's upstream fetch */
	{ "application/vnd.pypi.simple.v1+html;q=0.2, application/vnd.pypi.simple.v1+json, text/html;q=0.01", 0 },
	/* bandersnatch */
	{ "application/vnd.pypi.simple.v1+json", 0 },
	/* browsers */
	{ "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 2 },
	{ NULL, 0 },
	{ "", 0 },
	{ "*/*", 0 },
	{ "text/*", 2 },
	{ "application/*;q=0.5, text/html;q=0.6", 2 },
	{ "application/*;q=0.7, text/html;q=0.6", 0 },
	{ "application/vnd.pypi.simple.v1+html", 1 },
	{ "application/vnd.pypi.simple.v1+html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.4", 1 },
	{ "application/vnd.pypi.simple.v1+json;q=0", -1 },
	{ "application/json", -1 },
	{ "image/png", -1 },
	{ "*/*;q=0", -1 },
	/* An exact range beats a wildcard for the same type, even with lower q. */
	{ "*/*;q=1, application/vnd.pypi.simple.v1+json;q=0", 1 },
	{ "text/html;q=0.1, */*;q=0.9", 0 },
	/* Case-insensitive media types, whitespace, other parameters. */
	{ "Application/VND.PyPI.Simple.V1+JSON", 0 },
	{ "  text/html ; charset=utf-8 ; q=0.9 ,application/vnd.pypi.simple.v1+json;q=0.8", 2 },
	/* Malformed q values drop the element. */
	{ "application/vnd.pypi.simple.v1+json;q=2, text/html", 2 },
	{ "application/vnd.pypi.simple.v1+json;q=0.0001, text/html;q=0.5", 2 },
	{ "application/vnd.pypi.simple.v1+json;q=abc", -1 },
	{ "application/vnd.pypi.simple.v1+json;q=1.000", 0 },
	{ "application/vnd.pypi.simple.v1+json;q=1.001", -1 },
	{ ",,,", -1 },
	{ "garbage", -1 },
	{ "/", -1 },
	{ "text/html;q=0.5,text/html;q=0.9", 2 },
};

static void test_choose(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int got = accept_choose(cases[i].accept, offers, ARRAY_LEN(offers));
		if (got != cases[i].want)
			fail_msg("case %zu ('%s'): got %d, want %d", i,
				 cases[i].accept ? cases[i].accept : "(null)", got, cases[i].want);
	}
}

static void test_quality(void **state)
{
	(void)state;
	assert_int_equal(accept_quality("text/html;q=0.25", "text/html"), 250);
	assert_int_equal(accept_quality("text/*;q=0.5", "text/html"), 500);
	assert_int_equal(accept_quality("text/*;q=0.5", "image/png"), 0);
	assert_int_equal(accept_quality("", "image/png"), 1000);
	assert_int_equal(accept_quality("a/b;q=0.12", "a/b"), 120);
	assert_int_equal(accept_quality("a/b;q=0.", "a/b"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_quality),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
