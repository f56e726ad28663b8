/*
 * Unit tests for builder/job's reading of the job message: native_packages
 * (docs/protocol.md). A good list is kept as given; a bad one (not an array, a
 * bad name, unsorted or repeated, more than 16) does not lose the job, which
 * keeps the reason in bad_native and fails with it before anything runs.
 */
#include "tests/unit/unit.h"

#include "builder/job.h"
#include "common/json.h"
#include "common/kerr.h"

#include <stdio.h>
#include <string.h>

static struct bjob *parse(const char *native)
{
	char text[4096];
	cJSON *m = NULL;
	struct bjob *j = NULL;
	struct kerr e;

	snprintf(text, sizeof(text),
		 "{\"type\":\"job\",\"job\":42,\"build\":7,\"attempt\":1,\"lease\":\"L\","
		 "\"project\":\"kyaml\",\"version\":\"1.0\",\"upload\":\"/api/v1/jobs/42/artifacts/\","
		 "\"target\":{\"name\":\"bookworm-py311-x86_64\",\"image\":\"kiln/bookworm-py311:latest\","
		 "\"python_tag\":\"cp311\",\"python_version\":\"3.11\",\"platform\":\"linux_x86_64\"},"
		 "\"source\":{\"kind\":\"sdist\",\"url\":\"http://127.0.0.1/kyaml-1.0.tar.gz\","
		 "\"sha256\":\"%064d\",\"filename\":\"kyaml-1.0.tar.gz\"}%s%s}",
		 0, native ? ",\"native_packages\":" : "", native ? native : "");
	kerr_clear(&e);
	assert_int_equal(json_parse_object(text, strlen(text), &m, &e), 0);
	assert_int_equal(job_parse(m, &j, &e), 0);
	cJSON_Delete(m);
	return j;
}

static void test_native_packages(void **state)
{
	static const struct {
		const char *json;
		size_t n;
		const char *bad; /* a substring of bad_native, or NULL */
	} rows[] = {
		{ NULL, 0, NULL },
		{ "null", 0, NULL },
		{ "[]", 0, NULL },
		{ "[\"libyaml-dev\"]", 1, NULL },
		{ "[\"libgtk-3-dev\",\"libpq-dev\",\"libstdc++-12-dev\",\"python3.11-dev\"]", 4, NULL },
		{ "\"libyaml-dev\"", 0, "not an array" },
		{ "[\"libpq-dev\",\"libyaml-dev\",\"libpq-dev\"]", 0, "not sorted" },
		{ "[\"libyaml-dev\",\"libpq-dev\"]", 0, "not sorted" },
		{ "[\"libyaml-dev\",\"libyaml-dev\"]", 0, "not sorted" },
		{ "[\"LibYaml-dev\"]", 0, "bad Debian package name" },
		{ "[\"-oops\"]", 0, "bad Debian package name" },
		{ "[\"libyaml-dev;reboot\"]", 0, "bad Debian package name" },
		{ "[\"lib yaml\"]", 0, "bad Debian package name" },
		{ "[\"\"]", 0, "bad Debian package name" },
		{ "[42]", 0, "bad Debian package name" },
		{ "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]", 0,
		  "bad Debian package name" },
		{ "[\"a00\",\"a01\",\"a02\",\"a03\",\"a04\",\"a05\",\"a06\",\"a07\",\"a08\",\"a09\","
		  "\"a10\",\"a11\",\"a12\",\"a13\",\"a14\",\"a15\"]", 16, NULL },
		{ "[\"a00\",\"a01\",\"a02\",\"a03\",\"a04\",\"a05\",\"a06\",\"a07\",\"a08\",\"a09\","
		  "\"a10\",\"a11\",\"a12\",\"a13\",\"a14\",\"a15\",\"a16\"]", 0, "more than 16" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct bjob *j = parse(rows[i].json);

		if (j->nnative != rows[i].n)
			fail_msg("%s: %zu packages, want %zu", rows[i].json ? rows[i].json : "(none)",
				 j->nnative, rows[i].n);
		if (rows[i].bad ? !strstr(j->bad_native, rows[i].bad) : j->bad_native[0] != '\0')
			fail_msg("%s: bad_native '%s', want '%s'", rows[i].json, j->bad_native,
				 rows[i].bad ? rows[i].bad : "");
		job_free(j);
	}
	{
		struct bjob *j = parse("[\"libgtk-3-dev\",\"libpq-dev\"]");
		assert_string_equal(j->native[0], "libgtk-3-dev");
		assert_string_equal(j->native[1], "libpq-dev");
		job_free(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_packages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
