/* Unit tests for common/config. */
#include "tests/unit/unit.h"

#include "common/config.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void write_file(const char *text)
{
	int fd;
	FILE *f;
	snprintf(path, sizeof(path), "/tmp/kiln-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static void clear_env(void)
{
	for (int k = 0; k < CONFIG__COUNT; k++)
		unsetenv(config_option(k)->env);
	unsetenv("KILN_CONFIG");
}

static void test_defaults(void **state)
{
	struct config c;
	(void)state;
	clear_env();
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL), 0);
	assert_string_equal(config_get(&c, CONFIG_LOG), "info");
	assert_int_equal(config_get_int(&c, CONFIG_PG_PORT), 54329);
	config_release(&c);
}

static void test_precedence_file_env_set(void **state)
{
	struct config c;
	struct kerr e;
	(void)state;
	clear_env();
	write_file("# comment\n\n  s3_bucket = \"from-file\"\nKILN_S3_REGION=eu-1\nlog=debug\n");
	setenv("KILN_S3_REGION", "from-env", 1);
	config_init(&c);
	assert_int_equal(config_load(&c, path, &e), 0);
	assert_string_equal(config_get(&c, CONFIG_S3_BUCKET), "from-file");
	assert_string_equal(config_get(&c, CONFIG_S3_REGION), "from-env");
	assert_string_equal(config_get(&c, CONFIG_LOG), "debug");
	/* The key sets the process's log threshold, whichever layer names it. */
	assert_true(log_enabled(LOG_DEBUG));
	assert_int_equal(config_set(&c, "log", "error", &e), 0);
	assert_false(log_enabled(LOG_WARN));
	log_set_level(LOG_INFO);
	assert_int_equal(config_set(&c, "s3_bucket", "from-flag", &e), 0);
	assert_string_equal(config_get(&c, CONFIG_S3_BUCKET), "from-flag");
	config_release(&c);
	unlink(path);
	clear_env();
}

static void test_config_env_names_file(void **state)
{
	struct config c;
	(void)state;
	clear_env();
	write_file("data_dir = /srv/kiln\n");
	setenv("KILN_CONFIG", path, 1);
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL), 0);
	assert_string_equal(config_get(&c, CONFIG_DATA_DIR), "/srv/kiln");
	config_release(&c);
	unlink(path);
	clear_env();
}

static void test_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "s3_bucket = x\nbogus = 1\n", ":2: unknown option 'bogus'" },
		{ "pg_port = abc\n", ":1: KILN_PG_PORT must be a non-negative integer, got 'abc'" },
		{ "pg_port = -5\n", ":1: KILN_PG_PORT must be a non-negative integer" },
		{ "just words\n", ":1: expected 'key = value'" },
		{ "log = loud\n", ":1: KILN_LOG must be debug, info, warn or error, got 'loud'" },
	};
	(void)state;
	clear_env();
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct config c;
		struct kerr e;
		write_file(cases[i].text);
		config_init(&c);
		assert_int_equal(config_load(&c, path, &e), KERR_INVAL);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: got '%s'", i, e.msg);
		config_release(&c);
		unlink(path);
	}
}

static void test_missing_file_and_bad_env(void **state)
{
	struct config c;
	struct kerr e;
	(void)state;
	clear_env();
	config_init(&c);
	assert_int_equal(config_load(&c, "/nonexistent/kiln.conf", &e), KERR_IO);
	assert_non_null(strstr(e.msg, "could not open config file '/nonexistent/kiln.conf'"));
	setenv("KILN_S3_PORT", "80x", 1);
	assert_int_equal(config_load(&c, NULL, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "environment: KILN_S3_PORT"));
	assert_int_equal(config_set(&c, "KILN_NOPE", "1", &e), KERR_INVAL);
	config_release(&c);
	clear_env();
}

static void test_markdown_and_dump(void **state)
{
	struct config c;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;
	clear_env();
	assert_int_equal(config_doc_markdown(&b), 0);
	for (int k = 0; k < CONFIG__COUNT; k++) {
		char needle[80];
		snprintf(needle, sizeof(needle), "| `%s` |", config_option(k)->env);
		assert_non_null(strstr(b.ptr, needle));
	}
	buf_reset(&b);
	config_init(&c);
	config_set(&c, "s3_secret_key", "hunter2", NULL);
	assert_int_equal(config_dump(&c, &b), 0);
	assert_null(strstr(b.ptr, "hunter2"));
	assert_non_null(strstr(b.ptr, "KILN_S3_SECRET_KEY=********\n"));
	config_release(&c);
	buf_release(&b);
}

static void test_from_args(void **state)
{
	static const struct config_flag flags[] = { { "--bucket", "KILN_S3_BUCKET" } };
	static const char *const switches[] = { "--once", "--dry" };
	struct config c;
	struct kerr e;
	unsigned sw = 0;
	/* argv strings must be writable (char *), as main's are. */
	char w[][16] = { "prog", "--dry", "--bucket", "wheels", "-h", "--frobnicate", "--config" };
	char *ok[] = { w[0], w[1], w[2], w[3], NULL };
	char *help[] = { w[0], w[4], NULL };
	char *bad[] = { w[0], w[5], NULL };
	char *dangling[] = { w[0], w[2], NULL };
	(void)state;
	clear_env();
	config_init(&c);
	assert_int_equal(config_from_args(&c, 4, ok, flags, 1, switches, 2, &sw, &e), CONFIG_ARGS_OK);
	assert_string_equal(config_get(&c, CONFIG_S3_BUCKET), "wheels");
	assert_int_equal(sw, 2u);
	assert_int_equal(config_from_args(&c, 2, help, flags, 1, switches, 2, &sw, &e), CONFIG_ARGS_HELP);
	assert_int_equal(config_from_args(&c, 2, bad, flags, 1, switches, 2, &sw, &e), CONFIG_ARGS_USAGE);
	assert_int_equal(config_from_args(&c, 2, dangling, flags, 1, switches, 2, &sw, &e),
			 CONFIG_ARGS_USAGE);
	write_file("s3_bucket = from-file\n");
	{
		char *withfile[] = { w[0], w[6], path, NULL };
		assert_int_equal(config_from_args(&c, 3, withfile, flags, 1, NULL, 0, NULL, &e), 0);
		assert_string_equal(config_get(&c, CONFIG_S3_BUCKET), "from-file");
	}
	unlink(path);
	config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_precedence_file_env_set),
		cmocka_unit_test(test_config_env_names_file),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_missing_file_and_bad_env),
		cmocka_unit_test(test_markdown_and_dump),
		cmocka_unit_test(test_from_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
