/* Unit tests for common/debpkg: which Debian package names Kiln accepts. */
#include "tests/unit/unit.h"

#include "common/debpkg.h"

static void test_names(void **state)
{
	static const char *const good[] = {
		"libpq-dev", "libxml2-dev", "g++", "libstdc++-12-dev", "python3.11-dev", "0ad", "x",
		"libgtk-3-dev", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char *const bad[] = {
		"", "-lpq", "+x", ".x", "LibPQ", "libpq dev", "libpq;rm", "libpq\n", "libpq/dev",
		"libpq_dev", "lib$(x)", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"libpq-dév",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		if (!debpkg_name_ok(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (debpkg_name_ok(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(debpkg_name_ok(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
