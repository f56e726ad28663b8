/* Unit tests for common/log: capture stderr and check the logfmt lines. */
#include "tests/unit/unit.h"

#include "common/kerr.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char captured[8192];

/* Run fn with stderr redirected into `captured`. */
static void capture(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(captured, 1, sizeof(captured) - 1, tmp);
	captured[n] = '\0';
	fclose(tmp);
}

static void emit_info_and_debug(void)
{
	log_info("listening", "port=%d", 8080);
	log_debug("hidden", NULL);
	log_error("could not open \"x\"", "path=%s", "/tmp/x");
}

static void test_format_and_threshold(void **state)
{
	(void)state;
	unsetenv("KILN_LOG");
	log_init("kiln-test");
	log_set_level(LOG_INFO);
	capture(emit_info_and_debug);
	assert_non_null(strstr(captured, " level=info prog=kiln-test msg=\"listening\" port=8080\n"));
	assert_null(strstr(captured, "hidden"));
	assert_non_null(strstr(captured, "level=error prog=kiln-test msg=\"could not open \\\"x\\\"\" path=/tmp/x\n"));
	assert_int_equal(strncmp(captured, "ts=", 3), 0);
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	assert_int_equal(captured[3 + 10], 'T');
	assert_int_equal(captured[3 + 23], 'Z');
}

static void test_env_debug(void **state)
{
	(void)state;
	setenv("KILN_LOG", "debug", 1);
	log_init("kiln-test");
	capture(emit_info_and_debug);
	assert_non_null(strstr(captured, "msg=\"hidden\"\n"));
	setenv("KILN_LOG", "loud", 1);
	log_init("kiln-test");
	capture(emit_info_and_debug);
	assert_null(strstr(captured, "hidden"));
	unsetenv("KILN_LOG");
	log_set_level(LOG_INFO);
}

static void test_quote(void **state)
{
	char q[32];
	(void)state;
	assert_string_equal(log_quote(q, sizeof(q), "a b"), "\"a b\"");
	assert_string_equal(log_quote(q, sizeof(q), "l1\nl2\t"), "\"l1\\nl2\\x09\"");
	assert_string_equal(log_quote(q, 8, "abcdefghijkl"), "\"a\"");
	log_quote(q, sizeof(q), "0123456789012345678901234567890123456789");
	assert_true(strlen(q) < sizeof(q));
	assert_int_equal(q[0], '"');
	assert_int_equal(q[strlen(q) - 1], '"');
}

static void test_level_parse(void **state)
{
	enum log_level l;
	(void)state;
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("trace", &l), KERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_threshold),
		cmocka_unit_test(test_env_debug),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_level_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
