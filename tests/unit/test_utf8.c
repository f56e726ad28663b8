/* Unit tests for common/utf8 (RFC 3629's well-formed sequences, Table 3-7 of Unicode). */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/utf8.h"

#include <string.h>

#define U(s) (const unsigned char *)(s), sizeof(s) - 1

static void test_valid(void **state)
{
	(void)state;
	assert_true(utf8_valid(U("")));
	assert_true(utf8_valid(U("plain ascii\n")));
	assert_true(utf8_valid(U("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d")));  /* é € 🐍 */
	assert_true(utf8_valid(U("\xed\x9f\xbf")));          /* U+D7FF, below the surrogates */
	assert_true(utf8_valid(U("\xf4\x8f\xbf\xbf")));      /* U+10FFFF, the last one */
	assert_true(utf8_valid(U("a\0b")));                  /* NUL is text to this check */
}

static void test_invalid(void **state)
{
	(void)state;
	assert_false(utf8_valid(U("\xc0\xaf")));             /* overlong '/' */
	assert_false(utf8_valid(U("\xe0\x80\xaf")));         /* overlong, 3 bytes */
	assert_false(utf8_valid(U("\xf0\x80\x80\xaf")));     /* overlong, 4 bytes */
	assert_false(utf8_valid(U("\xed\xa0\x80")));         /* U+D800, a surrogate */
	assert_false(utf8_valid(U("\xf4\x90\x80\x80")));     /* U+110000 */
	assert_false(utf8_valid(U("\xf5\x80\x80\x80")));
	assert_false(utf8_valid(U("\x80")));                 /* a lone continuation */
	assert_false(utf8_valid(U("\xc3")));                 /* cut short */
	assert_false(utf8_valid(U("\xe2\x82")));
	assert_int_equal(utf8_first_invalid(U("ok\xc3\xa9\xff!")), 4);
	assert_int_equal(utf8_seq_len(U("\xe2\x82\xac")), 3);
	assert_int_equal(utf8_seq_len(U("\xe2\x82")), 0);
}

static void test_sanitize(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;
	assert_int_equal(utf8_sanitize(&b, U("a\xff" "b\xc3\xa9\xe2\x82")), 0);
	/* One U+FFFD per byte that starts nothing well-formed. */
	assert_int_equal(b.len, strlen("a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"));
	assert_memory_equal(b.ptr, "a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd", b.len);
	assert_true(utf8_valid((const unsigned char *)b.ptr, b.len));
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
