/* Unit tests for kilnctl/repro (the backend's repro: test_repro.c): `kilnctl repro list`'s lines per differing wheel. */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "kilnctl/repro.h"

#include <string.h>

static const struct {
	const char *detail; /* repro_results.detail as the trigger of migrations/0016 writes it */
	const char *lines;
} cases[] = {
	{ "[{\"filename\":\"a.whl\",\"result\":\"same\",\"members\":[]}]", "" },
	{ "[{\"filename\":\"a.whl\",\"result\":\"differs\",\"members\":["
	  "{\"member\":\"a/x.so\",\"what\":\"content\"},"
	  "{\"member\":\"a/y.py\",\"what\":\"metadata\",\"fields\":[\"date\",\"mode\"]}]}]",
	  "  a.whl: differs: a/x.so (content), a/y.py (metadata: date, mode)\n" },
	/* Three members named, then the rest and wheeldiff's own {"more": N} counted. */
	{ "[{\"filename\":\"a.whl\",\"result\":\"differs\",\"members\":["
	  "{\"member\":\"1\",\"what\":\"content\"},{\"member\":\"2\",\"what\":\"content\"},"
	  "{\"member\":\"3\",\"what\":\"order\"},{\"member\":\"4\",\"what\":\"content\"},"
	  "{\"more\":60}]}]",
	  "  a.whl: differs: 1 (content), 2 (content), 3 (order) and 61 more\n" },
	{ "[{\"filename\":\"a.whl\",\"result\":\"missing\",\"members\":[]},"
	  "{\"filename\":\"b.whl\",\"result\":\"extra\",\"members\":[]},"
	  "{\"filename\":\"c.whl\",\"result\":\"differs\",\"members\":[{\"what\":\"archive\"}]}]",
	  "  a.whl: missing from the check\n  b.whl: only in the check\n"
	  "  c.whl: differs: (the archive) (archive)\n" },
	/* Names come from a project's wheels: no escape sequence reaches the terminal. */
	{ "[{\"filename\":\"a\\u001b[2J.whl\",\"result\":\"differs\",\"members\":["
	  "{\"member\":\"x\\ny\",\"what\":\"content\"}]}]",
	  "  a?[2J.whl: differs: x?y (content)\n" },
	{ "[]", "" },
	{ "{}", "" },
	{ "not json", "" },
	{ "[1, {\"result\":\"differs\"}, {\"filename\":\"a.whl\"}]", "" },
};

static void test_detail_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf out = BUF_INIT(BUF_NOLIMIT);

		repro_detail_lines(cases[i].detail, &out);
		assert_string_equal(out.ptr, cases[i].lines);
		buf_release(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detail_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
