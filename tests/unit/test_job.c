/*
 * Unit tests for builder/job's reading of the job message: the target's arch,
 * suite and glibc (issue 16), and native_packages (docs/protocol.md). A good list is kept as given; a bad one (not an array, a
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

/* A job message whose target ends with extra (",\"arch\":..."); 0 or job_parse's code. */
static int parse_target(const char *extra, struct bjob **out, struct kerr *e)
{
	char text[4096];
	cJSON *m = NULL;
	int rc;

	snprintf(text, sizeof(text),
		 "{\"type\":\"job\",\"job\":42,\"build\":7,\"attempt\":1,\"lease\":\"L\","
		 "\"project\":\"kyaml\",\"version\":\"1.0\",\"upload\":\"/api/v1/jobs/42/artifacts/\","
		 "\"target\":{\"name\":\"t\",\"image\":\"kiln/t:1\",\"python_tag\":\"cp313\","
		 "\"python_version\":\"3.13\",\"platform\":\"linux_aarch64\"%s},"
		 "\"source\":{\"kind\":\"sdist\",\"url\":\"http://127.0.0.1/kyaml-1.0.tar.gz\","
		 "\"sha256\":\"%064d\",\"filename\":\"kyaml-1.0.tar.gz\"}}", extra, 0);
	kerr_clear(e);
	assert_int_equal(json_parse_object(text, strlen(text), &m, e), 0);
	rc = job_parse(m, out, e);
	cJSON_Delete(m);
	return rc;
}

static void test_target_platform(void **state)
{
	struct bjob *j = NULL;
	struct kerr e;

	(void)state;
	/* A trixie aarch64 target: its ladder is what pip downloads build requirements for. */
	assert_int_equal(parse_target(",\"arch\":\"aarch64\",\"suite\":\"trixie\",\"glibc\":\"2.41\"",
				      &j, &e), 0);
	assert_string_equal(j->arch, "aarch64");
	assert_string_equal(j->suite, "trixie");
	assert_string_equal(j->glibc, "2.41");
	assert_string_equal(j->ladder.v[0], "manylinux_2_41_aarch64");
	assert_string_equal(j->ladder.v[j->ladder.n - 3], "manylinux2014_aarch64");
	assert_string_equal(j->ladder.v[j->ladder.n - 1], "any");
	job_free(j);

	/* A backend before issue 16 sends no arch: x86_64; no glibc: from manylinux_2_17. */
	assert_int_equal(parse_target("", &j, &e), 0);
	assert_string_equal(j->arch, "x86_64");
	assert_string_equal(j->suite, "");
	assert_string_equal(j->ladder.v[0], "manylinux_2_17_x86_64");
	job_free(j);

	/* Docker's name of the arch is accepted and normalized. */
	assert_int_equal(parse_target(",\"arch\":\"arm64\"", &j, &e), 0);
	assert_string_equal(j->arch, "aarch64");
	job_free(j);

	/* Malformed ones lose the message, with a reason. */
	static const char *const bad[] = {
		",\"arch\":\"x86 64\"", ",\"arch\":\"\"", ",\"arch\":7", ",\"glibc\":\"236\"",
		",\"glibc\":\"2.x\"", ",\"glibc\":\"3.1\"", ",\"glibc\":\"2.\"", ",\"suite\":\"Trixie\"",
		",\"suite\":\"trixie/main\"", ",\"suite\":\"-x\"",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		j = NULL;
		if (parse_target(bad[i], &j, &e) != KERR_INVAL || j)
			fail_msg("%s was accepted", bad[i]);
	}
}

/* A cancel or finished is about the attempt the builder runs unless it names another. */
static void test_is_attempt(void **state)
{
	static const struct {
		const char *msg;
		int yes;
	} cases[] = {
		{ "{\"type\":\"cancel\",\"job\":42,\"reason\":\"r\"}", 1 },
		{ "{\"type\":\"cancel\",\"job\":42,\"attempt\":1,\"reason\":\"r\"}", 1 },
		{ "{\"type\":\"cancel\",\"job\":42,\"attempt\":2,\"reason\":\"r\"}", 0 },
		{ "{\"type\":\"finished\",\"job\":42,\"attempt\":null,\"state\":\"failed\"}", 1 },
		{ "{\"type\":\"finished\",\"job\":42,\"attempt\":3,\"state\":\"failed\"}", 0 },
		{ "{\"type\":\"finished\",\"job\":42,\"attempt\":\"1\",\"state\":\"failed\"}", 0 },
	};
	struct bjob *j = parse(NULL);
	(void)state;
	assert_int_equal(j->attempt, 1);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		cJSON *m = cJSON_Parse(cases[i].msg);

		assert_non_null(m);
		if (job_is_attempt(j, m) != cases[i].yes)
			fail_msg("%s: not %d", cases[i].msg, cases[i].yes);
		cJSON_Delete(m);
	}
	job_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_packages),
		cmocka_unit_test(test_target_platform),
		cmocka_unit_test(test_is_attempt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
