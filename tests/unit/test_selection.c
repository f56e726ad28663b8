/*
 * Unit tests for registry-sync/selection: parsing KILN_SYNC_PROJECTS and
 * matching normalized project names against it.
 */
#include "tests/unit/unit.h"

#include "common/kerr.h"
#include "registry-sync/selection.h"

#include <string.h>

struct match_case {
	const char *list;
	const char *name; /* normalized, as kiln-sync passes it */
	int want;
};

static const struct match_case match_cases[] = {
	{ "", "anything", 1 },
	{ " , ,", "anything", 1 },
	{ "crcmod", "crcmod", 1 },
	{ "crcmod", "crcmod2", 0 },
	{ "crcmod,netifaces", "netifaces", 1 },
	{ "crcmod, netifaces", "netifaces", 1 },
	{ "crcmod\n netifaces\t", "netifaces", 1 },
	{ "crcmod netifaces", "numpy", 0 },
	{ "Zope.Interface", "zope-interface", 1 },
	{ "zope__interface", "zope-interface", 1 },
	{ "zope-*", "zope-interface", 1 },
	{ "zope-*", "zope", 0 },
	{ "py?", "pyx", 1 },
	{ "py?", "pyxy", 0 },
	{ "[ab]*", "bitarray", 1 },
	{ "[!ab]*", "bitarray", 0 },
};

static void test_matches(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct selection s;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(selection_init(&s, c->list, &e), 0);
		if (selection_wants(&s, c->name) != c->want)
			fail_msg("list '%s' name '%s': want %d", c->list, c->name, c->want);
		selection_release(&s);
	}
}

static void test_counts_items(void **state)
{
	struct selection s;
	struct kerr e;

	(void)state;
	kerr_clear(&e);
	assert_int_equal(selection_init(&s, "a,b  c,,d", &e), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.globs[2], "c");
	selection_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.globs);
	assert_int_equal(selection_init(&s, NULL, &e), 0);
	assert_int_equal(s.n, 0);
	selection_release(&s);
}

static void test_refuses_bad_items(void **state)
{
	static const char *const bad[] = { "crcmod;rm", "a/b", "näme", "x,y=z" };
	char big[400];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct selection s;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(selection_init(&s, bad[i], &e), KERR_INVAL);
		assert_non_null(strstr(e.msg, "KILN_SYNC_PROJECTS"));
		assert_int_equal(s.n, 0);
		selection_release(&s);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		struct selection s;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(selection_init(&s, big, &e), KERR_INVAL);
		assert_non_null(strstr(e.msg, "longer than"));
		selection_release(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_counts_items),
		cmocka_unit_test(test_refuses_bad_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
