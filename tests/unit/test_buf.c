/* Unit tests for common/buf. */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"

#include <stdlib.h>
#include <string.h>

static void test_empty_is_valid_string(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	buf_release(&b);
	assert_string_equal(b.ptr, "");
}

static void test_append_and_printf(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, BUF_NOLIMIT);
	assert_int_equal(buf_puts(&b, "hello"), 0);
	assert_int_equal(buf_putc(&b, ' '), 0);
	assert_int_equal(buf_printf(&b, "%s-%d", "world", 42), 0);
	assert_string_equal(b.ptr, "hello world-42");
	assert_int_equal(b.len, strlen("hello world-42"));
	assert_true(buf_eq(&b, "hello world-42"));
	assert_false(buf_eq(&b, "hello"));
	buf_release(&b);
}

static void test_grows_across_many_appends(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&b, "%04d", i % 10000), 0);
	assert_int_equal(b.len, 40000);
	assert_memory_equal(b.ptr + 4 * 9999, "9999", 4);
	assert_int_equal(b.ptr[b.len], '\0');
	buf_release(&b);
}

static void test_binary_with_nul(void **state)
{
	struct buf b = BUF_INIT(64);
	(void)state;
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.ptr, "a\0b", 3);
	buf_release(&b);
}

static void test_max_is_enforced_and_leaves_buffer_unchanged(void **state)
{
	struct buf b = BUF_INIT(8);
	(void)state;
	assert_int_equal(buf_puts(&b, "12345678"), 0);
	assert_int_equal(buf_putc(&b, 'x'), KERR_TOOBIG);
	assert_string_equal(b.ptr, "12345678");
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "1234"), 0);
	assert_int_equal(buf_printf(&b, "%s", "56789"), KERR_TOOBIG);
	assert_string_equal(b.ptr, "1234");
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), KERR_TOOBIG);
	buf_release(&b);
}

static void test_consume_truncate_detach(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char *s;
	size_t n;
	(void)state;
	buf_puts(&b, "line1\nline2\n");
	buf_consume(&b, 6);
	assert_string_equal(b.ptr, "line2\n");
	buf_truncate(&b, 5);
	assert_string_equal(b.ptr, "line2");
	buf_truncate(&b, 50);
	assert_string_equal(b.ptr, "line2");
	s = buf_detach(&b, &n);
	assert_string_equal(s, "line2");
	assert_int_equal(n, 5);
	assert_string_equal(b.ptr, "");
	free(s);
	s = buf_detach(&b, NULL);
	assert_string_equal(s, "");
	free(s);
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_valid_string),
		cmocka_unit_test(test_append_and_printf),
		cmocka_unit_test(test_grows_across_many_appends),
		cmocka_unit_test(test_binary_with_nul),
		cmocka_unit_test(test_max_is_enforced_and_leaves_buffer_unchanged),
		cmocka_unit_test(test_consume_truncate_detach),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
