/* Unit tests for common/token. */
#include "tests/unit/unit.h"

#include "common/token.h"

#include <string.h>

static void test_new_tokens_are_well_formed_and_distinct(void **state)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	(void)state;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(token_new(a), 0);
		assert_int_equal(token_new(b), 0);
		assert_int_equal(strlen(a), TOKEN_LEN);
		assert_true(token_well_formed(a));
		assert_string_not_equal(a, b);
	}
}

static void test_hash_and_match(void **state)
{
	char t[TOKEN_LEN + 1], other[TOKEN_LEN + 1], hex[65];
	(void)state;
	assert_int_equal(token_new(t), 0);
	assert_int_equal(token_new(other), 0);
	assert_int_equal(token_hash(t, hex), 0);
	assert_int_equal(strlen(hex), 64);
	assert_true(token_matches(t, hex));
	assert_false(token_matches(other, hex));
	assert_false(token_matches(t, "short"));
	assert_false(token_matches("", hex));
}

static void test_well_formed_rejects(void **state)
{
	(void)state;
	assert_false(token_well_formed(""));
	assert_false(token_well_formed("kiln_"));
	assert_false(token_well_formed("nope_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_false(token_well_formed("kiln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));  /* 42 */
	assert_false(token_well_formed("kiln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")); /* 44 */
	assert_false(token_well_formed("kiln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	assert_true(token_well_formed("kiln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(token_ct_equal("abcd", "abcd", 4));
	assert_false(token_ct_equal("abcd", "abce", 4));
	assert_true(token_ct_equal("", "", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_tokens_are_well_formed_and_distinct),
		cmocka_unit_test(test_hash_and_match),
		cmocka_unit_test(test_well_formed_rejects),
		cmocka_unit_test(test_ct_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
