/* Unit tests for common/kerr. */
#include "tests/unit/unit.h"

#include "common/kerr.h"

#include <string.h>

static void test_set_returns_code_and_formats(void **state)
{
	struct kerr e;
	(void)state;
	kerr_clear(&e);
	assert_int_equal(e.code, 0);
	assert_int_equal(kerr_set(&e, KERR_INVAL, "bad version '%s'", "1.x"), KERR_INVAL);
	assert_int_equal(e.code, KERR_INVAL);
	assert_string_equal(e.msg, "bad version '1.x'");
	assert_int_equal(kerr_wrap(&e, "job %d", 7), KERR_INVAL);
	assert_string_equal(e.msg, "job 7: bad version '1.x'");
}

static void test_null_error_is_allowed(void **state)
{
	(void)state;
	assert_int_equal(kerr_set(NULL, KERR_IO, "x"), KERR_IO);
	kerr_clear(NULL);
}

static void test_long_message_truncated(void **state)
{
	struct kerr e;
	char big[2000];
	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	kerr_set(&e, KERR_IO, "%s", big);
	assert_int_equal(strlen(e.msg), KERR_MSG_MAX - 1);
}

static void test_names_and_statuses(void **state)
{
	(void)state;
	assert_string_equal(kerr_name(KERR_NOTFOUND), "not_found");
	assert_int_equal(kerr_http_status(KERR_NOTFOUND), 404);
	assert_int_equal(kerr_http_status(KERR_INVAL), 400);
	assert_int_equal(kerr_http_status(KERR_CONFLICT), 409);
	assert_int_equal(kerr_http_status(KERR_TOOBIG), 413);
	assert_int_equal(kerr_http_status(KERR_AUTH), 401);
	assert_int_equal(kerr_http_status(-999), 500);
	assert_string_equal(kerr_name(-999), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_returns_code_and_formats),
		cmocka_unit_test(test_null_error_is_allowed),
		cmocka_unit_test(test_long_message_truncated),
		cmocka_unit_test(test_names_and_statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
