/* Unit tests for common/json. */
#include "tests/unit/unit.h"

#include "common/json.h"

#include <string.h>

static void test_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "{\"a\":}", "[1,2", "nul", "{\"a\":1} x", "{} {}", "\"unterminated",
		"{'a':1}", "[1,]x",
	};
	cJSON *j = NULL;
	struct kerr e;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(json_parse(bad[i], strlen(bad[i]), &j, &e), KERR_INVAL);
		assert_null(j);
		assert_true(strlen(e.msg) > 0);
	}
	assert_int_equal(json_parse("{\"a\":1}\n ", 9, &j, &e), 0);
	cJSON_Delete(j);
	assert_int_equal(json_parse_object("[1]", 3, &j, &e), KERR_INVAL);
	assert_string_equal(e.msg, "expected a JSON object");
}

static void test_typed_getters(void **state)
{
	const char *text = "{\"name\":\"b1\",\"slots\":4,\"big\":1e300,\"frac\":1.5,"
			   "\"neg\":-3,\"ok\":true,\"targets\":[\"a\"],\"limits\":{},\"nil\":null}";
	cJSON *j = NULL;
	struct kerr e;
	const char *s = NULL;
	int64_t n = -1;
	int b = 0;
	const cJSON *arr = NULL, *obj = NULL;
	(void)state;

	assert_int_equal(json_parse_object(text, strlen(text), &j, &e), 0);
	assert_int_equal(json_get_str_req(j, "name", &s, &e), 0);
	assert_string_equal(s, "b1");
	assert_int_equal(json_get_int_req(j, "slots", 1, 64, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_int_equal(json_get_int(j, "slots", 5, 64, &n, &e), KERR_INVAL);
	assert_string_equal(e.msg, "field 'slots' must be between 5 and 64");
	assert_int_equal(json_get_int(j, "big", 0, INT64_MAX, &n, &e), KERR_INVAL);
	assert_int_equal(json_get_int(j, "frac", 0, 10, &n, &e), KERR_INVAL);
	assert_string_equal(e.msg, "field 'frac' must be an integer");
	assert_int_equal(json_get_int(j, "neg", -10, 10, &n, &e), 0);
	assert_int_equal(n, -3);
	assert_int_equal(json_get_str(j, "slots", &s, &e), KERR_INVAL);
	assert_string_equal(e.msg, "field 'slots' must be a string");
	assert_int_equal(json_get_str_req(j, "missing", &s, &e), KERR_INVAL);
	assert_string_equal(e.msg, "field 'missing' is required");
	s = "untouched";
	assert_int_equal(json_get_str(j, "nil", &s, &e), 0);
	assert_string_equal(s, "untouched");
	assert_int_equal(json_get_str_req(j, "nil", &s, &e), KERR_INVAL);
	assert_int_equal(json_get_bool(j, "ok", &b, &e), 0);
	assert_true(b);
	assert_int_equal(json_get_bool(j, "name", &b, &e), KERR_INVAL);
	assert_int_equal(json_get_array(j, "targets", &arr, &e), 0);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	assert_int_equal(json_get_array(j, "limits", &arr, &e), KERR_INVAL);
	assert_int_equal(json_get_object(j, "limits", &obj, &e), 0);
	assert_non_null(obj);
	assert_int_equal(json_get_object(j, "targets", &obj, &e), KERR_INVAL);
	cJSON_Delete(j);
}

static void test_append_str_escapes(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	cJSON *j = NULL;
	(void)state;
	assert_int_equal(json_append_str(&b, "a\"b\\c\nd\te\x01 é"), 0);
	assert_string_equal(b.ptr, "\"a\\\"b\\\\c\\nd\\te\\u0001 é\"");
	/* What we write, cJSON reads back to the same bytes. */
	assert_int_equal(json_parse(b.ptr, b.len, &j, NULL), 0);
	assert_string_equal(j->valuestring, "a\"b\\c\nd\te\x01 é");
	cJSON_Delete(j);
	buf_reset(&b);
	assert_int_equal(json_append_strn(&b, "x\0y", 3), 0);
	assert_string_equal(b.ptr, "\"x\\u0000y\"");
	buf_release(&b);
}

/* Found by schemathesis: an error message cut inside a character made the body unparsable. */
static void test_append_str_keeps_utf8_valid(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "\xce\xa9\xe2\x89\x88\xf0\x9f\x90\x8d", "\"\xce\xa9\xe2\x89\x88\xf0\x9f\x90\x8d\"" },
		{ "ab\xe2\x89", "\"ab\\ufffd\\ufffd\"" },           /* cut mid-character */
		{ "\xff\xfe", "\"\\ufffd\\ufffd\"" },                  /* never UTF-8 */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },                  /* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },      /* a surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* past U+10FFFF */
		{ "\x80x", "\"\\ufffdx\"" },                           /* lone continuation */
	};
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = NULL;
		buf_reset(&b);
		assert_int_equal(json_append_str(&b, cases[i].in), 0);
		assert_string_equal(b.ptr, cases[i].out);
		assert_int_equal(json_parse(b.ptr, b.len, &j, NULL), 0);
		cJSON_Delete(j);
	}
	buf_release(&b);
}

static void test_append_str_respects_limit(void **state)
{
	struct buf b = BUF_INIT(6);
	(void)state;
	assert_int_equal(buf_puts(&b, "ab"), 0);
	assert_int_equal(json_append_str(&b, "toolong"), KERR_TOOBIG);
	assert_string_equal(b.ptr, "ab");
	buf_release(&b);
}

static void test_print(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	cJSON *j = cJSON_CreateObject();
	(void)state;
	cJSON_AddStringToObject(j, "type", "hello");
	cJSON_AddNumberToObject(j, "v", 1);
	assert_int_equal(json_print(j, &b), 0);
	assert_string_equal(b.ptr, "{\"type\":\"hello\",\"v\":1}");
	cJSON_Delete(j);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_typed_getters),
		cmocka_unit_test(test_append_str_escapes),
		cmocka_unit_test(test_append_str_keeps_utf8_valid),
		cmocka_unit_test(test_append_str_respects_limit),
		cmocka_unit_test(test_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
