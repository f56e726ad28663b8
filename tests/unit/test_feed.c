/*
 * Unit tests for registry-sync/feed: the RSS feed of newest releases.
 */
#include "tests/unit/unit.h"

#include "common/kerr.h"
#include "registry-sync/feed.h"

#include <string.h>

static void test_rss(void **state)
{
	const char *s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<rss version=\"2.0\"><channel><title>newest</title>"
		"<item><title>Demo.Pkg 1.0.1</title><link>https://x/project/Demo.Pkg/1.0.1/</link></item>"
		"<item><title>  other   2.0rc1 </title></item>"
		"<item><title>noversion</title></item>"
		"<item><link>no title</link></item>"
		"<item><title>amp&amp;name 1</title></item>"
		"</channel></rss>";
	struct feed f;
	struct kerr e;

	kerr_clear(&e);
	assert_int_equal(feed_parse_rss(s, strlen(s), &f, &e), 0);
	assert_int_equal(f.nitems, 3);
	assert_string_equal(f.items[0].title, "Demo.Pkg 1.0.1");
	assert_string_equal(f.items[0].project, "Demo.Pkg");
	assert_string_equal(f.items[0].version, "1.0.1");
	assert_string_equal(f.items[1].title, "other   2.0rc1");
	assert_string_equal(f.items[1].project, "other");
	assert_string_equal(f.items[1].version, "2.0rc1");
	assert_string_equal(f.items[2].project, "amp&name");
	feed_release(&f);
	assert_int_equal(f.nitems, 0);
}

static void test_rss_bad(void **state)
{
	static const char *const cases[] = {
		"",
		"not xml at all",
		"<rss><channel><item>",
		"<feed xmlns=\"http://www.w3.org/2005/Atom\"></feed>",
		"<rss version=\"2.0\"></rss>",
		/* An external entity is never read: the document is refused or left unexpanded. */
		("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		 "<r>&x;</r>"),
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct feed f;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(feed_parse_rss(cases[i], strlen(cases[i]), &f, &e), KERR_INVAL);
		assert_int_equal(f.nitems, 0);
		assert_true(strlen(e.msg) > 0);
	}
}

static void test_rss_no_external_entity(void **state)
{
	const char *s = "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY x SYSTEM \"file:///etc/hostname\">]>"
		"<rss><channel><item><title>&x; 1.0</title></item></channel></rss>";
	struct feed f;
	struct kerr e;

	kerr_clear(&e);
	assert_int_equal(feed_parse_rss(s, strlen(s), &f, &e), 0);
	for (size_t i = 0; i < f.nitems; i++)
		assert_null(strchr(f.items[i].project, '\n'));
	feed_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rss),
		cmocka_unit_test(test_rss_bad),
		cmocka_unit_test(test_rss_no_external_entity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
